//! Complaints reach the supervisors of the unit they are forwarded to through the same channels as
//! alert cases: the notifications of a step (computed here, queued by the store in the step's own
//! transaction), and the escalation of overdue complaints by themselves, each with its notifications
//! and one audit record per pass.

use tianshu_model::Timestamp;
use tianshu_model::complaint::{Complaint, ComplaintFilter};
use tianshu_store::Store;
use tianshu_store::access::{Audit, AuditEntry};
use tianshu_store::rules::NewDelivery;

use crate::Error;
use crate::config::AlertsConfig;
use crate::notify::Routing;

/// The notifications of `event` (`forwarded`, `sent_back`, `escalated`) on `complaint` as it is after
/// the step: routed by its unit like a case's; none before it has a unit.
pub async fn complaint_deliveries(
    store: &Store,
    config: &AlertsConfig,
    complaint: &Complaint,
    event: &str,
) -> Result<Vec<NewDelivery>, Error> {
    let routing = Routing::load(store).await?;
    Ok(routing
        .complaint_notice(complaint, event, config.notify_parent_levels)
        .map(|n| routing.complaint_deliveries(&n, config))
        .unwrap_or_default())
}

/// Escalates, once, every forwarded complaint whose deadline passed by `now` without an answer, each
/// with an event in its history and its notifications to the unit's channels; one audit record for the
/// pass when it escalated any. The ids escalated.
pub async fn escalate_overdue_complaints(
    store: &Store,
    config: &AlertsConfig,
    now: Timestamp,
) -> Result<Vec<i64>, Error> {
    let overdue = ComplaintFilter {
        overdue_at: Some(now),
        limit: 1000,
        ..Default::default()
    };
    let (list, _) = store.casework().complaints(&overdue).await?;
    let due: Vec<&Complaint> = list.iter().filter(|c| c.escalated.is_none()).collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let routing = Routing::load(store).await?;
    let planned = due
        .iter()
        .map(|c| {
            let deliveries = routing
                .complaint_notice(c, "escalated", config.notify_parent_levels)
                .map(|n| routing.complaint_deliveries(&n, config))
                .unwrap_or_default();
            (c.id, deliveries)
        })
        .collect();
    let audit = Audit {
        time: now,
        entry: AuditEntry {
            actor: "system".into(),
            role: "system".into(),
            action: "complaint.escalate".into(),
            ..Default::default()
        },
        describe: |ids: &Vec<i64>, e: &mut AuditEntry| {
            e.rows = ids.len() as u64;
            e.detail = format!("overdue complaints {ids:?}");
        },
    };
    Ok(store
        .casework()
        .escalate_overdue(planned, now)
        .audited(Some(audit))
        .await?)
}

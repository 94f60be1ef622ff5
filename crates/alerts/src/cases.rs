//! The case workflow, as the web API calls it.
//!
//! The steps and the states they apply to are the rules' ([`tianshu_rules::workflow`]). Every step
//! records who, when and what (the explanation, the verification note, the reason) in the case's
//! history. Who may take which step is the API's decision (a unit's supervisor explains; the
//! car-management office or an inspector closes or escalates); these functions check only that the step
//! fits the case's state, and the store applies it atomically.

use tianshu_model::Timestamp;
use tianshu_store::Store;
use tianshu_store::access::Audit;
use tianshu_store::rules::{AlertCase, CaseEvent, CaseFilter, Delivery, Transition, TransitionedCase};

use crate::Error;
use crate::config::AlertsConfig;
use crate::notify::Routing;

pub use tianshu_rules::workflow::CaseAction;

/// A case with its history and deliveries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseDetail {
    /// The case.
    pub case: AlertCase,
    /// Its history, oldest first.
    pub events: Vec<CaseEvent>,
    /// Its notifications.
    pub deliveries: Vec<Delivery>,
}

/// Cases matching a filter, newest first.
pub async fn list_cases(store: &Store, filter: &CaseFilter) -> Result<Vec<AlertCase>, Error> {
    Ok(store.cases().cases(filter).await?)
}

/// One case with its history and deliveries.
pub async fn case_detail(store: &Store, id: i64) -> Result<Option<CaseDetail>, Error> {
    let Some(case) = store.cases().case(id).await? else {
        return Ok(None);
    };
    Ok(Some(CaseDetail {
        events: store.cases().case_events(id).await?,
        deliveries: store.cases().deliveries(id).await?,
        case,
    }))
}

/// Applies a person's step to a case. An escalation notifies the same channels as the opening.
pub async fn apply_action(
    store: &Store,
    config: &AlertsConfig,
    id: i64,
    action: CaseAction,
    actor: &str,
    note: &str,
    now: Timestamp,
) -> Result<AlertCase, Error> {
    let step = Step {
        id,
        action,
        actor,
        note,
    };
    Ok(apply_audited_action(store, config, step, now, None).await?.case)
}

/// A person's step on a case: which case, which step, who, and their note.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// The case.
    pub id: i64,
    /// The step.
    pub action: CaseAction,
    /// Who takes it.
    pub actor: &'a str,
    /// The explanation, the verification note, the reason.
    pub note: &'a str,
}

/// [`apply_action`] with the record of the step in the audit log (completed from the case as moved, and
/// the state it moved from), written in the transition's transaction: both commit or neither does.
pub async fn apply_audited_action(
    store: &Store,
    config: &AlertsConfig,
    step: Step<'_>,
    now: Timestamp,
    audit: Option<Audit<TransitionedCase>>,
) -> Result<TransitionedCase, Error> {
    let Step {
        id,
        action,
        actor,
        note,
    } = step;
    if actor.trim().is_empty() {
        return Err(Error::Invalid(vec!["the actor is required".into()]));
    }
    if action.needs_note() && note.trim().is_empty() {
        return Err(Error::Invalid(vec![format!("{} needs a note", action.as_str())]));
    }
    let case = store
        .cases()
        .case(id)
        .await?
        .ok_or_else(|| Error::Store(tianshu_store::Error::NotFound(format!("case {id}"))))?;
    tianshu_rules::workflow::next(case.state, action)
        .map_err(|e| Error::Invalid(vec![format!("case {id}: {e}")]))?;
    let escalate_at = if action.keeps_deadline() {
        case.escalate_at
    } else {
        None
    };
    let deliveries = if action == CaseAction::Escalate {
        let routing = Routing::load(store).await?;
        let mut escalated = case.clone();
        escalated.state = action.to_state();
        let notice = routing.notice(
            &escalated,
            "escalated",
            config.notify_parent_levels,
            Some(note.to_string()),
        );
        routing.deliveries(&notice, config)
    } else {
        Vec::new()
    };
    let t = Transition {
        case_id: id,
        from: action.from_states(),
        to: action.to_state(),
        actor: actor.to_string(),
        action: action.to_state().as_str().to_string(),
        note: note.to_string(),
        escalate_at,
        deliveries,
    };
    Ok(store.cases().transition(&t, now).audited(audit).await?)
}

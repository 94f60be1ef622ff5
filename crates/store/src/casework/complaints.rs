//! A complaint entered and moved through its steps (state checked under its row lock, with its event and
//! notifications), linked to cases or opening one of kind `complaint`, escalated when overdue.

use tianshu_model::case::NewDelivery;
use tianshu_model::complaint::{Complaint, ComplaintState, NewComplaint};
use tianshu_model::{Timestamp, UnitId, VehicleId};
use tianshu_rules::casework::{ComplaintAction, check_link};

use super::{Casework, corrupt, event, load};
use crate::db::Change;
use crate::registry::{UNITS_SQL, to_unit};
use crate::sql::{Tx, params, work};
use crate::{Error, Result};

pub(super) async fn create(tx: &mut dyn Tx, c: &NewComplaint, now: Timestamp) -> Result<Complaint> {
    let cars = serde_json::to_string(&c.cars).map_err(|e| Error::Corrupt(e.to_string()))?;
    let unresolved = c.cars.iter().any(|n| !n.resolved());
    let unit = c.cars.iter().find_map(|n| n.unit).map(|u| u.0);
    let (from, to) = c.window.unzip();
    let id = tx
        .opt(
            "INSERT INTO complaints (received_ms, channel, reporter_name, phone_sealed, phone_masked, body, place, \
             window_from_ms, window_to_ms, cars, unresolved, state, unit_id, entered_by, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'received', $12, $13, $14) RETURNING id",
            params![
                c.received,
                c.channel.as_str(),
                c.reporter_name.clone(),
                c.phone_sealed.clone(),
                c.phone_masked.clone(),
                &c.text,
                &c.place,
                from,
                to,
                cars,
                unresolved,
                unit,
                &c.entered_by,
                now
            ],
        )
        .await?
        .ok_or_else(|| Error::Corrupt("an insert returned no id".into()))?
        .int(0)?;
    let note = format!("by {}", c.channel);
    event(tx, id, now, &c.entered_by, "received", &note).await?;
    load(tx, id).await
}

/// One step on a complaint, as the API asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintStep {
    /// The complaint.
    pub id: i64,
    /// The step.
    pub action: ComplaintAction,
    /// Who.
    pub actor: String,
    /// What was said (the answer, the reason, the reply and how it was given).
    pub note: String,
    /// Forward: the unit it goes to.
    pub unit: Option<UnitId>,
    /// Forward (and a send-back that sets a new one): when the answer is due.
    pub deadline: Option<Timestamp>,
    /// Answer: the units the answering person speaks for (`None`: anyone may); an answer for a
    /// complaint forwarded to another unit is refused.
    pub answering_units: Option<Vec<UnitId>>,
    /// The notifications the step sends (a forward's or a send-back's to the unit's supervisors),
    /// queued in the outbox with it: both commit or neither does.
    pub deliveries: Vec<NewDelivery>,
}

/// Queues `ds` about complaint `id` in the outbox.
async fn queue(tx: &mut dyn Tx, id: i64, ds: &[NewDelivery], now: Timestamp) -> Result<()> {
    for d in ds {
        tx.execute(
            "INSERT INTO alert_outbox (complaint_id, channel, recipient, payload, state, attempts, next_attempt_ms, \
             created_ms) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            params![id, &d.channel, &d.recipient, &d.payload, now],
        )
        .await?;
    }
    Ok(())
}

/// A complaint as a step left it, with the state it moved from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SteppedComplaint {
    /// The state it was in.
    pub before: ComplaintState,
    /// The complaint after the step.
    pub complaint: Complaint,
}

pub(super) async fn step(tx: &mut dyn Tx, s: &ComplaintStep, now: Timestamp) -> Result<SteppedComplaint> {
    let lock = tx.row_lock();
    let row = tx
        .opt(
            &format!("SELECT state, forwarded_to, deadline_ms FROM complaints WHERE id = $1{lock}"),
            params![s.id],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("complaint {}", s.id)))?;
    let state_text = row.text(0)?;
    let before = ComplaintState::parse(&state_text).ok_or_else(|| corrupt("complaint state", &state_text))?;
    let forwarded_to = row.opt_int(1)?.map(UnitId);
    let deadline = row.opt_int(2)?;
    if s.action == ComplaintAction::Answer
        && let Some(units) = &s.answering_units
        && !forwarded_to.is_some_and(|u| units.contains(&u))
    {
        return Err(Error::Forbidden(format!(
            "complaint {} was not forwarded to your unit",
            s.id
        )));
    }
    tianshu_rules::casework::next(before, s.action).map_err(|e| Error::Conflict(e.to_string()))?;
    let to = s.action.to_state().as_str();
    match s.action {
        ComplaintAction::Forward => {
            let unit = s.unit.ok_or_else(|| Error::Invalid {
                line: None,
                reason: "unit: the complaint names no known car; say which unit it goes to".into(),
            })?;
            tx.execute(
                "UPDATE complaints SET state = $2, forwarded_to = $3, unit_id = $3, deadline_ms = $4, \
                 forwarded_ms = COALESCE(forwarded_ms, $5), updated_ms = $5 WHERE id = $1",
                params![s.id, to, unit.0, s.deadline, now],
            )
            .await?;
        }
        ComplaintAction::Answer => {
            let in_time = deadline.is_none_or(|d| now.0 <= d);
            tx.execute(
                "UPDATE complaints SET state = $2, answered_ms = $3, \
                 answered_in_time = COALESCE(answered_in_time, $4), updated_ms = $3 WHERE id = $1",
                params![s.id, to, now, in_time],
            )
            .await?;
        }
        ComplaintAction::SendBack => {
            tx.execute(
                "UPDATE complaints SET state = $2, deadline_ms = COALESCE($3, deadline_ms), updated_ms = $4 \
                 WHERE id = $1",
                params![s.id, to, s.deadline, now],
            )
            .await?;
        }
        ComplaintAction::Accept => {
            tx.execute(
                "UPDATE complaints SET state = $2, updated_ms = $3 WHERE id = $1",
                params![s.id, to, now],
            )
            .await?;
        }
        ComplaintAction::Reply => {
            tx.execute(
                "UPDATE complaints SET state = $2, replied_ms = $3, updated_ms = $3 WHERE id = $1",
                params![s.id, to, now],
            )
            .await?;
        }
    }
    let action = match s.action {
        ComplaintAction::Forward => "forwarded",
        ComplaintAction::Answer => "answered",
        ComplaintAction::Accept => "accepted",
        ComplaintAction::SendBack => "sent_back",
        ComplaintAction::Reply => "replied",
    };
    event(tx, s.id, now, &s.actor, action, &s.note).await?;
    queue(tx, s.id, &s.deliveries, now).await?;
    Ok(SteppedComplaint {
        before,
        complaint: load(tx, s.id).await?,
    })
}

async fn link(tx: &mut dyn Tx, id: i64, case_id: i64, actor: &str, now: Timestamp) -> Result<Complaint> {
    let c = load(tx, id).await?;
    let case_unit = tx
        .opt("SELECT unit_id FROM alert_cases WHERE id = $1", params![case_id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("case {case_id}")))?
        .int(0)?;
    let mut theirs: Vec<UnitId> = c.cars.iter().filter_map(|n| n.unit).chain(c.unit).collect();
    theirs.sort_unstable();
    theirs.dedup();
    let units = tx
        .query(UNITS_SQL, &[])
        .await?
        .iter()
        .map(to_unit)
        .collect::<Result<Vec<_>>>()?;
    check_link(case_id, UnitId(case_unit), &theirs, &units).map_err(|e| Error::invalid(e.to_string()))?;
    let n = tx
        .execute(
            "INSERT INTO complaint_cases (complaint_id, case_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![id, case_id],
        )
        .await?;
    if n > 0 {
        event(tx, id, now, actor, "linked", &format!("case {case_id}")).await?;
        tx.execute(
            "UPDATE complaints SET updated_ms = $2 WHERE id = $1",
            params![id, now],
        )
        .await?;
    }
    load(tx, id).await
}

/// A case to open from a complaint (kind `complaint`), for one of its cars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintCase {
    /// The complaint.
    pub id: i64,
    /// The car.
    pub vehicle: VehicleId,
    /// The car's unit.
    pub unit: UnitId,
    /// Who opens it.
    pub actor: String,
    /// When it escalates by itself if unexplained.
    pub escalate_at: Option<Timestamp>,
}

/// The rule id of a case opened from a complaint.
pub const COMPLAINT_RULE: &str = "complaint";

pub(super) async fn open_case(
    tx: &mut dyn Tx,
    o: &ComplaintCase,
    now: Timestamp,
) -> Result<(Complaint, i64)> {
    let c = load(tx, o.id).await?;
    if !c.cars.iter().any(|n| n.vehicle == Some(o.vehicle)) {
        return Err(Error::Invalid {
            line: None,
            reason: format!("vehicle: complaint {} does not name vehicle {}", o.id, o.vehicle),
        });
    }
    let start = c.window_from.unwrap_or(c.received);
    let reasoning = format!("Complaint {}: {}", o.id, c.text);
    let reasoning_zh = format!("举报 {}：{}", o.id, c.text);
    let episode = serde_json::json!({"complaint": o.id, "place": c.place}).to_string();
    let row = tx
        .opt(
            "INSERT INTO alert_cases (vehicle_id, unit_id, rule, start_ms, end_ms, severity, late, state, \
             reasoning, reasoning_zh, episode, escalate_ms, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, 'high', $6, 'open', $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (vehicle_id, rule, start_ms) DO NOTHING RETURNING id",
            params![
                o.vehicle.0,
                o.unit.0,
                COMPLAINT_RULE,
                start,
                c.window_to,
                false,
                &reasoning,
                reasoning_zh,
                episode,
                o.escalate_at,
                now
            ],
        )
        .await?;
    let case_id = match row {
        Some(r) => {
            let id = r.int(0)?;
            tx.execute(
                "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES ($1, $2, $3, 'opened', $4)",
                params![id, now, &o.actor, &reasoning],
            )
            .await?;
            id
        }
        None => {
            return Err(Error::Conflict(format!(
                "a complaint case of vehicle {} starting then is open already; link it instead",
                o.vehicle
            )));
        }
    };
    tx.execute(
        "INSERT INTO complaint_cases (complaint_id, case_id) VALUES ($1, $2)",
        params![o.id, case_id],
    )
    .await?;
    event(tx, o.id, now, &o.actor, "case_opened", &format!("case {case_id}")).await?;
    Ok((load(tx, o.id).await?, case_id))
}

async fn escalate_overdue(
    tx: &mut dyn Tx,
    planned: &[(i64, Vec<NewDelivery>)],
    now: Timestamp,
) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for (id, deliveries) in planned {
        let escalated = tx
            .execute(
                "UPDATE complaints SET escalated_ms = $1, updated_ms = $1 WHERE id = $2 AND state = 'forwarded' \
                 AND deadline_ms <= $1 AND escalated_ms IS NULL",
                params![now, *id],
            )
            .await?;
        if escalated == 0 {
            continue;
        }
        event(
            tx,
            *id,
            now,
            "system",
            "escalated",
            "the unit's answer is overdue",
        )
        .await?;
        queue(tx, *id, deliveries, now).await?;
        ids.push(*id);
    }
    Ok(ids)
}

impl Casework<'_> {
    /// Enters a complaint.
    pub fn create(&self, c: &NewComplaint, now: Timestamp) -> Change<'_, Complaint> {
        let c = c.clone();
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { create(tx, &c, now).await })),
        )
    }

    /// Takes a step on a complaint (state checked under its row lock).
    pub fn step(&self, s: &ComplaintStep, now: Timestamp) -> Change<'_, SteppedComplaint> {
        let s = s.clone();
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { step(tx, &s, now).await })),
        )
    }

    /// Links a complaint to an existing case.
    pub fn link(&self, id: i64, case_id: i64, actor: &str, now: Timestamp) -> Change<'_, Complaint> {
        let actor = actor.to_string();
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { link(tx, id, case_id, &actor, now).await })),
        )
    }

    /// Opens a case of kind `complaint` from a complaint, linked to it; the complaint and the case id.
    pub fn open_case(&self, o: &ComplaintCase, now: Timestamp) -> Change<'_, (Complaint, i64)> {
        let o = o.clone();
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { open_case(tx, &o, now).await })),
        )
    }

    /// Marks each planned complaint that is still forwarded, past its deadline without an answer and
    /// not yet escalated as escalated (once), queueing its notifications; the ids escalated.
    pub fn escalate_overdue(
        &self,
        planned: Vec<(i64, Vec<NewDelivery>)>,
        now: Timestamp,
    ) -> Change<'_, Vec<i64>> {
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { escalate_overdue(tx, &planned, now).await })),
        )
    }
}

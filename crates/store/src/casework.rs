//! Public complaints, their steps and linked cases, and the finding that closes a case, written once
//! over [`crate::sql::Tx`].
//!
//! Invariants: a complaint moves only from the states its step names (`tianshu_rules::casework`),
//! checked under a row lock in the transaction that moves it, with its event; an answer from a unit the
//! complaint was not forwarded to is refused there too ([`Error::Forbidden`]); the reporter's number is
//! only ever stored sealed (the caller seals it) beside its masked form. A finding is taken only by a
//! case whose state allows it, checked under the case's row lock; one on an explained or escalated case
//! closes it in the same transaction.

use tianshu_model::case::{Delivery, NewDelivery};
use tianshu_model::complaint::{
    Accountable, Channel, Complaint, ComplaintEvent, ComplaintFilter, ComplaintState, Finding,
    FindingOutcome, Measure, NewComplaint,
};
use tianshu_model::{CaseState, Timestamp, UnitId, VehicleId};
use tianshu_rules::casework::{ComplaintAction, ComplaintFacts, FindingFacts, FindingInput, finding_allowed};

use crate::db::{Change, Db};
use crate::rules::parse_json;
use crate::sql::{Row, Tx, Value, params, work};
use crate::{Error, Result, Store};

const COLS: &str = "id, received_ms, channel, reporter_name, phone_masked, body, place, window_from_ms, \
                    window_to_ms, cars, unresolved, state, forwarded_to, deadline_ms, forwarded_ms, answered_ms, \
                    answered_in_time, replied_ms, escalated_ms, entered_by, updated_ms, unit_id";

fn corrupt(what: &str, s: &str) -> Error {
    Error::Corrupt(format!("stored {what} {s:?}"))
}

fn to_complaint(r: &Row) -> Result<Complaint> {
    let channel = r.text(2)?;
    let state = r.text(11)?;
    Ok(Complaint {
        id: r.int(0)?,
        received: Timestamp(r.int(1)?),
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        reporter_name: r.opt_text(3)?,
        reporter_phone: r.opt_text(4)?,
        text: r.text(5)?,
        place: r.text(6)?,
        window_from: r.opt_int(7)?.map(Timestamp),
        window_to: r.opt_int(8)?.map(Timestamp),
        cars: parse_json(&r.text(9)?)?,
        unresolved: r.bool(10)?,
        state: ComplaintState::parse(&state).ok_or_else(|| corrupt("complaint state", &state))?,
        unit: r.opt_int(12)?.map(UnitId),
        deadline: r.opt_int(13)?.map(Timestamp),
        forwarded: r.opt_int(14)?.map(Timestamp),
        answered: r.opt_int(15)?.map(Timestamp),
        answered_in_time: r.opt_int(16)?.map(|v| v != 0),
        replied: r.opt_int(17)?.map(Timestamp),
        escalated: r.opt_int(18)?.map(Timestamp),
        cases: Vec::new(),
        entered_by: r.text(19)?,
        updated: Timestamp(r.int(20)?),
    })
}

async fn event(
    tx: &mut dyn Tx,
    id: i64,
    now: Timestamp,
    actor: &str,
    action: &str,
    note: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO complaint_events (complaint_id, time_ms, actor, action, note) VALUES ($1, $2, $3, $4, $5)",
        params![id, now, actor, action, note],
    )
    .await?;
    Ok(())
}

async fn load(tx: &mut dyn Tx, id: i64) -> Result<Complaint> {
    let sql = format!("SELECT {COLS} FROM complaints WHERE id = $1");
    let mut c = tx
        .opt(&sql, params![id])
        .await?
        .as_ref()
        .map(to_complaint)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("complaint {id}")))?;
    c.cases = tx
        .query(
            "SELECT case_id FROM complaint_cases WHERE complaint_id = $1 ORDER BY case_id",
            params![id],
        )
        .await?
        .iter()
        .map(|r| r.int(0))
        .collect::<Result<_>>()?;
    Ok(c)
}

async fn create(tx: &mut dyn Tx, c: &NewComplaint, now: Timestamp) -> Result<Complaint> {
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

async fn step(tx: &mut dyn Tx, s: &ComplaintStep, now: Timestamp) -> Result<SteppedComplaint> {
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
    load(tx, id).await?;
    if tx
        .opt("SELECT id FROM alert_cases WHERE id = $1", params![case_id])
        .await?
        .is_none()
    {
        return Err(Error::NotFound(format!("case {case_id}")));
    }
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

async fn open_case(tx: &mut dyn Tx, o: &ComplaintCase, now: Timestamp) -> Result<(Complaint, i64)> {
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

/// A finding to record on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingWrite {
    /// The case.
    pub case_id: i64,
    /// What was found (checked by the caller against the configured types).
    pub input: FindingInput,
    /// The date decided.
    pub decided: chrono::NaiveDate,
    /// A note.
    pub note: String,
    /// Who records it.
    pub actor: String,
}

async fn record_finding(tx: &mut dyn Tx, f: &FindingWrite, now: Timestamp) -> Result<Finding> {
    let lock = tx.row_lock();
    let row = tx
        .opt(
            &format!("SELECT state, unit_id FROM alert_cases WHERE id = $1{lock}"),
            params![f.case_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("case {}", f.case_id)))?;
    let state_text = row.text(0)?;
    let state = CaseState::parse(&state_text).ok_or_else(|| corrupt("case state", &state_text))?;
    let unit = row.int(1)?;
    let closes = finding_allowed(state).map_err(Error::Conflict)?;
    let outcome = f.input.outcome.as_str();
    if closes {
        tx.execute(
            "UPDATE alert_cases SET state = 'closed', escalate_ms = NULL, updated_ms = $2 WHERE id = $1",
            params![f.case_id, now],
        )
        .await?;
        tx.execute(
            "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES ($1, $2, $3, 'closed', $4)",
            params![f.case_id, now, &f.actor, format!("finding: {outcome}")],
        )
        .await?;
    }
    tx.execute(
        "DELETE FROM case_accountability WHERE case_id = $1",
        params![f.case_id],
    )
    .await?;
    tx.execute("DELETE FROM case_findings WHERE case_id = $1", params![f.case_id])
        .await?;
    tx.execute(
        "INSERT INTO case_findings (case_id, unit_id, outcome, violation, recovered_fen, decided, note, \
         recorded_by, recorded_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            f.case_id,
            unit,
            outcome,
            f.input.violation.clone(),
            f.input.recovered_fen,
            f.decided.to_string(),
            &f.note,
            &f.actor,
            now
        ],
    )
    .await?;
    for p in &f.input.people {
        tx.execute(
            "INSERT INTO case_accountability (case_id, name, post, unit, measure) VALUES ($1, $2, $3, $4, $5)",
            params![f.case_id, &p.name, &p.post, &p.unit, p.measure.as_str()],
        )
        .await?;
    }
    load_finding(tx, f.case_id)
        .await?
        .ok_or_else(|| Error::Corrupt("a finding just written is not there".into()))
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| corrupt("date", s))
}

async fn load_finding(tx: &mut dyn Tx, case_id: i64) -> Result<Option<Finding>> {
    let Some(r) = tx
        .opt(
            "SELECT case_id, unit_id, outcome, violation, recovered_fen, decided, note, recorded_by, recorded_ms \
             FROM case_findings WHERE case_id = $1",
            params![case_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let outcome = r.text(2)?;
    let people = tx
        .query(
            "SELECT name, post, unit, measure FROM case_accountability WHERE case_id = $1 ORDER BY id",
            params![case_id],
        )
        .await?
        .iter()
        .map(|p| {
            let m = p.text(3)?;
            Ok(Accountable {
                name: p.text(0)?,
                post: p.text(1)?,
                unit: p.text(2)?,
                measure: Measure::parse(&m).ok_or_else(|| corrupt("measure", &m))?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Some(Finding {
        case_id: r.int(0)?,
        unit: UnitId(r.int(1)?),
        outcome: FindingOutcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?,
        violation: r.opt_text(3)?,
        people,
        recovered_fen: r.int(4)?,
        decided: parse_date(&r.text(5)?)?,
        note: r.text(6)?,
        recorded_by: r.text(7)?,
        recorded: Timestamp(r.int(8)?),
    }))
}

/// `IN ($n, ...)` of `values`, appended to `args`.
fn marks(values: impl IntoIterator<Item = Value>, args: &mut Vec<Value>) -> String {
    let m: Vec<String> = values
        .into_iter()
        .map(|v| {
            args.push(v);
            format!("${}", args.len())
        })
        .collect();
    m.join(", ")
}

/// `WHERE ...` of a filter (`None`: it matches nothing).
fn filter_sql(f: &ComplaintFilter) -> Option<(String, Vec<Value>)> {
    let mut wh: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if !f.states.is_empty() {
        let m = marks(f.states.iter().map(|s| s.as_str().into()), &mut args);
        wh.push(format!("state IN ({m})"));
    }
    if let Some(units) = &f.units {
        if units.is_empty() {
            return None;
        }
        let m = marks(units.iter().map(|u| u.0.into()), &mut args);
        wh.push(format!("forwarded_to IN ({m})"));
    }
    let mut one = |test: &str, v: Value| {
        args.push(v);
        wh.push(test.replace('?', &format!("${}", args.len())));
    };
    if let Some(c) = f.channel {
        one("channel = ?", c.as_str().into());
    }
    if let Some(t) = f.from {
        one("received_ms >= ?", t.into());
    }
    if let Some(t) = f.to {
        one("received_ms < ?", t.into());
    }
    if let Some(u) = f.unresolved {
        one("unresolved = ?", u.into());
    }
    if let Some(t) = f.overdue_at {
        one("state = 'forwarded' AND deadline_ms <= ?", t.into());
    }
    if let Some(t) = &f.text {
        let like = format!("%{}%", t.replace(['%', '_'], ""));
        one("(body LIKE ? OR place LIKE ? OR cars LIKE ?)", like.into());
    }
    let sql = if wh.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wh.join(" AND "))
    };
    Some((sql, args))
}

/// Complaints and findings in a store; reached through [`Store::casework`].
#[derive(Clone, Copy)]
pub struct Casework<'a> {
    db: &'a Db,
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

    /// The notifications about a complaint, in order.
    pub async fn deliveries(&self, id: i64) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {} FROM alert_outbox WHERE complaint_id = $1 ORDER BY id",
            crate::cases::DELIVERY_COLS
        );
        self.db
            .rows(sql, vec![id.into()], crate::cases::to_delivery)
            .await
    }

    /// Records (or replaces) the finding of a case.
    pub fn record_finding(&self, f: &FindingWrite, now: Timestamp) -> Change<'_, Finding> {
        let f = f.clone();
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { record_finding(tx, &f, now).await })),
        )
    }

    /// One complaint, with its linked cases.
    pub async fn complaint(&self, id: i64) -> Result<Option<Complaint>> {
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    match load(tx, id).await {
                        Ok(c) => Ok(Some(c)),
                        Err(Error::NotFound(_)) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
            }))
            .await
    }

    /// Complaints matching a filter, newest first, and how many match in all.
    pub async fn complaints(&self, f: &ComplaintFilter) -> Result<(Vec<Complaint>, u64)> {
        let Some((where_sql, args)) = filter_sql(f) else {
            return Ok((Vec::new(), 0));
        };
        let limit = if f.limit == 0 { 100 } else { f.limit.min(1000) };
        let offset = f.offset;
        // A text search reads every row whatever is asked: the page and the count come from that one
        // scan (the count beside each row). Otherwise the count reads an index and the page only its rows.
        let one_scan = f.text.is_some();
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let count_sql = format!("SELECT COUNT(*) FROM complaints {where_sql}");
                    let counted = if one_scan { ", COUNT(*) OVER ()" } else { "" };
                    let sql = format!(
                        "SELECT {COLS}{counted} FROM complaints {where_sql} ORDER BY received_ms DESC, id DESC \
                         LIMIT {limit} OFFSET {offset}"
                    );
                    let rows = tx.query(&sql, &args).await?;
                    let total = match rows.first() {
                        Some(r) if one_scan => r.int(COLS.split(',').count())?,
                        None if one_scan && offset == 0 => 0,
                        _ => tx.opt(&count_sql, &args).await?.map_or(Ok(0), |r| r.int(0))?,
                    };
                    let list = rows.iter().map(to_complaint).collect::<Result<_>>()?;
                    Ok((list, u64::try_from(total).unwrap_or(0)))
                })
            }))
            .await
    }

    /// The steps of a complaint, in order.
    pub async fn events(&self, id: i64) -> Result<Vec<ComplaintEvent>> {
        self.db
            .rows(
                "SELECT time_ms, actor, action, note FROM complaint_events WHERE complaint_id = $1 ORDER BY id"
                    .into(),
                vec![id.into()],
                |r| {
                    Ok(ComplaintEvent {
                        time: Timestamp(r.int(0)?),
                        actor: r.text(1)?,
                        action: r.text(2)?,
                        note: r.text(3)?,
                    })
                },
            )
            .await
    }

    /// The reporter's number of a complaint, sealed as stored (`None`: none given).
    pub async fn sealed_phone(&self, id: i64) -> Result<Option<String>> {
        self.db
            .row(
                "SELECT phone_sealed FROM complaints WHERE id = $1".into(),
                vec![id.into()],
                |r| r.opt_text(0),
            )
            .await?
            .ok_or_else(|| Error::NotFound(format!("complaint {id}")))
    }

    /// The finding of a case.
    pub async fn finding(&self, case_id: i64) -> Result<Option<Finding>> {
        self.db
            .read(work(move |tx| {
                Box::pin(async move { load_finding(tx, case_id).await })
            }))
            .await
    }

    /// The facts the figures count: complaints received in `from..to` and findings decided on the local
    /// dates `from_date..to_date`, of `units` only when given.
    pub async fn facts(
        &self,
        (from, to): (Timestamp, Timestamp),
        (from_date, to_date): (chrono::NaiveDate, chrono::NaiveDate),
        units: Option<Vec<UnitId>>,
    ) -> Result<(Vec<ComplaintFacts>, Vec<FindingFacts>)> {
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let mut args: Vec<Value> = vec![from.into(), to.into()];
                    let unit_sql = match &units {
                        Some(u) if u.is_empty() => return Ok((Vec::new(), Vec::new())),
                        Some(u) => format!(" AND unit_id IN ({})", marks(u.iter().map(|u| u.0.into()), &mut args)),
                        None => String::new(),
                    };
                    let complaints = tx
                        .query(
                            &format!(
                                "SELECT received_ms, unit_id, state, deadline_ms, forwarded_ms, answered_in_time, replied_ms \
                                 FROM complaints WHERE received_ms >= $1 AND received_ms < $2{unit_sql}"
                            ),
                            &args,
                        )
                        .await?
                        .iter()
                        .map(|r| {
                            let s = r.text(2)?;
                            Ok(ComplaintFacts {
                                received: Timestamp(r.int(0)?),
                                unit: r.opt_int(1)?.map(UnitId),
                                state: ComplaintState::parse(&s).ok_or_else(|| corrupt("complaint state", &s))?,
                                deadline: r.opt_int(3)?.map(Timestamp),
                                forwarded: r.opt_int(4)?.map(Timestamp),
                                answered_in_time: r.opt_int(5)?.map(|v| v != 0),
                                replied: r.opt_int(6)?.map(Timestamp),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    args[0] = from_date.to_string().into();
                    args[1] = to_date.to_string().into();
                    let rows = tx
                        .query(
                            &format!(
                                "SELECT f.case_id, f.decided, f.unit_id, f.outcome, f.violation, f.recovered_fen, a.measure \
                                 FROM case_findings f LEFT JOIN case_accountability a ON a.case_id = f.case_id \
                                 WHERE f.decided >= $1 AND f.decided < $2{} ORDER BY f.case_id, a.id",
                                unit_sql.replace("unit_id", "f.unit_id")
                            ),
                            &args,
                        )
                        .await?;
                    let mut findings: Vec<(i64, FindingFacts)> = Vec::new();
                    for r in &rows {
                        let case_id = r.int(0)?;
                        if findings.last().is_none_or(|(id, _)| *id != case_id) {
                            let o = r.text(3)?;
                            findings.push((
                                case_id,
                                FindingFacts {
                                    decided: parse_date(&r.text(1)?)?,
                                    unit: UnitId(r.int(2)?),
                                    outcome: FindingOutcome::parse(&o).ok_or_else(|| corrupt("outcome", &o))?,
                                    violation: r.opt_text(4)?,
                                    measures: Vec::new(),
                                    recovered_fen: r.int(5)?,
                                },
                            ));
                        }
                        if let (Some(m), Some((_, f))) = (r.opt_text(6)?, findings.last_mut()) {
                            f.measures.push(Measure::parse(&m).ok_or_else(|| corrupt("measure", &m))?);
                        }
                    }
                    Ok((complaints, findings.into_iter().map(|(_, f)| f).collect()))
                })
            }))
            .await
    }
}

impl Store {
    /// Complaints and findings in this store.
    pub fn casework(&self) -> Casework<'_> {
        Casework { db: self.db() }
    }
}

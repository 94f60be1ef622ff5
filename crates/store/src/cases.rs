//! Alert cases, their events and their notification outbox, written once over [`crate::sql::Tx`].
//!
//! Invariants: one case per episode, keyed on (vehicle, rule, start), so a rule re-raising the same
//! episode (a restart's replay, a catch-up) updates the case instead of opening a second one; a case
//! moves only from the states its [`Transition`] names, checked under a row lock in the transaction
//! that moves it; notifications are written with the case (an outbox) and sent afterwards, so a crash
//! between detection and delivery delays a notification but never loses it.

use tianshu_model::{Timestamp, UnitId, VehicleId};

use crate::db::{Change, Db};
use crate::rules::{
    AlertCase, CASE_ID_TOKEN, CaseEvent, CaseFilter, CaseState, Delivery, DeliveryOutcome, NewCase,
    NewDelivery, Transition, TransitionedCase, parse_json, parse_state,
};
use crate::sql::{Row, Tx, Value, params, placeholders, tx};
use crate::{Error, Result, Store};

const CASE_COLS: &str = "id, vehicle_id, unit_id, rule, start_ms, end_ms, severity, late, state, reasoning, \
                         reasoning_zh, episode, escalate_ms, created_ms, updated_ms";
pub(crate) const DELIVERY_COLS: &str = "id, case_id, channel, recipient, payload, state, attempts, next_attempt_ms, last_error, created_ms, sent_ms, complaint_id";

fn to_case(r: &Row) -> Result<AlertCase> {
    Ok(AlertCase {
        id: r.int(0)?,
        raised: NewCase {
            vehicle: VehicleId(r.int(1)?),
            unit: UnitId(r.int(2)?),
            rule: r.text(3)?,
            start: Timestamp(r.int(4)?),
            end: r.opt_int(5)?.map(Timestamp),
            severity: r.text(6)?,
            late: r.bool(7)?,
            reasoning: r.text(9)?,
            reasoning_zh: r.text(10)?,
            episode: parse_json(&r.text(11)?)?,
            escalate_at: r.opt_int(12)?.map(Timestamp),
        },
        state: parse_state(&r.text(8)?)?,
        created: Timestamp(r.int(13)?),
        updated: Timestamp(r.int(14)?),
    })
}

pub(crate) fn to_delivery(r: &Row) -> Result<Delivery> {
    Ok(Delivery {
        id: r.int(0)?,
        case_id: r.opt_int(1)?,
        complaint_id: r.opt_int(11)?,
        channel: r.text(2)?,
        recipient: r.text(3)?,
        payload: r.text(4)?,
        state: r.text(5)?,
        attempts: u32::try_from(r.int(6)?.max(0)).unwrap_or(u32::MAX),
        next_attempt: Timestamp(r.int(7)?),
        last_error: r.opt_text(8)?,
        created: Timestamp(r.int(9)?),
        sent: r.opt_int(10)?.map(Timestamp),
    })
}

fn to_event(r: &Row) -> Result<CaseEvent> {
    Ok(CaseEvent {
        case_id: r.int(0)?,
        time: Timestamp(r.int(1)?),
        actor: r.text(2)?,
        action: r.text(3)?,
        note: r.text(4)?,
    })
}

async fn insert_deliveries(tx: &mut dyn Tx, case_id: i64, ds: &[NewDelivery], now: Timestamp) -> Result<()> {
    for d in ds {
        let payload = d.payload.replace(CASE_ID_TOKEN, &case_id.to_string());
        tx.execute(
            "INSERT INTO alert_outbox (case_id, channel, recipient, payload, state, attempts, next_attempt_ms, created_ms) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            params![case_id, &d.channel, &d.recipient, payload, now],
        )
        .await?;
    }
    Ok(())
}

async fn load_case(tx: &mut dyn Tx, id: i64) -> Result<Option<AlertCase>> {
    let sql = format!("SELECT {CASE_COLS} FROM alert_cases WHERE id = $1");
    tx.opt(&sql, params![id]).await?.as_ref().map(to_case).transpose()
}

pub(crate) async fn record_case(
    tx: &mut dyn Tx,
    case: &NewCase,
    deliveries: &[NewDelivery],
    now: Timestamp,
) -> Result<(i64, bool)> {
    let one = [(case.clone(), deliveries.to_vec())];
    record_cases(tx, &one, now)
        .await?
        .pop()
        .ok_or_else(|| Error::Corrupt("a recorded case has no id".into()))
}

/// Cases per statement when many are recorded at once: a few hundred rows share each round trip.
const CASES_PER_STATEMENT: usize = 200;

/// Opens the case of each episode (with its deliveries) or updates the one already open for it, in
/// order: each case's id and whether it is new. A few statements per [`CASES_PER_STATEMENT`] cases.
pub(crate) async fn record_cases(
    tx: &mut dyn Tx,
    cases: &[(NewCase, Vec<NewDelivery>)],
    now: Timestamp,
) -> Result<Vec<(i64, bool)>> {
    let mut out = Vec::with_capacity(cases.len());
    for chunk in cases.chunks(CASES_PER_STATEMENT) {
        out.extend(record_chunk(tx, chunk, now).await?);
    }
    Ok(out)
}

type EpisodeKey = (i64, String, i64);

fn episode_key(c: &NewCase) -> EpisodeKey {
    (c.vehicle.0, c.rule.clone(), c.start.0)
}

/// The ids of the cases already open for the episodes of `chunk`, locked until the transaction ends.
async fn open_episodes(
    tx: &mut dyn Tx,
    chunk: &[(NewCase, Vec<NewDelivery>)],
) -> Result<std::collections::HashMap<EpisodeKey, i64>> {
    let mut args: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
    let conditions: Vec<String> = chunk
        .iter()
        .map(|(c, _)| {
            let marks = placeholders(
                vec![c.vehicle.0.into(), c.rule.clone().into(), c.start.into()],
                &mut args,
            );
            format!("(vehicle_id, rule, start_ms) = ({marks})")
        })
        .collect();
    let lock = tx.row_lock();
    let sql = format!(
        "SELECT id, vehicle_id, rule, start_ms FROM alert_cases WHERE {}{lock}",
        conditions.join(" OR ")
    );
    let mut found = std::collections::HashMap::new();
    for r in tx.query(&sql, &args).await? {
        found.insert((r.int(1)?, r.text(2)?, r.int(3)?), r.int(0)?);
    }
    Ok(found)
}

async fn update_case(
    tx: &mut dyn Tx,
    id: i64,
    case: &NewCase,
    episode: String,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "UPDATE alert_cases SET end_ms = $2, late = (late OR $3), reasoning = $4, reasoning_zh = $5, \
         episode = $6, updated_ms = $7 WHERE id = $1",
        params![
            id,
            case.end,
            case.late,
            &case.reasoning,
            &case.reasoning_zh,
            episode,
            now
        ],
    )
    .await?;
    Ok(())
}

async fn record_chunk(
    tx: &mut dyn Tx,
    chunk: &[(NewCase, Vec<NewDelivery>)],
    now: Timestamp,
) -> Result<Vec<(i64, bool)>> {
    let json =
        |c: &NewCase| serde_json::to_string(&c.episode).map_err(|e| Error::invalid(format!("JSON: {e}")));
    let open = open_episodes(tx, chunk).await?;
    // The episodes with no case yet, each once (a repeat in the chunk updates the case its first opens).
    let mut fresh: Vec<usize> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, (c, _)) in chunk.iter().enumerate() {
        if !open.contains_key(&episode_key(c)) && seen.insert(episode_key(c)) {
            fresh.push(i);
        }
    }
    let mut opened = std::collections::HashMap::new();
    if !fresh.is_empty() {
        let mut args: Vec<Value> = Vec::with_capacity(fresh.len() * 12);
        let mut rows = Vec::with_capacity(fresh.len());
        for &i in &fresh {
            let c = &chunk[i].0;
            let values = vec![
                c.vehicle.0.into(),
                c.unit.0.into(),
                c.rule.clone().into(),
                c.start.into(),
                c.end.into(),
                c.severity.clone().into(),
                c.late.into(),
                c.reasoning.clone().into(),
                c.reasoning_zh.clone().into(),
                json(c)?.into(),
                c.escalate_at.into(),
                now.into(),
            ];
            let marks = placeholders(values, &mut args);
            let stamp = marks.rsplit(", ").next().unwrap_or_default().to_string();
            rows.push(format!("({marks}, 'open', {stamp})"));
        }
        let sql = format!(
            "INSERT INTO alert_cases (vehicle_id, unit_id, rule, start_ms, end_ms, severity, late, reasoning, \
             reasoning_zh, episode, escalate_ms, created_ms, state, updated_ms) VALUES {} \
             ON CONFLICT (vehicle_id, rule, start_ms) DO NOTHING RETURNING id, vehicle_id, rule, start_ms",
            rows.join(", ")
        );
        for r in tx.query(&sql, &args).await? {
            opened.insert((r.int(1)?, r.text(2)?, r.int(3)?), r.int(0)?);
        }
        let mut args: Vec<Value> = Vec::new();
        let mut events = Vec::new();
        for &i in &fresh {
            let c = &chunk[i].0;
            // Another writer opened the same episode between the look-up and the insert: this one retries.
            let id = *opened.get(&episode_key(c)).ok_or_else(|| {
                Error::Unavailable(format!(
                    "case {} {} opened concurrently; retry",
                    c.vehicle, c.rule
                ))
            })?;
            let marks = placeholders(vec![id.into(), now.into(), c.reasoning.clone().into()], &mut args);
            events.push(format!("({marks}, 'system', 'opened')"));
            insert_deliveries(tx, id, &chunk[i].1, now).await?;
        }
        let sql = format!(
            "INSERT INTO alert_case_events (case_id, time_ms, note, actor, action) VALUES {}",
            events.join(", ")
        );
        tx.execute(&sql, &args).await?;
    }
    let mut out = Vec::with_capacity(chunk.len());
    for (i, (c, _)) in chunk.iter().enumerate() {
        let key = episode_key(c);
        let id = open
            .get(&key)
            .or_else(|| opened.get(&key))
            .copied()
            .ok_or_else(|| {
                Error::Corrupt(format!("case {} {} neither open nor opened", c.vehicle, c.rule))
            })?;
        if fresh.contains(&i) {
            out.push((id, true));
            continue;
        }
        update_case(tx, id, c, json(c)?, now).await?;
        out.push((id, false));
    }
    Ok(out)
}

pub(crate) async fn transition_case(
    tx: &mut dyn Tx,
    t: &Transition,
    now: Timestamp,
) -> Result<TransitionedCase> {
    let lock = tx.row_lock();
    let state = tx
        .opt(
            &format!("SELECT state FROM alert_cases WHERE id = $1{lock}"),
            params![t.case_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("case {}", t.case_id)))?
        .text(0)?;
    let Some(before) = t.from.iter().copied().find(|s| s.as_str() == state) else {
        return Err(Error::invalid(t.refusal(t.case_id, &state)));
    };
    tx.execute(
        "UPDATE alert_cases SET state = $2, escalate_ms = $3, updated_ms = $4 WHERE id = $1",
        params![t.case_id, t.to.as_str(), t.escalate_at, now],
    )
    .await?;
    tx.execute(
        "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES ($1, $2, $3, $4, $5)",
        params![t.case_id, now, &t.actor, &t.action, &t.note],
    )
    .await?;
    insert_deliveries(tx, t.case_id, &t.deliveries, now).await?;
    let case = load_case(tx, t.case_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("case {}", t.case_id)))?;
    Ok(TransitionedCase { before, case })
}

/// `WHERE ...` of a case filter, with its parameters (`None`: the filter matches nothing).
fn case_filter_sql(f: &CaseFilter) -> Option<(String, Vec<Value>)> {
    let mut wh: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut list = |column: &str, values: Vec<Value>, args: &mut Vec<Value>| {
        wh.push(format!("{column} IN ({})", placeholders(values, args)));
    };
    if !f.states.is_empty() {
        list(
            "state",
            f.states.iter().map(|s| s.as_str().into()).collect(),
            &mut args,
        );
    }
    if let Some(units) = &f.units {
        if units.is_empty() {
            return None;
        }
        list("unit_id", units.iter().map(|u| u.0.into()).collect(), &mut args);
    }
    let one: [(&str, Option<Value>); 4] = [
        ("vehicle_id =", f.vehicle.map(|v| v.0.into())),
        ("rule =", f.rule.as_deref().map(Into::into)),
        ("start_ms >=", f.from.map(Into::into)),
        ("start_ms <", f.to.map(Into::into)),
    ];
    for (test, value) in one {
        if let Some(v) = value {
            args.push(v);
            wh.push(format!("{test} ${}", args.len()));
        }
    }
    let where_sql = if wh.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wh.join(" AND "))
    };
    Some((where_sql, args))
}

/// Alert cases and their outbox in a store; reached through [`Store::cases`].
#[derive(Clone, Copy)]
pub struct Cases<'a> {
    db: &'a Db,
}

impl Cases<'_> {
    /// Opens the case of an episode (with its deliveries) or updates the one already open for it;
    /// returns its id and whether it is new.
    pub async fn record_case(
        &self,
        case: &NewCase,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> Result<(i64, bool)> {
        let (case, deliveries) = (case.clone(), deliveries.to_vec());
        self.db
            .write(tx!(|tx| record_case(tx, &case, &deliveries, now)))
            .await
    }

    /// One case.
    pub async fn case(&self, id: i64) -> Result<Option<AlertCase>> {
        let sql = format!("SELECT {CASE_COLS} FROM alert_cases WHERE id = $1");
        self.db.row(sql, vec![id.into()], to_case).await
    }

    /// Cases matching a filter, newest first.
    pub async fn cases(&self, f: &CaseFilter) -> Result<Vec<AlertCase>> {
        let Some((where_sql, args)) = case_filter_sql(f) else {
            return Ok(Vec::new());
        };
        let limit = if f.limit == 0 { 100 } else { f.limit.min(10_000) };
        let sql = format!(
            "SELECT {CASE_COLS} FROM alert_cases {where_sql} ORDER BY start_ms DESC, id DESC LIMIT {limit} OFFSET {}",
            f.offset
        );
        self.db.rows(sql, args, to_case).await
    }

    /// Up to `limit` cases numbered above `after`, in number order (the order they were raised in), for
    /// a reader that goes through every case once (a JT/T 809 link's alarm reports).
    pub async fn after(&self, after: i64, limit: u32) -> Result<Vec<AlertCase>> {
        let sql = format!(
            "SELECT {CASE_COLS} FROM alert_cases WHERE id > $1 ORDER BY id LIMIT {}",
            limit.clamp(1, 10_000)
        );
        self.db.rows(sql, vec![after.into()], to_case).await
    }

    /// The highest case number so far (0 before the first case).
    pub async fn last_id(&self) -> Result<i64> {
        let sql = "SELECT COALESCE(MAX(id), 0) FROM alert_cases".to_string();
        Ok(self.db.row(sql, Vec::new(), |r| r.int(0)).await?.unwrap_or(0))
    }

    /// The events of one case, in order.
    pub async fn case_events(&self, id: i64) -> Result<Vec<CaseEvent>> {
        let sql = "SELECT case_id, time_ms, actor, action, note FROM alert_case_events \
                   WHERE case_id = $1 ORDER BY id";
        self.db.rows(sql.into(), vec![id.into()], to_event).await
    }

    /// Moves a case from one of `t.from` to `t.to`, with its event and deliveries; a case in another
    /// state is [`Error::Invalid`].
    pub async fn transition_case(&self, t: &Transition, now: Timestamp) -> Result<AlertCase> {
        Ok(self.transition(t, now).await?.case)
    }

    /// [`Cases::transition_case`] as a [`Change`] that answers the state the case moved from too, so
    /// that an audit record of the step ([`Change::audited`]) commits with it.
    pub fn transition(&self, t: &Transition, now: Timestamp) -> Change<'_, TransitionedCase> {
        let t = t.clone();
        Change::new(self.db, tx!(|tx| transition_case(tx, &t, now)))
    }

    /// Cases in one of `of` whose escalation time has come, oldest first.
    pub async fn due_escalations(
        &self,
        of: &[CaseState],
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<AlertCase>> {
        if of.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<Value> = vec![now.into(), limit.into()];
        let states = placeholders(of.iter().map(|s| s.as_str().into()).collect(), &mut args);
        let sql = format!(
            "SELECT {CASE_COLS} FROM alert_cases WHERE state IN ({states}) AND escalate_ms IS NOT NULL \
             AND escalate_ms <= $1 ORDER BY escalate_ms LIMIT $2"
        );
        self.db.rows(sql, args, to_case).await
    }

    /// Pending deliveries whose attempt is due, oldest first.
    pub async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM alert_outbox WHERE state = 'pending' AND next_attempt_ms <= $1 \
             ORDER BY next_attempt_ms, id LIMIT $2"
        );
        self.db
            .rows(sql, vec![now.into(), limit.into()], to_delivery)
            .await
    }

    /// Records what an attempt to deliver did.
    pub async fn delivery_attempted(&self, id: i64, outcome: &DeliveryOutcome, now: Timestamp) -> Result<()> {
        let (sql, args): (&str, Vec<Value>) = match outcome {
            DeliveryOutcome::Sent => (
                "UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, sent_ms = $2, last_error = NULL \
                 WHERE id = $1",
                vec![id.into(), now.into()],
            ),
            DeliveryOutcome::Retry { error, next_attempt } => (
                "UPDATE alert_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_ms = $3 WHERE id = $1",
                vec![id.into(), error.into(), (*next_attempt).into()],
            ),
            DeliveryOutcome::Failed { error } => (
                "UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1",
                vec![id.into(), error.into()],
            ),
        };
        match self.db.execute(sql, args).await? {
            0 => Err(Error::NotFound(format!("delivery {id}"))),
            _ => Ok(()),
        }
    }

    /// The deliveries of one case, in order.
    pub async fn deliveries(&self, case_id: i64) -> Result<Vec<Delivery>> {
        let sql = format!("SELECT {DELIVERY_COLS} FROM alert_outbox WHERE case_id = $1 ORDER BY id");
        self.db.rows(sql, vec![case_id.into()], to_delivery).await
    }
}

impl Store {
    /// Alert cases and their outbox in this store.
    pub fn cases(&self) -> Cases<'_> {
        Cases { db: self.db() }
    }
}

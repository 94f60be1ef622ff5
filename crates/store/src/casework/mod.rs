//! Public complaints, their steps and linked cases, and the finding that closes a case, written once
//! over [`crate::sql::Tx`]: the complaints' steps in `complaints`, findings in `findings`, the facts the
//! office's figures count in `summary`, a casework file loaded in `import`; the reads here.
//!
//! Invariants: a complaint moves only from the states its step names (`tianshu_rules::casework`),
//! checked under a row lock in the transaction that moves it, with its event; an answer from a unit the
//! complaint was not forwarded to is refused there too ([`Error::Forbidden`]); the reporter's number is
//! only ever stored sealed (the caller seals it) beside its masked form. A finding is taken only by a
//! case whose state allows it, checked under the case's row lock; one on an explained or escalated case
//! closes it in the same transaction.

use tianshu_model::case::Delivery;
use tianshu_model::complaint::{Channel, Complaint, ComplaintEvent, ComplaintFilter, ComplaintState};
use tianshu_model::{Timestamp, UnitId};

use crate::db::Db;
use crate::rules::parse_json;
use crate::sql::{Row, Tx, Value, params, work};
use crate::{Error, Result, Store};

mod complaints;
mod findings;
mod import;
mod summary;

pub use complaints::{COMPLAINT_RULE, ComplaintCase, ComplaintStep, SteppedComplaint};
pub use findings::FindingWrite;
pub use import::CaseworkImport;

const COLS: &str = "id, received_ms, channel, reporter_name, phone_masked, body, place, window_from_ms, \
                    window_to_ms, cars, unresolved, state, forwarded_to, deadline_ms, forwarded_ms, answered_ms, \
                    answered_in_time, replied_ms, escalated_ms, entered_by, updated_ms, unit_id";

pub(super) fn corrupt(what: &str, s: &str) -> Error {
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

pub(super) async fn event(
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

pub(super) async fn load(tx: &mut dyn Tx, id: i64) -> Result<Complaint> {
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

/// `IN ($n, ...)` of `values`, appended to `args`.
pub(super) fn marks(values: impl IntoIterator<Item = Value>, args: &mut Vec<Value>) -> String {
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
}

impl Store {
    /// Complaints and findings in this store.
    pub fn casework(&self) -> Casework<'_> {
        Casework { db: self.db() }
    }
}

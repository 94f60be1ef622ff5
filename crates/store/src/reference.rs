//! Reference data for the rules: holiday calendars, geofences, dispatch orders and holiday filings,
//! units' working hours, and the reference stamp that tells the running rules to reload them.
//!
//! Written once over [`crate::sql::Tx`], and the one way in for the command line's file imports and the
//! web API's single records alike: the rules crate's parsers and checks, the registry checks (a plate,
//! a unit, a depot's unit must exist), the write, the reference stamp and, when the caller gives one,
//! the audit record commit in one transaction, all or nothing. The store keeps each item as the
//! document it came in as (a calendar year's TOML text, a fence, an order or a timetable as JSON) plus
//! the columns it is looked up by; the rules compile them.
//!
//! Invariants: every write moves the reference stamp ([`crate::stamp`]); an order's `updated_ms` is the
//! stamp of the write that stored it, so it grows with every write of that order and serves as its
//! version; an order's state changes only as [`OrderState::change_to`] allows, checked against the
//! stored state under a row lock in the transaction that writes it. Writes that take the stamp first
//! (orders) lock nothing before it; the others take it last, after their own locks, as the registry's
//! writes do, so no two writes wait on each other in opposite orders.
//!
//! Schema: migrations 0100-0102 of both backends; reached through [`Store::rules`].

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use tianshu_model::{Timestamp, Unit, UnitId};
use tianshu_rules::calendar::YearCalendar;
use tianshu_rules::orders::{Order, OrderState};
use tianshu_rules::timetable::UnitTimetableBody;
use tianshu_rules::{Geofence, unit_paths};

use crate::access::Audit;
use crate::db::Db;
use crate::rules::parse_json;
use crate::sql::{Row, Tx, params, work};
use crate::stamp::next_stamp;
use crate::{Error, Result, Store};

/// One year of the official calendar, as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCalendar {
    /// The year.
    pub year: i32,
    /// The TOML text.
    pub source: String,
    /// When it was imported.
    pub updated: Timestamp,
}

/// A geofence, as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFence {
    /// `region`, `depot`, `prohibited` or `speed_zone`.
    pub kind: String,
    /// Name, unique per kind.
    pub name: String,
    /// The fence as JSON (name, kind, unit, category, speed limit, polygons).
    pub body: serde_json::Value,
    /// When it was last imported (set by the store).
    pub updated: Timestamp,
}

/// A dispatch order or holiday filing, as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOrder {
    /// Order id.
    pub id: String,
    /// The car's plate.
    pub plate: String,
    /// `order` or `filing`.
    pub kind: String,
    /// `requested`, `approved`, `cancelled` or `completed`.
    pub state: String,
    /// Start of the window.
    pub start: Timestamp,
    /// End of the window.
    pub end: Timestamp,
    /// The order as JSON, in the import format.
    pub body: serde_json::Value,
    /// The reference stamp of the write that stored it (set by the store): it grows with every write
    /// of the order, so it is also the order's version.
    pub updated: Timestamp,
}

/// The office hours of one unit, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUnitTimetable {
    /// The unit.
    pub unit: UnitId,
    /// The timetable as JSON: `{"periods": [...], "seasons": [...]}`, the shape of a configured
    /// `[[rules.unit_timetables]]` entry without its `unit`.
    pub body: serde_json::Value,
    /// When it was last written (set by the store).
    pub updated: Timestamp,
}

/// What an order import did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderImportSummary {
    /// New ids.
    pub created: u64,
    /// Known ids whose content changed.
    pub updated: u64,
    /// Known ids imported again unchanged.
    pub unchanged: u64,
    /// Ids created or changed, for re-evaluation.
    pub changed_ids: Vec<String>,
}

/// A calendar year as stored by [`ReferenceData::put_calendar`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarWrite {
    /// The year, parsed.
    pub calendar: YearCalendar,
    /// Whether it replaced a stored year.
    pub replaced: bool,
    /// When it was stored.
    pub updated: Timestamp,
}

/// A geofence as stored by [`ReferenceData::create_geofence`] or [`ReferenceData::replace_geofence`].
#[derive(Debug, Clone, PartialEq)]
pub struct FenceWrite {
    /// Its id.
    pub id: i64,
    /// The stored row.
    pub fence: StoredFence,
}

/// An order's change of state, as stored by [`ReferenceData::change_order_state`].
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    /// The state it had.
    pub before: OrderState,
    /// The stored row with the new state (and version).
    pub order: StoredOrder,
}

/// A unit's working hours as stored by [`ReferenceData::put_unit_timetable`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimetableWrite {
    /// The stored row.
    pub timetable: StoredUnitTimetable,
    /// Whether the unit had none of its own before.
    pub created: bool,
}

const ORDER_COLS: &str = "id, plate, kind, state, start_ms, end_ms, body, updated_ms";
const FENCE_COLS: &str = "id, kind, name, body, updated_ms";

fn invalid(reason: impl Into<String>) -> Error {
    Error::Invalid {
        line: None,
        reason: reason.into(),
    }
}

/// Refuses an input with every problem found in it, one per line.
fn refuse_if_any(errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(errors.join("\n")))
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| invalid(format!("JSON: {e}")))
}

fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| invalid(format!("JSON: {e}")))
}

/// A stable key for [`Tx::lock`] from a name (FNV-1a): the same in every process and on every run.
fn lock_key(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

fn to_order(r: &Row) -> Result<StoredOrder> {
    Ok(StoredOrder {
        id: r.text(0)?,
        plate: r.text(1)?,
        kind: r.text(2)?,
        state: r.text(3)?,
        start: Timestamp(r.int(4)?),
        end: Timestamp(r.int(5)?),
        body: parse_json(&r.text(6)?)?,
        updated: Timestamp(r.int(7)?),
    })
}

fn to_fence(r: &Row) -> Result<(i64, StoredFence)> {
    let fence = StoredFence {
        kind: r.text(1)?,
        name: r.text(2)?,
        body: parse_json(&r.text(3)?)?,
        updated: Timestamp(r.int(4)?),
    };
    Ok((r.int(0)?, fence))
}

/// The stored row of an order (the one mapping of an order to its columns).
fn order_row(o: &Order, stamp: Timestamp) -> Result<StoredOrder> {
    Ok(StoredOrder {
        id: o.id.clone(),
        plate: o.plate.trim().to_string(),
        kind: o.kind.as_str().to_string(),
        state: o.state.as_str().to_string(),
        start: o.start,
        end: o.end,
        body: to_json(o)?,
        updated: stamp,
    })
}

/// The stored row of a geofence (the one mapping of a fence to its columns).
fn fence_row(f: &Geofence, now: Timestamp) -> Result<StoredFence> {
    Ok(StoredFence {
        kind: f.kind.as_str().to_string(),
        name: f.name.clone(),
        body: to_json(f)?,
        updated: now,
    })
}

/// Every unit of the registry (for their paths).
async fn units(tx: &mut dyn Tx) -> Result<Vec<Unit>> {
    let rows = tx.query("SELECT id, name, parent FROM units", &[]).await?;
    rows.iter()
        .map(|r| {
            Ok(Unit {
                id: UnitId(r.int(0)?),
                name: r.text(1)?,
                parent: r.opt_int(2)?.map(UnitId),
            })
        })
        .collect()
}

/// Every registered plate.
async fn plates(tx: &mut dyn Tx) -> Result<HashSet<String>> {
    let rows = tx.query("SELECT plate FROM vehicles", &[]).await?;
    rows.iter().map(|r| r.text(0)).collect()
}

async fn put_calendar(tx: &mut dyn Tx, text: &str, now: Timestamp) -> Result<CalendarWrite> {
    let calendar = YearCalendar::parse_toml(text).map_err(|e| invalid(e.to_string()))?;
    let year = calendar.year;
    tx.lock(lock_key(&format!("rules_calendars/{year}"))).await?;
    let replaced = tx
        .opt("SELECT 1 FROM rules_calendars WHERE year = $1", params![year])
        .await?
        .is_some();
    tx.execute(
        "INSERT INTO rules_calendars (year, source, updated_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (year) DO UPDATE SET source = excluded.source, updated_ms = excluded.updated_ms",
        params![year, text, now],
    )
    .await?;
    next_stamp(tx, now).await?;
    Ok(CalendarWrite {
        calendar,
        replaced,
        updated: now,
    })
}

/// Serialises the writers of one (kind, name), so that two of them cannot both find it free.
async fn lock_fence_name(tx: &mut dyn Tx, f: &StoredFence) -> Result<()> {
    tx.lock(lock_key(&format!("rules_geofences/{}/{}", f.kind, f.name)))
        .await
}

/// The id of the fence holding (kind, name), if any.
async fn fence_named(tx: &mut dyn Tx, f: &StoredFence) -> Result<Option<i64>> {
    let row = tx
        .opt(
            "SELECT id FROM rules_geofences WHERE kind = $1 AND name = $2",
            params![&f.kind, &f.name],
        )
        .await?;
    row.map(|r| r.int(0)).transpose()
}

async fn put_fences(tx: &mut dyn Tx, fences: &[Geofence], now: Timestamp) -> Result<(u64, u64)> {
    let (mut created, mut replaced) = (0, 0);
    for f in fences {
        let row = fence_row(f, now)?;
        lock_fence_name(tx, &row).await?;
        if fence_named(tx, &row).await?.is_some() {
            replaced += 1;
        } else {
            created += 1;
        }
        tx.execute(
            "INSERT INTO rules_geofences (kind, name, body, updated_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
            params![&row.kind, &row.name, json_text(&row.body)?, now],
        )
        .await?;
    }
    next_stamp(tx, now).await?;
    Ok((created, replaced))
}

/// Stores one fence as a new one (`id` `None`) or in place of fence `id`, after the checks an API
/// caller gets: a depot's unit exists, the fence exists, no other fence has its kind and name.
async fn write_fence(tx: &mut dyn Tx, id: Option<i64>, f: &Geofence, now: Timestamp) -> Result<FenceWrite> {
    if let Some(path) = &f.unit
        && !unit_paths(&units(tx).await?).values().any(|p| p == path)
    {
        return Err(invalid(format!("properties.unit: there is no unit {path:?}")));
    }
    let fence = fence_row(f, now)?;
    lock_fence_name(tx, &fence).await?;
    if let Some(id) = id {
        let sql = format!("SELECT 1 FROM rules_geofences WHERE id = $1{}", tx.row_lock());
        if tx.opt(&sql, params![id]).await?.is_none() {
            return Err(Error::NotFound(format!("geofence {id}")));
        }
    }
    match fence_named(tx, &fence).await? {
        Some(other) if Some(other) != id => {
            return Err(Error::Conflict(format!(
                "{} {:?} already exists (geofence {other})",
                fence.kind, fence.name
            )));
        }
        _ => {}
    }
    let body = json_text(&fence.body)?;
    let id = match id {
        Some(id) => {
            tx.execute(
                "UPDATE rules_geofences SET kind = $2, name = $3, body = $4, updated_ms = $5 WHERE id = $1",
                params![id, &fence.kind, &fence.name, body, now],
            )
            .await?;
            id
        }
        None => tx
            .opt(
                "INSERT INTO rules_geofences (kind, name, body, updated_ms) VALUES ($1, $2, $3, $4) RETURNING id",
                params![&fence.kind, &fence.name, body, now],
            )
            .await?
            .ok_or_else(|| Error::Corrupt("an insert returned no id".into()))?
            .int(0)?,
    };
    next_stamp(tx, now).await?;
    Ok(FenceWrite { id, fence })
}

async fn delete_fence(tx: &mut dyn Tx, id: i64, now: Timestamp) -> Result<i64> {
    let n = tx
        .execute("DELETE FROM rules_geofences WHERE id = $1", params![id])
        .await?;
    if n == 0 {
        return Err(Error::NotFound(format!("geofence {id}")));
    }
    next_stamp(tx, now).await?;
    Ok(id)
}

/// Writes an order row, replacing the one with its id.
async fn upsert_order(tx: &mut dyn Tx, o: &StoredOrder) -> Result<()> {
    tx.execute(
        "INSERT INTO rules_orders (id, plate, kind, state, start_ms, end_ms, body, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET plate = excluded.plate, kind = excluded.kind, \
           state = excluded.state, start_ms = excluded.start_ms, end_ms = excluded.end_ms, \
           body = excluded.body, updated_ms = excluded.updated_ms",
        params![
            &o.id,
            &o.plate,
            &o.kind,
            &o.state,
            o.start,
            o.end,
            json_text(&o.body)?,
            o.updated
        ],
    )
    .await
    .map(drop)
}

/// The stored order `id`, locked until the transaction ends.
async fn locked_order(tx: &mut dyn Tx, id: &str) -> Result<Option<StoredOrder>> {
    let sql = format!(
        "SELECT {ORDER_COLS} FROM rules_orders WHERE id = $1{}",
        tx.row_lock()
    );
    tx.opt(&sql, params![id])
        .await?
        .as_ref()
        .map(to_order)
        .transpose()
}

/// Stores orders (each with the line it came from), updating those with the same id; every plate must
/// be registered.
async fn put_orders(
    tx: &mut dyn Tx,
    orders: &[(usize, Order)],
    now: Timestamp,
) -> Result<OrderImportSummary> {
    let stamp = Timestamp(next_stamp(tx, now).await?);
    let plates = plates(tx).await?;
    refuse_if_any(
        orders
            .iter()
            .filter(|(_, o)| !plates.contains(o.plate.trim()))
            .map(|(line, o)| format!("line {line}: plate {:?} is not in the registry", o.plate))
            .collect(),
    )?;
    let mut s = OrderImportSummary::default();
    for (_, o) in orders {
        let row = order_row(o, stamp)?;
        match locked_order(tx, &o.id).await? {
            Some(old) if old.body == row.body => {
                s.unchanged += 1;
                continue;
            }
            Some(_) => s.updated += 1,
            None => s.created += 1,
        }
        s.changed_ids.push(o.id.clone());
        upsert_order(tx, &row).await?;
    }
    Ok(s)
}

async fn create_order(tx: &mut dyn Tx, o: &Order, now: Timestamp) -> Result<StoredOrder> {
    o.validate().map_err(invalid)?;
    let row = order_row(o, Timestamp(next_stamp(tx, now).await?))?;
    if !plates(tx).await?.contains(&row.plate) {
        return Err(invalid(format!("plate: {:?} is not in the registry", row.plate)));
    }
    let inserted = tx
        .opt(
            "INSERT INTO rules_orders (id, plate, kind, state, start_ms, end_ms, body, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id",
            params![
                &row.id,
                &row.plate,
                &row.kind,
                &row.state,
                row.start,
                row.end,
                json_text(&row.body)?,
                row.updated
            ],
        )
        .await?;
    match inserted {
        Some(_) => Ok(row),
        None => Err(Error::Conflict(format!(
            "order {:?} already exists; change its state with PATCH",
            o.id
        ))),
    }
}

async fn change_order_state(
    tx: &mut dyn Tx,
    id: &str,
    version: Option<i64>,
    to: OrderState,
    now: Timestamp,
) -> Result<OrderChange> {
    let stamp = Timestamp(next_stamp(tx, now).await?);
    let stored = locked_order(tx, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("order {id}")))?;
    if let Some(v) = version
        && v != stored.updated.0
    {
        return Err(Error::Conflict(format!(
            "order {id} has changed since version {v}: it is now version {}, {}; reload it and try again",
            stored.updated.0, stored.state
        )));
    }
    let mut order: Order =
        serde_json::from_value(stored.body).map_err(|e| Error::Corrupt(format!("stored order {id}: {e}")))?;
    let before = order.state;
    order.state = before
        .change_to(to)
        .map_err(|e| Error::Conflict(format!("order {id}: {e}")))?;
    let row = order_row(&order, stamp)?;
    upsert_order(tx, &row).await?;
    Ok(OrderChange { before, order: row })
}

/// Locks a unit's registry row, so that a concurrent deletion of the unit waits for this write or
/// wins before it; an unknown unit is [`Error::NotFound`].
async fn lock_unit(tx: &mut dyn Tx, unit: UnitId) -> Result<()> {
    let sql = format!("SELECT id FROM units WHERE id = $1{}", tx.row_lock());
    match tx.opt(&sql, params![unit.0]).await? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound(format!("unit {unit}"))),
    }
}

async fn put_timetables(
    tx: &mut dyn Tx,
    timetables: &[(UnitId, UnitTimetableBody)],
    now: Timestamp,
) -> Result<Vec<TimetableWrite>> {
    let mut out = Vec::with_capacity(timetables.len());
    for (unit, body) in timetables {
        lock_unit(tx, *unit).await?;
        let sql = "SELECT 1 FROM rules_unit_timetables WHERE unit_id = $1";
        let created = tx.opt(sql, params![unit.0]).await?.is_none();
        let timetable = StoredUnitTimetable {
            unit: *unit,
            body: to_json(body)?,
            updated: now,
        };
        tx.execute(
            "INSERT INTO rules_unit_timetables (unit_id, body, updated_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (unit_id) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
            params![unit.0, json_text(&timetable.body)?, now],
        )
        .await?;
        out.push(TimetableWrite { timetable, created });
    }
    next_stamp(tx, now).await?;
    Ok(out)
}

/// Imports a `[[unit_timetables]]` file: every unit must be registered.
async fn import_timetables(tx: &mut dyn Tx, text: &str, now: Timestamp) -> Result<(u64, u64)> {
    let entries = tianshu_rules::timetable::parse_unit_timetables_toml(text)
        .map_err(|errors| invalid(errors.join("\n")))?;
    let paths = unit_paths(&units(tx).await?);
    let mut errors = Vec::new();
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        match paths.iter().find(|(_, p)| **p == e.unit) {
            Some((id, _)) => rows.push((*id, e.body)),
            None => errors.push(format!(
                "line {}: unit {:?} is not in the registry",
                e.line, e.unit
            )),
        }
    }
    refuse_if_any(errors)?;
    let written = put_timetables(tx, &rows, now).await?;
    let created = written.iter().filter(|w| w.created).count() as u64;
    Ok((created, written.len() as u64 - created))
}

async fn delete_timetable(tx: &mut dyn Tx, unit: UnitId, now: Timestamp) -> Result<UnitId> {
    let n = tx
        .execute(
            "DELETE FROM rules_unit_timetables WHERE unit_id = $1",
            params![unit.0],
        )
        .await?;
    if n == 0 {
        return Err(Error::NotFound(format!("timetable of unit {unit}")));
    }
    next_stamp(tx, now).await?;
    Ok(unit)
}

/// The rules' reference data of a store; reached through [`Store::rules`].
#[derive(Clone, Copy)]
pub struct ReferenceData<'a> {
    db: &'a Db,
}

impl ReferenceData<'_> {
    /// Imports one calendar year from its TOML text (the `tianshu calendar import` file), replacing a
    /// stored year.
    pub async fn put_calendar(
        &self,
        text: &str,
        now: Timestamp,
        audit: Option<Audit<CalendarWrite>>,
    ) -> Result<CalendarWrite> {
        let text = text.to_string();
        let change = work(move |tx| Box::pin(async move { put_calendar(tx, &text, now).await }));
        self.db.change(audit, change).await
    }

    /// Imports a GeoJSON FeatureCollection of geofences, replacing those with the same kind and name;
    /// returns (created, replaced).
    pub async fn import_geofences(&self, text: &str, now: Timestamp) -> Result<(u64, u64)> {
        let fences = tianshu_rules::fences::parse_geojson(text).map_err(|e| invalid(e.to_string()))?;
        let change = work(move |tx| Box::pin(async move { put_fences(tx, &fences, now).await }));
        self.db.write(change).await
    }

    /// Stores a new geofence; a fence of the same kind and name is [`Error::Conflict`], a depot whose
    /// unit is not registered [`Error::Invalid`].
    pub async fn create_geofence(
        &self,
        fence: &Geofence,
        now: Timestamp,
        audit: Option<Audit<FenceWrite>>,
    ) -> Result<FenceWrite> {
        let fence = fence.clone();
        let change = work(move |tx| Box::pin(async move { write_fence(tx, None, &fence, now).await }));
        self.db.change(audit, change).await
    }

    /// Replaces the geofence `id`: unknown is [`Error::NotFound`], a kind and name taken by another
    /// fence [`Error::Conflict`].
    pub async fn replace_geofence(
        &self,
        id: i64,
        fence: &Geofence,
        now: Timestamp,
        audit: Option<Audit<FenceWrite>>,
    ) -> Result<FenceWrite> {
        let fence = fence.clone();
        let change = work(move |tx| Box::pin(async move { write_fence(tx, Some(id), &fence, now).await }));
        self.db.change(audit, change).await
    }

    /// Deletes the geofence `id`; unknown is [`Error::NotFound`].
    pub async fn delete_geofence(&self, id: i64, now: Timestamp, audit: Option<Audit<i64>>) -> Result<i64> {
        let change = work(move |tx| Box::pin(async move { delete_fence(tx, id, now).await }));
        self.db.change(audit, change).await
    }

    /// Imports a JSON Lines file of orders and filings, updating those with a known id. Every plate
    /// must be registered; every bad line is named.
    pub async fn import_orders(&self, text: &str, now: Timestamp) -> Result<OrderImportSummary> {
        let orders = tianshu_rules::orders::parse_jsonl(text).map_err(|errs| {
            invalid(
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, _)| i + 1);
        let orders: Vec<(usize, Order)> = lines.zip(orders).collect();
        let change = work(move |tx| Box::pin(async move { put_orders(tx, &orders, now).await }));
        self.db.write(change).await
    }

    /// Stores a new order or filing; a known id is [`Error::Conflict`], an invalid order or an
    /// unregistered plate [`Error::Invalid`].
    pub async fn create_order(
        &self,
        order: &Order,
        now: Timestamp,
        audit: Option<Audit<StoredOrder>>,
    ) -> Result<StoredOrder> {
        let order = order.clone();
        let change = work(move |tx| Box::pin(async move { create_order(tx, &order, now).await }));
        self.db.change(audit, change).await
    }

    /// Moves the order `id` to state `to`, checked against its stored state under a row lock. With a
    /// `version` (the `updated` stamp the caller read), an order written since is [`Error::Conflict`];
    /// a step its state does not allow is [`Error::Conflict`] too.
    pub async fn change_order_state(
        &self,
        id: &str,
        version: Option<i64>,
        to: OrderState,
        now: Timestamp,
        audit: Option<Audit<OrderChange>>,
    ) -> Result<OrderChange> {
        let id = id.to_string();
        let change =
            work(move |tx| Box::pin(async move { change_order_state(tx, &id, version, to, now).await }));
        self.db.change(audit, change).await
    }

    /// Imports a TOML file of `[[unit_timetables]]` (the shape of `[[rules.unit_timetables]]` in the
    /// configuration), replacing the stored timetables of the units it names. Every unit must be
    /// registered. Returns (created, replaced).
    pub async fn import_unit_timetables(&self, text: &str, now: Timestamp) -> Result<(u64, u64)> {
        let text = text.to_string();
        let change = work(move |tx| Box::pin(async move { import_timetables(tx, &text, now).await }));
        self.db.write(change).await
    }

    /// Replaces the working hours of `unit` (checked as a configured timetable is); an unknown unit is
    /// [`Error::NotFound`].
    pub async fn put_unit_timetable(
        &self,
        unit: UnitId,
        body: &UnitTimetableBody,
        now: Timestamp,
        audit: Option<Audit<TimetableWrite>>,
    ) -> Result<TimetableWrite> {
        body.validate().map_err(invalid)?;
        let rows = vec![(unit, body.clone())];
        let change = work(move |tx| {
            Box::pin(async move {
                let mut written = put_timetables(tx, &rows, now).await?;
                written
                    .pop()
                    .ok_or_else(|| Error::Corrupt("no timetable written".into()))
            })
        });
        self.db.change(audit, change).await
    }

    /// Deletes the timetable of `unit`; none is [`Error::NotFound`].
    pub async fn delete_unit_timetable(
        &self,
        unit: UnitId,
        now: Timestamp,
        audit: Option<Audit<UnitId>>,
    ) -> Result<UnitId> {
        let change = work(move |tx| Box::pin(async move { delete_timetable(tx, unit, now).await }));
        self.db.change(audit, change).await
    }

    /// Every stored calendar year, by year.
    pub async fn calendars(&self) -> Result<Vec<StoredCalendar>> {
        self.db
            .read(work(|tx| {
                Box::pin(async move {
                    let sql = "SELECT year, source, updated_ms FROM rules_calendars ORDER BY year";
                    let rows = tx.query(sql, &[]).await?;
                    rows.iter()
                        .map(|r| {
                            Ok(StoredCalendar {
                                year: i32::try_from(r.int(0)?)
                                    .map_err(|_| Error::Corrupt("calendar year".into()))?,
                                source: r.text(1)?,
                                updated: Timestamp(r.int(2)?),
                            })
                        })
                        .collect()
                })
            }))
            .await
    }

    /// Every geofence with its id, by id.
    pub async fn geofences_with_ids(&self) -> Result<Vec<(i64, StoredFence)>> {
        self.db
            .read(work(|tx| {
                Box::pin(async move {
                    let sql = format!("SELECT {FENCE_COLS} FROM rules_geofences ORDER BY id");
                    tx.query(&sql, &[]).await?.iter().map(to_fence).collect()
                })
            }))
            .await
    }

    /// Every geofence, by id.
    pub async fn geofences(&self) -> Result<Vec<StoredFence>> {
        let fences = self.geofences_with_ids().await?;
        Ok(fences.into_iter().map(|(_, f)| f).collect())
    }

    /// Every order and filing, by start.
    pub async fn orders(&self) -> Result<Vec<StoredOrder>> {
        self.orders_updated_after(Timestamp(i64::MIN)).await
    }

    /// Orders and filings written after the reference stamp `after`, by start.
    pub async fn orders_updated_after(&self, after: Timestamp) -> Result<Vec<StoredOrder>> {
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {ORDER_COLS} FROM rules_orders WHERE updated_ms > $1 ORDER BY start_ms, id"
                    );
                    tx.query(&sql, params![after])
                        .await?
                        .iter()
                        .map(to_order)
                        .collect()
                })
            }))
            .await
    }

    /// One order or filing.
    pub async fn order(&self, id: &str) -> Result<Option<StoredOrder>> {
        let id = id.to_string();
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let sql = format!("SELECT {ORDER_COLS} FROM rules_orders WHERE id = $1");
                    tx.opt(&sql, params![id])
                        .await?
                        .as_ref()
                        .map(to_order)
                        .transpose()
                })
            }))
            .await
    }

    /// Every stored unit timetable, by unit id.
    pub async fn unit_timetables(&self) -> Result<Vec<StoredUnitTimetable>> {
        self.db
            .read(work(|tx| {
                Box::pin(async move {
                    let sql = "SELECT unit_id, body, updated_ms FROM rules_unit_timetables ORDER BY unit_id";
                    let rows = tx.query(sql, &[]).await?;
                    rows.iter()
                        .map(|r| {
                            Ok(StoredUnitTimetable {
                                unit: UnitId(r.int(0)?),
                                body: parse_json(&r.text(1)?)?,
                                updated: Timestamp(r.int(2)?),
                            })
                        })
                        .collect()
                })
            }))
            .await
    }

    /// The latest change to any reference data, for reloads: the largest update time of calendars,
    /// geofences and orders, and the reference stamp, which every write moves (registry edits and
    /// deletions included, which no stored row shows). A reader that has seen stamp S has seen every
    /// write stamped S or lower.
    pub async fn reference_stamp(&self) -> Result<Timestamp> {
        self.db
            .read(work(|tx| {
                Box::pin(async move {
                    let row = tx
                        .opt(
                            "SELECT MAX(m) FROM (SELECT MAX(updated_ms) AS m FROM rules_calendars \
                             UNION ALL SELECT MAX(updated_ms) FROM rules_geofences \
                             UNION ALL SELECT MAX(updated_ms) FROM rules_orders \
                             UNION ALL SELECT stamp_ms FROM rules_reference_changes) AS s",
                            &[],
                        )
                        .await?;
                    Ok(Timestamp(match row {
                        Some(r) => r.opt_int(0)?.unwrap_or(0),
                        None => 0,
                    }))
                })
            }))
            .await
    }
}

impl Store {
    /// The rules' reference data of this store.
    pub fn rules(&self) -> ReferenceData<'_> {
        ReferenceData { db: self.db() }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_keys_are_stable_and_tell_names_apart() {
        assert_eq!(
            super::lock_key("rules_geofences/depot/a"),
            super::lock_key("rules_geofences/depot/a")
        );
        assert_ne!(
            super::lock_key("rules_geofences/depot/a"),
            super::lock_key("rules_geofences/depot/b")
        );
        assert_eq!(super::lock_key(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
    }
}

//! The writes and row decoding of the reference area, each an `async fn` over [`Tx`] run in the
//! caller's transaction (see the module above for the invariants they keep).

use std::collections::HashSet;

use serde::Serialize;
use tianshu_model::{Timestamp, Unit, UnitId};
use tianshu_rules::calendar::YearCalendar;
use tianshu_rules::orders::{Order, OrderState, UnitSettings};
use tianshu_rules::timetable::{UnitTimetableBody, resolve_units};
use tianshu_rules::workflow::OrderRefused;
use tianshu_rules::{Geofence, unit_paths};

use super::{
    CalendarWrite, FenceWrite, OrderChange, OrderImportSummary, StoredFence, StoredOrder,
    StoredUnitTimetable, TimetableWrite,
};
use crate::registry::{UNITS_SQL, to_unit};
use crate::rules::parse_json;
use crate::sql::{Row, Tx, params};
use crate::stamp::next_stamp;
use crate::{Error, Result};

/// The columns [`to_order`] reads.
pub(crate) const ORDER_COLS: &str = "id, plate, kind, state, start_ms, end_ms, body, updated_ms";
/// The columns [`to_fence`] reads.
pub(super) const FENCE_COLS: &str = "id, kind, name, body, updated_ms";

/// Refuses an input with every problem found in it, one per line.
pub(super) fn refuse_if_any(errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(errors.join("\n")))
    }
}

pub(super) fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::invalid(format!("JSON: {e}")))
}

pub(super) fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::invalid(format!("JSON: {e}")))
}

/// A stable key for [`Tx::lock`] from a name (FNV-1a): the same in every process and on every run.
pub(super) fn lock_key(name: &str) -> i64 {
    tianshu_model::fnv1a64(name.as_bytes()) as i64
}

pub(crate) fn to_order(r: &Row) -> Result<StoredOrder> {
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

pub(super) fn to_fence(r: &Row) -> Result<(i64, StoredFence)> {
    let fence = StoredFence {
        kind: r.text(1)?,
        name: r.text(2)?,
        body: parse_json(&r.text(3)?)?,
        updated: Timestamp(r.int(4)?),
    };
    Ok((r.int(0)?, fence))
}

/// Every unit of the registry (for their paths).
pub(super) async fn units(tx: &mut dyn Tx) -> Result<Vec<Unit>> {
    let rows = tx.query(UNITS_SQL, &[]).await?;
    rows.iter().map(to_unit).collect()
}

/// Every registered plate.
pub(super) async fn plates(tx: &mut dyn Tx) -> Result<HashSet<String>> {
    let rows = tx.query("SELECT plate FROM vehicles", &[]).await?;
    rows.iter().map(|r| r.text(0)).collect()
}

pub(super) async fn put_calendar(tx: &mut dyn Tx, text: &str, now: Timestamp) -> Result<CalendarWrite> {
    let calendar = YearCalendar::parse_toml(text).map_err(|e| Error::invalid(e.to_string()))?;
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
pub(super) async fn lock_fence_name(tx: &mut dyn Tx, f: &StoredFence) -> Result<()> {
    tx.lock(lock_key(&format!("rules_geofences/{}/{}", f.kind, f.name)))
        .await
}

/// The id of the fence holding (kind, name), if any.
pub(super) async fn fence_named(tx: &mut dyn Tx, f: &StoredFence) -> Result<Option<i64>> {
    let row = tx
        .opt(
            "SELECT id FROM rules_geofences WHERE kind = $1 AND name = $2",
            params![&f.kind, &f.name],
        )
        .await?;
    row.map(|r| r.int(0)).transpose()
}

pub(super) async fn put_fences(tx: &mut dyn Tx, fences: &[Geofence], now: Timestamp) -> Result<(u64, u64)> {
    let (mut created, mut replaced) = (0, 0);
    for f in fences {
        let row = f.stored(now).map_err(Error::invalid)?;
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
pub(super) async fn write_fence(
    tx: &mut dyn Tx,
    id: Option<i64>,
    f: &Geofence,
    now: Timestamp,
) -> Result<FenceWrite> {
    if let Some(path) = &f.unit
        && !unit_paths(&units(tx).await?).values().any(|p| p == path)
    {
        return Err(Error::invalid(format!(
            "properties.unit: there is no unit {path:?}"
        )));
    }
    let fence = f.stored(now).map_err(Error::invalid)?;
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

pub(super) async fn delete_fence(tx: &mut dyn Tx, id: i64, now: Timestamp) -> Result<i64> {
    let n = tx
        .execute("DELETE FROM rules_geofences WHERE id = $1", params![id])
        .await?;
    if n == 0 {
        return Err(Error::NotFound(format!("geofence {id}")));
    }
    next_stamp(tx, now).await?;
    Ok(id)
}

/// Writes an order row, replacing the one with its id, or with `replace` false only when there is none;
/// whether it was written.
pub(crate) async fn write_order(tx: &mut dyn Tx, o: &StoredOrder, replace: bool) -> Result<bool> {
    let on_conflict = if replace {
        "DO UPDATE SET plate = excluded.plate, kind = excluded.kind, state = excluded.state, \
         start_ms = excluded.start_ms, end_ms = excluded.end_ms, body = excluded.body, \
         updated_ms = excluded.updated_ms"
    } else {
        "DO NOTHING"
    };
    let sql = format!(
        "INSERT INTO rules_orders ({ORDER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) {on_conflict} RETURNING id"
    );
    let (body, (start, end, updated)) = (json_text(&o.body)?, (o.start, o.end, o.updated));
    let params = params![&o.id, &o.plate, &o.kind, &o.state, start, end, body, updated];
    Ok(tx.opt(&sql, params).await?.is_some())
}

/// The stored order `id`, locked until the transaction ends.
pub(super) async fn locked_order(tx: &mut dyn Tx, id: &str) -> Result<Option<StoredOrder>> {
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
pub(super) async fn put_orders(
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
        let row = o.stored(stamp).map_err(Error::invalid)?;
        match locked_order(tx, &o.id).await? {
            Some(old) if old.body == row.body => {
                s.unchanged += 1;
                continue;
            }
            Some(_) => s.updated += 1,
            None => s.created += 1,
        }
        s.changed_ids.push(o.id.clone());
        write_order(tx, &row, true).await?;
    }
    Ok(s)
}

/// The stored settings `body` of a unit, or the defaults.
pub(super) fn settings(body: Option<&str>) -> Result<UnitSettings> {
    body.map_or(Ok(UnitSettings::default()), |b| {
        serde_json::from_str(b).map_err(|e| Error::Corrupt(format!("unit settings: {e}")))
    })
}

/// The settings of the unit of the car with `plate`.
pub(crate) async fn settings_of_car(tx: &mut dyn Tx, plate: &str) -> Result<UnitSettings> {
    let sql =
        "SELECT s.body FROM vehicles v JOIN rules_unit_settings s ON s.unit_id = v.unit WHERE v.plate = $1";
    let row = tx.opt(sql, params![plate]).await?;
    settings(row.map(|r| r.text(0)).transpose()?.as_deref())
}

pub(super) async fn put_unit_settings(
    tx: &mut dyn Tx,
    unit: UnitId,
    s: UnitSettings,
    now: Timestamp,
) -> Result<(UnitId, UnitSettings)> {
    lock_unit(tx, unit).await?;
    tx.execute(
        "INSERT INTO rules_unit_settings (unit_id, body, updated_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (unit_id) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
        params![unit.0, json_text(&to_json(&s)?)?, now],
    )
    .await?;
    next_stamp(tx, now).await?;
    Ok((unit, s))
}

pub(super) async fn create_order(
    tx: &mut dyn Tx,
    mut o: Order,
    by: String,
    now: Timestamp,
) -> Result<StoredOrder> {
    o.validate().map_err(Error::invalid)?;
    let stamp = Timestamp(next_stamp(tx, now).await?);
    if !plates(tx).await?.contains(o.plate.trim()) {
        return Err(Error::invalid(format!(
            "plate: {:?} is not in the registry",
            o.plate.trim()
        )));
    }
    let settings = settings_of_car(tx, o.plate.trim()).await?;
    o.file(&by, now, settings)
        .map_err(|e| Error::Forbidden(e.to_string()))?;
    let row = o.stored(stamp).map_err(Error::invalid)?;
    match write_order(tx, &row, false).await? {
        true => Ok(row),
        false => Err(Error::Conflict(format!(
            "order {:?} already exists; change its state with PATCH",
            o.id
        ))),
    }
}

pub(super) async fn change_order_state(
    tx: &mut dyn Tx,
    id: String,
    version: Option<i64>,
    to: OrderState,
    by: String,
    now: Timestamp,
) -> Result<OrderChange> {
    let id = id.as_str();
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
    let settings = settings_of_car(tx, order.plate.trim()).await?;
    let before = order.step(to, &by, now, settings).map_err(|e| match e {
        OrderRefused::Transition(e) => Error::Conflict(format!("order {id}: {e}")),
        OrderRefused::SecondPerson(e) => Error::Forbidden(e.to_string()),
    })?;
    let row = order.stored(stamp).map_err(Error::invalid)?;
    write_order(tx, &row, true).await?;
    Ok(OrderChange { before, order: row })
}

/// Locks a unit's registry row, so that a concurrent deletion of the unit waits for this write or
/// wins before it; an unknown unit is [`Error::NotFound`].
pub(super) async fn lock_unit(tx: &mut dyn Tx, unit: UnitId) -> Result<()> {
    let sql = format!("SELECT id FROM units WHERE id = $1{}", tx.row_lock());
    match tx.opt(&sql, params![unit.0]).await? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound(format!("unit {unit}"))),
    }
}

pub(super) async fn put_timetables(
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
pub(super) async fn import_timetables(tx: &mut dyn Tx, text: &str, now: Timestamp) -> Result<(u64, u64)> {
    let entries = tianshu_rules::timetable::parse_unit_timetables_toml(text)
        .map_err(|errors| Error::invalid(errors.join("\n")))?;
    let paths = unit_paths(&units(tx).await?);
    let rows = resolve_units(entries, &paths).map_err(|errors| Error::invalid(errors.join("\n")))?;
    let written = put_timetables(tx, &rows, now).await?;
    let created = written.iter().filter(|w| w.created).count() as u64;
    Ok((created, written.len() as u64 - created))
}

pub(super) async fn delete_timetable(tx: &mut dyn Tx, unit: UnitId, now: Timestamp) -> Result<UnitId> {
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

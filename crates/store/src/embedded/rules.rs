//! The rules area in the embedded store: reference data (alert cases and the outbox are `crate::cases`). Writes run on the
//! writer thread, each in one immediate transaction.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use tianshu_model::{Timestamp, UnitId};

use super::{EmbeddedBackend, db_error};
use crate::rules::{
    OrderImportSummary, RulesStore, StoredCalendar, StoredFence, StoredOrder, StoredUnitTimetable, parse_json,
};
use crate::{Error, Result};

const ORDER_COLS: &str = "id, plate, kind, state, start_ms, end_ms, body, updated_ms";
type OrderRow = (String, String, String, String, i64, i64, String, i64);

fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn to_order(r: OrderRow) -> Result<StoredOrder> {
    Ok(StoredOrder {
        id: r.0,
        plate: r.1,
        kind: r.2,
        state: r.3,
        start: Timestamp(r.4),
        end: Timestamp(r.5),
        body: parse_json(&r.6)?,
        updated: Timestamp(r.7),
    })
}

fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid {
        line: None,
        reason: format!("JSON: {e}"),
    })
}

#[async_trait]
impl RulesStore for EmbeddedBackend {
    async fn put_calendar(&self, year: i32, source: &str, now: Timestamp) -> Result<bool> {
        let source = source.to_string();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let existed: bool = tx
                .query_row(
                    "SELECT 1 FROM rules_calendars WHERE year = ?1",
                    params![year],
                    |_| Ok(true),
                )
                .optional()
                .map_err(db_error)?
                .unwrap_or(false);
            tx.execute(
                "INSERT INTO rules_calendars (year, source, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (year) DO UPDATE SET source = excluded.source, updated_ms = excluded.updated_ms",
                params![year, source, now.0],
            )
            .map_err(db_error)?;
            next_stamp(&tx, now)?;
            tx.commit().map_err(db_error)?;
            Ok(existed)
        })
        .await
    }

    async fn calendars(&self) -> Result<Vec<StoredCalendar>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT year, source, updated_ms FROM rules_calendars ORDER BY year")
                .map_err(db_error)?;
            let rows = st
                .query_map([], |r| {
                    Ok(StoredCalendar {
                        year: r.get(0)?,
                        source: r.get(1)?,
                        updated: Timestamp(r.get(2)?),
                    })
                })
                .map_err(db_error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_error)
        })
        .await
    }

    async fn put_geofences(&self, fences: &[StoredFence], now: Timestamp) -> Result<(u64, u64)> {
        let rows: Vec<(String, String, String)> = fences
            .iter()
            .map(|f| Ok((f.kind.clone(), f.name.clone(), json_text(&f.body)?)))
            .collect::<Result<_>>()?;
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let (mut created, mut replaced) = (0, 0);
            for (kind, name, body) in &rows {
                let existed = tx
                    .query_row("SELECT 1 FROM rules_geofences WHERE kind = ?1 AND name = ?2", params![kind, name], |_| {
                        Ok(())
                    })
                    .optional()
                    .map_err(db_error)?
                    .is_some();
                tx.execute(
                    "INSERT INTO rules_geofences (kind, name, body, updated_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
                    params![kind, name, body, now.0],
                )
                .map_err(db_error)?;
                if existed {
                    replaced += 1;
                } else {
                    created += 1;
                }
            }
            next_stamp(&tx, now)?;
            tx.commit().map_err(db_error)?;
            Ok((created, replaced))
        })
        .await
    }

    async fn geofences(&self) -> Result<Vec<StoredFence>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT kind, name, body, updated_ms FROM rules_geofences ORDER BY id")
                .map_err(db_error)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get(3)?,
                    ))
                })
                .map_err(db_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (kind, name, body, updated) = row.map_err(db_error)?;
                out.push(StoredFence {
                    kind,
                    name,
                    body: parse_json(&body)?,
                    updated: Timestamp(updated),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn put_orders(&self, orders: &[StoredOrder], now: Timestamp) -> Result<OrderImportSummary> {
        let rows: Vec<(StoredOrder, String)> = orders
            .iter()
            .map(|o| Ok((o.clone(), json_text(&o.body)?)))
            .collect::<Result<_>>()?;
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let stamp = next_stamp(&tx, now)?;
            let mut s = OrderImportSummary::default();
            for (o, body) in &rows {
                let old: Option<String> = tx
                    .query_row(
                        "SELECT body FROM rules_orders WHERE id = ?1",
                        params![o.id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_error)?;
                match old {
                    Some(b) if parse_json(&b).ok().as_ref() == Some(&o.body) => {
                        s.unchanged += 1;
                        continue;
                    }
                    Some(_) => s.updated += 1,
                    None => s.created += 1,
                }
                s.changed_ids.push(o.id.clone());
                tx.execute(
                    "INSERT INTO rules_orders (id, plate, kind, state, start_ms, end_ms, body, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET plate = excluded.plate, kind = excluded.kind,
                       state = excluded.state, start_ms = excluded.start_ms, end_ms = excluded.end_ms,
                       body = excluded.body, updated_ms = excluded.updated_ms",
                    params![o.id, o.plate, o.kind, o.state, o.start.0, o.end.0, body, stamp],
                )
                .map_err(db_error)?;
            }
            tx.commit().map_err(db_error)?;
            Ok(s)
        })
        .await
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>> {
        self.orders_updated_after(Timestamp(i64::MIN)).await
    }

    async fn orders_updated_after(&self, after: Timestamp) -> Result<Vec<StoredOrder>> {
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {ORDER_COLS} FROM rules_orders WHERE updated_ms > ?1 ORDER BY start_ms, id"
                ))
                .map_err(db_error)?;
            let rows = st.query_map(params![after.0], order_row).map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(to_order)).collect()
        })
        .await
    }

    async fn reference_stamp(&self) -> Result<Timestamp> {
        self.read(|c| {
            c.query_row(
                "SELECT MAX(m) FROM (SELECT MAX(updated_ms) AS m FROM rules_calendars
                 UNION ALL SELECT MAX(updated_ms) FROM rules_geofences UNION ALL SELECT MAX(updated_ms) FROM rules_orders
                 UNION ALL SELECT stamp_ms FROM rules_reference_changes)",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|m| Timestamp(m.unwrap_or(0)))
            .map_err(db_error)
        })
        .await
    }

    async fn unit_timetables(&self) -> Result<Vec<StoredUnitTimetable>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT unit_id, body, updated_ms FROM rules_unit_timetables ORDER BY unit_id")
                .map_err(db_error)?;
            let rows = st
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(db_error)?;
            rows.map(|r| {
                let (unit, body, updated) = r.map_err(db_error)?;
                Ok(StoredUnitTimetable {
                    unit: UnitId(unit),
                    body: parse_json(&body)?,
                    updated: Timestamp(updated),
                })
            })
            .collect()
        })
        .await
    }

    async fn put_unit_timetables(
        &self,
        timetables: &[StoredUnitTimetable],
        now: Timestamp,
    ) -> Result<(u64, u64)> {
        let rows: Vec<(i64, String)> = timetables
            .iter()
            .map(|t| Ok((t.unit.0, json_text(&t.body)?)))
            .collect::<Result<_>>()?;
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let (mut created, mut replaced) = (0, 0);
            for (unit, body) in &rows {
                let known = tx
                    .query_row("SELECT 1 FROM units WHERE id = ?1", [unit], |_| Ok(()))
                    .optional()
                    .map_err(db_error)?
                    .is_some();
                if !known {
                    return Err(Error::NotFound(format!("unit {unit}")));
                }
                let existed = tx
                    .query_row("SELECT 1 FROM rules_unit_timetables WHERE unit_id = ?1", [unit], |_| Ok(()))
                    .optional()
                    .map_err(db_error)?
                    .is_some();
                tx.execute(
                    "INSERT INTO rules_unit_timetables (unit_id, body, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (unit_id) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
                    params![unit, body, now.0],
                )
                .map_err(db_error)?;
                if existed {
                    replaced += 1;
                } else {
                    created += 1;
                }
            }
            next_stamp(&tx, now)?;
            tx.commit().map_err(db_error)?;
            Ok((created, replaced))
        })
        .await
    }

    async fn delete_unit_timetable(&self, unit: UnitId, now: Timestamp) -> Result<()> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let n = tx
                .execute("DELETE FROM rules_unit_timetables WHERE unit_id = ?1", [unit.0])
                .map_err(db_error)?;
            if n == 0 {
                return Err(Error::NotFound(format!("timetable of unit {unit}")));
            }
            next_stamp(&tx, now)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn geofences_with_ids(&self) -> Result<Vec<(i64, StoredFence)>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT id, kind, name, body, updated_ms FROM rules_geofences ORDER BY id")
                .map_err(db_error)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .map_err(db_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, kind, name, body, updated) = row.map_err(db_error)?;
                out.push((
                    id,
                    StoredFence {
                        kind,
                        name,
                        body: parse_json(&body)?,
                        updated: Timestamp(updated),
                    },
                ));
            }
            Ok(out)
        })
        .await
    }

    async fn create_geofence(&self, fence: &StoredFence, now: Timestamp) -> Result<i64> {
        let (kind, name, body) = (fence.kind.clone(), fence.name.clone(), json_text(&fence.body)?);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            fence_name_free(&tx, &kind, &name, None)?;
            let id = tx
                .query_row(
                    "INSERT INTO rules_geofences (kind, name, body, updated_ms) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                    params![kind, name, body, now.0],
                    |r| r.get(0),
                )
                .map_err(db_error)?;
            next_stamp(&tx, now)?;
            tx.commit().map_err(db_error)?;
            Ok(id)
        })
        .await
    }

    async fn replace_geofence(&self, id: i64, fence: &StoredFence, now: Timestamp) -> Result<()> {
        let (kind, name, body) = (fence.kind.clone(), fence.name.clone(), json_text(&fence.body)?);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let exists = tx
                .query_row("SELECT 1 FROM rules_geofences WHERE id = ?1", [id], |_| Ok(()))
                .optional()
                .map_err(db_error)?
                .is_some();
            if !exists {
                return Err(Error::NotFound(format!("geofence {id}")));
            }
            fence_name_free(&tx, &kind, &name, Some(id))?;
            let n = tx
                .execute(
                    "UPDATE rules_geofences SET kind = ?2, name = ?3, body = ?4, updated_ms = ?5 WHERE id = ?1",
                    params![id, kind, name, body, now.0],
                )
                .map_err(db_error)?;
            if n == 0 {
                return Err(Error::NotFound(format!("geofence {id}")));
            }
            next_stamp(&tx, now)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn delete_geofence(&self, id: i64, now: Timestamp) -> Result<()> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let n = tx
                .execute("DELETE FROM rules_geofences WHERE id = ?1", [id])
                .map_err(db_error)?;
            if n == 0 {
                return Err(Error::NotFound(format!("geofence {id}")));
            }
            next_stamp(&tx, now)?;
            tx.commit().map_err(db_error)
        })
        .await
    }
}

/// The stamp of a write of rules reference data: past `now` and past every earlier write's (writes are
/// serialized here). Orders take it as their `updated_ms`, so `orders_updated_after(S)` misses no order
/// written after a reader saw stamp S, even within the same millisecond; every write moves
/// `reference_stamp`.
pub(super) fn next_stamp(tx: &rusqlite::Transaction<'_>, now: Timestamp) -> Result<i64> {
    tx.query_row(
        "UPDATE rules_reference_changes SET stamp_ms = MAX(stamp_ms + 1, ?1) WHERE id = 1 RETURNING stamp_ms",
        [now.0],
        |r| r.get(0),
    )
    .map_err(db_error)
}

/// Refuses a (kind, name) held by a fence other than `except`.
fn fence_name_free(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    name: &str,
    except: Option<i64>,
) -> Result<()> {
    let other: Option<i64> = tx
        .query_row(
            "SELECT id FROM rules_geofences WHERE kind = ?1 AND name = ?2",
            params![kind, name],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    match other {
        Some(o) if Some(o) != except => Err(Error::Conflict(format!(
            "{kind} {name:?} already exists (geofence {o})"
        ))),
        _ => Ok(()),
    }
}

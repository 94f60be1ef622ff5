//! The rules area in PostgreSQL: reference data (alert cases and the outbox are `crate::cases`).

use async_trait::async_trait;
use tianshu_model::{Timestamp, UnitId};

use super::PostgresBackend;
use crate::rules::{
    OrderImportSummary, RulesStore, StoredCalendar, StoredFence, StoredOrder, StoredUnitTimetable, parse_json,
};
use crate::{Error, Result};

const ORDER_COLS: &str = "id, plate, kind, state, start_ms, end_ms, body, updated_ms";
fn db_err(e: tokio_postgres::Error) -> Error {
    Error::Unavailable(format!("postgres: {e}"))
}

fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid {
        line: None,
        reason: format!("JSON: {e}"),
    })
}

fn to_order(r: &tokio_postgres::Row) -> Result<StoredOrder> {
    Ok(StoredOrder {
        id: r.get(0),
        plate: r.get(1),
        kind: r.get(2),
        state: r.get(3),
        start: Timestamp(r.get(4)),
        end: Timestamp(r.get(5)),
        body: parse_json(r.get(6))?,
        updated: Timestamp(r.get(7)),
    })
}

#[async_trait]
impl RulesStore for PostgresBackend {
    async fn put_calendar(&self, year: i32, source: &str, now: Timestamp) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let row = tx
            .query_one(
                "INSERT INTO rules_calendars (year, source, updated_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (year) DO UPDATE SET source = EXCLUDED.source, updated_ms = EXCLUDED.updated_ms
                 RETURNING (xmax <> 0)",
                &[&year, &source, &now.0],
            )
            .await
            .map_err(db_err)?;
        next_stamp(&tx, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.get(0))
    }

    async fn calendars(&self) -> Result<Vec<StoredCalendar>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT year, source, updated_ms FROM rules_calendars ORDER BY year",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| StoredCalendar {
                year: r.get(0),
                source: r.get(1),
                updated: Timestamp(r.get(2)),
            })
            .collect())
    }

    async fn put_geofences(&self, fences: &[StoredFence], now: Timestamp) -> Result<(u64, u64)> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let (mut created, mut replaced) = (0, 0);
        for f in fences {
            let body = json_text(&f.body)?;
            let row = tx
                .query_one(
                    "INSERT INTO rules_geofences (kind, name, body, updated_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (kind, name) DO UPDATE SET body = EXCLUDED.body, updated_ms = EXCLUDED.updated_ms
                     RETURNING (xmax <> 0)",
                    &[&f.kind, &f.name, &body, &now.0],
                )
                .await
                .map_err(db_err)?;
            if row.get::<_, bool>(0) {
                replaced += 1;
            } else {
                created += 1;
            }
        }
        next_stamp(&tx, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok((created, replaced))
    }

    async fn geofences(&self) -> Result<Vec<StoredFence>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT kind, name, body, updated_ms FROM rules_geofences ORDER BY id",
                &[],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredFence {
                    kind: r.get(0),
                    name: r.get(1),
                    body: parse_json(r.get(2))?,
                    updated: Timestamp(r.get(3)),
                })
            })
            .collect()
    }

    async fn put_orders(&self, orders: &[StoredOrder], now: Timestamp) -> Result<OrderImportSummary> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let stamp = next_stamp(&tx, now).await?;
        let mut s = OrderImportSummary::default();
        for o in orders {
            let old = tx
                .query_opt("SELECT body FROM rules_orders WHERE id = $1 FOR UPDATE", &[&o.id])
                .await
                .map_err(db_err)?;
            match old {
                Some(r) if parse_json(r.get(0)).ok().as_ref() == Some(&o.body) => {
                    s.unchanged += 1;
                    continue;
                }
                Some(_) => s.updated += 1,
                None => s.created += 1,
            }
            s.changed_ids.push(o.id.clone());
            let body = json_text(&o.body)?;
            tx.execute(
                "INSERT INTO rules_orders (id, plate, kind, state, start_ms, end_ms, body, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET plate = EXCLUDED.plate, kind = EXCLUDED.kind,
                   state = EXCLUDED.state, start_ms = EXCLUDED.start_ms, end_ms = EXCLUDED.end_ms,
                   body = EXCLUDED.body, updated_ms = EXCLUDED.updated_ms",
                &[
                    &o.id, &o.plate, &o.kind, &o.state, &o.start.0, &o.end.0, &body, &stamp,
                ],
            )
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(s)
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>> {
        self.orders_updated_after(Timestamp(i64::MIN)).await
    }

    async fn orders_updated_after(&self, after: Timestamp) -> Result<Vec<StoredOrder>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {ORDER_COLS} FROM rules_orders WHERE updated_ms > $1 ORDER BY start_ms, id"),
                &[&after.0],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(to_order).collect()
    }

    async fn reference_stamp(&self) -> Result<Timestamp> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT GREATEST((SELECT MAX(updated_ms) FROM rules_calendars),
                   (SELECT MAX(updated_ms) FROM rules_geofences), (SELECT MAX(updated_ms) FROM rules_orders),
                   (SELECT stamp_ms FROM rules_reference_changes WHERE id = 1))",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(Timestamp(row.get::<_, Option<i64>>(0).unwrap_or(0)))
    }

    async fn unit_timetables(&self) -> Result<Vec<StoredUnitTimetable>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT unit_id, body, updated_ms FROM rules_unit_timetables ORDER BY unit_id",
                &[],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredUnitTimetable {
                    unit: UnitId(r.get(0)),
                    body: parse_json(r.get(1))?,
                    updated: Timestamp(r.get(2)),
                })
            })
            .collect()
    }

    async fn put_unit_timetables(
        &self,
        timetables: &[StoredUnitTimetable],
        now: Timestamp,
    ) -> Result<(u64, u64)> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let (mut created, mut replaced) = (0, 0);
        for t in timetables {
            let body = json_text(&t.body)?;
            // Locks the unit row, so a concurrent unit deletion waits for this write or wins before it.
            if tx
                .query_opt("SELECT 1 FROM units WHERE id = $1 FOR SHARE", &[&t.unit.0])
                .await
                .map_err(db_err)?
                .is_none()
            {
                return Err(Error::NotFound(format!("unit {}", t.unit)));
            }
            let row = tx
                .query_one(
                    "INSERT INTO rules_unit_timetables (unit_id, body, updated_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (unit_id) DO UPDATE SET body = EXCLUDED.body, updated_ms = EXCLUDED.updated_ms
                     RETURNING (xmax <> 0)",
                    &[&t.unit.0, &body, &now.0],
                )
                .await
                .map_err(db_err)?;
            if row.get::<_, bool>(0) {
                replaced += 1;
            } else {
                created += 1;
            }
        }
        next_stamp(&tx, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok((created, replaced))
    }

    async fn delete_unit_timetable(&self, unit: UnitId, now: Timestamp) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let n = tx
            .execute("DELETE FROM rules_unit_timetables WHERE unit_id = $1", &[&unit.0])
            .await
            .map_err(db_err)?;
        if n == 0 {
            return Err(Error::NotFound(format!("timetable of unit {unit}")));
        }
        next_stamp(&tx, now).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn geofences_with_ids(&self) -> Result<Vec<(i64, StoredFence)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, kind, name, body, updated_ms FROM rules_geofences ORDER BY id",
                &[],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.get(0),
                    StoredFence {
                        kind: r.get(1),
                        name: r.get(2),
                        body: parse_json(r.get(3))?,
                        updated: Timestamp(r.get(4)),
                    },
                ))
            })
            .collect()
    }

    async fn create_geofence(&self, fence: &StoredFence, now: Timestamp) -> Result<i64> {
        let body = json_text(&fence.body)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        lock_fence_name(&tx, &fence.kind, &fence.name).await?;
        fence_name_free(&tx, &fence.kind, &fence.name, None).await?;
        let row = tx
            .query_one(
                "INSERT INTO rules_geofences (kind, name, body, updated_ms) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&fence.kind, &fence.name, &body, &now.0],
            )
            .await
            .map_err(db_err)?;
        next_stamp(&tx, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.get(0))
    }

    async fn replace_geofence(&self, id: i64, fence: &StoredFence, now: Timestamp) -> Result<()> {
        let body = json_text(&fence.body)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        lock_fence_name(&tx, &fence.kind, &fence.name).await?;
        if tx
            .query_opt("SELECT 1 FROM rules_geofences WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(db_err)?
            .is_none()
        {
            return Err(Error::NotFound(format!("geofence {id}")));
        }
        fence_name_free(&tx, &fence.kind, &fence.name, Some(id)).await?;
        let n = tx
            .execute(
                "UPDATE rules_geofences SET kind = $2, name = $3, body = $4, updated_ms = $5 WHERE id = $1",
                &[&id, &fence.kind, &fence.name, &body, &now.0],
            )
            .await
            .map_err(db_err)?;
        if n == 0 {
            return Err(Error::NotFound(format!("geofence {id}")));
        }
        next_stamp(&tx, now).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn delete_geofence(&self, id: i64, now: Timestamp) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let n = tx
            .execute("DELETE FROM rules_geofences WHERE id = $1", &[&id])
            .await
            .map_err(db_err)?;
        if n == 0 {
            return Err(Error::NotFound(format!("geofence {id}")));
        }
        next_stamp(&tx, now).await?;
        tx.commit().await.map_err(db_err)
    }
}

/// The stamp of a write of rules reference data: past `now` and past every earlier write's. Orders
/// take it as their `updated_ms` (the stamp is taken first there); other writes take it last, after
/// their own row locks, as registry edits do (they take it too: a unit edit moves what the rules
/// resolve). The update locks the one stamp row
/// until the transaction ends, so stamps are handed out in commit order: a reader that has seen stamp S
/// has seen every write stamped S or lower, so `orders_updated_after(S)` misses no order written later,
/// even within the same millisecond, and every write moves `reference_stamp`.
pub(super) async fn next_stamp(tx: &deadpool_postgres::Transaction<'_>, now: Timestamp) -> Result<i64> {
    let row = tx
        .query_one(
            "UPDATE rules_reference_changes SET stamp_ms = GREATEST(stamp_ms + 1, $1) WHERE id = 1 \
             RETURNING stamp_ms",
            &[&now.0],
        )
        .await
        .map_err(db_err)?;
    Ok(row.get(0))
}

/// Serialises writers of one (kind, name), so that two creations cannot both pass the check.
async fn lock_fence_name(tx: &deadpool_postgres::Transaction<'_>, kind: &str, name: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("rules_geofences/{kind}/{name}")],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Refuses a (kind, name) held by a fence other than `except`.
async fn fence_name_free(
    tx: &deadpool_postgres::Transaction<'_>,
    kind: &str,
    name: &str,
    except: Option<i64>,
) -> Result<()> {
    let other = tx
        .query_opt(
            "SELECT id FROM rules_geofences WHERE kind = $1 AND name = $2",
            &[&kind, &name],
        )
        .await
        .map_err(db_err)?
        .map(|r| r.get::<_, i64>(0));
    match other {
        Some(o) if Some(o) != except => Err(Error::Conflict(format!(
            "{kind} {name:?} already exists (geofence {o})"
        ))),
        _ => Ok(()),
    }
}

//! The rules area in PostgreSQL: reference data, alert cases and the outbox. Case transitions lock the
//! case row (`FOR UPDATE`), so concurrent API instances apply one transition at a time.

use async_trait::async_trait;
use tianshu_model::{Timestamp, UnitId, VehicleId};
use tokio_postgres::types::ToSql;

use super::PostgresBackend;
use crate::rules::{
    AlertCase, CASE_ID_TOKEN, CaseEvent, CaseFilter, CaseState, Delivery, DeliveryOutcome, NewCase,
    NewDelivery, OrderImportSummary, RulesStore, StoredCalendar, StoredFence, StoredOrder,
    StoredUnitTimetable, Transition, parse_json, parse_state, states_sql, wrong_state,
};
use crate::{Error, Result};

const CASE_COLS: &str = "id, vehicle_id, unit_id, rule, start_ms, end_ms, severity, late, state, reasoning, \
                         reasoning_zh, episode, escalate_ms, created_ms, updated_ms";
const ORDER_COLS: &str = "id, plate, kind, state, start_ms, end_ms, body, updated_ms";
const DELIVERY_COLS: &str = "id, case_id, channel, recipient, payload, state, attempts, next_attempt_ms, last_error, created_ms, sent_ms";

fn db_err(e: tokio_postgres::Error) -> Error {
    Error::Unavailable(format!("postgres: {e}"))
}

fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid {
        line: None,
        reason: format!("JSON: {e}"),
    })
}

fn to_case(r: &tokio_postgres::Row) -> Result<AlertCase> {
    Ok(AlertCase {
        id: r.get(0),
        vehicle: VehicleId(r.get(1)),
        unit: UnitId(r.get(2)),
        rule: r.get(3),
        start: Timestamp(r.get(4)),
        end: r.get::<_, Option<i64>>(5).map(Timestamp),
        severity: r.get(6),
        late: r.get(7),
        state: parse_state(r.get(8))?,
        reasoning: r.get(9),
        reasoning_zh: r.get(10),
        episode: parse_json(r.get(11))?,
        escalate_at: r.get::<_, Option<i64>>(12).map(Timestamp),
        created: Timestamp(r.get(13)),
        updated: Timestamp(r.get(14)),
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

fn to_delivery(r: &tokio_postgres::Row) -> Delivery {
    Delivery {
        id: r.get(0),
        case_id: r.get(1),
        channel: r.get(2),
        recipient: r.get(3),
        payload: r.get(4),
        state: r.get(5),
        attempts: r.get::<_, i32>(6).max(0) as u32,
        next_attempt: Timestamp(r.get(7)),
        last_error: r.get(8),
        created: Timestamp(r.get(9)),
        sent: r.get::<_, Option<i64>>(10).map(Timestamp),
    }
}

async fn insert_deliveries(
    tx: &deadpool_postgres::Transaction<'_>,
    case_id: i64,
    ds: &[NewDelivery],
    now: i64,
) -> Result<()> {
    for d in ds {
        tx.execute(
            "INSERT INTO alert_outbox (case_id, channel, recipient, payload, state, attempts, next_attempt_ms, created_ms)
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            &[&case_id, &d.channel, &d.recipient, &d.payload.replace(CASE_ID_TOKEN, &case_id.to_string()), &now],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(())
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

    async fn record_case(
        &self,
        case: &NewCase,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> Result<(i64, bool)> {
        let episode = json_text(&case.episode)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let end = case.end.map(|t| t.0);
        let existing = tx
            .query_opt(
                "SELECT id FROM alert_cases WHERE vehicle_id = $1 AND rule = $2 AND start_ms = $3 FOR UPDATE",
                &[&case.vehicle.0, &case.rule, &case.start.0],
            )
            .await
            .map_err(db_err)?;
        let out = match existing {
            Some(r) => {
                let id: i64 = r.get(0);
                tx.execute(
                    "UPDATE alert_cases SET end_ms = $2, late = (late OR $3), reasoning = $4, reasoning_zh = $5,
                       episode = $6, updated_ms = $7 WHERE id = $1",
                    &[&id, &end, &case.late, &case.reasoning, &case.reasoning_zh, &episode, &now.0],
                )
                .await
                .map_err(db_err)?;
                (id, false)
            }
            None => {
                let escalate = case.escalate_at.map(|t| t.0);
                let row = tx
                    .query_one(
                        "INSERT INTO alert_cases (vehicle_id, unit_id, rule, start_ms, end_ms, severity, late, state,
                           reasoning, reasoning_zh, episode, escalate_ms, created_ms, updated_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $12, $12)
                         ON CONFLICT (vehicle_id, rule, start_ms) DO NOTHING RETURNING id",
                        &[
                            &case.vehicle.0,
                            &case.unit.0,
                            &case.rule,
                            &case.start.0,
                            &end,
                            &case.severity,
                            &case.late,
                            &case.reasoning,
                            &case.reasoning_zh,
                            &episode,
                            &escalate,
                            &now.0,
                        ],
                    )
                    .await
                    .map_err(db_err)?;
                let id: i64 = row.get(0);
                tx.execute(
                    "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES ($1, $2, 'system', 'opened', $3)",
                    &[&id, &now.0, &case.reasoning],
                )
                .await
                .map_err(db_err)?;
                insert_deliveries(&tx, id, deliveries, now.0).await?;
                (id, true)
            }
        };
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn case(&self, id: i64) -> Result<Option<AlertCase>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {CASE_COLS} FROM alert_cases WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(db_err)?
            .as_ref()
            .map(to_case)
            .transpose()
    }

    async fn cases(&self, f: &CaseFilter) -> Result<Vec<AlertCase>> {
        let client = self.client().await?;
        let mut wh: Vec<String> = Vec::new();
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let states: Vec<String> = f.states.iter().map(|s| s.as_str().to_string()).collect();
        if !states.is_empty() {
            args.push(Box::new(states));
            wh.push(format!("state = ANY(${})", args.len()));
        }
        if let Some(units) = &f.units {
            if units.is_empty() {
                return Ok(Vec::new());
            }
            args.push(Box::new(units.iter().map(|u| u.0).collect::<Vec<i64>>()));
            wh.push(format!("unit_id = ANY(${})", args.len()));
        }
        if let Some(v) = f.vehicle {
            args.push(Box::new(v.0));
            wh.push(format!("vehicle_id = ${}", args.len()));
        }
        if let Some(r) = &f.rule {
            args.push(Box::new(r.clone()));
            wh.push(format!("rule = ${}", args.len()));
        }
        if let Some(t) = f.from {
            args.push(Box::new(t.0));
            wh.push(format!("start_ms >= ${}", args.len()));
        }
        if let Some(t) = f.to {
            args.push(Box::new(t.0));
            wh.push(format!("start_ms < ${}", args.len()));
        }
        let where_sql = if wh.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wh.join(" AND "))
        };
        let limit = if f.limit == 0 { 100 } else { f.limit.min(10_000) };
        let sql = format!(
            "SELECT {CASE_COLS} FROM alert_cases {where_sql} ORDER BY start_ms DESC, id DESC LIMIT {limit} OFFSET {}",
            f.offset
        );
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| &**a as &(dyn ToSql + Sync)).collect();
        let rows = client.query(&sql, &params).await.map_err(db_err)?;
        rows.iter().map(to_case).collect()
    }

    async fn case_events(&self, id: i64) -> Result<Vec<CaseEvent>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT case_id, time_ms, actor, action, note FROM alert_case_events WHERE case_id = $1 ORDER BY id",
                &[&id],
            )
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| CaseEvent {
                case_id: r.get(0),
                time: Timestamp(r.get(1)),
                actor: r.get(2),
                action: r.get(3),
                note: r.get(4),
            })
            .collect())
    }

    async fn transition_case(&self, t: &Transition, now: Timestamp) -> Result<AlertCase> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let row = tx
            .query_opt(
                "SELECT state FROM alert_cases WHERE id = $1 FOR UPDATE",
                &[&t.case_id],
            )
            .await
            .map_err(db_err)?;
        let state: String = row
            .ok_or_else(|| Error::NotFound(format!("case {}", t.case_id)))?
            .get(0);
        if !t.from.iter().any(|s| s.as_str() == state) {
            return Err(wrong_state(t.case_id, &state, t));
        }
        let escalate = t.escalate_at.map(|x| x.0);
        tx.execute(
            "UPDATE alert_cases SET state = $2, escalate_ms = $3, updated_ms = $4 WHERE id = $1",
            &[&t.case_id, &t.to.as_str(), &escalate, &now.0],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES ($1, $2, $3, $4, $5)",
            &[&t.case_id, &now.0, &t.actor, &t.action, &t.note],
        )
        .await
        .map_err(db_err)?;
        insert_deliveries(&tx, t.case_id, &t.deliveries, now.0).await?;
        let row = tx
            .query_one(
                &format!("SELECT {CASE_COLS} FROM alert_cases WHERE id = $1"),
                &[&t.case_id],
            )
            .await
            .map_err(db_err)?;
        let case = to_case(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(case)
    }

    async fn due_escalations(&self, of: &[CaseState], now: Timestamp, limit: u32) -> Result<Vec<AlertCase>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CASE_COLS} FROM alert_cases WHERE state IN ({}) AND escalate_ms IS NOT NULL
                     AND escalate_ms <= $1 ORDER BY escalate_ms LIMIT $2",
                    states_sql(of)
                ),
                &[&now.0, &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(to_case).collect()
    }

    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<Delivery>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLS} FROM alert_outbox WHERE state = 'pending' AND next_attempt_ms <= $1
                     ORDER BY next_attempt_ms, id LIMIT $2"
                ),
                &[&now.0, &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(to_delivery).collect())
    }

    async fn delivery_attempted(&self, id: i64, outcome: &DeliveryOutcome, now: Timestamp) -> Result<()> {
        let client = self.client().await?;
        let n = match outcome {
            DeliveryOutcome::Sent => {
                client
                    .execute(
                        "UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, sent_ms = $2, last_error = NULL WHERE id = $1",
                        &[&id, &now.0],
                    )
                    .await
            }
            DeliveryOutcome::Retry { error, next_attempt } => {
                client
                    .execute(
                        "UPDATE alert_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_ms = $3 WHERE id = $1",
                        &[&id, error, &next_attempt.0],
                    )
                    .await
            }
            DeliveryOutcome::Failed { error } => {
                client
                    .execute(
                        "UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1",
                        &[&id, error],
                    )
                    .await
            }
        }
        .map_err(db_err)?;
        if n == 0 {
            return Err(Error::NotFound(format!("delivery {id}")));
        }
        Ok(())
    }

    async fn deliveries(&self, case_id: i64) -> Result<Vec<Delivery>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {DELIVERY_COLS} FROM alert_outbox WHERE case_id = $1 ORDER BY id"),
                &[&case_id],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(to_delivery).collect())
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

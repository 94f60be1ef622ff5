//! The rules area in the embedded store: reference data, alert cases and the outbox. Writes run on the
//! writer thread, each in one immediate transaction.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};
use tianshu_model::{Timestamp, UnitId, VehicleId};

use super::{EmbeddedBackend, db_error};
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

type CaseRow = (
    i64,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    String,
    bool,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    i64,
);

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
    ))
}

fn to_case(r: CaseRow) -> Result<AlertCase> {
    Ok(AlertCase {
        id: r.0,
        vehicle: VehicleId(r.1),
        unit: UnitId(r.2),
        rule: r.3,
        start: Timestamp(r.4),
        end: r.5.map(Timestamp),
        severity: r.6,
        late: r.7,
        state: parse_state(&r.8)?,
        reasoning: r.9,
        reasoning_zh: r.10,
        episode: parse_json(&r.11)?,
        escalate_at: r.12.map(Timestamp),
        created: Timestamp(r.13),
        updated: Timestamp(r.14),
    })
}

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

type DeliveryRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    u32,
    i64,
    Option<String>,
    i64,
    Option<i64>,
);

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn to_delivery(r: DeliveryRow) -> Delivery {
    Delivery {
        id: r.0,
        case_id: r.1,
        channel: r.2,
        recipient: r.3,
        payload: r.4,
        state: r.5,
        attempts: r.6,
        next_attempt: Timestamp(r.7),
        last_error: r.8,
        created: Timestamp(r.9),
        sent: r.10.map(Timestamp),
    }
}

fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid {
        line: None,
        reason: format!("JSON: {e}"),
    })
}

fn insert_deliveries(
    tx: &rusqlite::Transaction<'_>,
    case_id: i64,
    ds: &[NewDelivery],
    now: i64,
) -> Result<()> {
    for d in ds {
        tx.execute(
            "INSERT INTO alert_outbox (case_id, channel, recipient, payload, state, attempts, next_attempt_ms, created_ms)
             VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5)",
            params![case_id, d.channel, d.recipient, d.payload.replace(CASE_ID_TOKEN, &case_id.to_string()), now],
        )
        .map_err(db_error)?;
    }
    Ok(())
}

fn load_case(c: &rusqlite::Connection, id: i64) -> Result<Option<AlertCase>> {
    c.query_row(
        &format!("SELECT {CASE_COLS} FROM alert_cases WHERE id = ?1"),
        params![id],
        case_row,
    )
    .optional()
    .map_err(db_error)?
    .map(to_case)
    .transpose()
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

    async fn record_case(
        &self,
        case: &NewCase,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> Result<(i64, bool)> {
        let case = case.clone();
        let episode = json_text(&case.episode)?;
        let deliveries = deliveries.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM alert_cases WHERE vehicle_id = ?1 AND rule = ?2 AND start_ms = ?3",
                    params![case.vehicle.0, case.rule, case.start.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)?;
            let out = match existing {
                Some(id) => {
                    tx.execute(
                        "UPDATE alert_cases SET end_ms = ?2, late = (late OR ?3), reasoning = ?4, reasoning_zh = ?5,
                           episode = ?6, updated_ms = ?7 WHERE id = ?1",
                        params![id, case.end.map(|t| t.0), case.late, case.reasoning, case.reasoning_zh, episode, now.0],
                    )
                    .map_err(db_error)?;
                    (id, false)
                }
                None => {
                    let id: i64 = tx
                        .query_row(
                            "INSERT INTO alert_cases (vehicle_id, unit_id, rule, start_ms, end_ms, severity, late, state,
                               reasoning, reasoning_zh, episode, escalate_ms, created_ms, updated_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10, ?11, ?12, ?12) RETURNING id",
                            params![
                                case.vehicle.0,
                                case.unit.0,
                                case.rule,
                                case.start.0,
                                case.end.map(|t| t.0),
                                case.severity,
                                case.late,
                                case.reasoning,
                                case.reasoning_zh,
                                episode,
                                case.escalate_at.map(|t| t.0),
                                now.0
                            ],
                            |r| r.get(0),
                        )
                        .map_err(db_error)?;
                    tx.execute(
                        "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES (?1, ?2, 'system', 'opened', ?3)",
                        params![id, now.0, case.reasoning],
                    )
                    .map_err(db_error)?;
                    insert_deliveries(&tx, id, &deliveries, now.0)?;
                    (id, true)
                }
            };
            tx.commit().map_err(db_error)?;
            Ok(out)
        })
        .await
    }

    async fn case(&self, id: i64) -> Result<Option<AlertCase>> {
        self.read(move |c| load_case(c, id)).await
    }

    async fn cases(&self, f: &CaseFilter) -> Result<Vec<AlertCase>> {
        let f = f.clone();
        self.read(move |c| {
            let mut wh: Vec<String> = Vec::new();
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            let arg = |v: rusqlite::types::Value, args: &mut Vec<rusqlite::types::Value>| {
                args.push(v);
                format!("?{}", args.len())
            };
            if !f.states.is_empty() {
                let ps: Vec<String> =
                    f.states.iter().map(|s| arg(s.as_str().to_string().into(), &mut args)).collect();
                wh.push(format!("state IN ({})", ps.join(",")));
            }
            if let Some(units) = &f.units {
                if units.is_empty() {
                    return Ok(Vec::new());
                }
                let ps: Vec<String> = units.iter().map(|u| arg(u.0.into(), &mut args)).collect();
                wh.push(format!("unit_id IN ({})", ps.join(",")));
            }
            if let Some(v) = f.vehicle {
                wh.push(format!("vehicle_id = {}", arg(v.0.into(), &mut args)));
            }
            if let Some(r) = &f.rule {
                wh.push(format!("rule = {}", arg(r.clone().into(), &mut args)));
            }
            if let Some(t) = f.from {
                wh.push(format!("start_ms >= {}", arg(t.0.into(), &mut args)));
            }
            if let Some(t) = f.to {
                wh.push(format!("start_ms < {}", arg(t.0.into(), &mut args)));
            }
            let where_sql = if wh.is_empty() { String::new() } else { format!("WHERE {}", wh.join(" AND ")) };
            let limit = if f.limit == 0 { 100 } else { f.limit.min(10_000) };
            let sql = format!(
                "SELECT {CASE_COLS} FROM alert_cases {where_sql} ORDER BY start_ms DESC, id DESC LIMIT {limit} OFFSET {}",
                f.offset
            );
            let mut st = c.prepare(&sql).map_err(db_error)?;
            let rows = st.query_map(params_from_iter(args.iter()), case_row).map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(to_case)).collect()
        })
        .await
    }

    async fn case_events(&self, id: i64) -> Result<Vec<CaseEvent>> {
        self.read(move |c| {
            let mut st = c
                .prepare("SELECT case_id, time_ms, actor, action, note FROM alert_case_events WHERE case_id = ?1 ORDER BY id")
                .map_err(db_error)?;
            let rows = st
                .query_map(params![id], |r| {
                    Ok(CaseEvent {
                        case_id: r.get(0)?,
                        time: Timestamp(r.get(1)?),
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        note: r.get(4)?,
                    })
                })
                .map_err(db_error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_error)
        })
        .await
    }

    async fn transition_case(&self, t: &Transition, now: Timestamp) -> Result<AlertCase> {
        let t = t.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let state: Option<String> = tx
                .query_row("SELECT state FROM alert_cases WHERE id = ?1", params![t.case_id], |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            let state = state.ok_or_else(|| Error::NotFound(format!("case {}", t.case_id)))?;
            if !t.from.iter().any(|s| s.as_str() == state) {
                return Err(wrong_state(t.case_id, &state, &t));
            }
            tx.execute(
                "UPDATE alert_cases SET state = ?2, escalate_ms = ?3, updated_ms = ?4 WHERE id = ?1",
                params![t.case_id, t.to.as_str(), t.escalate_at.map(|x| x.0), now.0],
            )
            .map_err(db_error)?;
            tx.execute(
                "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.case_id, now.0, t.actor, t.action, t.note],
            )
            .map_err(db_error)?;
            insert_deliveries(&tx, t.case_id, &t.deliveries, now.0)?;
            let case = load_case(&tx, t.case_id)?.ok_or_else(|| Error::NotFound(format!("case {}", t.case_id)))?;
            tx.commit().map_err(db_error)?;
            Ok(case)
        })
        .await
    }

    async fn due_escalations(&self, of: &[CaseState], now: Timestamp, limit: u32) -> Result<Vec<AlertCase>> {
        let states = states_sql(of);
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {CASE_COLS} FROM alert_cases WHERE state IN ({states}) AND escalate_ms IS NOT NULL
                     AND escalate_ms <= ?1 ORDER BY escalate_ms LIMIT ?2"
                ))
                .map_err(db_error)?;
            let rows = st.query_map(params![now.0, limit], case_row).map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(to_case)).collect()
        })
        .await
    }

    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<Delivery>> {
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {DELIVERY_COLS} FROM alert_outbox WHERE state = 'pending' AND next_attempt_ms <= ?1
                     ORDER BY next_attempt_ms, id LIMIT ?2"
                ))
                .map_err(db_error)?;
            let rows = st.query_map(params![now.0, limit], delivery_row).map_err(db_error)?;
            rows.map(|r| r.map(to_delivery).map_err(db_error)).collect()
        })
        .await
    }

    async fn delivery_attempted(&self, id: i64, outcome: &DeliveryOutcome, now: Timestamp) -> Result<()> {
        let outcome = outcome.clone();
        self.write(move |c| {
            let n = match &outcome {
                DeliveryOutcome::Sent => c.execute(
                    "UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, sent_ms = ?2, last_error = NULL WHERE id = ?1",
                    params![id, now.0],
                ),
                DeliveryOutcome::Retry { error, next_attempt } => c.execute(
                    "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3 WHERE id = ?1",
                    params![id, error, next_attempt.0],
                ),
                DeliveryOutcome::Failed { error } => c.execute(
                    "UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                    params![id, error],
                ),
            }
            .map_err(db_error)?;
            if n == 0 {
                return Err(Error::NotFound(format!("delivery {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn deliveries(&self, case_id: i64) -> Result<Vec<Delivery>> {
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {DELIVERY_COLS} FROM alert_outbox WHERE case_id = ?1 ORDER BY id"
                ))
                .map_err(db_error)?;
            let rows = st.query_map(params![case_id], delivery_row).map_err(db_error)?;
            rows.map(|r| r.map(to_delivery).map_err(db_error)).collect()
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

//! Units, vehicles, terminals and driver events in the embedded store.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};
use tianshu_model::{Edition, Phone, Terminal, Timestamp, Unit, UnitId, Vehicle, VehicleClass, VehicleId};

use super::rules::next_stamp;
use super::{EmbeddedBackend, db_error};
use crate::registry_admin::{
    NewTerminal, RegistryAdmin, TerminalChange, UnitChange, VehicleChange, checked_plate,
    checked_terminal_id, checked_unit_name, child_path, now_ms,
};
use crate::registry_file::{unit_path_segments, validate_records};
use crate::{DriverEvent, Error, ImportSummary, RegistryRecord, Result, parse_stored_phone};

/// The id of the unit at `path`, creating it and its ancestors as needed.
fn ensure_unit(
    tx: &Transaction<'_>,
    segments: &[&str],
    cache: &mut HashMap<String, i64>,
    created: &mut u64,
) -> Result<i64> {
    let mut parent: Option<i64> = None;
    let mut path = String::new();
    for name in segments {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(name);
        if let Some(id) = cache.get(&path) {
            parent = Some(*id);
            continue;
        }
        let found: Option<i64> = tx
            .query_row("SELECT id FROM units WHERE path = ?1", [&path], |r| r.get(0))
            .optional()
            .map_err(db_error)?;
        let id = match found {
            Some(id) => id,
            None => {
                *created += 1;
                tx.query_row(
                    "INSERT INTO units (name, parent, path) VALUES (?1, ?2, ?3) RETURNING id",
                    params![name, parent, path],
                    |r| r.get(0),
                )
                .map_err(db_error)?
            }
        };
        cache.insert(path.clone(), id);
        parent = Some(id);
    }
    parent.ok_or_else(|| Error::Invalid {
        line: None,
        reason: "empty unit path".into(),
    })
}

impl EmbeddedBackend {
    pub(super) async fn import_registry_embedded(&self, records: &[RegistryRecord]) -> Result<ImportSummary> {
        validate_records(records)?;
        let records = records.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_error)?;
            let mut summary = ImportSummary::default();
            let mut cache = HashMap::new();
            for r in &records {
                let segments = unit_path_segments(&r.unit);
                let unit = ensure_unit(&tx, &segments, &mut cache, &mut summary.units_created)?;
                let vehicle: i64 = tx
                    .query_row(
                        "INSERT INTO vehicles (plate, unit, class) VALUES (?1, ?2, ?3) ON CONFLICT (plate) DO UPDATE \
                         SET unit = excluded.unit, class = excluded.class RETURNING id",
                        params![r.plate.trim(), unit, r.vehicle_class.as_str()],
                        |row| row.get(0),
                    )
                    .map_err(db_error)?;
                summary.vehicles_upserted += 1;
                tx.execute(
                    "INSERT INTO terminals (phone, terminal_id, vehicle) VALUES (?1, ?2, ?3) ON CONFLICT (phone) DO \
                     UPDATE SET terminal_id = excluded.terminal_id, vehicle = excluded.vehicle",
                    params![r.phone.to_string(), r.terminal_id.trim(), vehicle],
                )
                .map_err(db_error)?;
                summary.terminals_upserted += 1;
            }
            tx.commit().map_err(db_error)?;
            Ok(summary)
        })
        .await
    }

    pub(super) async fn units_embedded(&self) -> Result<Vec<Unit>> {
        self.read(|conn| {
            let mut st = conn
                .prepare_cached("SELECT id, name, parent FROM units ORDER BY id")
                .map_err(db_error)?;
            let rows = st
                .query_map([], |r| {
                    Ok(Unit {
                        id: UnitId(r.get(0)?),
                        name: r.get(1)?,
                        parent: r.get::<_, Option<i64>>(2)?.map(UnitId),
                    })
                })
                .map_err(db_error)?;
            rows.collect::<Result<_, _>>().map_err(db_error)
        })
        .await
    }

    pub(super) async fn vehicles_embedded(&self, plate: Option<String>) -> Result<Vec<Vehicle>> {
        self.read(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT id, plate, unit, class FROM vehicles WHERE ?1 IS NULL OR plate = ?1 ORDER BY id",
                )
                .map_err(db_error)?;
            let rows = st
                .query_map([plate.as_deref().map(str::trim)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(db_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, plate, unit, class) = row.map_err(db_error)?;
                let class = class
                    .parse()
                    .map_err(|e| Error::Corrupt(format!("vehicle {id}: {e}")))?;
                out.push(Vehicle {
                    id: VehicleId(id),
                    plate,
                    unit: UnitId(unit),
                    class,
                });
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn terminals_embedded(&self, phone: Option<Phone>) -> Result<Vec<Terminal>> {
        self.read(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT phone, terminal_id, edition, auth_code_hash, imei, vehicle FROM terminals \
                     WHERE ?1 IS NULL OR phone = ?1 ORDER BY vehicle, phone",
                )
                .map_err(db_error)?;
            let rows = st
                .query_map([phone.map(|p| p.to_string())], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })
                .map_err(db_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (phone, terminal_id, edition, auth_code_hash, imei, vehicle) = row.map_err(db_error)?;
                out.push(Terminal {
                    phone: parse_stored_phone(&phone)?,
                    terminal_id,
                    edition: edition.as_deref().and_then(Edition::parse),
                    auth_code_hash,
                    imei,
                    vehicle: vehicle.map(VehicleId),
                });
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn save_registration_embedded(
        &self,
        phone: Phone,
        edition: Edition,
        auth_code_hash: &str,
        imei: Option<&str>,
    ) -> Result<()> {
        let auth_code_hash = auth_code_hash.to_string();
        let imei = imei.map(str::to_string);
        self.write(move |conn| {
            let n = conn
                .execute(
                    "UPDATE terminals SET edition = ?2, auth_code_hash = ?3, imei = COALESCE(?4, imei) WHERE phone = ?1",
                    params![phone.to_string(), edition.as_str(), auth_code_hash, imei],
                )
                .map_err(db_error)?;
            if n == 0 {
                return Err(Error::NotFound(format!("terminal {phone}")));
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn append_driver_event_embedded(&self, event: &DriverEvent) -> Result<()> {
        let e = event.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO driver_events (vehicle, phone, time, signed_in, name, certificate) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![
                    e.vehicle.0,
                    e.phone.to_string(),
                    e.time.0,
                    e.signed_in,
                    e.name,
                    e.certificate
                ],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn driver_events_embedded(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DriverEvent>> {
        self.read(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT phone, time, signed_in, name, certificate FROM driver_events \
                     WHERE vehicle = ?1 AND time >= ?2 AND time < ?3 ORDER BY time, signed_in",
                )
                .map_err(db_error)?;
            let rows = st
                .query_map(params![vehicle.0, from.0, to.0], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .map_err(db_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (phone, time, signed_in, name, certificate) = row.map_err(db_error)?;
                out.push(DriverEvent {
                    vehicle,
                    phone: parse_stored_phone(&phone)?,
                    time: Timestamp(time),
                    signed_in,
                    name,
                    certificate,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// (name, parent, path) of a unit.
fn unit_row(tx: &Transaction<'_>, id: i64) -> Result<Option<(String, Option<i64>, String)>> {
    tx.query_row("SELECT name, parent, path FROM units WHERE id = ?1", [id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .optional()
    .map_err(db_error)
}

fn count(tx: &Transaction<'_>, sql: &str, id: i64) -> Result<i64> {
    tx.query_row(sql, [id], |r| r.get(0)).map_err(db_error)
}

fn vehicle_exists(tx: &Transaction<'_>, id: i64) -> Result<bool> {
    Ok(count(tx, "SELECT COUNT(*) FROM vehicles WHERE id = ?1", id)? > 0)
}

fn conflict_if_plate_taken(tx: &Transaction<'_>, plate: &str, except: Option<i64>) -> Result<()> {
    let other: Option<i64> = tx
        .query_row("SELECT id FROM vehicles WHERE plate = ?1", [plate], |r| r.get(0))
        .optional()
        .map_err(db_error)?;
    match other {
        Some(o) if Some(o) != except => Err(Error::Conflict(format!("plate {plate} is already vehicle {o}"))),
        _ => Ok(()),
    }
}

#[async_trait::async_trait]
impl RegistryAdmin for EmbeddedBackend {
    async fn create_unit(&self, name: &str, parent: Option<UnitId>) -> Result<Unit> {
        let name = checked_unit_name(name)?;
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let parent_path = match parent {
                Some(p) => Some(
                    unit_row(&tx, p.0)?
                        .ok_or_else(|| invalid(format!("parent: there is no unit {p}")))?
                        .2,
                ),
                None => None,
            };
            let path = child_path(parent_path.as_deref(), &name);
            let taken: Option<i64> = tx
                .query_row("SELECT id FROM units WHERE path = ?1", [&path], |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            if let Some(t) = taken {
                return Err(Error::Conflict(format!(
                    "unit {path:?} already exists (unit {t})"
                )));
            }
            let id: i64 = tx
                .query_row(
                    "INSERT INTO units (name, parent, path) VALUES (?1, ?2, ?3) RETURNING id",
                    params![name, parent.map(|p| p.0), path],
                    |r| r.get(0),
                )
                .map_err(db_error)?;
            next_stamp(&tx, Timestamp(now_ms()))?;
            tx.commit().map_err(db_error)?;
            Ok(Unit {
                id: UnitId(id),
                name,
                parent,
            })
        })
        .await
    }

    async fn update_unit(&self, id: UnitId, change: &UnitChange) -> Result<Unit> {
        let new_name = change.name.as_deref().map(checked_unit_name).transpose()?;
        let change = change.clone();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let (name, parent, old_path) =
                unit_row(&tx, id.0)?.ok_or_else(|| Error::NotFound(format!("unit {id}")))?;
            let name = new_name.unwrap_or(name);
            let parent = change.parent.unwrap_or(parent.map(UnitId));
            let parent_path = match parent {
                Some(p) => {
                    let (_, _, pp) = unit_row(&tx, p.0)?
                        .ok_or_else(|| invalid(format!("parent: there is no unit {p}")))?;
                    if p == id || pp.starts_with(&format!("{old_path}/")) {
                        return Err(invalid(format!(
                            "parent: unit {p} is unit {id} or below it; a unit cannot move below itself"
                        )));
                    }
                    Some(pp)
                }
                None => None,
            };
            let path = child_path(parent_path.as_deref(), &name);
            if path != old_path {
                let taken: Option<i64> = tx
                    .query_row("SELECT id FROM units WHERE path = ?1", [&path], |r| r.get(0))
                    .optional()
                    .map_err(db_error)?;
                if let Some(t) = taken {
                    return Err(Error::Conflict(format!(
                        "unit {path:?} already exists (unit {t})"
                    )));
                }
                tx.execute(
                    "UPDATE units SET path = ?1 || substr(path, length(?2) + 1) \
                     WHERE path = ?2 OR substr(path, 1, length(?2) + 1) = ?2 || '/'",
                    params![path, old_path],
                )
                .map_err(db_error)?;
                // Depots name their unit by path: they follow the unit and everything below it.
                tx.execute(
                    "UPDATE rules_geofences SET \
                         body = json_set(body, '$.unit', \
                             ?1 || substr(json_extract(body, '$.unit'), length(?2) + 1)), \
                         updated_ms = ?3 \
                     WHERE json_extract(body, '$.unit') = ?2 \
                        OR substr(json_extract(body, '$.unit'), 1, length(?2) + 1) = ?2 || '/'",
                    params![path, old_path, now_ms()],
                )
                .map_err(db_error)?;
            }
            tx.execute(
                "UPDATE units SET name = ?2, parent = ?3 WHERE id = ?1",
                params![id.0, name, parent.map(|p| p.0)],
            )
            .map_err(db_error)?;
            next_stamp(&tx, Timestamp(now_ms()))?;
            tx.commit().map_err(db_error)?;
            Ok(Unit { id, name, parent })
        })
        .await
    }

    async fn delete_unit(&self, id: UnitId) -> Result<()> {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            if unit_row(&tx, id.0)?.is_none() {
                return Err(Error::NotFound(format!("unit {id}")));
            }
            let vehicles = count(&tx, "SELECT COUNT(*) FROM vehicles WHERE unit = ?1", id.0)?;
            let children = count(&tx, "SELECT COUNT(*) FROM units WHERE parent = ?1", id.0)?;
            let users = count(&tx, "SELECT COUNT(*) FROM access_users WHERE unit_id = ?1", id.0)?;
            if vehicles + children + users > 0 {
                return Err(Error::Conflict(format!(
                    "unit {id} still has {vehicles} vehicles, {children} sub-units and {users} users"
                )));
            }
            tx.execute("DELETE FROM units WHERE id = ?1", [id.0])
                .map_err(db_error)?;
            next_stamp(&tx, Timestamp(now_ms()))?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn create_vehicle(&self, plate: &str, unit: UnitId, class: VehicleClass) -> Result<Vehicle> {
        let plate = checked_plate(plate)?;
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            if unit_row(&tx, unit.0)?.is_none() {
                return Err(invalid(format!("unit: there is no unit {unit}")));
            }
            conflict_if_plate_taken(&tx, &plate, None)?;
            let id: i64 = tx
                .query_row(
                    "INSERT INTO vehicles (plate, unit, class) VALUES (?1, ?2, ?3) RETURNING id",
                    params![plate, unit.0, class.as_str()],
                    |r| r.get(0),
                )
                .map_err(db_error)?;
            next_stamp(&tx, Timestamp(now_ms()))?;
            tx.commit().map_err(db_error)?;
            Ok(Vehicle {
                id: VehicleId(id),
                plate,
                unit,
                class,
            })
        })
        .await
    }

    async fn update_vehicle(&self, id: VehicleId, change: &VehicleChange) -> Result<Vehicle> {
        let new_plate = change.plate.as_deref().map(checked_plate).transpose()?;
        let change = change.clone();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let (plate, unit, class): (String, i64, String) = tx
                .query_row(
                    "SELECT plate, unit, class FROM vehicles WHERE id = ?1",
                    [id.0],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db_error)?
                .ok_or_else(|| Error::NotFound(format!("vehicle {id}")))?;
            let plate = new_plate.unwrap_or(plate);
            conflict_if_plate_taken(&tx, &plate, Some(id.0))?;
            let unit = change.unit.unwrap_or(UnitId(unit));
            if unit_row(&tx, unit.0)?.is_none() {
                return Err(invalid(format!("unit: there is no unit {unit}")));
            }
            let class = match change.class {
                Some(c) => c,
                None => class
                    .parse()
                    .map_err(|e| Error::Corrupt(format!("vehicle {id}: {e}")))?,
            };
            tx.execute(
                "UPDATE vehicles SET plate = ?2, unit = ?3, class = ?4 WHERE id = ?1",
                params![id.0, plate, unit.0, class.as_str()],
            )
            .map_err(db_error)?;
            next_stamp(&tx, Timestamp(now_ms()))?;
            tx.commit().map_err(db_error)?;
            Ok(Vehicle {
                id,
                plate,
                unit,
                class,
            })
        })
        .await
    }

    async fn delete_vehicle(&self, id: VehicleId) -> Result<()> {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            if !vehicle_exists(&tx, id.0)? {
                return Err(Error::NotFound(format!("vehicle {id}")));
            }
            let terminals = count(&tx, "SELECT COUNT(*) FROM terminals WHERE vehicle = ?1", id.0)?;
            if terminals > 0 {
                return Err(Error::Conflict(format!(
                    "vehicle {id} still has {terminals} terminals bound; unbind or delete them first"
                )));
            }
            let tracked = count(
                &tx,
                "SELECT COUNT(*) FROM latest_positions WHERE vehicle = ?1",
                id.0,
            )? + count(
                &tx,
                "SELECT COUNT(*) FROM alert_cases WHERE vehicle_id = ?1",
                id.0,
            )?;
            if tracked > 0 {
                return Err(Error::Conflict(format!(
                    "vehicle {id} has a stored track or alert cases, which must stay replayable"
                )));
            }
            tx.execute("DELETE FROM vehicles WHERE id = ?1", [id.0])
                .map_err(db_error)?;
            next_stamp(&tx, Timestamp(now_ms()))?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn create_terminal(&self, terminal: &NewTerminal) -> Result<Terminal> {
        let terminal_id = checked_terminal_id(&terminal.terminal_id)?;
        let t = terminal.clone();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let phone = t.phone.to_string();
            let taken = tx
                .query_row("SELECT 1 FROM terminals WHERE phone = ?1", [&phone], |_| Ok(()))
                .optional()
                .map_err(db_error)?;
            if taken.is_some() {
                return Err(Error::Conflict(format!("terminal {phone} already exists")));
            }
            if let Some(v) = t.vehicle
                && !vehicle_exists(&tx, v.0)?
            {
                return Err(invalid(format!("vehicle: there is no vehicle {v}")));
            }
            tx.execute(
                "INSERT INTO terminals (phone, terminal_id, edition, vehicle) VALUES (?1, ?2, ?3, ?4)",
                params![
                    phone,
                    terminal_id,
                    t.edition.map(|e| e.as_str()),
                    t.vehicle.map(|v| v.0)
                ],
            )
            .map_err(db_error)?;
            tx.commit().map_err(db_error)
        })
        .await?;
        self.terminal_after_write(terminal.phone).await
    }

    async fn update_terminal(&self, phone: Phone, change: &TerminalChange) -> Result<Terminal> {
        let new_id = change
            .terminal_id
            .as_deref()
            .map(checked_terminal_id)
            .transpose()?;
        let change = change.clone();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let key = phone.to_string();
            let (terminal_id, vehicle): (String, Option<i64>) = tx
                .query_row(
                    "SELECT terminal_id, vehicle FROM terminals WHERE phone = ?1",
                    [&key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_error)?
                .ok_or_else(|| Error::NotFound(format!("terminal {phone}")))?;
            let new_vehicle = change.vehicle.unwrap_or(vehicle.map(VehicleId));
            if let Some(v) = new_vehicle
                && !vehicle_exists(&tx, v.0)?
            {
                return Err(invalid(format!("vehicle: there is no vehicle {v}")));
            }
            let reset = change.reset_auth_code || new_vehicle.map(|v| v.0) != vehicle;
            tx.execute(
                "UPDATE terminals SET terminal_id = ?2, vehicle = ?3, \
                 auth_code_hash = CASE WHEN ?4 THEN NULL ELSE auth_code_hash END WHERE phone = ?1",
                params![
                    key,
                    new_id.unwrap_or(terminal_id),
                    new_vehicle.map(|v| v.0),
                    reset
                ],
            )
            .map_err(db_error)?;
            tx.commit().map_err(db_error)
        })
        .await?;
        self.terminal_after_write(phone).await
    }

    async fn delete_terminal(&self, phone: Phone) -> Result<()> {
        self.write(move |conn| {
            let n = conn
                .execute("DELETE FROM terminals WHERE phone = ?1", [phone.to_string()])
                .map_err(db_error)?;
            if n == 0 {
                return Err(Error::NotFound(format!("terminal {phone}")));
            }
            Ok(())
        })
        .await
    }
}

impl EmbeddedBackend {
    async fn terminal_after_write(&self, phone: Phone) -> Result<Terminal> {
        self.terminals_embedded(Some(phone))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotFound(format!("terminal {phone}")))
    }
}

fn invalid(reason: String) -> Error {
    Error::Invalid { line: None, reason }
}

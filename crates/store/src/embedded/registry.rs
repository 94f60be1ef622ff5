//! Units, vehicles, terminals and driver events in the embedded store.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};
use tianshu_model::{Edition, Phone, Terminal, Timestamp, Unit, UnitId, Vehicle, VehicleId};

use super::{EmbeddedBackend, db_error};
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

//! Units, vehicles, terminals and driver events in PostgreSQL.

use std::collections::HashMap;

use tianshu_model::{Edition, Phone, Terminal, Timestamp, Unit, UnitId, Vehicle, VehicleId};

use super::points::to_datetime;
use super::{PostgresBackend, pg_error};
use crate::registry_file::{unit_path_segments, validate_records};
use crate::{DriverEvent, Error, ImportSummary, RegistryRecord, Result, parse_stored_phone};

impl PostgresBackend {
    pub(super) async fn import_registry_pg(&self, records: &[RegistryRecord]) -> Result<ImportSummary> {
        validate_records(records)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let insert_unit = tx
            .prepare(
                "INSERT INTO units (name, parent, path) VALUES ($1, $2, $3) ON CONFLICT (path) DO NOTHING RETURNING id",
            )
            .await
            .map_err(pg_error)?;
        let find_unit = tx
            .prepare("SELECT id FROM units WHERE path = $1")
            .await
            .map_err(pg_error)?;
        let upsert_vehicle = tx
            .prepare(
                "INSERT INTO vehicles (plate, unit, class) VALUES ($1, $2, $3) ON CONFLICT (plate) DO UPDATE \
                 SET unit = excluded.unit, class = excluded.class RETURNING id",
            )
            .await
            .map_err(pg_error)?;
        let upsert_terminal = tx
            .prepare(
                "INSERT INTO terminals (phone, terminal_id, vehicle) VALUES ($1, $2, $3) ON CONFLICT (phone) DO \
                 UPDATE SET terminal_id = excluded.terminal_id, vehicle = excluded.vehicle",
            )
            .await
            .map_err(pg_error)?;
        let mut summary = ImportSummary::default();
        let mut cache: HashMap<String, i64> = HashMap::new();
        for r in records {
            let mut parent: Option<i64> = None;
            let mut path = String::new();
            for name in unit_path_segments(&r.unit) {
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(name);
                let id = match cache.get(&path) {
                    Some(id) => *id,
                    None => {
                        let id = match tx
                            .query_opt(&insert_unit, &[&name, &parent, &path])
                            .await
                            .map_err(pg_error)?
                        {
                            Some(row) => {
                                summary.units_created += 1;
                                row.get(0)
                            }
                            None => tx.query_one(&find_unit, &[&path]).await.map_err(pg_error)?.get(0),
                        };
                        cache.insert(path.clone(), id);
                        id
                    }
                };
                parent = Some(id);
            }
            let unit = parent.ok_or_else(|| Error::Invalid {
                line: None,
                reason: "empty unit path".into(),
            })?;
            let vehicle: i64 = tx
                .query_one(
                    &upsert_vehicle,
                    &[&r.plate.trim(), &unit, &r.vehicle_class.as_str()],
                )
                .await
                .map_err(pg_error)?
                .get(0);
            summary.vehicles_upserted += 1;
            tx.execute(
                &upsert_terminal,
                &[&r.phone.to_string(), &r.terminal_id.trim(), &vehicle],
            )
            .await
            .map_err(pg_error)?;
            summary.terminals_upserted += 1;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(summary)
    }

    pub(super) async fn units_pg(&self) -> Result<Vec<Unit>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT id, name, parent FROM units ORDER BY id", &[])
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| {
                Ok(Unit {
                    id: UnitId(r.try_get(0).map_err(pg_error)?),
                    name: r.try_get(1).map_err(pg_error)?,
                    parent: r.try_get::<_, Option<i64>>(2).map_err(pg_error)?.map(UnitId),
                })
            })
            .collect()
    }

    pub(super) async fn vehicles_pg(&self, plate: Option<&str>) -> Result<Vec<Vehicle>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, plate, unit, class FROM vehicles WHERE $1::text IS NULL OR plate = $1 ORDER BY id",
                &[&plate.map(str::trim)],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get(0).map_err(pg_error)?;
                let class: String = r.try_get(3).map_err(pg_error)?;
                Ok(Vehicle {
                    id: VehicleId(id),
                    plate: r.try_get(1).map_err(pg_error)?,
                    unit: UnitId(r.try_get(2).map_err(pg_error)?),
                    class: class
                        .parse()
                        .map_err(|e| Error::Corrupt(format!("vehicle {id}: {e}")))?,
                })
            })
            .collect()
    }

    pub(super) async fn terminals_pg(&self, phone: Option<Phone>) -> Result<Vec<Terminal>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT phone, terminal_id, edition, auth_code_hash, imei, vehicle FROM terminals \
                 WHERE $1::text IS NULL OR phone = $1 ORDER BY vehicle, phone",
                &[&phone.map(|p| p.to_string())],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| {
                let phone: String = r.try_get(0).map_err(pg_error)?;
                let edition: Option<String> = r.try_get(2).map_err(pg_error)?;
                Ok(Terminal {
                    phone: parse_stored_phone(&phone)?,
                    terminal_id: r.try_get(1).map_err(pg_error)?,
                    edition: edition.as_deref().and_then(Edition::parse),
                    auth_code_hash: r.try_get(3).map_err(pg_error)?,
                    imei: r.try_get(4).map_err(pg_error)?,
                    vehicle: r.try_get::<_, Option<i64>>(5).map_err(pg_error)?.map(VehicleId),
                })
            })
            .collect()
    }

    pub(super) async fn save_registration_pg(
        &self,
        phone: Phone,
        edition: Edition,
        auth_code_hash: &str,
        imei: Option<&str>,
    ) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE terminals SET edition = $2, auth_code_hash = $3, imei = COALESCE($4, imei) WHERE phone = $1",
                &[&phone.to_string(), &edition.as_str(), &auth_code_hash, &imei],
            )
            .await
            .map_err(pg_error)?;
        if n == 0 {
            return Err(Error::NotFound(format!("terminal {phone}")));
        }
        Ok(())
    }

    pub(super) async fn append_driver_event_pg(&self, e: &DriverEvent) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO driver_events (vehicle, phone, time, signed_in, name, certificate) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &e.vehicle.0,
                    &e.phone.to_string(),
                    &to_datetime(e.time),
                    &e.signed_in,
                    &e.name,
                    &e.certificate,
                ],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub(super) async fn driver_events_pg(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DriverEvent>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT phone, time, signed_in, name, certificate FROM driver_events \
                 WHERE vehicle = $1 AND time >= $2 AND time < $3 ORDER BY time, signed_in",
                &[&vehicle.0, &to_datetime(from), &to_datetime(to)],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| {
                let phone: String = r.try_get(0).map_err(pg_error)?;
                let time: chrono::DateTime<chrono::Utc> = r.try_get(1).map_err(pg_error)?;
                Ok(DriverEvent {
                    vehicle,
                    phone: parse_stored_phone(&phone)?,
                    time: Timestamp(time.timestamp_millis()),
                    signed_in: r.try_get(2).map_err(pg_error)?,
                    name: r.try_get(3).map_err(pg_error)?,
                    certificate: r.try_get(4).map_err(pg_error)?,
                })
            })
            .collect()
    }
}

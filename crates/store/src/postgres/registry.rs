//! Units, vehicles, terminals and driver events in PostgreSQL.

use std::collections::HashMap;

use tianshu_model::{Edition, Phone, Terminal, Timestamp, Unit, UnitId, Vehicle, VehicleClass, VehicleId};

use super::points::to_datetime;
use super::rules::next_stamp;
use super::{PostgresBackend, pg_error};
use crate::registry_admin::{
    NewTerminal, RegistryAdmin, TerminalChange, UnitChange, VehicleChange, checked_plate,
    checked_terminal_id, checked_unit_name, child_path, now_ms,
};
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

/// The advisory-lock key that serialises one-record registry edits ("tsregadm" in ASCII), so that two
/// administrators moving units at once cannot interleave their subtree rewrites.
const REGISTRY_ADMIN_LOCK_KEY: i64 = 0x7473_7265_6761_646d;

/// A unique violation raced past the checks is a conflict, like the checks would have said.
fn edit_error(e: tokio_postgres::Error) -> Error {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        return Error::Conflict(
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string()),
        );
    }
    pg_error(e)
}

fn invalid(reason: String) -> Error {
    Error::Invalid { line: None, reason }
}

async fn begin_edit(tx: &deadpool_postgres::Transaction<'_>) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REGISTRY_ADMIN_LOCK_KEY])
        .await
        .map_err(pg_error)?;
    Ok(())
}

/// (name, parent, path) of a unit.
async fn unit_row(
    tx: &deadpool_postgres::Transaction<'_>,
    id: i64,
) -> Result<Option<(String, Option<i64>, String)>> {
    Ok(tx
        .query_opt("SELECT name, parent, path FROM units WHERE id = $1", &[&id])
        .await
        .map_err(pg_error)?
        .map(|r| (r.get(0), r.get(1), r.get(2))))
}

async fn count(tx: &deadpool_postgres::Transaction<'_>, sql: &str, id: i64) -> Result<i64> {
    Ok(tx.query_one(sql, &[&id]).await.map_err(pg_error)?.get(0))
}

async fn unit_path_taken(tx: &deadpool_postgres::Transaction<'_>, path: &str) -> Result<()> {
    if let Some(r) = tx
        .query_opt("SELECT id FROM units WHERE path = $1", &[&path])
        .await
        .map_err(pg_error)?
    {
        return Err(Error::Conflict(format!(
            "unit {path:?} already exists (unit {})",
            r.get::<_, i64>(0)
        )));
    }
    Ok(())
}

async fn plate_taken(
    tx: &deadpool_postgres::Transaction<'_>,
    plate: &str,
    except: Option<i64>,
) -> Result<()> {
    if let Some(r) = tx
        .query_opt("SELECT id FROM vehicles WHERE plate = $1", &[&plate])
        .await
        .map_err(pg_error)?
    {
        let other: i64 = r.get(0);
        if Some(other) != except {
            return Err(Error::Conflict(format!(
                "plate {plate} is already vehicle {other}"
            )));
        }
    }
    Ok(())
}

async fn vehicle_exists(tx: &deadpool_postgres::Transaction<'_>, id: i64) -> Result<bool> {
    Ok(count(tx, "SELECT COUNT(*) FROM vehicles WHERE id = $1", id).await? > 0)
}

#[async_trait::async_trait]
impl RegistryAdmin for PostgresBackend {
    async fn create_unit(&self, name: &str, parent: Option<UnitId>) -> Result<Unit> {
        let name = checked_unit_name(name)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        begin_edit(&tx).await?;
        let parent_path = match parent {
            Some(p) => Some(
                unit_row(&tx, p.0)
                    .await?
                    .ok_or_else(|| invalid(format!("parent: there is no unit {p}")))?
                    .2,
            ),
            None => None,
        };
        let path = child_path(parent_path.as_deref(), &name);
        unit_path_taken(&tx, &path).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO units (name, parent, path) VALUES ($1, $2, $3) RETURNING id",
                &[&name, &parent.map(|p| p.0), &path],
            )
            .await
            .map_err(edit_error)?
            .get(0);
        next_stamp(&tx, Timestamp(now_ms())).await?;
        tx.commit().await.map_err(edit_error)?;
        Ok(Unit {
            id: UnitId(id),
            name,
            parent,
        })
    }

    async fn update_unit(&self, id: UnitId, change: &UnitChange) -> Result<Unit> {
        let new_name = change.name.as_deref().map(checked_unit_name).transpose()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        begin_edit(&tx).await?;
        let (name, parent, old_path) = unit_row(&tx, id.0)
            .await?
            .ok_or_else(|| Error::NotFound(format!("unit {id}")))?;
        let name = new_name.unwrap_or(name);
        let parent = change.parent.unwrap_or(parent.map(UnitId));
        let parent_path = match parent {
            Some(p) => {
                let (_, _, pp) = unit_row(&tx, p.0)
                    .await?
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
            unit_path_taken(&tx, &path).await?;
            tx.execute(
                "UPDATE units SET path = $1 || substr(path, char_length($2) + 1) \
                 WHERE path = $2 OR left(path, char_length($2) + 1) = $2 || '/'",
                &[&path, &old_path],
            )
            .await
            .map_err(edit_error)?;
            // Depots name their unit by path: they follow the unit and everything below it.
            tx.execute(
                "UPDATE rules_geofences SET \
                     body = jsonb_set(body::jsonb, '{unit}', \
                         to_jsonb($1 || substr(body::jsonb #>> '{unit}', char_length($2) + 1)))::text, \
                     updated_ms = $3 \
                 WHERE body::jsonb #>> '{unit}' = $2 \
                    OR left(body::jsonb #>> '{unit}', char_length($2) + 1) = $2 || '/'",
                &[&path, &old_path, &now_ms()],
            )
            .await
            .map_err(edit_error)?;
        }
        tx.execute(
            "UPDATE units SET name = $2, parent = $3 WHERE id = $1",
            &[&id.0, &name, &parent.map(|p| p.0)],
        )
        .await
        .map_err(edit_error)?;
        next_stamp(&tx, Timestamp(now_ms())).await?;
        tx.commit().await.map_err(edit_error)?;
        Ok(Unit { id, name, parent })
    }

    async fn delete_unit(&self, id: UnitId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        begin_edit(&tx).await?;
        if unit_row(&tx, id.0).await?.is_none() {
            return Err(Error::NotFound(format!("unit {id}")));
        }
        let vehicles = count(&tx, "SELECT COUNT(*) FROM vehicles WHERE unit = $1", id.0).await?;
        let children = count(&tx, "SELECT COUNT(*) FROM units WHERE parent = $1", id.0).await?;
        let users = count(&tx, "SELECT COUNT(*) FROM access_users WHERE unit_id = $1", id.0).await?;
        if vehicles + children + users > 0 {
            return Err(Error::Conflict(format!(
                "unit {id} still has {vehicles} vehicles, {children} sub-units and {users} users"
            )));
        }
        tx.execute("DELETE FROM units WHERE id = $1", &[&id.0])
            .await
            .map_err(edit_error)?;
        next_stamp(&tx, Timestamp(now_ms())).await?;
        tx.commit().await.map_err(edit_error)
    }

    async fn create_vehicle(&self, plate: &str, unit: UnitId, class: VehicleClass) -> Result<Vehicle> {
        let plate = checked_plate(plate)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        begin_edit(&tx).await?;
        if unit_row(&tx, unit.0).await?.is_none() {
            return Err(invalid(format!("unit: there is no unit {unit}")));
        }
        plate_taken(&tx, &plate, None).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO vehicles (plate, unit, class) VALUES ($1, $2, $3) RETURNING id",
                &[&plate, &unit.0, &class.as_str()],
            )
            .await
            .map_err(edit_error)?
            .get(0);
        next_stamp(&tx, Timestamp(now_ms())).await?;
        tx.commit().await.map_err(edit_error)?;
        Ok(Vehicle {
            id: VehicleId(id),
            plate,
            unit,
            class,
        })
    }

    async fn update_vehicle(&self, id: VehicleId, change: &VehicleChange) -> Result<Vehicle> {
        let new_plate = change.plate.as_deref().map(checked_plate).transpose()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        begin_edit(&tx).await?;
        let row = tx
            .query_opt("SELECT plate, unit, class FROM vehicles WHERE id = $1", &[&id.0])
            .await
            .map_err(pg_error)?
            .ok_or_else(|| Error::NotFound(format!("vehicle {id}")))?;
        let plate = new_plate.unwrap_or_else(|| row.get(0));
        plate_taken(&tx, &plate, Some(id.0)).await?;
        let unit = change.unit.unwrap_or(UnitId(row.get(1)));
        if unit_row(&tx, unit.0).await?.is_none() {
            return Err(invalid(format!("unit: there is no unit {unit}")));
        }
        let class = match change.class {
            Some(c) => c,
            None => row
                .get::<_, String>(2)
                .parse()
                .map_err(|e| Error::Corrupt(format!("vehicle {id}: {e}")))?,
        };
        tx.execute(
            "UPDATE vehicles SET plate = $2, unit = $3, class = $4 WHERE id = $1",
            &[&id.0, &plate, &unit.0, &class.as_str()],
        )
        .await
        .map_err(edit_error)?;
        next_stamp(&tx, Timestamp(now_ms())).await?;
        tx.commit().await.map_err(edit_error)?;
        Ok(Vehicle {
            id,
            plate,
            unit,
            class,
        })
    }

    async fn delete_vehicle(&self, id: VehicleId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        begin_edit(&tx).await?;
        if !vehicle_exists(&tx, id.0).await? {
            return Err(Error::NotFound(format!("vehicle {id}")));
        }
        let terminals = count(&tx, "SELECT COUNT(*) FROM terminals WHERE vehicle = $1", id.0).await?;
        if terminals > 0 {
            return Err(Error::Conflict(format!(
                "vehicle {id} still has {terminals} terminals bound; unbind or delete them first"
            )));
        }
        let tracked = count(
            &tx,
            "SELECT COUNT(*) FROM latest_positions WHERE vehicle = $1",
            id.0,
        )
        .await?
            + i64::from(self.latest.get(id.0).is_some())
            + count(
                &tx,
                "SELECT COUNT(*) FROM alert_cases WHERE vehicle_id = $1",
                id.0,
            )
            .await?;
        if tracked > 0 {
            return Err(Error::Conflict(format!(
                "vehicle {id} has a stored track or alert cases, which must stay replayable"
            )));
        }
        tx.execute("DELETE FROM vehicles WHERE id = $1", &[&id.0])
            .await
            .map_err(edit_error)?;
        next_stamp(&tx, Timestamp(now_ms())).await?;
        tx.commit().await.map_err(edit_error)
    }

    async fn create_terminal(&self, terminal: &NewTerminal) -> Result<Terminal> {
        let terminal_id = checked_terminal_id(&terminal.terminal_id)?;
        {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg_error)?;
            begin_edit(&tx).await?;
            let phone = terminal.phone.to_string();
            if tx
                .query_opt("SELECT 1 FROM terminals WHERE phone = $1", &[&phone])
                .await
                .map_err(pg_error)?
                .is_some()
            {
                return Err(Error::Conflict(format!("terminal {phone} already exists")));
            }
            if let Some(v) = terminal.vehicle
                && !vehicle_exists(&tx, v.0).await?
            {
                return Err(invalid(format!("vehicle: there is no vehicle {v}")));
            }
            tx.execute(
                "INSERT INTO terminals (phone, terminal_id, edition, vehicle) VALUES ($1, $2, $3, $4)",
                &[
                    &phone,
                    &terminal_id,
                    &terminal.edition.map(|e| e.as_str()),
                    &terminal.vehicle.map(|v| v.0),
                ],
            )
            .await
            .map_err(edit_error)?;
            tx.commit().await.map_err(edit_error)?;
        }
        self.terminal_after_write(terminal.phone).await
    }

    async fn update_terminal(&self, phone: Phone, change: &TerminalChange) -> Result<Terminal> {
        let new_id = change
            .terminal_id
            .as_deref()
            .map(checked_terminal_id)
            .transpose()?;
        {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg_error)?;
            begin_edit(&tx).await?;
            let key = phone.to_string();
            let row = tx
                .query_opt(
                    "SELECT terminal_id, vehicle FROM terminals WHERE phone = $1",
                    &[&key],
                )
                .await
                .map_err(pg_error)?
                .ok_or_else(|| Error::NotFound(format!("terminal {phone}")))?;
            let vehicle: Option<i64> = row.get(1);
            let new_vehicle = change.vehicle.unwrap_or(vehicle.map(VehicleId));
            if let Some(v) = new_vehicle
                && !vehicle_exists(&tx, v.0).await?
            {
                return Err(invalid(format!("vehicle: there is no vehicle {v}")));
            }
            let reset = change.reset_auth_code || new_vehicle.map(|v| v.0) != vehicle;
            tx.execute(
                "UPDATE terminals SET terminal_id = $2, vehicle = $3, \
                 auth_code_hash = CASE WHEN $4 THEN NULL ELSE auth_code_hash END WHERE phone = $1",
                &[
                    &key,
                    &new_id.unwrap_or_else(|| row.get(0)),
                    &new_vehicle.map(|v| v.0),
                    &reset,
                ],
            )
            .await
            .map_err(edit_error)?;
            tx.commit().await.map_err(edit_error)?;
        }
        self.terminal_after_write(phone).await
    }

    async fn delete_terminal(&self, phone: Phone) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM terminals WHERE phone = $1", &[&phone.to_string()])
            .await
            .map_err(pg_error)?;
        if n == 0 {
            return Err(Error::NotFound(format!("terminal {phone}")));
        }
        Ok(())
    }
}

impl PostgresBackend {
    async fn terminal_after_write(&self, phone: Phone) -> Result<Terminal> {
        self.terminals_pg(Some(phone))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotFound(format!("terminal {phone}")))
    }
}

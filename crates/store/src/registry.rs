//! The registry: units (a tree), vehicles, the terminals fitted to them, and drivers' sign-ins.
//!
//! Written once over [`crate::sql::Tx`]: the bulk import (`tianshu registry import`), the reads, the
//! terminal's registration and the driver events are here; the one-record edits an administrator makes
//! are in [`crate::registry_admin`], the file formats and the checks both share in `registry_file.rs`.
//!
//! Invariants: a unit's `path` (its names from the root, joined by `/`) is unique and is the import
//! key, so a re-import finds the units it created; a plate names one vehicle and a phone one terminal,
//! so a re-import updates them instead of adding rows; an import is all or nothing. Driver events are
//! idempotent on (vehicle, time, direction).
//!
//! The ingest hot path reads one terminal by phone ([`Store::terminal`]) at every registration and
//! authentication, and writes one at every registration: concurrent calls are coalesced into one query
//! or one transaction (`registry_batch.rs`).
//!
//! A terminal that registers again while holding a code gets a pending code ([`Store::reregister`])
//! beside the current one; using it settles it ([`Store::settle_pending`]): promoted to the current code,
//! or dropped. Both compare the pending code as read, so a newer registration is never overwritten.

use std::collections::HashMap;

use tianshu_model::{
    Edition, PendingRegistration, PendingState, Phone, Reregistered, Reregistration, Terminal, Timestamp,
    Unit, UnitId, Vehicle, VehicleClass, VehicleId,
};

pub use tianshu_model::registry_file::{DriverEvent, ImportSummary, RegistryRecord};

use crate::registry_file::{unit_path_segments, validate_records};
use crate::rules::parse_json;
use crate::sql::{Row, Tx, Value, params, placeholders, tx};
use crate::{Error, Result, Store, parse_stored_phone};

/// The advisory-lock key that serialises registry writes other than a terminal's own registration
/// ("tsregadm" in ASCII): two administrators moving units at once, or a move and an import, cannot
/// interleave their subtree rewrites.
pub(crate) const REGISTRY_LOCK_KEY: i64 = 0x7473_7265_6761_646d;

pub(crate) const VEHICLE_COLS: &str = "id, plate, unit, class, marking";
pub(crate) const TERMINAL_COLS: &str = "phone, terminal_id, edition, auth_code_hash, imei, vehicle, \
                                         clock_offset_secs, clock_found_offset_secs, clock_found_at, pending_registration, reregistrations, \
                                         last_reregistered_ms";

/// Every unit, by id; read with [`to_unit`].
pub(crate) const UNITS_SQL: &str = "SELECT id, name, parent, reregistration_approval FROM units ORDER BY id";

pub(crate) fn to_unit(r: &Row) -> Result<Unit> {
    Ok(Unit {
        id: UnitId(r.int(0)?),
        name: r.text(1)?,
        parent: r.opt_int(2)?.map(UnitId),
        reregistration_approval: r.bool(3)?,
    })
}

/// A stored vehicle class, or [`Error::Corrupt`] naming the vehicle.
pub(crate) fn parse_class(id: i64, class: &str) -> Result<VehicleClass> {
    class
        .parse()
        .map_err(|e| Error::Corrupt(format!("vehicle {id}: {e}")))
}

pub(crate) fn to_vehicle(r: &Row) -> Result<Vehicle> {
    let id = r.int(0)?;
    Ok(Vehicle {
        id: VehicleId(id),
        plate: r.text(1)?,
        unit: UnitId(r.int(2)?),
        class: parse_class(id, &r.text(3)?)?,
        marking: r.opt_text(4)?,
    })
}

/// A terminal read with [`TERMINAL_COLS`].
pub(crate) fn to_terminal(r: &Row) -> Result<Terminal> {
    Ok(Terminal {
        phone: parse_stored_phone(&r.text(0)?)?,
        terminal_id: r.text(1)?,
        edition: r.opt_text(2)?.as_deref().and_then(Edition::parse),
        auth_code_hash: r.opt_text(3)?,
        imei: r.opt_text(4)?,
        vehicle: r.opt_int(5)?.map(VehicleId),
        clock_offset_secs: r.int(6)? as i32,
        clock_found: match (r.opt_int(7)?, r.opt_int(8)?) {
            (Some(secs), Some(at)) => Some((secs as i32, Timestamp(at))),
            _ => None,
        },
        pending: r.opt_text(9)?.as_deref().map(parse_json).transpose()?,
        reregistrations: u32::try_from(r.int(10)?).unwrap_or(u32::MAX),
        last_reregistered: r.opt_int(11)?.map(Timestamp),
    })
}

/// A pending registration as stored (and compared: the same value always writes the same text).
pub(crate) fn pending_json(p: Option<&PendingRegistration>) -> Option<String> {
    p.and_then(|p| serde_json::to_string(p).ok())
}

/// Whether the unit of the car `phone` is fitted to, or a unit above it, requires approval of
/// re-registrations.
async fn approval_required(tx: &mut dyn Tx, phone: Phone) -> Result<bool> {
    let sql = "SELECT COUNT(*) FROM terminals t JOIN vehicles v ON v.id = t.vehicle JOIN units u ON u.id = v.unit \
               JOIN units a ON a.reregistration_approval AND (a.path = u.path \
               OR substr(u.path, 1, length(a.path) + 1) = a.path || '/') WHERE t.phone = $1";
    Ok(tx
        .opt(sql, params![phone.to_string()])
        .await?
        .map_or(Ok(0), |r| r.int(0))?
        > 0)
}

async fn reregister(
    tx: &mut dyn Tx,
    phone: Phone,
    r: Reregistration,
    now: Timestamp,
) -> Result<Reregistered> {
    let t = terminal(tx, phone)
        .await?
        .ok_or_else(|| Error::NotFound(format!("terminal {phone}")))?;
    let required = approval_required(tx, phone).await?;
    let state = PendingState::at_registration(t.imei.is_some(), r.same_address, required);
    let pending = PendingRegistration {
        code_hash: r.code_hash,
        edition: r.edition,
        since: now,
        address: r.address,
        state,
    };
    tx.execute(
        "UPDATE terminals SET pending_registration = $2, reregistrations = reregistrations + 1, \
         last_reregistered_ms = $3 WHERE phone = $1",
        params![phone.to_string(), pending_json(Some(&pending)), now],
    )
    .await?;
    let reregistrations = t.reregistrations.saturating_add(1);
    Ok(Reregistered {
        state,
        reregistrations,
    })
}

/// The terminal with `phone`, read inside `tx`.
pub(crate) async fn terminal(tx: &mut dyn Tx, phone: Phone) -> Result<Option<Terminal>> {
    terminals_of(tx, &[phone]).await?.pop().unwrap_or(Ok(None))
}

/// The terminals of `phones`, in one query: each phone's own terminal, `None`, or its row's error.
pub(crate) async fn terminals_of(tx: &mut dyn Tx, phones: &[Phone]) -> Result<Vec<Result<Option<Terminal>>>> {
    let mut keys = Vec::with_capacity(phones.len());
    let marks = placeholders(phones.iter().map(|p| p.to_string().into()).collect(), &mut keys);
    let sql = format!("SELECT {TERMINAL_COLS} FROM terminals WHERE phone IN ({marks})");
    let rows = tx.query(&sql, &keys).await?;
    let found: HashMap<String, &Row> = rows.iter().filter_map(|r| Some((r.text(0).ok()?, r))).collect();
    let of = |k: &Value| match k {
        Value::Text(k) => found.get(k).map(|r| to_terminal(r)).transpose(),
        _ => Ok(None),
    };
    Ok(keys.iter().map(of).collect())
}

/// A registration to record (see [`Store::save_registration`]).
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    pub(crate) phone: Phone,
    pub(crate) edition: Edition,
    pub(crate) hash: String,
    pub(crate) imei: Option<String>,
}

/// Records `regs` inside `tx`, in order: each one's own result (an unknown phone is [`Error::NotFound`]).
pub(crate) async fn save_registrations(tx: &mut dyn Tx, regs: &[Registration]) -> Result<Vec<Result<()>>> {
    let sql = "UPDATE terminals SET edition = $2, auth_code_hash = $3, imei = COALESCE($4, imei) \
               WHERE phone = $1";
    let mut done = Vec::with_capacity(regs.len());
    for r in regs {
        let args = params![r.phone.to_string(), r.edition.as_str(), &r.hash, r.imei.clone()];
        done.push(match tx.execute(sql, args).await? {
            0 => Err(Error::NotFound(format!("terminal {}", r.phone))),
            _ => Ok(()),
        });
    }
    Ok(done)
}

/// The id an `INSERT ... RETURNING id` (or an upsert) returns.
pub(crate) async fn returned_id(tx: &mut dyn Tx, sql: &str, params: &[Value]) -> Result<i64> {
    match tx.opt(sql, params).await? {
        Some(r) => r.int(0),
        None => Err(Error::Corrupt(format!("no id returned by {sql}"))),
    }
}

/// The id of the unit at the path `segments`, creating it and its ancestors as needed; `cache` holds
/// the paths already resolved by this import.
async fn ensure_unit(
    tx: &mut dyn Tx,
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
        let id = match cache.get(&path) {
            Some(id) => *id,
            None => {
                let inserted = tx
                    .opt(
                        "INSERT INTO units (name, parent, path) VALUES ($1, $2, $3) \
                         ON CONFLICT (path) DO NOTHING RETURNING id",
                        params![*name, parent, &path],
                    )
                    .await?;
                let id = match inserted {
                    Some(r) => {
                        *created += 1;
                        r.int(0)?
                    }
                    None => tx
                        .opt("SELECT id FROM units WHERE path = $1", params![&path])
                        .await?
                        .ok_or_else(|| Error::Corrupt(format!("unit {path:?} vanished")))?
                        .int(0)?,
                };
                cache.insert(path.clone(), id);
                id
            }
        };
        parent = Some(id);
    }
    parent.ok_or_else(|| Error::invalid("empty unit path"))
}

/// Provisions `records` inside `tx` (checked already).
async fn import(tx: &mut dyn Tx, records: &[RegistryRecord]) -> Result<ImportSummary> {
    tx.lock(REGISTRY_LOCK_KEY).await?;
    let mut summary = ImportSummary::default();
    let mut cache = HashMap::new();
    for r in records {
        let segments = unit_path_segments(&r.unit);
        let unit = ensure_unit(tx, &segments, &mut cache, &mut summary.units_created).await?;
        let vehicle = returned_id(
            tx,
            "INSERT INTO vehicles (plate, unit, class, marking) VALUES ($1, $2, $3, $4) ON CONFLICT (plate) DO \
             UPDATE SET unit = excluded.unit, class = excluded.class, \
             marking = CASE WHEN $5 THEN excluded.marking ELSE vehicles.marking END RETURNING id",
            params![
                r.plate.trim(),
                unit,
                r.vehicle_class.as_str(),
                r.marking
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string),
                r.marking.is_some()
            ],
        )
        .await?;
        summary.vehicles_upserted += 1;
        tx.execute(
            "INSERT INTO terminals (phone, terminal_id, vehicle) VALUES ($1, $2, $3) ON CONFLICT (phone) DO \
             UPDATE SET terminal_id = excluded.terminal_id, vehicle = excluded.vehicle",
            params![r.phone.to_string(), r.terminal_id.trim(), vehicle],
        )
        .await?;
        summary.terminals_upserted += 1;
    }
    Ok(summary)
}

impl Store {
    /// Provisions units, vehicles and terminals; all or nothing, idempotent on re-import.
    pub async fn import_registry(&self, records: &[RegistryRecord]) -> Result<ImportSummary> {
        validate_records(records)?;
        let records = records.to_vec();
        self.db().write(tx!(|tx| import(tx, &records))).await
    }

    /// All units.
    pub async fn units(&self) -> Result<Vec<Unit>> {
        self.db().rows(UNITS_SQL.into(), Vec::new(), to_unit).await
    }

    /// All vehicles.
    pub async fn vehicles(&self) -> Result<Vec<Vehicle>> {
        let sql = format!("SELECT {VEHICLE_COLS} FROM vehicles ORDER BY id");
        self.db().rows(sql, Vec::new(), to_vehicle).await
    }

    /// A vehicle by id.
    pub async fn vehicle(&self, id: VehicleId) -> Result<Option<Vehicle>> {
        let sql = format!("SELECT {VEHICLE_COLS} FROM vehicles WHERE id = $1");
        self.db().row(sql, vec![id.0.into()], to_vehicle).await
    }

    /// A vehicle by plate.
    pub async fn vehicle_by_plate(&self, plate: &str) -> Result<Option<Vehicle>> {
        let sql = format!("SELECT {VEHICLE_COLS} FROM vehicles WHERE plate = $1");
        self.db().row(sql, vec![plate.trim().into()], to_vehicle).await
    }

    /// A terminal by phone (the gateway asks at every registration and login: concurrent lookups share one
    /// query).
    pub async fn terminal(&self, phone: Phone) -> Result<Option<Terminal>> {
        self.registry_batch().terminal(phone).await
    }

    /// All terminals, by vehicle.
    pub async fn terminals(&self) -> Result<Vec<Terminal>> {
        let sql = format!("SELECT {TERMINAL_COLS} FROM terminals ORDER BY vehicle, phone");
        self.db().rows(sql, Vec::new(), to_terminal).await
    }

    /// Records a registration: the edition, the hash of the new auth code and (2019) the IMEI; an
    /// unknown phone is [`Error::NotFound`]. Concurrent registrations share one transaction; each
    /// resolves once its own is durable.
    pub async fn save_registration(
        &self,
        phone: Phone,
        edition: Edition,
        auth_code_hash: &str,
        imei: Option<&str>,
    ) -> Result<()> {
        let r = Registration {
            phone,
            edition,
            hash: auth_code_hash.to_string(),
            imei: imei.map(str::to_string),
        };
        self.registry_batch().save(r).await
    }

    /// Records the steady clock offset found in a terminal's live fixes at `at` (see
    /// [`tianshu_model::clock::ClockWatch`]); an unknown phone changes nothing.
    pub async fn save_clock_found(&self, phone: Phone, offset_secs: i32, at: Timestamp) -> Result<()> {
        let sql = "UPDATE terminals SET clock_found_offset_secs = $2, clock_found_at = $3 WHERE phone = $1";
        let args = params![phone.to_string(), offset_secs, at].to_vec();
        self.db().execute(sql, args).await.map(drop)
    }

    /// Records that a terminal holding a code registered again: the new code waits beside the current one
    /// (replacing an older pending one) in the state its unit and proof give it, and the terminal's count
    /// of re-registrations moves on. An unknown phone is [`Error::NotFound`].
    pub async fn reregister(&self, phone: Phone, r: &Reregistration, now: Timestamp) -> Result<Reregistered> {
        let r = r.clone();
        self.db().write(tx!(|tx| reregister(tx, phone, r, now))).await
    }

    /// Settles the pending code `seen` (as read): `promote` makes it the current code (with its edition, and
    /// `imei` recorded when none was), else it is dropped. `false` when the terminal no longer holds it (a
    /// newer registration replaced it meanwhile): nothing changed.
    pub async fn settle_pending(
        &self,
        phone: Phone,
        seen: &PendingRegistration,
        promote: bool,
        imei: Option<&str>,
    ) -> Result<bool> {
        let sql = "UPDATE terminals SET auth_code_hash = CASE WHEN $3 THEN $4 ELSE auth_code_hash END, \
                   edition = CASE WHEN $3 THEN $5 ELSE edition END, \
                   imei = CASE WHEN $3 THEN COALESCE($6, imei) ELSE imei END, pending_registration = NULL \
                   WHERE phone = $1 AND pending_registration = $2";
        let args = params![
            phone.to_string(),
            pending_json(Some(seen)),
            promote,
            &seen.code_hash,
            seen.edition.as_str(),
            imei
        ];
        Ok(self.db().execute(sql, args.to_vec()).await? > 0)
    }

    /// Stores a driver sign-in or sign-out (idempotent on vehicle, time and direction).
    pub async fn append_driver_event(&self, event: &DriverEvent) -> Result<()> {
        let sql = "INSERT INTO driver_events (vehicle, phone, time, signed_in, name, certificate) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
        let e = event.clone();
        let args = params![
            e.vehicle.0,
            e.phone.to_string(),
            e.time,
            e.signed_in,
            e.name,
            e.certificate
        ];
        self.db().execute(sql, args.to_vec()).await.map(drop)
    }

    /// Driver events of one vehicle with `from <= time < to`, in time order.
    pub async fn driver_events(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DriverEvent>> {
        let sql = "SELECT vehicle, phone, time, signed_in, name, certificate FROM driver_events \
                   WHERE vehicle = $1 AND time >= $2 AND time < $3 ORDER BY time, signed_in";
        let to_event = |r: &Row| {
            Ok(DriverEvent {
                vehicle: VehicleId(r.int(0)?),
                phone: parse_stored_phone(&r.text(1)?)?,
                time: Timestamp(r.int(2)?),
                signed_in: r.bool(3)?,
                name: r.opt_text(4)?,
                certificate: r.opt_text(5)?,
            })
        };
        let args = vec![vehicle.0.into(), from.into(), to.into()];
        self.db().rows(sql.into(), args, to_event).await
    }
}

//! Editing the registry one record at a time: units (a tree), vehicles and terminals, as an
//! administrator does through the web API. Imports ([`crate::Store::import_registry`]) provision in
//! bulk; these calls create, change and delete single records with the same checks
//! (`registry_file.rs`), and answer a clash with [`Error::Conflict`] rather than overwriting.
//!
//! Invariants: a unit's `path` (its names from the root, the import key) always matches its place in
//! the tree, so renaming or moving a unit rewrites the paths of its whole subtree in the same
//! transaction, and a unit can never be moved below itself. A unit with vehicles, sub-units or users
//! cannot be deleted, nor a vehicle with a bound terminal or a stored track (its history must stay
//! replayable). Rebinding a terminal clears its auth code (and a pending one), so it must register again.
//! An administrator approves or rejects a terminal's pending re-registration here too. Every change
//! of a unit or a vehicle moves the rules' reference stamp ([`crate::stamp`]) in its own transaction,
//! so running rules pick up a car's new unit or class.
//!
//! Edits are serialised against each other and against imports (`Tx::lock`). Each returns a
//! [`Change`]: awaited as it is, it is not audited (the command line); `.audited(Some(audit))` commits
//! the audit record in the edit's transaction (the API), so no edit escapes the log.
//!
//! Written once over [`crate::sql::Tx`]; reached through [`crate::Store::registry_admin`].

use tianshu_model::Timestamp;
use tianshu_model::clock::check_clock_offset;
pub use tianshu_model::registry_file::{NewTerminal, TerminalChange, UnitChange, VehicleChange};
use tianshu_model::registry_file::{below, child_path, move_unit_path};
use tianshu_model::{PendingRegistration, Phone, Terminal, Unit, UnitId, Vehicle, VehicleClass, VehicleId};

use crate::db::{Change, Db};
use crate::registry::{REGISTRY_LOCK_KEY, parse_class, pending_json, returned_id, terminal};
use crate::registry_file::{check_plate, check_terminal_id, check_unit_name};
use crate::sql::{Tx, params, tx};
use crate::stamp::next_stamp;
use crate::{BackendKind, Error, Result, Store};

/// Checks a unit's own name; returns it trimmed.
fn checked_unit_name(name: &str) -> Result<String> {
    check_unit_name(name).map(str::to_string).map_err(Error::invalid)
}

/// Checks a plate; returns it trimmed.
fn checked_plate(plate: &str) -> Result<String> {
    check_plate(plate).map(str::to_string).map_err(Error::invalid)
}

/// Checks a terminal id; returns it trimmed.
fn checked_terminal_id(id: &str) -> Result<String> {
    check_terminal_id(id).map(str::to_string).map_err(Error::invalid)
}

/// Starts an edit inside `tx`: serialised against every other registry write.
async fn begin(tx: &mut dyn Tx) -> Result<()> {
    tx.lock(REGISTRY_LOCK_KEY).await
}

/// (name, parent, path) of a unit.
async fn unit_row(tx: &mut dyn Tx, id: UnitId) -> Result<Option<(String, Option<UnitId>, String)>> {
    match tx
        .opt(
            "SELECT name, parent, path FROM units WHERE id = $1",
            params![id.0],
        )
        .await?
    {
        Some(r) => Ok(Some((r.text(0)?, r.opt_int(1)?.map(UnitId), r.text(2)?))),
        None => Ok(None),
    }
}

/// The path of unit `id`, which a field of the request names: unknown is [`Error::Invalid`].
async fn named_unit_path(tx: &mut dyn Tx, field: &str, id: UnitId) -> Result<String> {
    match unit_row(tx, id).await? {
        Some((_, _, path)) => Ok(path),
        None => Err(Error::invalid(format!("{field}: there is no unit {id}"))),
    }
}

async fn count(tx: &mut dyn Tx, sql: &str, id: i64) -> Result<i64> {
    match tx.opt(sql, params![id]).await? {
        Some(r) => r.int(0),
        None => Ok(0),
    }
}

async fn conflict_if_path_taken(tx: &mut dyn Tx, path: &str) -> Result<()> {
    match tx
        .opt("SELECT id FROM units WHERE path = $1", params![path])
        .await?
    {
        Some(r) => Err(Error::Conflict(format!(
            "unit {path:?} already exists (unit {})",
            r.int(0)?
        ))),
        None => Ok(()),
    }
}

async fn conflict_if_plate_taken(tx: &mut dyn Tx, plate: &str, except: Option<VehicleId>) -> Result<()> {
    match tx
        .opt("SELECT id FROM vehicles WHERE plate = $1", params![plate])
        .await?
    {
        Some(r) if Some(VehicleId(r.int(0)?)) != except => Err(Error::Conflict(format!(
            "plate {plate} is already vehicle {}",
            r.int(0)?
        ))),
        _ => Ok(()),
    }
}

/// Checks that the vehicle a terminal is to be bound to exists.
async fn check_binding(tx: &mut dyn Tx, vehicle: Option<VehicleId>) -> Result<()> {
    match vehicle {
        Some(v) if count(tx, "SELECT COUNT(*) FROM vehicles WHERE id = $1", v.0).await? == 0 => {
            Err(Error::invalid(format!("vehicle: there is no vehicle {v}")))
        }
        _ => Ok(()),
    }
}

/// The terminal as stored after an edit in `tx`.
async fn terminal_after(tx: &mut dyn Tx, phone: Phone) -> Result<Terminal> {
    terminal(tx, phone)
        .await?
        .ok_or_else(|| Error::NotFound(format!("terminal {phone}")))
}

async fn create_unit(tx: &mut dyn Tx, name: String, parent: Option<UnitId>) -> Result<Unit> {
    let name = checked_unit_name(&name)?;
    begin(tx).await?;
    let parent_path = match parent {
        Some(p) => Some(named_unit_path(tx, "parent", p).await?),
        None => None,
    };
    let path = child_path(parent_path.as_deref(), &name);
    conflict_if_path_taken(tx, &path).await?;
    let sql = "INSERT INTO units (name, parent, path) VALUES ($1, $2, $3) RETURNING id";
    let id = returned_id(tx, sql, params![&name, parent.map(|p| p.0), &path]).await?;
    next_stamp(tx, Timestamp::now()).await?;
    Ok(Unit::new(UnitId(id), name, parent))
}

/// Rewrites the paths of unit `old` and its subtree to start with `new`, and the depots that name
/// them (a depot names its unit by path).
async fn move_subtree(tx: &mut dyn Tx, old: &str, new: &str) -> Result<()> {
    conflict_if_path_taken(tx, new).await?;
    tx.execute(
        "UPDATE units SET path = CAST($1 AS TEXT) || substr(path, length(CAST($2 AS TEXT)) + 1) \
         WHERE path = CAST($2 AS TEXT) OR substr(path, 1, length(CAST($2 AS TEXT)) + 1) = CAST($2 AS TEXT) || '/'",
        params![new, old],
    )
    .await?;
    // Fences without a "unit" key cannot name one; the rest are checked here, not in SQL, so that
    // both databases read the JSON alike.
    let fences = tx
        .query(
            "SELECT id, body FROM rules_geofences WHERE body LIKE '%\"unit\"%'",
            &[],
        )
        .await?;
    for r in fences {
        let id = r.int(0)?;
        let mut body: serde_json::Value =
            serde_json::from_str(&r.text(1)?).map_err(|e| Error::Corrupt(format!("geofence {id}: {e}")))?;
        if !move_unit_path(&mut body, old, new) {
            continue;
        }
        tx.execute(
            "UPDATE rules_geofences SET body = $2, updated_ms = $3 WHERE id = $1",
            params![id, body.to_string(), Timestamp::now()],
        )
        .await?;
    }
    Ok(())
}

async fn update_unit(tx: &mut dyn Tx, id: UnitId, change: UnitChange) -> Result<Unit> {
    let new_name = change.name.as_deref().map(checked_unit_name).transpose()?;
    begin(tx).await?;
    let (name, parent, old_path) = unit_row(tx, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("unit {id}")))?;
    let name = new_name.unwrap_or(name);
    let parent = change.parent.unwrap_or(parent);
    let parent_path = match parent {
        Some(p) => {
            let pp = named_unit_path(tx, "parent", p).await?;
            if p == id || below(&pp, &old_path).is_some() {
                return Err(Error::invalid(format!(
                    "parent: unit {p} is unit {id} or below it; a unit cannot move below itself"
                )));
            }
            Some(pp)
        }
        None => None,
    };
    let path = child_path(parent_path.as_deref(), &name);
    if path != old_path {
        move_subtree(tx, &old_path, &path).await?;
    }
    let sql = "UPDATE units SET name = $2, parent = $3, reregistration_approval = \
               COALESCE($4, reregistration_approval) WHERE id = $1 RETURNING reregistration_approval";
    let approval = params![id.0, &name, parent.map(|p| p.0), change.reregistration_approval];
    let reregistration_approval = tx.opt(sql, approval).await?.map_or(Ok(false), |r| r.bool(0))?;
    next_stamp(tx, Timestamp::now()).await?;
    Ok(Unit {
        id,
        name,
        parent,
        reregistration_approval,
    })
}

async fn delete_unit(tx: &mut dyn Tx, id: UnitId) -> Result<()> {
    begin(tx).await?;
    if unit_row(tx, id).await?.is_none() {
        return Err(Error::NotFound(format!("unit {id}")));
    }
    let vehicles = count(tx, "SELECT COUNT(*) FROM vehicles WHERE unit = $1", id.0).await?;
    let children = count(tx, "SELECT COUNT(*) FROM units WHERE parent = $1", id.0).await?;
    let users = count(tx, "SELECT COUNT(*) FROM access_users WHERE unit_id = $1", id.0).await?;
    let drivers = count(tx, "SELECT COUNT(*) FROM drivers WHERE unit = $1", id.0).await?;
    if vehicles + children + users + drivers > 0 {
        return Err(Error::Conflict(format!(
            "unit {id} still has {vehicles} vehicles, {children} sub-units, {users} users and {drivers} drivers"
        )));
    }
    tx.execute("DELETE FROM units WHERE id = $1", params![id.0])
        .await?;
    next_stamp(tx, Timestamp::now()).await.map(drop)
}

/// A marking number as stored: checked and trimmed, `None` when empty.
fn checked_marking(marking: Option<&str>) -> Result<Option<String>> {
    marking
        .map(|m| {
            tianshu_model::registry_file::check_marking(m)
                .map(|m| m.map(str::to_string))
                .map_err(|reason| Error::Invalid { line: None, reason })
        })
        .transpose()
        .map(Option::flatten)
}

async fn create_vehicle(
    tx: &mut dyn Tx,
    plate: String,
    unit: UnitId,
    class: VehicleClass,
    marking: Option<String>,
) -> Result<Vehicle> {
    let plate = checked_plate(&plate)?;
    let marking = checked_marking(marking.as_deref())?;
    begin(tx).await?;
    named_unit_path(tx, "unit", unit).await?;
    conflict_if_plate_taken(tx, &plate, None).await?;
    let sql = "INSERT INTO vehicles (plate, unit, class, marking) VALUES ($1, $2, $3, $4) RETURNING id";
    let id = returned_id(tx, sql, params![&plate, unit.0, class.as_str(), marking.clone()]).await?;
    next_stamp(tx, Timestamp::now()).await?;
    Ok(Vehicle {
        id: VehicleId(id),
        plate,
        unit,
        class,
        marking,
    })
}

async fn update_vehicle(tx: &mut dyn Tx, id: VehicleId, change: VehicleChange) -> Result<Vehicle> {
    let new_plate = change.plate.as_deref().map(checked_plate).transpose()?;
    begin(tx).await?;
    let row = tx
        .opt(
            "SELECT plate, unit, class, marking FROM vehicles WHERE id = $1",
            params![id.0],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("vehicle {id}")))?;
    let plate = match new_plate {
        Some(p) => p,
        None => row.text(0)?,
    };
    conflict_if_plate_taken(tx, &plate, Some(id)).await?;
    let unit = change.unit.unwrap_or(UnitId(row.int(1)?));
    named_unit_path(tx, "unit", unit).await?;
    let class = match change.class {
        Some(c) => c,
        None => parse_class(id.0, &row.text(2)?)?,
    };
    let marking = match change.marking.as_deref() {
        Some(m) => checked_marking(Some(m))?,
        None => row.opt_text(3)?,
    };
    tx.execute(
        "UPDATE vehicles SET plate = $2, unit = $3, class = $4, marking = $5 WHERE id = $1",
        params![id.0, &plate, unit.0, class.as_str(), marking.clone()],
    )
    .await?;
    next_stamp(tx, Timestamp::now()).await?;
    Ok(Vehicle {
        id,
        plate,
        unit,
        class,
        marking,
    })
}

/// `held_back`: the backend holds a newest point of the vehicle that `latest_positions` does not show yet.
async fn delete_vehicle(tx: &mut dyn Tx, id: VehicleId, held_back: bool) -> Result<()> {
    begin(tx).await?;
    if count(tx, "SELECT COUNT(*) FROM vehicles WHERE id = $1", id.0).await? == 0 {
        return Err(Error::NotFound(format!("vehicle {id}")));
    }
    let terminals = count(tx, "SELECT COUNT(*) FROM terminals WHERE vehicle = $1", id.0).await?;
    if terminals > 0 {
        return Err(Error::Conflict(format!(
            "vehicle {id} still has {terminals} terminals bound; unbind or delete them first"
        )));
    }
    let tracked = i64::from(held_back)
        + count(
            tx,
            "SELECT COUNT(*) FROM latest_positions WHERE vehicle = $1",
            id.0,
        )
        .await?
        + count(tx, "SELECT COUNT(*) FROM alert_cases WHERE vehicle_id = $1", id.0).await?;
    if tracked > 0 {
        return Err(Error::Conflict(format!(
            "vehicle {id} has a stored track or alert cases, which must stay replayable"
        )));
    }
    tx.execute("DELETE FROM vehicles WHERE id = $1", params![id.0])
        .await?;
    next_stamp(tx, Timestamp::now()).await.map(drop)
}

async fn create_terminal(tx: &mut dyn Tx, t: NewTerminal) -> Result<Terminal> {
    let terminal_id = checked_terminal_id(&t.terminal_id)?;
    begin(tx).await?;
    if terminal(tx, t.phone).await?.is_some() {
        return Err(Error::Conflict(format!("terminal {} already exists", t.phone)));
    }
    check_binding(tx, t.vehicle).await?;
    tx.execute(
        "INSERT INTO terminals (phone, terminal_id, edition, vehicle) VALUES ($1, $2, $3, $4)",
        params![
            t.phone.to_string(),
            terminal_id,
            t.edition.map(|e| e.as_str()),
            t.vehicle.map(|v| v.0)
        ],
    )
    .await?;
    terminal_after(tx, t.phone).await
}

async fn update_terminal(tx: &mut dyn Tx, phone: Phone, change: TerminalChange) -> Result<Terminal> {
    let new_id = change
        .terminal_id
        .as_deref()
        .map(checked_terminal_id)
        .transpose()?;
    begin(tx).await?;
    let before = terminal(tx, phone)
        .await?
        .ok_or_else(|| Error::NotFound(format!("terminal {phone}")))?;
    let vehicle = change.vehicle.unwrap_or(before.vehicle);
    check_binding(tx, vehicle).await?;
    let reset = change.reset_auth_code || vehicle != before.vehicle;
    let clock_offset = change.clock_offset_secs.unwrap_or(before.clock_offset_secs);
    check_clock_offset(clock_offset).map_err(Error::invalid)?;
    tx.execute(
        "UPDATE terminals SET terminal_id = $2, vehicle = $3, \
         auth_code_hash = CASE WHEN $4 THEN NULL ELSE auth_code_hash END, clock_offset_secs = $5, \
         pending_registration = CASE WHEN $4 THEN NULL ELSE pending_registration END WHERE phone = $1",
        params![
            phone.to_string(),
            new_id.unwrap_or(before.terminal_id),
            vehicle.map(|v| v.0),
            reset,
            clock_offset
        ],
    )
    .await?;
    terminal_after(tx, phone).await
}

/// An administrator's decision on a terminal's pending re-registration: approved (its code may then
/// authenticate) or rejected (dropped); see [`PendingRegistration::decide`].
async fn decide_reregistration(tx: &mut dyn Tx, phone: Phone, approve: bool) -> Result<Terminal> {
    begin(tx).await?;
    let before = terminal_after(tx, phone).await?;
    let after = PendingRegistration::decide(before.pending.as_ref(), approve).map_err(Error::Conflict)?;
    // Compared with the pending code as read: the gateway writes without the registry lock.
    let changed = tx
        .execute(
            "UPDATE terminals SET pending_registration = $3 WHERE phone = $1 AND pending_registration = $2",
            params![
                phone.to_string(),
                pending_json(before.pending.as_ref()),
                pending_json(after.as_ref())
            ],
        )
        .await?;
    if changed == 0 {
        return Err(Error::Conflict(format!(
            "terminal {phone} registered again meanwhile; decide on the new registration"
        )));
    }
    terminal_after(tx, phone).await
}

async fn delete_terminal(tx: &mut dyn Tx, phone: Phone) -> Result<()> {
    begin(tx).await?;
    let n = tx
        .execute(
            "DELETE FROM terminals WHERE phone = $1",
            params![phone.to_string()],
        )
        .await?;
    if n == 0 {
        return Err(Error::NotFound(format!("terminal {phone}")));
    }
    Ok(())
}

/// Whether the backend holds a newest point of `vehicle` that `latest_positions` does not show yet
/// (the PostgreSQL backend writes that table behind its commits): the vehicle has a track all the same.
fn latest_held_back(db: &Db, vehicle: VehicleId) -> bool {
    matches!(&db.0, BackendKind::Postgres(b) if b.latest.get(vehicle.0).is_some())
}

/// One-record edits of a store's registry; reached through [`Store::registry_admin`]. Each call returns
/// a [`Change`] to await, audited or not.
#[derive(Clone, Copy)]
pub struct RegistryAdmin<'a> {
    db: &'a Db,
}

impl<'a> RegistryAdmin<'a> {
    /// Creates a unit below `parent` (or a root); a sibling with the same name is [`Error::Conflict`],
    /// an unknown parent [`Error::Invalid`].
    pub fn create_unit(&self, name: &str, parent: Option<UnitId>) -> Change<'a, Unit> {
        let name = name.to_string();
        Change::new(self.db, tx!(|tx| create_unit(tx, name, parent)))
    }

    /// Renames or moves a unit (and rewrites its subtree's paths, and the unit path of every depot
    /// in that subtree, in the same transaction); moving it below itself is
    /// [`Error::Invalid`], a name taken among the new siblings [`Error::Conflict`].
    pub fn update_unit(&self, id: UnitId, change: &UnitChange) -> Change<'a, Unit> {
        let change = change.clone();
        Change::new(self.db, tx!(|tx| update_unit(tx, id, change)))
    }

    /// Deletes a unit without vehicles, sub-units, users or drivers (otherwise [`Error::Conflict`]).
    pub fn delete_unit(&self, id: UnitId) -> Change<'a, ()> {
        Change::new(self.db, tx!(|tx| delete_unit(tx, id)))
    }

    /// Creates a vehicle; a plate taken is [`Error::Conflict`], an unknown unit [`Error::Invalid`].
    pub fn create_vehicle(&self, plate: &str, unit: UnitId, class: VehicleClass) -> Change<'a, Vehicle> {
        self.create_marked_vehicle(plate, unit, class, None)
    }

    /// Creates a vehicle with its marking number (标识号), as [`Self::create_vehicle`]; a bad marking
    /// number is [`Error::Invalid`].
    pub fn create_marked_vehicle(
        &self,
        plate: &str,
        unit: UnitId,
        class: VehicleClass,
        marking: Option<&str>,
    ) -> Change<'a, Vehicle> {
        let (plate, marking) = (plate.to_string(), marking.map(str::to_string));
        Change::new(self.db, tx!(|tx| create_vehicle(tx, plate, unit, class, marking)))
    }

    /// Changes a vehicle's plate, unit, class or marking number.
    pub fn update_vehicle(&self, id: VehicleId, change: &VehicleChange) -> Change<'a, Vehicle> {
        let change = change.clone();
        Change::new(self.db, tx!(|tx| update_vehicle(tx, id, change)))
    }

    /// Deletes a vehicle without a bound terminal and without a stored track or alert cases
    /// (otherwise [`Error::Conflict`]).
    pub fn delete_vehicle(&self, id: VehicleId) -> Change<'a, ()> {
        let db = self.db.clone();
        Change::new(
            self.db,
            tx!(|tx| delete_vehicle(tx, id, latest_held_back(&db, id))),
        )
    }

    /// Provisions a terminal; a phone taken is [`Error::Conflict`], an unknown vehicle [`Error::Invalid`].
    pub fn create_terminal(&self, terminal: &NewTerminal) -> Change<'a, Terminal> {
        let t = terminal.clone();
        Change::new(self.db, tx!(|tx| create_terminal(tx, t)))
    }

    /// Changes a terminal's id, binding or clock offset (one that is no clock offset is
    /// [`Error::Invalid`]), or makes it register again.
    pub fn update_terminal(&self, phone: Phone, change: &TerminalChange) -> Change<'a, Terminal> {
        let change = change.clone();
        Change::new(self.db, tx!(|tx| update_terminal(tx, phone, change)))
    }

    /// Approves (`approve`) or rejects a terminal's re-registration: approving lets a code awaiting
    /// approval authenticate, rejecting drops the pending code. No such re-registration is
    /// [`Error::Conflict`].
    pub fn decide_reregistration(&self, phone: Phone, approve: bool) -> Change<'a, Terminal> {
        Change::new(self.db, tx!(|tx| decide_reregistration(tx, phone, approve)))
    }

    /// Deletes a terminal; it can no longer authenticate.
    pub fn delete_terminal(&self, phone: Phone) -> Change<'a, ()> {
        Change::new(self.db, tx!(|tx| delete_terminal(tx, phone)))
    }
}

impl Store {
    /// One-record edits of this store's registry.
    pub fn registry_admin(&self) -> RegistryAdmin<'_> {
        RegistryAdmin { db: self.db() }
    }
}

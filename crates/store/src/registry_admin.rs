//! Editing the registry one record at a time: units (a tree), vehicles and terminals, as an
//! administrator does through the web API. Imports ([`crate::Backend::import_registry`]) provision in
//! bulk; these calls create, change and delete single records with the same checks
//! (`registry_file.rs`), and answer a clash with [`Error::Conflict`] rather than overwriting.
//!
//! Invariants: a unit's `path` (its names from the root, the import key) always matches its place in
//! the tree, so renaming or moving a unit rewrites the paths of its whole subtree in the same
//! transaction, and a unit can never be moved below itself. A unit with vehicles, sub-units or users
//! cannot be deleted, nor a vehicle with a bound terminal or a stored track (its history must stay
//! replayable). Rebinding a terminal clears its auth code, so it must register again. Every change
//! moves the rules' reference stamp ([`crate::rules::RulesStore::reference_stamp`]) in its own
//! transaction, so running rules pick up a car's new unit or class.
//!
//! Implementations in `embedded/registry.rs` and `postgres/registry.rs`; reached through
//! [`crate::Store::registry_admin`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tianshu_model::{Edition, Phone, Terminal, Unit, UnitId, Vehicle, VehicleClass, VehicleId};

use crate::registry_file::{check_plate, check_terminal_id, check_unit_name};
use crate::{BackendKind, Error, Result, Store};

/// Changes to a unit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitChange {
    /// New name.
    pub name: Option<String>,
    /// New parent (`Some(None)`: make it a root).
    pub parent: Option<Option<UnitId>>,
}

/// Changes to a vehicle; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleChange {
    /// New plate.
    pub plate: Option<String>,
    /// New unit.
    pub unit: Option<UnitId>,
    /// New class.
    pub class: Option<VehicleClass>,
}

/// A terminal to provision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTerminal {
    /// Phone number in the JT/T 808 header.
    pub phone: Phone,
    /// Terminal id as the terminal will send it in 0x0100.
    pub terminal_id: String,
    /// The vehicle it is fitted to.
    pub vehicle: Option<VehicleId>,
    /// The edition it speaks, when known before it registers.
    pub edition: Option<Edition>,
}

/// Changes to a terminal; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalChange {
    /// New terminal id.
    pub terminal_id: Option<String>,
    /// New binding (`Some(None)`: unbind). A different vehicle clears the auth code.
    pub vehicle: Option<Option<VehicleId>>,
    /// Clear the auth code even without a rebinding: the terminal must register again.
    pub reset_auth_code: bool,
}

/// Checks a unit change before any backend sees it; returns the trimmed name.
pub(crate) fn checked_unit_name(name: &str) -> Result<String> {
    check_unit_name(name).map(str::to_string).map_err(invalid)
}

/// Checks a plate; returns it trimmed.
pub(crate) fn checked_plate(plate: &str) -> Result<String> {
    check_plate(plate).map(str::to_string).map_err(invalid)
}

/// Checks a terminal id; returns it trimmed.
pub(crate) fn checked_terminal_id(id: &str) -> Result<String> {
    check_terminal_id(id).map(str::to_string).map_err(invalid)
}

fn invalid(reason: String) -> Error {
    Error::Invalid { line: None, reason }
}

/// The path of a unit placed below `parent_path` (or at the root).
pub(crate) fn child_path(parent_path: Option<&str>, name: &str) -> String {
    match parent_path {
        Some(p) => format!("{p}/{name}"),
        None => name.to_string(),
    }
}

/// The current time, for the reference stamp.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One-record edits of the registry. Implemented by the embedded and PostgreSQL backends.
#[async_trait]
pub trait RegistryAdmin: Send + Sync + 'static {
    /// Creates a unit below `parent` (or a root); a sibling with the same name is [`Error::Conflict`],
    /// an unknown parent [`Error::Invalid`].
    async fn create_unit(&self, name: &str, parent: Option<UnitId>) -> Result<Unit>;

    /// Renames or moves a unit (and rewrites its subtree's paths, and the unit path of every depot
    /// in that subtree, in the same transaction); moving it below itself is
    /// [`Error::Invalid`], a name taken among the new siblings [`Error::Conflict`].
    async fn update_unit(&self, id: UnitId, change: &UnitChange) -> Result<Unit>;

    /// Deletes a unit without vehicles, sub-units or users (otherwise [`Error::Conflict`]).
    async fn delete_unit(&self, id: UnitId) -> Result<()>;

    /// Creates a vehicle; a plate taken is [`Error::Conflict`], an unknown unit [`Error::Invalid`].
    async fn create_vehicle(&self, plate: &str, unit: UnitId, class: VehicleClass) -> Result<Vehicle>;

    /// Changes a vehicle's plate, unit or class.
    async fn update_vehicle(&self, id: VehicleId, change: &VehicleChange) -> Result<Vehicle>;

    /// Deletes a vehicle without a bound terminal and without a stored track (otherwise
    /// [`Error::Conflict`]).
    async fn delete_vehicle(&self, id: VehicleId) -> Result<()>;

    /// Provisions a terminal; a phone taken is [`Error::Conflict`], an unknown vehicle [`Error::Invalid`].
    async fn create_terminal(&self, terminal: &NewTerminal) -> Result<Terminal>;

    /// Changes a terminal's id or binding, or makes it register again.
    async fn update_terminal(&self, phone: Phone, change: &TerminalChange) -> Result<Terminal>;

    /// Deletes a terminal; it can no longer authenticate.
    async fn delete_terminal(&self, phone: Phone) -> Result<()>;
}

impl Store {
    /// One-record edits of this store's registry.
    pub fn registry_admin(&self) -> &dyn RegistryAdmin {
        match self.kind() {
            BackendKind::Embedded(b) => &**b,
            BackendKind::Postgres(b) => &**b,
        }
    }
}

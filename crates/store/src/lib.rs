//! Tianshu's storage: track points, latest positions, and the registry (units, vehicles, terminals).
//!
//! One interface, [`Backend`], and two real implementations selected by URL ([`Store::open`]):
//! an embedded store (a file path; the default, nothing to install) and PostgreSQL/TimescaleDB
//! (`postgres://...`). The rest of Tianshu holds a [`Store`] and never knows which one it has.
//!
//! Invariants every backend keeps:
//! - `append_points` resolves only when the points are durable (they survive `kill -9` of the process).
//! - Points are idempotent on (vehicle, fix time, [`Position::block_hash`]): a retransmission, a 0x0704
//!   backfill of a stored point or an MQTT redelivery is stored once.
//! - The latest position of a vehicle only moves forward in fix time.
//! - Schema changes are versioned migrations applied at open; re-running them is a no-op.
#![deny(missing_docs)]

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tianshu_model::{Phone, Position, Terminal, Timestamp, Unit, Vehicle, VehicleClass, VehicleId};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database cannot be reached or refused the operation; nothing was committed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store URL does not name a backend.
    #[error("bad store URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it is not usable.
        reason: String,
    },
    /// An input record is invalid; `line` is 1-based when the input came from a file.
    #[error("{}{reason}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Invalid {
        /// The line of the offending record in the input file, when known.
        line: Option<usize>,
        /// What is wrong with it.
        reason: String,
    },
    /// A referenced record does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A migration failed; the schema is left at the last good version.
    #[error("migration {version} failed: {reason}")]
    Migration {
        /// The migration's version number.
        version: u32,
        /// The database's message.
        reason: String,
    },
    /// The writer was shut down before the append was committed.
    #[error("the store writer has shut down")]
    Closed,
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppendSummary {
    /// Points newly stored.
    pub inserted: u64,
    /// Points that were already there (retransmission, overlapping backfill, redelivery).
    pub duplicates: u64,
}

/// One row of a registry import (`unit,plate,phone,terminal_id,vehicle_class`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRecord {
    /// Unit name; a `/`-separated path (`黄石市/市委办公室`) places it in the tree.
    pub unit: String,
    /// Licence plate.
    pub plate: String,
    /// Terminal phone number.
    pub phone: Phone,
    /// Terminal id as the terminal will send it in 0x0100.
    pub terminal_id: String,
    /// Vehicle class.
    pub vehicle_class: VehicleClass,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Units created.
    pub units_created: u64,
    /// Vehicles created or updated.
    pub vehicles_upserted: u64,
    /// Terminals created or updated.
    pub terminals_upserted: u64,
}

/// A driver sign-in or sign-out (0x0702).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverEvent {
    /// The vehicle.
    pub vehicle: VehicleId,
    /// The terminal that reported it.
    pub phone: Phone,
    /// When the card was inserted or removed (terminal time).
    pub time: Timestamp,
    /// True for sign-in (card inserted), false for sign-out.
    pub signed_in: bool,
    /// Driver name, when read.
    pub name: Option<String>,
    /// Qualification certificate number, when read.
    pub certificate: Option<String>,
}

/// A stream of track points in fix-time order.
pub type TrackStream = BoxStream<'static, Result<Position>>;

/// The storage interface. Implemented by the embedded and PostgreSQL backends.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Stores a batch; resolves only when it is durable. Idempotent per point.
    async fn append_points(&self, points: &[Position]) -> Result<AppendSummary>;

    /// The latest position of every vehicle that has one, in one query.
    async fn latest_positions(&self) -> Result<Vec<Position>>;

    /// The points of one vehicle with `from <= fix_time < to`, in fix-time order, streamed.
    async fn track(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<TrackStream>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// Provisions units, vehicles and terminals; all or nothing, idempotent on re-import.
    async fn import_registry(&self, records: &[RegistryRecord]) -> Result<ImportSummary>;

    /// All units.
    async fn units(&self) -> Result<Vec<Unit>>;

    /// All vehicles.
    async fn vehicles(&self) -> Result<Vec<Vehicle>>;

    /// A vehicle by plate.
    async fn vehicle_by_plate(&self, plate: &str) -> Result<Option<Vehicle>>;

    /// A terminal by phone.
    async fn terminal(&self, phone: Phone) -> Result<Option<Terminal>>;

    /// All terminals.
    async fn terminals(&self) -> Result<Vec<Terminal>>;

    /// Records a registration: the edition, the hash of the new auth code and (2019) the IMEI.
    async fn save_registration(
        &self,
        phone: Phone,
        edition: tianshu_model::Edition,
        auth_code_hash: &str,
        imei: Option<&str>,
    ) -> Result<()>;

    /// Stores a driver sign-in or sign-out.
    async fn append_driver_event(&self, event: &DriverEvent) -> Result<()>;
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

impl Store {
    /// Wraps a backend.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Store(backend)
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        &*self.0
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

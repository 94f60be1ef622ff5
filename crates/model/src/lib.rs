//! Tianshu's shared domain types.
//!
//! Everything here is plain data and pure functions: identifiers, instants, positions and their packed
//! stored form, the JT/T 808 alarm and status words, alert cases and their transitions, registry
//! records and files, the rules' stored reference rows, roles, users and the audit log's chain and anchors.
//! No I/O, no clock: the crates above decide where data comes from and when "now" is.
//! Positions keep the protocol's integer units (micro-degrees, 0.1 km/h) so that a point stored and
//! read back is bit-for-bit the point the terminal sent.
#![deny(missing_docs)]

pub mod access;
pub mod audit;
pub mod block;
pub mod carpool;
pub mod case;
pub mod clock;
pub mod complaint;
pub mod driver;
mod flags;
pub mod fuel;
pub mod geo;
mod ids;
mod lang;
mod position;
pub mod record;
mod redact;
pub mod reference;
mod registry;
pub mod registry_file;
mod time;

pub use case::CaseState;
pub use clock::ClockWatch;
pub use flags::{AlarmBit, AlarmFlags, StatusFlags};
pub use geo::LonLat;
pub use ids::{ParsePhoneError, Phone, UnitId, VehicleId};
pub use lang::Lang;
pub use position::{BASIC_BLOCK_LEN, Position, PositionSource, deg_from_e6, fnv1a64, kmh_from_dkmh};
pub use redact::redact_url;
pub use registry::{
    Attributes, Edition, ParseVehicleClassError, PendingRegistration, PendingState, Reregistered,
    Reregistration, Terminal, Unit, Vehicle, VehicleClass, subtree,
};
pub use time::{CHINA_OFFSET_SECS, Timestamp, china_month, china_offset};

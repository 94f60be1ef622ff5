//! A fleet of virtual JT/T 808 terminals and the demo world they drive in.
//!
//! The [`world`] module generates, from a seed, a city of units, cars, terminals, roads, geofences and
//! dispatch orders around Huangshi, and writes them in the formats the platform imports. The [`plan`]
//! module turns a car and a day into trips and motion. [`Fleet::spawn`] runs one real JT/T 808 TCP
//! client per car against a platform, and its [`Ledger`] records every point the platform acknowledged.
#![deny(missing_docs)]

pub mod clock;
pub mod config;
pub mod events;
pub mod expect;
pub mod files;
pub mod fleet;
pub mod geo;
pub mod ledger;
pub mod orders;
pub mod plan;
pub mod scenario;
pub mod stats;
pub mod terminal;
pub mod world;

pub use config::{FleetConfig, parse_ip_list};
pub use fleet::{Fleet, FleetError, FleetHandle};
pub use ledger::{Ledger, LedgerEntry};
pub use stats::{FleetStats, StatsSnapshot};
pub use world::{World, WorldConfig};

//! A fleet of virtual JT/T 808 terminals and the demo world they drive in.
//!
//! The layers, each built only on those before it:
//! - [`basemap`] draws the world's roads, towns and depots as vector tiles in a PMTiles archive;
//! - [`world`] generates, from a seed, the map and the fleet around Huangshi: units, cars, terminals,
//!   roads, region, depots and prohibited places;
//! - [`plan`] turns a car and a day into trips and motion, at the rates of [`scenario`]; [`events`] draws
//!   what happens to a terminal on a day (alarms, silence, blind areas);
//! - [`orders`] derives the dispatch orders and filings covering the plans, [`files`] writes everything
//!   in the formats the platform imports, and [`expect`] lists the misuse the fleet is told to commit;
//!   [`casework`] plants a year of complaints and findings with the totals the office's figures must show;
//!   [`year`] drives a year of the world's cars into points written in bulk, with the totals of its yearly figures;
//! - [`Fleet::spawn`] runs one real JT/T 808 TCP client per car ([`terminal`]) against a platform, and its
//!   [`Ledger`] records every point the platform acknowledged.
#![deny(missing_docs)]

pub mod basemap;
pub mod casework;
pub mod clock;
pub mod config;
pub mod events;
pub mod expect;
pub mod files;
pub mod fleet;
pub mod fuel;
pub mod geo;
pub mod ledger;
pub mod orders;
pub mod plan;
pub mod scenario;
pub mod stats;
pub mod terminal;
pub mod world;
pub mod year;

pub use config::{FleetConfig, parse_ip_list};
pub use fleet::{Fleet, FleetError, FleetHandle};
pub use ledger::{Ledger, LedgerEntry};
pub use stats::{FleetStats, StatsSnapshot};
pub use world::{World, WorldConfig};

//! A fleet of virtual JT/T 808 terminals and the demo world they drive in.
//!
//! The [`world`] module generates, from a seed, a city of units, cars, terminals, roads, geofences and
//! dispatch orders around Huangshi, and writes them in the formats the platform imports. The [`plan`]
//! module turns a car and a day into trips and motion.
#![deny(missing_docs)]

pub mod calendar;
pub mod geo;
pub mod plan;
pub mod world;

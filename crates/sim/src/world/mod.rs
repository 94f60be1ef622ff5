//! The demo world: units, vehicles, terminals, roads, geofences, dispatch orders and filings around
//! Huangshi (黄石市, about 30.20 N 115.04 E).
//!
//! Everything is a pure function of a [`WorldConfig`] (seed included): the same config always yields the
//! same world, byte for byte in the files written from it. The fleet drives this world, the platform
//! imports its files, and the two agree because they come from the same value. This module is the map and
//! the fleet only: what the cars do in it day by day (the plans) and the orders covering that are built on
//! top of it, never the other way round.

mod layout;
pub mod names;
mod places;
pub mod roads;

use chrono::{Datelike, NaiveDate, Weekday};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tianshu_model::geo::{LocalFrame, LonLat, point_in_ring};
use tianshu_model::{Edition, Phone, VehicleClass};
use tianshu_rules::Calendar;

use crate::scenario::PlanScenarios;
use layout::{build_roads, place_destinations, region_outline};
use places::{make_vehicles, pick_homes, place_prohibited, place_units};
use roads::{NodeId, RoadNetwork};

/// The centre of Huangshi's urban area.
pub const HUANGSHI: LonLat = LonLat::new(115.04, 30.20);

/// What a world is generated from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldConfig {
    /// Seed of every random choice; the same seed gives the same world.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How many vehicles (each with one terminal) to create.
    #[serde(default = "default_vehicles")]
    pub vehicles: usize,
    /// The first simulated day (China local date); orders and filings are written for
    /// `start_date .. start_date + days`.
    #[serde(default = "default_start_date")]
    pub start_date: NaiveDate,
    /// How many days of orders and filings to write.
    #[serde(default = "default_days")]
    pub days: u32,
    /// Days off and adjusted working days: the official calendar the rules read, as shipped with the
    /// platform (years it has no data for follow the plain week, see [`WorldConfig::is_day_off`]).
    #[serde(skip, default = "default_calendar")]
    pub calendar: Calendar,
    /// Rates of the trip-level scenarios (off-hours use, holiday use, off-route, region exit...).
    #[serde(default)]
    pub scenarios: PlanScenarios,
}

const fn default_seed() -> u64 {
    808
}
const fn default_vehicles() -> usize {
    700
}
fn default_start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()
}
const fn default_days() -> u32 {
    7
}
fn default_calendar() -> Calendar {
    // The shipped files are checked by the rules' own tests; should one ever fail to parse, every day
    // follows the plain week.
    Calendar::builtin().unwrap_or_default()
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: default_seed(),
            vehicles: default_vehicles(),
            start_date: default_start_date(),
            days: default_days(),
            calendar: default_calendar(),
            scenarios: PlanScenarios::default(),
        }
    }
}

impl WorldConfig {
    /// The default world over the `days` days from `start_date`.
    pub fn from_date(start_date: NaiveDate, days: u32) -> WorldConfig {
        WorldConfig {
            start_date,
            days,
            ..WorldConfig::default()
        }
    }

    /// Whether the simulated drivers stay home on `date` (China local): a public holiday or an ordinary
    /// rest day of the calendar, or, in a year the calendar has no data for, a Saturday or a Sunday.
    pub fn is_day_off(&self, date: NaiveDate) -> bool {
        match self.calendar.day_kind(date) {
            Some(kind) => !kind.is_working(),
            None => matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }
}

/// Which special class a unit's cars get besides `general`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VehicleClassMix {
    /// All general.
    General,
    /// Some confidential couriers (机要通信).
    Confidential,
    /// Mostly emergency support (应急保障).
    Emergency,
    /// Mostly law enforcement (执法执勤).
    LawEnforcement,
    /// Some special technical cars (特种专业技术).
    Special,
}

impl VehicleClassMix {
    /// The share of the unit's cars in the special class, and that class.
    const fn special_share(self) -> (f64, VehicleClass) {
        match self {
            VehicleClassMix::General => (0.0, VehicleClass::General),
            VehicleClassMix::Confidential => (0.25, VehicleClass::Confidential),
            VehicleClassMix::Emergency => (0.6, VehicleClass::Emergency),
            VehicleClassMix::LawEnforcement => (0.6, VehicleClass::LawEnforcement),
            VehicleClassMix::Special => (0.35, VehicleClass::Special),
        }
    }
}

/// A unit (organisation) of the demo world.
#[derive(Debug, Clone, PartialEq)]
pub struct SimUnit {
    /// Its own name.
    pub name: String,
    /// Index of the parent unit in [`World::units`].
    pub parent: Option<usize>,
    /// The `/`-separated path from the root (`黄石市/市公安局/交警支队`), as the registry CSV writes it.
    pub path: String,
    /// The road node at the depot gate, where trips start and end.
    pub depot_node: NodeId,
    /// The depot polygon (closed ring not repeated: first point is not duplicated at the end).
    pub depot: Vec<LonLat>,
}

/// A vehicle with its terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct SimVehicle {
    /// Licence plate (鄂B + 5 characters).
    pub plate: String,
    /// Index of its unit in [`World::units`].
    pub unit: usize,
    /// Class, for rule exemptions.
    pub class: VehicleClass,
    /// The terminal's phone number (12 digits).
    pub phone: Phone,
    /// The terminal id sent in 0x0100 (7 characters, valid in every edition).
    pub terminal_id: String,
    /// The edition the terminal speaks.
    pub edition: Edition,
    /// The regular driver.
    pub driver: String,
    /// Where the car stands overnight in its depot.
    pub parking_spot: LonLat,
    /// The driver's home node, where a car parked away from the depot spends the night.
    pub home_node: NodeId,
    /// Odometer at the start of the simulation, 0.1 km.
    pub odometer_start_dkm: u32,
}

/// A prohibited place (entertainment venue, club, scenic spot...).
#[derive(Debug, Clone, PartialEq)]
pub struct ProhibitedPlace {
    /// Name.
    pub name: String,
    /// Category (`entertainment`, `scenic`, `club`, `other`).
    pub category: String,
    /// Polygon (ring, first point not repeated).
    pub ring: Vec<LonLat>,
    /// The road node inside it when a car can drive in and stop there, `None` for a place that only lies
    /// beside a road (cars pass close by: near misses).
    pub node_inside: Option<NodeId>,
}

/// A named destination on the road network.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// Name written on orders.
    pub name: String,
    /// The node where cars stop.
    pub node: NodeId,
    /// Whether it lies outside the permitted region.
    pub outside_region: bool,
}

/// The whole demo world.
#[derive(Debug, Clone)]
pub struct World {
    /// What it was generated from.
    pub config: WorldConfig,
    /// Roads.
    pub roads: RoadNetwork,
    /// Units, parents before children.
    pub units: Vec<SimUnit>,
    /// Vehicles with their terminals.
    pub vehicles: Vec<SimVehicle>,
    /// The permitted region's boundary (several hundred vertices, first not repeated).
    pub region: Vec<LonLat>,
    /// Prohibited places.
    pub prohibited: Vec<ProhibitedPlace>,
    /// Named destinations inside the region (and a few outside it, for region-exit trips).
    pub destinations: Vec<Destination>,
    /// Residential nodes (drivers' homes).
    pub homes: Vec<NodeId>,
}

/// Derives an independent seed for one purpose (SplitMix64 finaliser over the inputs).
pub fn mix_seed(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &p in parts {
        h ^= p
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

impl World {
    /// Generates the world for `config`. Deterministic: equal configs give equal worlds.
    pub fn generate(config: &WorldConfig) -> World {
        let frame = LocalFrame::new(HUANGSHI);
        let mut rng = StdRng::seed_from_u64(mix_seed(&[config.seed, 1]));
        let region = region_outline(&frame, &mut rng);
        let mut roads = RoadNetwork::default();
        let layout = build_roads(&mut roads, &frame, &mut rng);
        let destinations = place_destinations(&roads, &layout, &mut rng);
        let prohibited = place_prohibited(&roads, &layout, &destinations, &frame, &mut rng);
        let units = place_units(&roads, &layout, &prohibited, &destinations, &frame, &mut rng);
        let homes = pick_homes(&layout, &units, &prohibited, &destinations, &mut rng);
        let vehicles = make_vehicles(config, &roads, &units, &homes, &frame, &mut rng);
        World {
            config: config.clone(),
            roads,
            units,
            vehicles,
            region,
            prohibited,
            destinations,
            homes,
        }
    }

    /// Whether a point lies inside the permitted region.
    pub fn in_region(&self, p: LonLat) -> bool {
        point_in_ring(p, &self.region)
    }

    /// The dates the world's orders cover (China local).
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.config.start_date.iter_days().take(self.config.days as usize)
    }

    /// The vehicle index of a terminal phone.
    pub fn vehicle_by_phone(&self, phone: Phone) -> Option<usize> {
        self.vehicles.iter().position(|v| v.phone == phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> World {
        World::generate(&WorldConfig {
            vehicles: 700,
            days: 2,
            ..Default::default()
        })
    }

    #[test]
    fn drivers_follow_the_official_calendar() {
        let c = WorldConfig::default();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(c.is_day_off(d(2026, 10, 5))); // Monday in National Day week
        assert!(!c.is_day_off(d(2026, 10, 10))); // Saturday worked (调休上班)
        assert!(c.is_day_off(d(2026, 11, 28))); // plain Saturday
        assert!(!c.is_day_off(d(2026, 11, 27))); // plain Friday
        assert!(c.is_day_off(d(2025, 1, 28)) && !c.is_day_off(d(2025, 1, 26))); // Spring Festival 2025
        // A year the calendar has no data for: the plain week.
        assert!(c.is_day_off(d(2027, 1, 2)) && !c.is_day_off(d(2027, 1, 1)));
    }

    #[test]
    fn same_seed_same_world_other_seed_other_world() {
        let a = small();
        let b = small();
        assert_eq!(a.vehicles, b.vehicles);
        assert_eq!(a.region, b.region);
        assert_eq!(crate::orders::orders_for(&a), crate::orders::orders_for(&b));
        let c = World::generate(&WorldConfig {
            seed: 9,
            vehicles: 700,
            days: 2,
            ..Default::default()
        });
        assert_ne!(a.vehicles, c.vehicles);
    }

    #[test]
    fn sizes_and_shapes_are_as_promised() {
        let w = small();
        assert_eq!(w.units.len(), 75);
        assert_eq!(w.vehicles.len(), 700);
        assert!(w.region.len() >= 300);
        let general = w
            .vehicles
            .iter()
            .filter(|v| v.class == VehicleClass::General)
            .count();
        assert!(general > 350 && general < 650, "general cars: {general}");
        for class in VehicleClass::ALL {
            assert!(w.vehicles.iter().any(|v| v.class == class), "no {class:?} car");
        }
        let e2019 = w.vehicles.iter().filter(|v| v.edition == Edition::V2019).count();
        assert!(e2019 > 150 && e2019 < 450);
        for v in &w.vehicles {
            assert_eq!(v.plate.chars().count(), 7, "{}", v.plate);
            assert!(v.plate.starts_with("鄂B"));
            assert_eq!(v.phone.to_string().len(), 12);
            assert_eq!(v.terminal_id.len(), 7);
            // Every car stands inside its own unit's depot overnight.
            assert!(
                point_in_ring(v.parking_spot, &w.units[v.unit].depot),
                "{} outside depot",
                v.plate
            );
        }
        let plates: std::collections::HashSet<_> = w.vehicles.iter().map(|v| &v.plate).collect();
        assert_eq!(plates.len(), w.vehicles.len());
    }

    #[test]
    fn the_region_holds_the_city_and_its_towns_but_not_the_neighbours() {
        let w = small();
        assert!(w.in_region(HUANGSHI));
        for u in &w.units {
            assert!(
                w.in_region(w.roads.pos(u.depot_node)),
                "{} depot outside region",
                u.path
            );
        }
        for d in &w.destinations {
            assert_eq!(w.in_region(w.roads.pos(d.node)), !d.outside_region, "{}", d.name);
        }
        // The whole network is one connected piece.
        let depot = w.units[0].depot_node;
        for d in &w.destinations {
            assert!(
                w.roads.shortest_path(depot, d.node).is_some(),
                "{} unreachable",
                d.name
            );
        }
    }

    #[test]
    fn road_lengths_are_plausible() {
        let w = small();
        for e in &w.roads.edges {
            assert!(
                e.length_m > 200.0 && e.length_m < 3_500.0,
                "edge of {} m",
                e.length_m
            );
        }
        let total_km: f64 = w.roads.edges.iter().map(|e| e.length_m).sum::<f64>() / 1000.0;
        assert!(total_km > 300.0 && total_km < 1_000.0, "{total_km} km of road");
    }

    #[test]
    fn prohibited_places_include_near_misses() {
        let w = small();
        assert!(w.prohibited.iter().any(|p| p.node_inside.is_some()));
        let near_misses: Vec<_> = w.prohibited.iter().filter(|p| p.node_inside.is_none()).collect();
        assert!(!near_misses.is_empty());
        for p in near_misses {
            // No road node inside, yet a road within 250 m of the polygon's centre.
            assert!(
                !w.roads.nodes.iter().any(|n| point_in_ring(n.pos, &p.ring)),
                "{}",
                p.name
            );
            let c = p.ring[0].lerp(p.ring[p.ring.len() / 2], 0.5);
            let near = w.roads.edges.iter().any(|e| {
                tianshu_model::geo::distance_to_segment_m(c, w.roads.pos(e.a), w.roads.pos(e.b)) < 250.0
            });
            assert!(near, "{} is nowhere near a road", p.name);
        }
    }
}

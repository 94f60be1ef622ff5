//! The demo world: units, vehicles, terminals, roads, geofences, dispatch orders and filings around
//! Huangshi (黄石市, about 30.20 N 115.04 E).
//!
//! Everything is a pure function of a [`WorldConfig`] (seed included): the same config always yields the
//! same world, byte for byte in the files [`files`] writes. The fleet drives this world, the platform imports
//! its files, and the two agree because they come from the same value.

pub mod files;
pub mod names;
pub mod roads;

use chrono::{Datelike, NaiveDate, Weekday};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tianshu_model::geo::{LocalFrame, LonLat, point_in_ring};
use tianshu_model::{Edition, Phone, VehicleClass};
use tianshu_rules::Calendar;

use crate::plan::{PlanScenarios, TripKind};
use names::{Seat, TOWNS, UNITS};
use roads::{NodeId, RoadClass, RoadNetwork};

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

/// A dispatch order (派车单) or a holiday filing (报备), as written to the orders file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// `PC-YYYY-NNNNNN` for orders, `BB-YYYY-NNNNNN` for filings.
    pub id: String,
    /// `order` or `filing`.
    pub kind: String,
    /// The vehicle's plate.
    pub plate: String,
    /// The driver's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Why the car is used.
    pub purpose: String,
    /// Start of the approved use, RFC 3339 UTC.
    pub start: String,
    /// End of the approved use, RFC 3339 UTC.
    pub end: String,
    /// Destinations, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<OrderDestination>>,
    /// The approved route as a GeoJSON LineString.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<LineString>,
    /// Half-width of the corridor around the route, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corridor_m: Option<u32>,
    /// `requested`, `approved`, `cancelled` or `completed`.
    pub state: String,
    /// Whether the trip may leave the permitted region.
    pub allow_region_exit: bool,
}

/// One destination of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDestination {
    /// Place name.
    pub name: String,
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

/// A GeoJSON LineString.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineString {
    /// Always `LineString`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `[lon, lat]` pairs.
    pub coordinates: Vec<[f64; 2]>,
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
    /// Dispatch orders and holiday filings for the configured days.
    pub orders: Vec<Order>,
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

/// Bearings (degrees) and radii (km) of the region outline's control points: wide to the south-east
/// where 阳新 lies, tight to the north-west where 鄂州 begins.
const REGION_CONTROL: [(f64, f64); 8] = [
    (0.0, 14.0),
    (45.0, 14.0),
    (90.0, 30.0),
    (135.0, 52.0),
    (180.0, 50.0),
    (225.0, 41.0),
    (270.0, 35.0),
    (315.0, 17.0),
];

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
        let mut world = World {
            config: config.clone(),
            roads,
            units,
            vehicles,
            region,
            prohibited,
            destinations,
            homes,
            orders: Vec::new(),
        };
        world.orders = crate::plan::orders_for(&world);
        world
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

    /// Counts trips of each kind over the configured days (a summary for logs and tests).
    pub fn trip_kinds(&self) -> Vec<(TripKind, usize)> {
        let mut counts: Vec<(TripKind, usize)> = Vec::new();
        for v in 0..self.vehicles.len() {
            for d in self.dates() {
                for t in crate::plan::day_plan(self, v, d).trips {
                    match counts.iter_mut().find(|(k, _)| *k == t.kind) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((t.kind, 1)),
                    }
                }
            }
        }
        counts
    }
}

fn region_outline(frame: &LocalFrame, rng: &mut StdRng) -> Vec<LonLat> {
    let phases: Vec<f64> = (0..4)
        .map(|_| rng.gen_range(0.0..std::f64::consts::TAU))
        .collect();
    (0..360)
        .map(|i| {
            let theta = f64::from(i);
            let k = (i / 45) as usize;
            let (b0, r0) = REGION_CONTROL[k % 8];
            let (_, r1) = REGION_CONTROL[(k + 1) % 8];
            let f = (theta - b0) / 45.0;
            // Smoothstep between control radii plus a little boundary wiggle, like a real county line.
            let s = f * f * (3.0 - 2.0 * f);
            let t = theta.to_radians();
            let wiggle = 0.8 * (3.0 * t + phases[0]).sin()
                + 0.5 * (7.0 * t + phases[1]).sin()
                + 0.3 * (13.0 * t + phases[2]).sin()
                + 0.15 * (29.0 * t + phases[3]).sin();
            let r_km = r0 + (r1 - r0) * s + wiggle;
            frame.to_lonlat(r_km * 1000.0 * t.sin(), r_km * 1000.0 * t.cos())
        })
        .collect()
}

/// Where things are on the generated network.
struct Layout {
    /// Urban grid nodes, `grid[i][j]` with i west->east and j south->north.
    grid: Vec<Vec<NodeId>>,
    /// Nodes of each town (first = centre), index as in [`TOWNS`].
    towns: Vec<Vec<NodeId>>,
    /// Shape points of the roads between places inside the region (where scenic spots lie).
    countryside: Vec<NodeId>,
}

const GRID_COLS: usize = 15;
const GRID_ROWS: usize = 12;
const GRID_DX_M: f64 = 1000.0;
const GRID_DY_M: f64 = 850.0;

fn build_roads(roads: &mut RoadNetwork, frame: &LocalFrame, rng: &mut StdRng) -> Layout {
    // The urban grid, slightly irregular.
    let mut grid: Vec<Vec<NodeId>> = (0..GRID_COLS).map(|_| Vec::with_capacity(GRID_ROWS)).collect();
    for (i, col) in grid.iter_mut().enumerate() {
        for j in 0..GRID_ROWS {
            let x = (i as f64 - (GRID_COLS as f64 - 1.0) / 2.0) * GRID_DX_M + rng.gen_range(-120.0..120.0);
            let y = (j as f64 - (GRID_ROWS as f64 - 1.0) / 2.0) * GRID_DY_M + rng.gen_range(-100.0..100.0);
            col.push(roads.add_node(frame.to_lonlat(x, y)));
        }
    }
    #[allow(clippy::needless_range_loop)] // j walks rows across columns; an iterator would obscure it
    for j in 0..GRID_ROWS {
        let road = roads.add_road_name(names::EW_STREETS[j % names::EW_STREETS.len()]);
        for i in 0..GRID_COLS - 1 {
            // A few blocks are closed (lakes, rail yards); the middle rows and the edges stay whole.
            let keep = j % 4 == 0 || j == GRID_ROWS - 1 || rng.gen_bool(0.9);
            if keep {
                roads.add_edge(grid[i][j], grid[i + 1][j], RoadClass::Street, road);
            }
        }
    }
    for (i, col) in grid.iter().enumerate() {
        let road = roads.add_road_name(names::NS_STREETS[i % names::NS_STREETS.len()]);
        for j in 0..GRID_ROWS - 1 {
            let keep = i % 4 == 0 || i == GRID_COLS - 1 || rng.gen_bool(0.9);
            if keep {
                roads.add_edge(col[j], col[j + 1], RoadClass::Street, road);
            }
        }
    }
    // Towns: a 3x3 block of streets around each centre.
    let mut towns = Vec::new();
    for town in TOWNS {
        let road = roads.add_road_name(&format!("{}大街", town.name.trim_end_matches("市区")));
        let (cx, cy) = (town.east_km * 1000.0, town.north_km * 1000.0);
        // The two county seats host several units each and get a bigger block.
        let size = if towns.len() < 2 { 4 } else { 3 };
        let half = (size as f64 - 1.0) / 2.0;
        let mut block = vec![vec![0 as NodeId; size]; size];
        for (a, row) in block.iter_mut().enumerate() {
            for (b, cell) in row.iter_mut().enumerate() {
                let x = cx + (a as f64 - half) * 600.0 + rng.gen_range(-60.0..60.0);
                let y = cy + (b as f64 - half) * 550.0 + rng.gen_range(-60.0..60.0);
                *cell = roads.add_node(frame.to_lonlat(x, y));
            }
        }
        for a in 0..size {
            for b in 0..size {
                if a + 1 < size {
                    roads.add_edge(block[a][b], block[a + 1][b], RoadClass::Street, road);
                }
                if b + 1 < size {
                    roads.add_edge(block[a][b], block[a][b + 1], RoadClass::Street, road);
                }
            }
        }
        let centre = block[size / 2][size / 2];
        let mut nodes = vec![centre];
        nodes.extend(block.iter().flatten().copied().filter(|&n| n != centre));
        towns.push(nodes);
    }
    let mut layout = Layout {
        grid,
        towns,
        countryside: Vec::new(),
    };
    // Arterials and expressways: (from, to, class, name). Endpoints are grid corners or town centres.
    enum End {
        Grid(usize, usize),
        Town(usize),
    }
    let links: [(End, End, RoadClass, &str); 11] = [
        (End::Grid(3, 0), End::Town(0), RoadClass::Arterial, "大冶大道"),
        (End::Town(0), End::Town(2), RoadClass::Arterial, "金山店公路"),
        (End::Town(0), End::Town(3), RoadClass::Arterial, "陈贵公路"),
        (End::Town(3), End::Town(5), RoadClass::Arterial, "还地桥公路"),
        (End::Town(0), End::Town(1), RoadClass::Expressway, "大广高速"),
        (End::Town(1), End::Town(4), RoadClass::Arterial, "富池公路"),
        (
            End::Grid(GRID_COLS - 1, 2),
            End::Town(4),
            RoadClass::Arterial,
            "沿江公路",
        ),
        (
            End::Grid(0, GRID_ROWS - 1),
            End::Town(6),
            RoadClass::Arterial,
            "黄鄂公路",
        ),
        (End::Town(6), End::Town(7), RoadClass::Expressway, "沪渝高速"),
        (End::Town(1), End::Town(8), RoadClass::Expressway, "杭瑞高速"),
        (End::Grid(0, 2), End::Town(2), RoadClass::Arterial, "铁金公路"),
    ];
    for (from, to, class, name) in links {
        let inside = [&from, &to].iter().all(|e| match e {
            End::Grid(..) => true,
            End::Town(t) => TOWNS[*t].inside_region,
        });
        let node_of = |e: &End| match *e {
            End::Grid(i, j) => layout.grid[i][j],
            End::Town(t) => layout.towns[t][0],
        };
        let (a, b) = (node_of(&from), node_of(&to));
        let road = roads.add_road_name(name);
        let (ax, ay) = frame.to_xy(roads.pos(a));
        let (bx, by) = frame.to_xy(roads.pos(b));
        let len = (bx - ax).hypot(by - ay);
        let step_m = if class == RoadClass::Expressway {
            3000.0
        } else {
            1500.0
        };
        let n = (len / step_m).ceil().max(1.0) as usize;
        // A gentle sideways bend so the road is not a ruler line.
        let bend_m = rng.gen_range(-0.06..0.06) * len;
        let (nx, ny) = (-(by - ay) / len, (bx - ax) / len);
        let mut prev = a;
        for k in 1..n {
            let f = k as f64 / n as f64;
            let off = bend_m * (std::f64::consts::PI * f).sin() + rng.gen_range(-60.0..60.0);
            let p = frame.to_lonlat(ax + (bx - ax) * f + nx * off, ay + (by - ay) * f + ny * off);
            let node = roads.add_node(p);
            if inside {
                layout.countryside.push(node);
            }
            roads.add_edge(prev, node, class, road);
            prev = node;
        }
        roads.add_edge(prev, b, class, road);
    }
    layout
}

fn place_destinations(roads: &RoadNetwork, layout: &Layout, rng: &mut StdRng) -> Vec<Destination> {
    let mut used: Vec<NodeId> = Vec::new();
    let mut out = Vec::new();
    for name in names::DESTINATIONS {
        let node = loop {
            let i = rng.gen_range(1..GRID_COLS - 1);
            let j = rng.gen_range(1..GRID_ROWS - 1);
            let n = layout.grid[i][j];
            if !used.contains(&n) {
                break n;
            }
        };
        used.push(node);
        out.push(Destination {
            name: (*name).to_string(),
            node,
            outside_region: false,
        });
    }
    for (t, town) in TOWNS.iter().enumerate() {
        let name = match t {
            0 => "大冶市政府".to_string(),
            1 => "阳新县政府".to_string(),
            _ => format!("{}政府", town.name.trim_end_matches("市区")),
        };
        out.push(Destination {
            name,
            node: layout.towns[t][0],
            outside_region: !town.inside_region,
        });
        let extra = layout.towns[t][rng.gen_range(1..layout.towns[t].len())];
        out.push(Destination {
            name: format!("{}客运站", town.name.trim_end_matches("市区")),
            node: extra,
            outside_region: !town.inside_region,
        });
    }
    let _ = roads;
    out
}

/// A rough rectangle (as a ring) of `w_m` by `h_m` around `c`, turned by `angle` radians.
fn rect(frame: &LocalFrame, c: LonLat, w_m: f64, h_m: f64, angle: f64) -> Vec<LonLat> {
    let (cx, cy) = frame.to_xy(c);
    let (s, co) = angle.sin_cos();
    [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
        .iter()
        .map(|&(u, v)| {
            let (x, y) = (u * w_m, v * h_m);
            frame.to_lonlat(cx + x * co - y * s, cy + x * s + y * co)
        })
        .collect()
}

/// A small irregular polygon of about `r_m` radius around `c`.
fn blob(frame: &LocalFrame, c: LonLat, r_m: f64, rng: &mut StdRng) -> Vec<LonLat> {
    let (cx, cy) = frame.to_xy(c);
    let n = rng.gen_range(6..11);
    (0..n)
        .map(|k| {
            let t = std::f64::consts::TAU * f64::from(k) / f64::from(n);
            let r = r_m * rng.gen_range(0.8..1.2);
            frame.to_lonlat(cx + r * t.sin(), cy + r * t.cos())
        })
        .collect()
}

fn place_prohibited(
    roads: &RoadNetwork,
    layout: &Layout,
    destinations: &[Destination],
    frame: &LocalFrame,
    rng: &mut StdRng,
) -> Vec<ProhibitedPlace> {
    let mut out = Vec::new();
    // Ordinary destinations are never inside a prohibited place: a visit there is the scripted misuse,
    // and an ordinary trip must not look like one.
    let mut used: Vec<NodeId> = destinations.iter().map(|d| d.node).collect();
    for (k, (name, category)) in names::PROHIBITED.iter().enumerate() {
        let scenic = *category == "scenic";
        // Scenic spots lie out of town along the arterials; venues in the city grid.
        let node = loop {
            let n = if scenic {
                layout.countryside[rng.gen_range(0..layout.countryside.len())]
            } else {
                layout.grid[rng.gen_range(1..GRID_COLS - 1)][rng.gen_range(1..GRID_ROWS - 1)]
            };
            if !used.contains(&n) {
                break n;
            }
        };
        used.push(node);
        let at = roads.pos(node);
        if k % 3 == 2 {
            // Beside the road, not on it: cars pass 40-100 m from its edge (near misses).
            let e = roads.edges_of(node).next();
            let other = e.map(|e| if e.a == node { e.b } else { e.a }).unwrap_or(node);
            let mid = at.lerp(roads.pos(other), 0.5);
            let (mx, my) = frame.to_xy(mid);
            let (ox, oy) = frame.to_xy(roads.pos(other));
            let (ax, ay) = frame.to_xy(at);
            let len = (ox - ax).hypot(oy - ay).max(1.0);
            let (nx, ny) = (-(oy - ay) / len, (ox - ax) / len);
            let r = if scenic { 90.0 } else { 40.0 };
            let off = r + rng.gen_range(40.0..100.0);
            let c = frame.to_lonlat(mx + nx * off, my + ny * off);
            out.push(ProhibitedPlace {
                name: (*name).to_string(),
                category: (*category).to_string(),
                ring: blob(frame, c, r, rng),
                node_inside: None,
            });
        } else {
            // Big enough that a car standing at the node is well inside (the rules count a fix only
            // 30 m or more inside a fence, so that a road grazing it does not).
            let r = if scenic { 250.0 } else { 70.0 };
            let (x, y) = frame.to_xy(at);
            let c = frame.to_lonlat(x + rng.gen_range(-10.0..10.0), y + rng.gen_range(-10.0..10.0));
            out.push(ProhibitedPlace {
                name: (*name).to_string(),
                category: (*category).to_string(),
                ring: blob(frame, c, r, rng),
                node_inside: Some(node),
            });
        }
    }
    out
}

fn place_units(
    roads: &RoadNetwork,
    layout: &Layout,
    prohibited: &[ProhibitedPlace],
    destinations: &[Destination],
    frame: &LocalFrame,
    rng: &mut StdRng,
) -> Vec<SimUnit> {
    let taken = |n: NodeId, used: &[NodeId]| {
        used.contains(&n)
            || prohibited
                .iter()
                .any(|p| p.node_inside == Some(n) || point_in_ring(roads.pos(n), &p.ring))
            || destinations.iter().any(|d| d.node == n)
    };
    let mut used: Vec<NodeId> = Vec::new();
    let mut out: Vec<SimUnit> = Vec::new();
    for t in UNITS {
        let node = {
            let mut tries = 0;
            loop {
                tries += 1;
                let n = match t.seat {
                    // Government offices cluster in the middle of town.
                    Seat::City => {
                        let spread = if tries > 200 { 7 } else { 5 };
                        let ci = (GRID_COLS / 2) as i64 + rng.gen_range(-spread..=spread);
                        let cj = (GRID_ROWS / 2) as i64 + rng.gen_range(-4..=4);
                        layout.grid[ci.clamp(0, GRID_COLS as i64 - 1) as usize]
                            [cj.clamp(0, GRID_ROWS as i64 - 1) as usize]
                    }
                    Seat::Town(k) => layout.towns[k][rng.gen_range(0..layout.towns[k].len())],
                };
                // Town units share their town's few nodes once they run out.
                if !taken(n, &used) || tries > 400 {
                    break n;
                }
            }
        };
        used.push(node);
        let path = match t.parent {
            Some(p) => format!("{}/{}", out[p].path, t.name),
            None => t.name.to_string(),
        };
        // The depot sits around the gate node, big enough for the unit's cars to stand in.
        let depot = rect(frame, roads.pos(node), 110.0, 80.0, rng.gen_range(-0.3..0.3));
        out.push(SimUnit {
            name: t.name.to_string(),
            parent: t.parent,
            path,
            depot_node: node,
            depot,
        });
    }
    out
}

fn pick_homes(
    layout: &Layout,
    units: &[SimUnit],
    prohibited: &[ProhibitedPlace],
    destinations: &[Destination],
    rng: &mut StdRng,
) -> Vec<NodeId> {
    let mut homes: Vec<NodeId> = layout
        .grid
        .iter()
        .flatten()
        .copied()
        .filter(|n| {
            !units.iter().any(|u| u.depot_node == *n)
                && !prohibited.iter().any(|p| p.node_inside == Some(*n))
                && !destinations.iter().any(|d| d.node == *n)
        })
        .collect();
    homes.shuffle(rng);
    homes.truncate(60);
    homes.sort_unstable();
    homes
}

fn make_vehicles(
    config: &WorldConfig,
    roads: &RoadNetwork,
    units: &[SimUnit],
    homes: &[NodeId],
    frame: &LocalFrame,
    rng: &mut StdRng,
) -> Vec<SimVehicle> {
    let total_weight: u32 = UNITS.iter().map(|t| t.weight).sum();
    // Largest-remainder apportionment of the fleet over units, so the total is exact.
    let mut shares: Vec<(usize, usize, f64)> = UNITS
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let exact = config.vehicles as f64 * f64::from(t.weight) / f64::from(total_weight);
            (i, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let assigned: usize = shares.iter().map(|s| s.1).sum();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| shares[b].2.total_cmp(&shares[a].2).then(a.cmp(&b)));
    for &k in order.iter().take(config.vehicles.saturating_sub(assigned)) {
        shares[k].1 += 1;
    }
    let mut plates = std::collections::HashSet::new();
    let mut phones = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(config.vehicles);
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    for (ui, count, _) in shares {
        let unit = &units[ui];
        let (share, special) = UNITS[ui].mix.special_share();
        let police = unit.path.contains("公安");
        for k in 0..count {
            let class = if rng.gen_bool(share) {
                special
            } else {
                VehicleClass::General
            };
            let plate = loop {
                let p = if police && class == VehicleClass::LawEnforcement {
                    format!("鄂B{:04}警", rng.gen_range(0..10_000))
                } else if rng.gen_bool(0.25) {
                    let l = LETTERS[rng.gen_range(0..LETTERS.len())] as char;
                    format!("鄂B{l}{:04}", rng.gen_range(0..10_000))
                } else {
                    format!("鄂B{:05}", rng.gen_range(0..100_000))
                };
                if plates.insert(p.clone()) {
                    break p;
                }
            };
            let phone = loop {
                let v: u128 = 140_000_000_000 + rng.gen_range(0..10_000_000_000u128);
                if phones.insert(v) {
                    break Phone(v);
                }
            };
            let edition = if rng.gen_bool(0.4) {
                Edition::V2019
            } else {
                Edition::V2013
            };
            let index = out.len();
            let terminal_id = format!("{}{:06}", ['H', 'S', 'Y', 'D'][index % 4], index);
            let driver = format!(
                "{}{}",
                names::SURNAMES[rng.gen_range(0..names::SURNAMES.len())],
                names::GIVEN_NAMES[rng.gen_range(0..names::GIVEN_NAMES.len())]
            );
            // Rows of parking bays 8 m apart inside the depot rectangle.
            let (gx, gy) = frame.to_xy(roads.pos(unit.depot_node));
            let bay = k % 40;
            let spot = frame.to_lonlat(
                gx - 36.0 + (bay % 10) as f64 * 8.0,
                gy - 12.0 + (bay / 10) as f64 * 8.0,
            );
            let home_node = homes
                .get(rng.gen_range(0..homes.len().max(1)))
                .copied()
                .unwrap_or(unit.depot_node);
            out.push(SimVehicle {
                plate,
                unit: ui,
                class,
                phone,
                terminal_id,
                edition,
                driver,
                parking_spot: spot,
                home_node,
                odometer_start_dkm: rng.gen_range(50_000..2_500_000),
            });
        }
    }
    out
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
        assert_eq!(a.orders, b.orders);
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

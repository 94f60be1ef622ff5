//! The map of the demo world: the region's outline, the road network (city grid, towns, the roads
//! between them) and the named destinations on it.
//!
//! Generation draws from one random stream in a fixed order; the order of the steps here is part of
//! what makes the same seed give the same world.

use rand::Rng;
use rand::rngs::StdRng;
use tianshu_model::geo::{LocalFrame, LonLat};

use super::Destination;
use super::names::{self, TOWNS};
use super::roads::{NodeId, RoadClass, RoadNetwork};

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

pub(super) fn region_outline(frame: &LocalFrame, rng: &mut StdRng) -> Vec<LonLat> {
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
pub(super) struct Layout {
    /// Urban grid nodes, `grid[i][j]` with i west->east and j south->north.
    pub(super) grid: Vec<Vec<NodeId>>,
    /// Nodes of each town (first = centre), index as in [`TOWNS`].
    pub(super) towns: Vec<Vec<NodeId>>,
    /// Shape points of the roads between places inside the region (where scenic spots lie).
    pub(super) countryside: Vec<NodeId>,
}

pub(super) const GRID_COLS: usize = 15;
pub(super) const GRID_ROWS: usize = 12;
const GRID_DX_M: f64 = 1000.0;
const GRID_DY_M: f64 = 850.0;

pub(super) fn build_roads(roads: &mut RoadNetwork, frame: &LocalFrame, rng: &mut StdRng) -> Layout {
    let grid = build_grid(roads, frame, rng);
    let towns = build_towns(roads, frame, rng);
    let mut layout = Layout {
        grid,
        towns,
        countryside: Vec::new(),
    };
    build_links(roads, &mut layout, frame, rng);
    layout
}

/// The urban grid, slightly irregular, with a few blocks closed: `grid[i][j]`, i west->east.
fn build_grid(roads: &mut RoadNetwork, frame: &LocalFrame, rng: &mut StdRng) -> Vec<Vec<NodeId>> {
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
    grid
}

/// The towns' street blocks, each town's nodes with its centre first (as in [`TOWNS`]).
fn build_towns(roads: &mut RoadNetwork, frame: &LocalFrame, rng: &mut StdRng) -> Vec<Vec<NodeId>> {
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
    towns
}

/// The arterials and expressways joining the grid and the towns, bent a little, with shape points every
/// 1.5 km (3 km on expressways); those inside the region become the countryside.
fn build_links(roads: &mut RoadNetwork, layout: &mut Layout, frame: &LocalFrame, rng: &mut StdRng) {
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
}

pub(super) fn place_destinations(roads: &RoadNetwork, layout: &Layout, rng: &mut StdRng) -> Vec<Destination> {
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

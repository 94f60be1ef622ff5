//! Where the demo world's things stand on the map: prohibited places (some beside a road rather than on
//! it, for near misses), the units' depots, the drivers' homes, and the cars with their terminals.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tianshu_model::geo::{LocalFrame, LonLat, point_in_ring};
use tianshu_model::{Edition, Phone, VehicleClass};

use super::layout::{GRID_COLS, GRID_ROWS, Layout};
use super::names::{self, Seat, UNITS};
use super::roads::{NodeId, RoadNetwork};
use super::{Destination, ProhibitedPlace, SimUnit, SimVehicle, WorldConfig};

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

pub(super) fn place_prohibited(
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

pub(super) fn place_units(
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

pub(super) fn pick_homes(
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

pub(super) fn make_vehicles(
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

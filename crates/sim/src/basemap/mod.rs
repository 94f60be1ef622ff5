//! The demo world's own basemap: its roads by class, its towns and the units' depots as vector tiles
//! (zooms [`MIN_ZOOM`] to [`MAX_ZOOM`]) in one PMTiles archive, which the platform serves like any
//! province extract, so the demo shows a street map with no network.
//!
//! The layers follow the Protomaps basemap schema where it has a name for the thing, so one style draws
//! this archive and a Protomaps extract alike:
//! - `roads` (lines): `kind` `highway` (expressways), `major_road` (arterials) or `minor_road` (town and
//!   city streets), and `name`;
//! - `places` (points): `kind` `locality`, `name`;
//! - `depots` (polygons, the demo's own): `name` of the unit.
//!
//! The encoders ([`mvt`], [`pmtiles`]) are pure; [`write_basemap`] is the one function that touches a file.

pub mod mvt;
pub mod pmtiles;

use std::collections::BTreeMap;
use std::path::Path;

use tianshu_model::geo::LonLat;

use crate::world::names::TOWNS;
use crate::world::roads::RoadClass;
use crate::world::{HUANGSHI, World};
use mvt::{EXTENT, Feature, Geometry, Layer};

/// The lowest zoom with tiles.
pub const MIN_ZOOM: u8 = 5;
/// The highest zoom with tiles (a map zoomed further draws these larger).
pub const MAX_ZOOM: u8 = 14;
/// How far (tile units) lines run past a tile's edge, so that wide strokes meet across tiles.
const BUFFER: f64 = 64.0;

/// The layers, in drawing order.
const LAYERS: [&str; 3] = ["depots", "roads", "places"];

enum Shape {
    Point(LonLat),
    Line(Vec<LonLat>),
    Polygon(Vec<LonLat>),
}

/// One thing on the map before tiling: its layer, the lowest zoom it shows at, its shape and properties.
struct Item {
    layer: usize,
    min_zoom: u8,
    shape: Shape,
    properties: Vec<(String, String)>,
}

/// The road kind (Protomaps' name) and the lowest zoom of a road class.
const fn road_kind(class: RoadClass) -> (&'static str, u8) {
    match class {
        RoadClass::Expressway => ("highway", MIN_ZOOM),
        RoadClass::Arterial => ("major_road", 7),
        RoadClass::Street => ("minor_road", 11),
    }
}

/// The world's roads as polylines: edges of the same road and class joined end to end where a node has
/// no other edge of that road, so that strokes join smoothly and names follow whole roads.
fn road_lines(world: &World) -> Vec<(RoadClass, u16, Vec<LonLat>)> {
    let roads = &world.roads;
    let mut groups: BTreeMap<(u8, u16), Vec<usize>> = BTreeMap::new();
    for (i, e) in roads.edges.iter().enumerate() {
        groups.entry((e.class as u8, e.road)).or_default().push(i);
    }
    let mut out = Vec::new();
    for edges in groups.values() {
        let class = roads.edges[edges[0]].class;
        let road = roads.edges[edges[0]].road;
        let mut used = vec![false; edges.len()];
        // The group's edges at each node.
        let mut at: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (k, &i) in edges.iter().enumerate() {
            at.entry(roads.edges[i].a).or_default().push(k);
            at.entry(roads.edges[i].b).or_default().push(k);
        }
        let next = |node: u32, used: &[bool]| -> Option<usize> {
            let here = &at[&node];
            (here.len() == 2).then(|| here.iter().copied().find(|&k| !used[k]))?
        };
        for start in 0..edges.len() {
            if used[start] {
                continue;
            }
            used[start] = true;
            let e = &roads.edges[edges[start]];
            let mut nodes = std::collections::VecDeque::from([e.a, e.b]);
            // Forward from the far end, then backward from the near end.
            for forward in [true, false] {
                loop {
                    let end = if forward { nodes[nodes.len() - 1] } else { nodes[0] };
                    let Some(k) = next(end, &used) else { break };
                    used[k] = true;
                    let e = &roads.edges[edges[k]];
                    let other = if e.a == end { e.b } else { e.a };
                    if forward {
                        nodes.push_back(other);
                    } else {
                        nodes.push_front(other);
                    }
                }
            }
            out.push((class, road, nodes.iter().map(|&n| roads.pos(n)).collect()));
        }
    }
    out
}

/// Everything the basemap draws, before tiling.
fn items(world: &World) -> Vec<Item> {
    let mut items = Vec::new();
    for (class, road, line) in road_lines(world) {
        let (kind, min_zoom) = road_kind(class);
        items.push(Item {
            layer: 1,
            min_zoom,
            shape: Shape::Line(line),
            properties: vec![
                ("kind".into(), kind.into()),
                ("name".into(), world.roads.road_names[road as usize].clone()),
            ],
        });
    }
    let place = |name: &str, at: LonLat, min_zoom: u8| Item {
        layer: 2,
        min_zoom,
        shape: Shape::Point(at),
        properties: vec![("kind".into(), "locality".into()), ("name".into(), name.into())],
    };
    items.push(place("黄石市", HUANGSHI, MIN_ZOOM));
    let frame = tianshu_model::geo::LocalFrame::new(HUANGSHI);
    for town in TOWNS {
        let at = frame.to_lonlat(town.east_km * 1000.0, town.north_km * 1000.0);
        items.push(place(town.name, at, 8));
    }
    for unit in &world.units {
        items.push(Item {
            layer: 0,
            min_zoom: 12,
            shape: Shape::Polygon(unit.depot.clone()),
            properties: vec![("name".into(), unit.name.clone())],
        });
    }
    items
}

/// A point in tile units of the whole world at zoom `z` (Web Mercator, y down).
fn world_units(p: LonLat, z: u8) -> (f64, f64) {
    let scale = f64::from(EXTENT) * f64::from(1u32 << z);
    let x = (p.lon + 180.0) / 360.0 * scale;
    let lat = p.lat.to_radians();
    let y = (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * scale;
    (x, y)
}

/// The part of segment `a`-`b` inside the box `lo..hi` on both axes (Liang-Barsky), if any.
fn clip_segment(a: (f64, f64), b: (f64, f64), lo: f64, hi: f64) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - lo), (dx, hi - a.0), (-dy, a.1 - lo), (dy, hi - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then(|| {
        let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
        (at(t0), at(t1))
    })
}

/// A line (tile units relative to the tile) cut to the tile and its buffer: the parts inside, rounded,
/// without repeated points.
fn clip_line(line: &[(f64, f64)]) -> Vec<Vec<(i32, i32)>> {
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let round = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    let mut parts: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut open = false;
    for w in line.windows(2) {
        let Some((a, b)) = clip_segment(w[0], w[1], lo, hi) else {
            open = false;
            continue;
        };
        if !open {
            parts.push(vec![round(a)]);
        }
        let part = parts.last_mut().expect("a part was just pushed");
        if part.last() != Some(&round(b)) {
            part.push(round(b));
        }
        // The next segment continues this part only if this one reached its own end unclipped.
        open = b == w[1];
    }
    parts.retain(|p| p.len() >= 2);
    parts
}

/// The tiles (`z`, `x`, `y`, MVT bytes) of every zoom, the empty ones left out.
fn tiles(items: &[Item]) -> Vec<(u8, u32, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let ext = f64::from(EXTENT);
    for z in MIN_ZOOM..=MAX_ZOOM {
        let mut by_tile: BTreeMap<(u32, u32), Vec<Layer>> = BTreeMap::new();
        for item in items.iter().filter(|i| i.min_zoom <= z) {
            let points: Vec<(f64, f64)> = match &item.shape {
                Shape::Point(p) => vec![world_units(*p, z)],
                Shape::Line(l) | Shape::Polygon(l) => l.iter().map(|p| world_units(*p, z)).collect(),
            };
            let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for p in &points {
                (x0, y0, x1, y1) = (x0.min(p.0), y0.min(p.1), x1.max(p.0), y1.max(p.1));
            }
            let pad = if matches!(item.shape, Shape::Point(_)) {
                0.0
            } else {
                BUFFER
            };
            let range = |a: f64, b: f64| ((a - pad) / ext).floor() as u32..=((b + pad) / ext).floor() as u32;
            for tx in range(x0, x1) {
                for ty in range(y0, y1) {
                    let local: Vec<(f64, f64)> = points
                        .iter()
                        .map(|p| (p.0 - f64::from(tx) * ext, p.1 - f64::from(ty) * ext))
                        .collect();
                    let round = |p: &(f64, f64)| (p.0.round() as i32, p.1.round() as i32);
                    let geometry = match item.shape {
                        Shape::Point(_) => Geometry::Points(vec![round(&local[0])]),
                        Shape::Line(_) => Geometry::Lines(clip_line(&local)),
                        Shape::Polygon(_) => {
                            let mut ring: Vec<(i32, i32)> = local.iter().map(round).collect();
                            ring.dedup();
                            Geometry::Polygon(ring)
                        }
                    };
                    if !mvt::drawable(&geometry) {
                        continue;
                    }
                    let layers = by_tile.entry((tx, ty)).or_insert_with(|| {
                        LAYERS
                            .iter()
                            .map(|n| Layer {
                                name: (*n).into(),
                                features: Vec::new(),
                            })
                            .collect()
                    });
                    layers[item.layer].features.push(Feature {
                        geometry,
                        properties: item.properties.clone(),
                    });
                }
            }
        }
        for ((x, y), layers) in by_tile {
            out.push((z, x, y, mvt::encode_tile(&layers)));
        }
    }
    out
}

/// The basemap of `world` as a PMTiles archive. Deterministic: the same world gives the same bytes.
pub fn basemap(world: &World) -> Vec<u8> {
    let items = items(world);
    let (mut west, mut south, mut east, mut north) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for n in &world.roads.nodes {
        (west, south) = (west.min(n.pos.lon), south.min(n.pos.lat));
        (east, north) = (east.max(n.pos.lon), north.max(n.pos.lat));
    }
    let metadata = serde_json::json!({
        "name": "Tianshu demo basemap",
        "description": "Roads, towns and depots of the simulated world around Huangshi",
        "attribution": "Tianshu demo world",
        "vector_layers": [
            {"id": "roads", "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM, "fields": {"kind": "String", "name": "String"}},
            {"id": "places", "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM, "fields": {"kind": "String", "name": "String"}},
            {"id": "depots", "minzoom": 12, "maxzoom": MAX_ZOOM, "fields": {"name": "String"}},
        ],
    });
    pmtiles::write_archive(
        tiles(&items),
        &pmtiles::ArchiveInfo {
            zooms: (MIN_ZOOM, MAX_ZOOM),
            bounds: [west - 0.05, south - 0.05, east + 0.05, north + 0.05],
            center: ([HUANGSHI.lon, HUANGSHI.lat], 10),
            metadata: metadata.to_string(),
        },
    )
}

/// Writes the basemap of `world` to `path` unless the file already holds exactly it (written once, then
/// only when the world changes). Returns whether it wrote.
pub fn write_basemap(world: &World, path: &Path) -> std::io::Result<bool> {
    let bytes = basemap(world);
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("pmtiles.tmp");
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::pmtiles::read;
    use super::*;
    use crate::WorldConfig;

    #[test]
    fn a_segment_is_cut_to_the_box() {
        assert_eq!(
            clip_segment((-10.0, 5.0), (10.0, 5.0), 0.0, 100.0),
            Some(((0.0, 5.0), (10.0, 5.0)))
        );
        assert_eq!(clip_segment((-10.0, -5.0), (-1.0, 50.0), 0.0, 100.0), None);
        let parts = clip_line(&[
            (-500.0, 100.0),
            (100.0, 100.0),
            (200.0, 200.0),
            (9000.0, 200.0),
            (9000.0, 300.0),
        ]);
        assert_eq!(parts, vec![vec![(-64, 100), (100, 100), (200, 200), (4160, 200)]]);
        // Out and back in: two parts.
        let parts = clip_line(&[(100.0, 100.0), (100.0, -500.0), (200.0, -500.0), (200.0, 100.0)]);
        assert_eq!(
            parts,
            vec![vec![(100, 100), (100, -64)], vec![(200, -64), (200, 100)]]
        );
    }

    #[test]
    fn the_demo_world_s_basemap_has_its_roads_towns_and_depots_at_street_zoom() {
        let world = World::generate(&WorldConfig::default());
        let archive = basemap(&world);
        assert_eq!(basemap(&world), archive, "the same world gives the same archive");
        assert!(archive.len() < 4 << 20, "{} bytes", archive.len());
        // The tile under the city centre at zoom 14 holds all three layers.
        let (x, y) = world_units(HUANGSHI, MAX_ZOOM);
        let e = f64::from(EXTENT);
        let tile = read::tile(&archive, MAX_ZOOM, (x / e) as u32, (y / e) as u32).expect("the centre's tile");
        for needle in ["roads", "minor_road", "places", "黄石市"] {
            assert!(
                tile.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle}"
            );
        }
        // A depot's tile holds its polygon and unit name.
        let unit = &world.units[0];
        let (x, y) = world_units(unit.depot[0], MAX_ZOOM);
        let tile = read::tile(&archive, MAX_ZOOM, (x / e) as u32, (y / e) as u32).expect("a depot's tile");
        assert!(tile.windows(unit.name.len()).any(|w| w == unit.name.as_bytes()));
        // Far away (the other side of the earth): nothing.
        assert_eq!(read::tile(&archive, 10, 10, 10), None);
        // Streets only from zoom 11.
        let (x, y) = world_units(HUANGSHI, 9);
        let tile = read::tile(&archive, 9, (x / e) as u32, (y / e) as u32).expect("the centre at zoom 9");
        assert!(!tile.windows(10).any(|w| w == b"minor_road"));
        assert!(tile.windows(10).any(|w| w == b"major_road"));
    }

    #[test]
    fn the_file_is_written_once_and_again_only_when_the_world_changes() {
        let dir = tianshu_testkit::ScratchDir::new("basemap");
        let path = dir.path().join("data").join("demo.pmtiles");
        let world = World::generate(&WorldConfig::default());
        assert!(write_basemap(&world, &path).unwrap());
        assert!(!write_basemap(&world, &path).unwrap());
        let other = World::generate(&WorldConfig {
            seed: 9,
            ..WorldConfig::default()
        });
        assert!(write_basemap(&other, &path).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), basemap(&other));
    }
}

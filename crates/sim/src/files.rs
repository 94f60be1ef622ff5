//! The world in the platform's import formats: registry CSV, geofence GeoJSON, orders JSON Lines.
//!
//! Each function renders into a `String` (pure, easy to test and to compare between runs); [`write_all`]
//! puts the three files in a directory for `tianshu registry import`, `tianshu geofence import` and
//! `tianshu order import`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use tianshu_model::geo::LonLat;

use crate::geo::to_geojson;
use crate::orders::orders_for;
use crate::world::World;

/// The registry CSV header, exactly as the importer expects it.
pub const REGISTRY_HEADER: &str = "unit,plate,phone,terminal_id,vehicle_class";

/// File name of the registry CSV inside a world directory.
pub const REGISTRY_FILE: &str = "registry.csv";
/// File name of the geofences inside a world directory.
pub const GEOFENCES_FILE: &str = "geofences.geojson";
/// File name of the orders and filings inside a world directory.
pub const ORDERS_FILE: &str = "orders.jsonl";

/// Why the world could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The directory or a file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The registry CSV: one row per vehicle with its terminal, units as `/`-separated paths.
pub fn registry_csv(world: &World) -> String {
    let mut out = String::with_capacity(world.vehicles.len() * 80);
    out.push_str(REGISTRY_HEADER);
    out.push('\n');
    for v in &world.vehicles {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            csv_field(&world.units[v.unit].path),
            csv_field(&v.plate),
            v.phone,
            csv_field(&v.terminal_id),
            v.class.as_str()
        );
    }
    out
}

fn ring_json(ring: &[LonLat]) -> Value {
    // GeoJSON rings are closed (first = last) and, per RFC 7946, exterior rings run counter-clockwise.
    let mut pts: Vec<[f64; 2]> = ring.iter().map(|p| to_geojson(*p)).collect();
    if signed_area(&pts) < 0.0 {
        pts.reverse();
    }
    if let Some(&first) = pts.first() {
        pts.push(first);
    }
    json!([pts])
}

fn signed_area(pts: &[[f64; 2]]) -> f64 {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

fn polygon(ring: &[LonLat], properties: Value) -> Value {
    json!({
        "type": "Feature",
        "geometry": { "type": "Polygon", "coordinates": ring_json(ring) },
        "properties": properties,
    })
}

/// The geofences: the permitted region, one depot per unit and the prohibited places.
pub fn geofences_geojson(world: &World) -> String {
    let mut features = Vec::with_capacity(world.units.len() + world.prohibited.len() + 1);
    features.push(polygon(
        &world.region,
        json!({ "name": "黄石市行政区域", "kind": "region" }),
    ));
    for u in &world.units {
        features.push(polygon(
            &u.depot,
            json!({ "name": format!("{}停车场", u.path.replace('/', "")), "kind": "depot", "unit": u.path }),
        ));
    }
    for p in &world.prohibited {
        features.push(polygon(
            &p.ring,
            json!({ "name": p.name, "kind": "prohibited", "category": p.category }),
        ));
    }
    let fc = json!({ "type": "FeatureCollection", "features": features });
    let mut s = serde_json::to_string_pretty(&fc).unwrap_or_default();
    s.push('\n');
    s
}

/// The orders and holiday filings covering the world's days ([`orders_for`]), one JSON object per line.
pub fn orders_jsonl(world: &World) -> String {
    let mut out = String::new();
    for o in &orders_for(world) {
        if let Ok(line) = serde_json::to_string(o) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Writes `registry.csv`, `geofences.geojson` and `orders.jsonl` into `dir` (created if missing) and
/// returns their paths in that order.
pub fn write_all(world: &World, dir: &Path) -> Result<[PathBuf; 3], WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = [
        (dir.join(REGISTRY_FILE), registry_csv(world)),
        (dir.join(GEOFENCES_FILE), geofences_geojson(world)),
        (dir.join(ORDERS_FILE), orders_jsonl(world)),
    ];
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
    }
    let [(a, _), (b, _), (c, _)] = files;
    Ok([a, b, c])
}

/// Writes `records` as JSON Lines into `dir/records_file` and `totals` as pretty JSON into
/// `dir/totals_file` (what a planted year is written as: every record, and the figures they must add up
/// to), and returns the two paths in that order.
pub fn write_records_and_totals<R: serde::Serialize, T: serde::Serialize>(
    dir: &Path,
    (records_file, records): (&str, &[R]),
    (totals_file, totals): (&str, &T),
) -> Result<[PathBuf; 2], WriteError> {
    let mut lines = String::new();
    for r in records {
        lines.push_str(&serde_json::to_string(r).unwrap_or_default());
        lines.push('\n');
    }
    let mut pretty = serde_json::to_string_pretty(totals).unwrap_or_default();
    pretty.push('\n');
    let files = [(dir.join(records_file), lines), (dir.join(totals_file), pretty)];
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
    }
    let [(a, _), (b, _)] = files;
    Ok([a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;
    use tianshu_model::{Phone, VehicleClass};

    fn world() -> World {
        // Friday to Sunday, so that filings for the weekend exist.
        let friday = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        World::generate(&WorldConfig::from_date(friday, 3))
    }

    #[test]
    fn registry_csv_has_the_exact_header_and_parses() {
        let w = world();
        let csv = registry_csv(&w);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(REGISTRY_HEADER));
        let mut rows = 0;
        for line in lines {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 5, "{line}");
            assert!(cols[0].starts_with("黄石市"), "{line}");
            assert!(cols[1].starts_with("鄂B") && cols[1].chars().count() == 7);
            let phone = Phone::parse(cols[2]).expect("phone parses");
            assert_eq!(phone.to_string(), cols[2]);
            assert!(!cols[3].is_empty() && cols[3].len() <= 30);
            cols[4].parse::<VehicleClass>().expect("class parses");
            rows += 1;
        }
        assert_eq!(rows, w.vehicles.len());
        assert_eq!(csv, registry_csv(&world()), "same seed, same file");
    }

    #[test]
    fn geofences_are_valid_geojson_with_the_agreed_properties() {
        let w = world();
        let v: Value = serde_json::from_str(&geofences_geojson(&w)).expect("valid JSON");
        assert_eq!(v["type"], "FeatureCollection");
        let features = v["features"].as_array().expect("features");
        let mut kinds = std::collections::HashMap::new();
        let mut names = std::collections::HashSet::new();
        for f in features {
            assert_eq!(f["type"], "Feature");
            assert_eq!(f["geometry"]["type"], "Polygon");
            let kind = f["properties"]["kind"].as_str().expect("kind");
            let name = f["properties"]["name"].as_str().expect("name");
            assert!(
                names.insert((kind.to_string(), name.to_string())),
                "duplicate {kind} {name}"
            );
            *kinds.entry(kind.to_string()).or_insert(0) += 1;
            match kind {
                "depot" => assert!(
                    f["properties"]["unit"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("黄石市"))
                ),
                "prohibited" => assert!(f["properties"]["category"].as_str().is_some()),
                "region" => {}
                other => panic!("unexpected kind {other}"),
            }
            let ring = f["geometry"]["coordinates"][0].as_array().expect("ring");
            assert!(ring.len() >= 4);
            assert_eq!(ring.first(), ring.last(), "rings are closed");
            let pts: Vec<[f64; 2]> = ring
                .iter()
                .map(|p| [p[0].as_f64().expect("lon"), p[1].as_f64().expect("lat")])
                .collect();
            for p in &pts {
                // [lon, lat] order, around Huangshi.
                assert!(
                    (113.5..117.0).contains(&p[0]) && (29.0..31.5).contains(&p[1]),
                    "{p:?}"
                );
            }
            assert!(
                signed_area(&pts[..pts.len() - 1]) > 0.0,
                "exterior ring counter-clockwise"
            );
        }
        assert_eq!(kinds["region"], 1);
        assert_eq!(kinds["depot"], w.units.len());
        assert_eq!(kinds["prohibited"], w.prohibited.len());
        let region = &features[0]["geometry"]["coordinates"][0];
        assert!(region.as_array().is_some_and(|r| r.len() > 300));
    }

    #[test]
    fn orders_are_valid_json_lines_matching_the_plans() {
        let w = world();
        let text = orders_jsonl(&w);
        let plates: std::collections::HashSet<_> = w.vehicles.iter().map(|v| v.plate.as_str()).collect();
        let (mut orders, mut filings) = (0, 0);
        let mut ids = std::collections::HashSet::new();
        for line in text.lines() {
            let o: Value = serde_json::from_str(line).expect("a JSON object per line");
            let id = o["id"].as_str().expect("id");
            assert!(ids.insert(id.to_string()), "duplicate id {id}");
            assert!(plates.contains(o["plate"].as_str().expect("plate")));
            let start =
                tianshu_model::Timestamp::parse_rfc3339(o["start"].as_str().expect("start")).expect("start");
            let end = tianshu_model::Timestamp::parse_rfc3339(o["end"].as_str().expect("end")).expect("end");
            assert!(start < end);
            assert!(o["start"].as_str().is_some_and(|s| s.ends_with('Z')));
            assert_eq!(o["state"], "approved");
            assert!(o["allow_region_exit"].is_boolean());
            assert!(o["purpose"].as_str().is_some_and(|p| !p.is_empty()));
            match o["kind"].as_str() {
                Some("order") => {
                    orders += 1;
                    assert!(id.starts_with("PC-"));
                    assert_eq!(o["route"]["type"], "LineString");
                    let coords = o["route"]["coordinates"].as_array().expect("coordinates");
                    assert!(coords.len() >= 2);
                    assert_eq!(o["corridor_m"], 300);
                    assert!(!o["destinations"].as_array().expect("destinations").is_empty());
                }
                Some("filing") => {
                    filings += 1;
                    assert!(id.starts_with("BB-"));
                    assert!(o.get("route").is_none());
                }
                other => panic!("kind {other:?}"),
            }
        }
        assert!(orders > 300, "{orders} orders");
        assert!(filings >= 1, "{filings} filings");
    }

    #[test]
    fn order_routes_follow_roads_and_destinations_lie_on_them() {
        let w = world();
        for o in orders_for(&w).iter().filter(|o| o.kind == "order") {
            let route = o.route.as_ref().expect("route");
            let nodes: Vec<_> = route
                .coordinates
                .iter()
                .map(|c| w.roads.nearest_node(LonLat::new(c[0], c[1])))
                .collect();
            for (c, &n) in route.coordinates.iter().zip(&nodes) {
                assert_eq!(*c, to_geojson(w.roads.pos(n)), "route vertex is a road node");
            }
            assert!(
                w.roads.is_connected_path(&nodes),
                "order {} leaves the road network",
                o.id
            );
        }
    }

    #[test]
    fn write_all_writes_three_files() {
        let dir = std::env::temp_dir().join(format!("tianshu-sim-world-{}", std::process::id()));
        let w = world();
        let paths = write_all(&w, &dir).expect("written");
        assert_eq!(std::fs::read_to_string(&paths[0]).expect("csv"), registry_csv(&w));
        assert!(std::fs::metadata(&paths[1]).expect("geojson").len() > 10_000);
        assert!(
            std::fs::read_to_string(&paths[2])
                .expect("orders")
                .lines()
                .count()
                == orders_for(&w).len()
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

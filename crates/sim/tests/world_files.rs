//! The world's files read by the platform's own parsers: the registry importer, the geofence importer
//! and the order importer accept them, and what they read back is the world that was written.
#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::collections::HashSet;

use tianshu_rules::{FenceKind, OrderKind, OrderState};
use tianshu_sim::files::{geofences_geojson, orders_jsonl, registry_csv};
use tianshu_sim::orders::orders_for;
use tianshu_sim::{World, WorldConfig};

fn world() -> World {
    // Friday to Monday: orders on working days, filings on the weekend.
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    World::generate(&WorldConfig::from_date(friday, 4))
}

#[test]
fn the_registry_importer_reads_every_car() {
    let w = world();
    let records = tianshu_store::parse_registry_csv(&registry_csv(&w)).unwrap();
    assert_eq!(records.len(), w.vehicles.len());
    for (r, v) in records.iter().zip(&w.vehicles) {
        assert_eq!(r.plate, v.plate);
        assert_eq!(r.phone, v.phone);
        assert_eq!(r.terminal_id, v.terminal_id);
        assert_eq!(r.vehicle_class, v.class);
        assert_eq!(r.unit, w.units[v.unit].path);
    }
    let units: HashSet<&str> = records.iter().map(|r| r.unit.as_str()).collect();
    assert!(units.len() >= 70, "cars spread over {} units", units.len());
}

#[test]
fn the_geofence_importer_reads_region_depots_and_prohibited_places() {
    let w = world();
    let fences = tianshu_rules::fences::parse_geojson(&geofences_geojson(&w)).unwrap();
    let count = |k: FenceKind| fences.iter().filter(|f| f.kind == k).count();
    assert_eq!(count(FenceKind::Region), 1);
    assert_eq!(count(FenceKind::Depot), w.units.len());
    assert_eq!(count(FenceKind::Prohibited), w.prohibited.len());
    let region = fences.iter().find(|f| f.kind == FenceKind::Region).unwrap();
    assert!(
        region.polygons[0][0].len() > 300,
        "the region has hundreds of vertices"
    );
    let unit_paths: HashSet<&str> = w.units.iter().map(|u| u.path.as_str()).collect();
    for f in fences.iter().filter(|f| f.kind == FenceKind::Depot) {
        assert!(
            unit_paths.contains(f.unit.as_deref().unwrap()),
            "depot of an unknown unit"
        );
    }
    for f in fences.iter().filter(|f| f.kind == FenceKind::Prohibited) {
        assert!(f.category.is_some());
    }
}

#[test]
fn the_order_importer_reads_orders_and_filings() {
    let w = world();
    let orders = tianshu_rules::orders::parse_jsonl(&orders_jsonl(&w))
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(orders.len(), orders_for(&w).len());
    let plates: HashSet<&str> = w.vehicles.iter().map(|v| v.plate.as_str()).collect();
    let mut filings = 0;
    for o in &orders {
        assert!(plates.contains(o.plate.as_str()));
        assert_eq!(o.state, OrderState::Approved);
        match o.kind {
            OrderKind::Order => {
                assert!(o.route.is_some() && !o.destinations.is_empty());
                assert_eq!(o.corridor_m, Some(300.0));
            }
            OrderKind::Filing => filings += 1,
        }
    }
    assert!(filings > 0, "the weekend has holiday filings");
}

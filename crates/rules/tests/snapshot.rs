//! A rule state written down and read back mid-track continues exactly as the state that never stopped:
//! same episodes, same final state, at every point the track could be cut.

#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use tianshu_model::{
    Position, PositionSource, StatusFlags, Timestamp, Unit, UnitId, Vehicle, VehicleClass, VehicleId,
};
use tianshu_rules::fences::parse_geojson;
use tianshu_rules::{
    Calendar, Reference, RuleEvent, RulesConfig, SNAPSHOT_VERSION, SnapshotRefused, VehicleRules,
};

const DEPOT: [f64; 2] = [115.000, 30.200];

fn local(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{}+08:00", s.replace(' ', "T"))).unwrap()
}

fn car() -> Vehicle {
    Vehicle {
        id: VehicleId(1),
        plate: "鄂B12345".into(),
        unit: UnitId(2),
        class: VehicleClass::General,
        marking: None,
    }
}

fn reference(config: RulesConfig) -> Reference {
    let units = [
        Unit::new(UnitId(1), "黄石市", None),
        Unit::new(UnitId(2), "市委办公室", Some(UnitId(1))),
    ];
    let (x0, x1, y0, y1) = (
        DEPOT[0] - 0.001,
        DEPOT[0] + 0.001,
        DEPOT[1] - 0.001,
        DEPOT[1] + 0.001,
    );
    let fences = parse_geojson(&format!(
        r#"{{"type":"FeatureCollection","features":[
{{"type":"Feature","properties":{{"name":"黄石市","kind":"region"}},"geometry":{{"type":"Polygon","coordinates":[[[114.8,29.9],[115.3,29.9],[115.3,30.3],[114.8,30.3],[114.8,29.9]]]}}}},
{{"type":"Feature","properties":{{"name":"市委车库","kind":"depot","unit":"黄石市/市委办公室"}},"geometry":{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}
]}}"#
    ))
    .unwrap();
    Reference::build(
        config,
        Calendar::builtin().unwrap(),
        &units,
        &[car()],
        &fences,
        &[],
    )
    .unwrap()
}

/// One fix every 30 s from `start`: `(lon, speed km/h, ignition)` per fix.
fn fixes(start: &str, legs: &[(f64, f64, bool)]) -> Vec<Position> {
    let t0 = local(start);
    legs.iter()
        .enumerate()
        .map(|(i, &(lon, speed, acc))| {
            let t = t0.add_millis(i as i64 * 30_000);
            Position {
                vehicle: VehicleId(1),
                fix_time: t,
                recv_time: t.add_millis(2000),
                lat_e6: (DEPOT[1] * 1e6) as i32,
                lon_e6: (lon * 1e6).round() as i32,
                speed_dkmh: (speed * 10.0) as u16,
                status: StatusFlags(StatusFlags::FIXED | if acc { StatusFlags::ACC_ON } else { 0 }),
                ..Default::default()
            }
        })
        .collect()
}

/// A Friday night: out of the depot at 23:00, ignition off 2 km away for 20 minutes (night parking),
/// back to the depot; then the morning's trip arrives late as a blind-area backfill (the late lane).
fn night_then_backfill() -> Vec<Position> {
    let mut legs = Vec::new();
    for i in 0..=20 {
        legs.push((DEPOT[0] + 0.001 * f64::from(i), 30.0, true));
    }
    for _ in 0..40 {
        legs.push((DEPOT[0] + 0.02, 0.0, false));
    }
    for i in (0..=20).rev() {
        legs.push((DEPOT[0] + 0.001 * f64::from(i), 30.0, true));
    }
    for _ in 0..10 {
        legs.push((DEPOT[0], 0.0, false));
    }
    let mut points = fixes("2026-11-27 23:00:00", &legs);
    let morning: Vec<(f64, f64, bool)> = (0..40)
        .map(|i| (DEPOT[0] + 0.0005 * f64::from(i), 40.0, true))
        .collect();
    points.extend(fixes("2026-11-28 00:10:00", &[(DEPOT[0], 0.0, false); 3]));
    for mut p in fixes("2026-11-27 19:00:00", &morning) {
        p.source = PositionSource::Backfill;
        p.recv_time = local("2026-11-28 00:12:00");
        points.push(p);
    }
    points
}

fn feed(r: &Reference, rules: &mut VehicleRules, points: &[Position], events: &mut Vec<RuleEvent>) {
    for p in points {
        rules.push(r, p, events);
    }
}

#[test]
fn a_state_restored_at_any_point_ends_as_the_state_that_never_stopped() {
    let config = RulesConfig::default();
    let r = reference(config.clone());
    let points = night_then_backfill();

    let mut whole = VehicleRules::new(&car());
    let mut whole_events = Vec::new();
    feed(&r, &mut whole, &points, &mut whole_events);
    let opened = whole_events
        .iter()
        .filter(|e| matches!(e, RuleEvent::Opened(_)))
        .count();
    assert!(
        opened >= 3,
        "the track raises episodes on both lanes: {whole_events:#?}"
    );
    assert!(
        whole.diagnostics().out_of_order_points > 0,
        "the backfill went to the late lane"
    );
    let expected_state = whole.snapshot(&config);
    whole.finish(&r, &mut whole_events);

    for cut in 0..=points.len() {
        let mut first = VehicleRules::new(&car());
        let mut events = Vec::new();
        feed(&r, &mut first, &points[..cut], &mut events);
        let written = first.snapshot(&config);
        drop(first);
        let mut resumed = VehicleRules::restore(&written, &config).unwrap();
        feed(&r, &mut resumed, &points[cut..], &mut events);
        assert_eq!(
            resumed.snapshot(&config),
            expected_state,
            "state after a cut at point {cut}"
        );
        resumed.finish(&r, &mut events);
        assert_eq!(events, whole_events, "episodes with a cut at point {cut}");
    }
}

#[test]
fn a_snapshot_of_another_format_or_configuration_is_refused() {
    let config = RulesConfig::default();
    let r = reference(config.clone());
    let mut rules = VehicleRules::new(&car());
    feed(&r, &mut rules, &night_then_backfill()[..30], &mut Vec::new());
    let written = rules.snapshot(&config);

    let mut other = config.clone();
    other.late_after_secs += 1;
    assert_eq!(
        VehicleRules::restore(&written, &other).unwrap_err(),
        SnapshotRefused::Configuration
    );

    let mut value: serde_json::Value = serde_json::from_str(&written).unwrap();
    value["version"] = serde_json::json!(SNAPSHOT_VERSION + 1);
    assert_eq!(
        VehicleRules::restore(&value.to_string(), &config).unwrap_err(),
        SnapshotRefused::Version {
            found: SNAPSHOT_VERSION + 1
        }
    );
    assert!(matches!(
        VehicleRules::restore("{\"version\":1}", &config),
        Err(SnapshotRefused::Malformed(_))
    ));
    assert!(VehicleRules::restore(&written, &config).is_ok());
}

//! Scenario tests: synthetic tracks through the whole engine, with exact expectations, including the
//! near-misses that must not raise anything.

#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use tianshu_model::{
    AlarmBit, AlarmFlags, Position, PositionSource, StatusFlags, Timestamp, Unit, UnitId, Vehicle,
    VehicleClass, VehicleId,
};
use tianshu_rules::fences::parse_geojson;
use tianshu_rules::orders::parse_jsonl;
use tianshu_rules::{
    Calendar, Episode, Order, Reference, RuleEvent, RuleId, RulesConfig, VehicleRules, Verdict, reevaluate,
};

const DEPOT: [f64; 2] = [115.000, 30.200];
const PROHIBITED: [f64; 2] = [115.100, 30.200];

fn local(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{}+08:00", s.replace(' ', "T"))).unwrap()
}

fn units() -> Vec<Unit> {
    vec![
        Unit::new(UnitId(1), "黄石市", None),
        Unit::new(UnitId(2), "市委办公室", Some(UnitId(1))),
    ]
}

fn car(class: VehicleClass) -> Vehicle {
    Vehicle {
        id: VehicleId(1),
        plate: "鄂B12345".into(),
        unit: UnitId(2),
        class,
        marking: None,
    }
}

fn square(c: [f64; 2], half_deg: f64) -> String {
    let (x0, x1, y0, y1) = (c[0] - half_deg, c[0] + half_deg, c[1] - half_deg, c[1] + half_deg);
    format!("[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]")
}

fn fences_json() -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[
{{"type":"Feature","properties":{{"name":"黄石市","kind":"region"}},"geometry":{{"type":"Polygon","coordinates":[[[114.8,29.9],[115.3,29.9],[115.3,30.3],[114.8,30.3],[114.8,29.9]]]}}}},
{{"type":"Feature","properties":{{"name":"市委车库","kind":"depot","unit":"黄石市/市委办公室"}},"geometry":{{"type":"Polygon","coordinates":{}}}}},
{{"type":"Feature","properties":{{"name":"金碧辉煌KTV","kind":"prohibited","category":"entertainment"}},"geometry":{{"type":"Polygon","coordinates":{}}}}},
{{"type":"Feature","properties":{{"name":"学校路段","kind":"speed_zone","speed_limit_kmh":60}},"geometry":{{"type":"Polygon","coordinates":{}}}}}
]}}"#,
        square(DEPOT, 0.001),
        square(PROHIBITED, 0.002),
        square([115.2, 30.1], 0.01),
    )
}

fn reference_with(config: RulesConfig, orders: &[Order]) -> Reference {
    let fences = parse_geojson(&fences_json()).unwrap();
    let r = Reference::build(
        config,
        Calendar::builtin().unwrap(),
        &units(),
        &[car(VehicleClass::General)],
        &fences,
        orders,
    )
    .unwrap();
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    r
}

fn reference() -> Reference {
    reference_with(RulesConfig::default(), &[])
}

fn order(line: &str) -> Vec<Order> {
    parse_jsonl(line).unwrap()
}

/// Builds a track one fix at a time.
struct Trip {
    t: Timestamp,
    at: [f64; 2],
    points: Vec<Position>,
    source: PositionSource,
    recv_delay_ms: i64,
    alarm: u32,
}

impl Trip {
    fn new(start: &str, at: [f64; 2]) -> Self {
        Trip {
            t: local(start),
            at,
            points: Vec::new(),
            source: PositionSource::Live,
            recv_delay_ms: 2000,
            alarm: 0,
        }
    }

    fn fix(&mut self, at: [f64; 2], speed_kmh: f64, acc: bool) {
        let status = StatusFlags::FIXED | if acc { StatusFlags::ACC_ON } else { 0 };
        self.points.push(Position {
            vehicle: VehicleId(1),
            fix_time: self.t,
            recv_time: self.t.add_millis(self.recv_delay_ms),
            lat_e6: (at[1] * 1e6).round() as i32,
            lon_e6: (at[0] * 1e6).round() as i32,
            speed_dkmh: (speed_kmh * 10.0).round() as u16,
            status: StatusFlags(status),
            alarm: AlarmFlags(self.alarm),
            source: self.source,
            ..Default::default()
        });
        self.at = at;
    }

    /// Drives in a straight line to `to`, one fix every `step_secs`, arriving after `secs`.
    fn drive(&mut self, to: [f64; 2], secs: i64, step_secs: i64, speed_kmh: f64) -> &mut Self {
        let from = self.at;
        let n = secs / step_secs;
        for i in 1..=n {
            self.t = self.t.add_millis(step_secs * 1000);
            let f = i as f64 / n as f64;
            self.fix(
                [from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f],
                speed_kmh,
                true,
            );
        }
        self
    }

    /// Starts the trip with a moving fix where it stands.
    fn go(&mut self, speed_kmh: f64) -> &mut Self {
        let at = self.at;
        self.fix(at, speed_kmh, true);
        self
    }

    /// Stands still with the ignition off, one fix every `step_secs`, positions offset by `jitter`.
    fn park(&mut self, secs: i64, step_secs: i64, jitter: &dyn Fn(i64) -> [f64; 2]) -> &mut Self {
        let at = self.at;
        for i in 1..=secs / step_secs {
            self.t = self.t.add_millis(step_secs * 1000);
            let j = jitter(i);
            self.fix([at[0] + j[0], at[1] + j[1]], 0.0, false);
        }
        self.at = at;
        self
    }

    fn wait(&mut self, secs: i64) -> &mut Self {
        self.t = self.t.add_millis(secs * 1000);
        self
    }
}

fn still(_: i64) -> [f64; 2] {
    [0.0, 0.0]
}

/// Runs the rules and returns the final state of every episode, in start order.
fn run(r: &Reference, v: &Vehicle, points: &[Position]) -> (Vec<Episode>, VehicleRules) {
    let mut rules = VehicleRules::new(v);
    let mut events = Vec::new();
    for p in points {
        rules.push(r, p, &mut events);
    }
    rules.finish(r, &mut events);
    (collect(&events), rules)
}

fn collect(events: &[RuleEvent]) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    for e in events {
        let ep = e.episode();
        match out.iter_mut().find(|o| o.rule == ep.rule && o.start == ep.start) {
            Some(o) => *o = ep.clone(),
            None => out.push(ep.clone()),
        }
    }
    out.sort_by_key(|e| (e.start, e.rule));
    out
}

/// The episodes of an ordinary car (class general) on `t`, under the reference data.
fn episodes(t: &Trip) -> Vec<Episode> {
    run(&reference(), &car(VehicleClass::General), &t.points).0
}

fn summary(eps: &[Episode]) -> Vec<(RuleId, String, String)> {
    let fmt = |t: Timestamp| t.to_china().format("%m-%d %H:%M:%S").to_string();
    eps.iter()
        .map(|e| (e.rule, fmt(e.start), e.end.map(fmt).unwrap_or_default()))
        .collect()
}

/// `eps` is exactly one episode: of `rule`, from `start` to `end` (China time, `MM-DD hh:mm:ss`).
#[track_caller]
fn assert_only(eps: &[Episode], rule: RuleId, start: &str, end: &str) {
    assert_eq!(summary(eps), [s(rule, start, end)]);
}

/// `e`'s plain-English reasoning says `words`.
#[track_caller]
fn assert_says(e: &Episode, words: &str) {
    assert!(e.reasoning.contains(words), "{}", e.reasoning);
}

fn s(rule: RuleId, start: &str, end: &str) -> (RuleId, String, String) {
    (rule, start.to_string(), end.to_string())
}

/// A trip from the depot eastwards and back, `secs` long each way.
fn round_trip(start: &str, out_secs: i64) -> Trip {
    let mut t = Trip::new(start, DEPOT);
    t.go(40.0)
        .drive([115.03, 30.20], out_secs, 30, 40.0)
        .drive(DEPOT, out_secs, 30, 40.0)
        .park(3600, 600, &still);
    t
}

#[test]
fn out_of_hours_on_a_rest_day() {
    // Saturday 2026-11-28 is an ordinary rest day.
    let t = round_trip("2026-11-28 10:00:00", 900);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::OutOfHours, "11-28 10:00:00", "11-28 10:30:00");
    let e = &eps[0];
    assert!(!e.late);
    assert_says(e, "a rest day");
    assert!(e.reasoning_zh.contains("休息日"), "{}", e.reasoning_zh);
    assert_eq!(e.evidence.len(), tianshu_rules::MAX_EVIDENCE);
    assert_eq!(
        e.evidence.last().map(|x| x.fix_time),
        Some(local("2026-11-28 10:30:00"))
    );
}

#[test]
fn a_trip_ending_at_1729_on_a_working_day_is_not_out_of_hours() {
    // Friday 2026-11-27: office hours end at 17:30.
    let t = round_trip("2026-11-27 16:49:00", 1200);
    assert_eq!(
        t.points[t.points.len() - 7].fix_time,
        local("2026-11-27 17:29:00")
    );
    let eps = episodes(&t);
    assert_eq!(summary(&eps), []);

    // The same trip 11 minutes later runs 10 minutes past the end of office hours.
    let t = round_trip("2026-11-27 17:00:00", 1200);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::OutOfHours, "11-27 17:30:00", "11-27 17:40:00");
    assert!(
        eps[0]
            .reasoning
            .contains("outside office hours 08:30-12:00, 14:00-17:30"),
        "{}",
        eps[0].reasoning
    );
}

#[test]
fn an_adjusted_working_saturday_is_a_working_day() {
    // Saturday 2026-10-10 is worked (National Day adjustment); Saturday 2026-10-17 is not.
    let t = round_trip("2026-10-10 09:00:00", 900);
    let eps = episodes(&t);
    assert_eq!(summary(&eps), []);
    let t = round_trip("2026-10-17 09:00:00", 900);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::OutOfHours, "10-17 09:00:00", "10-17 09:30:00");
}

#[test]
fn holiday_use_needs_a_filing() {
    let t = round_trip("2026-10-02 10:00:00", 600);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::HolidaySeal, "10-02 10:00:00", "10-02 10:20:00");
    assert_eq!(eps[0].severity, tianshu_rules::Severity::High);
    assert_eq!(eps[0].subject.as_deref(), Some("国庆节"));

    let filing = order(
        r#"{"id":"BB-1","kind":"filing","plate":"鄂B12345","purpose":"防汛值班","start":"2026-10-02T00:00:00Z","end":"2026-10-02T10:00:00Z","state":"approved"}"#,
    );
    let (eps, _) = run(
        &reference_with(RulesConfig::default(), &filing),
        &car(VehicleClass::General),
        &t.points,
    );
    assert_eq!(summary(&eps), []);
    // An emergency car on duty is exempt.
    let (eps, _) = run(&reference(), &car(VehicleClass::Emergency), &t.points);
    assert_eq!(summary(&eps), []);
}

#[test]
fn an_order_approved_afterwards_withdraws_the_alert() {
    let t = round_trip("2026-11-28 10:00:00", 900);
    let before = reference();
    let (eps, _) = run(&before, &car(VehicleClass::General), &t.points);
    assert_only(&eps, RuleId::OutOfHours, "11-28 10:00:00", "11-28 10:30:00");

    // The order arrives (re-imported as approved) after the trip.
    let requested = r#"{"id":"PC-2026-000123","kind":"order","plate":"鄂B12345","driver":"张三","purpose":"周末加班送文件","start":"2026-11-28T01:30:00Z","end":"2026-11-28T03:00:00Z","state":"requested"}"#;
    let still_requested = reference_with(RulesConfig::default(), &order(requested));
    assert_eq!(
        reevaluate(&still_requested, &car(VehicleClass::General), &t.points, &eps[0]),
        Verdict::Stands
    );

    let approved = reference_with(
        RulesConfig::default(),
        &order(&requested.replace("requested", "approved")),
    );
    match reevaluate(&approved, &car(VehicleClass::General), &t.points, &eps[0]) {
        Verdict::Withdrawn { reason, reason_zh } => {
            assert!(reason.contains("order PC-2026-000123"), "{reason}");
            assert!(reason_zh.contains("派车单PC-2026-000123"), "{reason_zh}");
        }
        v => panic!("{v:?}"),
    }
    // An order covering only part of the trip leaves a shorter violation standing.
    let partial = requested
        .replace("requested", "approved")
        .replace("2026-11-28T03:00:00Z", "2026-11-28T02:10:00Z");
    let partial = reference_with(RulesConfig::default(), &order(&partial));
    assert_eq!(
        reevaluate(&partial, &car(VehicleClass::General), &t.points, &eps[0]),
        Verdict::Stands
    );
}

#[test]
fn a_road_skirting_a_prohibited_zone_is_not_a_visit() {
    // The zone spans lat 30.198-30.202; the road runs 10 m south of its edge, and GPS jitter of up to 25 m
    // puts some fixes inside it. Slow traffic keeps the car alongside for 20 minutes.
    let edge = PROHIBITED[1] - 0.002;
    let mut t = Trip::new("2026-11-27 09:00:00", [PROHIBITED[0] - 0.004, edge - 0.00009]);
    t.go(10.0);
    for i in 0..80 {
        t.t = t.t.add_millis(15_000);
        let jitter = if i % 3 == 0 { 0.000_22 } else { -0.000_05 };
        t.fix(
            [PROHIBITED[0] - 0.004 + i as f64 * 0.0001, edge - 0.00009 + jitter],
            10.0,
            true,
        );
    }
    t.park(1800, 600, &still);
    let eps = episodes(&t);
    assert_eq!(summary(&eps), []);

    // A real visit: parked in the middle (over 200 m from the edge) for 40 minutes on a working day.
    // The approach fixes are outside or too shallow to count; the episode spans the deep fixes.
    let mut t = Trip::new("2026-11-27 09:00:00", DEPOT);
    t.go(40.0)
        .drive(PROHIBITED, 600, 30, 40.0)
        .park(2400, 120, &still)
        .drive(DEPOT, 600, 30, 40.0);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::ProhibitedPlace, "11-27 09:10:00", "11-27 09:50:00");
    assert_eq!(eps[0].subject.as_deref(), Some("金碧辉煌KTV"));
    assert!(eps[0].reasoning_zh.contains("金碧辉煌KTV"));
}

#[test]
fn gps_jitter_at_the_depot_at_night_is_not_night_parking() {
    // Parked at 18:30 near the depot's north edge; all night the fixes wander up to 40 m beyond it.
    let near_edge = [DEPOT[0], DEPOT[1] + 0.0008];
    let mut t = Trip::new("2026-11-27 18:00:00", [115.01, 30.2]);
    t.go(30.0).drive(near_edge, 1800, 30, 30.0);
    t.park(12 * 3600, 900, &|i| {
        if i % 2 == 0 {
            [0.0, 0.00055]
        } else {
            [0.0002, -0.0001]
        }
    });
    let (eps, rules) = run(&reference(), &car(VehicleClass::General), &t.points);
    assert_only(&eps, RuleId::OutOfHours, "11-27 18:00:00", "11-27 18:30:00");
    assert!(!rules.diagnostics().no_depot);

    // Parked 2 km away: the 22:00 check finds it, and the episode ends when the night does.
    let mut t = Trip::new("2026-11-27 17:00:00", DEPOT);
    t.go(30.0)
        .drive([115.02, 30.2], 600, 30, 30.0)
        .park(14 * 3600, 1800, &still);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::NightParking, "11-27 22:00:00", "11-28 06:00:00");
    assert_says(&eps[0], "nightly check");
}

#[test]
fn switching_off_at_night_away_from_the_depot() {
    // Friday 2026-11-27: a 23:00 trip, ignition off 2 km from the depot at 23:11, then back to the depot
    // at 23:40. The 20-minute stop splits the use into two out-of-hours episodes (clear_secs 300); the
    // night-parking episode ends at the first fix within the depot's 50 m tolerance.
    let mut t = Trip::new("2026-11-27 23:00:00", DEPOT);
    t.go(30.0)
        .drive([115.02, 30.2], 600, 30, 30.0)
        .park(1200, 60, &still)
        .go(30.0)
        .drive(DEPOT, 600, 30, 30.0);
    let eps = episodes(&t);
    assert_eq!(
        summary(&eps),
        [
            s(RuleId::OutOfHours, "11-27 23:00:00", "11-27 23:10:00"),
            s(RuleId::NightParking, "11-27 23:11:00", "11-27 23:39:30"),
            s(RuleId::OutOfHours, "11-27 23:30:00", "11-27 23:40:00"),
        ]
    );
    assert_says(&eps[1], "ignition was switched off");
}

#[test]
fn off_route_with_tolerance_at_the_ends() {
    let o = order(
        r#"{"id":"PC-9","kind":"order","plate":"鄂B12345","purpose":"调研","start":"2026-11-27T00:00:00Z","end":"2026-11-27T08:00:00Z","destinations":[{"name":"阳新","lon":115.1,"lat":30.2}],"route":{"type":"LineString","coordinates":[[115.0,30.2],[115.05,30.2],[115.1,30.2]]},"corridor_m":300,"state":"approved"}"#,
    );
    let r = reference_with(RulesConfig::default(), &o);
    // Along the route with jitter inside the corridor, then a stop 400 m off the line at the destination.
    let mut t = Trip::new("2026-11-27 09:00:00", DEPOT);
    t.go(40.0)
        .drive([115.05, 30.2015], 600, 30, 40.0)
        .drive([115.1, 30.2], 600, 30, 40.0)
        .drive([115.1, 30.2036], 60, 30, 10.0);
    t.park(1800, 300, &still);
    let (eps, _) = run(&r, &car(VehicleClass::General), &t.points);
    assert_eq!(summary(&eps), []);

    // A 10-minute detour 1.1 km north of the route in the middle.
    let mut t = Trip::new("2026-11-27 09:00:00", DEPOT);
    t.go(40.0)
        .drive([115.03, 30.2], 300, 30, 40.0)
        .drive([115.03, 30.21], 120, 30, 40.0);
    t.drive([115.06, 30.21], 600, 30, 40.0)
        .drive([115.06, 30.2], 120, 30, 40.0)
        .drive([115.1, 30.2], 600, 30, 40.0);
    let (eps, _) = run(&r, &car(VehicleClass::General), &t.points);
    assert_only(&eps, RuleId::OffRoute, "11-27 09:06:00", "11-27 09:18:30");
    assert_eq!(eps[0].subject.as_deref(), Some("PC-9"));
}

#[test]
fn an_off_route_episode_after_a_gap_in_the_data_names_its_order() {
    let o = order(
        r#"{"id":"PC-9","kind":"order","plate":"鄂B12345","purpose":"调研","start":"2026-11-27T00:00:00Z","end":"2026-11-27T08:00:00Z","route":{"type":"LineString","coordinates":[[115.0,30.2],[115.05,30.2],[115.1,30.2]]},"corridor_m":300,"state":"approved"}"#,
    );
    let r = reference_with(RulesConfig::default(), &o);
    // Off the route, then ten minutes without data (longer than the rule's stale-message guard), then
    // off the route again: the data after the gap is a new episode, and it says what it is about.
    let mut t = Trip::new("2026-11-27 09:00:00", DEPOT);
    t.go(40.0)
        .drive([115.03, 30.2], 300, 30, 40.0)
        .drive([115.03, 30.21], 120, 30, 40.0)
        .wait(600)
        .drive([115.06, 30.21], 600, 30, 40.0);
    let (eps, _) = run(&r, &car(VehicleClass::General), &t.points);
    assert_eq!(
        summary(&eps),
        [
            s(RuleId::OffRoute, "11-27 09:06:00", "11-27 09:07:00"),
            s(RuleId::OffRoute, "11-27 09:17:30", "11-27 09:27:00"),
        ]
    );
    for e in &eps {
        assert_eq!(e.subject.as_deref(), Some("PC-9"), "{}", e.reasoning);
        assert_says(e, "m from the approved route of order PC-9");
    }
}

#[test]
fn leaving_the_region() {
    // Working day, office hours: east out of the region (boundary lon 115.3) and back, 481 m per fix.
    // The first fix beyond the 200 m margin opens it; it lasts until the car is back on the boundary.
    let mut t = Trip::new("2026-11-27 09:00:00", [115.25, 30.2]);
    t.go(60.0)
        .drive([115.4, 30.2], 900, 30, 60.0)
        .drive([115.25, 30.2], 900, 30, 60.0);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::RegionExit, "11-27 09:05:30", "11-27 09:25:00");

    let o = order(
        r#"{"id":"PC-10","kind":"order","plate":"鄂B12345","purpose":"赴省开会","start":"2026-11-27T00:00:00Z","end":"2026-11-27T08:00:00Z","state":"approved","allow_region_exit":true}"#,
    );
    let (eps, _) = run(
        &reference_with(RulesConfig::default(), &o),
        &car(VehicleClass::General),
        &t.points,
    );
    assert_eq!(summary(&eps), []);
}

#[test]
fn tamper_and_silence() {
    let mut t = Trip::new("2026-11-27 09:00:00", DEPOT);
    t.go(40.0).drive([115.01, 30.2], 120, 30, 40.0);
    t.alarm = 1 << AlarmBit::GnssAntennaCut as u8;
    t.drive([115.02, 30.2], 120, 30, 40.0);
    t.alarm = 0;
    t.drive([115.03, 30.2], 120, 30, 40.0);
    // The terminal then goes quiet for 3 hours mid-trip.
    t.wait(3 * 3600)
        .drive([115.04, 30.2], 60, 30, 40.0)
        .park(600, 300, &still);
    let eps = episodes(&t);
    assert_eq!(
        summary(&eps),
        [
            s(RuleId::Tamper, "11-27 09:02:30", "11-27 09:04:00"),
            s(RuleId::Silence, "11-27 09:06:00", "11-27 12:06:30"),
        ]
    );
    assert_says(&eps[0], "gnss_antenna_cut");

    // Live: the clock notices the silence before any point arrives.
    let r = reference();
    let mut rules = VehicleRules::new(&car(VehicleClass::General));
    let mut ev = Vec::new();
    for p in &t.points[..13] {
        rules.push(&r, p, &mut ev);
    }
    ev.clear();
    rules.tick(&r, local("2026-11-27 10:00:00"), &mut ev);
    assert!(ev.is_empty());
    rules.tick(&r, local("2026-11-27 11:10:00"), &mut ev);
    assert_eq!(summary(&collect(&ev)), [s(RuleId::Silence, "11-27 09:06:00", "")]);
    ev.clear();
    for p in &t.points[13..] {
        rules.push(&r, p, &mut ev);
    }
    assert_eq!(
        summary(&collect(&ev))[0],
        s(RuleId::Silence, "11-27 09:06:00", "11-27 12:06:30")
    );
}

#[test]
fn overspeed_needs_duration_and_margin() {
    let mut t = Trip::new("2026-11-27 09:00:00", [115.0, 30.15]);
    t.go(100.0)
        .drive([115.02, 30.15], 60, 10, 124.0)
        .drive([115.05, 30.15], 60, 10, 135.0)
        .drive([115.06, 30.15], 60, 10, 100.0);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::Overspeed, "11-27 09:01:10", "11-27 09:02:00");

    // 80 km/h in the 60 km/h zone for a minute.
    let mut t = Trip::new("2026-11-27 09:00:00", [115.195, 30.1]);
    t.go(80.0)
        .drive([115.205, 30.1], 60, 10, 80.0)
        .drive([115.25, 30.1], 60, 10, 50.0);
    let eps = episodes(&t);
    assert_only(&eps, RuleId::Overspeed, "11-27 09:00:00", "11-27 09:01:00");
    assert_eq!(eps[0].subject.as_deref(), Some("学校路段"));
}

#[test]
fn no_order_for_units_that_require_orders() {
    let config = RulesConfig {
        order_required_units: vec!["黄石市".into()],
        ..RulesConfig::default()
    };
    let t = round_trip("2026-11-27 09:00:00", 600);
    let (eps, _) = run(
        &reference_with(config.clone(), &[]),
        &car(VehicleClass::General),
        &t.points,
    );
    assert_only(&eps, RuleId::NoOrder, "11-27 09:00:00", "11-27 09:20:00");
    let o = order(
        r#"{"id":"PC-11","kind":"order","plate":"鄂B12345","purpose":"送文件","start":"2026-11-27T00:30:00Z","end":"2026-11-27T02:00:00Z","state":"approved"}"#,
    );
    let (eps, _) = run(
        &reference_with(config, &o),
        &car(VehicleClass::General),
        &t.points,
    );
    assert_eq!(summary(&eps), []);
}

#[test]
fn late_data_is_marked_late() {
    // A blind-area backfill arriving hours later, in fix-time order.
    let mut t = round_trip("2026-11-28 10:00:00", 900);
    for p in &mut t.points {
        p.source = PositionSource::Backfill;
        p.recv_time = p.fix_time.add_millis(4 * 3_600_000);
    }
    let eps = episodes(&t);
    assert_only(&eps, RuleId::OutOfHours, "11-28 10:00:00", "11-28 10:30:00");
    assert!(eps[0].late);

    // Live points first (evening, parked), then the morning's backfill out of order: the late lane.
    let mut live = Trip::new("2026-11-28 15:00:00", DEPOT);
    live.park(3600, 600, &still);
    let backfill = round_trip("2026-11-28 10:00:00", 900);
    let mut points = live.points.clone();
    points.extend(backfill.points.iter().map(|p| Position {
        source: PositionSource::Backfill,
        ..*p
    }));
    let (eps, rules) = run(&reference(), &car(VehicleClass::General), &points);
    assert_only(&eps, RuleId::OutOfHours, "11-28 10:00:00", "11-28 10:30:00");
    assert!(eps[0].late);
    assert_eq!(
        rules.diagnostics().out_of_order_points,
        backfill.points.len() as u64
    );
}

#[test]
fn a_year_without_calendar_data_is_reported_not_guessed() {
    let t = round_trip("2027-01-09 10:00:00", 900);
    let (eps, rules) = run(&reference(), &car(VehicleClass::General), &t.points);
    assert_eq!(summary(&eps), []);
    assert_eq!(rules.diagnostics().missing_calendar_years, [2027]);
}

#[test]
fn a_unit_timetable_applies_to_its_sub_units_and_seasons() {
    // The city's office hours end at 17:30; 黄石市 (the parent unit) works to 18:00 in winter.
    let config: RulesConfig = toml::from_str(
        r#"
        [[unit_timetables]]
        unit = "黄石市"
        periods = ["08:00-12:00", "14:30-18:00"]
        [[unit_timetables.seasons]]
        name = "summer"
        from = "05-01"
        to = "09-30"
        periods = ["08:00-12:00", "15:00-17:30"]
        "#,
    )
    .unwrap();
    let r = reference_with(config, &[]);
    // Friday 2026-11-27, 17:00-17:50: inside the unit's winter hours.
    let t = round_trip("2026-11-27 17:00:00", 1500);
    let (eps, _) = run(&r, &car(VehicleClass::General), &t.points);
    assert_eq!(summary(&eps), []);
    // The same trip on Friday 2026-09-11 (summer hours end at 17:30).
    let t = round_trip("2026-09-11 17:00:00", 1500);
    let (eps, _) = run(&r, &car(VehicleClass::General), &t.points);
    assert_only(&eps, RuleId::OutOfHours, "09-11 17:30:00", "09-11 17:50:00");
    assert_says(&eps[0], "08:00-12:00, 15:00-17:30");
}

//! Rule engine throughput: point evaluations per second with 1,000 geofences and every rule on, and
//! the corridor test against a 1,000-vertex route.

#![allow(clippy::unwrap_used)] // bench setup: a panic is a broken bench
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tianshu_model::{
    LonLat, Position, StatusFlags, Timestamp, Unit, UnitId, Vehicle, VehicleClass, VehicleId,
};
use tianshu_rules::fences::{FenceKind, Geofence};
use tianshu_rules::geo::Route;
use tianshu_rules::orders::{LineString, Order, OrderKind, OrderState};
use tianshu_rules::{Calendar, Reference, RulesConfig, VehicleRules};

/// A regular polygon of `n` vertices around `c`, radius in degrees.
fn circle(c: LonLat, r: f64, n: usize) -> Vec<Vec<Vec<LonLat>>> {
    let ring = (0..n)
        .map(|i| i as f64 / n as f64 * std::f64::consts::TAU)
        .map(|a| LonLat::new(c.lon + r * a.cos(), c.lat + r * a.sin()));
    vec![vec![ring.collect()]]
}

/// A deterministic pseudo-random sequence in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn route_line(n: usize) -> Vec<LonLat> {
    (0..n)
        .map(|i| LonLat::new(114.85 + i as f64 * 0.0004, 30.1 + (i as f64 * 0.02).sin() * 0.02))
        .collect()
}

fn world(vehicles: usize) -> (Reference, Vec<Vehicle>) {
    let units = vec![
        Unit::new(UnitId(1), "黄石市", None),
        Unit::new(UnitId(2), "市委办公室", Some(UnitId(1))),
    ];
    let mut rng = Lcg(7);
    let mut fences = vec![Geofence {
        name: "黄石市".into(),
        kind: FenceKind::Region,
        unit: None,
        category: None,
        speed_limit_kmh: None,
        polygons: circle(LonLat::new(115.05, 30.1), 0.3, 2000),
    }];
    for i in 0..999 {
        let c = LonLat::new(114.8 + rng.next() * 0.5, 29.9 + rng.next() * 0.4);
        let (kind, unit, limit) = match i % 10 {
            0 => (FenceKind::Depot, Some("黄石市/市委办公室".to_string()), None),
            1 => (FenceKind::SpeedZone, None, Some(60.0)),
            _ => (FenceKind::Prohibited, None, None),
        };
        fences.push(Geofence {
            name: format!("fence-{i}"),
            kind,
            unit,
            category: Some("entertainment".into()),
            speed_limit_kmh: limit,
            polygons: circle(c, 0.002, 16),
        });
    }
    let cars: Vec<Vehicle> = (0..vehicles)
        .map(|i| Vehicle {
            id: VehicleId(i as i64),
            plate: format!("鄂B{i:05}"),
            unit: UnitId(2),
            class: VehicleClass::General,
            marking: None,
        })
        .collect();
    // Every car drives under an order with a 1,000-vertex route, so the corridor test runs too.
    let orders: Vec<Order> = cars
        .iter()
        .map(|v| Order {
            id: format!("PC-{}", v.id),
            kind: OrderKind::Order,
            plate: v.plate.clone(),
            driver: None,
            purpose: Some("bench".into()),
            start: Timestamp::parse_rfc3339("2026-11-27T00:00:00Z").unwrap(),
            end: Timestamp::parse_rfc3339("2026-11-28T00:00:00Z").unwrap(),
            destinations: vec![],
            route: Some(LineString {
                kind: "LineString".into(),
                coordinates: route_line(1000),
            }),
            corridor_m: Some(300.0),
            state: OrderState::Approved,
            allow_region_exit: false,
            filed_by: None,
            approved_by: None,
        })
        .collect();
    let config = RulesConfig {
        order_required_units: vec!["黄石市".into()],
        ..RulesConfig::default()
    };
    let r = Reference::build(
        config,
        Calendar::builtin().unwrap(),
        &units,
        &cars,
        &fences,
        &orders,
    )
    .unwrap();
    (r, cars)
}

/// Each car wanders around the city, one fix every 10 s, from 08:00 to 20:00 local time.
fn tracks(cars: &[Vehicle], per_car: usize) -> Vec<Position> {
    let mut rng = Lcg(11);
    let t0 = Timestamp::parse_rfc3339("2026-11-27T08:00:00+08:00").unwrap();
    let mut out = Vec::with_capacity(cars.len() * per_car);
    let mut pos: Vec<[f64; 2]> = cars
        .iter()
        .map(|_| [114.85 + rng.next() * 0.4, 29.95 + rng.next() * 0.3])
        .collect();
    for k in 0..per_car {
        for (i, car) in cars.iter().enumerate() {
            pos[i][0] += (rng.next() - 0.5) * 0.002;
            pos[i][1] += (rng.next() - 0.5) * 0.002;
            let t = t0.add_millis(k as i64 * 10_000);
            out.push(Position {
                vehicle: car.id,
                fix_time: t,
                recv_time: t.add_millis(1500),
                lat_e6: (pos[i][1] * 1e6) as i32,
                lon_e6: (pos[i][0] * 1e6) as i32,
                speed_dkmh: (rng.next() * 900.0) as u16,
                status: StatusFlags(
                    StatusFlags::FIXED | if rng.next() < 0.9 { StatusFlags::ACC_ON } else { 0 },
                ),
                ..Default::default()
            });
        }
    }
    out
}

fn bench_rules(c: &mut Criterion) {
    let (r, cars) = world(100);
    let points = tracks(&cars, 4320);
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(points.len() as u64));
    g.sample_size(10);
    g.bench_function("evaluate_all_rules_1000_fences", |b| {
        b.iter(|| {
            let mut state: Vec<VehicleRules> = cars.iter().map(VehicleRules::new).collect();
            let mut events = Vec::with_capacity(1024);
            for p in &points {
                state[p.vehicle.0 as usize].push(&r, p, &mut events);
                if events.len() > 1000 {
                    events.clear();
                }
            }
            black_box(events.len())
        })
    });
    g.finish();

    let route = Route::new(&route_line(1000), 300.0).unwrap();
    let mut rng = Lcg(3);
    let queries: Vec<LonLat> = (0..4096)
        .map(|_| {
            let i = (rng.next() * 999.0) as usize;
            let v = route_line(1000)[i];
            LonLat::new(
                v.lon + (rng.next() - 0.5) * 0.01,
                v.lat + (rng.next() - 0.5) * 0.01,
            )
        })
        .collect();
    let mut g = c.benchmark_group("route");
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("corridor_check_1000_vertices", |b| {
        b.iter(|| {
            queries
                .iter()
                .filter(|q| route.distance_within_m(**q, 300.0).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_rules);
criterion_main!(benches);

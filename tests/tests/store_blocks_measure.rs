//! A measurement of track blocks on both backends (ignored: it measures, it does not judge). The demo
//! fleet's cars (700, the simulator's world and day plans) report every 30 s with the ignition on and every
//! 5 minutes parked, over `MEASURE_DAYS` China days (default 3) ending yesterday; the points are appended
//! in batches of 5,000 through the store, then compacted into blocks. Printed: ingest rate, bytes per point
//! per layer before and after (`Store::layer_stats`, as `tianshu store stats` prints them), compaction
//! time per fleet-day, and replay time of one vehicle-day and of the vehicle's whole range through
//! `Store::track` (not through HTTP).
//!
//! `MEASURE_DAYS=7 cargo nextest run -p tianshu-e2e --test store_blocks_measure --run-ignored only --no-capture`
//!
//! `ingest_*` measure what blocks cost an append: the fleet's points of a morning appended dated today (the
//! live path: no day of theirs can be packed) against the same points dated two days back (each batch checks
//! for blocks of its days first, as every append of a past day does).
//!
//! `api_replay_*` measure replays through `tianshu serve`'s HTTP API instead, to the last byte: one car of
//! the same fleet over `MEASURE_DAYS` days packed into blocks plus today's points so far as rows.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use futures::TryStreamExt;
use tianshu_e2e::api::{create_user, http, login_at};
use tianshu_e2e::gateway::{plate, provision};
use tianshu_e2e::{Scratch, Tianshu};
use tianshu_model::block::{china_day, china_day_start};
use tianshu_model::{Position, StatusFlags, Timestamp, VehicleId};
use tianshu_sim::plan::{day_plan, local_ms};
use tianshu_sim::{World, WorldConfig};
use tianshu_store::access::Role;
use tianshu_store::{LayerStats, Store};

fn days() -> i64 {
    std::env::var("MEASURE_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// The fleet's points of one China day, car by car.
fn day_points(world: &World, date: chrono::NaiveDate) -> Vec<Position> {
    (0..world.vehicles.len())
        .flat_map(|v| car_day_points(world, v, date))
        .collect()
}

/// The points of car `v` (vehicle `v + 1`) over one China day, in time order.
fn car_day_points(world: &World, v: usize, date: chrono::NaiveDate) -> Vec<Position> {
    let start = local_ms(date, 0);
    let car = &world.vehicles[v];
    let mut out = Vec::new();
    let plan = day_plan(world, v, date);
    let mut t = start;
    let mut odometer = 1_000_000u32 + v as u32 * 1_000;
    while t < start + 86_400_000 {
        let s = plan.state_at(t);
        let mut status = StatusFlags::GPS | StatusFlags::BEIDOU | StatusFlags::FIXED;
        if s.acc_on {
            status |= StatusFlags::ACC_ON;
        }
        odometer += (s.speed_kmh * 30.0 / 360.0) as u32;
        out.push(Position {
            vehicle: VehicleId(v as i64 + 1),
            phone: car.phone,
            fix_time: Timestamp(t),
            recv_time: Timestamp(t + 800 + (t / 1000 % 7) * 150),
            lat_e6: s.pos.lat_e6(),
            lon_e6: s.pos.lon_e6(),
            altitude_m: 25 + (s.pos.lat * 900.0).sin() as i32 * 12,
            speed_dkmh: (s.speed_kmh * 10.0).round() as u16,
            course_deg: (s.course_deg.round() as u16) % 360,
            status: StatusFlags(status),
            mileage_dkm: Some(odometer),
            satellites: Some(if s.speed_kmh > 0.0 { 11 } else { 9 }),
            rssi: Some(24),
            ..Default::default()
        });
        t += if s.acc_on { 30_000 } else { 300_000 };
    }
    out
}

fn print_layers(when: &str, layers: &[LayerStats]) {
    let points: u64 = layers
        .iter()
        .filter(|l| l.layer == "rows" || l.layer == "blocks")
        .map(|l| l.points)
        .sum();
    for l in layers {
        let of = if l.layer == "indexes" { points } else { l.points };
        let per = if of == 0 { 0.0 } else { l.bytes as f64 / of as f64 };
        println!(
            "  {when:<8} {:<16} {:>10} points {:>12} bytes {:>7.1} B/point",
            l.layer, l.points, l.bytes, per
        );
    }
    let bytes: u64 = layers
        .iter()
        .filter(|l| ["rows", "blocks", "indexes"].contains(&l.layer.as_str()))
        .map(|l| l.bytes)
        .sum();
    println!(
        "  {when:<8} {:<16} {points:>10} points {bytes:>12} bytes {:>7.1} B/point",
        "all",
        bytes as f64 / points.max(1) as f64
    );
}

async fn replay_ms(store: &Store, vehicle: i64, from: Timestamp, to: Timestamp) -> (usize, f64) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let points: Vec<Position> = store
            .track(VehicleId(vehicle), from, to)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        n = points.len();
    }
    (n, best)
}

async fn measure(scratch: Scratch) {
    let today = china_day(Timestamp::from_datetime(&chrono::Utc::now()));
    let first = today - days();
    let first_date = china_day_start(first).to_china().date_naive();
    let world = World::generate(&WorldConfig::from_date(first_date, days() as u32));
    let store = Store::open(&scratch.url()).await.unwrap();
    let mut total = 0usize;
    let mut ingest_secs = 0.0;
    for d in 0..days() {
        let date = china_day_start(first + d).to_china().date_naive();
        let points = day_points(&world, date);
        let started = Instant::now();
        for batch in points.chunks(5_000) {
            store.append_points(batch).await.unwrap();
        }
        ingest_secs += started.elapsed().as_secs_f64();
        total += points.len();
    }
    println!(
        "{}: {} cars, {} days, {total} points ({:.0} a car-day); ingest {:.0} points/s",
        scratch.url(),
        world.vehicles.len(),
        days(),
        total as f64 / (world.vehicles.len() as f64 * days() as f64),
        total as f64 / ingest_secs
    );
    // Let the embedded store move its recent points, as it does when running.
    store.compact_blocks(first - 1).await.unwrap();
    print_layers("rows", &store.layer_stats().await.unwrap());
    let (from, to) = (china_day_start(first + 1), china_day_start(first + 2));
    let (n, ms) = replay_ms(&store, 7, from, to).await;
    println!("  replay one vehicle-day from rows: {n} points in {ms:.2} ms (best of 5)");
    let (n, ms) = replay_ms(&store, 7, china_day_start(first), china_day_start(today)).await;
    println!(
        "  replay one vehicle, all {} days, from rows: {n} points in {ms:.2} ms (best of 5)",
        days()
    );
    let started = Instant::now();
    let done = store.compact_blocks(today - 1).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  compaction: {} vehicle-days, {} points in {secs:.1} s ({:.1} s a fleet-day)",
        done.blocks,
        done.points,
        secs / days() as f64
    );
    print_layers("blocks", &store.layer_stats().await.unwrap());
    if let Scratch::Postgres(_) = &scratch {
        // The packed days' partitions are dropped by the compaction; VACUUM (autovacuum's work) gives back
        // what the rows of the default partition (points dated outside the window) left.
        let (client, conn) = tokio_postgres::connect(&scratch.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.batch_execute("VACUUM points").await.unwrap();
        print_layers("vacuumed", &store.layer_stats().await.unwrap());
    }
    let (n, ms) = replay_ms(&store, 7, from, to).await;
    println!("  replay one vehicle-day from a block: {n} points in {ms:.2} ms (best of 5)");
    let (n, ms) = replay_ms(&store, 7, china_day_start(first), china_day_start(today)).await;
    println!(
        "  replay one vehicle, all {} days, from blocks: {n} points in {ms:.2} ms (best of 5)",
        days()
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --run-ignored only --no-capture"]
async fn embedded() {
    measure(Scratch::embedded("blocks_measure")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --run-ignored only --no-capture"]
async fn postgres() {
    measure(Scratch::postgres("blocks_measure").await).await;
}

/// The best of 5 `GET /api/positions` of `vehicle` over `from..to`, to the last byte: (points, ms).
async fn api_replay_ms(
    server: &Tianshu,
    cookie: &str,
    vehicle: i64,
    from: Timestamp,
    to: Timestamp,
) -> (usize, f64) {
    let path = format!("/api/positions?vehicle={vehicle}&from={from}&to={to}");
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let r = http(server.http, "GET", &path, Some(cookie), None).await;
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(300)]);
        n = r.json().as_array().map_or(0, Vec::len);
    }
    (n, best)
}

async fn api_replay(scratch: Scratch) {
    let url = scratch.url();
    let now = Timestamp::from_datetime(&chrono::Utc::now());
    let today = china_day(now);
    let first = today - days();
    let world = World::generate(&WorldConfig::from_date(
        china_day_start(first).to_china().date_naive(),
        days() as u32 + 1,
    ));
    // A city's registry (700 cars), one of which drives: what a request looks up is sized as in the field.
    provision(&url, 700).await;
    let store = Store::open(&url).await.unwrap();
    let car = store.vehicle_by_plate(&plate(0)).await.unwrap().unwrap();
    create_user(&store, "administrator", Role::Administrator, None).await;
    // Car 7 of the fleet, as the registered car: the past days, then today's points up to now.
    let mut points = Vec::new();
    for d in 0..=days() {
        let date = china_day_start(first + d).to_china().date_naive();
        points.extend(
            car_day_points(&world, 6, date)
                .into_iter()
                .filter(|p| p.fix_time < now),
        );
    }
    for p in &mut points {
        p.vehicle = car.id;
    }
    store.append_points(&points).await.unwrap();
    let done = store.compact_blocks(today - 1).await.unwrap();
    store.close().await.unwrap();
    drop(store);
    println!(
        "{url}: {} points of one car over {} days and today; {} packed into {} blocks",
        points.len(),
        days(),
        done.points,
        done.blocks
    );
    let server = Tianshu::start(&url, "", &[], &tianshu_testkit::unique_dir("replay_api"));
    let cookie = login_at(server.http, "administrator").await;
    let v = car.id.0;
    let ranges = [
        (
            "one vehicle-day from a block",
            china_day_start(today - 2),
            china_day_start(today - 1),
        ),
        ("today so far, from rows", china_day_start(today), now),
        ("all days and today, blocks and rows", china_day_start(first), now),
    ];
    for (what, from, to) in ranges {
        let (n, ms) = api_replay_ms(&server, &cookie, v, from, to).await;
        println!("  GET /api/positions, {what}: {n} points in {ms:.2} ms (best of 5, to the last byte)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --run-ignored only --no-capture"]
async fn api_replay_embedded() {
    api_replay(Scratch::embedded("replay_api")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --run-ignored only --no-capture"]
async fn api_replay_postgres() {
    api_replay(Scratch::postgres("replay_api").await).await;
}

/// Appends the fleet's points of `day` from midnight to noon China time, in batches of 5,000 (a second of
/// live traffic of a large fleet); the rate in points per second.
async fn ingest_rate(store: &Store, world: &World, day: i64) -> (usize, f64) {
    let date = china_day_start(day).to_china().date_naive();
    let (from, to) = (local_ms(date, 0), local_ms(date, 12 * 3_600));
    let points: Vec<Position> = (0..world.vehicles.len())
        .flat_map(|v| car_day_points(world, v, date))
        .filter(|p| (from..to).contains(&p.fix_time.0))
        .collect();
    let started = Instant::now();
    for batch in points.chunks(5_000) {
        store.append_points(batch).await.unwrap();
    }
    (
        points.len(),
        points.len() as f64 / started.elapsed().as_secs_f64(),
    )
}

async fn ingest(scratch: Scratch) {
    let today = china_day(Timestamp::from_datetime(&chrono::Utc::now()));
    let world = World::generate(&WorldConfig::from_date(
        china_day_start(today - 2).to_china().date_naive(),
        3,
    ));
    let store = Store::open(&scratch.url()).await.unwrap();
    // Warm up the connections and the tables with the day before, then the two measured appends.
    ingest_rate(&store, &world, today - 1).await;
    let (n, live) = ingest_rate(&store, &world, today).await;
    let (_, past) = ingest_rate(&store, &world, today - 2).await;
    println!(
        "{}: {n} points a run; dated today {live:.0} points/s, dated two days back {past:.0} points/s",
        scratch.url()
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --run-ignored only --no-capture"]
async fn ingest_embedded() {
    ingest(Scratch::embedded("ingest_measure")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --run-ignored only --no-capture"]
async fn ingest_postgres() {
    ingest(Scratch::postgres("ingest_measure").await).await;
}

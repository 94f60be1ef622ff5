//! A measurement of track blocks on both backends (ignored: it measures, it does not judge). The demo
//! fleet's cars (700, the simulator's world and day plans) report every 30 s with the ignition on and every
//! 5 minutes parked, over `MEASURE_DAYS` China days (default 3) ending yesterday; the points are appended
//! in batches of 5,000 through the store, then compacted into blocks. Printed: ingest rate, bytes per point
//! per layer before and after (`Store::layer_stats`, as `tianshu store stats` prints them), compaction
//! time per fleet-day, and replay time of one vehicle-day and of the vehicle's whole range through
//! `Store::track` (not through HTTP).
//!
//! `MEASURE_DAYS=7 cargo nextest run -p tianshu-e2e --test store_blocks_measure --run-ignored only --no-capture`

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use futures::TryStreamExt;
use tianshu_model::block::{china_day, china_day_start};
use tianshu_model::{Position, StatusFlags, Timestamp, VehicleId};
use tianshu_sim::plan::{day_plan, local_ms};
use tianshu_sim::{World, WorldConfig};
use tianshu_store::{LayerStats, Store};
use tianshu_testkit::Scratch;

fn days() -> i64 {
    std::env::var("MEASURE_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// The fleet's points of one China day, in time order.
fn day_points(world: &World, date: chrono::NaiveDate) -> Vec<Position> {
    let start = local_ms(date, 0);
    let mut out = Vec::new();
    for (v, car) in world.vehicles.iter().enumerate() {
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
    }
    out.sort_by_key(|p| p.fix_time);
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

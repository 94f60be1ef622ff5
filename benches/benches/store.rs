//! Store throughput and latency, through the store API (group-commit writer included):
//! - ingest: batches of 10,000 points from 10,000 vehicles, with the replay index in place;
//! - replay: one vehicle, one day of 10-second points (8,640), warm; and one month (259,200);
//! - latest positions of 10,000 vehicles.
//!
//! Both backends: the embedded store in a scratch file, PostgreSQL at 127.0.0.1:5432 in a database
//! created for the run and dropped after (the run fails, saying why, when the server is absent).
//! `STORE_BENCH_BACKENDS=embedded` (or `postgres`) restricts the run to one backend.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench setup: a panic is a broken bench
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tianshu_benches::{fleet_point, runtime};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::Store;

const VEHICLES: i64 = 10_000;
const DAY_POINTS: i64 = 8_640;
/// 2026-11-01T00:00:00Z.
const T0_SECS: i64 = 1_793_491_200;
/// Replayed vehicles live above the ingest fleet's ids.
const REPLAY_DAY_VEHICLE: i64 = 1_000_001;
const REPLAY_MONTH_VEHICLE: i64 = 1_000_002;
/// Other vehicles reporting during the replayed day, interleaved in storage with the replayed one.
const DAY_NEIGHBOURS: i64 = 49;

fn point(vehicle: i64, secs: i64) -> Position {
    let at = (
        30_200_000 + (secs % 5_000) as i32 * 7,
        115_000_000 + (vehicle % 1_000) as i32 * 100,
    );
    Position {
        satellites: Some(12),
        rssi: Some(25),
        ..fleet_point(VehicleId(vehicle), T0_SECS + secs, at)
    }
}

struct Target {
    name: &'static str,
    url: String,
    cleanup: Box<dyn Fn()>,
}

fn targets(rt: &tokio::runtime::Runtime) -> Vec<Target> {
    let only = std::env::var("STORE_BENCH_BACKENDS").unwrap_or_else(|_| "embedded,postgres".into());
    let mut out = Vec::new();
    if only.contains("embedded") {
        let dir = std::env::temp_dir().join(format!("tianshu-bench-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = format!("sqlite:{}", dir.join("bench.db").display());
        out.push(Target {
            name: "embedded",
            url,
            cleanup: Box::new(move || {
                let _ = std::fs::remove_dir_all(&dir);
            }),
        });
    }
    if only.contains("postgres") {
        let db = format!("tianshu_bench_{}", std::process::id());
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
                .await
                .expect(
                    "PostgreSQL must be reachable at 127.0.0.1:5432 (user postgres) for the store benches",
                );
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .unwrap();
        });
        let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
        let handle = rt.handle().clone();
        out.push(Target {
            name: "postgres",
            url,
            cleanup: Box::new(move || {
                handle.block_on(async {
                    if let Ok((client, conn)) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                            .await;
                    }
                });
            }),
        });
    }
    out
}

/// Loads the replay data: one day for the day vehicle with its neighbours interleaved, one month
/// for the month vehicle; time-ordered batches of up to 10,000 points, as a live fleet writes them.
async fn load_replay_data(store: &Store) {
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..DAY_POINTS {
        for v in 0..=DAY_NEIGHBOURS {
            batch.push(point(REPLAY_DAY_VEHICLE + v * 10, i * 10));
        }
        if batch.len() >= 10_000 {
            store
                .append_points_owned(std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    for i in 0..DAY_POINTS * 30 {
        batch.push(point(REPLAY_MONTH_VEHICLE, i * 10));
        if batch.len() >= 10_000 {
            store
                .append_points_owned(std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    store.append_points_owned(batch).await.unwrap();
}

async fn replay(store: &Store, vehicle: i64, days: i64) -> usize {
    use futures::StreamExt;
    let from = Timestamp::from_secs(T0_SECS);
    let to = Timestamp::from_secs(T0_SECS + days * 86_400);
    let mut n = 0;
    let mut track = store.track(VehicleId(vehicle), from, to).await.unwrap();
    while let Some(p) = track.next().await {
        black_box(p.unwrap());
        n += 1;
    }
    n
}

fn store_benches(c: &mut Criterion) {
    let rt = runtime();
    for target in targets(&rt) {
        let store = rt.block_on(Store::open(&target.url)).unwrap();
        rt.block_on(load_replay_data(&store));
        if target.name == "postgres" {
            // What autovacuum does shortly after a load: sets the visibility map, so that a replay
            // is an index-only scan of the covering key index.
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&target.url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client.batch_execute("VACUUM (ANALYZE) points").await.unwrap();
                client
                    .batch_execute("VACUUM (ANALYZE) latest_positions")
                    .await
                    .unwrap();
            });
        }

        // Ingest: every iteration is a new 10-second tick of the whole fleet.
        let mut tick: i64 = 0;
        let mut group = c.benchmark_group("store_ingest");
        group.throughput(Throughput::Elements(VEHICLES as u64));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(10));
        group.bench_function(BenchmarkId::new(target.name, "10k_points_10k_vehicles"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    tick += 1;
                    let batch: Vec<Position> = (1..=VEHICLES)
                        .map(|v| point(v, 40 * 86_400 + tick * 10))
                        .collect();
                    let started = Instant::now();
                    let s = rt.block_on(store.append_points_owned(batch)).unwrap();
                    total += started.elapsed();
                    assert_eq!(s.inserted, VEHICLES as u64);
                }
                total
            })
        });
        group.finish();

        let mut group = c.benchmark_group("store_replay");
        group.sample_size(50);
        group.bench_function(BenchmarkId::new(target.name, "one_day_8640_points"), |b| {
            b.iter(|| {
                assert_eq!(
                    rt.block_on(replay(&store, REPLAY_DAY_VEHICLE, 1)),
                    DAY_POINTS as usize
                )
            })
        });
        group.sample_size(10);
        group.bench_function(BenchmarkId::new(target.name, "one_month_259200_points"), |b| {
            b.iter(|| {
                assert_eq!(
                    rt.block_on(replay(&store, REPLAY_MONTH_VEHICLE, 30)),
                    30 * DAY_POINTS as usize
                )
            })
        });
        group.finish();

        let mut group = c.benchmark_group("store_latest");
        group.sample_size(50);
        group.bench_function(
            BenchmarkId::new(target.name, "latest_positions_10k_vehicles"),
            |b| {
                b.iter(|| {
                    let latest = rt.block_on(store.latest_positions()).unwrap();
                    assert!(latest.len() >= VEHICLES as usize);
                    black_box(latest)
                })
            },
        );
        group.finish();

        drop(store);
        (target.cleanup)();
    }
}

criterion_group!(benches, store_benches);
criterion_main!(benches);

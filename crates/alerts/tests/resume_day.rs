//! A measurement for BENCHMARKS.md, run by hand: a restart after a fleet's day of points, with the rule
//! states saved (restored, only the points received since fed) and without (the day replayed). Prints
//! the points fed again and the time from start until every car's first new point is evaluated.
//!
//! `cargo test --release -p tianshu-alerts --test resume_day -- --ignored --nocapture`, on the embedded
//! store; `TIANSHU_RESUME_STORE=postgres` runs it on a database created on 127.0.0.1:5432 and dropped after.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

mod support;

use std::time::{Duration, Instant};

use tianshu_alerts::{AlertsConfig, AlertsHandle};
use tianshu_model::{Phone, Position, StatusFlags, Timestamp, VehicleClass, VehicleId};
use tianshu_rules::RulesConfig;
use tianshu_store::{RegistryRecord, Store, StoreConfig};
use tianshu_testkit::Fix;

use support::{Scratch, local};

const CARS: usize = 100;
/// Fixes per car: one every 10 s for 11 h 6 min 40 s, inside the 12 h a replay goes back.
const FIXES: usize = 4_000;
const STEP_MS: i64 = 10_000;

/// A car's fix `i`: a random walk in the city, driving for 40 minutes of every hour, parked otherwise.
fn fix(
    vehicle: VehicleId,
    phone: Phone,
    start: Timestamp,
    i: usize,
    seed: &mut u64,
    at: &mut (i32, i32),
) -> Position {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let driving = (i * STEP_MS as usize / 60_000) % 60 < 40;
    let (speed, bits) = if driving {
        let r = (*seed >> 33) as i32;
        at.0 += r % 300 - 150;
        at.1 += (r >> 9) % 300 - 150;
        (
            200 + (*seed >> 50) as u16 % 600,
            StatusFlags::ACC_ON | StatusFlags::FIXED,
        )
    } else {
        (0, StatusFlags::FIXED)
    };
    Fix::at_time(start.add_millis(i as i64 * STEP_MS))
        .vehicle(vehicle.0)
        .phone(phone)
        .received_after(1_000)
        .at_e6(at.0, at.1)
        .heading(speed, 90)
        .status(bits)
        .build()
}

fn config(state_save_secs: u64) -> AlertsConfig {
    AlertsConfig {
        tick_secs: 3600,
        reference_reload_secs: 3600,
        state_save_secs,
        ..AlertsConfig::default()
    }
}

async fn start(store: &Store, state_save_secs: u64) -> AlertsHandle {
    tianshu_alerts::start(store.clone(), RulesConfig::default(), config(state_save_secs))
        .await
        .unwrap()
}

async fn evaluated(alerts: &AlertsHandle, n: usize) {
    let n = n as u64;
    tianshu_testkit::wait_for(
        "the points to be evaluated",
        Duration::from_secs(1800),
        || async { (alerts.progress().evaluated_points >= n).then_some(()) },
    )
    .await;
}

/// Restarts the runtime, appends one new point per car and waits for all of them; prints what it took.
async fn restart(store: &Store, what: &str, state_save_secs: u64, new: &[Position]) {
    let started = Instant::now();
    let alerts = start(store, state_save_secs).await;
    store.append_points(new).await.unwrap();
    evaluated(&alerts, new.len()).await;
    let ready = started.elapsed();
    let p = alerts.progress();
    println!(
        "{what}: {} points replayed, {} states restored, ready in {:.2} s",
        p.replayed_points,
        p.restored_states,
        ready.as_secs_f64()
    );
    alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md, run by hand"]
async fn resume_day() {
    let scratch = match std::env::var("TIANSHU_RESUME_STORE").as_deref() {
        Ok("postgres") => Scratch::postgres("resume_day").await,
        _ => Scratch::embedded("resume-day"),
    };
    let store = scratch.open(&StoreConfig::default()).await;
    let records: Vec<RegistryRecord> = (0..CARS)
        .map(|k| RegistryRecord {
            unit: "黄石市/市委办公室".into(),
            plate: format!("鄂B{k:05}"),
            phone: Phone(13_900_000_000 + k as u128),
            terminal_id: format!("T{k}"),
            vehicle_class: VehicleClass::General,
            marking: None,
        })
        .collect();
    store.import_registry(&records).await.unwrap();
    let mut cars = Vec::new();
    for r in &records {
        cars.push((
            store.vehicle_by_plate(&r.plate).await.unwrap().unwrap().id,
            r.phone,
        ));
    }
    // A Friday from 07:00, the whole fleet's fixes in time order.
    let start_at = local("2026-11-27 07:00:00");
    let mut walks: Vec<(u64, (i32, i32))> = (0..CARS)
        .map(|k| (k as u64 + 1, (30_200_000 + k as i32 * 1_000, 115_000_000)))
        .collect();
    let mut day = Vec::with_capacity(CARS * FIXES);
    for i in 0..FIXES {
        for (k, (vehicle, phone)) in cars.iter().enumerate() {
            let (seed, at) = &mut walks[k];
            day.push(fix(*vehicle, *phone, start_at, i, seed, at));
        }
    }
    let next = |n: usize| -> Vec<Position> {
        cars.iter()
            .enumerate()
            .map(|(k, (vehicle, phone))| {
                let (mut seed, mut at) = walks[k];
                fix(*vehicle, *phone, start_at, FIXES + n, &mut seed, &mut at)
            })
            .collect()
    };

    // The day, evaluated live by a runtime that saves the states when it stops.
    let loading = Instant::now();
    let alerts = start(&store, 300).await;
    for chunk in day.chunks(10_000) {
        store.append_points(chunk).await.unwrap();
    }
    evaluated(&alerts, day.len()).await;
    alerts.shutdown().await;
    println!(
        "day: {} points of {CARS} cars stored and evaluated in {:.1} s",
        day.len(),
        loading.elapsed().as_secs_f64()
    );
    let saved = store.rule_states().load().await.unwrap();
    let bytes: usize = saved.iter().map(|s| s.state.len()).sum();
    println!(
        "saved: {} rule states, {} bytes on average",
        saved.len(),
        bytes / saved.len().max(1)
    );

    restart(&store, "after (saved states restored)", 300, &next(0)).await;
    restart(
        &store,
        "before (state_save_secs = 0, the day replayed)",
        0,
        &next(1),
    )
    .await;
}

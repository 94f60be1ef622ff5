//! A restart resumes each car's saved rule state: the cases are those of a run that never stopped, none
//! raised twice, and only the points received after the saved state are fed again, on both stores.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

mod support;

use tianshu_alerts::{AlertsConfig, AlertsHandle, RuntimeProgress};
use tianshu_model::{Phone, Position, PositionSource, Timestamp, VehicleClass, VehicleId};
use tianshu_rules::RulesConfig;
use tianshu_store::rules::AlertCase;
use tianshu_store::{RegistryRecord, Store, StoreConfig};

use support::{Scratch, local, out_of_hours_cases, saturday_trip, wait_for};

const CARS: u128 = 3;

/// A Saturday of three cars, in three parts: what the first run evaluates (each car's first 41 fixes,
/// its out-of-hours episode open), what is committed while the runtime is stopped (10 fixes each, and
/// the first car's blind-area backfill of an earlier drive, from before everything the saved state
/// covers), and what the second run evaluates (the rest: the drive ends and the episode closes).
struct Day {
    cars: Vec<VehicleId>,
    first: Vec<Position>,
    stopped: Vec<Position>,
    second: Vec<Position>,
}

async fn day(store: &Store) -> Day {
    let records: Vec<RegistryRecord> = (0..CARS)
        .map(|k| RegistryRecord {
            unit: "黄石市/市委办公室".into(),
            plate: format!("鄂B1234{k}"),
            phone: Phone(13_800_000_001 + k),
            terminal_id: format!("T{k}"),
            vehicle_class: VehicleClass::General,
            marking: None,
        })
        .collect();
    store.import_registry(&records).await.unwrap();
    let mut day = Day {
        cars: Vec::new(),
        first: Vec::new(),
        stopped: Vec::new(),
        second: Vec::new(),
    };
    for k in 0..CARS {
        let car = store
            .vehicle_by_plate(&format!("鄂B1234{k}"))
            .await
            .unwrap()
            .unwrap();
        day.cars.push(car.id);
        // Each car sets off 7 minutes after the previous one.
        let shift = k as i64 * 420_000;
        for (i, p) in saturday_trip(car.id, 13_800_000_001 + k).into_iter().enumerate() {
            let p = Position {
                fix_time: p.fix_time.add_millis(shift),
                recv_time: p.recv_time.add_millis(shift),
                ..p
            };
            match i {
                0..=40 => day.first.push(p),
                41..=50 => day.stopped.push(p),
                _ => day.second.push(p),
            }
        }
    }
    // The first car's drive from 07:00, uploaded from its blind-area memory while the runtime is stopped.
    let backfill = saturday_trip(day.cars[0], 13_800_000_001)
        .into_iter()
        .map(|p| Position {
            fix_time: p.fix_time.add_millis(-3 * 3_600_000),
            recv_time: local("2026-11-28 10:21:00"),
            source: PositionSource::Backfill,
            ..p
        });
    day.stopped.extend(backfill);
    day
}

fn config(state_save_secs: u64) -> AlertsConfig {
    AlertsConfig {
        // The timer runs once, at start: time-based rules stay out of the comparison.
        tick_secs: 3600,
        reference_reload_secs: 3600,
        outbox_poll_ms: 50,
        state_save_secs,
        ..AlertsConfig::default()
    }
}

async fn start(store: &Store, config: &AlertsConfig) -> AlertsHandle {
    tianshu_alerts::start(store.clone(), RulesConfig::default(), config.clone())
        .await
        .unwrap()
}

/// Appends `points` and waits until the runtime has evaluated `evaluated` points in all.
async fn feed(store: &Store, alerts: &AlertsHandle, points: &[Position], evaluated: usize) {
    store.append_points(points).await.unwrap();
    wait_for("the points to be evaluated", || async {
        (alerts.progress().evaluated_points >= evaluated as u64).then_some(())
    })
    .await;
}

async fn cases(store: &Store, cars: &[VehicleId]) -> Vec<AlertCase> {
    let mut all = Vec::new();
    for car in cars {
        all.extend(out_of_hours_cases(store, *car).await);
    }
    all
}

/// (car, start, end, late) of each case: what two runs must agree on.
fn summary(cases: &[AlertCase]) -> Vec<(VehicleId, Timestamp, Option<Timestamp>, bool)> {
    cases
        .iter()
        .map(|c| (c.vehicle, c.start, c.end, c.late))
        .collect()
}

/// The day evaluated by one runtime that never stops.
async fn uninterrupted(scratch: &Scratch) -> Vec<AlertCase> {
    let store = scratch.open(&StoreConfig::default()).await;
    let day = day(&store).await;
    let alerts = start(&store, &config(300)).await;
    let mut n = day.first.len();
    feed(&store, &alerts, &day.first, n).await;
    n += day.stopped.len();
    feed(&store, &alerts, &day.stopped, n).await;
    n += day.second.len();
    feed(&store, &alerts, &day.second, n).await;
    alerts.shutdown().await;
    cases(&store, &day.cars).await
}

/// The day evaluated across a restart; the cases and what the second runtime did.
async fn across_a_restart(scratch: &Scratch, state_save_secs: u64) -> (Vec<AlertCase>, RuntimeProgress, Day) {
    let store = scratch.open(&StoreConfig::default()).await;
    let day = day(&store).await;
    let first = start(&store, &config(state_save_secs)).await;
    feed(&store, &first, &day.first, day.first.len()).await;
    let opened = cases(&store, &day.cars).await;
    assert_eq!(
        opened.len(),
        CARS as usize,
        "each car's episode is open at the stop: {opened:#?}"
    );
    assert!(opened.iter().all(|c| c.end.is_none()));
    first.shutdown().await;

    store.append_points(&day.stopped).await.unwrap();
    let second = start(&store, &config(state_save_secs)).await;
    feed(&store, &second, &day.second, day.second.len()).await;
    let progress = second.progress();
    second.shutdown().await;
    (cases(&store, &day.cars).await, progress, day)
}

async fn resume_saved(uninterrupted_scratch: Scratch, restarted_scratch: Scratch) {
    let expected = uninterrupted(&uninterrupted_scratch).await;
    assert_eq!(expected.len(), CARS as usize + 1, "{expected:#?}");
    assert!(expected.iter().all(|c| c.end.is_some()), "{expected:#?}");
    assert_eq!(
        expected.iter().filter(|c| c.late).count(),
        1,
        "the backfilled drive is a late case: {expected:#?}"
    );
    let (cases, progress, day) = across_a_restart(&restarted_scratch, 300).await;
    assert_eq!(
        summary(&cases),
        summary(&expected),
        "the cases of a run that never stopped"
    );
    assert_eq!(progress.restored_states, CARS as u64, "{progress:?}");
    assert_eq!(
        progress.replayed_points,
        day.stopped.len() as u64,
        "only the points committed while stopped are fed again: {progress:?}"
    );
    // Each live case spans the restart and was recorded once, opened by the first run.
    for c in cases.iter().filter(|c| !c.late) {
        assert!(
            c.start < day.stopped[0].fix_time && c.end > Some(day.stopped[0].fix_time),
            "{c:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_saved_embedded() {
    resume_saved(
        Scratch::embedded("resume-whole"),
        Scratch::embedded("resume-saved"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_saved_postgres() {
    resume_saved(
        Scratch::postgres("resume_whole").await,
        Scratch::postgres("resume_saved").await,
    )
    .await;
}

/// Without saved states (saving switched off) the same restart replays every stored point of the cars'
/// day up to their first new one: the work the saved state avoids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_saved_state_a_restart_replays_the_track() {
    let expected = uninterrupted(&Scratch::embedded("replay-whole")).await;
    let (cases, progress, day) = across_a_restart(&Scratch::embedded("replay-all"), 0).await;
    assert_eq!(summary(&cases), summary(&expected));
    assert_eq!(progress.restored_states, 0);
    assert_eq!(
        progress.replayed_points,
        (day.first.len() + day.stopped.len()) as u64,
        "{progress:?}"
    );
}

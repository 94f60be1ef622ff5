//! An evaluator that falls behind loses nothing: with room for one committed batch in its queue, it is
//! held back while a burst of trips is committed, then started; it must catch up from the store and raise
//! every scripted case exactly once, unchanged by the points it is handed twice.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

mod support;

use tianshu_alerts::AlertsConfig;
use tianshu_model::{Position, VehicleId};
use tianshu_rules::RulesConfig;
use tianshu_store::{RegistryRecord, Store, StoreConfig, WriterConfig};

use support::{Scratch, local, out_of_hours_cases, saturday_trip, wait_for};
use tianshu_testkit::{on_both_backends, registry_record};

/// Cars in the burst.
const CARS: usize = 5;

/// Registers the cars and returns their ids and phones.
async fn register(store: &Store) -> Vec<(VehicleId, u128)> {
    let records: Vec<RegistryRecord> = (0..CARS)
        .map(|i| {
            registry_record(
                "黄石市/市委办公室",
                &format!("鄂B1000{i}"),
                13_800_000_000 + i as u128,
                &format!("T{i}"),
            )
        })
        .collect();
    store.import_registry(&records).await.unwrap();
    let mut cars = Vec::new();
    for r in &records {
        let v = store.vehicle_by_plate(&r.plate).await.unwrap().unwrap();
        cars.push((v.id, r.phone.0));
    }
    cars
}

async fn lagging_evaluator_raises_every_case(scratch: Scratch) {
    // One committed batch of room: everything after the first batch is behind.
    let config = StoreConfig {
        writer: WriterConfig {
            fanout_capacity_batches: 1,
            ..WriterConfig::default()
        },
        ..StoreConfig::default()
    };
    let store = scratch.open(&config).await;
    let cars = register(&store).await;
    let trips: Vec<Vec<Position>> = cars
        .iter()
        .map(|(id, phone)| saturday_trip(*id, *phone))
        .collect();

    // The evaluator's position is taken now; it is held back while the burst commits.
    let cursor = store.follow();
    // The first car's middle stretch comes first and is what the queue holds...
    store.append_points(&trips[0][20..=40]).await.unwrap();
    // ...then every other trip in batches of ten...
    for trip in &trips[1..] {
        for chunk in trip.chunks(10) {
            store.append_points(chunk).await.unwrap();
        }
    }
    // ...and the first car's backfilled start together with its end, in one batch: its catch-up range
    // spans the stretch the queue delivered, which therefore reaches the evaluator twice.
    let rest: Vec<Position> = trips[0][..20].iter().chain(&trips[0][41..]).copied().collect();
    store.append_points(&rest).await.unwrap();
    assert!(cursor.behind(), "the burst overflowed the follower's queue");

    let alerts = AlertsConfig {
        tick_secs: 1,
        reference_reload_secs: 1,
        outbox_poll_ms: 50,
        ..AlertsConfig::default()
    };
    let handle = tianshu_alerts::start_following(store.clone(), cursor, RulesConfig::default(), alerts)
        .await
        .unwrap();
    for (car, _) in &cars {
        wait_for("every car's case to end", || async {
            let cases = out_of_hours_cases(&store, *car).await;
            cases
                .iter()
                .all(|c| c.end.is_some())
                .then_some(())
                .filter(|_| !cases.is_empty())
        })
        .await;
    }
    handle.shutdown().await;

    for (car, _) in &cars {
        let cases = out_of_hours_cases(&store, *car).await;
        assert_eq!(cases.len(), 1, "one case for car {car}: {cases:#?}");
        let case = &cases[0];
        assert_eq!(case.start, local("2026-11-28 10:00:00"), "car {car}");
        assert!(
            !case.late,
            "car {car}: a point handed over twice is not a late point"
        );
        // The last moving fix is 10:30:00; the car then stands still with the ignition off.
        let end = case.end.unwrap();
        assert!(
            end >= local("2026-11-28 10:29:30") && end <= local("2026-11-28 10:31:00"),
            "car {car}: the case ends where the driving ended: {end}"
        );
    }
    drop(store);
    drop(scratch);
}

on_both_backends!(
    a_lagging_evaluator_raises_every_case,
    lagging_evaluator_raises_every_case,
    "lag"
);

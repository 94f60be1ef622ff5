//! A restart in the middle of an episode: the rule state is rebuilt from the stored track, so the
//! episode continues as the same case instead of opening a second one.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

mod support;

use tianshu_alerts::AlertsConfig;
use tianshu_model::{Phone, VehicleClass};
use tianshu_rules::RulesConfig;
use tianshu_store::rules::AlertCase;
use tianshu_store::{RegistryRecord, StoreConfig};

use support::{Scratch, local, out_of_hours_cases, saturday_trip, wait_for};

/// Runs the trip in two halves with a restart of the alert runtime between them and returns the
/// out-of-hours cases once the second runtime has judged the second half.
async fn trip_across_a_restart(resume_hours: f64, expected_cases: usize) -> Vec<AlertCase> {
    let scratch = Scratch::embedded("resume");
    let store = scratch.open(&StoreConfig::default()).await;
    store
        .import_registry(&[RegistryRecord {
            unit: "黄石市/市委办公室".into(),
            plate: "鄂B12345".into(),
            phone: Phone(13_800_000_001),
            terminal_id: "T1".into(),
            vehicle_class: VehicleClass::General,
            marking: None,
        }])
        .await
        .unwrap();
    let car = store.vehicle_by_plate("鄂B12345").await.unwrap().unwrap();
    let config = AlertsConfig {
        tick_secs: 1,
        reference_reload_secs: 1,
        outbox_poll_ms: 50,
        resume_hours,
        ..AlertsConfig::default()
    };
    let trip = saturday_trip(car.id, 13_800_000_001);

    // First half: 20 minutes of driving on a rest day. The episode opens (5 minutes suffice) and is
    // still in progress when the runtime stops.
    let first = tianshu_alerts::start(store.clone(), RulesConfig::default(), config.clone())
        .await
        .unwrap();
    store.append_points(&trip[..=40]).await.unwrap();
    wait_for("the first case", || async {
        (out_of_hours_cases(&store, car.id).await.len() == 1).then_some(())
    })
    .await;
    let opened = out_of_hours_cases(&store, car.id).await;
    assert_eq!(opened[0].start, local("2026-11-28 10:00:00"));
    assert_eq!(opened[0].end, None, "still in progress at the restart");
    first.shutdown().await;

    // Second half after the restart: 10 more minutes of driving, then parked long enough to end it.
    let second = tianshu_alerts::start(store.clone(), RulesConfig::default(), config)
        .await
        .unwrap();
    store.append_points(&trip[41..]).await.unwrap();
    wait_for("the episode to end", || async {
        let cases = out_of_hours_cases(&store, car.id).await;
        // The last case ends once the car has stood still long enough.
        (cases.len() == expected_cases && cases.last().is_some_and(|c| c.end.is_some())).then_some(())
    })
    .await;
    second.shutdown().await;
    let cases = out_of_hours_cases(&store, car.id).await;
    drop(store);
    drop(scratch);
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_under_way_at_a_restart_stays_one_case() {
    let cases = trip_across_a_restart(12.0, 1).await;
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let case = &cases[0];
    assert_eq!(case.start, local("2026-11-28 10:00:00"));
    // The last moving fix is 10:30:00; the car then stands still with the ignition off.
    let end = case.end.unwrap();
    assert!(
        end >= local("2026-11-28 10:29:30") && end <= local("2026-11-28 10:31:00"),
        "the case ends where the driving ended: {end}"
    );
}

/// The failure the resumption prevents, shown with it switched off: the second runtime starts the car
/// afresh and opens a second case for the same drive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_resumption_a_restart_splits_the_episode() {
    let cases = trip_across_a_restart(0.0, 2).await;
    assert_eq!(cases.len(), 2, "{cases:#?}");
    assert!(cases[1].start > local("2026-11-28 10:20:00"));
}

//! A restart in the middle of an episode: the rule state is rebuilt from the stored track, so the
//! episode continues as the same case instead of opening a second one.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use std::time::Duration;

use tianshu_alerts::AlertsConfig;
use tianshu_model::{AlarmFlags, Phone, Position, StatusFlags, Timestamp, VehicleClass, VehicleId};
use tianshu_rules::RulesConfig;
use tianshu_store::rules::{AlertCase, CaseFilter};
use tianshu_store::{RegistryRecord, Store};

fn unique_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "tianshu-alerts-{name}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn local(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{}+08:00", s.replace(' ', "T"))).unwrap()
}

/// A Saturday trip (2026-11-28 is an ordinary rest day), one fix every 30 s: moving for 30 minutes,
/// then parked with the ignition off for 20. Point `i` is at 10:00 + 30 s x i.
fn saturday_trip(vehicle: VehicleId) -> Vec<Position> {
    let t0 = local("2026-11-28 10:00:00");
    (0..=100)
        .map(|i| {
            let moving = i <= 60;
            let t = t0.add_millis(i * 30_000);
            let k = if moving { i } else { 60 };
            Position {
                vehicle,
                phone: Phone(13_800_000_001),
                fix_time: t,
                recv_time: t.add_millis(1000),
                lat_e6: 30_200_000,
                lon_e6: 115_000_000 + k as i32 * 300,
                speed_dkmh: if moving { 400 } else { 0 },
                status: StatusFlags(StatusFlags::FIXED | if moving { StatusFlags::ACC_ON } else { 0 }),
                alarm: AlarmFlags(0),
                ..Default::default()
            }
        })
        .collect()
}

async fn cases_of(store: &Store, vehicle: VehicleId) -> Vec<AlertCase> {
    let mut cases = store
        .rules()
        .cases(&CaseFilter {
            vehicle: Some(vehicle),
            rule: Some("out_of_hours".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    cases.sort_by_key(|c| c.start);
    cases
}

async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    // Generous: this is waiting for the system to act, not a performance assertion.
    for _ in 0..600 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Runs the trip in two halves with a restart of the alert runtime between them and returns the
/// out-of-hours cases once the second runtime has judged the second half.
async fn trip_across_a_restart(resume_hours: f64, expected_cases: usize) -> Vec<AlertCase> {
    let dir = unique_dir("resume");
    let store = Store::open(&format!("sqlite:{}", dir.join("t.db").display()))
        .await
        .unwrap();
    store
        .import_registry(&[RegistryRecord {
            unit: "黄石市/市委办公室".into(),
            plate: "鄂B12345".into(),
            phone: Phone(13_800_000_001),
            terminal_id: "T1".into(),
            vehicle_class: VehicleClass::General,
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
    let trip = saturday_trip(car.id);

    // First half: 20 minutes of driving on a rest day. The episode opens (5 minutes suffice) and is
    // still in progress when the runtime stops.
    let first = tianshu_alerts::start(store.clone(), RulesConfig::default(), config.clone())
        .await
        .unwrap();
    store.append_points(&trip[..=40]).await.unwrap();
    wait_until("the first case", async || {
        cases_of(&store, car.id).await.len() == 1
    })
    .await;
    let opened = cases_of(&store, car.id).await;
    assert_eq!(opened[0].start, local("2026-11-28 10:00:00"));
    assert_eq!(opened[0].end, None, "still in progress at the restart");
    first.shutdown().await;

    // Second half after the restart: 10 more minutes of driving, then parked long enough to end it.
    let second = tianshu_alerts::start(store.clone(), RulesConfig::default(), config)
        .await
        .unwrap();
    store.append_points(&trip[41..]).await.unwrap();
    wait_until("the episode to end", async || {
        let cases = cases_of(&store, car.id).await;
        // The last case ends once the car has stood still long enough.
        cases.len() == expected_cases && cases.last().is_some_and(|c| c.end.is_some())
    })
    .await;
    second.shutdown().await;
    let cases = cases_of(&store, car.id).await;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
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

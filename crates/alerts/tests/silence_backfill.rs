//! A silence disproved: a terminal that recorded through a blind area sends its newest point first and
//! its recorded ones afterwards (0x0704). The gap the newest point showed raised a silence case; the
//! points that fill it withdraw it, with a note saying why. A car whose recorded points leave a gap still
//! longer than the threshold keeps its case.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

mod support;

use tianshu_alerts::{AlertsConfig, case_detail};
use tianshu_model::{Position, StatusFlags, Timestamp, VehicleId};
use tianshu_rules::RulesConfig;
use tianshu_store::StoreConfig;
use tianshu_store::rules::{AlertCase, CaseFilter, CaseState};
use tianshu_testkit::{Fix, on_both_backends};

use support::{Scratch, local, two_cars, wait_for};

/// A fix of `vehicle` at `t`, moving with the ignition on, received `recv_after_ms` later.
fn moving(vehicle: VehicleId, t: Timestamp, recv_after_ms: i64) -> Position {
    Fix::at_time(t)
        .vehicle(vehicle.0)
        .received_after(recv_after_ms)
        .at_e6(30_200_000, 115_000_000 + (t.secs() % 10_000) as i32 * 10)
        .heading(400, 90)
        .status(StatusFlags::FIXED | StatusFlags::ACC_ON)
        .build()
}

/// Monday morning in office hours: 09:00-09:30 a fix a minute, then nothing received until 11:45.
fn morning_with_a_gap(vehicle: VehicleId) -> Vec<Position> {
    let start = local("2026-11-23 09:00:00");
    let mut points: Vec<Position> = (0..=30)
        .map(|i| moving(vehicle, start.add_millis(i * 60_000), 1000))
        .collect();
    points.push(moving(vehicle, local("2026-11-23 11:45:00"), 1000));
    points
}

/// What the terminal recorded in the gap, every five minutes, received after the newest point.
fn recorded_in_the_gap(vehicle: VehicleId) -> Vec<Position> {
    let from = local("2026-11-23 09:35:00");
    (0..26)
        .map(|i| {
            let t = from.add_millis(i * 300_000);
            moving(vehicle, t, local("2026-11-23 11:50:00").millis() - t.millis())
        })
        .collect()
}

async fn silence_of(store: &tianshu_store::Store, vehicle: VehicleId) -> Option<AlertCase> {
    let filter = CaseFilter {
        vehicle: Some(vehicle),
        rule: Some("silence".into()),
        ..Default::default()
    };
    store.cases().cases(&filter).await.unwrap().into_iter().next()
}

async fn backfill_withdraws_the_silence(scratch: Scratch) {
    let store = scratch.open(&StoreConfig::default()).await;
    let (blind, silent) = two_cars(&store).await;
    let (blind, silent) = (blind.id, silent.id);
    let config = AlertsConfig {
        tick_secs: 1,
        ..AlertsConfig::default()
    };
    let handle = tianshu_alerts::start(store.clone(), RulesConfig::default(), config)
        .await
        .unwrap();

    let mut live = morning_with_a_gap(blind);
    live.extend(morning_with_a_gap(silent));
    store.append_points(&live).await.unwrap();
    let raised = wait_for("both silences raised", || async {
        let (a, b) = (silence_of(&store, blind).await, silence_of(&store, silent).await);
        a.zip(b)
    })
    .await;
    assert_eq!(raised.0.start, local("2026-11-23 09:30:00"));
    assert_eq!(raised.0.end, Some(local("2026-11-23 11:45:00")));

    // The blind car's recorded points arrive: its silence is withdrawn, saying why.
    store.append_points(&recorded_in_the_gap(blind)).await.unwrap();
    let withdrawn = wait_for("the blind car's silence withdrawn", || async {
        let c = silence_of(&store, blind).await.unwrap();
        (c.state == CaseState::Withdrawn).then_some(c)
    })
    .await;
    let detail = case_detail(&store, withdrawn.id).await.unwrap().unwrap();
    let note = detail
        .events
        .iter()
        .find(|e| e.action == "withdrawn")
        .map(|e| e.note.clone())
        .unwrap_or_default();
    assert!(
        note.contains("blind-area backfill") && note.contains("盲区补报"),
        "{note}"
    );

    // The other car sends one recorded point from the start of its gap: judged again, what is left of the
    // gap (09:32 to 11:45) is still a silence, and its case stays open once that point has been evaluated
    // (a batch is counted after the silences it touched were judged again).
    let late = moving(silent, local("2026-11-23 09:32:00"), 2 * 3_600_000);
    store.append_points(&[late]).await.unwrap();
    let sent = (live.len() + recorded_in_the_gap(blind).len() + 1) as u64;
    wait_for("every point evaluated", || async {
        (handle.progress().evaluated_points >= sent).then_some(())
    })
    .await;
    assert_eq!(silence_of(&store, silent).await.unwrap().state, CaseState::Open);
}

on_both_backends!(
    a_backfill_that_fills_the_gap_withdraws_the_silence,
    backfill_withdraws_the_silence,
    "silence_backfill"
);

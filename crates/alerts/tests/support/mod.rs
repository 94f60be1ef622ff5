//! Shared setup of the alert runtime tests: scratch stores on both backends (a file in a fresh directory,
//! or a database created on the real PostgreSQL at 127.0.0.1:5432 and dropped afterwards), times in
//! Beijing time, a scripted trip, and waiting on a condition with a deadline.
#![allow(dead_code, clippy::unwrap_used)] // shared by several test binaries; a panic is a failed test

use std::time::Duration;

use tianshu_model::{AlarmFlags, Phone, Position, StatusFlags, Timestamp, VehicleId};
use tianshu_store::Store;
use tianshu_store::rules::{AlertCase, CaseFilter};

pub use tianshu_testkit::Scratch;

/// A Beijing time, `YYYY-MM-DD HH:MM:SS`.
pub fn local(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{}+08:00", s.replace(' ', "T"))).unwrap()
}

/// A Saturday trip (2026-11-28 is an ordinary rest day), one fix every 30 s: moving for 30 minutes,
/// then parked with the ignition off for 20. Point `i` is at 10:00 + 30 s x i.
pub fn saturday_trip(vehicle: VehicleId, phone: u128) -> Vec<Position> {
    let t0 = local("2026-11-28 10:00:00");
    (0..=100)
        .map(|i| {
            let moving = i <= 60;
            let t = t0.add_millis(i * 30_000);
            let k = if moving { i } else { 60 };
            Position {
                vehicle,
                phone: Phone(phone),
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

/// The out-of-hours cases of `vehicle`, by start.
pub async fn out_of_hours_cases(store: &Store, vehicle: VehicleId) -> Vec<AlertCase> {
    let mut cases = store
        .cases()
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

/// Waits until `f` answers `Some`, polling; panics naming `what` after a generous deadline (this is
/// waiting for the system to act, not a performance assertion).
pub async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

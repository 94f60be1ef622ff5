//! Shared setup of the alert runtime tests: scratch stores on both backends (a file in a fresh directory,
//! or a database created on the real PostgreSQL at 127.0.0.1:5432 and dropped afterwards), times in
//! Beijing time, a scripted trip, and waiting on a condition with a deadline.
#![allow(dead_code, clippy::unwrap_used)] // shared by several test binaries; a panic is a failed test

use tianshu_model::{Phone, Position, Timestamp, Vehicle, VehicleId};
use tianshu_store::Store;
use tianshu_store::rules::{AlertCase, CaseFilter};

pub use tianshu_testkit::Scratch;
use tianshu_testkit::{WAIT, import_cars, trip};

/// A Beijing time, `YYYY-MM-DD HH:MM:SS`.
pub fn local(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{}+08:00", s.replace(' ', "T"))).unwrap()
}

/// A Saturday trip (2026-11-28 is an ordinary rest day), one fix every 30 s: moving for 30 minutes,
/// then parked with the ignition off for 20. Point `i` is at 10:00 + 30 s x i.
pub fn saturday_trip(vehicle: VehicleId, phone: u128) -> Vec<Position> {
    trip(
        local("2026-11-28 10:00:00"),
        (30_200_000, 115_000_000),
        300,
        false,
        100,
    )
    .into_iter()
    .map(|f| Position {
        vehicle,
        ..f.phone(Phone(phone)).build()
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
pub async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(what: &str, f: impl FnMut() -> F) -> T {
    tianshu_testkit::wait_for(what, WAIT, f).await
}

/// Two cars of 黄石市/市委办公室 registered in `store`: 鄂B12345 (13800000001) and 鄂B00002 (13800000002).
pub async fn two_cars(store: &Store) -> (Vehicle, Vehicle) {
    let cars = [("鄂B12345", 13_800_000_001), ("鄂B00002", 13_800_000_002)];
    import_cars(store, "黄石市/市委办公室", &cars).await;
    let car = |plate: &'static str| async move { store.vehicle_by_plate(plate).await.unwrap().unwrap() };
    (car("鄂B12345").await, car("鄂B00002").await)
}

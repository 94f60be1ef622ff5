//! Scratch stores for the store tests: an embedded file in a fresh directory, or a PostgreSQL database
//! created for the test on the real server at 127.0.0.1:5432 and dropped afterwards.
#![allow(dead_code)]

use tianshu_model::{Phone, Position, StatusFlags, Timestamp, VehicleId};

pub use tianshu_testkit::Scratch;

use std::path::PathBuf;

/// The base instant of test tracks: 2026-11-27T00:00:00Z.
pub const T0_SECS: i64 = 1_795_737_600;

/// A moving point of `vehicle` at `T0 + secs`.
pub fn point(vehicle: i64, secs: i64) -> Position {
    Position {
        vehicle: VehicleId(vehicle),
        phone: Phone(13_800_000_000 + vehicle as u128),
        fix_time: Timestamp::from_secs(T0_SECS + secs),
        recv_time: Timestamp::from_secs(T0_SECS + secs + 1),
        lat_e6: 30_200_000 + (secs % 10_000) as i32 * 10,
        lon_e6: 115_000_000 + vehicle as i32,
        altitude_m: 25,
        speed_dkmh: 420,
        course_deg: (secs % 360) as u16,
        status: StatusFlags(StatusFlags::ACC_ON | StatusFlags::FIXED),
        ..Default::default()
    }
}

/// The `tianshu` binary, built (once per test process) from the current sources; `TIANSHU_BIN`
/// overrides it.
pub fn tianshu_bin() -> PathBuf {
    tianshu_e2e::tianshu_bin()
}

//! Shared helpers for Tianshu's benchmarks; the benches themselves live in `benches/benches/`.

use tianshu_model::{Phone, Position, VehicleId};
use tianshu_testkit::Fix;

/// The runtime every benchmark drives its async work on: two workers, as the machine has two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A benchmark fleet's point: a car moving at 42 km/h, received a second after its fix, with an
/// odometer reading, so that every stored record is of realistic size.
pub fn fleet_point(vehicle: VehicleId, secs: i64, (lat_e6, lon_e6): (i32, i32)) -> Position {
    let fix = Fix::at(secs)
        .phone(Phone(13_000_000_000 + vehicle.0 as u128))
        .received_after(1000)
        .at_e6(lat_e6, lon_e6)
        .altitude(30)
        .heading(420, 90);
    Position {
        vehicle,
        mileage_dkm: Some(123_456),
        ..fix.build()
    }
}

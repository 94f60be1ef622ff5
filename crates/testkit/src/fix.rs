//! One builder for the positions tests feed the platform, instead of a `point()` of every test file.

use tianshu_model::{AlarmFlags, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId};

/// The base instant of test tracks: 2026-11-27T00:00:00Z.
pub const T0_SECS: i64 = 1_795_737_600;

/// A position under construction: `Fix::after_t0(secs).vehicle(7).at_e6(..).build()`. It starts as a fix at
/// `secs` (Unix seconds) received that instant, at 30.2 N 115.0 E, moving with the ignition on; every
/// other field is the model's default.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Fix(Position);

impl Fix {
    /// A fix at `secs` seconds after the Unix epoch.
    pub fn at(secs: i64) -> Fix {
        Fix::at_time(Timestamp::from_secs(secs))
    }

    /// A fix at `t`, received that instant.
    pub fn at_time(t: Timestamp) -> Fix {
        Fix(Position {
            fix_time: t,
            recv_time: t,
            lat_e6: 30_200_000,
            lon_e6: 115_000_000,
            status: StatusFlags(StatusFlags::ACC_ON | StatusFlags::FIXED),
            ..Position::default()
        })
    }

    /// A fix at `secs` seconds after [`T0_SECS`].
    pub fn after_t0(secs: i64) -> Fix {
        Fix::at(T0_SECS + secs)
    }

    /// The vehicle, with its test phone number `13_800_000_000 + vehicle`.
    pub fn vehicle(self, vehicle: i64) -> Fix {
        let Fix(p) = self;
        Fix(Position {
            vehicle: VehicleId(vehicle),
            phone: Phone(13_800_000_000 + vehicle as u128),
            ..p
        })
    }

    /// The terminal's phone number.
    pub fn phone(mut self, phone: Phone) -> Fix {
        self.0.phone = phone;
        self
    }

    /// Received `millis` after the fix.
    pub fn received_after(mut self, millis: i64) -> Fix {
        self.0.recv_time = self.0.fix_time.add_millis(millis);
        self
    }

    /// Latitude and longitude in millionths of a degree.
    pub fn at_e6(self, lat_e6: i32, lon_e6: i32) -> Fix {
        Fix(Position {
            lat_e6,
            lon_e6,
            ..self.0
        })
    }

    /// Altitude in metres.
    pub fn altitude(self, altitude_m: i32) -> Fix {
        Fix(Position { altitude_m, ..self.0 })
    }

    /// Speed in tenths of a km/h, and course in degrees.
    pub fn heading(self, speed_dkmh: u16, course_deg: u16) -> Fix {
        Fix(Position {
            speed_dkmh,
            course_deg,
            ..self.0
        })
    }

    /// The status bits.
    pub fn status(self, bits: u32) -> Fix {
        Fix(Position {
            status: StatusFlags(bits),
            ..self.0
        })
    }

    /// The alarm bits.
    pub fn alarm(self, bits: u32) -> Fix {
        Fix(Position {
            alarm: AlarmFlags(bits),
            ..self.0
        })
    }

    /// The position.
    pub fn build(self) -> Position {
        self.0
    }
}

impl From<Fix> for Position {
    fn from(f: Fix) -> Position {
        f.0
    }
}

/// A moving point of `vehicle` at `T0 + secs`, received a second later, every (vehicle, secs) distinct:
/// the store tests' track point.
pub fn point(vehicle: i64, secs: i64) -> Position {
    Fix::after_t0(secs)
        .vehicle(vehicle)
        .received_after(1000)
        .at_e6(
            30_200_000 + (secs % 10_000) as i32 * 10,
            115_000_000 + vehicle as i32,
        )
        .altitude(25)
        .heading(420, (secs % 360) as u16)
        .build()
}

/// A point of `vehicle` at 2026-11-01T00:00:00Z + `secs` with every field at an extreme (the longest phone,
/// the largest unsigned values, a negative altitude, every optional field present, received 123 ms into its
/// second): for records written and read back.
pub fn extreme_point(vehicle: i64, secs: i64) -> Position {
    const BASE_SECS: i64 = 1_793_491_200;
    Position {
        vehicle: VehicleId(vehicle),
        phone: Phone(99_999_999_999_999_999_999),
        fix_time: Timestamp::from_secs(BASE_SECS + secs),
        recv_time: Timestamp(BASE_SECS * 1000 + 123 + secs * 1000),
        lat_e6: -33_865_143,
        lon_e6: 151_209_900,
        altitude_m: -420,
        speed_dkmh: u16::MAX,
        course_deg: 359,
        alarm: AlarmFlags(u32::MAX),
        status: StatusFlags(0x8000_0003),
        mileage_dkm: Some(u32::MAX),
        fuel_dl: Some(65_535),
        satellites: Some(0),
        rssi: Some(255),
        source: PositionSource::Backfill,
    }
}

/// A scripted trip: one fix every 30 s from `start`, received a second later, moving at 40 km/h with the
/// ignition on for fixes 0 to 60 (half an hour), then parked with the ignition off until fix `last`. The
/// car leaves `origin` (latitude, longitude in millionths) eastwards by `step_e6` a fix; when `back`, it
/// turns round at fix 30 and parks where it started, otherwise it parks at the far end.
pub fn trip(start: Timestamp, origin: (i32, i32), step_e6: i32, back: bool, last: i64) -> Vec<Fix> {
    (0..=last)
        .map(|i| {
            let moving = i <= 60;
            let k = match (moving, back) {
                (false, true) => 0,
                (_, true) if i > 30 => 60 - i,
                _ => i.min(60),
            };
            let ignition = if moving { StatusFlags::ACC_ON } else { 0 };
            Fix::at_time(start.add_millis(i * 30_000))
                .received_after(1000)
                .at_e6(origin.0, origin.1 + k as i32 * step_e6)
                .heading(if moving { 400 } else { 0 }, 0)
                .status(StatusFlags::FIXED | ignition)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trip_goes_out_and_back_then_parks() {
        let t = trip(Timestamp::from_secs(0), (1, 10), 5, true, 80);
        let lon: Vec<i32> = t.iter().map(|f| f.build().lon_e6).collect();
        assert_eq!(
            (lon[0], lon[30], lon[31], lon[60], lon[61], lon[80]),
            (10, 160, 155, 10, 10, 10)
        );
        let last = t[80].build();
        assert_eq!((last.speed_dkmh, last.status.0), (0, StatusFlags::FIXED));
        assert_eq!(last.fix_time, Timestamp::from_secs(2400));
        assert_eq!(last.recv_time, Timestamp::from_secs(2401));
        let one_way = trip(Timestamp::from_secs(0), (1, 10), 5, false, 100);
        assert_eq!(
            (one_way[60].build().lon_e6, one_way[100].build().lon_e6),
            (310, 310)
        );
        assert_eq!(
            one_way[60].build().status.0,
            StatusFlags::FIXED | StatusFlags::ACC_ON
        );
    }
}

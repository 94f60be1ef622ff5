//! One builder for the positions tests feed the platform, instead of a `point()` of every test file.

use tianshu_model::{Phone, Position, StatusFlags, Timestamp, VehicleId};

/// The base instant of test tracks: 2026-11-27T00:00:00Z.
pub const T0_SECS: i64 = 1_795_737_600;

/// A position under construction: `Fix::at(secs).vehicle(7).lat(..).build()`. It starts as a fix at
/// `secs` (Unix seconds) received that instant, at 30.2 N 115.0 E, moving with the ignition on; every
/// other field is the model's default.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Fix(Position);

impl Fix {
    /// A fix at `secs` seconds after the Unix epoch.
    pub fn at(secs: i64) -> Fix {
        let t = Timestamp::from_secs(secs);
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
    pub fn at_e6(mut self, lat_e6: i32, lon_e6: i32) -> Fix {
        self.0.lat_e6 = lat_e6;
        self.0.lon_e6 = lon_e6;
        self
    }

    /// Altitude in metres.
    pub fn altitude(mut self, metres: i32) -> Fix {
        self.0.altitude_m = metres;
        self
    }

    /// Speed in tenths of a km/h, and course in degrees.
    pub fn heading(mut self, speed_dkmh: u16, course_deg: u16) -> Fix {
        self.0.speed_dkmh = speed_dkmh;
        self.0.course_deg = course_deg;
        self
    }

    /// The status bits.
    pub fn status(mut self, bits: u32) -> Fix {
        self.0.status = StatusFlags(bits);
        self
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

//! A track point.
//!
//! A [`Position`] is what every layer passes around: the codec produces it from a 0x0200 body, the store
//! keeps it, the rules read it, the web shows it. Its identity for de-duplication is
//! (vehicle, fix time, [`Position::block_hash`]): the frame serial wraps and a retransmission or a 0x0704
//! backfill carries a new one, but the 28-byte basic location block is the same bytes every time.

use serde::{Deserialize, Serialize};

use crate::{AlarmFlags, Phone, StatusFlags, Timestamp, VehicleId};

/// Length of the JT/T 808 basic location block (alarm, status, lat, lon, altitude, speed, course, time).
pub const BASIC_BLOCK_LEN: usize = 28;

/// How a point reached Tianshu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// A live 0x0200 report (or a 0x0201 answer, or a 0x0704 type 0 batch).
    #[default]
    Live,
    /// A 0x0704 type 1 blind-area backfill: recorded while the terminal had no network.
    Backfill,
    /// A JSON position published over MQTT.
    Json,
}

/// One track point, in the protocol's integer units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Position {
    /// The vehicle the reporting terminal is bound to.
    pub vehicle: VehicleId,
    /// The reporting terminal.
    pub phone: Phone,
    /// When the terminal took the fix (UTC).
    pub fix_time: Timestamp,
    /// When Tianshu received it (UTC); later than `fix_time` by the network delay, or by hours for a backfill.
    pub recv_time: Timestamp,
    /// Latitude in micro-degrees, WGS-84, signed (south is negative).
    pub lat_e6: i32,
    /// Longitude in micro-degrees, WGS-84, signed (west is negative).
    pub lon_e6: i32,
    /// Altitude in metres.
    pub altitude_m: i32,
    /// Speed in 0.1 km/h, as the protocol carries it.
    pub speed_dkmh: u16,
    /// Course in degrees clockwise from north, 0-359.
    pub course_deg: u16,
    /// The alarm word.
    pub alarm: AlarmFlags,
    /// The status word.
    pub status: StatusFlags,
    /// Odometer (additional item 0x01) in 0.1 km, when reported.
    pub mileage_dkm: Option<u32>,
    /// Fuel (item 0x02) in 0.1 L, when reported.
    pub fuel_dl: Option<u16>,
    /// Satellites in view (item 0x31), when reported.
    pub satellites: Option<u8>,
    /// Signal strength (item 0x30), when reported.
    pub rssi: Option<u8>,
    /// Live, blind-area backfill, or JSON.
    pub source: PositionSource,
}

/// Degrees from the stored micro-degrees.
pub fn deg_from_e6(e6: i32) -> f64 {
    f64::from(e6) / 1e6
}

/// km/h from the protocol's tenths of km/h.
pub fn kmh_from_dkmh(dkmh: u16) -> f64 {
    f64::from(dkmh) / 10.0
}

impl Position {
    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        deg_from_e6(self.lat_e6)
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        deg_from_e6(self.lon_e6)
    }

    /// The position as a WGS-84 point in degrees.
    pub fn lonlat(&self) -> crate::LonLat {
        crate::LonLat::from_e6(self.lon_e6, self.lat_e6)
    }

    /// Speed in km/h.
    pub fn speed_kmh(&self) -> f64 {
        kmh_from_dkmh(self.speed_dkmh)
    }

    /// The 28-byte basic location block this point encodes to (JT/T 808 0x0200, GMT+8 BCD time).
    pub fn basic_block(&self) -> [u8; BASIC_BLOCK_LEN] {
        let mut b = [0u8; BASIC_BLOCK_LEN];
        b[0..4].copy_from_slice(&self.alarm.0.to_be_bytes());
        b[4..8].copy_from_slice(&self.status.0.to_be_bytes());
        b[8..12].copy_from_slice(&self.lat_e6.unsigned_abs().to_be_bytes());
        b[12..16].copy_from_slice(&self.lon_e6.unsigned_abs().to_be_bytes());
        // Altitude is a WORD on the wire; keep its low 16 bits as sent.
        b[16..18].copy_from_slice(&(self.altitude_m as u16).to_be_bytes());
        b[18..20].copy_from_slice(&self.speed_dkmh.to_be_bytes());
        b[20..22].copy_from_slice(&self.course_deg.to_be_bytes());
        let local = self.fix_time.to_china();
        use chrono::{Datelike, Timelike};
        let fields = [
            (local.year() % 100) as u8,
            local.month() as u8,
            local.day() as u8,
            local.hour() as u8,
            local.minute() as u8,
            local.second() as u8,
        ];
        for (i, v) in fields.iter().enumerate() {
            b[22 + i] = (v / 10) << 4 | (v % 10);
        }
        b
    }

    /// The de-duplication hash: FNV-1a 64 of [`Position::basic_block`], as a signed column value.
    pub fn block_hash(&self) -> i64 {
        fnv1a64(&self.basic_block()) as i64
    }
}

/// FNV-1a, 64-bit: stable across versions and platforms, which a key stored for years must be.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_block_matches_the_wire() {
        // SmallChi's 0x0200 sample: lat 12222222, lon 132444444, alt 56, speed 88, course 10, 2018-07-15 10:10:10 +08.
        let p = Position {
            alarm: AlarmFlags(1),
            status: StatusFlags(2),
            lat_e6: 12_222_222,
            lon_e6: 132_444_444,
            altitude_m: 56,
            speed_dkmh: 88,
            course_deg: 10,
            fix_time: Timestamp::parse_rfc3339("2018-07-15T10:10:10+08:00").unwrap(),
            ..Default::default()
        };
        let b = p.basic_block();
        assert_eq!(&b[22..28], &[0x18, 0x07, 0x15, 0x10, 0x10, 0x10]);
        assert_eq!(&b[8..12], &12_222_222u32.to_be_bytes());
        let south = Position {
            lat_e6: -12_222_222,
            status: StatusFlags(2 | StatusFlags::SOUTH),
            ..p
        };
        assert_ne!(south.block_hash(), p.block_hash());
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    }
}

//! The packed form of a stored point: everything but its key in one byte string.
//!
//! Both backends store a point as its key columns, `(vehicle, fix_time, block_hash)`, plus this record
//! (`rec`). A database formats, parses and copies every column of a row on every insert and read; one
//! record instead of fourteen columns makes rows and index entries smaller and inserts and replays
//! cheaper. The layout is fixed by version byte; migrations 0004 build it in SQL from the former
//! columns.

use crate::{AlarmFlags, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId};

/// The fix times a store accepts: from 1970-01-01 up to (not including) 3000-01-01 UTC.
pub const FIX_TIME_RANGE_MS: std::ops::Range<i64> = 0..32_503_680_000_000;

/// Whether a store takes a point with fix time `t` (inside [`FIX_TIME_RANGE_MS`]). Ingest checks each point
/// with this before it appends, so one point out of range is refused alone instead of failing its batch.
pub fn accepts_fix_time(t: Timestamp) -> bool {
    FIX_TIME_RANGE_MS.contains(&t.0)
}

/// The version byte that starts every packed record.
const REC_VERSION: u8 = 1;
/// Bytes of a packed record before the phone digits.
pub const REC_FIXED: usize = 43;
pub(crate) const HAS_MILEAGE: u8 = 1;
pub(crate) const HAS_FUEL: u8 = 2;
pub(crate) const HAS_SATELLITES: u8 = 4;
pub(crate) const HAS_RSSI: u8 = 8;

/// Which of the optional fields a point has, as the bits above (a packed record's and a block's).
#[inline]
pub(crate) fn presence_flags(p: &Position) -> u8 {
    let bit = |present: bool, flag: u8| if present { flag } else { 0 };
    bit(p.mileage_dkm.is_some(), HAS_MILEAGE)
        | bit(p.fuel_dl.is_some(), HAS_FUEL)
        | bit(p.satellites.is_some(), HAS_SATELLITES)
        | bit(p.rssi.is_some(), HAS_RSSI)
}

/// Where the receive time starts in a packed record (0-based; SQL's 1-based `substr(rec, 4, 8)`).
pub const REC_RECV_AT: usize = 3;

/// The fixed fields of a packed record as [`encode_rec`] writes them: name, where it starts (0-based) and
/// its length in bytes, for a database that unpacks records into columns in SQL (TimescaleDB's typed
/// columns). The phone digits follow at [`REC_FIXED`].
pub const REC_FIELDS: &[(&str, usize, usize)] = &[
    ("flags", 1, 1),
    ("source", 2, 1),
    ("recv_time", REC_RECV_AT, 8),
    ("lat_e6", 11, 4),
    ("lon_e6", 15, 4),
    ("altitude_m", 19, 4),
    ("speed_dkmh", 23, 2),
    ("course_deg", 25, 2),
    ("alarm", 27, 4),
    ("status", 31, 4),
    ("mileage_dkm", 35, 4),
    ("fuel_dl", 39, 2),
    ("satellites", 41, 1),
    ("rssi", 42, 1),
];

/// The presence flag of an optional field of [`REC_FIELDS`] (0 for a field always present).
pub fn presence_flag_of(field: &str) -> u8 {
    match field {
        "mileage_dkm" => HAS_MILEAGE,
        "fuel_dl" => HAS_FUEL,
        "satellites" => HAS_SATELLITES,
        "rssi" => HAS_RSSI,
        _ => 0,
    }
}

/// The bytes a packed record holds at [`REC_RECV_AT`] for receive time `t`, clamped at the Unix epoch:
/// for times from the epoch on, comparing these bytes compares the times, so a database can filter
/// records by receive time without unpacking them.
pub fn recv_time_bytes(t: Timestamp) -> [u8; 8] {
    t.0.max(0).to_be_bytes()
}

/// Packs everything of a point but its key, big-endian (the layout the 0004 migrations build from
/// the former columns):
///
/// | bytes | field |
/// |---|---|
/// | 1 | version (1) |
/// | 1 | presence flags: 1 mileage, 2 fuel, 4 satellites, 8 rssi |
/// | 1 | source (0 live, 1 backfill, 2 JSON) |
/// | 8 | receive time, Unix milliseconds |
/// | 4, 4, 4 | latitude, longitude (micro-degrees), altitude (m) |
/// | 2, 2 | speed (0.1 km/h), course (degrees) |
/// | 4, 4 | alarm and status flags |
/// | 4, 2, 1, 1 | mileage (0.1 km), fuel (0.1 l), satellites, rssi (0 when absent) |
/// | rest | phone number, decimal ASCII digits |
#[inline]
pub fn encode_rec(p: &Position, out: &mut Vec<u8>) {
    let flags = presence_flags(p);
    out.push(REC_VERSION);
    out.push(flags);
    out.push(source_to_i16(p.source) as u8);
    out.extend_from_slice(&p.recv_time.0.to_be_bytes());
    out.extend_from_slice(&p.lat_e6.to_be_bytes());
    out.extend_from_slice(&p.lon_e6.to_be_bytes());
    out.extend_from_slice(&p.altitude_m.to_be_bytes());
    out.extend_from_slice(&p.speed_dkmh.to_be_bytes());
    out.extend_from_slice(&p.course_deg.to_be_bytes());
    out.extend_from_slice(&p.alarm.0.to_be_bytes());
    out.extend_from_slice(&p.status.0.to_be_bytes());
    out.extend_from_slice(&p.mileage_dkm.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&p.fuel_dl.unwrap_or(0).to_be_bytes());
    out.push(p.satellites.unwrap_or(0));
    out.push(p.rssi.unwrap_or(0));
    push_phone(out, p.phone);
}

/// Appends the decimal digits of a phone number.
fn push_phone(out: &mut Vec<u8>, phone: Phone) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    let mut v = phone.0;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Unpacks a stored point from its key and its `rec` column ([`encode_rec`]); what does not fit the
/// layout is an error that names the point.
#[inline]
pub fn decode_rec(vehicle: i64, fix_time_ms: i64, rec: &[u8]) -> Result<Position, String> {
    let corrupt = |what: &str| format!("point of vehicle {vehicle} at {fix_time_ms} ms: {what}");
    if rec.len() < REC_FIXED + 1 {
        return Err(corrupt("record too short"));
    }
    if rec[0] != REC_VERSION {
        return Err(corrupt(&format!("unknown record version {}", rec[0])));
    }
    let be4 = |at: usize| [rec[at], rec[at + 1], rec[at + 2], rec[at + 3]];
    let be2 = |at: usize| [rec[at], rec[at + 1]];
    let flags = rec[1];
    let mut recv = [0u8; 8];
    recv.copy_from_slice(&rec[3..11]);
    let digits = &rec[REC_FIXED..];
    if digits.len() > 20 {
        return Err(corrupt("phone number too long"));
    }
    let mut phone: u128 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(corrupt("phone number is not digits"));
        }
        phone = phone * 10 + u128::from(d - b'0');
    }
    let present = |bit: u8| flags & bit != 0;
    Ok(Position {
        vehicle: VehicleId(vehicle),
        phone: Phone(phone),
        fix_time: Timestamp(fix_time_ms),
        recv_time: Timestamp(i64::from_be_bytes(recv)),
        lat_e6: i32::from_be_bytes(be4(11)),
        lon_e6: i32::from_be_bytes(be4(15)),
        altitude_m: i32::from_be_bytes(be4(19)),
        speed_dkmh: u16::from_be_bytes(be2(23)),
        course_deg: u16::from_be_bytes(be2(25)),
        alarm: AlarmFlags(u32::from_be_bytes(be4(27))),
        status: StatusFlags(u32::from_be_bytes(be4(31))),
        mileage_dkm: present(HAS_MILEAGE).then(|| u32::from_be_bytes(be4(35))),
        fuel_dl: present(HAS_FUEL).then(|| u16::from_be_bytes(be2(39))),
        satellites: present(HAS_SATELLITES).then_some(rec[41]),
        rssi: present(HAS_RSSI).then_some(rec[42]),
        source: source_from_i16(i16::from(rec[2])),
    })
}

/// Encodes a [`PositionSource`] as the small integer both backends store.
#[inline]
pub fn source_to_i16(s: PositionSource) -> i16 {
    match s {
        PositionSource::Live => 0,
        PositionSource::Backfill => 1,
        PositionSource::Json => 2,
    }
}

/// Decodes a stored source; unknown values read as live rather than failing a replay.
#[inline]
pub fn source_from_i16(v: i16) -> PositionSource {
    match v {
        1 => PositionSource::Backfill,
        2 => PositionSource::Json,
        _ => PositionSource::Live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(vehicle: i64, secs: i64) -> Position {
        Position {
            vehicle: VehicleId(vehicle),
            phone: Phone(99_999_999_999_999_999_999),
            fix_time: Timestamp::from_secs(1_793_491_200 + secs),
            recv_time: Timestamp(1_793_491_200_123 + secs * 1000),
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

    fn sparse(vehicle: i64, secs: i64) -> Position {
        Position {
            vehicle: VehicleId(vehicle),
            phone: Phone(13_800_138_000),
            fix_time: Timestamp::from_secs(1_793_491_200 + secs),
            recv_time: Timestamp::from_secs(1_793_491_200 + secs),
            lat_e6: 30_200_000,
            lon_e6: 115_040_000,
            ..Default::default()
        }
    }

    #[test]
    fn the_field_table_is_where_encode_rec_writes() {
        let p = full(7, 0);
        let mut rec = Vec::new();
        encode_rec(&p, &mut rec);
        let field = |name: &str| {
            let (_, at, len) = REC_FIELDS.iter().find(|(n, _, _)| *n == name).unwrap();
            rec[*at..at + len].to_vec()
        };
        assert_eq!(field("flags"), [presence_flags(&p)]);
        assert_eq!(field("source"), [1]);
        assert_eq!(field("recv_time"), p.recv_time.0.to_be_bytes());
        assert_eq!(field("lat_e6"), p.lat_e6.to_be_bytes());
        assert_eq!(field("lon_e6"), p.lon_e6.to_be_bytes());
        assert_eq!(field("altitude_m"), p.altitude_m.to_be_bytes());
        assert_eq!(field("speed_dkmh"), p.speed_dkmh.to_be_bytes());
        assert_eq!(field("course_deg"), p.course_deg.to_be_bytes());
        assert_eq!(field("alarm"), p.alarm.0.to_be_bytes());
        assert_eq!(field("status"), p.status.0.to_be_bytes());
        assert_eq!(field("mileage_dkm"), u32::MAX.to_be_bytes());
        assert_eq!(field("fuel_dl"), 65_535u16.to_be_bytes());
        assert_eq!(field("satellites"), [0]);
        assert_eq!(field("rssi"), [255]);
        // Contiguous from the flags to the phone digits.
        let mut next = 1;
        for (name, at, len) in REC_FIELDS {
            assert_eq!(*at, next, "{name}");
            next += len;
        }
        assert_eq!(next, REC_FIXED);
        let flags: Vec<u8> = REC_FIELDS.iter().map(|(n, _, _)| presence_flag_of(n)).collect();
        assert_eq!(flags.iter().fold(0, |a, f| a | f), 15);
    }

    #[test]
    fn records_round_trip_every_field() {
        for p in [full(7, 0), sparse(8, 10), Position::default()] {
            let mut rec = Vec::new();
            encode_rec(&p, &mut rec);
            assert_eq!(decode_rec(p.vehicle.0, p.fix_time.0, &rec).unwrap(), p);
        }
    }

    #[test]
    fn a_foreign_record_is_corrupt_not_a_panic() {
        let mut rec = Vec::new();
        encode_rec(&sparse(1, 0), &mut rec);
        for bad in [
            &rec[..10],
            &rec[..REC_FIXED],
            &[&[2u8][..], &rec[1..]].concat()[..],
            &[&rec[..], b"x"].concat()[..],
            &[&rec[..], b"1234567890"].concat()[..],
        ] {
            assert!(decode_rec(1, 0, bad).is_err(), "{bad:?}");
        }
    }
}

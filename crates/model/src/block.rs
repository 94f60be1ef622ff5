//! A track block: one vehicle's points of one China day packed together, for storage that lasts years.
//!
//! Points older than a few days are read as whole days and never change but for a rare backfill; a row
//! per point (key, record and index entry: 95 to 289 bytes) is the wrong shape for them. A block stores
//! each field as a column of small numbers that vary slowly from point to point, then compresses the
//! columns with DEFLATE:
//!
//! | column | encoding |
//! |---|---|
//! | fix time | first value, first delta, then delta-of-delta (zig-zag varints) |
//! | receive time | offset from the fix time, as a delta from the previous point's offset |
//! | latitude, longitude, altitude, speed, course, mileage, fuel, satellites, rssi | delta from the previous point |
//! | alarm word, status word, presence and source byte, phone | runs of equal values (length, value) |
//!
//! A value a point does not have (no mileage) is stored as 0 and marked absent in the presence byte.
//! The idempotence key of a point, `(vehicle, fix time, block hash)`, is stored whole: the vehicle is the
//! block's, the fix time is a column, and the block hash is a function of the fields a block stores
//! ([`Position::block_hash`]), recomputed when the block is read.
//!
//! A block starts with a header that is not compressed: a magic and version byte, the number of points,
//! and an FNV-1a checksum of the rest of the block (magic, count and compressed columns). A block that is cut, altered or of an unknown
//! version is an error naming what is wrong, never a panic or a wrong track.

use std::io::{Read, Write};

use crate::record::{HAS_FUEL, HAS_MILEAGE, HAS_RSSI, HAS_SATELLITES};
use crate::{AlarmFlags, Phone, Position, StatusFlags, Timestamp, VehicleId, fnv1a64};
use crate::{CHINA_OFFSET_SECS, record};

/// The bytes every block starts with: "TSB" and the layout version.
const MAGIC: [u8; 4] = *b"TSB1";
/// Magic, point count (4 bytes) and checksum (8 bytes).
const HEADER_LEN: usize = 4 + 4 + 8;
/// More points than any vehicle-day can hold (one a millisecond); a count above it is a damaged block.
const MAX_POINTS: u32 = 86_400_000;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// The China day (days since 1970-01-01 in UTC+8) an instant falls on: the day a block holds.
pub fn china_day(t: Timestamp) -> i64 {
    t.0.saturating_add(i64::from(CHINA_OFFSET_SECS) * 1000)
        .div_euclid(MILLIS_PER_DAY)
}

/// The first instant of China day `day` (see [`china_day`]).
pub fn china_day_start(day: i64) -> Timestamp {
    Timestamp(
        day.saturating_mul(MILLIS_PER_DAY)
            .saturating_sub(i64::from(CHINA_OFFSET_SECS) * 1000),
    )
}

/// The newest China day whose points are packed into blocks at `now` when points are kept as rows for
/// `keep_days` whole days: with 1 (the least), every day before today. Today's points are never in a
/// block, so a live point never needs a look into one.
pub fn last_blocked_day(now: Timestamp, keep_days: u32) -> i64 {
    china_day(now) - i64::from(keep_days.max(1))
}

/// Whether a point with fix time `t` may belong to a day packed into a block by a store that keeps at
/// least one day as rows (see [`last_blocked_day`]): only points before today do.
pub fn may_be_blocked(t: Timestamp, now: Timestamp) -> bool {
    china_day(t) < china_day(now)
}

/// The order of points in a block and in a track: fix time, then block hash.
pub fn track_key(p: &Position) -> (i64, i64) {
    (p.fix_time.0, p.block_hash())
}

/// [`track_key`]'s order of two points, hashing them only when their fix times are equal (the hash is
/// most of a key's cost, and a track's fix times nearly always differ).
pub fn track_order(a: &Position, b: &Position) -> std::cmp::Ordering {
    a.fix_time
        .cmp(&b.fix_time)
        .then_with(|| a.block_hash().cmp(&b.block_hash()))
}

/// Packs `points` (all of one vehicle) into a block: sorted by [`track_key`], repeats of a key kept once.
pub fn encode_block(points: &[Position]) -> Vec<u8> {
    let mut sorted: Vec<(i64, i64, &Position)> =
        points.iter().map(|p| (p.fix_time.0, p.block_hash(), p)).collect();
    sorted.sort_by_key(|(t, h, _)| (*t, *h));
    sorted.dedup_by_key(|(t, h, _)| (*t, *h));
    let points: Vec<&Position> = sorted.into_iter().map(|(_, _, p)| p).collect();

    let mut body = Vec::with_capacity(points.len() * 12 + 64);
    // Fix times: delta of delta.
    let (mut prev_t, mut prev_d) = (0i64, 0i64);
    for (i, p) in points.iter().enumerate() {
        let t = p.fix_time.0;
        match i {
            0 => put_signed(&mut body, t),
            _ => {
                let d = t.wrapping_sub(prev_t);
                put_signed(&mut body, d.wrapping_sub(prev_d));
                prev_d = d;
            }
        }
        prev_t = t;
    }
    // Receive times: the offset from the fix time, as a delta from the last offset.
    deltas(
        &mut body,
        points.iter().map(|p| p.recv_time.0.wrapping_sub(p.fix_time.0)),
    );
    deltas(&mut body, points.iter().map(|p| i64::from(p.lat_e6)));
    deltas(&mut body, points.iter().map(|p| i64::from(p.lon_e6)));
    deltas(&mut body, points.iter().map(|p| i64::from(p.altitude_m)));
    deltas(&mut body, points.iter().map(|p| i64::from(p.speed_dkmh)));
    deltas(&mut body, points.iter().map(|p| i64::from(p.course_deg)));
    deltas(
        &mut body,
        points.iter().map(|p| i64::from(p.mileage_dkm.unwrap_or(0))),
    );
    deltas(
        &mut body,
        points.iter().map(|p| i64::from(p.fuel_dl.unwrap_or(0))),
    );
    deltas(
        &mut body,
        points.iter().map(|p| i64::from(p.satellites.unwrap_or(0))),
    );
    deltas(&mut body, points.iter().map(|p| i64::from(p.rssi.unwrap_or(0))));
    runs(&mut body, points.iter().map(|p| u128::from(p.alarm.0)));
    runs(&mut body, points.iter().map(|p| u128::from(p.status.0)));
    runs(&mut body, points.iter().map(|p| u128::from(presence(p))));
    runs(&mut body, points.iter().map(|p| p.phone.0));

    let mut out = Vec::with_capacity(HEADER_LEN + body.len() / 3);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(points.len() as u32).to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    let mut z = flate2::write::DeflateEncoder::new(out, flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(&body);
    let mut out = z.finish().unwrap_or_default();
    let sum = checksum(&out);
    out[8..HEADER_LEN].copy_from_slice(&sum.to_be_bytes());
    out
}

/// The checksum of a block: FNV-1a over everything but the checksum itself.
fn checksum(block: &[u8]) -> u64 {
    let mut h = fnv1a64(&block[..8]);
    for &b in &block[HEADER_LEN..] {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// How many points a block holds, read from its header alone (no decompression); an error for what
/// is not a block.
pub fn block_len(block: &[u8]) -> Result<u32, String> {
    if block.len() < HEADER_LEN || block[..4] != MAGIC {
        return Err("not a track block of this version".into());
    }
    let n = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
    if n > MAX_POINTS {
        return Err(format!("block claims {n} points"));
    }
    Ok(n)
}

/// Unpacks a block of `vehicle` into its points, in [`track_key`] order. A block that is cut, altered or
/// not a block is an error saying what is wrong.
pub fn decode_block(vehicle: VehicleId, block: &[u8]) -> Result<Vec<Position>, String> {
    let n = block_len(block)? as usize;
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&block[8..HEADER_LEN]);
    if checksum(block).to_be_bytes() != sum {
        return Err("block checksum does not match its contents".into());
    }
    let mut body = Vec::with_capacity(n * 12 + 64);
    flate2::read::DeflateDecoder::new(&block[HEADER_LEN..])
        // No point takes more than this many bytes of columns: a stream that claims more is not a block.
        .take((n as u64 + 1) * 256)
        .read_to_end(&mut body)
        .map_err(|e| format!("block does not decompress: {e}"))?;
    let mut r = Reader { buf: &body, at: 0 };
    let mut fix = Vec::with_capacity(n);
    let (mut t, mut d) = (0i64, 0i64);
    for i in 0..n {
        let v = r.signed()?;
        if i == 0 {
            t = v;
        } else {
            d = d.wrapping_add(v);
            t = t.wrapping_add(d);
        }
        fix.push(t);
    }
    let recv = r.deltas(n)?;
    let lat = r.deltas(n)?;
    let lon = r.deltas(n)?;
    let alt = r.deltas(n)?;
    let speed = r.deltas(n)?;
    let course = r.deltas(n)?;
    let mileage = r.deltas(n)?;
    let fuel = r.deltas(n)?;
    let sats = r.deltas(n)?;
    let rssi = r.deltas(n)?;
    let alarm = r.runs(n)?;
    let status = r.runs(n)?;
    let flags = r.runs(n)?;
    let phone = r.runs(n)?;
    if r.at != body.len() {
        return Err("block has bytes after its columns".into());
    }
    let narrow = |what: &str| format!("block holds a {what} out of range");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let f = u8::try_from(flags[i]).map_err(|_| narrow("presence byte"))?;
        let present = |bit: u8| f & bit != 0;
        out.push(Position {
            vehicle,
            phone: Phone(phone[i]),
            fix_time: Timestamp(fix[i]),
            recv_time: Timestamp(fix[i].wrapping_add(recv[i])),
            lat_e6: i32::try_from(lat[i]).map_err(|_| narrow("latitude"))?,
            lon_e6: i32::try_from(lon[i]).map_err(|_| narrow("longitude"))?,
            altitude_m: i32::try_from(alt[i]).map_err(|_| narrow("altitude"))?,
            speed_dkmh: u16::try_from(speed[i]).map_err(|_| narrow("speed"))?,
            course_deg: u16::try_from(course[i]).map_err(|_| narrow("course"))?,
            alarm: AlarmFlags(u32::try_from(alarm[i]).map_err(|_| narrow("alarm word"))?),
            status: StatusFlags(u32::try_from(status[i]).map_err(|_| narrow("status word"))?),
            mileage_dkm: present(HAS_MILEAGE)
                .then(|| u32::try_from(mileage[i]))
                .transpose()
                .map_err(|_| narrow("mileage"))?,
            fuel_dl: present(HAS_FUEL)
                .then(|| u16::try_from(fuel[i]))
                .transpose()
                .map_err(|_| narrow("fuel"))?,
            satellites: present(HAS_SATELLITES)
                .then(|| u8::try_from(sats[i]))
                .transpose()
                .map_err(|_| narrow("satellite count"))?,
            rssi: present(HAS_RSSI)
                .then(|| u8::try_from(rssi[i]))
                .transpose()
                .map_err(|_| narrow("signal strength"))?,
            source: record::source_from_i16(i16::from(f >> 4)),
        });
    }
    if out.windows(2).any(|w| track_order(&w[0], &w[1]).is_ge()) {
        return Err("block points are not in track order".into());
    }
    Ok(out)
}

/// The presence bits and source of a point in one byte.
fn presence(p: &Position) -> u8 {
    record::presence_flags(p) | ((record::source_to_i16(p.source) as u8) << 4)
}

fn put_unsigned(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_unsigned(out, u128::from(((v << 1) ^ (v >> 63)) as u64));
}

/// A column as the deltas between consecutive values (the first from 0).
fn deltas(out: &mut Vec<u8>, values: impl Iterator<Item = i64>) {
    let mut prev = 0i64;
    for v in values {
        put_signed(out, v.wrapping_sub(prev));
        prev = v;
    }
}

/// A column as runs of equal values: (run length, value).
fn runs(out: &mut Vec<u8>, values: impl Iterator<Item = u128>) {
    let mut run: Option<(u128, u64)> = None;
    for v in values {
        match &mut run {
            Some((value, len)) if *value == v => *len += 1,
            _ => {
                if let Some((value, len)) = run {
                    put_unsigned(out, u128::from(len));
                    put_unsigned(out, value);
                }
                run = Some((v, 1));
            }
        }
    }
    if let Some((value, len)) = run {
        put_unsigned(out, u128::from(len));
        put_unsigned(out, value);
    }
}

/// Reads the columns back.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn unsigned(&mut self) -> Result<u128, String> {
        let mut v: u128 = 0;
        for shift in (0..128).step_by(7) {
            let b = *self.buf.get(self.at).ok_or("block ends inside a column")?;
            self.at += 1;
            v |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("block holds a number too long".into())
    }

    fn signed(&mut self) -> Result<i64, String> {
        let z = u64::try_from(self.unsigned()?).map_err(|_| "block holds a number too long")?;
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    fn deltas(&mut self, n: usize) -> Result<Vec<i64>, String> {
        let mut out = Vec::with_capacity(n);
        let mut v = 0i64;
        for _ in 0..n {
            v = v.wrapping_add(self.signed()?);
            out.push(v);
        }
        Ok(out)
    }

    fn runs(&mut self, n: usize) -> Result<Vec<u128>, String> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let len = self.unsigned()?;
            let value = self.unsigned()?;
            if len == 0 || len > (n - out.len()) as u128 {
                return Err("block has a run longer than its points".into());
            }
            out.extend(std::iter::repeat_n(value, len as usize));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::PositionSource;

    use super::*;

    fn point() -> impl Strategy<Value = Position> {
        (
            (
                any::<u64>(),
                0i64..FIXED_RANGE,
                -5_000i64..600_000,
                any::<i32>(),
                any::<i32>(),
            ),
            (
                any::<i32>(),
                any::<u16>(),
                any::<u16>(),
                any::<u32>(),
                any::<u32>(),
            ),
            (
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u16>()),
                proptest::option::of(any::<u8>()),
                proptest::option::of(any::<u8>()),
                0i16..3,
            ),
        )
            .prop_map(
                |((phone, fix, recv, lat, lon), (alt, speed, course, alarm, status), (m, f, s, r, src))| {
                    Position {
                        vehicle: VehicleId(9),
                        phone: Phone(u128::from(phone) * 1_000),
                        fix_time: Timestamp(fix),
                        recv_time: Timestamp(fix + recv),
                        lat_e6: lat,
                        lon_e6: lon,
                        altitude_m: alt,
                        speed_dkmh: speed,
                        course_deg: course,
                        alarm: AlarmFlags(alarm),
                        status: StatusFlags(status),
                        mileage_dkm: m,
                        fuel_dl: f,
                        satellites: s,
                        rssi: r,
                        source: record::source_from_i16(src),
                    }
                },
            )
    }

    /// The fix times a store accepts.
    const FIXED_RANGE: i64 = crate::record::FIX_TIME_RANGE_MS.end;

    /// A plausible drive: a point every 30 s, small moves, a few alarms.
    fn drive(n: usize) -> Vec<Position> {
        let start = china_day_start(20_400).0;
        (0..n)
            .map(|i| Position {
                vehicle: VehicleId(9),
                phone: Phone(13_800_138_000),
                fix_time: Timestamp(start + i as i64 * 30_000),
                recv_time: Timestamp(start + i as i64 * 30_000 + 900 + (i as i64 % 7) * 50),
                lat_e6: 30_200_000 + (i as i32) * 37,
                lon_e6: 115_040_000 - (i as i32) * 21,
                altitude_m: 40 + (i as i32 % 5),
                speed_dkmh: 400 + (i as u16 % 30),
                course_deg: 90,
                alarm: AlarmFlags(if i % 500 < 3 { 2 } else { 0 }),
                status: StatusFlags(3),
                mileage_dkm: Some(1_000_000 + i as u32 * 3),
                fuel_dl: None,
                satellites: Some(12),
                rssi: Some(28),
                source: PositionSource::Live,
            })
            .collect()
    }

    fn ordered(points: &[Position]) -> Vec<Position> {
        let mut v = points.to_vec();
        v.sort_by_key(track_key);
        v.dedup_by_key(|p| track_key(p));
        v
    }

    proptest! {
        #[test]
        fn any_track_comes_back_whole(points in proptest::collection::vec(point(), 0..200)) {
            let block = encode_block(&points);
            prop_assert_eq!(block_len(&block).unwrap() as usize, ordered(&points).len());
            prop_assert_eq!(decode_block(VehicleId(9), &block).unwrap(), ordered(&points));
        }

        #[test]
        fn a_damaged_block_is_an_error_not_a_panic(
            flip in 0usize..4096, bit in 0u8..8, cut in 0usize..4096,
        ) {
            let block = encode_block(&drive(300));
            let mut bad = block.clone();
            let at = flip % bad.len();
            bad[at] ^= 1 << bit;
            prop_assert!(decode_block(VehicleId(9), &bad).is_err(), "bit {bit} of byte {at}");
            let short = &block[..cut % block.len()];
            prop_assert!(decode_block(VehicleId(9), short).is_err());
        }
    }

    proptest! {
        #[test]
        fn track_order_is_the_order_of_track_keys(
            mut a in point(), mut b in point(), ta in 0i64..3, tb in 0i64..3, same in any::<bool>(),
        ) {
            // Fix times of a few values, so that ties (where the hash decides) are common.
            (a.fix_time, b.fix_time) = (Timestamp(ta), Timestamp(tb));
            if same {
                b = a;
            }
            prop_assert_eq!(track_order(&a, &b), track_key(&a).cmp(&track_key(&b)));
        }
    }

    #[test]
    fn points_of_one_instant_come_back_in_hash_order() {
        let mut points = drive(20);
        let t = points[0].fix_time;
        points.iter_mut().for_each(|p| p.fix_time = t);
        let back = decode_block(VehicleId(9), &encode_block(&points)).unwrap();
        assert_eq!(back, ordered(&points));
        assert!(
            back.windows(2).any(|w| w[0].lon_e6 < w[1].lon_e6)
                && back.windows(2).any(|w| w[0].lon_e6 > w[1].lon_e6),
            "not the input order"
        );
    }

    #[test]
    fn repeats_are_kept_once_and_order_is_the_tracks() {
        let mut points = drive(10);
        points.reverse();
        points.push(points[3]);
        let back = decode_block(VehicleId(9), &encode_block(&points)).unwrap();
        assert_eq!(back, drive(10));
    }

    #[test]
    fn a_day_of_driving_is_small() {
        let block = encode_block(&drive(2_880));
        assert!(block.len() < 2_880 * 8, "{} bytes", block.len());
    }

    #[test]
    fn china_days_start_at_midnight_in_china() {
        let day = china_day(Timestamp::from_secs(1_793_491_200));
        assert_eq!(china_day(china_day_start(day)), day);
        assert_eq!(china_day(Timestamp(china_day_start(day).0 - 1)), day - 1);
        // 1970-01-01 08:00 in China is the start of China day 0.
        assert_eq!(china_day_start(0), Timestamp(-8 * 3_600_000));
        let now = china_day_start(day + 1).add_millis(5);
        assert_eq!(last_blocked_day(now, 1), day);
        assert_eq!(last_blocked_day(now, 0), day, "at least today stays in rows");
        assert!(may_be_blocked(Timestamp(china_day_start(day + 1).0 - 1), now));
        assert!(!may_be_blocked(china_day_start(day + 1), now));
        // The ends of open ranges neither wrap nor panic.
        assert!(china_day(Timestamp(i64::MAX)) > day && china_day(Timestamp(i64::MIN)) < 0);
        assert!(china_day_start(i64::MAX).0 > 0);
    }
}

//! BCD numbers, phone numbers and times.
//!
//! Times on the wire are `YYMMDDhhmmss` in GMT+8 (0x8004 alone is UTC). They leave the codec as UTC
//! [`Timestamp`]s, computed with plain civil-calendar arithmetic so that the hot path needs no time
//! library and no allocation. A nibble above 9 is an error, never a guess.

use tianshu_model::{CHINA_OFFSET_SECS, Phone, Timestamp};

use crate::Error;

/// Decodes one BCD byte (two decimal digits); `offset` is only for the error.
#[inline]
pub fn bcd_byte(b: u8, offset: usize) -> Result<u8, Error> {
    let (hi, lo) = (b >> 4, b & 0x0f);
    if hi > 9 || lo > 9 {
        return Err(Error::InvalidBcd { offset, byte: b });
    }
    Ok(hi * 10 + lo)
}

/// Encodes a value 0-99 as one BCD byte.
#[inline]
pub const fn to_bcd_byte(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

/// Reads a BCD field as a number; `Err(offset of the bad byte)` when a nibble is above 9.
#[inline]
pub fn bcd_value(bytes: &[u8]) -> Result<u128, usize> {
    // Up to 8 bytes (16 digits) at once in a u64, which is much cheaper than a u128.
    if bytes.len() <= 8 {
        return bcd_u64(bytes, 0).map(u128::from);
    }
    let (high, low) = bytes.split_at(bytes.len() - 8);
    let h = bcd_value(high)?;
    let l = bcd_u64(low, high.len())?;
    Ok(h * 10_000_000_000_000_000 + u128::from(l))
}

/// BCD to binary for up to 8 bytes, eight digits pairs at a time (SWAR): validate every nibble, then
/// merge byte lanes into 2-, 4- and 8-digit lanes.
#[inline]
fn bcd_u64(bytes: &[u8], base: usize) -> Result<u64, usize> {
    const NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    if bytes.len() > 8 {
        return bcd_u64_slow(bytes, base);
    }
    let mut w = [0u8; 8];
    w[8 - bytes.len()..].copy_from_slice(bytes);
    let x = u64::from_be_bytes(w);
    let lo = x & NIBBLES;
    let hi = (x >> 4) & NIBBLES;
    // A nibble above 9 carries into bit 4 of its byte when 6 is added.
    let bad = ((lo + 0x0606_0606_0606_0606) | (hi + 0x0606_0606_0606_0606)) & 0x1010_1010_1010_1010;
    if bad != 0 {
        let lane_from_top = (bad.leading_zeros() / 8) as usize;
        return Err(base + lane_from_top - (8 - bytes.len()));
    }
    let t = hi * 10 + lo;
    let t = ((t >> 8) & 0x00ff_00ff_00ff_00ff) * 100 + (t & 0x00ff_00ff_00ff_00ff);
    let t = ((t >> 16) & 0x0000_ffff_0000_ffff) * 10_000 + (t & 0x0000_ffff_0000_ffff);
    Ok((t >> 32) * 100_000_000 + (t & 0xffff_ffff))
}

fn bcd_u64_slow(bytes: &[u8], base: usize) -> Result<u64, usize> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        let (hi, lo) = (b >> 4, b & 0x0f);
        if hi > 9 || lo > 9 {
            return Err(base + i);
        }
        v = v * 100 + u64::from(hi * 10 + lo);
    }
    Ok(v)
}

/// Writes `value` as `out.len()` BCD bytes, left-padded with zeros.
pub fn write_bcd(mut value: u128, out: &mut [u8]) -> Result<(), Error> {
    let digits = out.len() * 2;
    for b in out.iter_mut().rev() {
        let lo = (value % 10) as u8;
        value /= 10;
        let hi = (value % 10) as u8;
        value /= 10;
        *b = (hi << 4) | lo;
    }
    if value != 0 {
        return Err(Error::PhoneTooLong { phone: value, digits });
    }
    Ok(())
}

/// Decodes a phone field. A field that is not BCD is taken as the binary IMEI some devices send
/// (48 bits) with its Luhn check digit appended, as Traccar does; the `bool` says that happened.
pub fn decode_phone(bytes: &[u8]) -> (Phone, bool) {
    match bcd_value(bytes) {
        Ok(v) => (Phone(v), false),
        Err(_) => {
            let mut v: u128 = 0;
            for &b in bytes {
                v = (v << 8) | u128::from(b);
            }
            (Phone(v * 10 + u128::from(luhn_digit(v))), true)
        }
    }
}

/// The Luhn check digit of `v` (the IMEI's 15th digit).
fn luhn_digit(mut v: u128) -> u8 {
    let mut sum = 0u32;
    let mut double = true;
    while v > 0 {
        let mut d = (v % 10) as u32;
        v /= 10;
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    ((10 - sum % 10) % 10) as u8
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
#[inline]
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u64;
    let mp = (m + 9) % 12;
    let doy = (153 * mp as u64 + 2) / 5 + d as u64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i64 - 719_468
}

/// The date of a day count since 1970-01-01: (year, month, day).
#[inline]
pub const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Decodes a `YYMMDDhhmmss` BCD time in the zone `offset_secs` east of UTC; `offset` locates errors.
#[inline]
pub fn decode_time(bcd: &[u8; 6], offset_secs: i32, offset: usize) -> Result<Timestamp, Error> {
    let mut f = [0u8; 6];
    for i in 0..6 {
        f[i] = bcd_byte(bcd[i], offset + i)?;
    }
    let [yy, mo, d, h, mi, s] = f;
    let year = 2000 + i64::from(yy);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(year, mo) || h > 23 || mi > 59 || s > 59 {
        return Err(Error::InvalidTime {
            year: yy,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
        });
    }
    let days = days_from_civil(year, u32::from(mo), u32::from(d));
    let secs =
        days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s) - i64::from(offset_secs);
    Ok(Timestamp::from_secs(secs))
}

/// Decodes a GMT+8 BCD time, the zone of every JT/T 808 time but 0x8004's.
#[inline]
pub fn decode_china_time(bcd: &[u8; 6], offset: usize) -> Result<Timestamp, Error> {
    decode_time(bcd, CHINA_OFFSET_SECS, offset)
}

/// Encodes an instant as `YYMMDDhhmmss` BCD in the zone `offset_secs` east of UTC (years 2000-2099).
pub fn encode_time(t: Timestamp, offset_secs: i32) -> [u8; 6] {
    let secs = t.secs() + i64::from(offset_secs);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    [
        to_bcd_byte(y.rem_euclid(100) as u8),
        to_bcd_byte(m as u8),
        to_bcd_byte(d as u8),
        to_bcd_byte((sod / 3600) as u8),
        to_bcd_byte((sod / 60 % 60) as u8),
        to_bcd_byte((sod % 60) as u8),
    ]
}

/// Encodes an instant as GMT+8 BCD.
pub fn encode_china_time(t: Timestamp) -> [u8; 6] {
    encode_time(t, CHINA_OFFSET_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_time_to_utc() {
        let t = decode_china_time(&[0x18, 0x07, 0x15, 0x10, 0x10, 0x10], 0).unwrap();
        assert_eq!(t, Timestamp::parse_rfc3339("2018-07-15T02:10:10Z").unwrap());
        assert_eq!(encode_china_time(t), [0x18, 0x07, 0x15, 0x10, 0x10, 0x10]);
        assert!(matches!(
            decode_china_time(&[0x18, 0x06, 0x1b, 0x0f, 0x36, 0x2e], 22),
            Err(Error::InvalidBcd {
                offset: 24,
                byte: 0x1b
            })
        ));
        assert!(matches!(
            decode_china_time(&[0x23, 0x02, 0x29, 0, 0, 0], 0),
            Err(Error::InvalidTime { .. })
        ));
        assert!(decode_china_time(&[0x24, 0x02, 0x29, 0, 0, 0], 0).is_ok());
    }

    #[test]
    fn civil_round_trip() {
        for z in [-1_000_000i64, -1, 0, 1, 10_957, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn phone_bcd_and_binary_imei() {
        let twenty = [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x20, 0x19];
        assert_eq!(decode_phone(&twenty), (Phone(12_345_678_901_234_562_019), false));
        assert_eq!(bcd_value(&[0x99; 10]), Ok(Phone::MAX));
        assert_eq!(bcd_value(&[0x12, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0]), Err(1));
        assert_eq!(bcd_value(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b]), Err(9));
        assert_eq!(bcd_value(&[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Err(0));
        assert_eq!(bcd_value(&[0x01, 0x23, 0x45, 0x67, 0x89, 0x0f]), Err(5));
        assert_eq!(bcd_value(&[0x99; 6]), Ok(999_999_999_999));
        assert_eq!(bcd_value(&[]), Ok(0));
        for n in [0u128, 7, 10, 99, 100, 123_456_789_012, 99_999_999_999_999_999_999] {
            let mut b = [0u8; 10];
            write_bcd(n, &mut b).unwrap();
            assert_eq!(bcd_value(&b), Ok(n));
        }
        assert_eq!(
            decode_phone(&[0x01, 0x23, 0x45, 0x67, 0x89, 0x00]),
            (Phone(12_345_678_900), false)
        );
        let mut out = [0u8; 6];
        write_bcd(12_345_678_900, &mut out).unwrap();
        assert_eq!(out, [0x01, 0x23, 0x45, 0x67, 0x89, 0x00]);
        assert!(write_bcd(1_234_567_890_123, &mut out).is_err());
        // 0x0357A4C1D2E3 is not BCD: binary IMEI prefix 3,677,..., plus its Luhn digit.
        let (p, binary) = decode_phone(&[0x03, 0x57, 0xA4, 0xC1, 0xD2, 0xE3]);
        assert!(binary);
        assert_eq!(p.0 / 10, 0x0357_A4C1_D2E3);
        assert_eq!(luhn_digit(7_992_739_871), 3); // the textbook Luhn example
    }
}

//! Numbers and times as text, written straight into a `String` without a formatter.
//!
//! A month of 10-second points is a quarter of a million fixes, each with a time, two coordinates and a
//! speed; the exports and the wire position write them here. Coordinates are written from the stored
//! micro-degrees as exact decimals (no float round trip); times exactly as [`Timestamp::to_rfc3339`]
//! writes them (a test holds the two together).

use tianshu_model::Timestamp;

/// Escapes text for XML content and attributes (the GPX and KML exports).
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// Quotes a CSV field when it needs it (a comma, a quote or a line break in it).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Appends the decimal digits of `v`.
pub fn push_u64(out: &mut String, v: u64) {
    let digits = v.checked_ilog10().map_or(1, |d| d as usize + 1);
    push_padded(out, v, digits);
}

/// Appends `v` with its sign.
pub fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends `v` as exactly `width` digits (zero-padded; at most 20, all a `u64` has).
fn push_padded(out: &mut String, v: impl Into<u64>, width: usize) {
    let mut buf = [b'0'; 20];
    let width = width.min(buf.len());
    let mut v = v.into();
    for i in (0..width).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &b in &buf[..width] {
        out.push(char::from(b));
    }
}

/// Micro-degrees as an exact decimal (`115.040000`, `-0.000001`).
pub fn write_e6(out: &mut String, v: i32) {
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    push_u64(out, u64::from(a / 1_000_000));
    out.push('.');
    push_padded(out, a % 1_000_000, 6);
}

/// Tenths (0.1 km/h, 0.1 km) as a decimal.
pub fn write_tenths(out: &mut String, v: u32) {
    push_u64(out, u64::from(v / 10));
    out.push('.');
    push_u64(out, u64::from(v % 10));
}

/// RFC 3339 in UTC, as [`Timestamp::to_rfc3339`] writes it.
pub fn write_time(out: &mut String, t: Timestamp) {
    let ms = t.millis();
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        out.push_str(&t.to_rfc3339());
        return;
    }
    push_padded(out, year as u32, 4);
    out.push('-');
    push_padded(out, month as u32, 2);
    out.push('-');
    push_padded(out, day as u32, 2);
    out.push('T');
    push_padded(out, (sod / 3600) as u32, 2);
    out.push(':');
    push_padded(out, (sod / 60 % 60) as u32, 2);
    out.push(':');
    push_padded(out, (sod % 60) as u32, 2);
    let frac = ms.rem_euclid(1000);
    if frac != 0 {
        out.push('.');
        push_padded(out, frac as u32, 3);
    }
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(xml_escape("鄂B<1>&\"'"), "鄂B&lt;1&gt;&amp;&quot;&apos;");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("鄂B12345"), "鄂B12345");
    }

    #[test]
    fn decimals_are_exact() {
        let mut s = String::new();
        write_e6(&mut s, -1);
        s.push(' ');
        write_e6(&mut s, 115_040_001);
        s.push(' ');
        write_tenths(&mut s, 456);
        s.push(' ');
        push_i64(&mut s, -12);
        assert_eq!(s, "-0.000001 115.040001 45.6 -12");
    }

    #[test]
    fn fast_times_match_the_model() {
        for ms in [
            0,
            1_800_000_000_000,
            1_800_000_000_005,
            951_782_400_000,
            4_102_444_799_999,
            1_582_934_400_000,
        ] {
            let mut s = String::new();
            write_time(&mut s, Timestamp(ms));
            assert_eq!(s, Timestamp(ms).to_rfc3339(), "{ms}");
        }
    }
}

//! Escaping and the XOR checksum.
//!
//! On the wire `0x7e` delimits frames, so inside a frame `0x7e` travels as `7d 02` and `0x7d` as
//! `7d 01`: header, body and checksum alike. Receiving is unescape, verify, parse; sending is build,
//! checksum, escape. Unescaping only ever shrinks, so it can run in place on a receive buffer.

/// The frame delimiter.
pub const FLAG: u8 = 0x7e;
/// The escape byte.
pub const ESCAPE: u8 = 0x7d;

/// What unescaping met besides the two standard escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnescapeReport {
    /// A `7d` followed by something other than `01`/`02` (or by nothing) was kept as a literal byte.
    /// go-jt808 keeps it, Traccar drops it; keeping it lets the checksum decide.
    pub lone_escape: bool,
}

const LANES_LO: u64 = 0x0101_0101_0101_0101;
const LANES_HI: u64 = 0x8080_8080_8080_8080;

/// Eight bytes as a little-endian word.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// A mask with the high bit set in (at least) the lowest byte of `x` equal to `b`; zero when none is.
/// Bytes above the lowest match may be flagged spuriously, so only the lowest flag is used as a position.
#[inline(always)]
const fn byte_mask(x: u64, b: u8) -> u64 {
    let y = x ^ (LANES_LO * b as u64);
    y.wrapping_sub(LANES_LO) & !y & LANES_HI
}

/// Position of the first `needle` in `haystack`, eight bytes at a time.
#[inline]
pub fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= haystack.len() {
        let m = byte_mask(word(&haystack[i..]), needle);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    haystack[i..].iter().position(|&c| c == needle).map(|p| p + i)
}

/// Folds the eight XOR lanes of [`scan_to_flag`] into the check byte.
#[inline(always)]
pub(crate) const fn fold_lanes(acc: u64) -> u8 {
    let x = acc ^ (acc >> 32);
    let x = x ^ (x >> 16);
    let x = x ^ (x >> 8);
    x as u8
}

/// XOR of every byte and whether any byte is the escape `0x7d`, in one pass: the fast path of a frame
/// that needs no unescaping.
#[inline]
pub fn xor_and_find_escape(bytes: &[u8]) -> (u8, bool) {
    let mut chunks = bytes.chunks_exact(8);
    let mut acc = 0u64;
    let mut escapes = 0u64;
    for c in &mut chunks {
        let w = word(c);
        acc ^= w;
        escapes |= byte_mask(w, ESCAPE);
    }
    let mut x = fold_lanes(acc);
    let mut escaped = escapes != 0;
    for &b in chunks.remainder() {
        x ^= b;
        escaped |= b == ESCAPE;
    }
    (x, escaped)
}

/// XOR of every byte, the JT/T 808 check code over header and body.
#[inline]
pub fn checksum(bytes: &[u8]) -> u8 {
    // Eight bytes at a time: XOR is associative, so fold the lanes at the end.
    let mut chunks = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(c);
        acc ^= u64::from_ne_bytes(lane);
    }
    let mut x = fold_lanes(acc);
    for b in chunks.remainder() {
        x ^= b;
    }
    x
}

/// Unescapes `buf` in place and returns the unescaped length.
#[inline]
pub fn unescape_in_place(buf: &mut [u8]) -> (usize, UnescapeReport) {
    let mut report = UnescapeReport::default();
    let Some(first) = memchr::memchr(ESCAPE, buf) else {
        return (buf.len(), report);
    };
    let mut w = first;
    let mut r = first;
    while r < buf.len() {
        let b = buf[r];
        if b == ESCAPE {
            match buf.get(r + 1) {
                Some(0x01) => {
                    buf[w] = ESCAPE;
                    r += 2;
                }
                Some(0x02) => {
                    buf[w] = FLAG;
                    r += 2;
                }
                _ => {
                    report.lone_escape = true;
                    buf[w] = ESCAPE;
                    r += 1;
                }
            }
        } else {
            buf[w] = b;
            r += 1;
        }
        w += 1;
    }
    (w, report)
}

/// Unescapes `src` into `dst`, which must be at least `src.len()` long; returns the length written.
pub fn unescape_into(src: &[u8], dst: &mut [u8]) -> (usize, UnescapeReport) {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
    unescape_in_place(&mut dst[..n])
}

/// Unescapes into a new vector (convenience for tools and tests; the hot path uses the in-place form).
pub fn unescape(src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    let (n, _) = unescape_in_place(&mut v);
    v.truncate(n);
    v
}

/// How many bytes `src` takes once escaped.
#[inline]
pub fn escaped_len(src: &[u8]) -> usize {
    src.len() + src.iter().filter(|&&b| b == FLAG || b == ESCAPE).count()
}

/// Appends `src`, escaped, to `out`.
pub fn escape_into(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(escaped_len(src));
    for &b in src {
        match b {
            FLAG => out.extend_from_slice(&[ESCAPE, 0x02]),
            ESCAPE => out.extend_from_slice(&[ESCAPE, 0x01]),
            _ => out.push(b),
        }
    }
}

/// Escapes into a new vector.
pub fn escape(src: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(escaped_len(src));
    escape_into(src, &mut v);
    v
}

/// Escapes the tail `buf[start..]` in place, growing `buf` as needed (no temporary buffer).
pub(crate) fn escape_tail_in_place(buf: &mut bytes::BytesMut, start: usize) {
    let extra = buf[start..].iter().filter(|&&b| b == FLAG || b == ESCAPE).count();
    if extra == 0 {
        return;
    }
    let old_len = buf.len();
    buf.resize(old_len + extra, 0);
    // Walk backwards so nothing is overwritten before it is read.
    let mut w = old_len + extra;
    let mut r = old_len;
    while r > start {
        r -= 1;
        let b = buf[r];
        match b {
            FLAG | ESCAPE => {
                w -= 2;
                buf[w] = ESCAPE;
                buf[w + 1] = if b == FLAG { 0x02 } else { 0x01 };
            }
            _ => {
                w -= 1;
                buf[w] = b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lone_escape() {
        let raw = [0x30, 0x7e, 0x08, 0x7d, 0x55];
        let e = escape(&raw);
        assert_eq!(e, [0x30, 0x7d, 0x02, 0x08, 0x7d, 0x01, 0x55]);
        assert_eq!(unescape(&e), raw);
        let mut lone = [0x01, 0x7d];
        let (n, rep) = unescape_in_place(&mut lone);
        assert_eq!((n, rep.lone_escape), (2, true));
        let mut b = bytes::BytesMut::from(&[0xAAu8, 0x7e, 0x01, 0x7d][..]);
        escape_tail_in_place(&mut b, 1);
        assert_eq!(&b[..], &[0xAA, 0x7d, 0x02, 0x01, 0x7d, 0x01]);
    }

    #[test]
    fn word_at_a_time_search_matches_bytewise() {
        let mut data: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37) | 1).collect();
        data.retain(|&b| b != 0x7e && b != 0x7d);
        for at in [0, 1, 7, 8, 9, 15, 16, 100, data.len() - 1] {
            let mut d = data.clone();
            d[at] = 0x7e;
            assert_eq!(find_byte(&d, 0x7e), Some(at));
            // A second match above the first never changes the answer.
            if at + 1 < d.len() {
                d[at + 1] = 0x7e;
                assert_eq!(find_byte(&d, 0x7e), Some(at));
            }
            assert!(!xor_and_find_escape(&d).1);
            d[at] = 0x7d;
            assert!(xor_and_find_escape(&d).1);
        }
        assert_eq!(find_byte(&data, 0x7e), None);
        // The borrow trick's edge: 0x7f next to a match.
        assert_eq!(find_byte(&[0x7f, 0x7e, 0, 0, 0, 0, 0, 0, 0], 0x7e), Some(1));
        assert_eq!(find_byte(&[0x7e, 0x7f, 0, 0, 0, 0, 0, 0], 0x7f), Some(1));
    }

    #[test]
    fn checksum_matches_bytewise_xor() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in [0, 1, 7, 8, 9, 63, 107, 1000] {
            let slow = data[..len].iter().fold(0, |a, b| a ^ b);
            assert_eq!(checksum(&data[..len]), slow);
        }
    }
}

//! Escaping, the CRC and the body cipher.
//!
//! On the wire 0x5b opens a frame and 0x5d closes it, so inside a frame `5b` travels as `5a 01`, `5a`
//! as `5a 02`, `5d` as `5e 01` and `5e` as `5e 02`. Sending is build, encrypt the body, CRC, escape;
//! receiving is unescape, check length and CRC, decrypt the body, parse.

use crate::Error;

/// Opens a frame.
pub const BEGIN: u8 = 0x5b;
/// Closes a frame.
pub const END: u8 = 0x5d;
/// Escapes 0x5b and itself.
pub const ESC_BEGIN: u8 = 0x5a;
/// Escapes 0x5d and itself.
pub const ESC_END: u8 = 0x5e;

#[inline]
fn needs_escape(b: u8) -> bool {
    matches!(b, BEGIN | ESC_BEGIN | END | ESC_END)
}

/// Where the next byte that must be escaped is: two vectorized scans (`memchr2`), the second only up
/// to the first's hit, so a frame is read about once however many escapes it holds.
#[inline]
fn next_special(bytes: &[u8]) -> Option<usize> {
    let begin = memchr::memchr2(BEGIN, ESC_BEGIN, bytes);
    let limit = begin.unwrap_or(bytes.len());
    memchr::memchr2(END, ESC_END, &bytes[..limit]).or(begin)
}

/// Appends `content` to `out` escaped (without delimiters).
#[inline]
pub fn escape_into(content: &[u8], out: &mut Vec<u8>) {
    out.reserve(content.len() + 4);
    let mut rest = content;
    while let Some(i) = next_special(rest) {
        out.extend_from_slice(&rest[..i]);
        let (esc, code) = match rest[i] {
            BEGIN => (ESC_BEGIN, 0x01),
            ESC_BEGIN => (ESC_BEGIN, 0x02),
            END => (ESC_END, 0x01),
            _ => (ESC_END, 0x02),
        };
        out.extend_from_slice(&[esc, code]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// Unescapes the bytes between the delimiters into `out` (cleared first). `base` is added to error
/// offsets (1 when `escaped` starts right after the opening 0x5b).
#[inline]
pub fn unescape_into(escaped: &[u8], base: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    out.clear();
    out.reserve(escaped.len());
    // Without a bare delimiter the only special bytes are the escape bytes, found by one vectorized scan
    // each; a bare 0x5b or 0x5d (an error) takes the byte-by-byte path, which names the first fault.
    let bare = memchr::memchr2(BEGIN, END, escaped).is_some();
    let mut i = 0;
    while i < escaped.len() {
        let rest = &escaped[i..];
        let found = if bare {
            rest.iter().position(|&b| needs_escape(b))
        } else {
            memchr::memchr2(ESC_BEGIN, ESC_END, rest)
        };
        let Some(j) = found else {
            out.extend_from_slice(rest);
            break;
        };
        out.extend_from_slice(&rest[..j]);
        let at = i + j;
        let b = escaped[at];
        let next = escaped.get(at + 1).copied();
        let decoded = match (b, next) {
            (ESC_BEGIN, Some(0x01)) => BEGIN,
            (ESC_BEGIN, Some(0x02)) => ESC_BEGIN,
            (ESC_END, Some(0x01)) => END,
            (ESC_END, Some(0x02)) => ESC_END,
            _ => {
                return Err(Error::BadEscape {
                    offset: base + at,
                    byte: b,
                    next: match next {
                        Some(n) if b == BEGIN || b == END => format!("a bare {b:#04x} then {n:#04x}"),
                        Some(n) => format!("{n:#04x}"),
                        None => "the end of the frame".into(),
                    },
                });
            }
        };
        out.push(decoded);
        i = at + 2;
    }
    Ok(())
}

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// `TABLES[k][x]`: the CRC register after byte `x` followed by `k` zero bytes, from a zero register;
/// sixteen bytes are then folded per step ("slicing by 16", 8 KiB of tables).
const fn crc_tables() -> [[u16; 256]; 16] {
    let mut t = [[0u16; 256]; 16];
    t[0] = crc_table();
    let mut k = 1;
    while k < 16 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static CRC_TABLES: [[u16; 256]; 16] = crc_tables();

/// CRC-16/CCITT as JT/T 809 uses it (polynomial 0x1021, initial value 0xffff, not reflected, no final
/// XOR; "CRC-16/CCITT-FALSE"), over header and body as sent (after encryption, before escaping).
#[inline]
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    let (chunks, mut rest) = bytes.as_chunks::<16>();
    for c in chunks {
        crc = fold(crc, c);
    }
    if let Some((c, tail)) = rest.split_first_chunk::<8>() {
        crc = fold(crc, c);
        rest = tail;
    }
    for &b in rest {
        crc = (crc << 8) ^ CRC_TABLES[0][usize::from((crc >> 8) as u8 ^ b)];
    }
    crc
}

/// The register after `chunk` (2 to 16 bytes, a length known when compiled, so no lookup is bounds
/// checked): every byte looked up at once in the table of its distance from the end, the register
/// folded into the first two.
#[inline(always)]
fn fold<const N: usize>(crc: u16, chunk: &[u8; N]) -> u16 {
    let t = &CRC_TABLES;
    // The bytes past the first two do not depend on the register: their lookups are folded first, so
    // the chain from one chunk's register to the next is two lookups and two XORs, not sixteen.
    let mut x = 0;
    for k in 2..N {
        x ^= t[N - 1 - k][usize::from(chunk[k])];
    }
    let [hi, lo] = crc.to_be_bytes();
    x ^ t[N - 1][usize::from(chunk[0] ^ hi)] ^ t[N - 2][usize::from(chunk[1] ^ lo)]
}

/// The parameters of the standard's body cipher, agreed between two platforms: `M1`, `IA1`, `IC1`.
/// The per-message seed is the header's ENCRYPT_KEY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cipher {
    /// Modulus M1 (0 is taken as 1, as the standard's reference does).
    pub m1: u32,
    /// Multiplier IA1.
    pub ia1: u32,
    /// Increment IC1.
    pub ic1: u32,
}

impl Cipher {
    /// Encrypts or decrypts `data` in place (the cipher is its own inverse) with the message's seed:
    /// each byte is XORed with bits 20..28 of `key = IA1 * (key mod M1) + IC1` (32-bit arithmetic),
    /// the key stepped before every byte; a seed of 0 is taken as 1.
    #[inline]
    pub fn apply(&self, seed: u32, data: &mut [u8]) {
        let mut key = if seed == 0 { 1 } else { seed };
        if self.m1 <= 1 {
            // Every key mod 1 is 0: each step's key is IC1.
            let k = (self.ic1 >> 20) as u8;
            data.iter_mut().for_each(|b| *b ^= k);
            return;
        }
        // IA1 * (key mod M1) = IA1 * key - (IA1 * M1) * (key / M1), and the quotient comes from one wide
        // multiply (Lemire's exact 32-bit division, for M1 of 2 and up). IA1 * key does not wait for it,
        // so the chain from one key to the next is a wide multiply, a narrow one and a subtraction:
        // the cipher is a serial chain, and this is its length per byte.
        let magic = u64::MAX / u64::from(self.m1) + 1;
        // Opaque to the optimiser, which would otherwise factor IA1 back out and lengthen the chain.
        let per_quotient = std::hint::black_box(self.ia1.wrapping_mul(self.m1));
        for b in data {
            let quotient = ((u128::from(magic) * u128::from(key)) >> 64) as u32;
            key = self
                .ia1
                .wrapping_mul(key)
                .wrapping_add(self.ic1)
                .wrapping_sub(per_quotient.wrapping_mul(quotient));
            *b ^= (key >> 20) as u8;
        }
    }

    /// Parses `M1,IA1,IC1` (decimal, or hex with `0x`).
    pub fn parse(text: &str) -> Result<Cipher, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [m1, ia1, ic1] = parts[..] else {
            return Err(format!("key `{text}` is not M1,IA1,IC1"));
        };
        let num = |s: &str| {
            let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => u32::from_str_radix(h, 16),
                None => s.parse(),
            };
            parsed.map_err(|e| format!("key part `{s}`: {e}"))
        };
        Ok(Cipher {
            m1: num(m1)?,
            ia1: num(ia1)?,
            ic1: num(ic1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        // The catalogue check value of CRC-16/CCITT-FALSE.
        assert_eq!(crc16(b"123456789"), 0x29b1);
    }

    #[test]
    fn sliced_crc_agrees_with_bytewise_at_every_length() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            let mut crc: u16 = 0xffff;
            for &b in &data[..n] {
                crc = (crc << 8) ^ CRC_TABLES[0][usize::from((crc >> 8) as u8 ^ b)];
            }
            assert_eq!(crc16(&data[..n]), crc, "length {n}");
        }
    }

    #[test]
    fn fast_modulo_agrees_with_division() {
        let mut moduli = vec![0u32, 1, 2, 3, 7, 30_000_000, 0x8000_0001, u32::MAX - 1, u32::MAX];
        moduli.extend((1..32).map(|s| 1u32 << s));
        moduli.extend((0..200u32).map(|i| i.wrapping_mul(0x9e37_79b9) | 2));
        for m1 in moduli {
            for (seed, ia1, ic1) in [
                (256_178u32, 20_000_000u32, 20_000_000u32),
                (0, 1, 0),
                (u32::MAX, u32::MAX, u32::MAX),
                (0x1234_5678, 0x8765_4321, 0x0bad_f00d),
            ] {
                let c = Cipher { m1, ia1, ic1 };
                let mut slow = [0u8; 256];
                let mut key = seed.max(1);
                let m = m1.max(1);
                for b in &mut slow {
                    key = c.ia1.wrapping_mul(key % m).wrapping_add(c.ic1);
                    *b ^= (key >> 20) as u8;
                }
                let mut fast = [0u8; 256];
                c.apply(seed, &mut fast);
                assert_eq!(fast, slow, "m1 {m1} seed {seed} ia1 {ia1} ic1 {ic1}");
            }
        }
    }

    #[test]
    fn escape_round_trip_and_refusals() {
        let content = [0x01, 0x5b, 0x5a, 0x5d, 0x5e, 0x02];
        let mut escaped = Vec::new();
        escape_into(&content, &mut escaped);
        assert_eq!(
            escaped,
            [0x01, 0x5a, 0x01, 0x5a, 0x02, 0x5e, 0x01, 0x5e, 0x02, 0x02]
        );
        let mut back = Vec::new();
        unescape_into(&escaped, 1, &mut back).unwrap();
        assert_eq!(back, content);
        let err = unescape_into(&[0x00, 0x5a, 0x03], 1, &mut back).unwrap_err();
        assert_eq!(err.kind(), "bad_escape");
        assert_eq!(err.offset(), Some(2));
        assert!(unescape_into(&[0x5e], 1, &mut back).is_err());
        assert!(unescape_into(&[0x00, 0x5b, 0x00], 1, &mut back).is_err());
    }

    #[test]
    fn escape_agrees_with_the_bytewise_rule_on_every_mix() {
        // Every arrangement of special and plain bytes up to length 6, and long runs with specials at
        // every offset: the vectorized scans must find exactly what the byte-by-byte rule finds.
        let alphabet = [0x00, BEGIN, ESC_BEGIN, 0x5c, END, ESC_END];
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=6u32 {
            for n in 0..alphabet.len().pow(len) {
                let mut v = Vec::new();
                let mut k = n;
                for _ in 0..len {
                    v.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                inputs.push(v);
            }
        }
        for at in 0..70 {
            for &b in &alphabet {
                let mut v = vec![0x11u8; 70];
                v[at] = b;
                v[69 - at] = ESC_END;
                inputs.push(v);
            }
        }
        for content in inputs {
            let mut expected = Vec::new();
            for &b in &content {
                match b {
                    BEGIN => expected.extend_from_slice(&[ESC_BEGIN, 1]),
                    ESC_BEGIN => expected.extend_from_slice(&[ESC_BEGIN, 2]),
                    END => expected.extend_from_slice(&[ESC_END, 1]),
                    ESC_END => expected.extend_from_slice(&[ESC_END, 2]),
                    b => expected.push(b),
                }
            }
            let mut escaped = Vec::new();
            escape_into(&content, &mut escaped);
            assert_eq!(escaped, expected, "{content:02x?}");
            let mut back = Vec::new();
            unescape_into(&escaped, 1, &mut back).unwrap();
            assert_eq!(back, content);
        }
    }

    #[test]
    fn cipher_is_its_own_inverse_and_parses() {
        let c = Cipher::parse("30000000, 20000000, 0x1312D00").unwrap();
        assert_eq!(c.ic1, 20_000_000);
        let mut data = *b"a body to hide";
        c.apply(256_178, &mut data);
        assert_ne!(&data, b"a body to hide");
        c.apply(256_178, &mut data);
        assert_eq!(&data, b"a body to hide");
        assert!(Cipher::parse("1,2").is_err());
    }
}

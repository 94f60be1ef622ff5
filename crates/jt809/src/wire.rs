//! Field readers and writers: big-endian integers, GBK texts of fixed width (NUL-padded) and of
//! declared length.

use std::borrow::Cow;

use crate::Error;

/// Reads fields from a body; every error names the message and the offset of the field.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    id: u16,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], id: u16) -> Self {
        Reader { buf, pos: 0, id }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let rest = self.buf.len() - self.pos;
        if rest < n {
            return Err(Error::Truncated {
                msg_id: self.id,
                offset: self.pos,
                needed: n - rest,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A NUL-padded GBK text of `width` bytes.
    pub(crate) fn fixed(&mut self, width: usize) -> Result<String, Error> {
        Ok(gbk_decode(self.bytes(width)?))
    }

    /// A DWORD length, then that many bytes of GBK text.
    pub(crate) fn var_text(&mut self, field: &'static str) -> Result<String, Error> {
        let declared = self.u32()?;
        let rest = self.buf.len() - self.pos;
        if declared as usize > rest {
            return Err(Error::DataLengthMismatch {
                msg_id: self.id,
                field,
                declared,
                actual: rest,
            });
        }
        Ok(gbk_decode(self.bytes(declared as usize)?))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Refuses bytes after the last field.
    pub(crate) fn end(&self) -> Result<(), Error> {
        if self.pos < self.buf.len() {
            return Err(Error::TrailingBytes {
                msg_id: self.id,
                offset: self.pos,
                extra: self.buf.len() - self.pos,
            });
        }
        Ok(())
    }
}

/// GBK bytes to text, trailing NULs dropped (fixed-width fields are NUL-padded).
pub(crate) fn gbk_decode(bytes: &[u8]) -> String {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |e| e + 1);
    let bytes = &bytes[..end];
    // Codes and platform ids are ASCII, and a plate is a province character then ASCII: both skip the
    // decoder, which costs more than the rest of a position's decoding.
    if let Some(text) = ascii(bytes) {
        return text.to_owned();
    }
    if let [a, b, rest @ ..] = bytes
        && let Some(rest) = ascii(rest)
        && let Some(first) = plate_prefix([*a, *b])
    {
        let mut text = String::with_capacity(first.len_utf8() + rest.len());
        text.push(first);
        text.push_str(rest);
        return text;
    }
    encoding_rs::GBK.decode_without_bom_handling(bytes).0.into_owned()
}

fn ascii(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().filter(|t| t.is_ascii())
}

/// The characters a Chinese plate starts with (the provinces' abbreviations) and ends with (the special
/// plates' suffixes appear here too for plates that are nothing else).
const PLATE_PREFIXES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领警学港澳挂";

/// The plate character `code` (two GBK bytes) stands for, if it is one of [`PLATE_PREFIXES`]. They all
/// lie in GBK's GB 2312 Hanzi rows (lead byte 0xb0 to 0xf7, trail byte 0xa1 to 0xfe), so the table is
/// indexed by row and column. It is made once from encoding_rs's own GBK encoding, so it cannot disagree
/// with the decoder.
fn plate_prefix([lead, trail]: [u8; 2]) -> Option<char> {
    const LEADS: std::ops::RangeInclusive<u8> = 0xb0..=0xf7;
    const TRAILS: std::ops::RangeInclusive<u8> = 0xa1..=0xfe;
    const COLUMNS: usize = 94;
    let cell = |lead: u8, trail: u8| {
        (LEADS.contains(&lead) && TRAILS.contains(&trail))
            .then(|| usize::from(lead - LEADS.start()) * COLUMNS + usize::from(trail - TRAILS.start()))
    };
    static TABLE: std::sync::OnceLock<Box<[Option<char>]>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = vec![None; LEADS.len() * COLUMNS];
        for c in PLATE_PREFIXES.chars() {
            let mut utf8 = [0u8; 4];
            let (gbk, _, bad) = encoding_rs::GBK.encode(c.encode_utf8(&mut utf8));
            if let (false, &[lead, trail]) = (bad, &gbk[..])
                && let Some(i) = cell(lead, trail)
            {
                table[i] = Some(c);
            }
        }
        table.into_boxed_slice()
    });
    table[cell(lead, trail)?]
}

pub(crate) fn gbk_encode<'s>(text: &'s str, field: &'static str) -> Result<Cow<'s, [u8]>, Error> {
    if text.is_ascii() {
        return Ok(Cow::Borrowed(text.as_bytes()));
    }
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(text);
    if had_errors {
        return Err(Error::NotGbk { field });
    }
    Ok(bytes)
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A GBK text NUL-padded to `width`; longer is an error.
pub(crate) fn put_fixed(
    out: &mut Vec<u8>,
    text: &str,
    width: usize,
    field: &'static str,
) -> Result<(), Error> {
    let bytes = gbk_encode(text, field)?;
    if bytes.len() > width {
        return Err(Error::FieldTooLong {
            field,
            len: bytes.len(),
            max: width,
        });
    }
    out.extend_from_slice(&bytes);
    out.resize(out.len() + width - bytes.len(), 0);
    Ok(())
}

/// A DWORD length, then the GBK text.
pub(crate) fn put_var(out: &mut Vec<u8>, text: &str, field: &'static str) -> Result<(), Error> {
    let bytes = gbk_encode(text, field)?;
    let len = u32::try_from(bytes.len()).map_err(|_| Error::FieldTooLong {
        field,
        len: bytes.len(),
        max: u32::MAX as usize,
    })?;
    put_u32(out, len);
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Writes a DWORD placeholder and returns where; [`fill_len`] writes the bytes written since.
pub(crate) fn len_placeholder(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&[0; 4]);
    out.len()
}

pub(crate) fn fill_len(out: &mut [u8], at: usize) -> Result<(), Error> {
    let n = out.len() - at;
    let n32 = u32::try_from(n).map_err(|_| Error::InvalidValue {
        field: "DATA_LENGTH",
        value: n as u64,
    })?;
    out[at - 4..at].copy_from_slice(&n32.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plate_character_takes_the_table() {
        for c in PLATE_PREFIXES.chars() {
            let mut utf8 = [0u8; 4];
            let (gbk, _, bad) = encoding_rs::GBK.encode(c.encode_utf8(&mut utf8));
            assert!(!bad, "{c}");
            let code = <[u8; 2]>::try_from(&gbk[..]).expect("two bytes");
            assert_eq!(plate_prefix(code), Some(c), "{c}");
        }
    }

    #[test]
    fn texts_decode_as_encoding_rs_decodes_them() {
        let reference = |bytes: &[u8]| {
            let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |e| e + 1);
            encoding_rs::GBK
                .decode_without_bom_handling(&bytes[..end])
                .0
                .into_owned()
        };
        // Every two-byte code a plate's first character could be (and the bytes around GB 2312's rows),
        // then ASCII, a NUL padding, another Hanzi, or a byte that is not GBK.
        for lead in 0xa0..=0xf8u8 {
            for trail in 0xa0..=0xffu8 {
                for tail in [&b"A12345"[..], b"A12345\0\0\0", b"", b"A1234\xd1\xa7", b"\xff"] {
                    let mut bytes = vec![lead, trail];
                    bytes.extend_from_slice(tail);
                    assert_eq!(gbk_decode(&bytes), reference(&bytes), "{bytes:02x?}");
                }
            }
        }
        for ascii in [&b"32010000001"[..], b"\0\0\0", b"", b"A\0B\0"] {
            assert_eq!(gbk_decode(ascii), reference(ascii), "{ascii:02x?}");
        }
    }
}

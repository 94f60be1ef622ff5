//! A bounds-checked cursor over a body, big-endian, borrowing everything it returns.

use bytes::{BufMut, BytesMut};

use crate::Error;

/// Reads fields from a body; every error names the message and the offset of the missing field.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    msg_id: u16,
    /// Added to `pos` in errors, for sub-blocks handed out of a larger body.
    base: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8], msg_id: u16) -> Self {
        Reader {
            buf,
            pos: 0,
            msg_id,
            base: 0,
        }
    }

    /// Offset of the cursor in the enclosing body.
    #[inline]
    pub(crate) fn abs_pos(&self) -> usize {
        self.base + self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    fn short(&self, n: usize) -> Error {
        Error::Truncated {
            msg_id: self.msg_id,
            offset: self.base + self.pos,
            needed: n - self.remaining(),
        }
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.remaining() < n {
            return Err(self.short(n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Everything left.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        s
    }

    /// A length-prefixed (BYTE) field.
    #[inline]
    pub(crate) fn u8_prefixed(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }
}

/// Trims the 0x00 padding fixed-width string fields carry on either side (2019 pads in front).
#[inline]
pub(crate) fn trim_nul(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != 0).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != 0).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Writes `s` into a fixed-width field, padding with 0x00 on the right.
pub(crate) fn put_fixed(
    out: &mut BytesMut,
    s: &[u8],
    width: usize,
    field: &'static str,
) -> Result<(), Error> {
    if s.len() > width {
        return Err(Error::FieldTooLong {
            field,
            len: s.len(),
            max: width,
        });
    }
    out.put_slice(s);
    out.put_bytes(0, width - s.len());
    Ok(())
}

/// Writes a BYTE length prefix and the bytes.
pub(crate) fn put_u8_prefixed(out: &mut BytesMut, s: &[u8], field: &'static str) -> Result<(), Error> {
    let n = u8::try_from(s.len()).map_err(|_| Error::FieldTooLong {
        field,
        len: s.len(),
        max: 255,
    })?;
    out.put_u8(n);
    out.put_slice(s);
    Ok(())
}

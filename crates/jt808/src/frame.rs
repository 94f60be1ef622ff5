//! Frames: finding them in a byte stream, unescaping, verifying, and building them.
//!
//! [`FrameDecoder`] is the stream splitter a `tokio_util::codec::Decoder` wraps: it consumes whole
//! frames from a `BytesMut`, remembers how far it has scanned so no byte is looked at twice, and turns
//! an unterminated run longer than the frame cap into an error instead of growing memory.
//! [`decode_frame`] and [`decode_frame_in_place`] are the allocation-free forms for one known frame.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::escape::{ESCAPE, FLAG, checksum, escape_tail_in_place, unescape_in_place, xor_and_find_escape};
use crate::header::{Header, ParsedHeader, parse_header};
use crate::{Error, Message};

/// The default cap on one escaped frame, delimiters included: a 1023-byte body with a subpackaged
/// 2019 header, every byte escaped, fits with room to spare.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 4096;

/// Deviations from the standard a frame or body was decoded despite; each is a bit the server can count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Leniencies(pub u16);

impl Leniencies {
    /// Nothing unusual.
    pub const NONE: Leniencies = Leniencies(0);
    /// The checksum did not match (accepted only with [`DecodeOptions::accept_bad_checksum`]).
    pub const BAD_CHECKSUM: Leniencies = Leniencies(1 << 0);
    /// The body-length field disagreed with the bytes present (accepted only with
    /// [`DecodeOptions::accept_length_mismatch`]); the bytes present are the body.
    pub const BODY_LENGTH_MISMATCH: Leniencies = Leniencies(1 << 1);
    /// Version flag (bit 14) set on a frame laid out as 2013.
    pub const VERSION_FLAG_ON_2013_LAYOUT: Leniencies = Leniencies(1 << 2);
    /// A 2019 layout without the version flag.
    pub const MISSING_VERSION_FLAG: Leniencies = Leniencies(1 << 3);
    /// The phone field was not BCD; read as a binary IMEI plus its Luhn digit.
    pub const BINARY_PHONE: Leniencies = Leniencies(1 << 4);
    /// A `7d` not followed by `01`/`02` was kept as a literal byte.
    pub const LONE_ESCAPE: Leniencies = Leniencies(1 << 5);
    /// Latitude or longitude sent as a two's-complement negative number instead of magnitude + status bit.
    pub const TWOS_COMPLEMENT_COORDINATES: Leniencies = Leniencies(1 << 6);
    /// An additional item's declared length ran past the end of the body; the rest was kept raw.
    pub const TRUNCATED_ITEM: Leniencies = Leniencies(1 << 7);
    /// A standard additional item with a length other than the standard one; kept raw.
    pub const NONSTANDARD_ITEM_LENGTH: Leniencies = Leniencies(1 << 8);
    /// A batch (0x0704) item that did not decode; the others were kept.
    pub const BAD_BATCH_ITEM: Leniencies = Leniencies(1 << 9);
    /// A batch's count disagreed with the items present.
    pub const BATCH_COUNT_MISMATCH: Leniencies = Leniencies(1 << 10);
    /// An altitude above [`crate::BasicLocation::MAX_PLAUSIBLE_ALTITUDE_M`]: the WORD is unsigned, so a
    /// terminal that meant a negative altitude (0xFFF2 for -14 m) sent 65,522 m. Kept as sent, flagged.
    pub const IMPLAUSIBLE_ALTITUDE: Leniencies = Leniencies(1 << 11);

    const NAMES: [(Leniencies, &'static str); 12] = [
        (Self::BAD_CHECKSUM, "bad_checksum"),
        (Self::BODY_LENGTH_MISMATCH, "body_length_mismatch"),
        (Self::VERSION_FLAG_ON_2013_LAYOUT, "version_flag_on_2013_layout"),
        (Self::MISSING_VERSION_FLAG, "missing_version_flag"),
        (Self::BINARY_PHONE, "binary_phone"),
        (Self::LONE_ESCAPE, "lone_escape"),
        (Self::TWOS_COMPLEMENT_COORDINATES, "twos_complement_coordinates"),
        (Self::TRUNCATED_ITEM, "truncated_item"),
        (Self::NONSTANDARD_ITEM_LENGTH, "nonstandard_item_length"),
        (Self::BAD_BATCH_ITEM, "bad_batch_item"),
        (Self::BATCH_COUNT_MISMATCH, "batch_count_mismatch"),
        (Self::IMPLAUSIBLE_ALTITUDE, "implausible_altitude"),
    ];

    /// Whether every bit of `other` is set.
    #[inline]
    pub const fn contains(self, other: Leniencies) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether nothing is set.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Stable snake_case names of the set bits, for metrics labels and JSON.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(l, _)| self.contains(*l))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for Leniencies {
    type Output = Leniencies;
    fn bitor(self, rhs: Self) -> Self {
        Leniencies(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Leniencies {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// How strict frame decoding is. The default is strict: a bad checksum or a body length that
/// disagrees with its field is an error. Real devices send both (Traccar checks neither), so a
/// gateway may choose [`DecodeOptions::LENIENT`], which accepts them and flags the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    /// Accept a frame whose checksum does not match, flagged [`Leniencies::BAD_CHECKSUM`].
    pub accept_bad_checksum: bool,
    /// Accept a body whose length disagrees with the attributes, flagged [`Leniencies::BODY_LENGTH_MISMATCH`].
    pub accept_length_mismatch: bool,
}

impl DecodeOptions {
    /// Reject bad checksums and length mismatches (the default).
    pub const STRICT: DecodeOptions = DecodeOptions {
        accept_bad_checksum: false,
        accept_length_mismatch: false,
    };
    /// Accept them, flagged.
    pub const LENIENT: DecodeOptions = DecodeOptions {
        accept_bad_checksum: true,
        accept_length_mismatch: true,
    };
}

/// A decoded frame borrowing its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The header.
    pub header: Header,
    /// The body, unescaped (for a subpackaged message, this part only).
    pub body: &'a [u8],
    /// What was accepted despite the standard.
    pub leniencies: Leniencies,
}

impl<'a> FrameRef<'a> {
    /// Decodes the body by message id and header layout (see [`Message::decode`]).
    #[inline]
    pub fn message(&self) -> Result<Message<'a>, Error> {
        Message::decode(&self.header, self.body)
    }
}

/// A decoded frame owning its body (a cheap `Bytes` slice of the receive buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The body, unescaped (for a subpackaged message, this part only).
    pub body: Bytes,
    /// What was accepted despite the standard.
    pub leniencies: Leniencies,
}

impl Frame {
    /// Borrows as a [`FrameRef`].
    #[inline]
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            header: self.header,
            body: &self.body,
            leniencies: self.leniencies,
        }
    }

    /// Decodes the body by message id and header layout (see [`Message::decode`]).
    #[inline]
    pub fn message(&self) -> Result<Message<'_>, Error> {
        Message::decode(&self.header, &self.body)
    }
}

/// Parses unescaped frame content (everything between the delimiters) into header and body range.
/// `xor_all`, when the caller already has it, is the XOR of all of `data` (checksum byte included).
#[inline]
fn parse_content(
    data: &[u8],
    options: DecodeOptions,
    xor_all: Option<u8>,
) -> Result<(ParsedHeader, usize), Error> {
    let Some((&in_frame, content)) = data.split_last() else {
        return Err(Error::HeaderTooShort { len: 0, min: 13 });
    };
    let mut parsed = parse_header(content)?;
    let computed = match xor_all {
        Some(x) => x ^ in_frame,
        None => checksum(content),
    };
    if computed != in_frame {
        if !options.accept_bad_checksum {
            return Err(Error::BadChecksum {
                offset: content.len(),
                computed,
                in_frame,
            });
        }
        parsed.leniencies |= Leniencies::BAD_CHECKSUM;
    }
    let declared = parsed.header.attributes.body_len();
    if parsed.body_len_actual != declared {
        if !options.accept_length_mismatch {
            return Err(Error::BodyLengthMismatch {
                offset: parsed.header_len,
                declared,
                actual: parsed.body_len_actual,
            });
        }
        parsed.leniencies |= Leniencies::BODY_LENGTH_MISMATCH;
    }
    let body_end = parsed.header_len + parsed.body_len_actual;
    Ok((parsed, body_end))
}

/// Decodes unescaped frame content: header, body and checksum, without the 0x7e delimiters.
#[inline]
pub fn decode_unescaped(data: &[u8], options: DecodeOptions) -> Result<FrameRef<'_>, Error> {
    decode_unescaped_with(data, options, None)
}

#[inline]
fn decode_unescaped_with(
    data: &[u8],
    options: DecodeOptions,
    xor_all: Option<u8>,
) -> Result<FrameRef<'_>, Error> {
    let (parsed, body_end) = parse_content(data, options, xor_all)?;
    Ok(FrameRef {
        header: parsed.header,
        body: &data[parsed.header_len..body_end],
        leniencies: parsed.leniencies,
    })
}

#[inline]
fn strip_delimiters(raw: &[u8]) -> Result<(usize, usize), Error> {
    if raw.len() < 2 || raw[0] != FLAG || raw[raw.len() - 1] != FLAG {
        return Err(Error::MissingDelimiter);
    }
    Ok((1, raw.len() - 1))
}

/// Decodes one whole frame, `7e ... 7e`, without allocating: when it holds no escape the result
/// borrows `raw`, otherwise `raw` is unescaped into `scratch` (which must be at least as long).
#[inline]
pub fn decode_frame<'a>(
    raw: &'a [u8],
    scratch: &'a mut [u8],
    options: DecodeOptions,
) -> Result<FrameRef<'a>, Error> {
    let (start, end) = strip_delimiters(raw)?;
    let inner = &raw[start..end];
    // One pass finds out whether unescaping is needed and, when it is not, yields the checksum too.
    let (xor_all, escaped) = xor_and_find_escape(inner);
    if !escaped {
        return decode_unescaped_with(inner, options, Some(xor_all));
    }
    if scratch.len() < inner.len() {
        return Err(Error::ScratchTooSmall {
            have: scratch.len(),
            need: inner.len(),
        });
    }
    let scratch = &mut scratch[..inner.len()];
    scratch.copy_from_slice(inner);
    let (n, report) = unescape_in_place(scratch);
    let scratch: &'a [u8] = scratch;
    let mut frame = decode_unescaped(&scratch[..n], options)?;
    if report.lone_escape {
        frame.leniencies |= Leniencies::LONE_ESCAPE;
    }
    Ok(frame)
}

/// Decodes one whole frame, `7e ... 7e`, unescaping it in place.
#[inline]
pub fn decode_frame_in_place(raw: &mut [u8], options: DecodeOptions) -> Result<FrameRef<'_>, Error> {
    let (start, end) = strip_delimiters(raw)?;
    let (n, report) = unescape_in_place(&mut raw[start..end]);
    let raw: &[u8] = raw;
    let mut frame = decode_unescaped(&raw[start..start + n], options)?;
    if report.lone_escape {
        frame.leniencies |= Leniencies::LONE_ESCAPE;
    }
    Ok(frame)
}

/// Finds the first whole frame in `buf`: the range from an opening 0x7e through its closing 0x7e.
/// An empty `7e 7e` pair is skipped (the first byte closed a frame whose start is not in `buf`).
/// The borrowed counterpart of [`FrameDecoder`] for bytes already in memory (captures, files, benches).
#[inline]
pub fn find_frame(buf: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut start = memchr::memchr(FLAG, buf)?;
    loop {
        let rel = memchr::memchr(FLAG, &buf[start + 1..])?;
        let end = start + 1 + rel;
        if end == start + 1 {
            start = end;
            continue;
        }
        return Some(start..end + 1);
    }
}

/// Decodes the first whole frame in `buf` without allocating, in one pass that finds the closing flag,
/// notices escapes and computes the checksum. Returns the result and how many bytes of `buf` it
/// consumed (through the closing flag), or `None` when `buf` holds no whole frame. `scratch` is used
/// only when the frame contains escapes, and must then be at least as long as the frame.
#[inline]
pub fn decode_next<'a>(
    buf: &'a [u8],
    scratch: &'a mut [u8],
    options: DecodeOptions,
) -> Option<(Result<FrameRef<'a>, Error>, usize)> {
    let mut start = memchr::memchr(FLAG, buf)?;
    loop {
        let hay = &buf[start + 1..];
        // The first flag or escape; after an escape, only the flag matters.
        let first = memchr::memchr2(FLAG, ESCAPE, hay)?;
        let (rel, escaped) = if hay[first] == FLAG {
            (first, false)
        } else {
            (first + 1 + memchr::memchr(FLAG, &hay[first + 1..])?, true)
        };
        let end = start + 1 + rel;
        if rel == 0 {
            start = end;
            continue;
        }
        let inner = &buf[start + 1..end];
        let result = if escaped {
            decode_frame(&buf[start..=end], scratch, options)
        } else {
            decode_unescaped_with(inner, options, None)
        };
        return Some((result, end + 1));
    }
}

/// Iterates over the whole frames in `buf`, each `7e ... 7e` (see [`find_frame`]).
pub fn frames(mut buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let r = find_frame(buf)?;
        let frame = &buf[r.clone()];
        buf = &buf[r.end..];
        Some(frame)
    })
}

/// Splits a byte stream into frames.
///
/// Bytes before an opening 0x7e are skipped and counted ([`FrameDecoder::discarded_bytes`]); a
/// `7e 7e` pair is the end of one frame and the start of the next. A frame that does not decode is
/// consumed before its error is returned, so calling `decode` again continues with the next one.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// Bytes of the buffer (from its opening 0x7e) already searched for the closing 0x7e.
    scanned: usize,
    /// The cap on one escaped frame, delimiters included.
    max_frame_bytes: usize,
    /// Strict or lenient.
    options: DecodeOptions,
    /// Bytes skipped outside frames (noise, vendor lines, the tail of an oversized run).
    discarded_bytes: u64,
    /// Whether an escape byte was scanned: the frame needs unescaping.
    escaped: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DecodeOptions::STRICT, DEFAULT_MAX_FRAME_BYTES)
    }
}

impl FrameDecoder {
    /// A decoder with the given strictness and frame cap (bytes, escaped, delimiters included).
    pub const fn new(options: DecodeOptions, max_frame_bytes: usize) -> Self {
        FrameDecoder {
            scanned: 0,
            max_frame_bytes,
            options,
            discarded_bytes: 0,
            escaped: false,
        }
    }

    /// Bytes skipped outside frames so far.
    pub const fn discarded_bytes(&self) -> u64 {
        self.discarded_bytes
    }

    /// The strictness in use.
    pub const fn options(&self) -> DecodeOptions {
        self.options
    }

    /// Takes the next whole frame off the front of `buf`. `Ok(None)` means more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            if buf.is_empty() {
                self.restart();
                return Ok(None);
            }
            if buf[0] != FLAG {
                self.restart();
                match memchr::memchr(FLAG, buf) {
                    Some(i) => {
                        self.discarded_bytes += i as u64;
                        buf.advance(i);
                    }
                    None => {
                        self.discarded_bytes += buf.len() as u64;
                        buf.clear();
                        return Ok(None);
                    }
                }
            }
            // Resume where the last call stopped, noting whether an escape was passed on the way.
            let from = self.scanned.max(1);
            let found = if self.escaped {
                memchr::memchr(FLAG, &buf[from..])
            } else {
                match memchr::memchr2(FLAG, ESCAPE, &buf[from..]) {
                    Some(i) if buf[from + i] == ESCAPE => {
                        self.escaped = true;
                        memchr::memchr(FLAG, &buf[from + i + 1..]).map(|j| i + 1 + j)
                    }
                    other => other,
                }
            };
            let Some(rel) = found else {
                if buf.len() > self.max_frame_bytes {
                    let len = buf.len();
                    self.discarded_bytes += len as u64;
                    buf.clear();
                    self.restart();
                    return Err(Error::FrameTooLong {
                        len,
                        max_bytes: self.max_frame_bytes,
                    });
                }
                self.scanned = buf.len();
                return Ok(None);
            };
            let end = from + rel;
            let escaped = self.escaped;
            self.restart();
            if end == 1 {
                // `7e 7e`: the first closed a frame we never saw the start of.
                self.discarded_bytes += 1;
                buf.advance(1);
                continue;
            }
            if end + 1 > self.max_frame_bytes {
                self.discarded_bytes += end as u64;
                buf.advance(end);
                return Err(Error::FrameTooLong {
                    len: end + 1,
                    max_bytes: self.max_frame_bytes,
                });
            }
            let mut raw = buf.split_to(end + 1);
            let mut leniencies = Leniencies::NONE;
            let n = if escaped {
                let (n, report) = unescape_in_place(&mut raw[1..end]);
                if report.lone_escape {
                    leniencies |= Leniencies::LONE_ESCAPE;
                }
                n
            } else {
                end - 1
            };
            let (parsed, body_end) = parse_content(&raw[1..1 + n], self.options, None)?;
            leniencies |= parsed.leniencies;
            let body = raw.freeze().slice(1 + parsed.header_len..1 + body_end);
            return Ok(Some(Frame {
                header: parsed.header,
                body,
                leniencies,
            }));
        }
    }

    fn restart(&mut self) {
        self.scanned = 0;
        self.escaped = false;
    }
}

/// Appends a whole frame (`7e`, header, body, checksum, escaped, `7e`) to `out`.
pub fn encode_frame(header: &Header, body: &[u8], out: &mut BytesMut) -> Result<(), Error> {
    let start = out.len();
    out.reserve(header.len() + body.len() + 4);
    out.put_u8(FLAG);
    if let Err(e) = header.write(body.len(), out) {
        out.truncate(start);
        return Err(e);
    }
    out.put_slice(body);
    finish_frame(out, start);
    Ok(())
}

/// Appends `body` as a subpackaged message: parts of at most `max_part_len` bytes (1..=1023; vendors
/// use 256 or 512), numbered from 1, each a whole frame with the header's phone and layout and serials
/// counting up from `header.serial`. Returns the number of parts.
pub fn encode_parts(
    header: &Header,
    body: &[u8],
    max_part_len: usize,
    out: &mut BytesMut,
) -> Result<u16, Error> {
    if max_part_len == 0 || max_part_len > crate::MAX_BODY_LEN {
        return Err(Error::FieldTooLong {
            field: "part length",
            len: max_part_len,
            max: crate::MAX_BODY_LEN,
        });
    }
    let total = body.len().div_ceil(max_part_len).max(1);
    let total = u16::try_from(total).map_err(|_| Error::FieldTooLong {
        field: "subpackaged body",
        len: body.len(),
        max: usize::from(u16::MAX) * max_part_len,
    })?;
    let start = out.len();
    let mut chunks = body.chunks(max_part_len);
    for index in 1..=total {
        let part = chunks.next().unwrap_or(&[]);
        let h = Header {
            serial: header.serial.wrapping_add(index - 1),
            subpackage: Some(crate::Subpackage { total, index }),
            ..*header
        };
        if let Err(e) = encode_frame(&h, part, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(total)
}

/// Checksums, escapes and closes a frame whose opening flag is at `start`.
fn finish_frame(out: &mut BytesMut, start: usize) {
    let cs = checksum(&out[start + 1..]);
    out.put_u8(cs);
    escape_tail_in_place(out, start + 1);
    out.put_u8(FLAG);
}

/// Encodes `message` with `header` (the body in the header's edition) as a whole frame appended to `out`.
/// The attributes' length, subpackage and version bits are computed; encryption bits are kept.
pub fn encode_message(header: &Header, message: &Message<'_>, out: &mut BytesMut) -> Result<(), Error> {
    encode_message_as(header, header.edition(), message, out)
}

/// As [`encode_message`], with the body laid out for `edition` (to tell 2011 from 2013).
pub fn encode_message_as(
    header: &Header,
    edition: tianshu_model::Edition,
    message: &Message<'_>,
    out: &mut BytesMut,
) -> Result<(), Error> {
    let start = out.len();
    let result = (|| {
        out.put_u8(FLAG);
        let mut h = *header;
        h.msg_id = message.msg_id();
        h.write(0, out)?;
        let body_start = out.len();
        message.encode_body(edition, out)?;
        let body_len = out.len() - body_start;
        let attributes = h.attributes_for(body_len)?;
        out[start + 3..start + 5].copy_from_slice(&attributes.to_be_bytes());
        finish_frame(out, start);
        Ok(())
    })();
    if result.is_err() {
        out.truncate(start);
    }
    result
}

//! Headers and frames: building them, finding them in a byte stream, checking and opening them.

use bytes::{Buf, BytesMut};

use crate::escape::{BEGIN, Cipher, END, crc16, escape_into, unescape_into};
use crate::{Error, Message};

/// The edition of JT/T 809 a link speaks. Two platforms agree on it out of band: the frame does not
/// say which it is (the version flag is free text), and the header length differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Edition {
    /// JT/T 809-2011: a 22-byte header.
    #[serde(rename = "2011")]
    V2011,
    /// JT/T 809-2019: a 30-byte header ending in the send time (UTC seconds, 8 bytes).
    #[serde(rename = "2019")]
    V2019,
}

impl Edition {
    /// `"2011"` or `"2019"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Edition::V2011 => "2011",
            Edition::V2019 => "2019",
        }
    }

    /// Header length (MSG_LENGTH through ENCRYPT_KEY, and TIME in 2019).
    pub const fn header_len(self) -> usize {
        match self {
            Edition::V2011 => HEADER_LEN_2011,
            Edition::V2019 => HEADER_LEN_2019,
        }
    }

    /// The version flag this codec writes by default.
    pub const fn default_version(self) -> [u8; 3] {
        match self {
            Edition::V2011 => [1, 0, 0],
            Edition::V2019 => [1, 2, 15],
        }
    }

    /// A guess from one escaped frame, for captures whose edition nobody wrote down: 2019 when the
    /// 8 bytes after the 2011 header read as a send time between 2000 and 2100 (UTC seconds), which a
    /// 2011 body almost never does. Links never guess: they are configured with their edition.
    pub fn guess(raw: &[u8]) -> Edition {
        let mut content = Vec::new();
        let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default();
        if crate::escape::unescape_into(inner, 1, &mut content).is_err()
            || content.len() < HEADER_LEN_2019 + 2
        {
            return Edition::V2011;
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&content[HEADER_LEN_2011..HEADER_LEN_2019]);
        match u64::from_be_bytes(t) {
            946_684_800..=4_102_444_800 => Edition::V2019,
            _ => Edition::V2011,
        }
    }

    /// Parses `2011` or `2019`.
    pub fn parse(text: &str) -> Option<Edition> {
        match text.trim() {
            "2011" => Some(Edition::V2011),
            "2019" => Some(Edition::V2019),
            _ => None,
        }
    }
}

/// Header length of JT/T 809-2011.
pub const HEADER_LEN_2011: usize = 22;
/// Header length of JT/T 809-2019.
pub const HEADER_LEN_2019: usize = 30;
/// The default cap on one escaped frame, delimiters included. A 10 MB frame from a peer is refused
/// long before it is buffered.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;

/// A frame header. MSG_LENGTH is not kept: it is computed when encoding and checked when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    /// The edition the header is laid out in.
    pub edition: Edition,
    /// MSG_SN, the sender's serial.
    pub msg_sn: u32,
    /// MSG_ID, the business type.
    pub msg_id: u16,
    /// MSG_GNSSCENTERID, the lower platform's access code (接入码).
    pub center_id: u32,
    /// VERSION_FLAG, three bytes (`[1, 0, 0]` is v1.0.0).
    pub version: [u8; 3],
    /// ENCRYPT_FLAG: whether the body is encrypted.
    pub encrypted: bool,
    /// ENCRYPT_KEY, the cipher's seed for this message.
    pub encrypt_key: u32,
    /// TIME (2019 only): when the message was sent, UTC seconds; 0 in 2011.
    pub time_utc: u64,
}

impl Header {
    /// A plain header with the edition's default version flag.
    pub fn new(edition: Edition, msg_id: u16, msg_sn: u32, center_id: u32) -> Header {
        Header {
            edition,
            msg_sn,
            msg_id,
            center_id,
            version: edition.default_version(),
            encrypted: false,
            encrypt_key: 0,
            time_utc: 0,
        }
    }

    fn write(&self, msg_len: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(&msg_len.to_be_bytes());
        out.extend_from_slice(&self.msg_sn.to_be_bytes());
        out.extend_from_slice(&self.msg_id.to_be_bytes());
        out.extend_from_slice(&self.center_id.to_be_bytes());
        out.extend_from_slice(&self.version);
        out.push(u8::from(self.encrypted));
        out.extend_from_slice(&self.encrypt_key.to_be_bytes());
        if self.edition == Edition::V2019 {
            out.extend_from_slice(&self.time_utc.to_be_bytes());
        }
    }

    /// Parses a header from unescaped content (after the opening 0x5b); returns it and MSG_LENGTH.
    fn parse(edition: Edition, c: &[u8]) -> Result<(Header, u32), Error> {
        let u32_at = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
        let flag = c[17];
        if flag > 1 {
            return Err(Error::BadEncryptFlag { flag });
        }
        let time_utc = match edition {
            Edition::V2011 => 0,
            Edition::V2019 => {
                let mut t = [0u8; 8];
                t.copy_from_slice(&c[22..30]);
                u64::from_be_bytes(t)
            }
        };
        Ok((
            Header {
                edition,
                msg_sn: u32_at(4),
                msg_id: u16::from_be_bytes([c[8], c[9]]),
                center_id: u32_at(10),
                version: [c[14], c[15], c[16]],
                encrypted: flag == 1,
                encrypt_key: u32_at(18),
                time_utc,
            },
            u32_at(0),
        ))
    }
}

/// A decoded frame owning its (decrypted) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The body, unescaped and decrypted.
    pub body: Vec<u8>,
}

impl Frame {
    /// Decodes the body by message id and edition.
    pub fn message(&self) -> Result<Message, Error> {
        Message::decode(self.header.msg_id, self.header.edition, &self.body)
    }
}

/// A decoded frame borrowing its body from a caller's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The header.
    pub header: Header,
    /// The body, unescaped and decrypted.
    pub body: &'a [u8],
}

impl FrameRef<'_> {
    /// Decodes the body by message id and edition.
    pub fn message(&self) -> Result<Message, Error> {
        Message::decode(self.header.msg_id, self.header.edition, self.body)
    }

    /// The frame with its body copied out.
    pub fn to_frame(&self) -> Frame {
        Frame {
            header: self.header,
            body: self.body.to_vec(),
        }
    }
}

/// What one link needs to read and write frames: its edition, its cipher (if the platforms agreed
/// one) and the frame cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    /// The edition of the link.
    pub edition: Edition,
    /// The agreed M1/IA1/IC1; without it an encrypted body is refused ([`Error::NoKey`]).
    pub cipher: Option<Cipher>,
    /// Cap on one escaped frame, delimiters included.
    pub max_frame_bytes: usize,
}

impl Codec {
    /// A codec for `edition` without a cipher and with the default cap.
    pub const fn new(edition: Edition) -> Codec {
        Codec {
            edition,
            cipher: None,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        }
    }

    /// The same with a cipher.
    pub const fn with_cipher(self, cipher: Option<Cipher>) -> Codec {
        Codec { cipher, ..self }
    }

    /// Decodes one whole escaped frame `5b ... 5d` into `scratch` (reused between calls); the body
    /// borrows from it. Refuses a bad escape, a MSG_LENGTH that is not the frame's, a bad CRC, an
    /// unknown encryption flag and an encrypted body without a key, each with its reason.
    pub fn decode_frame_into<'s>(&self, raw: &[u8], scratch: &'s mut Vec<u8>) -> Result<FrameRef<'s>, Error> {
        if raw.len() < 2 || raw[0] != BEGIN || raw[raw.len() - 1] != END {
            return Err(Error::MissingDelimiter);
        }
        unescape_into(&raw[1..raw.len() - 1], 1, scratch)?;
        let hl = self.edition.header_len();
        let total = scratch.len() + 2;
        if scratch.len() < hl + 2 {
            return Err(Error::TooShort {
                len: total,
                min: hl + 4,
                edition: self.edition.as_str(),
            });
        }
        let (header, declared) = Header::parse(self.edition, scratch)?;
        if declared as usize != total {
            return Err(Error::LengthMismatch {
                declared,
                actual: total,
            });
        }
        let crc_at = scratch.len() - 2;
        let in_frame = u16::from_be_bytes([scratch[crc_at], scratch[crc_at + 1]]);
        let computed = crc16(&scratch[..crc_at]);
        if computed != in_frame {
            return Err(Error::BadCrc { computed, in_frame });
        }
        let body = &mut scratch[hl..crc_at];
        if header.encrypted && !body.is_empty() {
            let Some(cipher) = self.cipher else {
                return Err(Error::NoKey {
                    msg_id: header.msg_id,
                });
            };
            cipher.apply(header.encrypt_key, body);
        }
        Ok(FrameRef { header, body })
    }

    /// Decodes one whole escaped frame into an owned [`Frame`].
    pub fn decode_frame(&self, raw: &[u8]) -> Result<Frame, Error> {
        let mut scratch = Vec::new();
        Ok(self.decode_frame_into(raw, &mut scratch)?.to_frame())
    }

    /// Appends the escaped frame of `message` to `out`, the header's MSG_ID replaced by the message's
    /// and its edition by the codec's. With `header.encrypted` the body is encrypted with the codec's
    /// cipher and the header's seed. `scratch` is reused between calls.
    pub fn encode_into(
        &self,
        header: &Header,
        message: &Message,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let header = Header {
            msg_id: message.msg_id(),
            edition: self.edition,
            ..*header
        };
        let hl = self.edition.header_len();
        scratch.clear();
        header.write(0, scratch);
        message.encode_body(self.edition, scratch)?;
        if header.encrypted && scratch.len() > hl {
            let Some(cipher) = self.cipher else {
                return Err(Error::NoKey {
                    msg_id: header.msg_id,
                });
            };
            cipher.apply(header.encrypt_key, &mut scratch[hl..]);
        }
        let total = scratch.len() + 4;
        let total32 = u32::try_from(total).map_err(|_| Error::InvalidValue {
            field: "MSG_LENGTH",
            value: total as u64,
        })?;
        scratch[..4].copy_from_slice(&total32.to_be_bytes());
        let crc = crc16(scratch);
        scratch.extend_from_slice(&crc.to_be_bytes());
        out.push(BEGIN);
        escape_into(scratch, out);
        out.push(END);
        Ok(())
    }

    /// The escaped frame of `message` as a new vector.
    pub fn encode(&self, header: &Header, message: &Message) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode_into(header, message, &mut Vec::new(), &mut out)?;
        Ok(out)
    }
}

/// Takes whole frames off a receive buffer, however the stream was split: bytes before an opening
/// 0x5b are discarded, an unterminated run longer than the cap is an error (and discarded), and a
/// frame that does not decode is an error for that frame alone; the next call goes on after it.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    codec: Codec,
    /// Bytes of the buffer already scanned for a closing 0x5d.
    scanned: usize,
    scratch: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder for one link.
    pub fn new(codec: Codec) -> FrameDecoder {
        FrameDecoder {
            codec,
            scanned: 0,
            scratch: Vec::new(),
        }
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        Ok(self.decode_ref(buf)?.map(|f| f.to_frame()))
    }

    /// [`FrameDecoder::decode`] without copying the body out: the frame is opened in the decoder's
    /// scratch buffer and borrowed from it until the next call. Its bytes are taken off `buf` whether it
    /// decodes or not.
    pub fn decode_ref(&mut self, buf: &mut BytesMut) -> Result<Option<FrameRef<'_>>, Error> {
        let Some(len) = self.frame_len(buf)? else {
            return Ok(None);
        };
        let frame = self.codec.decode_frame_into(&buf[..len], &mut self.scratch);
        buf.advance(len);
        frame.map(Some)
    }

    /// The link's codec from now on: a listener learns a peer's edition and key from its first frame
    /// ([`access_code`]).
    pub fn set_codec(&mut self, codec: Codec) {
        self.codec = codec;
    }

    /// The next whole escaped frame `5b ... 5d`, not yet checked, `Ok(None)` when more bytes are needed;
    /// runs over the cap and frames cut off by a new 0x5b are errors, as for [`FrameDecoder::decode`].
    pub fn cut(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, Error> {
        Ok(self.frame_len(buf)?.map(|len| buf.split_to(len)))
    }

    /// The length of the whole escaped frame at the start of `buf` (bytes before its 0x5b dropped),
    /// `Ok(None)` when more bytes are needed; a frame over the cap or cut off by a new 0x5b is taken off
    /// `buf` and is an error.
    fn frame_len(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, Error> {
        // Skip anything before an opening 0x5b.
        match memchr::memchr(BEGIN, buf) {
            Some(0) => {}
            Some(i) => {
                buf.advance(i);
                self.scanned = 0;
            }
            None => {
                buf.clear();
                self.scanned = 0;
                return Ok(None);
            }
        }
        let from = self.scanned.max(1);
        let Some(end) = memchr::memchr2(END, BEGIN, &buf[from..]).map(|i| i + from) else {
            self.scanned = buf.len();
            if buf.len() > self.codec.max_frame_bytes {
                let len = buf.len();
                buf.clear();
                self.scanned = 0;
                return Err(Error::FrameTooLong {
                    len,
                    max_bytes: self.codec.max_frame_bytes,
                });
            }
            return Ok(None);
        };
        self.scanned = 0;
        if buf[end] == BEGIN {
            // A new frame opens before this one closed: the bytes so far are a broken frame.
            buf.advance(end);
            return Err(Error::Unterminated { len: end });
        }
        let len = end + 1;
        if len > self.codec.max_frame_bytes {
            buf.advance(len);
            return Err(Error::FrameTooLong {
                len,
                max_bytes: self.codec.max_frame_bytes,
            });
        }
        Ok(Some(len))
    }
}

/// MSG_GNSSCENTERID (the sender's access code, 接入码) of an escaped frame, read before its edition and
/// key are known: it sits at the same offset in both editions' headers and is never encrypted. A frame
/// too short to hold it is [`Error::TooShort`]; its length and CRC are not checked here.
pub fn access_code(raw: &[u8]) -> Result<u32, Error> {
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default();
    let mut content = Vec::new();
    unescape_into(inner, 1, &mut content)?;
    match content.get(10..14) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(Error::TooShort {
            len: raw.len(),
            min: HEADER_LEN_2011 + 4,
            edition: "either",
        }),
    }
}

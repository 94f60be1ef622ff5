//! Smaller messages: pass-through data, tracking, server time, text, terminal control, parameters, media.

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::multi::length_data;
use nom::number::complete::{be_u8, be_u32};
use tianshu_model::{Edition, Timestamp};

use super::WireOrList;
use super::location::{BASIC_LEN, BasicLocation};
use super::text::Text;
use crate::Error;
use crate::bcd::{bcd_byte, decode_time, encode_time};
use crate::reader::Reader;

/// 0x0900 (uplink) and 0x8900 (downlink) transparent data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Passthrough<'a> {
    /// 0x00 GNSS detail, 0x0B IC card, 0x41/0x42 serial ports, 0xF0-0xFF user-defined.
    pub kind: u8,
    /// The data.
    pub content: &'a [u8],
}

impl<'a> Passthrough<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, Error> {
        Ok(Passthrough {
            kind: r.u8()?,
            content: r.rest(),
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        out.put_u8(self.kind);
        out.put_slice(self.content);
    }
}

/// 0x8202: temporary position tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackLocation {
    /// Report interval in seconds; 0 stops tracking.
    pub interval_secs: u16,
    /// How long to keep tracking, seconds.
    pub validity_secs: u32,
}

/// 0x8004 (2019): the platform's time, the one time field in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerTime {
    /// The server's clock, UTC, whole seconds.
    pub time: Timestamp,
}

impl ServerTime {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(ServerTime {
            time: decode_time(&r.array()?, 0, 0)?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        out.put_slice(&encode_time(self.time, 0));
    }
}

/// 0x8300: text message to the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextMessage<'a> {
    /// Flag bits (emergency, display, TTS, ...).
    pub flags: u8,
    /// (2019) 1 service, 2 emergency, 3 notice.
    pub text_type: Option<u8>,
    /// The text (GBK).
    pub text: Text<'a>,
}

impl<'a> TextMessage<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>, edition: Edition) -> Result<Self, Error> {
        let flags = r.u8()?;
        let text_type = if edition == Edition::V2019 {
            Some(r.u8()?)
        } else {
            None
        };
        Ok(TextMessage {
            flags,
            text_type,
            text: Text(r.rest()),
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut, edition: Edition) {
        out.put_u8(self.flags);
        if edition == Edition::V2019 {
            out.put_u8(self.text_type.unwrap_or(1));
        }
        out.put_slice(self.text.as_bytes());
    }
}

/// 0x8105: terminal control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TerminalControl<'a> {
    /// 1 upgrade, 2 connect to a server, 3 shut down, 4 reset, 5 factory reset, 6/7 radios off.
    pub command: u8,
    /// The `;`-separated parameters as sent (ports and time limits are raw WORDs inside).
    pub parameters: &'a [u8],
}

impl<'a> TerminalControl<'a> {
    /// The parameters split at `;` (a WORD field containing 0x3B would split too: read those by position).
    pub fn fields(&self) -> impl Iterator<Item = &'a [u8]> {
        let p = self.parameters;
        p.split(|&b| b == b';')
            .take(if p.is_empty() { 0 } else { usize::MAX })
    }
}

/// 0x8106: the ids of the parameters asked for (answered by 0x0104 with those parameters).
#[derive(Debug, Clone, Copy)]
pub struct ParameterIds<'a>(pub WireOrList<'a, u32>);

impl<'a> ParameterIds<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, Error> {
        let count = usize::from(r.u8()?);
        Ok(ParameterIds(WireOrList::Wire(r.bytes(count * 4)?)))
    }

    /// The ids, in the order asked.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let (wire, list): (&'a [u8], &'a [u32]) = match self.0 {
            WireOrList::Wire(b) => (b, &[]),
            WireOrList::List(l) => (&[], l),
        };
        wire.chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .chain(list.iter().copied())
    }

    pub(crate) fn write(&self, out: &mut BytesMut) -> Result<(), Error> {
        let count = self.iter().count();
        out.put_u8(u8::try_from(count).map_err(|_| Error::FieldTooLong {
            field: "parameter ids",
            len: count,
            max: 255,
        })?);
        for id in self.iter() {
            out.put_u32(id);
        }
        Ok(())
    }
}

impl PartialEq for ParameterIds<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for ParameterIds<'_> {}

/// How the standard types a parameter's value (JT/T 808-2019 table 14, with 2013's 0x0018 and 0x0019):
/// what a 0x0104 value means and how a 0x8103 value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterKind {
    /// BYTE.
    Byte,
    /// WORD, big-endian.
    Word,
    /// DWORD, big-endian.
    Dword,
    /// STRING, GBK.
    Text,
    /// Anything else: a structured BYTE\[n\] (0x0032, 0x0110...) or an id the standard does not define.
    Bytes,
}

impl ParameterKind {
    /// The kind of parameter `id`.
    pub const fn of(id: u32) -> ParameterKind {
        use ParameterKind::{Byte, Bytes, Dword, Text, Word};
        match id {
            0x0010..=0x0017
            | 0x001A
            | 0x001D
            | 0x0023..=0x0026
            | 0x0040..=0x0044
            | 0x0048
            | 0x0049
            | 0x0083 => Text,
            0x0031 | 0x005B..=0x005E | 0x0081 | 0x0082 | 0x0101 | 0x0103 => Word,
            0x0084 | 0x0090..=0x0092 | 0x0094 => Byte,
            0x0001..=0x0007
            | 0x0018
            | 0x0019
            | 0x001B
            | 0x001C
            | 0x0020..=0x0022
            | 0x0027..=0x0029
            | 0x002C..=0x0030
            | 0x0045..=0x0047
            | 0x0050..=0x005A
            | 0x0064
            | 0x0065
            | 0x0070..=0x0074
            | 0x0080
            | 0x0093
            | 0x0095
            | 0x0100
            | 0x0102 => Dword,
            _ => Bytes,
        }
    }

    /// The width of a number of this kind, in bytes.
    pub const fn width(self) -> Option<usize> {
        match self {
            ParameterKind::Byte => Some(1),
            ParameterKind::Word => Some(2),
            ParameterKind::Dword => Some(4),
            ParameterKind::Text | ParameterKind::Bytes => None,
        }
    }
}

/// One terminal parameter (0x8103, 0x0104).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Parameter<'a> {
    /// Parameter id (0x0001 heartbeat interval, 0x0013 main server address, 0x0055 max speed...).
    pub id: u32,
    /// The value bytes.
    pub value: &'a [u8],
}

impl<'a> Parameter<'a> {
    /// The value as an integer when it is 1, 2 or 4 bytes (BYTE, WORD, DWORD).
    pub fn as_u32(&self) -> Option<u32> {
        match *self.value {
            [a] => Some(u32::from(a)),
            [a, b] => Some(u32::from(u16::from_be_bytes([a, b]))),
            [a, b, c, d] => Some(u32::from_be_bytes([a, b, c, d])),
            _ => None,
        }
    }

    /// The value as text (STRING parameters).
    pub fn as_text(&self) -> Text<'a> {
        Text(crate::reader::trim_nul(self.value))
    }
}

/// Parameters: the `[id DWORD, length BYTE, value]...` sequence, or parameters to encode.
pub type Params<'a> = WireOrList<'a, Parameter<'a>>;

/// A parameter list (0x8103 body; 0x0104 after its reply serial).
#[derive(Debug, Clone, Copy)]
pub struct ParameterList<'a> {
    /// The count field as sent (encoding a list writes the list's length).
    pub count: u8,
    /// The parameters.
    pub params: Params<'a>,
}

impl<'a> ParameterList<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, Error> {
        Ok(ParameterList {
            count: r.u8()?,
            params: Params::Wire(r.rest()),
        })
    }

    /// The parameters in order; a parameter running past the body ends iteration with an error.
    pub fn iter(&self) -> impl Iterator<Item = Result<Parameter<'a>, Error>> + 'a {
        let (mut wire, list): (&'a [u8], &'a [Parameter<'a>]) = match self.params {
            Params::Wire(b) => (b, &[]),
            Params::List(l) => (&[], l),
        };
        let total = wire.len();
        let from_wire = std::iter::from_fn(move || {
            if wire.is_empty() {
                return None;
            }
            let parsed: nom::IResult<&[u8], (u32, &[u8])> = (be_u32, length_data(be_u8)).parse(wire);
            match parsed {
                Ok((rest, (id, value))) => {
                    wire = rest;
                    Some(Ok(Parameter { id, value }))
                }
                Err(_) => {
                    let offset = total - wire.len();
                    wire = &[];
                    Some(Err(Error::Truncated {
                        msg_id: 0x8103,
                        offset,
                        needed: 1,
                    }))
                }
            }
        });
        list.iter().map(|p| Ok(*p)).chain(from_wire)
    }

    pub(crate) fn write(&self, out: &mut BytesMut) -> Result<(), Error> {
        match self.params {
            Params::Wire(b) => {
                out.put_u8(self.count);
                out.put_slice(b);
            }
            Params::List(l) => {
                out.put_u8(u8::try_from(l.len()).map_err(|_| Error::FieldTooLong {
                    field: "parameters",
                    len: l.len(),
                    max: 255,
                })?);
                for p in l {
                    out.put_u32(p.id);
                    crate::reader::put_u8_prefixed(out, p.value, "parameter value")?;
                }
            }
        }
        Ok(())
    }
}

impl PartialEq for ParameterList<'_> {
    fn eq(&self, other: &Self) -> bool {
        let counts_comparable = matches!((self.params, other.params), (Params::Wire(_), Params::Wire(_)));
        (!counts_comparable || self.count == other.count) && self.iter().eq(other.iter())
    }
}

impl Eq for ParameterList<'_> {}

/// 0x0800: a multimedia event (and the fixed head of 0x0801).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaEvent {
    /// Multimedia id (> 0).
    pub media_id: u32,
    /// 0 image, 1 audio, 2 video.
    pub media_type: u8,
    /// 0 JPEG, 1 TIF, 2 MP3, 3 WAV, 4 WMV.
    pub format: u8,
    /// 0 platform command, 1 timer, 2 robbery alarm, 3 collision, ...
    pub event: u8,
    /// Channel id.
    pub channel: u8,
}

impl MediaEvent {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(MediaEvent {
            media_id: r.u32()?,
            media_type: r.u8()?,
            format: r.u8()?,
            event: r.u8()?,
            channel: r.u8()?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        out.put_u32(self.media_id);
        out.put_u8(self.media_type);
        out.put_u8(self.format);
        out.put_u8(self.event);
        out.put_u8(self.channel);
    }
}

/// 0x0801: multimedia data upload (reassembled, when it came subpackaged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaUpload<'a> {
    /// The event fields.
    pub event: MediaEvent,
    /// (2013+) where the media was taken; 2011 has no location block.
    pub location: Option<BasicLocation>,
    /// The media bytes.
    pub data: &'a [u8],
}

impl<'a> MediaUpload<'a> {
    /// 2011 has no location block: the body is 2013+ when it is long enough and bytes 30..36 are a BCD
    /// time.
    pub(crate) fn guess_edition(body: &[u8], header_edition: Edition) -> Edition {
        if header_edition == Edition::V2019 {
            return Edition::V2019;
        }
        match body.get(8 + 22..8 + BASIC_LEN) {
            Some(t) if t.iter().all(|&b| bcd_byte(b, 0).is_ok()) => Edition::V2013,
            _ => Edition::V2011,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'a>, edition: Edition) -> Result<Self, Error> {
        let event = MediaEvent::decode(r)?;
        let location = if edition == Edition::V2011 {
            None
        } else {
            Some(BasicLocation::from_bytes(&r.array::<BASIC_LEN>()?))
        };
        Ok(MediaUpload {
            event,
            location,
            data: r.rest(),
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut, edition: Edition) {
        self.event.write(out);
        if edition != Edition::V2011 {
            out.put_slice(&self.location.unwrap_or_default().to_bytes());
        }
        out.put_slice(self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn a_query_of_parameter_ids_reads_like_the_standard() {
        let body = [
            0x02, //                   count: 2
            0x00, 0x00, 0x00, 0x01, // 0x0001 heartbeat interval
            0x00, 0x00, 0x00, 0x13, // 0x0013 main server address
        ];
        let Ok(Message::QueryParameterIds(ids)) = Message::decode_as(0x8106, Edition::V2013, &body) else {
            panic!("0x8106 decodes");
        };
        assert_eq!(ids.iter().collect::<Vec<_>>(), [0x0001, 0x0013]);
        let mut out = BytesMut::new();
        ParameterIds(WireOrList::List(&[0x0001, 0x0013]))
            .write(&mut out)
            .unwrap();
        assert_eq!(&out[..], &body);
        // A count that promises more ids than the body holds is truncated, not read past.
        assert!(Message::decode_as(0x8106, Edition::V2013, &body[..6]).is_err());
    }

    #[test]
    fn parameter_kinds_follow_the_standard_s_table() {
        use ParameterKind::*;
        let cases = [
            (0x0001, Dword), // heartbeat interval
            (0x0013, Text),  // main server address
            (0x0018, Dword), // 2013: TCP port
            (0x0029, Dword), // default reporting interval
            (0x002A, Bytes), // not defined
            (0x0031, Word),  // fence radius
            (0x0032, Bytes), // 2019: illegal driving period, BYTE[4]
            (0x0055, Dword), // maximum speed
            (0x005B, Word),  // overspeed warning difference
            (0x0083, Text),  // plate
            (0x0084, Byte),  // plate colour
            (0x0110, Bytes), // CAN id collection, BYTE[8]
            (0xF001, Bytes), // maker-defined
        ];
        for (id, kind) in cases {
            assert_eq!(ParameterKind::of(id), kind, "parameter {id:#06x}");
        }
        assert_eq!((Word.width(), Text.width()), (Some(2), None));
    }
}

//! Acknowledgements and retransmission requests: 0x0001/0x8001, 0x8100, 0x8003/0x0005, 0x8800.

use bytes::{BufMut, BytesMut};
use tianshu_model::Edition;

use super::text::{Text, WordList};
use crate::Error;
use crate::reader::Reader;

/// 0x0001 (terminal) and 0x8001 (platform) general acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeneralAck {
    /// Serial of the message answered.
    pub reply_serial: u16,
    /// Id of the message answered.
    pub reply_msg_id: u16,
    /// See the `RESULT_*` constants.
    pub result: u8,
}

impl GeneralAck {
    /// Success.
    pub const RESULT_OK: u8 = 0;
    /// Failure.
    pub const RESULT_FAILED: u8 = 1;
    /// The message was malformed.
    pub const RESULT_BAD_MESSAGE: u8 = 2;
    /// The message is not supported.
    pub const RESULT_UNSUPPORTED: u8 = 3;
    /// (0x8001 only) the alarm was acknowledged.
    pub const RESULT_ALARM_ACKNOWLEDGED: u8 = 4;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(GeneralAck {
            reply_serial: r.u16()?,
            reply_msg_id: r.u16()?,
            result: r.u8()?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        out.put_u16(self.reply_serial);
        out.put_u16(self.reply_msg_id);
        out.put_u8(self.result);
    }
}

/// 0x8100: the platform's answer to a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegisterAck<'a> {
    /// Serial of the 0x0100 answered.
    pub reply_serial: u16,
    /// See the `RESULT_*` constants.
    pub result: u8,
    /// The auth code, present only on success.
    pub auth_code: Option<Text<'a>>,
}

impl<'a> RegisterAck<'a> {
    /// Registered.
    pub const RESULT_OK: u8 = 0;
    /// The vehicle is already registered.
    pub const RESULT_VEHICLE_REGISTERED: u8 = 1;
    /// No such vehicle.
    pub const RESULT_NO_VEHICLE: u8 = 2;
    /// The terminal is already registered.
    pub const RESULT_TERMINAL_REGISTERED: u8 = 3;
    /// No such terminal.
    pub const RESULT_NO_TERMINAL: u8 = 4;

    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, Error> {
        let reply_serial = r.u16()?;
        let result = r.u8()?;
        let auth_code = if result == Self::RESULT_OK {
            Some(Text(r.rest()))
        } else {
            None
        };
        Ok(RegisterAck {
            reply_serial,
            result,
            auth_code,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        out.put_u16(self.reply_serial);
        out.put_u8(self.result);
        if let (Self::RESULT_OK, Some(code)) = (self.result, self.auth_code) {
            out.put_slice(code.as_bytes());
        }
    }
}

/// 0x8003 (platform asks the terminal) and 0x0005 (2019: terminal asks the platform) to resend parts
/// of a subpackaged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRequest<'a> {
    /// Serial of the first part of the original message.
    pub first_serial: u16,
    /// Indexes (from 1) of the parts to resend.
    pub packet_indexes: WordList<'a>,
}

impl<'a> PacketRequest<'a> {
    /// Count is a BYTE in 2011/2013 and a WORD in 2019 (0x0005 exists only in 2019).
    pub(crate) fn decode(r: &mut Reader<'a>, edition: Edition) -> Result<Self, Error> {
        let first_serial = r.u16()?;
        let count = if edition == Edition::V2019 {
            usize::from(r.u16()?)
        } else {
            usize::from(r.u8()?)
        };
        let ids = r.bytes(count * 2)?;
        Ok(PacketRequest {
            first_serial,
            packet_indexes: WordList::Wire(ids),
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut, edition: Edition) -> Result<(), Error> {
        let n = self.packet_indexes.len();
        out.put_u16(self.first_serial);
        if edition == Edition::V2019 {
            out.put_u16(u16::try_from(n).map_err(|_| Error::FieldTooLong {
                field: "ids",
                len: n,
                max: 65_535,
            })?);
        } else {
            out.put_u8(u8::try_from(n).map_err(|_| Error::FieldTooLong {
                field: "ids",
                len: n,
                max: 255,
            })?);
        }
        for id in self.packet_indexes.iter() {
            out.put_u16(id);
        }
        Ok(())
    }
}

/// 0x8800: the platform acknowledges a multimedia upload, listing the parts to resend (none: complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaUploadAck<'a> {
    /// Multimedia id.
    pub media_id: u32,
    /// Indexes of the parts to resend.
    pub packet_indexes: WordList<'a>,
}

impl<'a> MediaUploadAck<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, Error> {
        let media_id = r.u32()?;
        if r.is_empty() {
            return Ok(MediaUploadAck {
                media_id,
                packet_indexes: WordList::Wire(&[]),
            });
        }
        let count = usize::from(r.u8()?);
        Ok(MediaUploadAck {
            media_id,
            packet_indexes: WordList::Wire(r.bytes(count * 2)?),
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) -> Result<(), Error> {
        let n = self.packet_indexes.len();
        out.put_u32(self.media_id);
        out.put_u8(u8::try_from(n).map_err(|_| Error::FieldTooLong {
            field: "ids",
            len: n,
            max: 255,
        })?);
        for id in self.packet_indexes.iter() {
            out.put_u16(id);
        }
        Ok(())
    }
}

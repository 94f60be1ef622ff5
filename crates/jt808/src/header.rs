//! The message header: id, body attributes, (2019) protocol version, phone, serial, subpackage fields.
//!
//! | 2011/13 | 2019 | field |
//! |---|---|---|
//! | 0 | 0 | msg id WORD |
//! | 2 | 2 | body attributes WORD: length bits 0-9, encryption 10-12, subpackage 13, version flag 14 |
//! | - | 4 | protocol version BYTE |
//! | 4 | 5 | phone BCD\[6\] / BCD\[10\] |
//! | 10 | 15 | serial WORD |
//! | 12 | 17 | if subpackaged: total WORD, index WORD (from 1) |
//!
//! 2011 and 2013 share a layout; which one a header uses is decided by the version flag and, because
//! devices get the flag wrong both ways, by which layout makes the length field agree with the bytes.

use bytes::{BufMut, BytesMut};
use tianshu_model::{Edition, Phone};

use crate::bcd::{decode_phone, write_bcd};
use crate::{Error, Leniencies};

/// Header length of the 2011/2013 layout without subpackage fields.
pub const HEADER_LEN_2013: usize = 12;
/// Header length of the 2019 layout without subpackage fields.
pub const HEADER_LEN_2019: usize = 17;
/// The largest body the 10-bit length field can describe.
pub const MAX_BODY_LEN: usize = 1023;

/// The body-attributes word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BodyAttributes(pub u16);

impl BodyAttributes {
    /// Bit 13: the body is one part of a subpackaged message.
    pub const SUBPACKAGE: u16 = 1 << 13;
    /// Bit 14: the 2019 version flag.
    pub const VERSION_FLAG: u16 = 1 << 14;
    /// Bit 10: RSA encryption.
    pub const RSA: u16 = 1 << 10;

    /// Body length, bits 0-9.
    #[inline]
    pub const fn body_len(self) -> usize {
        (self.0 & 0x03ff) as usize
    }
    /// Encryption bits 10-12 (0 none, 1 RSA).
    #[inline]
    pub const fn encryption(self) -> u8 {
        ((self.0 >> 10) & 0b111) as u8
    }
    /// Bit 13.
    #[inline]
    pub const fn subpackaged(self) -> bool {
        self.0 & Self::SUBPACKAGE != 0
    }
    /// Bit 14.
    #[inline]
    pub const fn version_flag(self) -> bool {
        self.0 & Self::VERSION_FLAG != 0
    }
}

/// The subpackage fields of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subpackage {
    /// Number of parts.
    pub total: u16,
    /// This part's index, from 1.
    pub index: u16,
}

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Message id.
    pub msg_id: u16,
    /// The attributes word as received (length, encryption and flags); encoding recomputes the length,
    /// subpackage and version bits and keeps the rest.
    pub attributes: BodyAttributes,
    /// The 2019 protocol version byte; `None` for the 2011/2013 layout.
    pub protocol_version: Option<u8>,
    /// The terminal's phone number.
    pub phone: Phone,
    /// Message serial, wrapping.
    pub serial: u16,
    /// Present when the body is one part of a subpackaged message.
    pub subpackage: Option<Subpackage>,
}

impl Header {
    /// A header for `edition`'s layout (2019: protocol version 1), without subpackaging.
    pub const fn new(msg_id: u16, phone: Phone, serial: u16, edition: Edition) -> Self {
        Header {
            msg_id,
            attributes: BodyAttributes(0),
            protocol_version: match edition {
                Edition::V2019 => Some(1),
                _ => None,
            },
            phone,
            serial,
            subpackage: None,
        }
    }

    /// The same terminal and layout, for a reply with another id and serial.
    pub const fn reply(&self, msg_id: u16, serial: u16) -> Self {
        Header {
            msg_id,
            attributes: BodyAttributes(0),
            protocol_version: self.protocol_version,
            phone: self.phone,
            serial,
            subpackage: None,
        }
    }

    /// The layout's edition: 2019, or 2013 for the shared 2011/2013 layout.
    #[inline]
    pub const fn edition(&self) -> Edition {
        if self.protocol_version.is_some() {
            Edition::V2019
        } else {
            Edition::V2013
        }
    }

    /// Encoded length in bytes.
    #[inline]
    pub const fn len(&self) -> usize {
        let base = if self.protocol_version.is_some() {
            HEADER_LEN_2019
        } else {
            HEADER_LEN_2013
        };
        if self.subpackage.is_some() { base + 4 } else { base }
    }

    /// Always false: a header has at least 12 bytes (present for the `len` convention).
    #[inline]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The attributes word this header encodes with a body of `body_len` bytes.
    pub fn attributes_for(&self, body_len: usize) -> Result<u16, Error> {
        if body_len > MAX_BODY_LEN {
            return Err(Error::BodyTooLong { len: body_len });
        }
        let keep = self.attributes.0 & !(0x03ff | BodyAttributes::SUBPACKAGE | BodyAttributes::VERSION_FLAG);
        let mut a = keep | body_len as u16;
        if self.subpackage.is_some() {
            a |= BodyAttributes::SUBPACKAGE;
        }
        if self.protocol_version.is_some() {
            a |= BodyAttributes::VERSION_FLAG;
        }
        Ok(a)
    }

    /// Appends the unescaped header for a body of `body_len` bytes.
    pub fn write(&self, body_len: usize, out: &mut BytesMut) -> Result<(), Error> {
        let attributes = self.attributes_for(body_len)?;
        out.put_u16(self.msg_id);
        out.put_u16(attributes);
        if let Some(v) = self.protocol_version {
            out.put_u8(v);
            let mut phone = [0u8; 10];
            write_bcd(self.phone.0, &mut phone)?;
            out.put_slice(&phone);
        } else {
            let mut phone = [0u8; 6];
            write_bcd(self.phone.0, &mut phone)?;
            out.put_slice(&phone);
        }
        out.put_u16(self.serial);
        if let Some(s) = self.subpackage {
            out.put_u16(s.total);
            out.put_u16(s.index);
        }
        Ok(())
    }
}

/// What [`parse_header`] found: the header, where the body starts, and how the layout was chosen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParsedHeader {
    pub header: Header,
    pub header_len: usize,
    /// Bytes from the end of the header to the end of `content`.
    pub body_len_actual: usize,
    pub leniencies: Leniencies,
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Parses the header of `content` (unescaped header and body, checksum removed).
#[inline]
pub(crate) fn parse_header(content: &[u8]) -> Result<ParsedHeader, Error> {
    let len = content.len();
    if len < HEADER_LEN_2013 {
        return Err(Error::HeaderTooShort {
            len: len + 1,
            min: HEADER_LEN_2013 + 1,
        });
    }
    let attributes = BodyAttributes(be16(content, 2));
    let sub = if attributes.subpackaged() { 4 } else { 0 };
    let declared = attributes.body_len();
    let fits_2019 = len >= HEADER_LEN_2019 + sub && len - (HEADER_LEN_2019 + sub) == declared;
    let fits_2013 = len >= HEADER_LEN_2013 + sub && len - (HEADER_LEN_2013 + sub) == declared;
    let mut leniencies = Leniencies::NONE;
    let is_2019 = if attributes.version_flag() {
        if fits_2019 {
            true
        } else if fits_2013 {
            leniencies |= Leniencies::VERSION_FLAG_ON_2013_LAYOUT;
            false
        } else {
            len >= HEADER_LEN_2019 + sub
        }
    } else if fits_2013 {
        false
    } else if fits_2019 {
        leniencies |= Leniencies::MISSING_VERSION_FLAG;
        true
    } else {
        false
    };
    let (protocol_version, phone_bytes, rest) = if is_2019 {
        (Some(content[4]), &content[5..15], 15)
    } else {
        (None, &content[4..10], 10)
    };
    let header_len = rest + 2 + sub;
    if len < header_len {
        return Err(Error::HeaderTooShort {
            len: len + 1,
            min: header_len + 1,
        });
    }
    let (phone, binary) = decode_phone(phone_bytes);
    if binary {
        leniencies |= Leniencies::BINARY_PHONE;
    }
    let subpackage = if sub == 4 {
        Some(Subpackage {
            total: be16(content, rest + 2),
            index: be16(content, rest + 4),
        })
    } else {
        None
    };
    let header = Header {
        msg_id: be16(content, 0),
        attributes,
        protocol_version,
        phone,
        serial: be16(content, rest),
        subpackage,
    };
    Ok(ParsedHeader {
        header,
        header_len,
        body_len_actual: len - header_len,
        leniencies,
    })
}

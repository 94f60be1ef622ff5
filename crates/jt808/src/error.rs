//! The codec's errors.
//!
//! One enum for every layer (frame, header, body, encoding): a caller closing a session or printing a
//! diagnostic wants the reason and, where there is one, the byte offset it refers to.

/// Why bytes are not a JT/T 808 frame or message, or why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A run of bytes after an opening 0x7e grew past the frame cap without a closing 0x7e.
    #[error("no closing 0x7e within {max_bytes} bytes (the frame cap); {len} bytes discarded")]
    FrameTooLong {
        /// Bytes discarded.
        len: usize,
        /// The cap.
        max_bytes: usize,
    },
    /// The frame does not start and end with 0x7e.
    #[error("frame does not start and end with 0x7e")]
    MissingDelimiter,
    /// Fewer bytes than the shortest header plus checksum.
    #[error("frame has {len} bytes after unescaping; the header and checksum need at least {min}")]
    HeaderTooShort {
        /// Unescaped bytes between the delimiters.
        len: usize,
        /// The minimum for the header layout in use.
        min: usize,
    },
    /// The XOR checksum does not match.
    #[error("checksum mismatch at offset {offset}: computed {computed:#04x}, frame has {in_frame:#04x}")]
    BadChecksum {
        /// Offset of the checksum byte in the unescaped frame (after the opening 0x7e).
        offset: usize,
        /// XOR of header and body.
        computed: u8,
        /// The frame's last byte before the closing 0x7e.
        in_frame: u8,
    },
    /// The body-length field disagrees with the bytes between header and checksum.
    #[error("body length field says {declared} bytes but {actual} follow the header (offset {offset})")]
    BodyLengthMismatch {
        /// Offset of the body in the unescaped frame.
        offset: usize,
        /// Length from the body attributes.
        declared: usize,
        /// Bytes actually present.
        actual: usize,
    },
    /// A body (or a part of it) ends before a field it must contain.
    #[error("body of {msg_id:#06x} truncated at offset {offset}: {needed} more bytes needed")]
    Truncated {
        /// The message being decoded.
        msg_id: u16,
        /// Offset in the body where the missing field starts.
        offset: usize,
        /// How many bytes are missing.
        needed: usize,
    },
    /// A nibble above 9 in a BCD field that must be decimal.
    #[error("invalid BCD byte {byte:#04x} at offset {offset}")]
    InvalidBcd {
        /// Offset of the byte in the field's enclosing body (or the block it was handed).
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// BCD digits that do not name a calendar date and time.
    #[error("invalid date/time 20{year:02}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")]
    InvalidTime {
        /// Two-digit year.
        year: u8,
        /// Month.
        month: u8,
        /// Day of month.
        day: u8,
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
        /// Second.
        second: u8,
    },
    /// A latitude or longitude outside +/-90 or +/-180 degrees (often swapped fields in test data).
    #[error("coordinates out of range: lat {lat_e6} lon {lon_e6} (micro-degrees)")]
    CoordinatesOutOfRange {
        /// Latitude as decoded, micro-degrees.
        lat_e6: i64,
        /// Longitude as decoded, micro-degrees.
        lon_e6: i64,
    },
    /// A value the field cannot carry (unknown enumeration value, a count that disagrees...).
    #[error("invalid {field}: {value}")]
    InvalidValue {
        /// Field name.
        field: &'static str,
        /// The value.
        value: u32,
    },
    /// A body longer than the 10-bit length field holds; split it with subpackaging.
    #[error("body of {len} bytes does not fit the 10-bit length field (max 1023); subpackage it")]
    BodyTooLong {
        /// Body length.
        len: usize,
    },
    /// A field longer than its wire width.
    #[error("{field} is {len} bytes; the wire field holds {max}")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Given length.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// A phone number with more digits than the header layout holds.
    #[error("phone number {phone} has more than {digits} digits")]
    PhoneTooLong {
        /// The number.
        phone: u128,
        /// Digits of the layout (12 or 20).
        digits: usize,
    },
    /// A caller-provided buffer is smaller than the frame.
    #[error("scratch buffer of {have} bytes is smaller than the {need}-byte frame")]
    ScratchTooSmall {
        /// Scratch length.
        have: usize,
        /// Needed.
        need: usize,
    },
}

impl Error {
    /// The byte offset the error refers to, when there is one (see each variant for its origin).
    pub fn offset(&self) -> Option<usize> {
        match *self {
            Error::BadChecksum { offset, .. }
            | Error::BodyLengthMismatch { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::InvalidBcd { offset, .. } => Some(offset),
            Error::HeaderTooShort { len, .. } => Some(len),
            _ => None,
        }
    }

    /// A short stable name for the reason, for metrics labels and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::FrameTooLong { .. } => "frame_too_long",
            Error::MissingDelimiter => "missing_delimiter",
            Error::HeaderTooShort { .. } => "header_too_short",
            Error::BadChecksum { .. } => "bad_checksum",
            Error::BodyLengthMismatch { .. } => "body_length_mismatch",
            Error::Truncated { .. } => "truncated",
            Error::InvalidBcd { .. } => "invalid_bcd",
            Error::InvalidTime { .. } => "invalid_time",
            Error::CoordinatesOutOfRange { .. } => "coordinates_out_of_range",
            Error::InvalidValue { .. } => "invalid_value",
            Error::BodyTooLong { .. } => "body_too_long",
            Error::FieldTooLong { .. } => "field_too_long",
            Error::PhoneTooLong { .. } => "phone_too_long",
            Error::ScratchTooSmall { .. } => "scratch_too_small",
        }
    }
}

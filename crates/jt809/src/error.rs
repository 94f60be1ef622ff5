//! The codec's errors: one enum for every layer, each naming the reason and, where there is one, the
//! byte offset it refers to.

/// Why bytes are not a JT/T 809 frame or message, or why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A run after an opening 0x5b grew past the frame cap without a closing 0x5d.
    #[error("no closing 0x5d within {max_bytes} bytes (the frame cap); {len} bytes discarded")]
    FrameTooLong {
        /// Bytes discarded.
        len: usize,
        /// The cap.
        max_bytes: usize,
    },
    /// The frame does not start with 0x5b and end with 0x5d.
    #[error("frame does not start with 0x5b and end with 0x5d")]
    MissingDelimiter,
    /// An escape byte (0x5a or 0x5e) not followed by 0x01 or 0x02, or a bare delimiter inside a frame.
    #[error("bad escape at offset {offset}: {byte:#04x} followed by {next}")]
    BadEscape {
        /// Offset in the escaped frame (the opening 0x5b is offset 0).
        offset: usize,
        /// The escape byte.
        byte: u8,
        /// What followed it, as text (`0x03`, `the end of the frame`).
        next: String,
    },
    /// A new 0x5b arrived before the frame in progress closed; the bytes so far are dropped.
    #[error("a frame of {len} bytes was cut off by a new 0x5b before its closing 0x5d")]
    Unterminated {
        /// Bytes dropped.
        len: usize,
    },
    /// Fewer bytes than the header and CRC of the edition need.
    #[error("frame has {len} bytes after unescaping; the {edition} header and CRC need at least {min}")]
    TooShort {
        /// Unescaped length, delimiters included.
        len: usize,
        /// Minimum.
        min: usize,
        /// The edition the link speaks.
        edition: &'static str,
    },
    /// The header's MSG_LENGTH is not the frame's length.
    #[error("MSG_LENGTH says {declared} bytes but the unescaped frame has {actual}")]
    LengthMismatch {
        /// From the header.
        declared: u32,
        /// Unescaped frame length, delimiters included.
        actual: usize,
    },
    /// The CRC-16/CCITT over header and body does not match.
    #[error("CRC mismatch: computed {computed:#06x}, frame has {in_frame:#06x}")]
    BadCrc {
        /// CRC of header and body.
        computed: u16,
        /// The frame's.
        in_frame: u16,
    },
    /// The header's encryption flag is neither 0 nor 1.
    #[error("encryption flag {flag} is neither 0 (plain) nor 1 (encrypted)")]
    BadEncryptFlag {
        /// The flag.
        flag: u8,
    },
    /// The body is encrypted and no key (M1, IA1, IC1) is configured for this peer.
    #[error("message {msg_id:#06x} is encrypted and no key (M1, IA1, IC1) is configured")]
    NoKey {
        /// The message.
        msg_id: u16,
    },
    /// A body ends before a field it must contain.
    #[error("body of {msg_id:#06x} truncated at offset {offset}: {needed} more bytes needed")]
    Truncated {
        /// Message (or sub-business) id.
        msg_id: u16,
        /// Offset in the body where the missing field starts.
        offset: usize,
        /// How many bytes are missing.
        needed: usize,
    },
    /// Bytes left over after the last field of a fixed layout.
    #[error("body of {msg_id:#06x} has {extra} bytes after its last field (offset {offset})")]
    TrailingBytes {
        /// Message (or sub-business) id.
        msg_id: u16,
        /// Offset of the first extra byte.
        offset: usize,
        /// How many.
        extra: usize,
    },
    /// A DATA_LENGTH (or INFO_LENGTH) field that disagrees with the bytes present.
    #[error("{field} of {msg_id:#06x} says {declared} bytes but {actual} follow")]
    DataLengthMismatch {
        /// Message (or sub-business) id.
        msg_id: u16,
        /// Field name.
        field: &'static str,
        /// Declared length.
        declared: u32,
        /// Bytes present.
        actual: usize,
    },
    /// A value the field cannot carry.
    #[error("invalid {field}: {value}")]
    InvalidValue {
        /// Field name.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// A text longer than its wire width once encoded in GBK.
    #[error("{field} is {len} bytes in GBK; the wire field holds {max}")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Encoded length.
        len: usize,
        /// Width.
        max: usize,
    },
    /// A text with characters GBK cannot encode.
    #[error("{field} has characters GBK cannot encode")]
    NotGbk {
        /// Field name.
        field: &'static str,
    },
    /// A position that is no track point (no such calendar time, coordinates out of range, a JT/T 808
    /// body that does not decode).
    #[error("position is not a track point: {reason}")]
    BadLocation {
        /// Why.
        reason: String,
    },
    /// A message that exists only in the other edition, or a header and body of different editions.
    #[error("{what} is not part of JT/T 809-{edition}")]
    WrongEdition {
        /// What was asked for.
        what: &'static str,
        /// The edition in use.
        edition: &'static str,
    },
}

impl Error {
    /// A short stable name for the reason, for metrics labels and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::FrameTooLong { .. } => "frame_too_long",
            Error::MissingDelimiter => "missing_delimiter",
            Error::BadEscape { .. } => "bad_escape",
            Error::Unterminated { .. } => "unterminated",
            Error::TooShort { .. } => "too_short",
            Error::LengthMismatch { .. } => "length_mismatch",
            Error::BadCrc { .. } => "bad_crc",
            Error::BadEncryptFlag { .. } => "bad_encrypt_flag",
            Error::NoKey { .. } => "no_key",
            Error::Truncated { .. } => "truncated",
            Error::TrailingBytes { .. } => "trailing_bytes",
            Error::DataLengthMismatch { .. } => "data_length_mismatch",
            Error::InvalidValue { .. } => "invalid_value",
            Error::FieldTooLong { .. } => "field_too_long",
            Error::NotGbk { .. } => "not_gbk",
            Error::BadLocation { .. } => "bad_location",
            Error::WrongEdition { .. } => "wrong_edition",
        }
    }

    /// The byte offset the error refers to, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            Error::BadEscape { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::TrailingBytes { offset, .. } => Some(offset),
            _ => None,
        }
    }
}

//! A pure JT/T 809 codec (2011 and 2019 editions), the protocol between a lower platform and an upper
//! one (下级平台 / 上级平台): no I/O, no clock, no async runtime.
//!
//! - **bytes -> [`Frame`]**: [`FrameDecoder::decode`] takes whole `5b ... 5d` frames off a `BytesMut`
//!   however TCP split them; [`Codec::decode_frame_into`] decodes one frame into a reused scratch
//!   buffer. Unescaping (`5a 01/02`, `5e 01/02`), MSG_LENGTH, the CRC-16/CCITT and the optional body
//!   cipher ([`Cipher`], M1/IA1/IC1) are checked in that order; any failure is an [`Error`] naming the
//!   reason.
//! - **[`Frame`] -> [`Message`]**: [`Message::decode`] by MSG_ID and the link's [`Edition`].
//! - **[`Message`] -> bytes**: [`Codec::encode_into`] writes header (2019: with the send time), body,
//!   encryption, CRC and escapes.
//!
//! ```
//! use tianshu_jt809::{Codec, Edition, Header, Message};
//!
//! let codec = Codec::new(Edition::V2011);
//! let frame = codec.encode(&Header::new(Edition::V2011, 0, 7, 20_180_920), &Message::KeepAlive)?;
//! let back = codec.decode_frame(&frame)?;
//! assert_eq!(back.header.msg_sn, 7);
//! assert_eq!(back.message()?, Message::KeepAlive);
//! # Ok::<(), tianshu_jt809::Error>(())
//! ```
#![deny(missing_docs)]

pub mod alarm;
pub mod duty;
mod error;
pub mod escape;
mod forward;
mod frame;
#[doc(hidden)]
pub mod fuzz_entry;
mod message;
mod position;
mod wire;

pub use error::Error;
pub use escape::{Cipher, crc16};
pub use forward::{BACKFILL_PER_MESSAGE, LIVE_WITHIN_MS, PositionsAsked, forwarded, positions_asked};
pub use frame::{
    Codec, DEFAULT_MAX_FRAME_BYTES, Edition, Frame, FrameDecoder, FrameRef, HEADER_LEN_2011, HEADER_LEN_2019,
    Header, access_code,
};
pub use message::*;

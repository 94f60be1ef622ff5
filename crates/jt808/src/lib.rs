//! A pure JT/T 808 codec (2011, 2013 and 2019 editions): no I/O, no clock, no async runtime.
//!
//! The data path reads top to bottom:
//!
//! - **bytes -> [`Frame`]**: [`FrameDecoder::decode`] takes whole `7e ... 7e` frames off a `BytesMut`
//!   (a `tokio_util::codec::Decoder` is a three-line wrapper), unescapes them in place, checks the
//!   XOR checksum and parses the header of either layout. Not enough bytes is `Ok(None)`; a run past the
//!   frame cap is [`Error::FrameTooLong`]. For one frame already in hand, [`decode_frame`] decodes
//!   without allocating.
//! - **[`Frame`] -> [`Message`]**: [`Frame::message`] decodes the body by message id and edition,
//!   borrowing from the frame (strings, item lists and batches are slices decoded lazily).
//! - **[`LocationReport`] -> [`Position`](tianshu_model::Position)**:
//!   [`LocationReport::to_position`] applies the sign bits and turns GMT+8 BCD into UTC.
//! - **[`Message`] -> bytes**: [`encode_message`] builds header, body, checksum and escapes.
//! - **parts -> message**: [`Reassembler`] joins subpackaged messages, with time passed in.
//!
//! Devices bend the standard (a wrong version flag, binary IMEIs in the phone field, bad checksums).
//! What the codec accepts anyway is never silent: it is a [`Leniencies`] bit on the frame or message.
//! Bad checksums and body-length mismatches are errors unless [`DecodeOptions::LENIENT`] is chosen.
//!
//! ```
//! use bytes::BytesMut;
//! use tianshu_jt808::{encode_message, FrameDecoder, GeneralAck, Header, Message, id};
//! use tianshu_model::{Edition, Phone, PositionSource, Timestamp, VehicleId};
//!
//! // A terminal's 0x0200 as it arrives, in two TCP reads.
//! let wire = hex::decode("7e0200002611223344556622b8000000010000000200ba7f0e07e4f11c0028003c000018071510101001040000006402020037577e").unwrap();
//! let mut decoder = FrameDecoder::default();
//! let mut buf = BytesMut::from(&wire[..20]);
//! assert!(decoder.decode(&mut buf)?.is_none()); // not a whole frame yet
//! buf.extend_from_slice(&wire[20..]);
//! let frame = decoder.decode(&mut buf)?.expect("a whole frame");
//! assert_eq!(frame.header.phone, Phone(112_233_445_566));
//!
//! let Message::Location(report) = frame.message()? else { panic!("a location report") };
//! let recv_time = Timestamp::from_secs(1_531_620_000);
//! let p = report.to_position(frame.header.phone, VehicleId(7), recv_time, PositionSource::Live)?;
//! assert_eq!((p.lat_e6, p.lon_e6, p.mileage_dkm), (12_222_222, 132_444_444, Some(100))); // 10.0 km
//! assert_eq!(p.fix_time, Timestamp::from_secs(1_531_620_610)); // 2018-07-15 10:10:10 GMT+8
//!
//! // The platform's acknowledgement, same layout and terminal.
//! let ack = Message::PlatformAck(GeneralAck {
//!     reply_serial: frame.header.serial,
//!     reply_msg_id: id::LOCATION,
//!     result: GeneralAck::RESULT_OK,
//! });
//! let mut out = BytesMut::new();
//! encode_message(&frame.header.reply(id::PLATFORM_ACK, 1), &ack, &mut out)?;
//! assert_eq!(out[0], 0x7e);
//! # let _ = Edition::V2013;
//! # Ok::<(), tianshu_jt808::Error>(())
//! ```
#![deny(missing_docs)]

pub mod bcd;
mod error;
pub mod escape;
mod frame;
#[doc(hidden)]
pub mod fuzz_entry;
mod header;
mod message;
mod reader;
mod reassembly;

pub use error::Error;
pub use frame::{
    DEFAULT_MAX_FRAME_BYTES, DecodeOptions, Frame, FrameDecoder, FrameRef, Leniencies, decode_frame,
    decode_frame_in_place, decode_next, decode_unescaped, encode_frame, encode_message, encode_message_as,
    encode_parts, find_frame, frames,
};
pub use header::{BodyAttributes, HEADER_LEN_2013, HEADER_LEN_2019, Header, MAX_BODY_LEN, Subpackage};
pub use message::*;
pub use reassembly::{Partial, Reassembled, Reassembler, ReassemblyError, ReassemblyLimits};

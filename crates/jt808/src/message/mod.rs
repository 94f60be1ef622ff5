//! Message bodies: one enum over every message the codec knows, decoding borrowed from the body.
//!
//! [`Message::decode`] picks the layout from the message id and the header's edition; where 2011 and
//! 2013 differ and the header cannot tell them apart (0x0100, 0x0702, 0x0801) the body's shape decides.
//! Any other id, and any single part of a subpackaged message, decodes to [`Message::Raw`].

mod ack;
mod driver;
mod location;
mod misc;
mod register;
mod text;

use bytes::{BufMut, BytesMut};
use tianshu_model::Edition;

pub use ack::{GeneralAck, MediaUploadAck, PacketRequest, RegisterAck};
pub use driver::DriverIdentity;
pub use location::{
    AdditionalItem, BASIC_LEN, BasicLocation, BatchItems, BatchIter, ItemIter, Items, LocationBatch,
    LocationReply, LocationReport,
};
pub use misc::{
    MediaEvent, MediaUpload, Parameter, ParameterIds, ParameterKind, ParameterList, Params, Passthrough,
    ServerTime, TerminalControl, TextMessage, TrackLocation,
};
pub use register::{Authenticate, Register, TerminalAttributes};
pub use text::{Text, WordList};

use crate::reader::Reader;
use crate::{Error, Header, Leniencies};

/// A repeated part of a body (additional items, a batch's reports, parameters): the wire bytes as
/// received, decoded lazily, or a caller's list to encode.
#[derive(Debug, Clone, Copy)]
pub enum WireOrList<'a, T> {
    /// The bytes as they stand in the body.
    Wire(&'a [u8]),
    /// Values to encode.
    List(&'a [T]),
}

/// Message ids.
pub mod id {
    /// Terminal general acknowledgement.
    pub const TERMINAL_ACK: u16 = 0x0001;
    /// Platform general acknowledgement.
    pub const PLATFORM_ACK: u16 = 0x8001;
    /// Heartbeat.
    pub const HEARTBEAT: u16 = 0x0002;
    /// Terminal logout.
    pub const LOGOUT: u16 = 0x0003;
    /// (2019) query server time.
    pub const QUERY_SERVER_TIME: u16 = 0x0004;
    /// (2019) server time answer.
    pub const SERVER_TIME: u16 = 0x8004;
    /// (2019) terminal asks for parts to be resent.
    pub const TERMINAL_PACKET_REQUEST: u16 = 0x0005;
    /// Platform asks for parts to be resent.
    pub const PACKET_REQUEST: u16 = 0x8003;
    /// Register.
    pub const REGISTER: u16 = 0x0100;
    /// Register answer.
    pub const REGISTER_ACK: u16 = 0x8100;
    /// Authenticate.
    pub const AUTHENTICATE: u16 = 0x0102;
    /// Set parameters.
    pub const SET_PARAMETERS: u16 = 0x8103;
    /// Query all parameters.
    pub const QUERY_PARAMETERS: u16 = 0x8104;
    /// Parameters answer.
    pub const PARAMETERS: u16 = 0x0104;
    /// Query the parameters with given ids.
    pub const QUERY_PARAMETER_IDS: u16 = 0x8106;
    /// Terminal control.
    pub const TERMINAL_CONTROL: u16 = 0x8105;
    /// Query terminal attributes.
    pub const QUERY_ATTRIBUTES: u16 = 0x8107;
    /// Terminal attributes.
    pub const ATTRIBUTES: u16 = 0x0107;
    /// Location report.
    pub const LOCATION: u16 = 0x0200;
    /// Query location.
    pub const QUERY_LOCATION: u16 = 0x8201;
    /// Location query answer.
    pub const LOCATION_REPLY: u16 = 0x0201;
    /// Temporary tracking.
    pub const TRACK_LOCATION: u16 = 0x8202;
    /// Text message.
    pub const TEXT_MESSAGE: u16 = 0x8300;
    /// Driver identity.
    pub const DRIVER_IDENTITY: u16 = 0x0702;
    /// Location batch.
    pub const LOCATION_BATCH: u16 = 0x0704;
    /// Multimedia event.
    pub const MEDIA_EVENT: u16 = 0x0800;
    /// Multimedia upload.
    pub const MEDIA_UPLOAD: u16 = 0x0801;
    /// Multimedia upload answer.
    pub const MEDIA_UPLOAD_ACK: u16 = 0x8800;
    /// Uplink pass-through.
    pub const UPLINK_PASSTHROUGH: u16 = 0x0900;
    /// Downlink pass-through.
    pub const DOWNLINK_PASSTHROUGH: u16 = 0x8900;
}

/// A decoded message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// 0x0001.
    TerminalAck(GeneralAck),
    /// 0x8001.
    PlatformAck(GeneralAck),
    /// 0x0002.
    Heartbeat,
    /// 0x0003.
    Logout,
    /// 0x0004 (2019).
    QueryServerTime,
    /// 0x8004 (2019).
    ServerTime(ServerTime),
    /// 0x0005 (2019).
    TerminalPacketRequest(PacketRequest<'a>),
    /// 0x8003.
    PacketRequest(PacketRequest<'a>),
    /// 0x0100.
    Register(Register<'a>),
    /// 0x8100.
    RegisterAck(RegisterAck<'a>),
    /// 0x0102.
    Authenticate(Authenticate<'a>),
    /// 0x8103.
    SetParameters(ParameterList<'a>),
    /// 0x8104.
    QueryParameters,
    /// 0x8106.
    QueryParameterIds(ParameterIds<'a>),
    /// 0x0104.
    Parameters {
        /// Serial of the 0x8104 (or 0x8106) answered.
        reply_serial: u16,
        /// The parameters.
        list: ParameterList<'a>,
    },
    /// 0x8105.
    TerminalControl(TerminalControl<'a>),
    /// 0x8107.
    QueryAttributes,
    /// 0x0107.
    Attributes(TerminalAttributes<'a>),
    /// 0x0200.
    Location(LocationReport<'a>),
    /// 0x8201.
    QueryLocation,
    /// 0x0201.
    LocationReply(LocationReply<'a>),
    /// 0x8202.
    TrackLocation(TrackLocation),
    /// 0x8300.
    TextMessage(TextMessage<'a>),
    /// 0x0702.
    DriverIdentity(DriverIdentity<'a>),
    /// 0x0704.
    LocationBatch(LocationBatch<'a>),
    /// 0x0800.
    MediaEvent(MediaEvent),
    /// 0x0801.
    MediaUpload(MediaUpload<'a>),
    /// 0x8800.
    MediaUploadAck(MediaUploadAck<'a>),
    /// 0x0900.
    UplinkPassthrough(Passthrough<'a>),
    /// 0x8900.
    DownlinkPassthrough(Passthrough<'a>),
    /// Any other id, or one part of a subpackaged message: the body as sent.
    Raw {
        /// Message id.
        msg_id: u16,
        /// The body.
        body: &'a [u8],
    },
}

/// The edition a body is laid out in: the header's, except that for the messages where 2011 and 2013
/// differ (0x0100, 0x0702, 0x0801) and the header cannot tell them apart, the body's shape decides.
pub fn body_edition(msg_id: u16, header_edition: Edition, body: &[u8]) -> Edition {
    match msg_id {
        id::REGISTER => Register::guess_edition(body, header_edition),
        id::DRIVER_IDENTITY => DriverIdentity::guess_edition(body, header_edition),
        id::MEDIA_UPLOAD => MediaUpload::guess_edition(body, header_edition),
        _ => header_edition,
    }
}

impl<'a> Message<'a> {
    /// Decodes `body` by the header's message id and edition. A part of a subpackaged message (total
    /// above 1) and an encrypted body are returned raw: reassemble first, then call [`Message::decode_body`].
    #[inline]
    pub fn decode(header: &Header, body: &'a [u8]) -> Result<Self, Error> {
        // The hot path: a plain location report.
        const NOT_PLAIN: u16 = 0b111 << 10 | crate::BodyAttributes::SUBPACKAGE;
        if header.msg_id == id::LOCATION && header.attributes.0 & NOT_PLAIN == 0 {
            return LocationReport::decode(body, id::LOCATION, 0).map(Message::Location);
        }
        // An encrypted body is not decoded blindly; a part is not a whole message.
        if header.attributes.encryption() != 0 || matches!(header.subpackage, Some(s) if s.total > 1) {
            return Ok(Message::Raw {
                msg_id: header.msg_id,
                body,
            });
        }
        Self::decode_body(header.msg_id, header.edition(), body)
    }

    /// Decodes a whole body. `edition` is the header's (2013 for the shared 2011/2013 layout); where
    /// 2011 differs, the body's shape decides.
    pub fn decode_body(msg_id: u16, edition: Edition, body: &'a [u8]) -> Result<Self, Error> {
        Self::decode_as(msg_id, body_edition(msg_id, edition, body), body)
    }

    /// Decodes a whole body in exactly the layout of `edition` (no guessing).
    pub fn decode_as(msg_id: u16, edition: Edition, body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body, msg_id);
        let r = &mut r;
        Ok(match msg_id {
            id::LOCATION => Message::Location(LocationReport::decode(body, msg_id, 0)?),
            id::TERMINAL_ACK => Message::TerminalAck(GeneralAck::decode(r)?),
            id::PLATFORM_ACK => Message::PlatformAck(GeneralAck::decode(r)?),
            id::HEARTBEAT => Message::Heartbeat,
            id::LOGOUT => Message::Logout,
            id::QUERY_SERVER_TIME => Message::QueryServerTime,
            id::SERVER_TIME => Message::ServerTime(ServerTime::decode(r)?),
            id::TERMINAL_PACKET_REQUEST => {
                Message::TerminalPacketRequest(PacketRequest::decode(r, Edition::V2019)?)
            }
            id::PACKET_REQUEST => Message::PacketRequest(PacketRequest::decode(r, edition)?),
            id::REGISTER => Message::Register(Register::decode(r, edition)?),
            id::REGISTER_ACK => Message::RegisterAck(RegisterAck::decode(r)?),
            id::AUTHENTICATE => Message::Authenticate(Authenticate::decode(r, edition)?),
            id::SET_PARAMETERS => Message::SetParameters(ParameterList::decode(r)?),
            id::QUERY_PARAMETERS => Message::QueryParameters,
            id::QUERY_PARAMETER_IDS => Message::QueryParameterIds(ParameterIds::decode(r)?),
            id::PARAMETERS => Message::Parameters {
                reply_serial: r.u16()?,
                list: ParameterList::decode(r)?,
            },
            id::TERMINAL_CONTROL => Message::TerminalControl(TerminalControl {
                command: r.u8()?,
                parameters: r.rest(),
            }),
            id::QUERY_ATTRIBUTES => Message::QueryAttributes,
            id::ATTRIBUTES => Message::Attributes(TerminalAttributes::decode(r, edition)?),
            id::QUERY_LOCATION => Message::QueryLocation,
            id::LOCATION_REPLY => {
                let reply_serial = r.u16()?;
                Message::LocationReply(LocationReply {
                    reply_serial,
                    report: LocationReport::decode(r.rest(), msg_id, 2)?,
                })
            }
            id::TRACK_LOCATION => Message::TrackLocation(TrackLocation {
                interval_secs: r.u16()?,
                validity_secs: r.u32()?,
            }),
            id::TEXT_MESSAGE => Message::TextMessage(TextMessage::decode(r, edition)?),
            id::DRIVER_IDENTITY => Message::DriverIdentity(DriverIdentity::decode(r, edition)?),
            id::LOCATION_BATCH => Message::LocationBatch(LocationBatch::decode(body, msg_id)?),
            id::MEDIA_EVENT => Message::MediaEvent(MediaEvent::decode(r)?),
            id::MEDIA_UPLOAD => Message::MediaUpload(MediaUpload::decode(r, edition)?),
            id::MEDIA_UPLOAD_ACK => Message::MediaUploadAck(MediaUploadAck::decode(r)?),
            id::UPLINK_PASSTHROUGH => Message::UplinkPassthrough(Passthrough::decode(r)?),
            id::DOWNLINK_PASSTHROUGH => Message::DownlinkPassthrough(Passthrough::decode(r)?),
            _ => Message::Raw { msg_id, body },
        })
    }

    /// The message id.
    pub const fn msg_id(&self) -> u16 {
        match self {
            Message::TerminalAck(_) => id::TERMINAL_ACK,
            Message::PlatformAck(_) => id::PLATFORM_ACK,
            Message::Heartbeat => id::HEARTBEAT,
            Message::Logout => id::LOGOUT,
            Message::QueryServerTime => id::QUERY_SERVER_TIME,
            Message::ServerTime(_) => id::SERVER_TIME,
            Message::TerminalPacketRequest(_) => id::TERMINAL_PACKET_REQUEST,
            Message::PacketRequest(_) => id::PACKET_REQUEST,
            Message::Register(_) => id::REGISTER,
            Message::RegisterAck(_) => id::REGISTER_ACK,
            Message::Authenticate(_) => id::AUTHENTICATE,
            Message::SetParameters(_) => id::SET_PARAMETERS,
            Message::QueryParameters => id::QUERY_PARAMETERS,
            Message::QueryParameterIds(_) => id::QUERY_PARAMETER_IDS,
            Message::Parameters { .. } => id::PARAMETERS,
            Message::TerminalControl(_) => id::TERMINAL_CONTROL,
            Message::QueryAttributes => id::QUERY_ATTRIBUTES,
            Message::Attributes(_) => id::ATTRIBUTES,
            Message::Location(_) => id::LOCATION,
            Message::QueryLocation => id::QUERY_LOCATION,
            Message::LocationReply(_) => id::LOCATION_REPLY,
            Message::TrackLocation(_) => id::TRACK_LOCATION,
            Message::TextMessage(_) => id::TEXT_MESSAGE,
            Message::DriverIdentity(_) => id::DRIVER_IDENTITY,
            Message::LocationBatch(_) => id::LOCATION_BATCH,
            Message::MediaEvent(_) => id::MEDIA_EVENT,
            Message::MediaUpload(_) => id::MEDIA_UPLOAD,
            Message::MediaUploadAck(_) => id::MEDIA_UPLOAD_ACK,
            Message::UplinkPassthrough(_) => id::UPLINK_PASSTHROUGH,
            Message::DownlinkPassthrough(_) => id::DOWNLINK_PASSTHROUGH,
            Message::Raw { msg_id, .. } => *msg_id,
        }
    }

    /// A short stable name, for logs and JSON.
    pub const fn name(&self) -> &'static str {
        match self {
            Message::TerminalAck(_) => "terminal_ack",
            Message::PlatformAck(_) => "platform_ack",
            Message::Heartbeat => "heartbeat",
            Message::Logout => "logout",
            Message::QueryServerTime => "query_server_time",
            Message::ServerTime(_) => "server_time",
            Message::TerminalPacketRequest(_) => "terminal_packet_request",
            Message::PacketRequest(_) => "packet_request",
            Message::Register(_) => "register",
            Message::RegisterAck(_) => "register_ack",
            Message::Authenticate(_) => "authenticate",
            Message::SetParameters(_) => "set_parameters",
            Message::QueryParameters => "query_parameters",
            Message::QueryParameterIds(_) => "query_parameter_ids",
            Message::Parameters { .. } => "parameters",
            Message::TerminalControl(_) => "terminal_control",
            Message::QueryAttributes => "query_attributes",
            Message::Attributes(_) => "attributes",
            Message::Location(_) => "location",
            Message::QueryLocation => "query_location",
            Message::LocationReply(_) => "location_reply",
            Message::TrackLocation(_) => "track_location",
            Message::TextMessage(_) => "text_message",
            Message::DriverIdentity(_) => "driver_identity",
            Message::LocationBatch(_) => "location_batch",
            Message::MediaEvent(_) => "media_event",
            Message::MediaUpload(_) => "media_upload",
            Message::MediaUploadAck(_) => "media_upload_ack",
            Message::UplinkPassthrough(_) => "uplink_passthrough",
            Message::DownlinkPassthrough(_) => "downlink_passthrough",
            Message::Raw { .. } => "raw",
        }
    }

    /// Body-level deviations from the standard that decoding accepted (frame-level ones are on the frame).
    pub fn leniencies(&self) -> Leniencies {
        match self {
            Message::Location(r) => r.leniencies(),
            Message::LocationReply(r) => r.report.leniencies(),
            Message::LocationBatch(b) => b.leniencies(),
            Message::MediaUpload(MediaUpload {
                location: Some(l), ..
            }) => l.leniencies(),
            _ => Leniencies::NONE,
        }
    }

    /// Appends the body in `edition`'s layout.
    pub fn encode_body(&self, edition: Edition, out: &mut BytesMut) -> Result<(), Error> {
        match self {
            Message::TerminalAck(a) | Message::PlatformAck(a) => a.write(out),
            Message::Heartbeat
            | Message::Logout
            | Message::QueryServerTime
            | Message::QueryParameters
            | Message::QueryAttributes
            | Message::QueryLocation => {}
            Message::ServerTime(t) => t.write(out),
            Message::TerminalPacketRequest(p) => p.write(out, Edition::V2019)?,
            Message::PacketRequest(p) => p.write(out, edition)?,
            Message::Register(r) => r.write(out, edition)?,
            Message::RegisterAck(a) => a.write(out),
            Message::Authenticate(a) => a.write(out, edition)?,
            Message::SetParameters(l) => l.write(out)?,
            Message::QueryParameterIds(ids) => ids.write(out)?,
            Message::Parameters { reply_serial, list } => {
                out.put_u16(*reply_serial);
                list.write(out)?;
            }
            Message::TerminalControl(c) => {
                out.put_u8(c.command);
                out.put_slice(c.parameters);
            }
            Message::Attributes(a) => a.write(out, edition)?,
            Message::Location(r) => r.write(out)?,
            Message::LocationReply(r) => {
                out.put_u16(r.reply_serial);
                r.report.write(out)?;
            }
            Message::TrackLocation(t) => {
                out.put_u16(t.interval_secs);
                out.put_u32(t.validity_secs);
            }
            Message::TextMessage(t) => t.write(out, edition),
            Message::DriverIdentity(d) => d.write(out, edition)?,
            Message::LocationBatch(b) => b.write(out)?,
            Message::MediaEvent(e) => e.write(out),
            Message::MediaUpload(m) => m.write(out, edition),
            Message::MediaUploadAck(a) => a.write(out)?,
            Message::UplinkPassthrough(p) | Message::DownlinkPassthrough(p) => p.write(out),
            Message::Raw { body, .. } => out.put_slice(body),
        }
        Ok(())
    }
}

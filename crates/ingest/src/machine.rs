//! One terminal connection's protocol, as a state machine: frames in, actions out, time passed in.
//!
//! A connection is in one of two phases. **Before authentication** only 0x0100 (register) and 0x0102
//! (authenticate) are allowed; anything else closes the connection and nothing is stored. A deadline bounds
//! this phase. **Once authenticated** (the phone bound to a vehicle), position reports (0x0200, 0x0201,
//! 0x0704) become points through the one [`Uplink`] and are handed on to be made durable; each frame is
//! answered with 0x8001 only once its points are durable, and the answers go out in the order the frames
//! came. If the store fails, the frames stay unanswered and the terminal retransmits. An authenticated
//! connection silent for three heartbeat intervals is closed.
//!
//! Every protocol error (undecodable frame or body, a frame for another phone) is charged to the
//! connection's error budget; past it the connection closes.
//!
//! The machine does no I/O and reads no clock. The session's I/O loop (the `session` module) feeds it frames,
//! completions and the time ([`Now`]), writes what it encodes ([`Machine::output`]), wakes it at
//! [`Machine::wake_at`], and carries out its [`Action`]s (hand points to the sink, look up the registry,
//! resolve a command's waiter), giving their results back ([`Machine::on_stored`], [`Machine::on_login`]).
//! The loop must give stored results back in the order the actions came.

use std::time::Instant;

use bytes::BytesMut;
use tianshu_jt808::{
    Authenticate, Frame, GeneralAck, Header, Leniencies, MAX_BODY_LEN, Message, PacketRequest, Reassembler,
    ReassemblyLimits, Register, RegisterAck, ServerTime, Text, WordList, encode_message, id,
};
use tianshu_model::{Edition, Phone, Position, PositionSource, Timestamp, VehicleId};
use tianshu_store::{AppendSummary, DriverEvent};
use tracing::{debug, info, warn};

use crate::clock::TerminalClock;
use crate::config::GatewayConfig;
use crate::downlink::{Command, DownlinkError, Reply};
use crate::login::{AuthRequest, LoginOutcome, LoginRequest, RegisterRequest};
use crate::metrics::{METRICS, msg_id_label};
use crate::text::gbk_text;
use crate::uplink::{Binding, Uplink, error_kind};

/// The time, as the I/O loop passes it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    /// Monotonic: deadlines and latencies.
    pub at: Instant,
    /// Wall clock: receive times, server time and the subpackage clock.
    pub wall: Timestamp,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connected, not yet authenticated: only register and authenticate are allowed.
    PreAuth,
    /// Authenticated as `phone`, reporting for `vehicle`.
    Online {
        /// The terminal.
        phone: Phone,
        /// Its vehicle.
        vehicle: VehicleId,
    },
}

/// What to do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep going.
    Continue,
    /// Close now (after flushing what is written), for this reason.
    Close(&'static str),
}

/// The 0x8001 answers owed once a batch is durable: given back to [`Machine::on_stored`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owed {
    /// A header of the terminal's layout to answer with.
    reply_to: Header,
    /// (serial, message id) of each frame to acknowledge.
    frames: Vec<(u16, u16)>,
    /// When the frame was received, for the latency histogram.
    received: Instant,
    /// Points in it that arrived as blind-area backfill.
    backfilled: u64,
}

/// What the I/O loop is asked to do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Hand `points` to the sink; once they are durable (or failed), give `owed` back to
    /// [`Machine::on_stored`].
    Append {
        /// The points of one frame.
        points: Vec<Position>,
        /// What their durability answers.
        owed: Owed,
    },
    /// Store a driver's sign-in or sign-out; then as for [`Action::Append`].
    AppendDriverEvent {
        /// The event.
        event: Box<DriverEvent>,
        /// What its durability answers.
        owed: Owed,
    },
    /// Decide a login against the registry and give the outcome to [`Machine::on_login`] before the next
    /// frame.
    Login(LoginRequest),
    /// Resolve the waiter of the command sent with `serial` (the oldest, for `None`) that expects an answer
    /// `reply_msg_id`.
    Resolve {
        /// The command's serial, when the answer names it.
        serial: Option<u16>,
        /// The answer's message id.
        reply_msg_id: u16,
        /// The answer.
        reply: Reply,
    },
    /// The connection is now the online session of `phone`: list it, open its mailbox.
    Online(Phone),
    /// The terminal's live fixes show a steady clock offset new to this connection: store it.
    ClockFound(Phone, i32),
}

/// One connection's protocol state.
pub(crate) struct Machine<'c> {
    /// The settings.
    config: &'c GatewayConfig,
    /// Authenticated or not.
    phase: Phase,
    /// The header layout the terminal uses, for frames the platform initiates.
    edition: Edition,
    /// Protocol errors so far.
    errors: u32,
    /// The platform's own serial for the frames it sends on this connection.
    serial: u16,
    /// Encoded frames waiting to be written.
    out: BytesMut,
    /// Set when the connection should close once its owed acknowledgements are out.
    closing: Option<&'static str>,
    /// When the connection closes for silence (or for not authenticating).
    deadline: Instant,
    /// Subpackaged messages being gathered; created on the first part (most terminals never send one).
    parts: Option<Box<Reassembler>>,
    /// (serial, message id) of parts of position messages, answered once the whole message is durable.
    held_parts: Vec<(u16, u16)>,
    /// When to look for overdue subpackaged messages.
    parts_check: Option<Instant>,
    /// The frames a reassembled message answers for (all its parts), while it is being handled.
    owed_override: Option<Vec<(u16, u16)>>,
    /// The last code issued on this connection, with the phone and serial of the 0x0100 it answered: a
    /// terminal that retransmits that 0x0100 (our 0x8100 was lost or late) gets the same code again, not a
    /// new one that would make the first answer's code, which it may already be using, fail.
    issued: Option<Box<(Phone, u16, String)>>,
    /// The terminal's clock once authenticated (boxed: an idle connection stays small).
    clock: Option<Box<TerminalClock>>,
}

impl<'c> Machine<'c> {
    /// A connection accepted at `now`.
    pub fn new(config: &'c GatewayConfig, now: Instant) -> Self {
        Machine {
            config,
            phase: Phase::PreAuth,
            edition: Edition::V2013,
            errors: 0,
            serial: 0,
            out: BytesMut::new(),
            closing: None,
            deadline: now + config.pre_auth_timeout(),
            parts: None,
            held_parts: Vec::new(),
            parts_check: None,
            owed_override: None,
            issued: None,
            clock: None,
        }
    }

    /// The encoded frames to write; the I/O loop empties it.
    pub fn output(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Why the connection is to close once its owed acknowledgements are out, if it is.
    pub fn closing(&self) -> Option<&'static str> {
        self.closing
    }

    /// The phone of the authenticated terminal.
    pub fn online_phone(&self) -> Option<Phone> {
        match self.phase {
            Phase::Online { phone, .. } => Some(phone),
            Phase::PreAuth => None,
        }
    }

    /// When to call [`Machine::on_timer`] next.
    pub fn wake_at(&self) -> Instant {
        self.parts_check.map_or(self.deadline, |t| t.min(self.deadline))
    }

    /// Stop reading and close once the owed acknowledgements are out (the peer closed its side).
    pub fn close_after_acks(&mut self, reason: &'static str) {
        self.closing = Some(reason);
    }

    /// A newer connection of this terminal authenticated: close this one.
    pub fn replaced(&mut self) {
        info!("a newer connection of this terminal authenticated; closing this one");
        self.closing = Some("replaced");
    }

    /// Time passed: the deadline closes the connection; overdue subpackaged messages are asked for.
    pub fn on_timer(&mut self, now: Now) -> Flow {
        if now.at >= self.deadline {
            return Flow::Close(if self.online_phone().is_some() {
                "idle_timeout"
            } else {
                "pre_auth_timeout"
            });
        }
        if self.parts_check.is_some_and(|t| now.at >= t) {
            self.check_parts(now);
        }
        Flow::Continue
    }

    /// Bytes that were meant as a frame but are not one.
    pub fn on_bad_frame(&mut self, e: &tianshu_jt808::Error) -> Flow {
        METRICS.decode_errors.with_label_values(&[error_kind(e)]).inc();
        debug!(error = %e, "bad frame");
        if self.online_phone().is_none() {
            // A terminal that has not authenticated gets no benefit of the doubt.
            return Flow::Close("bad_frame_before_auth");
        }
        self.charge_error()
    }

    /// A frame from the terminal.
    pub fn on_frame(&mut self, frame: Frame, now: Now, act: &mut impl FnMut(Action)) -> Flow {
        let flow = self.frame(frame, now, act);
        self.heard(flow, now);
        flow
    }

    /// What the registry decided about the login asked for by [`Action::Login`].
    pub fn on_login(&mut self, outcome: LoginOutcome, now: Now, act: &mut impl FnMut(Action)) -> Flow {
        let flow = match outcome {
            LoginOutcome::Unanswered => Flow::Continue,
            LoginOutcome::Registered { header, result, code } => {
                self.register_ack(&header, result, code.as_deref());
                if let Some(code) = code {
                    self.issued = Some(Box::new((header.phone, header.serial, code)));
                }
                Flow::Continue
            }
            LoginOutcome::Refused { header, reason } => {
                self.answer(&header, header.serial, header.msg_id, GeneralAck::RESULT_FAILED);
                match (reason, self.phase) {
                    ("throttled", _) => Flow::Close("auth_throttled"),
                    (_, Phase::Online { .. }) => Flow::Close("auth_failed"),
                    (_, Phase::PreAuth) => Flow::Continue,
                }
            }
            LoginOutcome::Authenticated {
                header,
                vehicle,
                clock,
            } => {
                self.issued = None;
                self.clock = Some(clock);
                self.answer(&header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
                if self.phase == Phase::PreAuth {
                    self.phase = Phase::Online {
                        phone: header.phone,
                        vehicle,
                    };
                    self.edition = header.edition();
                    act(Action::Online(header.phone));
                }
                Flow::Continue
            }
        };
        self.heard(flow, now);
        flow
    }

    /// A batch handed on by [`Action::Append`] (or a driver event) became durable: answer its frames. Or it
    /// failed: answer nothing, so the terminal retransmits. `at` is now, for the latency histogram.
    pub fn on_stored(&mut self, owed: Owed, result: tianshu_store::Result<AppendSummary>, at: Instant) {
        match result {
            Ok(summary) => {
                METRICS.points_stored.inc_by(summary.inserted);
                METRICS.points_duplicate.inc_by(summary.duplicates);
                METRICS.points_backfilled.inc_by(owed.backfilled);
                for (serial, msg_id) in &owed.frames {
                    self.answer(&owed.reply_to, *serial, *msg_id, GeneralAck::RESULT_OK);
                }
                METRICS
                    .ack_latency_seconds
                    .observe(at.saturating_duration_since(owed.received).as_secs_f64());
            }
            Err(e) => {
                METRICS.store_failures.inc();
                // The writer logs the failed commit once; every session it concerned only counts it.
                debug!(error = %e, frames = owed.frames.len(), "store did not make the points durable; not acknowledged");
            }
        }
    }

    /// An administrator set the terminal's clock offset to `secs`: later fixes are corrected by it.
    pub fn set_clock_offset(&mut self, secs: i32) {
        self.clock.iter_mut().for_each(|c| c.set_offset(secs));
    }

    /// Encodes a platform command for the terminal; the phone and the serial it went out with, for matching
    /// the answer.
    pub fn send_command(&mut self, command: &Command) -> Result<(Phone, u16), DownlinkError> {
        let Phase::Online { phone, .. } = self.phase else {
            return Err(DownlinkError::Closed(Phone(0)));
        };
        let serial = self.next_serial();
        let header = Header::new(command.msg_id(), phone, serial, self.edition);
        command.encode(&header, &mut self.out)?;
        debug!(msg_id = command.msg_id(), serial, "command sent");
        Ok((phone, serial))
    }

    /// An online terminal that was heard from gets another idle period.
    fn heard(&mut self, flow: Flow, now: Now) {
        if flow == Flow::Continue && self.online_phone().is_some() {
            self.deadline = now.at + self.config.idle_timeout();
        }
    }

    fn next_serial(&mut self) -> u16 {
        let s = self.serial;
        self.serial = self.serial.wrapping_add(1);
        s
    }

    fn charge_error(&mut self) -> Flow {
        self.errors += 1;
        if self.errors > self.config.error_budget {
            warn!(errors = self.errors, "error budget exhausted; closing");
            Flow::Close("error_budget")
        } else {
            Flow::Continue
        }
    }

    /// Appends a 0x8001 answering `(serial, msg_id)` of the terminal whose header is `to`.
    fn answer(&mut self, to: &Header, serial: u16, msg_id: u16, result: u8) {
        let ack = Message::PlatformAck(GeneralAck {
            reply_serial: serial,
            reply_msg_id: msg_id,
            result,
        });
        let header = to.reply(id::PLATFORM_ACK, self.next_serial());
        if let Err(e) = encode_message(&header, &ack, &mut self.out) {
            warn!(error = %e, "encoding 0x8001 failed");
        }
    }

    /// A body that did not decode: counted, answered "bad message" once online, charged.
    fn bad_body(&mut self, header: &Header, e: &tianshu_jt808::Error) -> Flow {
        METRICS.decode_errors.with_label_values(&[error_kind(e)]).inc();
        debug!(error = %e, msg_id = header.msg_id, "body did not decode");
        if self.online_phone().is_some() {
            self.answer_bad_message(header);
        }
        self.charge_error()
    }

    /// Answers the frame of `header` "bad message" (0x8001 result 2).
    fn answer_bad_message(&mut self, header: &Header) {
        self.answer(
            header,
            header.serial,
            header.msg_id,
            GeneralAck::RESULT_BAD_MESSAGE,
        );
    }

    /// A frame whose checksum or body length is wrong, not accepted: an authenticated terminal is answered
    /// "bad message" (0x8001 result 2, so it resends at once rather than after its timeout) and charged an
    /// error; before authentication the connection is closed.
    fn damaged_frame(&mut self, header: &Header, damaged: Leniencies) -> Flow {
        for kind in damaged.names() {
            METRICS.decode_errors.with_label_values(&[kind]).inc();
        }
        debug!(
            msg_id = header.msg_id,
            serial = header.serial,
            "damaged frame refused"
        );
        if self.online_phone().is_none() {
            return Flow::Close("bad_frame_before_auth");
        }
        self.answer_bad_message(header);
        self.charge_error()
    }

    fn frame(&mut self, frame: Frame, now: Now, act: &mut impl FnMut(Action)) -> Flow {
        let header = frame.header;
        METRICS
            .frames_received
            .with_label_values(&[msg_id_label(header.msg_id)])
            .inc();
        let damaged = Leniencies(
            frame.leniencies.0 & (Leniencies::BAD_CHECKSUM.0 | Leniencies::BODY_LENGTH_MISMATCH.0),
        );
        if !damaged.is_empty() && !self.config.accept_bad_checksum {
            return self.damaged_frame(&header, damaged);
        }
        for kind in frame.leniencies.names() {
            METRICS.leniencies.with_label_values(&[kind]).inc();
        }
        let is_login = matches!(header.msg_id, id::REGISTER | id::AUTHENTICATE);
        let is_part = header.subpackage.is_some_and(|s| s.total > 1);
        match self.phase {
            Phase::PreAuth if is_part || !is_login => {
                METRICS
                    .auth_failures
                    .with_label_values(&["frame_before_auth"])
                    .inc();
                info!(phone = %header.phone, msg_id = header.msg_id, "frame before authentication; closing");
                return Flow::Close("frame_before_auth");
            }
            Phase::PreAuth => {}
            Phase::Online { phone, .. } if header.phone != phone => {
                METRICS.decode_errors.with_label_values(&["phone_mismatch"]).inc();
                debug!(other = %header.phone, "frame for another phone on this connection");
                return self.charge_error();
            }
            Phase::Online { .. } if is_part => return self.handle_part(&frame, now, act),
            Phase::Online { .. } => {}
        }
        match frame.message() {
            Ok(Message::Register(r)) => self.register(&header, &r, frame.body.len(), act),
            Ok(Message::Authenticate(a)) => self.authenticate(&header, &a, act),
            Ok(message) => {
                for kind in message.leniencies().names() {
                    METRICS.leniencies.with_label_values(&[kind]).inc();
                }
                self.handle_message(&header, message, now, act)
            }
            Err(e) if is_login => {
                // A login body that does not decode is answered even before authentication.
                METRICS.decode_errors.with_label_values(&[error_kind(&e)]).inc();
                debug!(error = %e, msg_id = header.msg_id, "body did not decode");
                self.answer_bad_message(&header);
                self.charge_error()
            }
            Err(e) => self.bad_body(&header, &e),
        }
    }

    /// A 0x0100: the registry decides, unless it retransmits the one just answered.
    fn register(
        &mut self,
        header: &Header,
        r: &Register<'_>,
        body_len: usize,
        act: &mut impl FnMut(Action),
    ) -> Flow {
        if let Some(issued) = self.issued.take()
            && issued.0 == header.phone
            && issued.1 == header.serial
        {
            // A retransmission of the registration just answered: the same answer again.
            METRICS.registrations.with_label_values(&["retransmitted"]).inc();
            self.register_ack(header, RegisterAck::RESULT_OK, Some(&issued.2));
            self.issued = Some(issued);
            return Flow::Continue;
        }
        act(Action::Login(LoginRequest::Register(RegisterRequest::new(
            header, r, body_len,
        ))));
        Flow::Continue
    }

    fn register_ack(&mut self, to: &Header, result: u8, code: Option<&str>) {
        let ack = Message::RegisterAck(RegisterAck {
            reply_serial: to.serial,
            result,
            auth_code: code.map(|c| Text(c.as_bytes())),
        });
        let serial = self.next_serial();
        if let Err(e) = encode_message(&to.reply(id::REGISTER_ACK, serial), &ack, &mut self.out) {
            warn!(error = %e, "encoding 0x8100 failed");
        }
    }

    /// A 0x0102: the registry decides; a connection does not change its phone.
    fn authenticate(&mut self, header: &Header, a: &Authenticate<'_>, act: &mut impl FnMut(Action)) -> Flow {
        if let Phase::Online { phone, .. } = self.phase
            && phone != header.phone
        {
            METRICS.auth_failures.with_label_values(&["phone_change"]).inc();
            return Flow::Close("phone_change");
        }
        act(Action::Login(LoginRequest::Authenticate(AuthRequest::new(
            header, a,
        ))));
        Flow::Continue
    }

    /// A part of a subpackaged message: kept until all parts are in, then handled as one message. Parts of
    /// a position batch are answered when the whole batch is durable; other parts when they arrive.
    fn handle_part(&mut self, frame: &Frame, now: Now, act: &mut impl FnMut(Action)) -> Flow {
        let header = frame.header;
        let cfg = self.config;
        let limits = ReassemblyLimits {
            max_parts: cfg.subpackage_max_parts,
            max_message_bytes: usize::from(cfg.subpackage_max_parts).saturating_mul(MAX_BODY_LEN),
            max_pending: 4,
            max_age_ms: i64::try_from(cfg.subpackage_timeout().as_millis())
                .unwrap_or(i64::MAX)
                .saturating_mul(3),
        };
        let parts = self
            .parts
            .get_or_insert_with(|| Box::new(Reassembler::new(limits)));
        let pushed = parts.push(frame, now.wall);
        let holds_points = matches!(
            header.msg_id,
            id::LOCATION | id::LOCATION_REPLY | id::LOCATION_BATCH
        );
        match pushed {
            Err(e) => {
                METRICS.subpackages.with_label_values(&["refused"]).inc();
                info!(error = %e, msg_id = header.msg_id, "subpackage refused");
                self.held_parts.retain(|(_, id)| *id != header.msg_id);
                self.answer(&header, header.serial, header.msg_id, GeneralAck::RESULT_FAILED);
                self.charge_error()
            }
            Ok(None) => {
                if !holds_points {
                    self.answer(&header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
                } else if self.held_parts.len() < usize::from(cfg.subpackage_max_parts) {
                    self.held_parts.push((header.serial, header.msg_id));
                }
                self.parts_check.get_or_insert(now.at + cfg.subpackage_timeout());
                Flow::Continue
            }
            Ok(Some(whole)) => {
                METRICS.subpackages.with_label_values(&["complete"]).inc();
                let mut owed: Vec<(u16, u16)> = Vec::new();
                if holds_points {
                    owed.extend(self.held_parts.iter().filter(|(_, id)| *id == header.msg_id));
                    self.held_parts.retain(|(_, id)| *id != header.msg_id);
                    owed.push((header.serial, header.msg_id));
                } else {
                    self.answer(&header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
                }
                match Message::decode_body(whole.header.msg_id, whole.header.edition(), &whole.body) {
                    Ok(message) => {
                        self.owed_override = Some(owed);
                        let flow = self.handle_message(&whole.header, message, now, act);
                        self.owed_override = None;
                        flow
                    }
                    Err(e) => {
                        METRICS.decode_errors.with_label_values(&[error_kind(&e)]).inc();
                        for (serial, msg_id) in owed {
                            self.answer(&header, serial, msg_id, GeneralAck::RESULT_BAD_MESSAGE);
                        }
                        self.charge_error()
                    }
                }
            }
        }
    }

    /// Asks for the missing parts of subpackaged messages that waited past the timeout (0x8003), and drops
    /// those that waited three timeouts.
    fn check_parts(&mut self, now: Now) {
        self.parts_check = None;
        let Phase::Online { phone, .. } = self.phase else {
            return;
        };
        let timeout = self.config.subpackage_timeout();
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let Some(parts) = self.parts.as_mut() else { return };
        for gone in parts.expire(now.wall) {
            METRICS.subpackages.with_label_values(&["expired"]).inc();
            self.held_parts.retain(|(_, id)| *id != gone.msg_id);
            info!(
                msg_id = gone.msg_id,
                missing = gone.missing.len(),
                "subpackaged message expired"
            );
        }
        let overdue = parts.overdue(now.wall, timeout_ms);
        let still_pending = parts.pending() > 0;
        // A 2013 count is one byte: ask for at most 255 parts at a time.
        let limit = if self.edition == Edition::V2019 {
            usize::from(u16::MAX)
        } else {
            255
        };
        for partial in overdue {
            METRICS
                .subpackages
                .with_label_values(&["requested_missing"])
                .inc();
            let missing: Vec<u16> = partial.missing.iter().copied().take(limit).collect();
            let request = Message::PacketRequest(PacketRequest {
                first_serial: partial.first_serial,
                packet_indexes: WordList::Values(&missing),
            });
            let serial = self.next_serial();
            let header = Header::new(id::PACKET_REQUEST, phone, serial, self.edition);
            if let Err(e) = encode_message(&header, &request, &mut self.out) {
                warn!(error = %e, "encoding 0x8003 failed");
            }
            debug!(
                msg_id = partial.msg_id,
                missing = missing.len(),
                "asked for missing parts"
            );
        }
        self.parts_check = still_pending.then(|| now.at + timeout);
    }

    fn handle_message(
        &mut self,
        header: &Header,
        message: Message<'_>,
        now: Now,
        act: &mut impl FnMut(Action),
    ) -> Flow {
        let Phase::Online { phone, vehicle } = self.phase else {
            return Flow::Close("frame_before_auth");
        };
        let binding = Binding {
            phone,
            vehicle,
            recv_time: now.wall,
            clock_offset_secs: self.clock.as_ref().map_or(0, |c| c.offset_secs()),
            config: self.config.uplink,
        };
        if let Some(uplink) = Uplink::from_message(&message, binding) {
            if let Some(found) = self
                .clock
                .as_mut()
                .and_then(|c| c.observe(phone, &uplink, now.wall))
            {
                act(Action::ClockFound(phone, found));
            }
            if let (Message::LocationReply(reply), Some(p)) = (&message, uplink.points.first()) {
                act(Action::Resolve {
                    serial: Some(reply.reply_serial),
                    reply_msg_id: id::LOCATION_REPLY,
                    reply: Reply::Position(*p),
                });
            }
            self.submit(header, uplink, now.at, act);
            return Flow::Continue;
        }
        let resolve = |serial, reply_msg_id, reply| Action::Resolve {
            serial,
            reply_msg_id,
            reply,
        };
        match message {
            Message::Heartbeat | Message::UplinkPassthrough(_) => {
                self.answer(header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
            }
            Message::Logout => {
                self.answer(header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
                info!("terminal logged out");
                self.closing = Some("logout");
            }
            Message::DriverIdentity(d) => self.driver_event(header, &d, binding, now.at, act),
            Message::TerminalAck(ack) => act(resolve(
                Some(ack.reply_serial),
                id::TERMINAL_ACK,
                Reply::General { result: ack.result },
            )),
            Message::Parameters { reply_serial, list } => {
                let params = list
                    .iter()
                    .filter_map(Result::ok)
                    .map(|p| (p.id, p.value.to_vec()))
                    .collect();
                act(resolve(
                    Some(reply_serial),
                    id::PARAMETERS,
                    Reply::Parameters(params),
                ));
            }
            Message::Attributes(a) => act(resolve(
                None,
                id::ATTRIBUTES,
                Reply::Attributes(Box::new(crate::parameters::attributes(&a))),
            )),
            Message::QueryServerTime => {
                let serial = self.next_serial();
                let reply = Message::ServerTime(ServerTime { time: now.wall });
                if let Err(e) = encode_message(&header.reply(id::SERVER_TIME, serial), &reply, &mut self.out)
                {
                    warn!(error = %e, "encoding 0x8004 failed");
                }
            }
            other => {
                let msg_id = other.msg_id();
                METRICS
                    .unsupported_messages
                    .with_label_values(&[msg_id_label(msg_id)])
                    .inc();
                debug!(msg_id, "unsupported message");
                self.answer(
                    header,
                    header.serial,
                    header.msg_id,
                    GeneralAck::RESULT_UNSUPPORTED,
                );
            }
        }
        Flow::Continue
    }

    /// The frames the message being handled answers for: all parts of a reassembled message, else itself.
    fn owed_frames(&mut self, header: &Header) -> Vec<(u16, u16)> {
        self.owed_override
            .take()
            .unwrap_or_else(|| vec![(header.serial, header.msg_id)])
    }

    /// Hands the points of one frame on; the frame is answered when they are durable. Refused reports are
    /// counted (a bad batch item does not hide the good ones); a frame with no good report is answered "bad
    /// message".
    fn submit(&mut self, header: &Header, uplink: Uplink, received: Instant, act: &mut impl FnMut(Action)) {
        for refused in &uplink.refused {
            METRICS.decode_errors.with_label_values(&[refused.reason]).inc();
            debug!(reason = refused.reason, detail = %refused.detail, "location report refused");
        }
        METRICS.points_far_past.inc_by(u64::from(uplink.far_past));
        let frames = self.owed_frames(header);
        let points = uplink.points;
        if points.is_empty() {
            for (serial, msg_id) in frames {
                self.answer(header, serial, msg_id, GeneralAck::RESULT_BAD_MESSAGE);
            }
            return;
        }
        let backfilled = points
            .iter()
            .filter(|p| p.source == PositionSource::Backfill)
            .count() as u64;
        let owed = Owed {
            reply_to: *header,
            frames,
            received,
            backfilled,
        };
        act(Action::Append { points, owed });
    }

    /// 0x0702: a driver signed in or out; answered once the event is durable.
    fn driver_event(
        &mut self,
        header: &Header,
        d: &tianshu_jt808::DriverIdentity<'_>,
        binding: Binding,
        received: Instant,
        act: &mut impl FnMut(Action),
    ) {
        let signed_in = match d.status {
            Some(s) => s == tianshu_jt808::DriverIdentity::STATUS_INSERTED,
            None => !d.name.is_empty(),
        };
        let time = match d.time() {
            Some(Ok(t)) => tianshu_model::clock::corrected(t, binding.clock_offset_secs),
            Some(Err(_)) | None => binding.recv_time,
        };
        let event = Box::new(DriverEvent {
            vehicle: binding.vehicle,
            phone: binding.phone,
            time,
            signed_in,
            name: gbk_text(d.name),
            certificate: gbk_text(d.qualification),
        });
        let owed = Owed {
            reply_to: *header,
            frames: vec![(header.serial, header.msg_id)],
            received,
            backfilled: 0,
        };
        act(Action::AppendDriverEvent { event, owed });
    }
}

#[cfg(test)]
#[path = "machine/tests.rs"]
mod tests;

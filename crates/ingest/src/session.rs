//! One terminal connection, from accept to close.
//!
//! A session is in one of two phases. **Before authentication** only 0x0100 (register) and 0x0102
//! (authenticate) are allowed; anything else closes the connection and nothing is stored. A deadline bounds
//! this phase. **Once authenticated** (the phone bound to a vehicle), position reports (0x0200, 0x0201,
//! 0x0704) are handed to the sink and answered with 0x8001 only when the sink says they are durable; the
//! session keeps reading meanwhile (up to `max_in_flight_per_connection` frames awaiting durability), and
//! acknowledgements go out in the order the frames came. If the store fails, the frames stay unanswered and
//! the terminal retransmits. An authenticated connection silent for three heartbeat intervals is closed.
//!
//! Every protocol error (undecodable frame or body, a frame for another phone) is charged to the
//! connection's error budget; past it the connection closes. Nothing here can affect another connection:
//! the only shared state is the online table, the throttle and the sink, all bounded.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use tianshu_jt808::{
    Authenticate, DecodeOptions, Frame, GeneralAck, Header, MAX_BODY_LEN, Message, PacketRequest, Parameter,
    ParameterList, Params, Reassembler, ReassemblyLimits, Register, RegisterAck, ServerTime, TerminalControl,
    Text, TextMessage, TrackLocation, WordList, encode_message, id,
};
use tianshu_model::{Edition, Phone, PositionSource, Timestamp, VehicleId};
use tianshu_store::{AppendSummary, DriverEvent};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use tokio::time::Sleep;
use tokio_util::codec::FramedRead;

use tracing::{debug, info, warn};

use crate::auth;
use crate::codec::{Inbound, Jt808Codec};
use crate::downlink::{Command, DownlinkError, Mailbox, Pending, Reply, Request, SessionHandle};
use crate::metrics::{METRICS, msg_id_label};
use crate::server::{Gateway, Stop};
use crate::uplink::{Binding, Uplink, error_kind};

/// Where a session is in its life.
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
        /// This connection's generation in the online table.
        generation: u64,
    },
}

/// What to do after handling a frame.
enum Flow {
    /// Keep going.
    Continue,
    /// Close now (after flushing what is written), for this reason.
    Close(&'static str),
}

/// The 0x8001 answers owed once a batch is durable: the serials and ids of the frames it came from.
struct Owed {
    /// A header of the terminal's layout to answer with.
    reply_to: Header,
    /// (serial, message id) of each frame to acknowledge.
    frames: Vec<(u16, u16)>,
}

/// A batch (or a driver event) that became durable, or did not.
struct Completion {
    /// What the store did.
    result: tianshu_store::Result<AppendSummary>,
    /// The answers owed.
    owed: Owed,
    /// When the first frame of it was received, for the latency histogram.
    received: Instant,
    /// Points in it that arrived as blind-area backfill.
    backfilled: u64,
}

/// One connection's state.
struct Session<'g> {
    /// What all sessions share.
    gw: &'g Gateway,
    /// The remote address, for logs.
    peer: SocketAddr,
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
    /// Batches handed to the sink, oldest first; their answers go out in this order.
    in_flight: FuturesOrdered<BoxFuture<'static, Completion>>,
    /// Commands sent and awaiting the terminal's answer.
    pending: Pending,
    /// Commands and replacement news, once online.
    mailbox: Option<Arc<Mailbox>>,
    /// Set when the session should close once its in-flight acknowledgements are out.
    closing: Option<&'static str>,
    /// Subpackaged messages being gathered; created on the first part (most terminals never send one).
    parts: Option<Box<Reassembler>>,
    /// (serial, message id) of parts of position messages, answered once the whole message is durable.
    held_parts: Vec<(u16, u16)>,
    /// When to look for overdue subpackaged messages.
    parts_check: Option<Pin<Box<Sleep>>>,
    /// The frames a reassembled message answers for (all its parts), while it is being handled.
    owed_override: Option<Vec<(u16, u16)>>,
    /// The last code issued on this connection, with the phone and serial of the 0x0100 it answered: a
    /// terminal that retransmits that 0x0100 (our 0x8100 was lost or late) gets the same code again, not a
    /// new one that would make the first answer's code, which it may already be using, fail.
    issued: Option<Box<(Phone, u16, String)>>,
}

/// Runs one connection to its end and says why it ended.
pub(crate) async fn run(socket: TcpStream, peer: SocketAddr, gw: &Gateway, stop: Stop) -> &'static str {
    let mut session = Session {
        gw,
        peer,
        phase: Phase::PreAuth,
        edition: Edition::V2013,
        errors: 0,
        serial: 0,
        out: BytesMut::new(),
        in_flight: FuturesOrdered::new(),
        pending: Pending::default(),
        mailbox: None,
        closing: None,
        parts: None,
        held_parts: Vec::new(),
        parts_check: None,
        owed_override: None,
        issued: None,
    };
    let reason = session.serve(socket, stop).await;
    if let Phase::Online {
        phone, generation, ..
    } = session.phase
    {
        gw.online.remove(phone, generation);
    }
    reason
}

fn now_timestamp() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_millis(ms)
}

async fn wait_for(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn mail(mailbox: &Option<Arc<Mailbox>>) {
    match mailbox {
        Some(m) => m.wait().await,
        None => std::future::pending().await,
    }
}

impl Session<'_> {
    async fn serve(&mut self, socket: TcpStream, stop: Stop) -> &'static str {
        let cfg = &self.gw.config;
        let options = if cfg.accept_bad_checksum {
            DecodeOptions::LENIENT
        } else {
            DecodeOptions::STRICT
        };
        let codec = Jt808Codec::new(cfg.max_frame_bytes, options);
        let mut framed = FramedRead::with_capacity(socket, codec, cfg.read_buffer_bytes.max(64));
        let mut deadline: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep(cfg.pre_auth_timeout()));
        let max_in_flight = cfg.max_in_flight_per_connection.max(1);
        let mut draining = false;
        loop {
            let online = matches!(self.phase, Phase::Online { .. });
            let reading = self.closing.is_none() && !draining && self.in_flight.len() < max_in_flight;
            tokio::select! {
                biased;
                // One future for both stop signals keeps an idle session small.
                () = (if draining { &stop.abort } else { &stop.drain }).cancelled() => {
                    if draining {
                        return "shutdown_grace_over";
                    }
                    draining = true;
                }
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => self.complete(done),
                inbound = framed.next(), if reading => match inbound {
                    None => {
                        self.closing = Some("peer_closed");
                    }
                    Some(Err(e)) => {
                        debug!(error = %e, "read failed");
                        return "io_error";
                    }
                    Some(Ok(Inbound::Bad(e))) => {
                        METRICS.decode_errors.with_label_values(&[error_kind(&e)]).inc();
                        debug!(error = %e, "bad frame");
                        if !online {
                            // A terminal that has not authenticated gets no benefit of the doubt.
                            return "bad_frame_before_auth";
                        }
                        if let Flow::Close(reason) = self.charge_error() {
                            let _ = self.flush(&mut framed).await;
                            return reason;
                        }
                    }
                    Some(Ok(Inbound::Frame(frame))) => {
                        if let Flow::Close(reason) = self.handle(frame).await {
                            let _ = self.flush(&mut framed).await;
                            return reason;
                        }
                        if matches!(self.phase, Phase::Online { .. }) {
                            deadline.as_mut().reset(tokio::time::Instant::now() + self.gw.config.idle_timeout());
                        }
                    }
                },
                () = mail(&self.mailbox), if self.closing.is_none() => self.read_mail(),
                () = wait_for(&mut self.parts_check) => self.check_parts(),
                () = deadline.as_mut() => {
                    return if online { "idle_timeout" } else { "pre_auth_timeout" };
                }
                // Lowest priority: write what is encoded once nothing else is ready, so the answers to frames
                // that arrived together leave in one write.
                () = std::future::ready(()), if !self.out.is_empty() => {
                    if self.flush(&mut framed).await.is_err() {
                        return "io_error";
                    }
                }
            }
            if (self.closing.is_some() || draining) && self.in_flight.is_empty() {
                let _ = self.flush(&mut framed).await;
                return self.closing.unwrap_or("shutdown");
            }
        }
    }

    async fn flush(&mut self, framed: &mut FramedRead<TcpStream, Jt808Codec>) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = framed.get_mut().write_all(&self.out).await;
        self.out.clear();
        // Do not keep a large buffer around for an idle connection.
        if self.out.capacity() > 16 * 1024 {
            self.out = BytesMut::new();
        }
        result
    }

    fn next_serial(&mut self) -> u16 {
        let s = self.serial;
        self.serial = self.serial.wrapping_add(1);
        s
    }

    fn charge_error(&mut self) -> Flow {
        self.errors += 1;
        if self.errors > self.gw.config.error_budget {
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

    async fn handle(&mut self, frame: Frame) -> Flow {
        let header = frame.header;
        METRICS
            .frames_received
            .with_label_values(&[msg_id_label(header.msg_id)])
            .inc();
        for kind in frame.leniencies.names() {
            METRICS.leniencies.with_label_values(&[kind]).inc();
        }
        match self.phase {
            Phase::PreAuth => {
                if header.subpackage.is_some_and(|s| s.total > 1)
                    || !matches!(header.msg_id, id::REGISTER | id::AUTHENTICATE)
                {
                    METRICS
                        .auth_failures
                        .with_label_values(&["frame_before_auth"])
                        .inc();
                    info!(phone = %header.phone, msg_id = header.msg_id, "frame before authentication; closing");
                    return Flow::Close("frame_before_auth");
                }
            }
            Phase::Online { phone, .. } => {
                if header.phone != phone {
                    METRICS.decode_errors.with_label_values(&["phone_mismatch"]).inc();
                    debug!(other = %header.phone, "frame for another phone on this connection");
                    return self.charge_error();
                }
                if header.subpackage.is_some_and(|s| s.total > 1) {
                    // Boxed: rare, and it keeps an idle session's future small.
                    return self.handle_part(&frame);
                }
            }
        }
        if matches!(header.msg_id, id::REGISTER | id::AUTHENTICATE) {
            // Boxed: once per connection, and its store lookups would otherwise size every session's future.
            return Box::pin(self.login(frame)).await;
        }
        let received = Instant::now();
        match frame.message() {
            Ok(message) => {
                for kind in message.leniencies().names() {
                    METRICS.leniencies.with_label_values(&[kind]).inc();
                }
                self.handle_message(&header, message, &frame.body, received)
            }
            Err(e) => {
                METRICS.decode_errors.with_label_values(&[error_kind(&e)]).inc();
                debug!(error = %e, msg_id = header.msg_id, "body did not decode");
                if matches!(self.phase, Phase::Online { .. }) {
                    self.answer(
                        &header,
                        header.serial,
                        header.msg_id,
                        GeneralAck::RESULT_BAD_MESSAGE,
                    );
                }
                self.charge_error()
            }
        }
    }

    /// A part of a subpackaged message: kept until all parts are in, then handled as one message. Parts of
    /// a position batch are answered when the whole batch is durable; other parts when they arrive.
    fn handle_part(&mut self, frame: &Frame) -> Flow {
        let header = frame.header;
        let now = now_timestamp();
        let cfg = &self.gw.config;
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
        let pushed = parts.push(frame, now);
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
                if holds_points {
                    if self.held_parts.len() < usize::from(self.gw.config.subpackage_max_parts) {
                        self.held_parts.push((header.serial, header.msg_id));
                    }
                } else {
                    self.answer(&header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
                }
                if self.parts_check.is_none() {
                    self.parts_check =
                        Some(Box::pin(tokio::time::sleep(self.gw.config.subpackage_timeout())));
                }
                Flow::Continue
            }
            Ok(Some(whole)) => {
                METRICS.subpackages.with_label_values(&["complete"]).inc();
                let mut owed: Vec<(u16, u16)> = Vec::new();
                if holds_points {
                    owed = self
                        .held_parts
                        .iter()
                        .copied()
                        .filter(|(_, id)| *id == header.msg_id)
                        .collect();
                    self.held_parts.retain(|(_, id)| *id != header.msg_id);
                    owed.push((header.serial, header.msg_id));
                } else {
                    self.answer(&header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
                }
                let received = Instant::now();
                let decoded = Message::decode_body(whole.header.msg_id, whole.header.edition(), &whole.body);
                match decoded {
                    Ok(message) => {
                        self.owed_override = Some(owed);
                        let flow = self.handle_message(&whole.header, message, &whole.body, received);
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
    fn check_parts(&mut self) {
        let Phase::Online { phone, .. } = self.phase else {
            return;
        };
        let now = now_timestamp();
        let timeout_ms = i64::try_from(self.gw.config.subpackage_timeout().as_millis()).unwrap_or(i64::MAX);
        let Some(parts) = self.parts.as_mut() else { return };
        for gone in parts.expire(now) {
            METRICS.subpackages.with_label_values(&["expired"]).inc();
            self.held_parts.retain(|(_, id)| *id != gone.msg_id);
            info!(
                msg_id = gone.msg_id,
                missing = gone.missing.len(),
                "subpackaged message expired"
            );
        }
        let overdue = parts.overdue(now, timeout_ms);
        let still_pending = parts.pending() > 0;
        for partial in overdue {
            METRICS
                .subpackages
                .with_label_values(&["requested_missing"])
                .inc();
            // A 2013 count is one byte: ask for at most 255 parts at a time.
            let limit = if self.edition == Edition::V2019 {
                usize::from(u16::MAX)
            } else {
                255
            };
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
        self.parts_check =
            still_pending.then(|| Box::pin(tokio::time::sleep(self.gw.config.subpackage_timeout())));
    }

    /// 0x0100 and 0x0102, which look up the registry.
    async fn login(&mut self, frame: Frame) -> Flow {
        let header = frame.header;
        match frame.message() {
            Ok(Message::Register(r)) => self.register(&header, &r, frame.body.len()).await,
            Ok(Message::Authenticate(a)) => self.authenticate(&header, &a).await,
            Ok(_) => Flow::Continue,
            Err(e) => {
                METRICS.decode_errors.with_label_values(&[error_kind(&e)]).inc();
                debug!(error = %e, msg_id = header.msg_id, "body did not decode");
                self.answer(
                    &header,
                    header.serial,
                    header.msg_id,
                    GeneralAck::RESULT_BAD_MESSAGE,
                );
                self.charge_error()
            }
        }
    }

    fn handle_message(
        &mut self,
        header: &Header,
        message: Message<'_>,
        body: &Bytes,
        received: Instant,
    ) -> Flow {
        let Phase::Online { phone, vehicle, .. } = self.phase else {
            return Flow::Close("frame_before_auth");
        };
        let recv_time = now_timestamp();
        let binding = Binding {
            phone,
            vehicle,
            recv_time,
        };
        if let Some(uplink) = Uplink::from_message(&message, binding) {
            if let (Message::LocationReply(reply), Some(p)) = (&message, uplink.points.first()) {
                self.pending
                    .resolve(Some(reply.reply_serial), id::LOCATION_REPLY, Reply::Position(*p));
            }
            self.submit(header, uplink, received);
            return Flow::Continue;
        }
        match message {
            Message::Heartbeat | Message::UplinkPassthrough(_) => {
                self.answer(header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
            }
            Message::Logout => {
                self.answer(header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
                info!("terminal logged out");
                self.closing = Some("logout");
            }
            Message::DriverIdentity(d) => {
                let signed_in = match d.status {
                    Some(s) => s == tianshu_jt808::DriverIdentity::STATUS_INSERTED,
                    None => !d.name.is_empty(),
                };
                let time = match d.time() {
                    Some(Ok(t)) => t,
                    Some(Err(_)) | None => recv_time,
                };
                let event = DriverEvent {
                    vehicle,
                    phone,
                    time,
                    signed_in,
                    name: gbk_text(d.name),
                    certificate: gbk_text(d.qualification),
                };
                let store = self.gw.store.clone();
                let owed = Owed {
                    reply_to: *header,
                    frames: vec![(header.serial, header.msg_id)],
                };
                self.in_flight.push_back(
                    async move {
                        let result = store
                            .append_driver_event(&event)
                            .await
                            .map(|()| AppendSummary::default());
                        Completion {
                            result,
                            owed,
                            received,
                            backfilled: 0,
                        }
                    }
                    .boxed(),
                );
            }
            Message::TerminalAck(ack) => {
                self.pending.resolve(
                    Some(ack.reply_serial),
                    id::TERMINAL_ACK,
                    Reply::General { result: ack.result },
                );
            }
            Message::Parameters { reply_serial, list } => {
                let params = list
                    .iter()
                    .filter_map(Result::ok)
                    .map(|p| (p.id, p.value.to_vec()))
                    .collect();
                self.pending
                    .resolve(Some(reply_serial), id::PARAMETERS, Reply::Parameters(params));
            }
            Message::Attributes(_) => {
                self.pending
                    .resolve(None, id::ATTRIBUTES, Reply::Attributes(body.clone()));
            }
            Message::QueryServerTime => {
                let serial = self.next_serial();
                let reply = Message::ServerTime(ServerTime { time: recv_time });
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

    /// Hands the points of one frame to the sink; the frame is answered when they are durable. Reports that
    /// were refused are counted (a bad batch item does not hide the good ones); a frame with no good report
    /// is answered "bad message".
    fn submit(&mut self, header: &Header, uplink: Uplink, received: Instant) {
        for refused in &uplink.refused {
            METRICS.decode_errors.with_label_values(&[refused.reason]).inc();
            debug!(reason = refused.reason, detail = %refused.detail, "location report refused");
        }
        let frames = self
            .owed_override
            .take()
            .unwrap_or_else(|| vec![(header.serial, header.msg_id)]);
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
        };
        let durable = self.gw.sink.append(points);
        self.in_flight.push_back(
            async move {
                Completion {
                    result: durable.await,
                    owed,
                    received,
                    backfilled,
                }
            }
            .boxed(),
        );
    }

    /// A batch became durable (answer its frames) or failed (answer nothing: the terminal retransmits).
    fn complete(&mut self, done: Completion) {
        match done.result {
            Ok(summary) => {
                METRICS.points_stored.inc_by(summary.inserted);
                METRICS.points_duplicate.inc_by(summary.duplicates);
                METRICS.points_backfilled.inc_by(done.backfilled);
                for (serial, msg_id) in &done.owed.frames {
                    self.answer(&done.owed.reply_to, *serial, *msg_id, GeneralAck::RESULT_OK);
                }
                METRICS
                    .ack_latency_seconds
                    .observe(done.received.elapsed().as_secs_f64());
            }
            Err(e) => {
                METRICS.store_failures.inc();
                warn!(error = %e, frames = done.owed.frames.len(), "store did not make the points durable; not acknowledged");
            }
        }
    }

    async fn register(&mut self, header: &Header, r: &Register<'_>, body_len: usize) -> Flow {
        let phone = header.phone;
        if let Some(issued) = self.issued.take()
            && issued.0 == phone
            && issued.1 == header.serial
        {
            // A retransmission of the registration just answered: the same answer again.
            METRICS.registrations.with_label_values(&["retransmitted"]).inc();
            let serial = self.next_serial();
            let ack = Message::RegisterAck(RegisterAck {
                reply_serial: header.serial,
                result: RegisterAck::RESULT_OK,
                auth_code: Some(Text(issued.2.as_bytes())),
            });
            if let Err(e) = encode_message(&header.reply(id::REGISTER_ACK, serial), &ack, &mut self.out) {
                warn!(error = %e, "encoding 0x8100 failed");
            }
            self.issued = Some(issued);
            return Flow::Continue;
        }
        let edition = match header.edition() {
            Edition::V2019 => Edition::V2019,
            _ if body_len < 37 => Edition::V2011,
            _ => Edition::V2013,
        };
        let result = match registration_result(self.gw, phone, r).await {
            Ok(result) => result,
            Err(e) => {
                warn!(%phone, error = %e, "registry unavailable; registration left unanswered");
                return Flow::Continue;
            }
        };
        let mut code = None;
        if result == RegisterAck::RESULT_OK {
            let issued = auth::issue_code();
            if let Err(e) = self
                .gw
                .store
                .save_registration(phone, edition, &issued.hash, None)
                .await
            {
                warn!(%phone, error = %e, "saving the registration failed; left unanswered");
                return Flow::Continue;
            }
            info!(%phone, edition = edition.as_str(), "terminal registered");
            self.issued = Some(Box::new((phone, header.serial, issued.code.clone())));
            code = Some(issued.code);
        } else {
            info!(%phone, result, "registration refused");
        }
        METRICS
            .registrations
            .with_label_values(&[register_result_label(result)])
            .inc();
        let ack = Message::RegisterAck(RegisterAck {
            reply_serial: header.serial,
            result,
            auth_code: code.as_deref().map(|c| Text(c.as_bytes())),
        });
        let serial = self.next_serial();
        if let Err(e) = encode_message(&header.reply(id::REGISTER_ACK, serial), &ack, &mut self.out) {
            warn!(error = %e, "encoding 0x8100 failed");
        }
        Flow::Continue
    }

    async fn authenticate(&mut self, header: &Header, a: &Authenticate<'_>) -> Flow {
        let phone = header.phone;
        let now = Instant::now();
        if let Phase::Online { phone: current, .. } = self.phase
            && current != phone
        {
            METRICS.auth_failures.with_label_values(&["phone_change"]).inc();
            return Flow::Close("phone_change");
        }
        if !self.gw.auth_throttle.allowed(phone, now) {
            METRICS.auth_failures.with_label_values(&["throttled"]).inc();
            warn!(%phone, "authentication refused: too many failures");
            self.answer(header, header.serial, header.msg_id, GeneralAck::RESULT_FAILED);
            return Flow::Close("auth_throttled");
        }
        let terminal = match self.gw.store.terminal(phone).await {
            Ok(t) => t,
            Err(e) => {
                warn!(%phone, error = %e, "registry unavailable; authentication left unanswered");
                return Flow::Continue;
            }
        };
        let failure = match &terminal {
            None => Some("unknown_terminal"),
            Some(t) => match &t.auth_code_hash {
                None => Some("not_registered"),
                Some(hash) if !auth::verify_code(a.auth_code.as_bytes(), hash) => Some("wrong_code"),
                Some(_) => match (&t.imei, a.imei) {
                    (Some(recorded), Some(sent))
                        if recorded.trim() != String::from_utf8_lossy(sent.as_bytes()).trim() =>
                    {
                        Some("imei_mismatch")
                    }
                    _ if t.vehicle.is_none() => Some("no_vehicle"),
                    _ => None,
                },
            },
        };
        let (Some(terminal), None) = (terminal, failure) else {
            let reason = failure.unwrap_or("unknown_terminal");
            METRICS.auth_failures.with_label_values(&[reason]).inc();
            self.gw.auth_throttle.record_failure(phone, now);
            info!(%phone, reason, "authentication failed");
            self.answer(header, header.serial, header.msg_id, GeneralAck::RESULT_FAILED);
            return match self.phase {
                Phase::Online { .. } => Flow::Close("auth_failed"),
                Phase::PreAuth => Flow::Continue,
            };
        };
        let Some(vehicle) = terminal.vehicle else {
            return Flow::Close("no_vehicle");
        };
        // Trust on first use: a 2019 terminal's IMEI is recorded the first time it authenticates.
        if terminal.imei.is_none()
            && let (Some(imei), Some(hash)) = (a.imei, terminal.auth_code_hash.as_deref())
            && let Some(imei) = imei.as_str().map(str::trim).filter(|s| !s.is_empty())
            && let Err(e) = self
                .gw
                .store
                .save_registration(phone, header.edition(), hash, Some(imei))
                .await
        {
            warn!(%phone, error = %e, "recording the IMEI failed");
        }
        self.gw.auth_throttle.record_success(phone);
        self.issued = None;
        self.answer(header, header.serial, header.msg_id, GeneralAck::RESULT_OK);
        if matches!(self.phase, Phase::PreAuth) {
            let mailbox = Arc::new(Mailbox::default());
            let generation = self.gw.online.next_generation();
            self.gw.online.insert(
                phone,
                SessionHandle {
                    generation,
                    mailbox: mailbox.clone(),
                },
            );
            self.mailbox = Some(mailbox);
            self.phase = Phase::Online {
                phone,
                vehicle,
                generation,
            };
            self.edition = header.edition();
            tracing::Span::current().record("phone", tracing::field::display(phone));
            info!(peer = %self.peer, "terminal authenticated");
        }
        Flow::Continue
    }

    /// Takes what the mailbox holds: replacement news closes the session, commands are sent.
    fn read_mail(&mut self) {
        let Some(mailbox) = self.mailbox.clone() else {
            return;
        };
        if mailbox.is_replaced() {
            info!("a newer connection of this terminal authenticated; closing this one");
            self.closing = Some("replaced");
            return;
        }
        while let Some(request) = mailbox.take() {
            self.send_command(request);
        }
    }

    /// Encodes a platform command for this terminal and remembers its waiter.
    fn send_command(&mut self, request: Request) {
        let Phase::Online { phone, .. } = self.phase else {
            let _ = request.reply.send(Err(DownlinkError::Closed(Phone(0))));
            return;
        };
        let Request { command, reply } = request;
        let serial = self.next_serial();
        let header = Header::new(command.msg_id(), phone, serial, self.edition);
        let encoded = match &command {
            Command::QueryPosition => encode_message(&header, &Message::QueryLocation, &mut self.out),
            Command::TemporaryTracking {
                interval_secs,
                validity_secs,
            } => encode_message(
                &header,
                &Message::TrackLocation(TrackLocation {
                    interval_secs: *interval_secs,
                    validity_secs: *validity_secs,
                }),
                &mut self.out,
            ),
            Command::SetParameters(list) => {
                let params: Vec<Parameter<'_>> = list
                    .iter()
                    .map(|(id, v)| Parameter { id: *id, value: v })
                    .collect();
                let count = u8::try_from(params.len()).unwrap_or(u8::MAX);
                encode_message(
                    &header,
                    &Message::SetParameters(ParameterList {
                        count,
                        params: Params::List(&params),
                    }),
                    &mut self.out,
                )
            }
            Command::QueryParameters => encode_message(&header, &Message::QueryParameters, &mut self.out),
            Command::Text { flags, text } => {
                let Some(gbk) = to_gbk(text) else {
                    let _ = reply.send(Err(DownlinkError::Encode(
                        "text has characters GBK cannot encode".into(),
                    )));
                    return;
                };
                let msg = TextMessage {
                    flags: *flags,
                    text_type: Some(1),
                    text: Text(&gbk),
                };
                encode_message(&header, &Message::TextMessage(msg), &mut self.out)
            }
            Command::Control { command, params } => {
                let Some(gbk) = to_gbk(params) else {
                    let _ = reply.send(Err(DownlinkError::Encode("parameters GBK cannot encode".into())));
                    return;
                };
                let msg = TerminalControl {
                    command: *command,
                    parameters: &gbk,
                };
                encode_message(&header, &Message::TerminalControl(msg), &mut self.out)
            }
            Command::QueryAttributes => encode_message(&header, &Message::QueryAttributes, &mut self.out),
        };
        match encoded {
            Ok(()) => {
                debug!(msg_id = command.msg_id(), serial, "command sent");
                self.pending.push(phone, serial, command.reply_msg_id(), reply);
            }
            Err(e) => {
                let _ = reply.send(Err(DownlinkError::Encode(e.to_string())));
            }
        }
    }
}

/// Decides a registration against the registry (only provisioned terminals may register).
async fn registration_result(gw: &Gateway, phone: Phone, r: &Register<'_>) -> tianshu_store::Result<u8> {
    let Some(terminal) = gw.store.terminal(phone).await? else {
        return Ok(RegisterAck::RESULT_NO_TERMINAL);
    };
    let sent_id = String::from_utf8_lossy(r.terminal_id.as_bytes());
    if !sent_id.trim().eq_ignore_ascii_case(terminal.terminal_id.trim()) {
        return Ok(RegisterAck::RESULT_NO_TERMINAL);
    }
    let Some(bound) = terminal.vehicle else {
        return Ok(RegisterAck::RESULT_NO_VEHICLE);
    };
    // Plate colour 0 means the plate field holds the VIN; an empty plate is common on devices installed
    // before the car was plated. Only a plate that names a vehicle is checked.
    if r.plate_color != 0
        && let Some(plate) = gbk_text(r.plate)
        && !plate.trim().is_empty()
    {
        match gw.store.vehicle_by_plate(plate.trim()).await? {
            None => return Ok(RegisterAck::RESULT_NO_VEHICLE),
            Some(v) if v.id != bound => return Ok(RegisterAck::RESULT_VEHICLE_REGISTERED),
            Some(_) => {}
        }
    }
    if terminal.auth_code_hash.is_some() && (!gw.config.reregister_when_offline || gw.online.is_online(phone))
    {
        return Ok(RegisterAck::RESULT_TERMINAL_REGISTERED);
    }
    Ok(RegisterAck::RESULT_OK)
}

/// GBK text as UTF-8, when it decodes cleanly.
fn gbk_text(t: Text<'_>) -> Option<String> {
    if t.is_empty() {
        return None;
    }
    let (s, had_errors) = encoding_rs::GBK.decode_without_bom_handling(t.as_bytes());
    (!had_errors)
        .then(|| s.trim_matches(['\0', ' ']).to_string())
        .filter(|s| !s.is_empty())
}

/// UTF-8 text as GBK, or `None` when a character has no GBK form.
fn to_gbk(s: &str) -> Option<Vec<u8>> {
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(s);
    (!had_errors).then(|| bytes.into_owned())
}

fn register_result_label(result: u8) -> &'static str {
    match result {
        RegisterAck::RESULT_OK => "ok",
        RegisterAck::RESULT_VEHICLE_REGISTERED => "vehicle_already_registered",
        RegisterAck::RESULT_NO_VEHICLE => "no_such_vehicle",
        RegisterAck::RESULT_TERMINAL_REGISTERED => "terminal_already_registered",
        RegisterAck::RESULT_NO_TERMINAL => "no_such_terminal",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_round_trip() {
        let gbk = to_gbk("鄂B12345").unwrap();
        assert_eq!(gbk_text(Text(&gbk)).as_deref(), Some("鄂B12345"));
        assert_eq!(gbk_text(Text(b"")), None);
    }
}

#[cfg(test)]
mod size_probe {
    /// An idle connection's cost is mostly this future; 19,000 of them must fit in 4 KiB each with their
    /// buffers, so its size is pinned here (the rare register/authenticate paths are boxed to keep it so).
    #[tokio::test]
    async fn idle_session_future_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (socket, peer) = listener.accept().await.unwrap();
        let dir = std::env::temp_dir().join(format!("tianshu-ingest-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = tianshu_store::Store::open(&format!("sqlite:{}", dir.join("probe.db").display()))
            .await
            .unwrap();
        let sink = std::sync::Arc::new(crate::DurableAtOnce::default());
        let gw = crate::Gateway::new(Default::default(), store, sink);
        let stop = crate::server::Stop {
            drain: Default::default(),
            abort: Default::default(),
        };
        let future = super::run(socket, peer, &gw, stop);
        let size = std::mem::size_of_val(&future);
        drop(future);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(size <= 1536, "the session future grew to {size} bytes");
    }
}

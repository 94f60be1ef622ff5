//! One virtual terminal: a real JT/T 808 TCP client driving its car through the day plans.
//!
//! The life of a terminal: connect; register (0x0100) unless it already holds an auth code from an
//! earlier 0x8100 (kept across reconnects); authenticate (0x0102); then report 0x0200 at the configured
//! interval of simulated time, heartbeat (0x0002) when otherwise quiet, answer the platform's queries
//! (0x8201 with 0x0201, 0x8104 with 0x0104, other commands with 0x0001), follow temporary tracking
//! (0x8202: report at the platform's interval until the validity runs out), and upload whatever it
//! recorded while offline as 0x0704 type 1 batches.
//!
//! Invariants:
//! - A point enters the ledger only when the 0x8001 answering the frame that carried it arrives with
//!   result 0, and at most once: the frame leaves the in-flight list on its first acknowledgement.
//! - A message without an answer is sent again after T(n+1) = T(n) x (n+1) (T(0) = the ack timeout), with
//!   the same serial and bytes, up to the configured count; then the link is taken as broken, the
//!   points go back to the backlog and the terminal reconnects.
//! - Points never sent, or sent and not acknowledged before the link broke, stay in the backlog (bounded;
//!   the oldest are dropped and counted when it is full) and go up as blind-area backfill.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chrono::NaiveDate;
use tianshu_jt808::{
    AdditionalItem, Authenticate, BasicLocation, BatchItems, Frame, FrameDecoder, GeneralAck, Header, Items,
    LocationBatch, LocationReply, LocationReport, Message, Parameter, ParameterList, Params, Register,
    RegisterAck, Text, encode_message, id,
};
use tianshu_model::geo::LonLat;
use tianshu_model::{
    AlarmBit, AlarmFlags, Edition, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};

use crate::fleet::Shared;
use crate::ledger::LedgerEntry;
use crate::plan::{DayPlan, day_plan, local_date};
use crate::scenario::{Event, EventKind, events_for};

/// The wait before retransmission number `n` (1-based) of a message, given the first timeout `base`:
/// T(1) = base, T(n+1) = T(n) x (n+1), as JT/T 808 section 4.4 prescribes (so base, 2 base, 6 base...).
pub fn retransmit_wait(base: Duration, n: u32) -> Duration {
    let mut t = base;
    for k in 1..n {
        t = t.saturating_mul(k + 1);
    }
    t
}

/// Why a terminal's session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The TCP connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A frame could not be encoded or a received one decoded.
    #[error("codec: {0}")]
    Codec(#[from] tianshu_jt808::Error),
    /// The platform refused registration (0x8100 result code).
    #[error("registration refused with result {0}")]
    RegisterRefused(u8),
    /// The platform refused authentication (0x8001 result code).
    #[error("authentication refused with result {0}")]
    AuthRefused(u8),
    /// No answer after every retransmission.
    #[error("no answer to 0x{0:04x} after all retransmissions")]
    NoAnswer(u16),
    /// The fleet is stopping.
    #[error("stopped")]
    Stopped,
}

/// A frame awaiting its 0x8001.
struct InFlight {
    serial: u16,
    msg_id: u16,
    frame: bytes::Bytes,
    points: Vec<Position>,
    retransmissions: u32,
    deadline: Instant,
}

/// An open, authenticated connection.
struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    buf: BytesMut,
    decoder: FrameDecoder,
    last_sent: Instant,
}

impl Conn {
    async fn send(&mut self, frame: &[u8]) -> Result<(), SessionError> {
        self.writer.write_all(frame).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// The next whole frame, reading as needed.
    async fn next_frame(&mut self) -> Result<Frame, SessionError> {
        loop {
            if let Some(f) = self.decoder.decode(&mut self.buf)? {
                return Ok(f);
            }
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                return Err(SessionError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
}

/// A terminal's state between connections.
pub(crate) struct Terminal {
    shared: Arc<Shared>,
    vehicle: usize,
    phone: Phone,
    edition: Edition,
    serial: u16,
    day: Option<(NaiveDate, DayPlan, Vec<Event>)>,
    next_fix_ms: i64,
    odometer_dkm: f64,
    last_pos: Option<LonLat>,
    last_good_pos: Option<LonLat>,
    backlog: VecDeque<Position>,
    in_flight: Vec<InFlight>,
    bind_ip: Option<std::net::IpAddr>,
    /// Temporary tracking ordered by the platform (0x8202): (interval, end), both in simulated ms.
    tracking: Option<(i64, i64)>,
}

impl Terminal {
    pub(crate) fn new(
        shared: Arc<Shared>,
        vehicle: usize,
        first_fix_ms: i64,
        bind_ip: Option<std::net::IpAddr>,
    ) -> Self {
        let v = &shared.world.vehicles[vehicle];
        Terminal {
            phone: v.phone,
            edition: v.edition,
            odometer_dkm: f64::from(v.odometer_start_dkm),
            shared,
            vehicle,
            serial: 0,
            day: None,
            next_fix_ms: first_fix_ms,
            last_pos: None,
            last_good_pos: None,
            backlog: VecDeque::new(),
            in_flight: Vec::new(),
            bind_ip,
            tracking: None,
        }
    }

    fn next_serial(&mut self) -> u16 {
        let s = self.serial;
        self.serial = self.serial.wrapping_add(1);
        s
    }

    fn header(&mut self, msg_id: u16) -> Header {
        let serial = self.next_serial();
        Header::new(msg_id, self.phone, serial, self.edition)
    }

    fn ensure_day(&mut self, t_ms: i64) {
        let date = local_date(t_ms);
        if self.day.as_ref().is_some_and(|(d, _, _)| *d == date) {
            return;
        }
        let plan = day_plan(&self.shared.world, self.vehicle, date);
        let events = events_for(
            self.shared.world.config.seed,
            self.vehicle,
            date,
            &plan,
            &self.shared.config.scenarios,
        );
        self.day = Some((date, plan, events));
    }

    /// The scenario event (other than alarms) covering `t_ms`.
    fn offline_event(&mut self, t_ms: i64) -> Option<Event> {
        self.ensure_day(t_ms);
        let (_, _, events) = self.day.as_ref()?;
        events
            .iter()
            .find(|e| e.contains(t_ms) && !matches!(e.kind, EventKind::Alarm(_)))
            .copied()
    }

    /// The reporting interval at `t_ms` (simulated ms): the platform's while temporary tracking lasts,
    /// else shorter while the ignition is on.
    fn interval_ms(&mut self, t_ms: i64) -> i64 {
        if let Some((interval_ms, until_ms)) = self.tracking {
            if t_ms < until_ms {
                return interval_ms;
            }
            self.tracking = None;
        }
        self.ensure_day(t_ms);
        let acc = self.day.as_ref().is_some_and(|(_, p, _)| p.state_at(t_ms).acc_on);
        let c = &self.shared.config;
        let secs = if acc {
            c.interval_secs
        } else {
            c.parked_interval_secs.max(c.interval_secs)
        };
        // Whole seconds: the protocol's fix time has no finer resolution.
        ((secs * 1000.0).round() as i64).max(1000)
    }

    /// The point the terminal records at `t_ms`.
    pub(crate) fn fix(&mut self, t_ms: i64) -> Position {
        self.ensure_day(t_ms);
        let (state, alarm_bits) = match self.day.as_ref() {
            Some((_, plan, events)) => {
                let bits = events
                    .iter()
                    .filter(|e| e.contains(t_ms))
                    .fold(0u32, |acc, e| match e.kind {
                        EventKind::Alarm(b) => acc | 1 << b as u32,
                        _ => acc,
                    });
                (plan.state_at(t_ms), bits)
            }
            None => return Position::default(),
        };
        let alarm = AlarmFlags(alarm_bits);
        let antenna_cut = alarm.has(AlarmBit::GnssAntennaCut);
        // With the antenna cut there is no fix: the terminal repeats its last good position.
        let pos = if antenna_cut {
            self.last_good_pos.unwrap_or(state.pos)
        } else {
            state.pos
        };
        if !antenna_cut {
            self.last_good_pos = Some(state.pos);
        }
        if let Some(prev) = self.last_pos {
            self.odometer_dkm += prev.distance_m(state.pos) / 100.0;
        }
        self.last_pos = Some(state.pos);
        let mut status = StatusFlags::GPS | StatusFlags::BEIDOU;
        if state.acc_on {
            status |= StatusFlags::ACC_ON;
        }
        if !antenna_cut {
            status |= StatusFlags::FIXED;
        }
        if self.edition == Edition::V2019 && state.speed_kmh > 0.5 {
            status |= StatusFlags::MOVING_2019;
        }
        let moving = state.speed_kmh > 0.0;
        Position {
            vehicle: VehicleId(0),
            phone: self.phone,
            fix_time: Timestamp::from_secs(t_ms.div_euclid(1000)),
            recv_time: Timestamp(0),
            lat_e6: pos.lat_e6(),
            lon_e6: pos.lon_e6(),
            altitude_m: 25 + ((pos.lat * 900.0).sin() * 12.0 + (pos.lon * 700.0).cos() * 8.0) as i32,
            speed_dkmh: if antenna_cut {
                0
            } else {
                (state.speed_kmh * 10.0).round() as u16
            },
            course_deg: (state.course_deg.round() as u16) % 360,
            alarm,
            status: StatusFlags(status),
            mileage_dkm: Some(self.odometer_dkm as u32),
            fuel_dl: None,
            satellites: Some(if antenna_cut {
                0
            } else if moving {
                11
            } else {
                9
            }),
            rssi: Some(if alarm.has(AlarmBit::PowerLost) { 8 } else { 24 }),
            source: PositionSource::Live,
        }
    }

    fn push_backlog(&mut self, mut p: Position) {
        p.source = PositionSource::Backfill;
        if self.backlog.len() >= self.shared.config.max_backlog_points {
            self.backlog.pop_front();
            self.shared.stats.backlog_dropped.inc();
        }
        self.backlog.push_back(p);
        self.shared.stats.points_buffered.inc();
    }

    /// Returns the points of every in-flight frame to the backlog (the link broke before their answer).
    fn requeue_in_flight(&mut self) {
        let mut points: Vec<Position> = self.in_flight.drain(..).flat_map(|f| f.points).collect();
        points.sort_by_key(|p| p.fix_time);
        for p in points.into_iter().rev() {
            let mut p = p;
            p.source = PositionSource::Backfill;
            self.backlog.push_front(p);
        }
        while self.backlog.len() > self.shared.config.max_backlog_points {
            self.backlog.pop_front();
            self.shared.stats.backlog_dropped.inc();
        }
    }

    /// Runs the terminal until `stop` turns true.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>, start_delay: Duration) {
        let mut conn: Option<Conn> = None;
        let mut reconnect_at = Instant::now() + start_delay;
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            let clock = self.shared.clock;
            let now_ms = clock.now_ms();
            let offline = self.offline_event(now_ms);

            // Record every fix that is due; only the newest goes out live, older ones are backlog.
            while self.next_fix_ms <= now_ms {
                let t = self.next_fix_ms;
                self.next_fix_ms += self.interval_ms(t);
                let ev = self.offline_event(t);
                if matches!(ev.map(|e| e.kind), Some(EventKind::Silent)) {
                    continue;
                }
                let p = self.fix(t);
                let live = self.next_fix_ms > now_ms
                    && ev.is_none()
                    && self.in_flight.len() < self.shared.config.max_in_flight;
                match conn.as_mut() {
                    Some(c) if live => {
                        if let Err(e) = self.send_location(c, p).await {
                            tracing::debug!(phone = %self.phone, error = %e, "report failed; reconnecting");
                            conn = None;
                            self.requeue_in_flight();
                            reconnect_at = Instant::now() + self.shared.config.reconnect();
                        }
                    }
                    _ => self.push_backlog(p),
                }
            }

            if offline.is_some() {
                if conn.take().is_some() {
                    self.shared.stats.online.dec();
                    self.requeue_in_flight();
                    tracing::debug!(phone = %self.phone, kind = ?offline.map(|e| e.kind), "terminal offline");
                }
            } else if conn.is_none() && Instant::now() >= reconnect_at {
                match self.connect_and_login(&mut stop).await {
                    Ok(c) => {
                        conn = Some(c);
                        failures = 0;
                        self.shared.stats.online.inc();
                    }
                    Err(SessionError::Stopped) => break,
                    Err(e) => {
                        self.shared.stats.login_failures.inc();
                        failures = failures.saturating_add(1);
                        let wait = self.shared.config.reconnect().saturating_mul(failures.min(6));
                        tracing::debug!(phone = %self.phone, error = %e, wait_ms = wait.as_millis() as u64, "login failed");
                        reconnect_at = Instant::now() + wait;
                    }
                }
                continue;
            }

            let upload = match conn.as_mut() {
                Some(c) => self.upload_backlog(c).await,
                None => Ok(()),
            };
            {
                if let Err(e) = upload {
                    tracing::debug!(phone = %self.phone, error = %e, "backfill failed; reconnecting");
                    conn = None;
                    self.shared.stats.online.dec();
                    self.requeue_in_flight();
                    reconnect_at = Instant::now() + self.shared.config.reconnect();
                    continue;
                }
            }

            let mut wake = clock.instant_of(self.next_fix_ms);
            if let Some(d) = self.in_flight.iter().map(|f| f.deadline).min() {
                wake = wake.min(d);
            }
            if let Some(c) = conn.as_ref() {
                wake = wake.min(c.last_sent + self.shared.config.heartbeat());
            } else if offline.is_none() {
                wake = wake.min(reconnect_at);
            }
            let read = async {
                match conn.as_mut() {
                    Some(c) => c.next_frame().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = stop.changed() => {
                    // A dropped handle stops the fleet just as `stop()` does.
                    if changed.is_err() {
                        break;
                    }
                }
                _ = sleep_until(wake) => {
                    if let Some(c) = conn.as_mut() {
                        if let Err(e) = self.on_timer(c).await {
                            tracing::debug!(phone = %self.phone, error = %e, "link broken; reconnecting");
                            conn = None;
                            self.shared.stats.online.dec();
                            self.requeue_in_flight();
                            reconnect_at = Instant::now() + self.shared.config.reconnect();
                        }
                    } else {
                        self.expire_offline();
                    }
                }
                frame = read => {
                    let result = match frame {
                        Ok(f) => match conn.as_mut() {
                            Some(c) => self.on_frame(c, &f).await,
                            None => Ok(()),
                        },
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        tracing::debug!(phone = %self.phone, error = %e, "connection lost");
                        conn = None;
                        self.shared.stats.online.dec();
                        self.requeue_in_flight();
                        reconnect_at = Instant::now() + self.shared.config.reconnect();
                    }
                }
            }
        }
        if conn.is_some() {
            self.shared.stats.online.dec();
        }
    }

    /// Without a connection nothing is in flight; kept for symmetry with [`Terminal::on_timer`].
    fn expire_offline(&mut self) {
        if !self.in_flight.is_empty() {
            self.requeue_in_flight();
        }
    }

    async fn send_location(&mut self, c: &mut Conn, p: Position) -> Result<(), SessionError> {
        let header = self.header(id::LOCATION);
        let frame = encode_location(&header, &p)?;
        self.shared.stats.reports_sent.inc();
        self.track(header.serial, id::LOCATION, frame.clone(), vec![p]);
        c.send(&frame).await
    }

    fn track(&mut self, serial: u16, msg_id: u16, frame: bytes::Bytes, points: Vec<Position>) {
        let deadline = Instant::now() + self.shared.config.ack_timeout();
        self.in_flight.push(InFlight {
            serial,
            msg_id,
            frame,
            points,
            retransmissions: 0,
            deadline,
        });
    }

    /// Sends the oldest backlog points as one 0x0704 type 1 batch, unless a batch is already in flight.
    async fn upload_backlog(&mut self, c: &mut Conn) -> Result<(), SessionError> {
        if self.backlog.is_empty() || self.in_flight.iter().any(|f| f.msg_id == id::LOCATION_BATCH) {
            return Ok(());
        }
        let n = self.backlog.len().min(self.shared.config.batch_max_points.max(1));
        let points: Vec<Position> = self.backlog.drain(..n).collect();
        let header = self.header(id::LOCATION_BATCH);
        let frame = encode_batch(&header, &points)?;
        self.shared.stats.backfill_batches_sent.inc();
        self.track(header.serial, id::LOCATION_BATCH, frame.clone(), points);
        c.send(&frame).await
    }

    /// Retransmits what timed out, gives up on what ran out of retransmissions, heartbeats when quiet.
    async fn on_timer(&mut self, c: &mut Conn) -> Result<(), SessionError> {
        let now = Instant::now();
        let cfg = self.shared.config.clone();
        let mut resend: Vec<bytes::Bytes> = Vec::new();
        let mut broken: Option<u16> = None;
        let mut abandoned: Vec<usize> = Vec::new();
        for (i, f) in self.in_flight.iter_mut().enumerate() {
            if f.deadline > now {
                continue;
            }
            if !cfg.scenarios.retransmit {
                abandoned.push(i);
            } else if f.retransmissions < cfg.max_retransmissions {
                f.retransmissions += 1;
                f.deadline = now + retransmit_wait(cfg.ack_timeout(), f.retransmissions + 1);
                resend.push(f.frame.clone());
            } else {
                broken = Some(f.msg_id);
            }
        }
        for i in abandoned.into_iter().rev() {
            let f = self.in_flight.remove(i);
            self.shared.stats.points_abandoned.add(f.points.len() as u64);
        }
        if let Some(msg_id) = broken {
            // The standard's rule: no answer after every retransmission means the link is down.
            return Err(SessionError::NoAnswer(msg_id));
        }
        for frame in resend {
            self.shared.stats.retransmissions.inc();
            c.send(&frame).await?;
        }
        if now >= c.last_sent + cfg.heartbeat() {
            let header = self.header(id::HEARTBEAT);
            let mut out = BytesMut::with_capacity(32);
            encode_message(&header, &Message::Heartbeat, &mut out)?;
            self.shared.stats.heartbeats_sent.inc();
            c.send(&out).await?;
        }
        Ok(())
    }

    /// Handles one frame from the platform while online.
    async fn on_frame(&mut self, c: &mut Conn, f: &Frame) -> Result<(), SessionError> {
        let msg = f.message()?;
        match msg {
            Message::PlatformAck(ack) => {
                if let Some(i) = self
                    .in_flight
                    .iter()
                    .position(|x| x.serial == ack.reply_serial && x.msg_id == ack.reply_msg_id)
                {
                    let done = self.in_flight.swap_remove(i);
                    if ack.result == GeneralAck::RESULT_OK
                        || ack.result == GeneralAck::RESULT_ALARM_ACKNOWLEDGED
                    {
                        let entries: Vec<LedgerEntry> = done.points.iter().map(LedgerEntry::of).collect();
                        self.shared.ledger.record(&entries);
                        self.shared.stats.points_acked.add(entries.len() as u64);
                        if done.msg_id == id::LOCATION_BATCH {
                            self.shared.stats.backfill_points_acked.add(entries.len() as u64);
                        }
                    } else {
                        // A refusal is an answer: the platform will not store these; a real terminal
                        // keeps them for a later upload, and so do we.
                        self.shared.stats.acks_refused.inc();
                        for mut p in done.points.into_iter().rev() {
                            p.source = PositionSource::Backfill;
                            self.backlog.push_front(p);
                        }
                    }
                }
            }
            Message::QueryLocation => {
                let now = self.shared.clock.now_ms();
                let p = self.fix(now);
                let items = report_items(&p);
                let report = LocationReport {
                    basic: BasicLocation::from_bytes(&p.basic_block()),
                    items: Items::List(&items),
                };
                let header = self.header(id::LOCATION_REPLY);
                let mut out = BytesMut::new();
                let reply = LocationReply {
                    reply_serial: f.header.serial,
                    report,
                };
                encode_message(&header, &Message::LocationReply(reply), &mut out)?;
                c.send(&out).await?;
            }
            Message::QueryParameters => {
                let c_ = &self.shared.config;
                let heartbeat = (c_.heartbeat_secs.round() as u32).to_be_bytes();
                let ack_timeout = (c_.ack_timeout_secs.round() as u32).to_be_bytes();
                let retrans = c_.max_retransmissions.to_be_bytes();
                let interval = (c_.interval_secs.round() as u32).to_be_bytes();
                let list = [
                    Parameter {
                        id: 0x0001,
                        value: &heartbeat,
                    },
                    Parameter {
                        id: 0x0002,
                        value: &ack_timeout,
                    },
                    Parameter {
                        id: 0x0003,
                        value: &retrans,
                    },
                    Parameter {
                        id: 0x0029,
                        value: &interval,
                    },
                ];
                let header = self.header(id::PARAMETERS);
                let mut out = BytesMut::new();
                let msg = Message::Parameters {
                    reply_serial: f.header.serial,
                    list: ParameterList {
                        count: list.len() as u8,
                        params: Params::List(&list),
                    },
                };
                encode_message(&header, &msg, &mut out)?;
                c.send(&out).await?;
            }
            Message::TrackLocation(t) => {
                // Interval 0 stops tracking; otherwise the next report comes after the new interval at the
                // latest, and the interval holds until the validity runs out.
                let now = self.shared.clock.now_ms();
                self.tracking = (t.interval_secs > 0).then(|| {
                    let interval_ms = i64::from(t.interval_secs) * 1000;
                    self.next_fix_ms = self.next_fix_ms.min(now + interval_ms);
                    (interval_ms, now + i64::from(t.validity_secs) * 1000)
                });
                self.terminal_ack(c, f, GeneralAck::RESULT_OK).await?;
            }
            Message::SetParameters(_) | Message::TextMessage(_) | Message::TerminalControl(_) => {
                self.terminal_ack(c, f, GeneralAck::RESULT_OK).await?
            }
            Message::RegisterAck(a) => {
                // A late answer to a retransmitted 0x0100: the platform issued a newer code, which is the
                // one it will check from now on.
                if let (RegisterAck::RESULT_OK, Some(code)) = (a.result, a.auth_code) {
                    self.shared.set_auth_code(self.phone, code.as_bytes().to_vec());
                }
            }
            Message::ServerTime(_) => {}
            _ => self.terminal_ack(c, f, GeneralAck::RESULT_UNSUPPORTED).await?,
        }
        Ok(())
    }

    async fn terminal_ack(&mut self, c: &mut Conn, f: &Frame, result: u8) -> Result<(), SessionError> {
        let header = self.header(id::TERMINAL_ACK);
        let ack = GeneralAck {
            reply_serial: f.header.serial,
            reply_msg_id: f.header.msg_id,
            result,
        };
        let mut out = BytesMut::with_capacity(32);
        encode_message(&header, &Message::TerminalAck(ack), &mut out)?;
        c.send(&out).await
    }

    /// Connects, registers when no auth code is held, authenticates.
    async fn connect_and_login(&mut self, stop: &mut watch::Receiver<bool>) -> Result<Conn, SessionError> {
        let cfg = self.shared.config.clone();
        let bind_ip = self.bind_ip;
        let connect = timeout(cfg.ack_timeout(), async move {
            match bind_ip {
                None => TcpStream::connect(cfg.target).await,
                Some(ip) => {
                    let socket = if ip.is_ipv4() {
                        TcpSocket::new_v4()?
                    } else {
                        TcpSocket::new_v6()?
                    };
                    socket.bind(std::net::SocketAddr::new(ip, 0))?;
                    socket.connect(cfg.target).await
                }
            }
        });
        let stream = tokio::select! {
            _ = stop.changed() => return Err(SessionError::Stopped),
            r = connect => r.map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??,
        };
        stream.set_nodelay(true)?;
        self.shared.stats.connects.inc();
        let (reader, writer) = stream.into_split();
        let mut c = Conn {
            reader,
            writer,
            buf: BytesMut::with_capacity(512),
            decoder: FrameDecoder::default(),
            last_sent: Instant::now(),
        };
        let known = self.shared.auth_code(self.phone);
        let code = match known {
            Some(code) => code,
            None => {
                let code = self.register(&mut c, stop).await?;
                self.shared.set_auth_code(self.phone, code.clone());
                code
            }
        };
        match self.authenticate(&mut c, &code, stop).await {
            Ok(()) => Ok(c),
            Err(SessionError::AuthRefused(r)) => {
                // The code is no longer valid (the platform forgot it): register afresh next time, unless a
                // newer code arrived meanwhile (a late answer to a retransmitted 0x0100).
                if self.shared.auth_code(self.phone).as_deref() == Some(code.as_slice()) {
                    self.shared.forget_auth_code(self.phone);
                }
                Err(SessionError::AuthRefused(r))
            }
            Err(e) => Err(e),
        }
    }

    /// Sends `frame` and waits for the answer `matches` accepts, retransmitting with the standard's backoff.
    async fn request<T>(
        &mut self,
        c: &mut Conn,
        msg_id: u16,
        frame: &[u8],
        stop: &mut watch::Receiver<bool>,
        mut matches: impl FnMut(&Frame) -> Option<T>,
    ) -> Result<T, SessionError> {
        let cfg = self.shared.config.clone();
        let mut n = 0u32;
        c.send(frame).await?;
        let mut deadline = Instant::now() + cfg.ack_timeout();
        loop {
            tokio::select! {
                _ = stop.changed() => return Err(SessionError::Stopped),
                _ = sleep_until(deadline) => {
                    if n >= cfg.max_retransmissions || !cfg.scenarios.retransmit {
                        return Err(SessionError::NoAnswer(msg_id));
                    }
                    n += 1;
                    self.shared.stats.retransmissions.inc();
                    c.send(frame).await?;
                    deadline = Instant::now() + retransmit_wait(cfg.ack_timeout(), n + 1);
                }
                f = c.next_frame() => {
                    if let Some(t) = matches(&f?) {
                        return Ok(t);
                    }
                }
            }
        }
    }

    async fn register(
        &mut self,
        c: &mut Conn,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Vec<u8>, SessionError> {
        let v = &self.shared.world.vehicles[self.vehicle];
        let (plate, _, _) = encoding_rs::GBK.encode(&v.plate);
        let plate = plate.into_owned();
        let terminal_id = v.terminal_id.clone();
        // Police cars carry white plates, other official cars blue ones (JT/T 697.7 colour codes).
        let plate_color = if v.plate.ends_with('警') { 4 } else { 1 };
        let header = self.header(id::REGISTER);
        let reg = Register {
            province_id: 42,
            city_id: 200,
            maker_id: Text(b"HSBD1"),
            model: Text(b"BD-808T"),
            terminal_id: Text(terminal_id.as_bytes()),
            plate_color,
            plate: Text(&plate),
        };
        let mut out = BytesMut::with_capacity(96);
        encode_message(&header, &Message::Register(reg), &mut out)?;
        let serial = header.serial;
        let answer = self
            .request(c, id::REGISTER, &out, stop, |f| match f.message() {
                Ok(Message::RegisterAck(a)) if a.reply_serial == serial => {
                    Some((a.result, a.auth_code.map(|t| t.as_bytes().to_vec())))
                }
                _ => None,
            })
            .await?;
        match answer {
            (0, Some(code)) => {
                self.shared.stats.registrations.inc();
                Ok(code)
            }
            (r, _) => {
                self.shared.stats.register_refusals.inc();
                Err(SessionError::RegisterRefused(r))
            }
        }
    }

    async fn authenticate(
        &mut self,
        c: &mut Conn,
        code: &[u8],
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), SessionError> {
        let imei = format!("86{:013}", self.phone.0 % 10_000_000_000_000);
        let header = self.header(id::AUTHENTICATE);
        let auth = Authenticate {
            auth_code: Text(code),
            imei: (self.edition == Edition::V2019).then_some(Text(imei.as_bytes())),
            software_version: (self.edition == Edition::V2019).then_some(Text(b"V2.1.0")),
        };
        let mut out = BytesMut::with_capacity(96);
        encode_message(&header, &Message::Authenticate(auth), &mut out)?;
        let serial = header.serial;
        let mut late_code: Option<Vec<u8>> = None;
        let result = self
            .request(c, id::AUTHENTICATE, &out, stop, |f| match f.message() {
                Ok(Message::PlatformAck(a))
                    if a.reply_serial == serial && a.reply_msg_id == id::AUTHENTICATE =>
                {
                    Some(a.result)
                }
                // A late answer to a retransmitted 0x0100 replaces the code: keep it for the next attempt.
                Ok(Message::RegisterAck(a)) if a.result == RegisterAck::RESULT_OK => {
                    late_code = a.auth_code.map(|t| t.as_bytes().to_vec());
                    None
                }
                _ => None,
            })
            .await?;
        if let Some(code) = late_code {
            self.shared.set_auth_code(self.phone, code);
        }
        if result == GeneralAck::RESULT_OK {
            self.shared.stats.authentications.inc();
            Ok(())
        } else {
            self.shared.stats.auth_refusals.inc();
            Err(SessionError::AuthRefused(result))
        }
    }
}

/// The additional items a simulated report carries: odometer, signal strength, satellites.
fn report_items(p: &Position) -> [AdditionalItem<'static>; 3] {
    [
        AdditionalItem::Mileage {
            mileage_dkm: p.mileage_dkm.unwrap_or(0),
        },
        AdditionalItem::Rssi {
            rssi: p.rssi.unwrap_or(0),
        },
        AdditionalItem::Satellites {
            count: p.satellites.unwrap_or(0),
        },
    ]
}

/// Encodes a 0x0200 frame for `p` with the simulator's additional items (odometer, signal, satellites).
pub fn encode_location(header: &Header, p: &Position) -> Result<bytes::Bytes, tianshu_jt808::Error> {
    let items = report_items(p);
    let report = LocationReport {
        basic: BasicLocation::from_bytes(&p.basic_block()),
        items: Items::List(&items),
    };
    let mut out = BytesMut::with_capacity(96);
    encode_message(header, &Message::Location(report), &mut out)?;
    Ok(out.freeze())
}

/// Encodes a 0x0704 type 1 (blind-area backfill) frame carrying `points`.
pub fn encode_batch(header: &Header, points: &[Position]) -> Result<bytes::Bytes, tianshu_jt808::Error> {
    let items: Vec<[AdditionalItem<'static>; 3]> = points.iter().map(report_items).collect();
    let reports: Vec<LocationReport<'_>> = points
        .iter()
        .zip(&items)
        .map(|(p, it)| LocationReport {
            basic: BasicLocation::from_bytes(&p.basic_block()),
            items: Items::List(it),
        })
        .collect();
    let batch = LocationBatch {
        count: reports.len() as u16,
        location_type: 1,
        items: BatchItems::List(&reports),
    };
    let mut out = BytesMut::with_capacity(32 + points.len() * 48);
    encode_message(header, &Message::LocationBatch(batch), &mut out)?;
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_standard() {
        let t = Duration::from_secs(10);
        assert_eq!(retransmit_wait(t, 1), Duration::from_secs(10));
        assert_eq!(retransmit_wait(t, 2), Duration::from_secs(20));
        assert_eq!(retransmit_wait(t, 3), Duration::from_secs(60));
        assert_eq!(retransmit_wait(t, 4), Duration::from_secs(240));
    }
}

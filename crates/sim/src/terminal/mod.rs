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

mod answers;
mod fix;
mod frames;
mod login;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use chrono::NaiveDate;
use tianshu_jt808::{Frame, FrameDecoder, Header, Message, encode_message, id};
use tianshu_model::geo::LonLat;
use tianshu_model::{Edition, Phone, Position, PositionSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use crate::clock::SimClock;
use crate::config::FleetConfig;
use crate::events::{Event, EventKind, events_for};
use crate::ledger::Ledger;
use crate::plan::{DayPlan, day_plan, local_date};
use crate::stats::FleetStats;
use crate::world::World;
pub use frames::{encode_batch, encode_location, retransmit_wait};
pub use login::registration;

/// What every terminal task shares: the world, the fleet's configuration, clock, ledger and counters, and
/// the auth codes the platform issued (which outlive connections).
pub(crate) struct Shared {
    pub(crate) world: Arc<World>,
    pub(crate) config: Arc<FleetConfig>,
    pub(crate) clock: SimClock,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) stats: Arc<FleetStats>,
    auth_codes: Mutex<HashMap<Phone, Vec<u8>>>,
}

impl Shared {
    pub(crate) fn new(
        world: Arc<World>,
        config: Arc<FleetConfig>,
        clock: SimClock,
        ledger: Arc<Ledger>,
        stats: Arc<FleetStats>,
    ) -> Self {
        Shared {
            world,
            config,
            clock,
            ledger,
            stats,
            auth_codes: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn auth_code(&self, phone: Phone) -> Option<Vec<u8>> {
        self.auth_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&phone)
            .cloned()
    }
    pub(crate) fn set_auth_code(&self, phone: Phone, code: Vec<u8>) {
        self.auth_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(phone, code);
    }
    pub(crate) fn forget_auth_code(&self, phone: Phone) {
        self.auth_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&phone);
    }
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

/// The connection, or when to try the next one.
struct Link {
    conn: Option<Conn>,
    reconnect_at: Instant,
    /// Logins failed in a row (the wait before the next grows with it, up to six times).
    failures: u32,
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
    /// Which of the platform's addresses the terminal uses ([`crate::FleetConfig::server`]): the vehicle's
    /// index at first, the next one after each failed connection or login.
    server: usize,
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
            server: vehicle,
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
        let mut link = Link {
            conn: None,
            reconnect_at: Instant::now() + start_delay,
            failures: 0,
        };
        while !*stop.borrow() {
            let now_ms = self.shared.clock.now_ms();
            let offline = self.offline_event(now_ms);
            self.record_due(&mut link, now_ms).await;
            if let Some(event) = offline {
                self.go_offline(&mut link, event);
            } else if link.conn.is_none() && Instant::now() >= link.reconnect_at {
                if !self.reconnect(&mut link, &mut stop).await {
                    break;
                }
                continue;
            }
            if let Some(c) = link.conn.as_mut()
                && let Err(e) = self.upload_backlog(c).await
            {
                self.lose_link(&mut link, "backfill failed", &e);
                continue;
            }
            let wake = self.next_wake(&link, offline.is_some());
            if !self.wait(&mut link, &mut stop, wake).await {
                break;
            }
        }
        if link.conn.is_some() {
            self.shared.stats.online.dec();
        }
    }

    /// Records every fix that is due; only the newest goes out live, older ones go to the backlog.
    async fn record_due(&mut self, link: &mut Link, now_ms: i64) {
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
            match link.conn.as_mut() {
                Some(c) if live => {
                    if let Err(e) = self.send_location(c, p).await {
                        self.lose_link(link, "report failed", &e);
                    }
                }
                _ => self.push_backlog(p),
            }
        }
    }

    /// A silent or blind-area period began: the connection closes, what was in flight waits for later.
    fn go_offline(&mut self, link: &mut Link, event: Event) {
        if link.conn.take().is_some() {
            self.shared.stats.online.dec();
            self.requeue_in_flight();
            tracing::debug!(phone = %self.phone, kind = ?event.kind, "terminal offline");
        }
    }

    /// Connects and logs in, or schedules the next attempt; false when the fleet is stopping.
    async fn reconnect(&mut self, link: &mut Link, stop: &mut watch::Receiver<bool>) -> bool {
        match self.connect_and_login(stop).await {
            Ok(c) => {
                link.conn = Some(c);
                link.failures = 0;
                self.shared.stats.online.inc();
            }
            Err(SessionError::Stopped) => return false,
            Err(e) => {
                self.shared.stats.login_failures.inc();
                link.failures = link.failures.saturating_add(1);
                self.server = self.server.wrapping_add(1);
                let wait = self
                    .shared
                    .config
                    .reconnect()
                    .saturating_mul(link.failures.min(6));
                tracing::debug!(phone = %self.phone, error = %e, wait_ms = wait.as_millis() as u64, "login failed");
                link.reconnect_at = Instant::now() + wait;
            }
        }
        true
    }

    /// The connection broke (`what` failed with `e`): it closes, what was in flight goes back to the
    /// backlog, and the next attempt waits the reconnection delay.
    fn lose_link(&mut self, link: &mut Link, what: &str, e: &SessionError) {
        tracing::debug!(phone = %self.phone, error = %e, "{what}; reconnecting");
        if link.conn.take().is_some() {
            self.shared.stats.online.dec();
        }
        self.requeue_in_flight();
        link.reconnect_at = Instant::now() + self.shared.config.reconnect();
    }

    /// When the terminal next has something to do: a fix, a retransmission, a heartbeat, a reconnection.
    fn next_wake(&self, link: &Link, offline: bool) -> Instant {
        let mut wake = self.shared.clock.instant_of(self.next_fix_ms);
        if let Some(d) = self.in_flight.iter().map(|f| f.deadline).min() {
            wake = wake.min(d);
        }
        if let Some(c) = link.conn.as_ref() {
            wake = wake.min(c.last_sent + self.shared.config.heartbeat());
        } else if !offline {
            wake = wake.min(link.reconnect_at);
        }
        wake
    }

    /// Waits until `wake` or a frame from the platform, and handles what came; false when the fleet's
    /// handle is gone (a dropped handle stops the fleet just as `stop()` does).
    async fn wait(&mut self, link: &mut Link, stop: &mut watch::Receiver<bool>, wake: Instant) -> bool {
        let read = async {
            match link.conn.as_mut() {
                Some(c) => c.next_frame().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = stop.changed() => return changed.is_ok(),
            _ = sleep_until(wake) => {
                if let Some(c) = link.conn.as_mut() {
                    if let Err(e) = self.on_timer(c).await {
                        self.lose_link(link, "link broken", &e);
                    }
                } else {
                    self.expire_offline();
                }
            }
            frame = read => {
                let result = match frame {
                    Ok(f) => match link.conn.as_mut() {
                        Some(c) => self.on_frame(c, &f).await,
                        None => Ok(()),
                    },
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    self.lose_link(link, "connection lost", &e);
                }
            }
        }
        true
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
}

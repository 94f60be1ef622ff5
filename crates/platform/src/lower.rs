//! Tianshu as a lower platform (下级平台): one task per `[[upper]]` entry keeps the main link up and
//! forwards the committed positions of the covered cars, in receive order, from a durable forwarding
//! position.
//!
//! Invariants:
//! - The forwarding position (the latest receive time sent, [`tianshu_store::forwarding`]) moves only
//!   after the upper platform answered a keep-alive sent behind the positions: an upper platform reads a
//!   link in order, and Tianshu as an upper platform answers only once what it read is durable. A link
//!   that breaks before the answer sends the same positions again after reconnecting; the standard has no
//!   acknowledgement of positions, and an upper platform's store takes a repeat once.
//! - A point is forwarded only once its receive time lies `settle_secs` in the past, so every point
//!   received before the position has been committed when the position passes it.
//! - Points received long after their fix (catching up after an outage, a terminal's blind-area
//!   backfill) go as backfilled positions (0x1203, up to five per message), the rest as real-time ones
//!   (0x1202).
//! - A link that is behind (back from an outage) catches up a window of receive time at a time
//!   (`catch_up_window_secs`), each window read, sent and confirmed by a keep-alive before the next, so a
//!   long outage does not load its whole backlog at once.
//! - A car the upper platform asks for (0x9205) has its positions forwarded too, from the forwarding
//!   position on, until it asks to stop (0x9206); both are answered (0x1205 / 0x1206). An unknown plate
//!   is not answered (the answer would promise positions that never come) and is logged.
//! - Alert cases of the covered cars go up as alarm reports the same way, from a position of their own
//!   ([`alarms`]).
//! - The link reconnects with a doubling backoff; a refused login is retried the same way and logged.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use tianshu_jt809::{Codec, Edition, FrameDecoder, Header, Login, LoginAnswer, Message, forwarded};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::UpperPlatform;
use crate::metrics::METRICS;
use crate::scope::units_named;
use crate::sublink::accept::{self, SubState};

mod alarms;
mod business;

/// Why a link ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Connecting, reading or writing failed, or the upper platform closed the link.
    #[error("link: {0}")]
    Io(#[from] std::io::Error),
    /// No answer within `answer_timeout_secs`.
    #[error("no answer within the timeout")]
    NoAnswer,
    /// The login was refused with this RESULT code.
    #[error("login refused with result {0:#04x}")]
    Refused(u8),
    /// A frame that does not decode or encode.
    #[error("frame: {0}")]
    Codec(#[from] tianshu_jt809::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] tianshu_store::Error),
}

/// Keeps the main link to `upper` up and forwards to it until `shutdown`.
pub async fn forward(upper: UpperPlatform, store: Store, shutdown: CancellationToken) {
    let min = Duration::from_millis(upper.reconnect_min_backoff_ms.max(1));
    let max = Duration::from_millis(upper.reconnect_max_backoff_ms).max(min);
    let mut backoff = min;
    let up = METRICS.link_up.with_label_values(&[upper.name.as_str(), "upper"]);
    let sub = SubState::default();
    let offered = accept::offer(&upper, sub.clone(), shutdown.child_token()).await;
    // The cars the upper platform asked for (0x9205) outlive a link: it asked once.
    let mut requested = HashMap::new();
    loop {
        let mut link = UpLink::new(&upper, &store, offered.clone(), &sub);
        link.requested = std::mem::take(&mut requested);
        let ended = tokio::select! {
            _ = shutdown.cancelled() => return,
            ended = link.run(&up) => ended.err().map_or_else(|| "closed".to_string(), |e| e.to_string()),
        };
        requested = std::mem::take(&mut link.requested);
        up.set(0);
        if link.logged_in {
            backoff = min;
            sub.main_down(&upper.name);
        }
        warn!(upper = %upper.name, error = %ended, retry_in_ms = backoff.as_millis() as u64,
            "JT/T 809 link to the upper platform ended");
        METRICS.links_closed.with_label_values(&["upper_link"]).inc();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(max);
    }
}

/// One connection to an upper platform.
struct UpLink<'a> {
    upper: &'a UpperPlatform,
    store: &'a Store,
    codec: Codec,
    logged_in: bool,
    sn: u32,
    buf: BytesMut,
    decoder: FrameDecoder,
    out: Vec<u8>,
    scratch: Vec<u8>,
    /// DOWN_LINK_IP and PORT the login names, when a sub-link listener runs.
    offered: Option<(String, u16)>,
    /// The sub-link listener's view of this link.
    sub: &'a SubState,
    /// Messages of the upper platform read while waiting for an answer, with their MSG_SN.
    inbox: Vec<(u32, Message)>,
    /// The highest case number reported, once read from the store.
    alarm_position: Option<i64>,
    /// Cars the upper platform asked for (0x9205) and has not released (0x9206), with their plates: their
    /// positions go up whether or not their unit is covered.
    requested: HashMap<VehicleId, String>,
    /// Answers owed to the upper platform's messages, sent with the next answers.
    replies: Vec<Message>,
}

impl<'a> UpLink<'a> {
    fn new(
        upper: &'a UpperPlatform,
        store: &'a Store,
        offered: Option<(String, u16)>,
        sub: &'a SubState,
    ) -> UpLink<'a> {
        let codec = Codec::new(upper.edition).with_cipher(upper.cipher().ok().flatten());
        UpLink {
            upper,
            store,
            codec,
            logged_in: false,
            sn: 0,
            buf: BytesMut::with_capacity(4096),
            decoder: FrameDecoder::new(codec),
            out: Vec::new(),
            scratch: Vec::new(),
            offered,
            sub,
            inbox: Vec::new(),
            alarm_position: None,
            requested: HashMap::new(),
            replies: Vec::new(),
        }
    }

    async fn run(&mut self, up: &prometheus::IntGauge) -> Result<(), LinkError> {
        let within = Duration::from_secs(self.upper.answer_timeout_secs);
        let mut stream = tokio::time::timeout(within, TcpStream::connect(self.upper.address.trim()))
            .await
            .map_err(|_| LinkError::NoAnswer)??;
        let login = Message::Login(Login {
            user_id: self.upper.user_id,
            password: self.upper.password.clone(),
            center_id: if self.upper.edition == Edition::V2019 {
                self.upper.access_code
            } else {
                0
            },
            down_link_ip: self.offered.as_ref().map(|o| o.0.clone()).unwrap_or_default(),
            down_link_port: self.offered.as_ref().map_or(0, |o| o.1),
        });
        self.send(&mut stream, &[login]).await?;
        match self
            .answer(&mut stream, |m| matches!(m, Message::LoginAnswer(_)))
            .await?
        {
            Message::LoginAnswer(LoginAnswer {
                result: 0,
                verify_code,
            }) => self.sub.logged_in(verify_code),
            Message::LoginAnswer(a) => return Err(LinkError::Refused(a.result)),
            _ => return Err(LinkError::NoAnswer),
        }
        self.logged_in = true;
        up.set(1);
        info!(upper = %self.upper.name, "JT/T 809 main link to the upper platform logged in");
        self.forward_loop(&mut stream).await
    }

    /// Polls the store and forwards, keeping the link alive when there is nothing to send.
    async fn forward_loop(&mut self, stream: &mut TcpStream) -> Result<(), LinkError> {
        let name = self.upper.name.as_str();
        // The first link of this upper platform (no position saved yet) sends what arrived in the last
        // `lookback_days`, not the store's whole history, in one read: catching that up window by window
        // would read the packed days again in every window (a block is skipped only when everything in
        // it arrived before the window).
        let saved = self.store.forwarding().position(name).await?;
        let mut first_round = saved.is_none();
        let mut position = saved.unwrap_or_else(|| self.lookback_from(Timestamp::now()));
        let mut covered = self.covered().await?;
        let mut since_refresh = tokio::time::Instant::now();
        let mut since_save = tokio::time::Instant::now();
        let mut since_keepalive = tokio::time::Instant::now();
        let poll = Duration::from_millis(self.upper.poll_ms);
        let window_ms =
            i64::try_from(self.upper.catch_up_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        loop {
            let now = Timestamp::now();
            let settled = now.add_millis(-(self.upper.settle_secs as i64) * 1000);
            // Behind (back from an outage), a window of receive time a round; a first link's first round
            // reads its whole lookback.
            let upto = if std::mem::take(&mut first_round) {
                settled
            } else {
                settled.min(position.add_millis(window_ms))
            };
            if upto > position {
                let cars = self.forwarded_cars(&covered);
                let points = self.due(&cars, position, upto).await?;
                let sent = !points.is_empty();
                if sent {
                    let messages = forwarded(&points, &cars, now, self.upper.edition);
                    self.send(stream, &messages).await?;
                    self.keep_alive(stream).await?;
                    since_keepalive = tokio::time::Instant::now();
                    let lag_ms = now.0 - points.last().map_or(now.0, |p| p.recv_time.0);
                    METRICS
                        .positions
                        .with_label_values(&[name, "forwarded"])
                        .inc_by(points.len() as u64);
                    METRICS.forwarding_lag_ms.with_label_values(&[name]).set(lag_ms);
                }
                position = upto;
                self.forward_alarms(stream, &covered, upto).await?;
                // An idle link's position is saved now and then, so a restart need not read back far.
                if sent || since_save.elapsed() >= Duration::from_secs(60) {
                    self.store.forwarding().save(name, position, now).await?;
                    since_save = tokio::time::Instant::now();
                }
            }
            if since_keepalive.elapsed() >= Duration::from_secs(self.upper.keepalive_secs) {
                self.keep_alive(stream).await?;
                since_keepalive = tokio::time::Instant::now();
            }
            if since_refresh.elapsed() >= Duration::from_secs(60) {
                covered = self.covered().await?;
                since_refresh = tokio::time::Instant::now();
            }
            // Still behind: the next window at once (what the upper platform sent is still handled).
            let behind = upto < settled;
            self.idle(stream, if behind { Duration::ZERO } else { poll })
                .await?;
        }
    }

    /// The covered cars and their plates, read from the registry.
    async fn covered(&self) -> Result<HashMap<VehicleId, String>, LinkError> {
        let all = self.store.units().await?;
        let (units, missing) = units_named(&all, &self.upper.units);
        for unit in missing {
            warn!(upper = %self.upper.name, %unit, "a unit forwarded to an upper platform is not in the registry");
        }
        Ok(self
            .store
            .vehicles()
            .await?
            .into_iter()
            .filter(|v| units.contains(&v.unit))
            .map(|v| (v.id, v.plate))
            .collect())
    }

    /// The cars whose positions go up: the covered ones and those the upper platform asked for.
    fn forwarded_cars<'c>(
        &self,
        covered: &'c HashMap<VehicleId, String>,
    ) -> Cow<'c, HashMap<VehicleId, String>> {
        if self.requested.keys().all(|v| covered.contains_key(v)) {
            return Cow::Borrowed(covered);
        }
        let mut cars = covered.clone();
        cars.extend(self.requested.iter().map(|(v, plate)| (*v, plate.clone())));
        Cow::Owned(cars)
    }

    /// `lookback_days` before `t`.
    fn lookback_from(&self, t: Timestamp) -> Timestamp {
        t.add_millis(-i64::from(self.upper.lookback_days) * 86_400_000)
    }

    /// The given cars' points received in `(after, upto]`, in receive order (then car, then fix).
    async fn due(
        &self,
        covered: &HashMap<VehicleId, String>,
        after: Timestamp,
        upto: Timestamp,
    ) -> Result<Vec<Position>, LinkError> {
        let from = self.lookback_from(after);
        let cars: Vec<VehicleId> = covered.keys().copied().collect();
        let mut due = self
            .store
            .backend()
            .received_between(&cars, from.max(Timestamp(0)), (after, upto))
            .await?;
        due.sort_by_key(|p| (p.recv_time, p.vehicle, p.fix_time));
        Ok(due)
    }

    /// Sends a keep-alive and waits for its answer: the upper platform has read everything sent before.
    async fn keep_alive(&mut self, stream: &mut TcpStream) -> Result<(), LinkError> {
        self.send(stream, &[Message::KeepAlive]).await?;
        self.answer(stream, |m| matches!(m, Message::KeepAliveAnswer))
            .await?;
        Ok(())
    }

    /// The first message `wanted` takes; others wait in the inbox for [`UpLink::idle`].
    async fn answer(
        &mut self,
        stream: &mut TcpStream,
        wanted: fn(&Message) -> bool,
    ) -> Result<Message, LinkError> {
        let within = Duration::from_secs(self.upper.answer_timeout_secs);
        loop {
            while let Some(frame) = self.decoder.decode_ref(&mut self.buf)? {
                let m = frame.message()?;
                if wanted(&m) {
                    return Ok(m);
                }
                self.inbox.push((frame.header.msg_sn, m));
            }
            match tokio::time::timeout(within, stream.read_buf(&mut self.buf)).await {
                Err(_) => return Err(LinkError::NoAnswer),
                Ok(Ok(0)) => return Err(LinkError::Io(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(read) => {
                    read?;
                }
            }
        }
    }

    async fn send(&mut self, stream: &mut TcpStream, messages: &[Message]) -> Result<(), LinkError> {
        self.out.clear();
        for m in messages {
            self.sn = self.sn.wrapping_add(1);
            let mut header = Header::new(self.codec.edition, m.msg_id(), self.sn, self.upper.access_code);
            if self.codec.edition == Edition::V2019 {
                header.time_utc = u64::try_from(Timestamp::now().secs()).unwrap_or(0);
            }
            if self.codec.cipher.is_some() {
                header.encrypted = true;
                header.encrypt_key = rand::random();
            }
            self.codec
                .encode_into(&header, m, &mut self.scratch, &mut self.out)?;
        }
        stream.write_all(&self.out).await?;
        Ok(())
    }
}

//! Tianshu as an upper platform (上级平台): lower platforms open their main link here, log in, keep it
//! alive and report their cars' positions, which are stored like a terminal's.
//!
//! Invariants:
//! - Nothing but a login is read from a link that has not logged in; a refused login is answered with
//!   the standard's code ([`crate::login::verdict`]) and the link closed.
//! - A position is stored only for a car the registry knows, of a unit the peer reports (its configured
//!   units and their sub-units); any other is refused and counted, and costs nothing else.
//! - Positions go through the uplink's checks ([`Uplink::from_points`]) and the store's group-commit
//!   writer (or, with a bus, the points stream: durable once the PubAck came); the store's key makes a position sent twice (a retransmission, an overlapping backfill)
//!   harmless. JT/T 809 acknowledges no position, so the link reads on only once the frames already
//!   received are durable: a slow store slows the peer instead of piling up.
//! - Alarm reports are kept once each under the same ownership test ([`alarms`]).
//! - A bad frame is refused alone; a run longer than the frame cap, a silent link (no frame for
//!   `keepalive_timeout_secs`) or a store that fails closes this link only.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tianshu_ingest::uplink::{Binding, Uplink, UplinkConfig};
use tianshu_ingest::{PointSink, StoreSink};
use tianshu_jt809::{
    Codec, Edition, Error as CodecError, ForVehicle, FrameDecoder, Header, Login, LoginAnswer, Message,
    UpExg, access_code,
};
use tianshu_model::{Phone, Position, PositionSource, Timestamp, UnitId, VehicleId};
use tianshu_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::{Jt809Config, LowerPlatform};
use crate::login::{result_label, verdict};
use crate::metrics::METRICS;
use crate::scope::units_named;
use crate::sublink::{Attached, Down, Peers, SubSettings, SubTarget};

mod alarms;
mod business;

/// What every main link shares.
pub struct Upper {
    /// The listener's settings and the accepted lower platforms.
    config: Jt809Config,
    /// The registry (plates, units) and the writer positions go through.
    store: Store,
    /// The fix times taken, as for terminals.
    uplink: UplinkConfig,
    /// Where positions go: the store's writer, or the bus when one is configured.
    sink: Arc<dyn PointSink>,
    /// The logged-in lower platforms' ways down and sub-links.
    peers: Peers,
}

impl Upper {
    /// An upper platform over `store`, taking fix times as `uplink` says.
    pub fn new(config: Jt809Config, store: Store, uplink: UplinkConfig) -> Arc<Upper> {
        let sink = Arc::new(StoreSink(store.clone()));
        Upper::with_sink(config, store, uplink, sink)
    }

    /// The same, positions handed to `sink` (with a bus: published per partition, a link reading on
    /// only once the stream holds them).
    pub fn with_sink(
        config: Jt809Config,
        store: Store,
        uplink: UplinkConfig,
        sink: Arc<dyn PointSink>,
    ) -> Arc<Upper> {
        Arc::new(Upper {
            config,
            store,
            uplink,
            sink,
            peers: Peers::default(),
        })
    }

    /// The way down to the lower platform named `peer` (its sub-link when up, else its main link),
    /// once it has logged in.
    pub fn down(&self, peer: &str) -> Option<Down> {
        self.peers.down(peer)
    }
}

/// Accepts main links until `shutdown`, then waits for the open ones to close.
pub async fn run(listener: TcpListener, upper: Arc<Upper>, shutdown: CancellationToken) {
    let links = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => {
                let (upper, shutdown) = (upper.clone(), shutdown.clone());
                links.spawn(async move {
                    let closed = MainLink::new(&upper, stream, addr).serve(&shutdown).await;
                    debug!(%addr, reason = closed.label(), "JT/T 809 main link closed");
                    METRICS.links_closed.with_label_values(&[closed.label()]).inc();
                });
            }
            Err(e) => {
                // Out of descriptors or a reset before accept: wait a little rather than spin.
                warn!(error = %e, "accepting a JT/T 809 main link failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    links.close();
    links.wait().await;
}

/// Why a main link was closed (a bounded label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    Peer,
    Logout,
    Silent,
    LoginRefused,
    LoginTimeout,
    FrameTooLong,
    Protocol,
    StoreFailed,
    Shutdown,
}

impl Closed {
    fn label(self) -> &'static str {
        match self {
            Closed::Peer => "peer",
            Closed::Logout => "logout",
            Closed::Silent => "silent",
            Closed::LoginRefused => "login_refused",
            Closed::LoginTimeout => "login_timeout",
            Closed::FrameTooLong => "frame_too_long",
            Closed::Protocol => "protocol",
            Closed::StoreFailed => "store_failed",
            Closed::Shutdown => "shutdown",
        }
    }
}

/// A logged-in peer: who it is and which cars are its own.
struct Peer<'a> {
    config: &'a LowerPlatform,
    /// Its units and their sub-units, resolved from the registry at login.
    units: HashSet<UnitId>,
    /// Plates already looked up: the vehicle and its unit, or `None` for a plate the registry lacks.
    plates: HashMap<String, Option<(VehicleId, UnitId)>>,
    /// When the requests owed to it were last looked for.
    owed_checked: Option<tokio::time::Instant>,
}

/// Most plates remembered per link; past it the memory starts again, so a flood of invented plates
/// costs lookups, never memory.
const MAX_REMEMBERED_PLATES: usize = 100_000;

/// One main link.
struct MainLink<'a> {
    upper: &'a Upper,
    stream: TcpStream,
    addr: SocketAddr,
    buf: BytesMut,
    decoder: FrameDecoder,
    codec: Codec,
    /// The access code answers carry (the peer's).
    access_code: u32,
    /// MSG_SN of the next frame sent.
    sn: u32,
    out: Vec<u8>,
    scratch: Vec<u8>,
    /// Messages sent down this main link (see [`Down`]), once logged in.
    down_rx: Option<mpsc::Receiver<Message>>,
    /// This login's entry among the peers.
    attached: Option<Attached>,
}

impl<'a> MainLink<'a> {
    fn new(upper: &'a Upper, stream: TcpStream, addr: SocketAddr) -> MainLink<'a> {
        let codec = Codec {
            max_frame_bytes: upper.config.max_frame_bytes,
            ..Codec::new(Edition::V2011)
        };
        MainLink {
            upper,
            stream,
            addr,
            buf: BytesMut::with_capacity(4096),
            decoder: FrameDecoder::new(codec),
            codec,
            access_code: 0,
            sn: 0,
            out: Vec::new(),
            scratch: Vec::new(),
            down_rx: None,
            attached: None,
        }
    }

    async fn serve(mut self, shutdown: &CancellationToken) -> Closed {
        let peer = match self.login(shutdown).await {
            Ok(peer) => peer,
            Err(Closed::Silent) => return Closed::LoginTimeout,
            Err(closed) => return closed,
        };
        let name = peer.config.name.clone();
        info!(addr = %self.addr, peer = %name, "JT/T 809 lower platform logged in");
        let up = METRICS.link_up.with_label_values(&[name.as_str(), "main"]);
        up.set(1);
        let closed = self.steady(peer, shutdown).await;
        up.set(0);
        if let Some(attached) = self.attached.take() {
            self.upper
                .peers
                .main_closed(attached, closed == Closed::Logout)
                .await;
        }
        closed
    }

    /// Reads more bytes, sending down messages meanwhile; `Err` when the link ends, is silent for
    /// `within` or shutdown comes.
    async fn read_more(&mut self, within: Duration, shutdown: &CancellationToken) -> Result<(), Closed> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mut down_rx = self.down_rx.take();
            let down = async {
                match down_rx.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let read = tokio::select! {
                _ = shutdown.cancelled() => Err(Closed::Shutdown),
                m = down => Ok(m),
                read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)) => return match read {
                    Err(_) => Err(Closed::Silent),
                    Ok(Ok(0)) | Ok(Err(_)) => Err(Closed::Peer),
                    Ok(Ok(_)) => Ok(()),
                },
            };
            self.down_rx = down_rx;
            if let Some(m) = read? {
                self.send(&m).await?;
            }
        }
    }

    /// Enters the logged-in peer among the peers; its sub-link is opened when the login named one.
    async fn attach(&mut self, config: &LowerPlatform, login: &Login, verify_code: u32) {
        let target =
            (login.down_link_port != 0 && !login.down_link_ip.trim().is_empty()).then(|| SubTarget {
                address: format!("{}:{}", login.down_link_ip.trim(), login.down_link_port),
                verify_code,
                codec: self.codec,
                access_code: self.access_code,
            });
        let settings = SubSettings {
            keepalive_secs: self.upper.config.sub_link_keepalive_secs,
            answer_timeout_secs: self.upper.config.login_timeout_secs,
            reconnect_min_backoff_ms: self.upper.config.sub_link_reconnect_min_backoff_ms,
            reconnect_max_backoff_ms: self.upper.config.sub_link_reconnect_max_backoff_ms,
        };
        let (rx, attached) = self.upper.peers.attach(&config.name, target, settings).await;
        self.down_rx = Some(rx);
        self.attached = Some(attached);
    }

    /// Waits for the login, answers it, and on success switches the link to the peer's edition and key.
    async fn login(&mut self, shutdown: &CancellationToken) -> Result<Peer<'a>, Closed> {
        let raw = loop {
            match self.decoder.cut(&mut self.buf) {
                Ok(Some(raw)) => break raw,
                Ok(None) => {
                    let within = Duration::from_secs(self.upper.config.login_timeout_secs);
                    self.read_more(within, shutdown).await?
                }
                Err(e) => return Err(refused_frame(&e)),
            }
        };
        let code = access_code(&raw).map_err(|e| refused_frame(&e))?;
        let config = self.upper.config.lower.iter().find(|p| p.access_code == code);
        let edition = config.map_or_else(|| Edition::guess(&raw), |p| p.edition);
        self.codec = Codec {
            edition,
            cipher: config.and_then(|p| p.cipher().ok().flatten()),
            ..self.codec
        };
        self.decoder.set_codec(self.codec);
        self.access_code = code;
        let login = match self.codec.decode_frame(&raw).and_then(|f| f.message()) {
            Ok(Message::Login(login)) => login,
            Ok(_) => return Err(Closed::Protocol),
            Err(e) => return Err(refused_frame(&e)),
        };
        let result = verdict(&self.upper.config.lower, code, &login);
        let answer = LoginAnswer {
            result: result.err().unwrap_or(LoginAnswer::OK),
            verify_code: if result.is_ok() {
                rand::random::<u32>() | 1
            } else {
                0
            },
        };
        METRICS
            .logins
            .with_label_values(&[result_label(answer.result)])
            .inc();
        self.send(&Message::LoginAnswer(answer)).await?;
        match result {
            Ok(config) => {
                self.attach(config, &login, answer.verify_code).await;
                self.peer(config).await
            }
            Err(code) => {
                warn!(addr = %self.addr, access_code = self.access_code, user = login.user_id, result = code,
                    "JT/T 809 login refused");
                Err(Closed::LoginRefused)
            }
        }
    }

    /// The logged-in peer with its units resolved.
    async fn peer(&self, config: &'a LowerPlatform) -> Result<Peer<'a>, Closed> {
        let all = self.upper.store.units().await.map_err(|e| {
            warn!(error = %e, "reading the units for a JT/T 809 peer failed");
            Closed::StoreFailed
        })?;
        let (units, missing) = units_named(&all, &config.units);
        for unit in missing {
            warn!(peer = %config.name, %unit, "a JT/T 809 peer's unit is not in the registry");
        }
        Ok(Peer {
            config,
            units,
            plates: HashMap::new(),
            owed_checked: None,
        })
    }

    /// After login: answers keep-alives, stores positions, until the link ends.
    async fn steady(&mut self, mut peer: Peer<'a>, shutdown: &CancellationToken) -> Closed {
        let silent_after = Duration::from_secs(self.upper.config.keepalive_timeout_secs);
        loop {
            let mut points = Vec::new();
            loop {
                let message = match self.decoder.decode_ref(&mut self.buf) {
                    Ok(Some(frame)) => frame.message(),
                    Ok(None) => break,
                    Err(e @ CodecError::FrameTooLong { .. }) => return refused_frame(&e),
                    Err(e) => Err(e),
                };
                match message {
                    Ok(m) => match self.before(&m, &peer, &mut points).await {
                        Ok(()) => match self.handle(m, &mut peer, &mut points).await {
                            Ok(()) => {}
                            Err(closed) => return closed,
                        },
                        Err(closed) => return closed,
                    },
                    Err(e) => {
                        refused_frame(&e);
                        debug!(addr = %self.addr, error = %e, "JT/T 809 frame refused");
                    }
                }
            }
            if let Err(closed) = self.store(&peer, points).await {
                return closed;
            }
            if let Err(closed) = self.read_or_send(&mut peer, silent_after, shutdown).await {
                return closed;
            }
        }
    }

    /// What a message needs done first: a keep-alive is answered only once the positions read before it
    /// are durable, so that its answer tells a lower platform it may advance its forwarding position.
    async fn before(&self, m: &Message, peer: &Peer<'a>, points: &mut Vec<Position>) -> Result<(), Closed> {
        if matches!(m, Message::KeepAlive) {
            self.store(peer, std::mem::take(points)).await?;
        }
        Ok(())
    }

    /// One message of a logged-in link: answered now, or its points added to `points`.
    async fn handle(
        &mut self,
        m: Message,
        peer: &mut Peer<'a>,
        points: &mut Vec<Position>,
    ) -> Result<(), Closed> {
        match m {
            Message::KeepAlive => self.send(&Message::KeepAliveAnswer).await,
            Message::Logout(_) => {
                self.send(&Message::LogoutAnswer).await?;
                Err(Closed::Logout)
            }
            Message::DisconnectInform { .. } | Message::CloseLinkInform { .. } => Err(Closed::Logout),
            m @ (Message::UpPlatform(_) | Message::UpWarn(_)) => {
                if !self.answered(peer, &m).await? {
                    self.alarm(peer, &m).await?;
                }
                Ok(())
            }
            Message::UpExg(ForVehicle { vehicle, data }) => {
                let (list, source) = match data {
                    UpExg::RealLocation(g) => (vec![g], PositionSource::Live),
                    UpExg::HistoryLocation(list) => (list, PositionSource::Backfill),
                    _ => return Ok(()),
                };
                self.positions(peer, &vehicle.plate, &list, source, points).await
            }
            _ => Ok(()),
        }
    }

    /// The points of one message about `plate`, when the car is the peer's.
    async fn positions(
        &self,
        peer: &mut Peer<'a>,
        plate: &str,
        list: &[tianshu_jt809::Gnss],
        source: PositionSource,
        points: &mut Vec<Position>,
    ) -> Result<(), Closed> {
        let count = |outcome: &str, n: usize| {
            METRICS
                .positions
                .with_label_values(&[peer.config.name.as_str(), outcome])
                .inc_by(n as u64);
        };
        let Some((vehicle, unit)) = self.vehicle(peer, plate).await? else {
            count("unknown_plate", list.len());
            return Ok(());
        };
        if !peer.units.contains(&unit) {
            count("not_owned", list.len());
            return Ok(());
        }
        let recv_time = Timestamp::now();
        let mut decoded = Vec::with_capacity(list.len());
        for g in list {
            match g.to_position(vehicle, recv_time, source) {
                Ok(p) => decoded.push(p),
                Err(_) => count("refused", 1),
            }
        }
        let binding = Binding {
            phone: Phone(0),
            vehicle,
            recv_time,
            clock_offset_secs: 0,
            config: self.upper.uplink,
        };
        let uplink = Uplink::from_points(decoded, binding);
        count("refused", uplink.refused.len());
        points.extend(uplink.points);
        Ok(())
    }

    async fn vehicle(&self, peer: &mut Peer<'a>, plate: &str) -> Result<Option<(VehicleId, UnitId)>, Closed> {
        if let Some(known) = peer.plates.get(plate) {
            return Ok(*known);
        }
        let found = self.upper.store.vehicle_by_plate(plate).await.map_err(|e| {
            warn!(error = %e, "looking up a JT/T 809 plate failed");
            Closed::StoreFailed
        })?;
        let found = found.map(|v| (v.id, v.unit));
        if peer.plates.len() >= MAX_REMEMBERED_PLATES {
            peer.plates.clear();
        }
        peer.plates.insert(plate.to_string(), found);
        Ok(found)
    }

    /// Stores `points` and waits until they are durable.
    async fn store(&self, peer: &Peer<'a>, points: Vec<Position>) -> Result<(), Closed> {
        if points.is_empty() {
            return Ok(());
        }
        let name = peer.config.name.as_str();
        let n = points.len() as u64;
        match self.upper.sink.append(points).await {
            Ok(summary) => {
                METRICS
                    .positions
                    .with_label_values(&[name, "stored"])
                    .inc_by(summary.inserted);
                METRICS
                    .positions
                    .with_label_values(&[name, "duplicate"])
                    .inc_by(summary.duplicates);
                Ok(())
            }
            Err(e) => {
                tracing::error!(peer = %name, points = n, error = %e, "storing a JT/T 809 peer's positions failed");
                METRICS
                    .positions
                    .with_label_values(&[name, "store_failed"])
                    .inc_by(n);
                Err(Closed::StoreFailed)
            }
        }
    }

    async fn send(&mut self, message: &Message) -> Result<(), Closed> {
        self.sn = self.sn.wrapping_add(1);
        let mut header = Header::new(self.codec.edition, message.msg_id(), self.sn, self.access_code);
        if self.codec.edition == Edition::V2019 {
            header.time_utc = u64::try_from(Timestamp::now().secs()).unwrap_or(0);
        }
        self.out.clear();
        if self
            .codec
            .encode_into(&header, message, &mut self.scratch, &mut self.out)
            .is_err()
        {
            return Err(Closed::Protocol);
        }
        self.stream.write_all(&self.out).await.map_err(|_| Closed::Peer)
    }
}

/// Counts a frame that did not decode; the closing reason when it ends the link.
fn refused_frame(e: &CodecError) -> Closed {
    METRICS.frames_refused.with_label_values(&[e.kind()]).inc();
    match e {
        CodecError::FrameTooLong { .. } => Closed::FrameTooLong,
        _ => Closed::Protocol,
    }
}

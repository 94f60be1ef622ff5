//! What the gateway tests share: the real `tianshu serve` binary on 127.0.0.1 port 0, a provisioned
//! registry, and a small JT/T 808 terminal built from the codec's encoder that keeps a ledger of what the
//! platform acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use tianshu_jt808::{
    Authenticate, BasicLocation, BatchItems, Frame, FrameDecoder, GeneralAck, Header, Items, LocationBatch,
    LocationReport, Message, Register, Text, encode_frame, encode_message, id,
};
use tianshu_model::{Edition, Phone, Position, PositionSource, StatusFlags};
use tianshu_store::{RegistryRecord, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Fix, Tianshu, registry_record};
use tokio::net::{TcpSocket, TcpStream};

/// The phone number of test terminal `i`.
pub fn phone(i: u32) -> Phone {
    Phone(13_900_000_000 + u128::from(i))
}

/// The terminal id of test terminal `i`.
pub fn terminal_id(i: u32) -> String {
    format!("T{i:06}")
}

/// The plate of test vehicle `i`.
pub fn plate(i: u32) -> String {
    format!("鄂B{i:05}")
}

/// Provisions terminals `0..n` (each with its own vehicle) in the store at `url`.
pub async fn provision(url: &str, n: u32) {
    let store = Store::open(url).await.expect("opening the store to provision");
    let records: Vec<RegistryRecord> = (0..n)
        .map(|i| registry_record("黄石市/市委办公室", &plate(i), phone(i).0, &terminal_id(i)))
        .collect();
    store
        .import_registry(&records)
        .await
        .expect("importing the test registry");
}

/// Every stored point of terminal `i`'s vehicle, in fix-time order.
pub async fn stored_points(store: &Store, i: u32) -> Vec<Position> {
    crate::stored_track(store, &plate(i)).await
}

/// Starts `tianshu serve` on the store at `url` with the `[jt808]` settings in `gateway_toml`, and waits
/// until it listens.
pub fn serve(url: &str, gateway_toml: &str, scratch_dir: &Path) -> Tianshu {
    serve_at(
        url,
        gateway_toml,
        scratch_dir,
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
}

/// As [`serve`], with terminals connecting at `jt808` (to restart on the address of a killed one).
pub fn serve_at(url: &str, gateway_toml: &str, scratch_dir: &Path, jt808: SocketAddr) -> Tianshu {
    Tianshu::start_at(
        url,
        &format!("[jt808]\n{gateway_toml}\n"),
        &[],
        scratch_dir,
        jt808,
    )
}

/// A test point: fix time `t` (seconds after a base instant) around Huangshi; every (i, t) is distinct.
pub fn point(i: u32, t: i64) -> Position {
    Fix::at(1_795_000_000 + t)
        .at_e6(
            30_200_000 + (i as i32) * 100 + t.rem_euclid(1000) as i32,
            115_040_000 + t.rem_euclid(977) as i32,
        )
        .altitude(20)
        .heading(300 + t.rem_euclid(200) as u16, t.rem_euclid(360) as u16)
        .status(StatusFlags::ACC_ON | StatusFlags::FIXED | StatusFlags::BEIDOU)
        .build()
}

/// The identity of a point for ledgers: fix time and coordinates.
pub fn key(p: &Position) -> (i64, i32, i32) {
    (p.fix_time.millis(), p.lat_e6, p.lon_e6)
}

/// A JT/T 808 terminal for tests.
pub struct Terminal {
    /// The connection.
    pub stream: TcpStream,
    /// Received bytes not yet split into frames.
    buf: BytesMut,
    /// The splitter.
    decoder: FrameDecoder,
    /// This terminal's phone.
    pub phone: Phone,
    /// Header layout.
    pub edition: Edition,
    /// Next serial.
    serial: u16,
    /// Frames received that the caller has not asked for yet (other than the one awaited).
    pub inbox: Vec<Frame>,
}

impl Terminal {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr, phone: Phone) -> std::io::Result<Terminal> {
        Ok(Self::with_stream(TcpStream::connect(addr).await?, phone))
    }

    /// Connects to `addr` from the loopback address `local` (127.0.0.x), to count as another host.
    pub async fn connect_from(local: IpAddr, addr: SocketAddr, phone: Phone) -> std::io::Result<Terminal> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(local, 0))?;
        Ok(Self::with_stream(socket.connect(addr).await?, phone))
    }

    fn with_stream(stream: TcpStream, phone: Phone) -> Terminal {
        Terminal {
            stream,
            buf: BytesMut::with_capacity(4096),
            decoder: FrameDecoder::default(),
            phone,
            edition: Edition::V2013,
            serial: 0,
            inbox: Vec::new(),
        }
    }

    fn next_serial(&mut self) -> u16 {
        self.serial = self.serial.wrapping_add(1);
        self.serial
    }

    /// Encodes and sends `message`; returns its serial.
    pub async fn send(&mut self, message: &Message<'_>) -> u16 {
        self.try_send(message).await.expect("sending a frame")
    }

    /// Like [`Terminal::send`], reporting a broken connection instead of panicking.
    pub async fn try_send(&mut self, message: &Message<'_>) -> std::io::Result<u16> {
        let serial = self.next_serial();
        let header = Header::new(message.msg_id(), self.phone, serial, self.edition);
        let mut out = BytesMut::new();
        encode_message(&header, message, &mut out).expect("encoding a test frame");
        self.stream.write_all(&out).await?;
        Ok(serial)
    }

    /// Like [`Terminal::report`], reporting a broken connection instead of panicking.
    pub async fn try_report(&mut self, p: &Position) -> std::io::Result<u16> {
        self.try_send(&Message::Location(location(p))).await
    }

    /// Authenticates, tolerating a broken connection (`None`).
    pub async fn try_authenticate(&mut self, code: &str) -> Option<u8> {
        let serial = self
            .try_send(&Message::Authenticate(authentication(code)))
            .await
            .ok()?;
        self.ack_of(serial, Duration::from_secs(10)).await
    }

    /// Sends a frame with a given header and raw body (for subpackage and other odd frames).
    pub async fn send_frame(&mut self, header: &Header, body: &[u8]) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        encode_frame(header, body, &mut out).expect("encoding a raw frame");
        self.stream.write_all(&out).await
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next frame from the platform; `None` on end of stream or after `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(f)) => return Some(f),
                Ok(None) => {}
                Err(e) => panic!("the platform sent a bad frame: {e}"),
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Waits for a frame with `msg_id` (other frames go to the inbox).
    pub async fn recv_id(&mut self, msg_id: u16, timeout: Duration) -> Option<Frame> {
        if let Some(i) = self.inbox.iter().position(|f| f.header.msg_id == msg_id) {
            return Some(self.inbox.remove(i));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let f = self.recv(left).await?;
            if f.header.msg_id == msg_id {
                return Some(f);
            }
            self.inbox.push(f);
        }
    }

    /// Whether the platform closes the connection within `timeout` (frames it sends meanwhile are kept).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(n)) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    while let Ok(Some(f)) = self.decoder.decode(&mut self.buf) {
                        self.inbox.push(f);
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Registers; returns the 0x8100 result and the auth code.
    pub async fn register(&mut self, i: u32) -> (u8, Option<String>) {
        let id = terminal_id(i);
        let plate = gbk(&plate(i));
        let reg = Register {
            province_id: 42,
            city_id: 200,
            maker_id: Text(b"TSHU1"),
            model: Text(b"TEST-2013"),
            terminal_id: Text(id.as_bytes()),
            plate_color: 1,
            plate: Text(&plate),
        };
        let serial = self.send(&Message::Register(reg)).await;
        let f = self
            .recv_id(id::REGISTER_ACK, Duration::from_secs(10))
            .await
            .expect("an answer to 0x0100");
        let Ok(Message::RegisterAck(ack)) = f.message() else {
            panic!("0x8100 did not decode")
        };
        assert_eq!(ack.reply_serial, serial);
        (
            ack.result,
            ack.auth_code.and_then(|c| c.as_str().map(str::to_string)),
        )
    }

    /// Authenticates; returns the 0x8001 result, or `None` when no answer came.
    pub async fn authenticate(&mut self, code: &str) -> Option<u8> {
        let serial = self.send(&Message::Authenticate(authentication(code))).await;
        self.ack_of(serial, Duration::from_secs(10)).await
    }

    /// Authenticates with `code` and (2019 layout) `imei`; returns the 0x8001 result, or `None` when no
    /// answer came.
    pub async fn authenticate_with(&mut self, code: &str, imei: Option<&str>) -> Option<u8> {
        let auth = Authenticate {
            imei: imei.map(|i| Text(i.as_bytes())),
            software_version: imei.map(|_| Text(b"TEST-1.0")),
            ..authentication(code)
        };
        let serial = self.send(&Message::Authenticate(auth)).await;
        self.ack_of(serial, Duration::from_secs(10)).await
    }

    /// Registers and authenticates; panics unless both succeed. Returns the code.
    pub async fn login(&mut self, i: u32) -> String {
        let (result, code) = self.register(i).await;
        assert_eq!(result, 0, "registration of terminal {i}");
        let code = code.expect("an auth code");
        assert_eq!(
            self.authenticate(&code).await,
            Some(0),
            "authentication of terminal {i}"
        );
        code
    }

    /// Waits for the 0x8001 answering `serial`; its result, or `None` on timeout or close.
    pub async fn ack_of(&mut self, serial: u16, timeout: Duration) -> Option<u8> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(i) = self.inbox.iter().position(|f| is_ack_of(f, serial)) {
                let f = self.inbox.remove(i);
                return ack_result(&f);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let f = self.recv(left).await?;
            if is_ack_of(&f, serial) {
                return ack_result(&f);
            }
            self.inbox.push(f);
        }
    }

    /// Sends one 0x0200 for `p`; returns its serial.
    pub async fn report(&mut self, p: &Position) -> u16 {
        self.send(&Message::Location(location(p))).await
    }

    /// Reports `points` pipelined (all sent, then the answers read) and asserts each was acknowledged with
    /// result 0 within `timeout` (`who` names the terminal in a failure).
    pub async fn report_all_acked(&mut self, points: &[Position], timeout: Duration, who: &str) {
        let mut serials = Vec::with_capacity(points.len());
        for p in points {
            serials.push(self.report(p).await);
        }
        for serial in serials {
            assert_eq!(
                self.ack_of(serial, timeout).await,
                Some(0),
                "{who}: a report acknowledged"
            );
        }
    }

    /// Sends one 0x0704 with `points` (type 1 = blind-area backfill); returns its serial.
    pub async fn batch(&mut self, points: &[Position], backfill: bool) -> u16 {
        let reports: Vec<LocationReport<'_>> = points.iter().map(location).collect();
        let batch = LocationBatch {
            count: reports.len() as u16,
            location_type: u8::from(backfill),
            items: BatchItems::List(&reports),
        };
        self.send(&Message::LocationBatch(batch)).await
    }

    /// Heartbeat; returns its serial.
    pub async fn heartbeat(&mut self) -> u16 {
        self.send(&Message::Heartbeat).await
    }
}

/// The 0x0200 report of `p`, without additional items.
pub fn location(p: &Position) -> LocationReport<'static> {
    LocationReport {
        basic: BasicLocation::from_bytes(&p.basic_block()),
        items: Items::default(),
    }
}

fn authentication(code: &str) -> Authenticate<'_> {
    Authenticate {
        auth_code: Text(code.as_bytes()),
        imei: None,
        software_version: None,
    }
}

fn is_ack_of(f: &Frame, serial: u16) -> bool {
    matches!(f.message(), Ok(Message::PlatformAck(GeneralAck { reply_serial, .. })) if reply_serial == serial)
}

fn ack_result(f: &Frame) -> Option<u8> {
    match f.message() {
        Ok(Message::PlatformAck(a)) => Some(a.result),
        _ => None,
    }
}

/// UTF-8 as GBK (plates are Chinese).
pub fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// Points each terminal had acknowledged, by terminal index: what must be in the store, once.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Terminal index -> acknowledged points by key.
    pub acked: BTreeMap<u32, HashMap<(i64, i32, i32), Position>>,
}

impl Ledger {
    /// Records that `p` of terminal `i` was acknowledged.
    pub fn record(&mut self, i: u32, p: &Position) {
        self.acked.entry(i).or_default().insert(key(p), *p);
    }

    /// Acknowledged points in total.
    pub fn len(&self) -> usize {
        self.acked.values().map(HashMap::len).sum()
    }

    /// Whether nothing was acknowledged yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the store against the ledger: every acknowledged point is stored, exactly once, with its
    /// source. Returns the number of points stored for the ledger's terminals.
    pub async fn verify(&self, store: &Store) -> usize {
        let mut stored_total = 0;
        for (i, acked) in &self.acked {
            let stored = stored_points(store, *i).await;
            stored_total += stored.len();
            let mut seen: HashMap<(i64, i32, i32), usize> = HashMap::new();
            for p in &stored {
                *seen.entry(key(p)).or_default() += 1;
            }
            for (k, p) in acked {
                assert_eq!(
                    seen.get(k).copied(),
                    Some(1),
                    "terminal {i}: acknowledged point {p:?} stored once"
                );
            }
            assert!(
                seen.values().all(|n| *n == 1),
                "terminal {i}: no point is stored twice"
            );
        }
        stored_total
    }
}

/// Terminal `i` connected and authenticated with `code`; `None` while the server is away.
async fn rejoin(addr: SocketAddr, i: u32, code: String) -> Option<Terminal> {
    let mut t = Terminal::connect(addr, phone(i)).await.ok()?;
    match t.try_authenticate(&code).await {
        Some(0) => Some(t),
        Some(other) => panic!("terminal {i}: authentication answered {other} after restart"),
        None => None,
    }
}

/// Registers `terminals` terminals at `addr` and starts each as a [`resilient_terminal`] sending
/// `points_each` points into one ledger: the ledger and the terminals' tasks (each answers how many points
/// it retransmitted).
pub async fn resilient_fleet(
    addr: SocketAddr,
    terminals: u32,
    points_each: i64,
) -> (
    std::sync::Arc<std::sync::Mutex<Ledger>>,
    Vec<tokio::task::JoinHandle<u64>>,
) {
    resilient_fleet_over(&[addr], terminals, points_each).await
}

/// [`resilient_fleet`] over several gateways, as terminals configured with a main and backup servers:
/// terminal `i` registers at `addrs[i % n]` and, whenever it reconnects, tries that one first and the
/// others after it in turn.
pub async fn resilient_fleet_over(
    addrs: &[SocketAddr],
    terminals: u32,
    points_each: i64,
) -> (
    std::sync::Arc<std::sync::Mutex<Ledger>>,
    Vec<tokio::task::JoinHandle<u64>>,
) {
    use futures::StreamExt;
    let servers = |i: u32| -> Vec<SocketAddr> {
        let first = i as usize % addrs.len();
        addrs[first..].iter().chain(&addrs[..first]).copied().collect()
    };
    // Registered a few dozen at a time: thousands one after the other would take most of a minute.
    let codes: Vec<String> = futures::stream::iter(0..terminals)
        .map(|i| {
            let addr = servers(i)[0];
            async move {
                let mut t = Terminal::connect(addr, phone(i)).await.expect("connect");
                let (result, code) = t.register(i).await;
                assert_eq!(result, 0, "terminal {i} registers");
                code.expect("a code")
            }
        })
        .buffered(32)
        .collect()
        .await;
    let ledger = std::sync::Arc::new(std::sync::Mutex::new(Ledger::default()));
    let tasks = codes
        .into_iter()
        .zip(0..)
        .map(|(code, i)| {
            tokio::spawn(resilient_terminal(
                servers(i),
                i,
                code,
                points_each,
                ledger.clone(),
            ))
        })
        .collect();
    (ledger, tasks)
}

/// A terminal that keeps going through a crash: on a lost connection it reconnects (to the servers of
/// `addrs` in turn, the first first), authenticates with its code and retransmits every point not yet
/// acknowledged.
/// Sends `points_each` points, at most 8 unacknowledged at a time; returns how many it retransmitted.
pub async fn resilient_terminal(
    addrs: Vec<SocketAddr>,
    i: u32,
    code: String,
    points_each: i64,
    ledger: std::sync::Arc<std::sync::Mutex<Ledger>>,
) -> u64 {
    const WINDOW: usize = 8;
    let mut next: i64 = 0;
    let mut unacked: BTreeMap<i64, Position> = BTreeMap::new();
    let mut retransmitted = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while next < points_each || !unacked.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "terminal {i} did not finish"
        );
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let mut attempt = 0;
        let mut t = crate::wait_for("the server to take the terminal back", left, || {
            let addr = addrs[attempt % addrs.len()];
            attempt += 1;
            rejoin(addr, i, code.clone())
        })
        .await;
        let mut in_flight: HashMap<u16, i64> = HashMap::new();
        let mut broken = false;
        for (s, p) in &unacked {
            match t.try_report(p).await {
                Ok(serial) => {
                    retransmitted += 1;
                    in_flight.insert(serial, *s);
                }
                Err(_) => broken = true,
            }
        }
        while !broken {
            while in_flight.len() < WINDOW && next < points_each {
                let p = point(i, next);
                unacked.insert(next, p);
                match t.try_report(&p).await {
                    Ok(serial) => {
                        in_flight.insert(serial, next);
                    }
                    Err(_) => broken = true,
                }
                next += 1;
            }
            if in_flight.is_empty() {
                break;
            }
            // No answer for a while: the standard says retransmit; here that means reconnect and resend.
            let Some(frame) = t.recv(Duration::from_secs(5)).await else {
                break;
            };
            if let Ok(Message::PlatformAck(GeneralAck {
                reply_serial, result, ..
            })) = frame.message()
                && let Some(s) = in_flight.remove(&reply_serial)
                && result == 0
                && let Some(p) = unacked.remove(&s)
            {
                ledger.lock().expect("ledger lock").record(i, &p);
            }
        }
    }
    retransmitted
}

/// Points of a stored track, with their sources, by key.
pub fn sources(points: &[Position]) -> HashMap<(i64, i32, i32), PositionSource> {
    points.iter().map(|p| (key(p), p.source)).collect()
}

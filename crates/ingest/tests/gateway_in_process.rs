//! The gateway in-process, over real TCP on 127.0.0.1 and a real embedded store: the downlink (commands
//! matched to their answers by serial), subpackage reassembly with 0x8003 for a missing part, and a newer
//! authenticated connection replacing an older one, and what an idle connection leaves in the log
//! subscriber.

// Test helpers: a panic is the test failing, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::TryStreamExt;
use tianshu_ingest::{Command, DownlinkError, Gateway, GatewayConfig, Reply, StoreSink};
use tianshu_jt808::{
    Authenticate, BasicLocation, BatchItems, Frame, FrameDecoder, GeneralAck, Header, Items, LocationBatch,
    LocationReply, LocationReport, Message, Parameter, ParameterList, Params, Register, Subpackage,
    TerminalAttributes, Text, encode_frame, encode_message, id,
};
use tianshu_model::{Edition, Phone, Position, StatusFlags, Timestamp, VehicleClass};
use tianshu_store::{RegistryRecord, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const PHONE: Phone = Phone(13_912_345_678);
const WAIT: Duration = Duration::from_secs(10);

struct Running {
    addr: std::net::SocketAddr,
    gateway: Arc<Gateway>,
    store: Store,
    shutdown: CancellationToken,
    dir: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start(config: GatewayConfig, name: &str) -> Running {
    let dir = std::env::temp_dir().join(format!("tianshu-ingest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&format!("sqlite:{}", dir.join("t.db").display()))
        .await
        .unwrap();
    store
        .import_registry(&[RegistryRecord {
            unit: "黄石市".into(),
            plate: "鄂B00001".into(),
            phone: PHONE,
            terminal_id: "T000001".into(),
            vehicle_class: VehicleClass::General,
            marking: None,
        }])
        .await
        .unwrap();
    let gateway = Gateway::new(config, store.clone(), Arc::new(StoreSink(store.clone())));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(tianshu_ingest::run(listener, gateway.clone(), shutdown.clone()));
    Running {
        addr,
        gateway,
        store,
        shutdown,
        dir,
    }
}

struct Client {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
    serial: u16,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
            decoder: FrameDecoder::default(),
            serial: 0,
        }
    }

    async fn send(&mut self, message: &Message<'_>) -> u16 {
        self.serial += 1;
        let mut out = BytesMut::new();
        encode_message(
            &Header::new(message.msg_id(), PHONE, self.serial, Edition::V2013),
            message,
            &mut out,
        )
        .unwrap();
        self.stream.write_all(&out).await.unwrap();
        self.serial
    }

    /// Sends `message` again with the serial of the previous frame, as a terminal retransmits.
    async fn resend(&mut self, message: &Message<'_>) {
        self.serial -= 1;
        self.send(message).await;
    }

    async fn recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(f);
            }
            match tokio::time::timeout(WAIT, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    async fn login(&mut self) -> String {
        self.send(&Message::Register(registration())).await;
        let f = self.recv().await.unwrap();
        let Ok(Message::RegisterAck(ack)) = f.message() else {
            panic!("expected 0x8100")
        };
        assert_eq!(ack.result, 0);
        let code = ack.auth_code.unwrap().as_str().unwrap().to_string();
        self.authenticate(&code).await;
        code
    }

    async fn authenticate(&mut self, code: &str) {
        let auth = Authenticate {
            auth_code: Text(code.as_bytes()),
            imei: None,
            software_version: None,
        };
        let serial = self.send(&Message::Authenticate(auth)).await;
        let f = self.recv().await.unwrap();
        assert!(
            matches!(f.message(), Ok(Message::PlatformAck(GeneralAck { reply_serial, result: 0, .. })) if reply_serial == serial)
        );
    }
}

fn point(t: i64) -> Position {
    Position {
        fix_time: Timestamp::from_secs(1_795_000_000 + t),
        lat_e6: 30_200_000 + t as i32,
        lon_e6: 115_040_000,
        status: StatusFlags(StatusFlags::ACC_ON | StatusFlags::FIXED),
        ..Position::default()
    }
}

fn report(p: &Position) -> LocationReport<'static> {
    LocationReport {
        basic: BasicLocation::from_bytes(&p.basic_block()),
        items: Items::default(),
    }
}

async fn stored(store: &Store) -> Vec<Position> {
    let v = store.vehicle_by_plate("鄂B00001").await.unwrap().unwrap();
    let s = store
        .track(v.id, Timestamp::from_secs(0), Timestamp::from_secs(4_102_444_800))
        .await
        .unwrap();
    s.try_collect().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downlink_commands_are_answered_by_serial_and_message_id() {
    let running = start(GatewayConfig::default(), "downlink").await;
    let downlink = running.gateway.downlink();
    assert_eq!(
        downlink.send(PHONE, Command::QueryPosition, None).await,
        Err(DownlinkError::Offline(PHONE)),
        "not online yet"
    );
    let mut c = Client::connect(running.addr).await;
    c.login().await;

    // 0x8201 -> 0x0201 carrying the query's serial; the position is also stored and acknowledged.
    let query = {
        let d = downlink.clone();
        tokio::spawn(async move { d.send(PHONE, Command::QueryPosition, Some(WAIT)).await })
    };
    let f = c.recv().await.expect("a command");
    assert_eq!(f.header.msg_id, id::QUERY_LOCATION);
    let p = point(1);
    let reply = LocationReply {
        reply_serial: f.header.serial,
        report: report(&p),
    };
    let serial = c.send(&Message::LocationReply(reply)).await;
    let answered = query.await.unwrap().expect("the query is answered");
    let Reply::Position(got) = answered else {
        panic!("a position, got {answered:?}")
    };
    assert_eq!((got.fix_time, got.lat_e6), (p.fix_time, p.lat_e6));
    let ack = c.recv().await.unwrap();
    assert!(
        matches!(ack.message(), Ok(Message::PlatformAck(GeneralAck { reply_serial, reply_msg_id: id::LOCATION_REPLY, result: 0 })) if reply_serial == serial)
    );

    // 0x8300 -> 0x0001: an answer with another serial does not match; the right one does.
    let text = {
        let d = downlink.clone();
        tokio::spawn(async move {
            d.send(
                PHONE,
                Command::Text {
                    flags: 0x08,
                    text: "请回单位".into(),
                },
                Some(WAIT),
            )
            .await
        })
    };
    let f = c.recv().await.expect("a text command");
    assert_eq!(f.header.msg_id, id::TEXT_MESSAGE);
    let Ok(Message::TextMessage(t)) = f.message() else {
        panic!("0x8300 decodes")
    };
    assert_eq!(encoding_rs::GBK.decode(t.text.as_bytes()).0, "请回单位");
    let wrong = GeneralAck {
        reply_serial: f.header.serial.wrapping_add(7),
        reply_msg_id: 0x8300,
        result: 1,
    };
    c.send(&Message::TerminalAck(wrong)).await;
    let right = GeneralAck {
        reply_serial: f.header.serial,
        reply_msg_id: 0x8300,
        result: 0,
    };
    c.send(&Message::TerminalAck(right)).await;
    assert_eq!(text.await.unwrap(), Ok(Reply::General { result: 0 }));

    // Unanswered commands time out.
    let err = downlink
        .send(PHONE, Command::QueryParameters, Some(Duration::from_millis(300)))
        .await;
    assert_eq!(
        err,
        Err(DownlinkError::Timeout(PHONE, Duration::from_millis(300)))
    );
    assert_eq!(stored(&running.store).await.len(), 1);
}

/// 0x8106 is answered by a 0x0104 naming its serial, with the parameters asked for; 0x8107 by a 0x0107
/// (no serial), whose attributes come back decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_and_attribute_queries_are_answered_with_the_terminal_s_values() {
    let running = start(GatewayConfig::default(), "parameters").await;
    let downlink = running.gateway.downlink();
    let mut c = Client::connect(running.addr).await;
    c.login().await;

    let ask = |command: Command| {
        let d = downlink.clone();
        tokio::spawn(async move { d.send(PHONE, command, Some(WAIT)).await })
    };
    let query = ask(Command::QueryParameterIds(vec![0x0001, 0x0013]));
    let f = c.recv().await.expect("a command");
    assert_eq!(f.header.msg_id, id::QUERY_PARAMETER_IDS);
    let Ok(Message::QueryParameterIds(ids)) = f.message() else {
        panic!("0x8106 decodes")
    };
    assert_eq!(ids.iter().collect::<Vec<_>>(), [0x0001, 0x0013]);
    let heartbeat = 30u32.to_be_bytes();
    let list = [
        Parameter {
            id: 0x0001,
            value: &heartbeat,
        },
        Parameter {
            id: 0x0013,
            value: b"gw.example.cn:6808",
        },
    ];
    let answer = Message::Parameters {
        reply_serial: f.header.serial,
        list: ParameterList {
            count: 2,
            params: Params::List(&list),
        },
    };
    c.send(&answer).await;
    let expected = vec![
        (0x0001, heartbeat.to_vec()),
        (0x0013, b"gw.example.cn:6808".to_vec()),
    ];
    assert_eq!(query.await.unwrap(), Ok(Reply::Parameters(expected)));

    let query = ask(Command::QueryAttributes);
    let f = c.recv().await.expect("a command");
    assert_eq!(f.header.msg_id, id::QUERY_ATTRIBUTES);
    let attributes = TerminalAttributes {
        terminal_type: 0x0004,
        maker_id: Text(b"70111"),
        model: Text(b"BSJ-A6"),
        terminal_id: Text(b"T000001"),
        iccid: 89_860_012_345_678_901_234,
        hardware_version: Text(b"H1.2"),
        firmware_version: Text(b"F3.4.5"),
        gnss: 0b0011,
        network: 0b0001,
    };
    c.send(&Message::Attributes(attributes)).await;
    let Ok(Reply::Attributes(got)) = query.await.unwrap() else {
        panic!("the attributes")
    };
    assert_eq!(
        (
            got.maker_id.as_str(),
            got.model.as_str(),
            got.iccid.as_str(),
            got.firmware_version.as_str()
        ),
        ("70111", "BSJ-A6", "89860012345678901234", "F3.4.5")
    );
    assert_eq!((got.terminal_type, got.gnss, got.network), (4, 3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subpackaged_batch_is_reassembled_and_a_missing_part_requested() {
    let config = GatewayConfig {
        subpackage_timeout_secs: 1,
        ..GatewayConfig::default()
    };
    let running = start(config, "subpackage").await;
    let mut c = Client::connect(running.addr).await;
    c.login().await;

    let points: Vec<Position> = (0..30).map(|s| point(100 + s)).collect();
    let reports: Vec<_> = points.iter().map(report).collect();
    let batch = LocationBatch {
        count: 30,
        location_type: 1,
        items: BatchItems::List(&reports),
    };
    let mut body = BytesMut::new();
    Message::LocationBatch(batch)
        .encode_body(Edition::V2013, &mut body)
        .unwrap();
    let parts: Vec<&[u8]> = body.chunks(body.len().div_ceil(3)).collect();
    assert_eq!(parts.len(), 3);
    let send_part = |index: u16, serial: u16| {
        let mut header = Header::new(id::LOCATION_BATCH, PHONE, serial, Edition::V2013);
        header.subpackage = Some(Subpackage { total: 3, index });
        let mut out = BytesMut::new();
        encode_frame(&header, parts[usize::from(index) - 1], &mut out).unwrap();
        out
    };
    // Parts 1 and 3 (serials not consecutive, as real terminals send them), then wait.
    c.stream.write_all(&send_part(1, 500)).await.unwrap();
    c.stream.write_all(&send_part(3, 517)).await.unwrap();
    let f = c.recv().await.expect("a request for the missing part");
    let Ok(Message::PacketRequest(req)) = f.message() else {
        panic!("0x8003, got {:#06x}", f.header.msg_id)
    };
    assert_eq!(req.first_serial, 500);
    assert_eq!(req.packet_indexes.iter().collect::<Vec<_>>(), [2]);
    assert!(
        stored(&running.store).await.is_empty(),
        "nothing stored, nothing acknowledged yet"
    );

    c.stream.write_all(&send_part(2, 530)).await.unwrap();
    let mut acked = Vec::new();
    while acked.len() < 3 {
        let f = c.recv().await.expect("acknowledgements of every part");
        if let Ok(Message::PlatformAck(a)) = f.message() {
            assert_eq!(a.result, 0);
            acked.push(a.reply_serial);
        }
    }
    acked.sort_unstable();
    assert_eq!(
        acked,
        [500, 517, 530],
        "every part answered once the whole batch is durable"
    );
    let stored = stored(&running.store).await;
    assert_eq!(stored.len(), 30);
    assert!(
        stored
            .iter()
            .all(|p| p.source == tianshu_model::PositionSource::Backfill)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_authenticated_connection_replaces_the_older_one() {
    let running = start(GatewayConfig::default(), "replace").await;
    let mut first = Client::connect(running.addr).await;
    let code = first.login().await;

    // A second connection that has not authenticated changes nothing.
    let mut spoof = Client::connect(running.addr).await;
    spoof.send(&Message::Heartbeat).await;
    assert!(spoof.recv().await.is_none(), "closed without an answer");
    let hb = first.send(&Message::Heartbeat).await;
    let f = first.recv().await.expect("the first connection still works");
    assert!(
        matches!(f.message(), Ok(Message::PlatformAck(GeneralAck { reply_serial, .. })) if reply_serial == hb)
    );

    // Once a second connection authenticates, the first is closed.
    let mut second = Client::connect(running.addr).await;
    second.authenticate(&code).await;
    assert!(first.recv().await.is_none(), "the replaced connection is closed");
    assert!(running.gateway.online.is_online(PHONE));
    let hb = second.send(&Message::Heartbeat).await;
    let f = second.recv().await.expect("the new connection works");
    assert!(
        matches!(f.message(), Ok(Message::PlatformAck(GeneralAck { reply_serial, .. })) if reply_serial == hb)
    );
}

fn registration() -> Register<'static> {
    Register {
        province_id: 42,
        city_id: 200,
        maker_id: Text(b"TSHU1"),
        model: Text(b"M1"),
        terminal_id: Text(b"T000001"),
        plate_color: 0,
        plate: Text(b""),
    }
}

fn issued_code(f: Frame) -> String {
    let Ok(Message::RegisterAck(ack)) = f.message() else {
        panic!("expected 0x8100")
    };
    assert_eq!(ack.result, 0);
    ack.auth_code.unwrap().as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_registration_gets_the_same_code_again() {
    let running = start(GatewayConfig::default(), "reregister").await;
    let mut client = Client::connect(running.addr).await;
    client.send(&Message::Register(registration())).await;
    let first = issued_code(client.recv().await.unwrap());
    // The terminal did not see that answer in time and sends the same frame (same serial) again.
    client.resend(&Message::Register(registration())).await;
    let second = issued_code(client.recv().await.unwrap());
    assert_eq!(
        first, second,
        "a retransmission is answered with the code already issued"
    );
    client.authenticate(&first).await;
    assert!(running.gateway.online.is_online(PHONE));
}

/// The open spans named `jt808_session` and every line the text format wrote.
#[derive(Clone, Default)]
struct Logs {
    open: Arc<std::sync::atomic::AtomicUsize>,
    text: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Logs {
    fn open(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn lines(&self) -> Vec<String> {
        let text = self.text.lock().unwrap();
        String::from_utf8_lossy(&text)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.text.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<S> tracing_subscriber::Layer<S> for Logs
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() == "jt808_session" {
            self.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if ctx.span(&id).is_some_and(|s| s.name() == "jt808_session") {
            self.open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

// One thread: the subscriber below is this thread's, and the gateway's tasks run on it.
#[tokio::test(flavor = "current_thread")]
async fn an_idle_connection_holds_no_log_span_and_its_lines_still_name_the_terminal() {
    use tracing_subscriber::layer::SubscriberExt;
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry().with(logs.clone()).with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone()),
    );
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let running = start(GatewayConfig::default(), "idle-span").await;
    let mut terminal = Client::connect(running.addr).await;
    terminal.login().await;
    // A message the gateway does not handle is logged (and answered) within the session.
    terminal.serial += 1;
    let mut out = BytesMut::new();
    let header = Header::new(0x0f01, PHONE, terminal.serial, Edition::V2013);
    encode_frame(&header, &[], &mut out).unwrap();
    terminal.stream.write_all(&out).await.unwrap();
    assert!(terminal.recv().await.is_some(), "answered");

    // Idle now: no span is held for the connection.
    tokio::time::timeout(WAIT, async {
        while logs.open() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("no session span left open while the connection idles");
    assert!(
        running.gateway.online.is_online(PHONE),
        "the connection is still there"
    );

    // Every line logged by the session once authenticated names the terminal, and the peer.
    let lines = logs.lines();
    let phone = format!("phone={PHONE}");
    let named: Vec<&String> = lines
        .iter()
        .skip_while(|l| !l.contains("terminal authenticated"))
        .filter(|l| l.contains("jt808_session"))
        .collect();
    for needle in ["terminal authenticated", "unsupported message"] {
        assert!(
            named.iter().any(|l| l.contains(needle)),
            "a session line {needle:?} among {lines:#?}"
        );
    }
    for line in named {
        assert!(
            line.contains(&phone) && line.contains("peer=127.0.0.1:"),
            "{line}"
        );
    }
}

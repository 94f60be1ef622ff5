//! Tianshu as an upper platform, driven over real TCP by a lower platform written with the codec: login
//! and its refusals, positions stored once, cars of other units refused and counted, silent peers and
//! oversized frames dropped without harm to other links.

use std::time::Duration;

use bytes::BytesMut;
use tianshu_ingest::uplink::UplinkConfig;
use tianshu_jt809::{
    Cipher, Codec, Edition, ForVehicle, FrameDecoder, Gnss, Header, Login, LoginAnswer, Message, UpExg,
    Vehicle,
};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_platform::{Jt809Config, LowerPlatform, Upper, run};
use tianshu_store::{Store, StoreConfig};
use tianshu_testkit::{Fix, Scratch, import_cars, metric, unique, vehicle_of, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);
const ACCESS_CODE: u32 = 4200;
const USER: u32 = 77;
const PASSWORD: &str = "pw123456";

struct Province {
    _scratch: Scratch,
    store: Store,
    addr: std::net::SocketAddr,
    peer: String,
    shutdown: CancellationToken,
}

impl Drop for Province {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn lower(name: &str, edition: Edition, key: &str) -> LowerPlatform {
    LowerPlatform {
        password: PASSWORD.into(),
        key: key.into(),
        edition,
        ..LowerPlatform::new(name, ACCESS_CODE, USER, &["City"])
    }
}

/// A province over a scratch store holding cars of `City` (with a sub-unit) and of `Other`.
async fn province(edition: Edition, key: &str, keepalive_timeout_secs: u64) -> Province {
    let scratch = Scratch::embedded("jt809_upper");
    let store = scratch.open(&StoreConfig::default()).await;
    import_cars(&store, "City", &[("鄂A00001", 13_900_000_001)]).await;
    import_cars(&store, "City/District", &[("鄂A00002", 13_900_000_002)]).await;
    import_cars(&store, "Other", &[("鄂B00001", 13_900_000_003)]).await;
    let peer = unique("city");
    let config = Jt809Config {
        listen: "127.0.0.1:0".into(),
        keepalive_timeout_secs,
        lower: vec![lower(&peer, edition, key)],
        ..Jt809Config::default()
    };
    config.validate().expect("a valid configuration");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let addr = listener.local_addr().expect("the address");
    let shutdown = CancellationToken::new();
    let upper = Upper::new(config, store.clone(), UplinkConfig::default());
    tokio::spawn(run(listener, upper, shutdown.clone()));
    Province {
        _scratch: scratch,
        store,
        addr,
        peer,
        shutdown,
    }
}

/// A lower platform's main link, written with the codec.
struct Link {
    stream: TcpStream,
    codec: Codec,
    decoder: FrameDecoder,
    buf: BytesMut,
    access_code: u32,
    sn: u32,
}

impl Link {
    async fn open(addr: std::net::SocketAddr, edition: Edition, key: &str, access_code: u32) -> Link {
        let cipher = (!key.is_empty()).then(|| Cipher::parse(key).expect("a key"));
        let codec = Codec::new(edition).with_cipher(cipher);
        Link {
            stream: TcpStream::connect(addr).await.expect("connecting"),
            codec,
            decoder: FrameDecoder::new(codec),
            buf: BytesMut::new(),
            access_code,
            sn: 0,
        }
    }

    async fn send(&mut self, m: &Message) {
        self.sn += 1;
        let mut header = Header::new(self.codec.edition, 0, self.sn, self.access_code);
        if self.codec.cipher.is_some() {
            header.encrypted = true;
            header.encrypt_key = 0x1234_5678 ^ self.sn;
        }
        if self.codec.edition == Edition::V2019 {
            header.time_utc = Timestamp::now().secs() as u64;
        }
        let frame = self.codec.encode(&header, m).expect("encoding");
        self.stream.write_all(&frame).await.expect("sending");
    }

    /// The next message, `None` once the province closed the link.
    async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some(frame) = self
                .decoder
                .decode(&mut self.buf)
                .expect("a frame from the province")
            {
                return Some(frame.message().expect("a message from the province"));
            }
            match tokio::time::timeout(LIMIT, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0) | Err(_)) => return None,
                Ok(Ok(_)) => {}
                Err(_) => panic!("the province neither answered nor closed within {LIMIT:?}"),
            }
        }
    }

    async fn login(&mut self, user_id: u32, password: &str) -> LoginAnswer {
        self.send(&Message::Login(Login {
            user_id,
            password: password.into(),
            center_id: 0,
            down_link_ip: "127.0.0.1".into(),
            down_link_port: 1,
        }))
        .await;
        match self.recv().await {
            Some(Message::LoginAnswer(a)) => a,
            other => panic!("expected a login answer, got {other:?}"),
        }
    }

    /// Sends a keep-alive and waits for its answer; the province handles frames in order, so the frames
    /// sent before it have been read.
    async fn keep_alive(&mut self) {
        self.send(&Message::KeepAlive).await;
        loop {
            match self.recv().await {
                Some(Message::KeepAliveAnswer) => return,
                Some(_) => {}
                None => panic!("the link closed before the keep-alive was answered"),
            }
        }
    }

    async fn positions(&mut self, plate: &str, points: &[Position], backfill: bool) {
        let edition = self.codec.edition;
        let list: Vec<Gnss> = points.iter().map(|p| Gnss::from_position(p, edition)).collect();
        let vehicle = Vehicle {
            plate: plate.into(),
            color: 1,
        };
        let data = if backfill {
            UpExg::HistoryLocation(list)
        } else {
            UpExg::RealLocation(list.into_iter().next().expect("one position"))
        };
        self.send(&Message::UpExg(ForVehicle { vehicle, data })).await;
    }

    /// Waits until the province closes the link.
    async fn closed(&mut self) {
        while self.recv().await.is_some() {}
    }
}

fn metrics() -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .expect("encoding metrics")
}

/// Fixes a minute apart from ten minutes ago, to the second (the 2011 layout carries whole seconds).
fn fixes(n: i64) -> Vec<Position> {
    let start = Timestamp::now().secs() - 600;
    (0..n)
        .map(|i| {
            Fix::at(start + i * 60)
                .at_e6(30_500_000 + i as i32 * 100, 114_300_000)
                .heading(400, 90)
                .build()
        })
        .collect()
}

async fn stored(store: &Store, plate: &str) -> u64 {
    count(store, vehicle_of(store, plate).await).await
}

async fn count(store: &Store, v: VehicleId) -> u64 {
    store
        .backend()
        .track_count(v, Timestamp::from_secs(0), Timestamp::from_secs(4_000_000_000))
        .await
        .expect("counting")
}

async fn positions_stored_once(edition: Edition, key: &str) {
    let p = province(edition, key, 180).await;
    let mut link = Link::open(p.addr, edition, key, ACCESS_CODE).await;
    let answer = link.login(USER, PASSWORD).await;
    assert_eq!(answer.result, LoginAnswer::OK);
    assert_ne!(answer.verify_code, 0);
    let live = fixes(3);
    for f in &live {
        link.positions("鄂A00001", std::slice::from_ref(f), false).await;
    }
    let backfill = fixes(5);
    link.positions("鄂A00002", &backfill, true).await;
    // Sent again (a reconnect's overlap): stored once.
    link.positions("鄂A00002", &backfill, true).await;
    link.keep_alive().await;
    wait_until("the positions stored", LIMIT, || async {
        stored(&p.store, "鄂A00001").await == 3 && stored(&p.store, "鄂A00002").await == 5
    })
    .await;
    let peer = format!("peer=\"{}\"", p.peer);
    wait_until("the duplicates counted", LIMIT, || async {
        metric(
            &metrics(),
            "tianshu_jt809_positions_total",
            &format!("outcome=\"duplicate\",{peer}"),
        ) == 5.0
    })
    .await;
    assert_eq!(metric(&metrics(), "tianshu_jt809_link_up", &peer), 1.0);
    assert_eq!(
        metric(
            &metrics(),
            "tianshu_jt809_positions_total",
            &format!("outcome=\"stored\",{peer}")
        ),
        8.0
    );
    drop(link);
    wait_until("the link shown down", LIMIT, || async {
        metric(&metrics(), "tianshu_jt809_link_up", &peer) == 0.0
    })
    .await;
}

#[tokio::test]
async fn a_2011_lower_platform_logs_in_and_its_positions_are_stored_once() {
    positions_stored_once(Edition::V2011, "").await;
}

#[tokio::test]
async fn a_2019_lower_platform_with_an_encrypted_link_is_stored_the_same() {
    positions_stored_once(Edition::V2019, "0x1234,0x5678,0x9abc").await;
}

#[tokio::test]
async fn wrong_credentials_get_the_standards_answer_codes_and_the_link_closed() {
    let p = province(Edition::V2011, "", 180).await;
    for (access_code, user, password, expected) in [
        (ACCESS_CODE + 1, USER, PASSWORD, LoginAnswer::BAD_ACCESS_CODE),
        (ACCESS_CODE, USER + 1, PASSWORD, LoginAnswer::UNKNOWN_USER),
        (ACCESS_CODE, USER, "wrong", LoginAnswer::BAD_PASSWORD),
    ] {
        let mut link = Link::open(p.addr, Edition::V2011, "", access_code).await;
        let answer = link.login(user, password).await;
        assert_eq!(answer.result, expected, "access code {access_code}, user {user}");
        // Nothing more is read from a refused link: it is closed.
        link.positions("鄂A00001", &fixes(1), false).await;
        link.closed().await;
    }
    // The right credentials still log in.
    let mut link = Link::open(p.addr, Edition::V2011, "", ACCESS_CODE).await;
    assert_eq!(link.login(USER, PASSWORD).await.result, LoginAnswer::OK);
    assert_eq!(stored(&p.store, "鄂A00001").await, 0);
}

#[tokio::test]
async fn a_flood_of_cars_the_peer_does_not_own_is_refused_and_counted() {
    let p = province(Edition::V2011, "", 180).await;
    let mut link = Link::open(p.addr, Edition::V2011, "", ACCESS_CODE).await;
    assert_eq!(link.login(USER, PASSWORD).await.result, LoginAnswer::OK);
    let flood = fixes(5);
    for i in 0..400 {
        link.positions("鄂B00001", &flood, true).await;
        link.positions(&format!("鄂Z{i:05}"), &flood[..1], false).await;
    }
    let own = fixes(2);
    link.positions("鄂A00001", &own, true).await;
    link.keep_alive().await;
    wait_until("the car's own positions stored", LIMIT, || async {
        stored(&p.store, "鄂A00001").await == 2
    })
    .await;
    assert_eq!(stored(&p.store, "鄂B00001").await, 0);
    let peer = format!("peer=\"{}\"", p.peer);
    let text = metrics();
    assert_eq!(
        metric(
            &text,
            "tianshu_jt809_positions_total",
            &format!("outcome=\"not_owned\",{peer}")
        ),
        2000.0
    );
    assert_eq!(
        metric(
            &text,
            "tianshu_jt809_positions_total",
            &format!("outcome=\"unknown_plate\",{peer}")
        ),
        400.0
    );
}

#[tokio::test]
async fn a_peer_that_stops_its_keep_alives_is_dropped_and_a_live_one_is_not() {
    let p = province(Edition::V2011, "", 1).await;
    let mut silent = Link::open(p.addr, Edition::V2011, "", ACCESS_CODE).await;
    assert_eq!(silent.login(USER, PASSWORD).await.result, LoginAnswer::OK);
    let before = metric(
        &metrics(),
        "tianshu_jt809_links_closed_total",
        "reason=\"silent\"",
    );
    silent.closed().await;
    assert!(
        metric(
            &metrics(),
            "tianshu_jt809_links_closed_total",
            "reason=\"silent\""
        ) > before
    );
    // A link that keeps talking stays up past the timeout (its keep-alives are answered each time).
    let mut live = Link::open(p.addr, Edition::V2011, "", ACCESS_CODE).await;
    assert_eq!(live.login(USER, PASSWORD).await.result, LoginAnswer::OK);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        live.keep_alive().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    live.positions("鄂A00001", &fixes(1), false).await;
    live.keep_alive().await;
    wait_until("the live link's position stored", LIMIT, || async {
        stored(&p.store, "鄂A00001").await == 1
    })
    .await;
}

#[tokio::test]
async fn a_10_mb_frame_closes_that_link_alone() {
    let p = province(Edition::V2011, "", 180).await;
    let mut good = Link::open(p.addr, Edition::V2011, "", ACCESS_CODE).await;
    assert_eq!(good.login(USER, PASSWORD).await.result, LoginAnswer::OK);
    let mut bad = Link::open(p.addr, Edition::V2011, "", ACCESS_CODE).await;
    assert_eq!(bad.login(USER, PASSWORD).await.result, LoginAnswer::OK);
    let mut huge = vec![0x11u8; 10 * 1024 * 1024];
    huge[0] = 0x5b;
    // The province closes the link part way; a write error then is expected.
    let _ = bad.stream.write_all(&huge).await;
    bad.closed().await;
    assert!(
        metric(
            &metrics(),
            "tianshu_jt809_links_closed_total",
            "reason=\"frame_too_long\""
        ) >= 1.0
    );
    good.positions("鄂A00001", &fixes(1), false).await;
    good.keep_alive().await;
    wait_until("the other link's position stored", LIMIT, || async {
        stored(&p.store, "鄂A00001").await == 1
    })
    .await;
}

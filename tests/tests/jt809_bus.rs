//! With a bus, positions from JT/T 809 lower platforms go through it like a terminal's: a province
//! process without the writer role takes a lower platform's positions, publishes them to the points stream
//! and answers the keep-alive behind them only after the PubAck; nothing reaches the store until a writer
//! process (the real binary again) commits them from the stream, each exactly once.

use std::time::Duration;

use tianshu_e2e::gateway::key;
use tianshu_e2e::{Fix, Scratch, ScratchDir, Tianshu, stored_track, wait_until};
use tianshu_jt809::{Codec, Edition, ForVehicle, Gnss, Login, LoginAnswer, Message, UpExg, Vehicle};
use tianshu_model::{Position, Timestamp};
use tianshu_platform::sublink::framed::Framed;
use tianshu_store::Store;
use tianshu_testkit::import_cars;
use tianshu_testkit::nats::{NatsNode, free_port};
use tokio::net::TcpStream;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(60);
const PLATE: &str = "鄂A00001";
const POINTS: i64 = 20;

fn config(nats: &str, jt809: &str) -> String {
    format!(
        "[bus]\nservers = [\"{nats}\"]\nreplicas = 1\npartitions = 4\n\n[jt809]\nlisten = \"{jt809}\"\n\n\
         [[jt809.lower]]\nname = \"huangshi\"\naccess_code = 4200\nuser_id = 77\npassword = \"pw123456\"\n\
         units = [\"黄石市\"]\n"
    )
}

/// Fixes a minute apart from an hour ago, to the second (the 2011 layout carries whole seconds).
fn fixes() -> Vec<Position> {
    let start = Timestamp::now().secs() - 3_600;
    (0..POINTS)
        .map(|i| {
            Fix::at(start + i * 60)
                .at_e6(30_200_000 + i as i32 * 10, 115_040_000)
                .build()
        })
        .collect()
}

/// The next message on `link`.
async fn next(link: &mut Framed) -> Message {
    link.next(Instant::now() + LIMIT)
        .await
        .expect("a message from the province")
}

/// Logs in to the province at `addr` and sends `points` as real-time positions, then a keep-alive, and
/// waits for its answer: the province has taken everything sent before it.
async fn lower_platform_reports(addr: &str, points: &[Position]) {
    let stream = TcpStream::connect(addr)
        .await
        .expect("connecting to the province");
    let mut link = Framed::new(stream, Codec::new(Edition::V2011), 4200);
    let login = Login {
        user_id: 77,
        password: "pw123456".into(),
        center_id: 0,
        down_link_ip: String::new(),
        down_link_port: 0,
    };
    link.send(&Message::Login(login)).await.expect("logging in");
    assert!(matches!(
        next(&mut link).await,
        Message::LoginAnswer(LoginAnswer { result: 0, .. })
    ));
    for p in points {
        let vehicle = Vehicle {
            plate: PLATE.into(),
            color: 1,
        };
        let data = UpExg::RealLocation(Gnss::from_position(p, Edition::V2011));
        link.send(&Message::UpExg(ForVehicle { vehicle, data }))
            .await
            .expect("sending");
    }
    link.send(&Message::KeepAlive)
        .await
        .expect("sending the keep-alive");
    assert_eq!(next(&mut link).await, Message::KeepAliveAnswer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_platforms_positions_are_published_and_committed_by_a_writer() {
    let nats = NatsNode::start();
    let scratch = Scratch::postgres("jt809_bus").await;
    let store = Store::open(&scratch.url()).await.expect("opening the store");
    import_cars(&store, "黄石市", &[(PLATE, 13_900_000_001)]).await;
    let dir = ScratchDir::new("jt809_bus");
    let jt809 = format!("127.0.0.1:{}", free_port());
    let toml = config(&nats.url(), &jt809);
    let province = Tianshu::start(&scratch.url(), &toml, &["--roles", "gateway,api"], dir.path());

    let sent = fixes();
    lower_platform_reports(&jt809, &sent).await;
    // Answered, so every position is in the stream; none is in the store, which only a writer fills.
    assert_eq!(
        province.metric("tianshu_bus_points_published_total", "").await,
        POINTS as f64
    );
    assert_eq!(
        province
            .metric("tianshu_jt809_positions_total", "outcome=\"stored\"")
            .await,
        POINTS as f64
    );
    assert!(
        stored_track(&store, PLATE).await.is_empty(),
        "a position bypassed the bus"
    );

    let _writer = Tianshu::start(
        &scratch.url(),
        &toml.replace(&jt809, ""),
        &["--roles", "writer"],
        dir.path(),
    );
    wait_until("the writer to commit the positions", LIMIT, || async {
        stored_track(&store, PLATE).await.len() >= POINTS as usize
    })
    .await;
    let keys = |track: &[Position]| track.iter().map(key).collect::<Vec<_>>();
    assert_eq!(
        keys(&stored_track(&store, PLATE).await),
        keys(&sent),
        "each position stored once"
    );
}

//! An upper platform written with the codec asks Tianshu, its lower platform, for the positions of a car
//! it is not sent (0x9205), then releases it (0x9206), over real TCP: both are answered for that car
//! (0x1205 / 0x1206), the car's positions go up between the two and not after, the covered cars' positions
//! go up throughout, and a plate not in the registry is not answered.

use std::collections::HashMap;
use std::time::Duration;

use tianshu_jt809::{Codec, DownExg, Edition, ForVehicle, LoginAnswer, Message, UpExg, Vehicle};
use tianshu_platform::UpperPlatform;
use tianshu_platform::lower::forward;
use tianshu_platform::sublink::framed::Framed;
use tianshu_store::StoreConfig;
use tianshu_testkit::{Scratch, drive, import_cars, metric, unique};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(30);
const ACCESS_CODE: u32 = 4200;
const COVERED: &str = "鄂A00011";
const ASKED: &str = "鄂B00011";
const UNKNOWN: &str = "鄂Z99999";

/// What the upper platform has been sent: positions per plate, and the start/stop answers per plate.
#[derive(Default, Debug)]
struct Seen {
    positions: HashMap<String, usize>,
    started: Vec<String>,
    stopped: Vec<String>,
}

impl Seen {
    fn positions(&self, plate: &str) -> usize {
        self.positions.get(plate).copied().unwrap_or(0)
    }
}

/// Reads the lower platform's messages, answering its keep-alives, until `done` holds.
async fn read_until(link: &mut Framed, seen: &mut Seen, what: &str, done: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !done(seen) {
        let m = link
            .next(deadline)
            .await
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}; seen {seen:?}"));
        match m {
            Message::KeepAlive => link.send(&Message::KeepAliveAnswer).await.expect("answering"),
            Message::UpExg(ForVehicle { vehicle, data }) => match data {
                UpExg::RealLocation(_) => *seen.positions.entry(vehicle.plate).or_default() += 1,
                UpExg::HistoryLocation(g) => *seen.positions.entry(vehicle.plate).or_default() += g.len(),
                UpExg::ReturnStartupAck => seen.started.push(vehicle.plate),
                UpExg::ReturnEndAck => seen.stopped.push(vehicle.plate),
                _ => {}
            },
            _ => {}
        }
    }
}

fn asking(plate: &str, data: DownExg) -> Message {
    Message::DownExg(ForVehicle {
        vehicle: Vehicle::blue(plate),
        data,
    })
}

fn unknown_cars_asked() -> f64 {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .expect("encoding metrics");
    metric(
        &text,
        "tianshu_jt809_requests_total",
        "kind=\"positions\",outcome=\"unknown_car\"",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upper_platform_starts_and_stops_the_positions_of_a_car_it_is_not_sent() {
    let scratch = Scratch::embedded("positions_asked");
    let city = scratch.open(&StoreConfig::default()).await;
    import_cars(&city, "City", &[(COVERED, 13_900_000_011)]).await;
    import_cars(&city, "Other", &[(ASKED, 13_900_000_012)]).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let address = listener.local_addr().expect("addr").to_string();
    let upper = UpperPlatform {
        password: "pw123456".into(),
        answer_timeout_secs: 10,
        reconnect_min_backoff_ms: 50,
        reconnect_max_backoff_ms: 500,
        poll_ms: 50,
        settle_secs: 1,
        ..UpperPlatform::new(&unique("province"), &address, ACCESS_CODE, 77, &["City"])
    };
    upper.validate().expect("a valid upper platform");
    let stop = CancellationToken::new();
    tokio::spawn(forward(upper, city.clone(), stop.clone()));

    let (stream, _) = tokio::time::timeout(LIMIT, listener.accept())
        .await
        .expect("the city to connect")
        .expect("accepting");
    let mut link = Framed::new(stream, Codec::new(Edition::V2011), ACCESS_CODE);
    let login = link.next(Instant::now() + LIMIT).await.expect("a login");
    assert!(matches!(login, Message::Login(_)), "{login:?}");
    link.send(&Message::LoginAnswer(LoginAnswer {
        result: 0,
        verify_code: 1,
    }))
    .await
    .expect("answering the login");

    // Before any request: only the covered car goes up.
    let mut seen = Seen::default();
    drive(&city, ASKED, 600, 4, 1).await;
    drive(&city, COVERED, 600, 5, 1).await;
    read_until(&mut link, &mut seen, "the covered car's positions", |s| {
        s.positions(COVERED) == 5
    })
    .await;
    assert_eq!(
        seen.positions(ASKED),
        0,
        "a car of a unit not covered went up unasked"
    );

    // Asked for: answered for that car, its new positions go up; an unknown plate gets no answer.
    let unknown_before = unknown_cars_asked();
    link.send(&asking(UNKNOWN, DownExg::ReturnStartup { reason_code: 1 }))
        .await
        .expect("asking");
    link.send(&asking(ASKED, DownExg::ReturnStartup { reason_code: 1 }))
        .await
        .expect("asking");
    read_until(&mut link, &mut seen, "the start's answer", |s| {
        !s.started.is_empty()
    })
    .await;
    assert_eq!(
        seen.started,
        vec![ASKED.to_string()],
        "only the known car's start is answered"
    );
    assert!(
        unknown_cars_asked() > unknown_before,
        "the unknown plate is counted"
    );
    drive(&city, ASKED, 300, 3, 1).await;
    read_until(&mut link, &mut seen, "the asked car's positions", |s| {
        s.positions(ASKED) == 3
    })
    .await;

    // Released: answered, and its later positions stay here while the covered car's still go up.
    link.send(&asking(ASKED, DownExg::ReturnEnd { reason_code: 0 }))
        .await
        .expect("releasing");
    read_until(&mut link, &mut seen, "the stop's answer", |s| {
        !s.stopped.is_empty()
    })
    .await;
    assert_eq!(seen.stopped, vec![ASKED.to_string()]);
    drive(&city, ASKED, 200, 6, 1).await;
    drive(&city, COVERED, 200, 2, 1).await;
    read_until(&mut link, &mut seen, "the covered car's later positions", |s| {
        s.positions(COVERED) == 7
    })
    .await;
    assert_eq!(
        seen.positions(ASKED),
        3,
        "only the positions between the start and the stop went up"
    );
    stop.cancel();
}

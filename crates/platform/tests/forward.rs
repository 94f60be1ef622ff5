//! Tianshu as a lower platform forwarding to Tianshu as an upper platform over real TCP, two stores:
//! the province ends with exactly the city's points of the covered cars, across a province restart in
//! the middle (the backlog caught up from the city's durable forwarding position); and a link far behind
//! catching up a window of receive time a round.

use std::net::SocketAddr;
use std::time::Duration;

mod common;

use common::{accept, answer, upper_at};
use futures::TryStreamExt;
use tianshu_ingest::uplink::UplinkConfig;
use tianshu_jt809::{Edition, Message};
use tianshu_model::{Position, Timestamp};
use tianshu_platform::lower::forward;
use tianshu_platform::{Jt809Config, LowerPlatform, Upper, UpperPlatform, run};
use tianshu_store::{Store, StoreConfig};
use tianshu_testkit::{Fix, Scratch, drive, import_cars, metric, unique, vehicle_of, wait_until};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(60);
const COVERED: [&str; 2] = ["鄂A00001", "鄂A00002"];
const NOT_COVERED: &str = "鄂B00001";

async fn registry(store: &Store) {
    import_cars(store, "City", &[(COVERED[0], 13_900_000_001)]).await;
    import_cars(store, "City/District", &[(COVERED[1], 13_900_000_002)]).await;
    import_cars(store, "Other", &[(NOT_COVERED, 13_900_000_003)]).await;
}

fn province_config(name: &str, edition: Edition, key: &str) -> Jt809Config {
    Jt809Config {
        listen: "127.0.0.1:0".into(),
        // The province takes any car of the registry's root units it shares with the city.
        lower: vec![LowerPlatform {
            password: "pw123456".into(),
            key: key.into(),
            edition,
            ..LowerPlatform::new(name, 4200, 77, &["City", "Other"])
        }],
        ..Jt809Config::default()
    }
}

/// Starts the province's upper platform on `addr`; cancelling the token stops it.
async fn start_province(store: &Store, config: &Jt809Config, addr: SocketAddr) -> CancellationToken {
    // The port of a province just stopped frees once its last link closed.
    let start = std::time::Instant::now();
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) if start.elapsed() < LIMIT => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("binding the province on {addr}: {e}"),
        }
    };
    let shutdown = CancellationToken::new();
    let upper = Upper::new(config.clone(), store.clone(), UplinkConfig::default());
    tokio::spawn(run(listener, upper, shutdown.clone()));
    shutdown
}

/// The track of `plate` as (fix time, latitude, longitude).
async fn track(store: &Store, plate: &str) -> Vec<(i64, i32, i32)> {
    let vehicle = vehicle_of(store, plate).await;
    store
        .backend()
        .track(vehicle, Timestamp(0), Timestamp::from_secs(4_000_000_000))
        .await
        .expect("reading")
        .try_collect::<Vec<Position>>()
        .await
        .expect("reading")
        .iter()
        .map(|p| (p.fix_time.0, p.lat_e6, p.lon_e6))
        .collect()
}

fn links_to_upper_closed() -> f64 {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .expect("encoding metrics");
    metric(&text, "tianshu_jt809_links_closed_total", "reason=\"upper_link\"")
}

async fn same_tracks(city: &Store, province: &Store) -> bool {
    for plate in COVERED {
        if track(city, plate).await != track(province, plate).await {
            return false;
        }
    }
    true
}

async fn forwards_across_a_province_restart(edition: Edition, key: &str) {
    let (city_scratch, province_scratch) = (Scratch::embedded("city"), Scratch::embedded("province"));
    let city = city_scratch.open(&StoreConfig::default()).await;
    let province = province_scratch.open(&StoreConfig::default()).await;
    registry(&city).await;
    registry(&province).await;
    let name = unique("city");
    let config = province_config(&name, edition, key);
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port")
        .local_addr()
        .expect("addr");
    let stop_province = start_province(&province, &config, addr).await;

    let upper = UpperPlatform {
        password: "pw123456".into(),
        key: key.into(),
        edition,
        answer_timeout_secs: 10,
        reconnect_min_backoff_ms: 50,
        reconnect_max_backoff_ms: 500,
        poll_ms: 50,
        settle_secs: 1,
        lookback_days: 7,
        // The province connects back to it: the sub-link runs beside the forwarding in every edition.
        sub_link_listen: "127.0.0.1:0".into(),
        ..UpperPlatform::new(&unique("province"), &addr.to_string(), 4200, 77, &["City"])
    };
    upper.validate().expect("a valid upper platform");
    let stop_city = CancellationToken::new();
    tokio::spawn(forward(upper.clone(), city.clone(), stop_city.clone()));

    drive(&city, COVERED[0], 3_600, 30, 60).await;
    drive(&city, COVERED[1], 3_600, 12, 60).await;
    drive(&city, NOT_COVERED, 3_600, 10, 60).await;
    wait_until("the first points at the province", LIMIT, || {
        same_tracks(&city, &province)
    })
    .await;
    assert_eq!(track(&province, COVERED[0]).await.len(), 30);

    // The province goes away; the city keeps receiving, finds the link broken and keeps trying.
    let closed_before = links_to_upper_closed();
    stop_province.cancel();
    drive(&city, COVERED[0], 1_800, 20, 60).await;
    drive(&city, COVERED[1], 7_200, 7, 60).await;
    wait_until("the city to find the link broken", LIMIT, || async {
        links_to_upper_closed() > closed_before
    })
    .await;
    let stop_province = start_province(&province, &config, addr).await;
    wait_until("the backlog at the province", LIMIT, || {
        same_tracks(&city, &province)
    })
    .await;
    assert_eq!(track(&province, COVERED[0]).await.len(), 50);
    assert_eq!(track(&province, COVERED[1]).await.len(), 19);
    assert!(
        track(&province, NOT_COVERED).await.is_empty(),
        "a car of a unit not covered was forwarded"
    );
    let position = city.forwarding().position(&upper.name).await.expect("reading");
    assert!(position.is_some(), "the forwarding position is stored");
    stop_city.cancel();
    stop_province.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_forwards_to_its_province_and_catches_up_after_the_province_restarts() {
    forwards_across_a_province_restart(Edition::V2011, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_over_an_encrypted_2019_link() {
    forwards_across_a_province_restart(Edition::V2019, "0x1234,0x5678,0x9abc").await;
}

/// An upper platform listening at `listener` for the tests of one link: quick polls and answers.
fn quick_upper(listener: &TcpListener) -> UpperPlatform {
    UpperPlatform {
        answer_timeout_secs: 10,
        poll_ms: 50,
        ..upper_at(listener, &unique("province"))
    }
}

/// A link whose position lies eleven minutes back, with ten minutes of points behind it, catches up 30 s
/// of receive time a round (`catch_up_window_secs`): an upper platform written with the codec counts the
/// positions between two keep-alives (each round ends with one), and sees every point, never more than
/// one window's at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_far_behind_catches_up_window_by_window() {
    let scratch = Scratch::embedded("city");
    let city = scratch.open(&StoreConfig::default()).await;
    registry(&city).await;
    // A point every 5 s for each covered car over the last ten minutes, received 2 s after its fix: six
    // of each car's points in every 30 s window.
    let now = Timestamp::now();
    for (k, plate) in COVERED.iter().enumerate() {
        let vehicle = vehicle_of(&city, plate).await;
        let points: Vec<Position> = (0..120)
            .map(|i| {
                let mut p = Fix::at(now.secs() - 605 + i * 5)
                    .at_e6(30_500_000 + i as i32 * 50, 114_300_000 + k as i32)
                    .heading(400, 90)
                    .build();
                p.vehicle = vehicle;
                p.recv_time = p.fix_time.add_millis(2_000);
                p
            })
            .collect();
        city.append_points(&points).await.expect("appending");
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let upper = UpperPlatform {
        catch_up_window_secs: 30,
        ..quick_upper(&listener)
    };
    upper.validate().expect("a valid upper platform");
    // The link forwarded everything up to eleven minutes ago, then went down.
    city.forwarding()
        .save(&upper.name, Timestamp(now.0 - 660_000), now)
        .await
        .expect("saving the position");
    let stop = CancellationToken::new();
    tokio::spawn(forward(upper.clone(), city.clone(), stop.clone()));

    let mut link = accept(&listener).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    let (mut received, mut this_round, mut rounds) = (0, 0, Vec::new());
    while received < 240 {
        let message = link.next(deadline).await.expect("a message");
        let keep_alive = matches!(message, Message::KeepAlive);
        let n = answer(&mut link, message).await;
        (received, this_round) = (received + n, this_round + n);
        if keep_alive && this_round > 0 {
            rounds.push(std::mem::take(&mut this_round));
        }
    }
    rounds.push(this_round);
    assert_eq!(received, 240, "the 240 points of both cars");
    assert!(
        rounds.len() >= 20 && rounds.iter().all(|&n| n <= 12),
        "ten minutes in rounds of 30 s, at most six points of each car a round: {rounds:?}"
    );
    stop.cancel();
}

/// A first link (no forwarding position saved) starts `lookback_days` back: what arrived in those days
/// goes up, older history does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_link_sends_the_last_lookback_days_not_the_whole_history() {
    let scratch = Scratch::embedded("city");
    let city = scratch.open(&StoreConfig::default()).await;
    registry(&city).await;
    let vehicle = vehicle_of(&city, COVERED[0]).await;
    let now = Timestamp::now();
    // Received three days ago, one day ago and a minute ago; the link looks back two days.
    let points: Vec<Position> = [3 * 86_400, 86_400, 60]
        .into_iter()
        .enumerate()
        .map(|(i, ago)| {
            let mut p = Fix::at(now.secs() - ago)
                .at_e6(30_500_000 + i as i32 * 50, 114_300_000)
                .build();
            p.vehicle = vehicle;
            p
        })
        .collect();
    city.append_points(&points).await.expect("appending");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let upper = UpperPlatform {
        keepalive_secs: 1,
        lookback_days: 2,
        ..quick_upper(&listener)
    };
    upper.validate().expect("a valid upper platform");
    let stop = CancellationToken::new();
    tokio::spawn(forward(upper.clone(), city.clone(), stop.clone()));

    let mut link = accept(&listener).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    // Until both recent points are up, then two idle keep-alives more: nothing else comes.
    let (mut received, mut idle) = (0, 0);
    while idle < 2 {
        let message = link.next(deadline).await.expect("a message");
        let keep_alive = matches!(message, Message::KeepAlive);
        received += answer(&mut link, message).await;
        if keep_alive && received >= 2 {
            idle += 1;
        }
    }
    assert_eq!(
        received, 2,
        "the points of the last two days, not the one of three days ago"
    );
    stop.cancel();
}

//! Tianshu as a lower platform forwarding to Tianshu as an upper platform over real TCP, two stores:
//! the province ends with exactly the city's points of the covered cars, across a province restart in
//! the middle (the backlog caught up from the city's durable forwarding position).

use std::net::SocketAddr;
use std::time::Duration;

use futures::TryStreamExt;
use tianshu_ingest::uplink::UplinkConfig;
use tianshu_jt809::Edition;
use tianshu_model::{Position, Timestamp};
use tianshu_platform::lower::forward;
use tianshu_platform::{Jt809Config, LowerPlatform, Upper, UpperPlatform, run};
use tianshu_store::{Store, StoreConfig};
use tianshu_testkit::{Scratch, drive, import_cars, metric, unique, vehicle_of, wait_until};
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

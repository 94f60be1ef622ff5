//! Two Tianshu instances on loopback, the real binary twice: a city whose terminals report over JT/T 808
//! forwards to its province over JT/T 809. The province's store ends with exactly the city's committed
//! points of the covered unit, also when the province is killed mid-run and the backlog arrives after
//! its restart.

use std::net::SocketAddr;
use std::time::Duration;

use tianshu_e2e::gateway::{Terminal, key, phone, plate};
use tianshu_e2e::jt809::{COVERED, Pair};
use tianshu_e2e::{Fix, stored_track, wait_until};
use tianshu_model::{Position, Timestamp};
use tianshu_store::Store;

const LIMIT: Duration = Duration::from_secs(120);
/// One car of a unit the city does not forward.
const NOT_COVERED: u32 = COVERED;

/// Fixes of car `i` a minute apart from two hours ago, `from..to`; every (i, t) distinct.
fn fixes(i: u32, base: i64, from: i64, to: i64) -> Vec<Position> {
    (from..to)
        .map(|t| {
            Fix::at(base + t * 60)
                .at_e6(
                    30_200_000 + i as i32 * 1000 + t as i32 * 10,
                    115_040_000 + t as i32 * 7,
                )
                .heading(400, 90)
                .build()
        })
        .collect()
}

/// Every car reports `from..to`, each report acknowledged by the city (so committed there).
async fn report(city: SocketAddr, codes: &[String], base: i64, from: i64, to: i64) {
    for i in 0..=NOT_COVERED {
        let mut t = Terminal::connect(city, phone(i))
            .await
            .expect("connecting to the city");
        assert_eq!(t.authenticate(&codes[i as usize]).await, Some(0));
        t.report_all_acked(
            &fixes(i, base, from, to),
            Duration::from_secs(30),
            &format!("car {i}"),
        )
        .await;
    }
}

/// Whether the province holds exactly the city's points of every covered car.
async fn province_has_the_citys(city: &Store, province: &Store) -> bool {
    for i in 0..COVERED {
        let keys = |track: Vec<Position>| track.iter().map(key).collect::<Vec<_>>();
        if keys(stored_track(city, &plate(i)).await) != keys(stored_track(province, &plate(i)).await) {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_forwards_its_committed_points_to_its_province_through_a_province_crash() {
    let pair = Pair::new("jt809", "").await;
    let mut province = pair.province();
    let city = pair.city();
    let mut codes = Vec::new();
    for i in 0..=NOT_COVERED {
        let mut t = Terminal::connect(city.jt808, phone(i))
            .await
            .expect("connecting to the city");
        codes.push(t.login(i).await);
    }
    let city_store = Store::open(&pair.city_db.url())
        .await
        .expect("reading the city's store");
    let province_store = Store::open(&pair.province_db.url())
        .await
        .expect("reading the province's store");
    let base = Timestamp::now().secs() - 7_200;

    report(city.jt808, &codes, base, 0, 30).await;
    wait_until("the first points at the province", LIMIT, || {
        province_has_the_citys(&city_store, &province_store)
    })
    .await;

    // The province dies without a word; the city keeps taking reports and finds the link broken.
    province.kill();
    report(city.jt808, &codes, base, 30, 60).await;
    wait_until("the city to find the link broken", LIMIT, || async {
        city.metric("tianshu_jt809_links_closed_total", "reason=\"upper_link\"")
            .await
            >= 1.0
    })
    .await;
    let province = pair.province();
    wait_until("the backlog at the province", LIMIT, || {
        province_has_the_citys(&city_store, &province_store)
    })
    .await;
    for i in 0..COVERED {
        assert_eq!(
            stored_track(&province_store, &plate(i)).await.len(),
            60,
            "car {i}"
        );
    }
    assert!(
        stored_track(&province_store, &plate(NOT_COVERED))
            .await
            .is_empty(),
        "a car of a unit the city does not forward reached the province"
    );
    assert_eq!(
        province
            .metric("tianshu_jt809_link_up", "peer=\"huangshi\"")
            .await,
        1.0
    );
    assert_eq!(
        city.metric("tianshu_jt809_link_up", "peer=\"province\"").await,
        1.0
    );
}

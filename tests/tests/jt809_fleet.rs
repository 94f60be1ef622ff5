//! The simulated fleet through a city to its province over JT/T 809, two real Tianshu binaries on
//! loopback: the fleet (`tianshu_sim`, 20 cars of the demo world, real TCP) reports to the city, which
//! forwards to the province; the province is killed and stays away for a minute while the fleet drives on,
//! then comes back. Once the fleet stops, the province holds exactly the city's committed points of every
//! car, none lost, none twice.

use std::sync::Arc;
use std::time::Duration;

use tianshu_e2e::jt809::Pair;
use tianshu_e2e::{stored_track, wait_until};
use tianshu_model::Position;
use tianshu_sim::files::registry_csv;
use tianshu_sim::scenario::TerminalScenarios;
use tianshu_sim::{Fleet, FleetConfig, World, WorldConfig};
use tianshu_store::Store;

const LIMIT: Duration = Duration::from_secs(180);

/// A point's identity across the two stores: car, fix time, place.
fn keys(track: &[Position]) -> Vec<(i64, i32, i32)> {
    let mut k: Vec<_> = track.iter().map(|p| (p.fix_time.0, p.lat_e6, p.lon_e6)).collect();
    k.sort_unstable();
    k
}

/// Whether the province holds exactly the city's points of every car of the world.
async fn same_tracks(world: &World, city: &Store, province: &Store) -> bool {
    for v in &world.vehicles {
        if keys(&stored_track(city, &v.plate).await) != keys(&stored_track(province, &v.plate).await) {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_fleet_reaches_the_province_through_a_minute_without_the_link() {
    let pair = Pair::new("jt809f", "").await;
    let today = chrono::Utc::now().date_naive();
    let world = Arc::new(World::generate(&WorldConfig {
        vehicles: 20,
        ..WorldConfig::from_date(today, 0)
    }));
    // Both platforms know the world's cars, all under 黄石市, the unit the city forwards.
    let records = tianshu_store::parse_registry_csv(&registry_csv(&world)).expect("the world's registry");
    let (city_store, province_store) = (
        Store::open(&pair.city_db.url()).await.expect("the city's store"),
        Store::open(&pair.province_db.url())
            .await
            .expect("the province's store"),
    );
    city_store.import_registry(&records).await.expect("importing");
    province_store.import_registry(&records).await.expect("importing");
    let mut province = pair.province();
    let city = pair.city();

    // Thirty times real time, every car reporting every ten simulated seconds, parked or driving (so
    // whatever the hour, the cars report a few times a second).
    let fleet = Fleet::spawn(
        FleetConfig {
            target: city.jt808,
            // An hour back, so that thirty times real time stays in the past for the test's length (a fix
            // more than ten minutes ahead of its receipt is refused, as from a clock that runs ahead).
            start_ms: Some(tianshu_model::Timestamp::now().0 - 3_600_000),
            speedup: 30.0,
            parked_interval_secs: 10.0,
            connect_spread_secs: 1.0,
            reconnect_secs: 0.5,
            scenarios: TerminalScenarios::none(),
            ..Default::default()
        },
        world.clone(),
    )
    .expect("the fleet");
    let ledger = fleet.ledger();
    wait_until("the fleet's first points at the province", LIMIT, || async {
        ledger.recorded() >= 100
            && !stored_track(&province_store, &world.vehicles[0].plate)
                .await
                .is_empty()
    })
    .await;

    // The province goes away for a minute; the city keeps taking the fleet's points.
    province.kill();
    let before = ledger.recorded();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        ledger.recorded() > before,
        "the fleet drove on while the province was away"
    );
    let _province = pair.province();
    tokio::time::sleep(Duration::from_secs(5)).await;
    fleet.stop().await.expect("stopping the fleet");

    wait_until("the province to hold exactly the city's points", LIMIT, || {
        same_tracks(&world, &city_store, &province_store)
    })
    .await;
    // Every point the city acknowledged to the fleet is stored there (by the terminal's phone, which the
    // province does not know), so at the province too: it holds what the city does.
    let mut forwarded = std::collections::HashSet::new();
    for v in &world.vehicles {
        for p in stored_track(&city_store, &v.plate).await {
            forwarded.insert((p.phone, p.fix_time, p.block_hash()));
        }
    }
    let entries = ledger.entries();
    let missing = entries
        .iter()
        .filter(|e| !forwarded.contains(&(e.phone, e.fix_time, e.block_hash)))
        .count();
    assert_eq!(
        missing,
        0,
        "of {} points acknowledged to the fleet, {missing} are not stored",
        entries.len()
    );
    drop(city);
}

//! The fleet against the real gateway and the embedded store: every point in the ledger is stored, once,
//! including across a gateway restart that leaves reports unanswered (they come back as backfill), and
//! across the loss of one of two gateways the terminals know (they go on at the other).
#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::TryStreamExt;
use tianshu_ingest::{Gateway, GatewayConfig, StoreSink};
use tianshu_model::{PositionSource, Timestamp};
use tianshu_sim::files::registry_csv;
use tianshu_sim::scenario::TerminalScenarios;
use tianshu_sim::{Fleet, FleetConfig, LedgerEntry, World, WorldConfig};
use tianshu_store::Store;
use tianshu_testkit::{WAIT, wait_until};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// 2026-11-27 09:30 in Huangshi, a Friday morning.
const FRIDAY_MORNING_MS: i64 = 1_795_743_000_000;

/// A world of `vehicles` cars on the Friday of [`FRIDAY_MORNING_MS`] and an embedded store in a fresh
/// directory holding its registry.
async fn friday_world(name: &str, vehicles: usize) -> (std::path::PathBuf, Arc<World>, Store) {
    let dir = std::env::temp_dir().join(format!("tianshu-sim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = dir.join("ts.db").to_string_lossy().into_owned();
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let world = Arc::new(World::generate(&WorldConfig {
        vehicles,
        ..WorldConfig::from_date(friday, 0)
    }));
    let store = Store::open(&url).await.unwrap();
    let records = tianshu_store::parse_registry_csv(&registry_csv(&world)).unwrap();
    store.import_registry(&records).await.unwrap();
    (dir, world, store)
}

/// Waits until `cond` holds (the test kit's wait, for a plain condition).
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    wait_until(what, WAIT, || std::future::ready(cond())).await;
}

fn gateway(store: &Store, listener: TcpListener) -> CancellationToken {
    let gw = Gateway::new(
        GatewayConfig::default(),
        store.clone(),
        Arc::new(StoreSink(store.clone())),
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(tianshu_ingest::run(listener, gw, shutdown.clone()));
    shutdown
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_point_is_stored_exactly_once_across_a_gateway_restart() {
    let (dir, world, store) = friday_world("gateway", 30).await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = gateway(&store, listener);
    let cfg = FleetConfig {
        target: addr,
        interval_secs: 10.0,
        parked_interval_secs: 30.0,
        speedup: 100.0,
        start_ms: Some(FRIDAY_MORNING_MS),
        connect_spread_secs: 0.5,
        reconnect_secs: 0.2,
        scenarios: TerminalScenarios {
            alarm_rate: 0.5,
            ..TerminalScenarios::none()
        },
        ..Default::default()
    };
    let fleet = Fleet::spawn(cfg, world.clone()).unwrap();
    let (ledger, stats) = (fleet.ledger(), fleet.stats());
    wait_for("200 acknowledged points", || ledger.recorded() >= 200).await;

    // The gateway goes away and comes back on the same address: what the terminals recorded meanwhile,
    // and what was in flight, reaches the store as blind-area backfill.
    shutdown.cancel();
    wait_for("the terminals to notice", || stats.online.get() == 0).await;
    let buffered = stats.points_buffered.get();
    wait_for("points recorded while the gateway is away", || {
        stats.points_buffered.get() > buffered
    })
    .await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let shutdown = gateway(&store, listener);
    let before = ledger.recorded();
    wait_for("backfill and 400 more points", || {
        stats.backfill_points_acked.get() > 0 && ledger.recorded() >= before + 400
    })
    .await;
    fleet.stop().await.unwrap();
    shutdown.cancel();

    let entries = ledger.entries();
    assert_eq!(entries.len() as u64, ledger.recorded());
    let unique: HashSet<LedgerEntry> = entries.iter().copied().collect();
    assert_eq!(unique.len(), entries.len(), "the ledger holds each point once");
    assert!(entries.iter().any(|e| e.source == PositionSource::Backfill));

    stored_once(&store, &world, &entries).await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Every entry of the ledger is stored exactly once, and the store holds no point twice.
async fn stored_once(store: &Store, world: &World, entries: &[LedgerEntry]) {
    // Everything the store holds for the fleet's cars, keyed like the ledger.
    let plate_of: HashMap<_, _> = world
        .vehicles
        .iter()
        .map(|v| (v.plate.clone(), v.phone))
        .collect();
    let mut stored: HashMap<(tianshu_model::Phone, Timestamp, i64), usize> = HashMap::new();
    for v in store.vehicles().await.unwrap() {
        assert!(plate_of.contains_key(&v.plate));
        let track = store
            .track(v.id, Timestamp(0), Timestamp(i64::MAX / 2))
            .await
            .unwrap();
        let points: Vec<_> = track.try_collect().await.unwrap();
        for p in points {
            *stored.entry((p.phone, p.fix_time, p.block_hash())).or_default() += 1;
        }
    }
    for e in entries {
        let n = stored
            .get(&(e.phone, e.fix_time, e.block_hash))
            .copied()
            .unwrap_or(0);
        assert_eq!(n, 1, "acknowledged point {e:?} stored {n} times");
    }
    assert!(stored.values().all(|&n| n == 1), "the store holds no point twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_given_two_gateways_go_on_at_the_other_when_one_goes_away() {
    let (dir, world, store) = friday_world("backup", 20).await;

    let (main, backup) = (
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    );
    let cfg = FleetConfig {
        target: main.local_addr().unwrap(),
        backup_targets: vec![backup.local_addr().unwrap()],
        interval_secs: 10.0,
        parked_interval_secs: 30.0,
        speedup: 100.0,
        start_ms: Some(FRIDAY_MORNING_MS),
        connect_spread_secs: 0.5,
        reconnect_secs: 0.2,
        scenarios: TerminalScenarios::none(),
        ..Default::default()
    };
    let (stop_main, stop_backup) = (gateway(&store, main), gateway(&store, backup));
    let fleet = Fleet::spawn(cfg, world.clone()).unwrap();
    let (ledger, stats) = (fleet.ledger(), fleet.stats());
    let all = world.vehicles.len() as i64;
    wait_for("every terminal online and 200 acknowledged points", || {
        stats.online.get() == all && ledger.recorded() >= 200
    })
    .await;

    // The main gateway goes away for good: its terminals log in at the backup one and go on there.
    stop_main.cancel();
    wait_for("the main gateway's terminals to notice", || {
        stats.online.get() < all
    })
    .await;
    let before = ledger.recorded();
    wait_for("every terminal online again and 300 more points", || {
        stats.online.get() == all && ledger.recorded() >= before + 300
    })
    .await;
    fleet.stop().await.unwrap();
    stop_backup.cancel();
    stored_once(&store, &world, &ledger.entries()).await;
    std::fs::remove_dir_all(&dir).ok();
}

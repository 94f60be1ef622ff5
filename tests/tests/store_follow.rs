//! A follower of committed points misses none, on both backends: with room for two batches it is held
//! back through half of a large burst, then reads while the other half commits; every committed point
//! must reach it at least once. With room for many batches but few points, a follower held back holds no
//! more than its points, and still sees every one.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tianshu_e2e::{Scratch, point};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::{Cursor, Store, StoreConfig, WriterConfig};

const VEHICLES: i64 = 40;
const ROUNDS: i64 = 10;
const POINTS_PER_APPEND: i64 = 50;

fn config() -> StoreConfig {
    StoreConfig {
        writer: WriterConfig {
            fanout_capacity_batches: 2,
            ..WriterConfig::default()
        },
        ..StoreConfig::default()
    }
}

type Key = (VehicleId, Timestamp, i64);

fn key(p: &Position) -> Key {
    (p.vehicle, p.fix_time, p.block_hash())
}

/// One append: `POINTS_PER_APPEND` consecutive 10-s fixes of `vehicle` in round `round`.
fn append_of(vehicle: i64, round: i64) -> Vec<Position> {
    (0..POINTS_PER_APPEND)
        .map(|i| point(vehicle, (round * POINTS_PER_APPEND + i) * 10))
        .collect()
}

/// Commits rounds `rounds` of the burst, every vehicle's append of a round at once (the writer groups
/// them into few commits), and returns the keys committed.
async fn burst(store: &Store, rounds: std::ops::Range<i64>) -> Vec<Key> {
    let mut keys = Vec::new();
    for round in rounds {
        let appends: Vec<Vec<Position>> = (1..=VEHICLES).map(|v| append_of(v, round)).collect();
        keys.extend(appends.iter().flatten().map(key));
        let results = futures::future::join_all(appends.iter().map(|a| store.append_points(a))).await;
        for r in results {
            assert_eq!(r.unwrap().inserted, POINTS_PER_APPEND as u64);
        }
    }
    keys
}

/// Reads the cursor until every key in `expected` has been seen, counting how often each was.
async fn read_until_seen(cursor: &mut Cursor, expected: &[Key], seen: &mut HashMap<Key, u32>) {
    let mut missing: HashSet<Key> = expected
        .iter()
        .filter(|k| !seen.contains_key(k))
        .copied()
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !missing.is_empty() {
        let item = tokio::time::timeout_at(deadline, cursor.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out with {} committed points not received", missing.len()))
            .expect("the store is open");
        for p in &item.points {
            missing.remove(&key(p));
            *seen.entry(key(p)).or_default() += 1;
        }
    }
}

async fn a_follower_misses_no_point(store: Store) {
    let mut cursor = store.follow();
    // Held back: half the burst commits while nobody reads.
    let mut expected = burst(&store, 0..ROUNDS / 2).await;
    assert!(cursor.behind(), "two batches of room cannot hold half the burst");
    // Then it reads while the rest commits.
    let mut seen = HashMap::new();
    let second = {
        let store = store.clone();
        tokio::spawn(async move { burst(&store, ROUNDS / 2..ROUNDS).await })
    };
    read_until_seen(&mut cursor, &expected, &mut seen).await;
    expected.extend(second.await.unwrap());
    read_until_seen(&mut cursor, &expected, &mut seen).await;
    assert_eq!(expected.len() as i64, VEHICLES * ROUNDS * POINTS_PER_APPEND);
    assert!(cursor.catch_ups() >= 1, "the follower caught up from the store");
    assert!(cursor.caught_up_points() > 0);
    let committed: HashSet<&Key> = expected.iter().collect();
    assert!(
        seen.keys().all(|k| committed.contains(k)),
        "nothing but committed points"
    );
}

async fn run(scratch: Scratch) {
    let store = Store::open_with(&scratch.url(), &config()).await.unwrap();
    a_follower_misses_no_point(store).await;
}

tianshu_e2e::on_both_backends!(a_follower_misses_no_point, run, "follow");

/// Points a follower's queue holds in `held_back`, far fewer than a round of the burst.
const HELD_POINTS: usize = 300;

async fn held_back(scratch: Scratch) {
    let config = StoreConfig {
        writer: WriterConfig {
            follower_capacity_points: HELD_POINTS,
            ..WriterConfig::default()
        },
        ..StoreConfig::default()
    };
    let store = Store::open_with(&scratch.url(), &config).await.unwrap();
    let mut cursor = store.follow();
    // Held back through the whole burst: the default room of 1,024 batches would hold all of it.
    let expected = burst(&store, 0..ROUNDS).await;
    assert!(
        cursor.queued_points() <= HELD_POINTS,
        "a held-back follower holds {} points, beyond its {HELD_POINTS}",
        cursor.queued_points()
    );
    assert!(cursor.behind(), "the rest waits to be read back from the store");
    let mut seen = HashMap::new();
    read_until_seen(&mut cursor, &expected, &mut seen).await;
    assert!(
        cursor.caught_up_points() > 0,
        "the follower caught up from the store"
    );
}

tianshu_e2e::on_both_backends!(
    a_held_back_follower_holds_at_most_its_points,
    held_back,
    "follow_held"
);

/// With room for one batch: once a batch is folded into the summary, a later one joins it even when the
/// queue has room again, so nothing newer overtakes what is behind; both are read back from the store.
async fn nothing_overtakes(scratch: Scratch) {
    let config = StoreConfig {
        writer: WriterConfig {
            fanout_capacity_batches: 1,
            ..WriterConfig::default()
        },
        ..StoreConfig::default()
    };
    let store = Store::open_with(&scratch.url(), &config).await.unwrap();
    let mut cursor = store.follow();
    let (queued, folded, later) = (append_of(1, 0), append_of(2, 0), append_of(3, 0));
    store.append_points(&queued).await.unwrap();
    store.append_points(&folded).await.unwrap();
    assert!(cursor.behind(), "the second batch did not fit");
    let first = cursor.recv().await.unwrap();
    assert!(!first.caught_up);
    assert_eq!(first.points, queued, "the queue is handed over first");
    store.append_points(&later).await.unwrap();
    assert_eq!(cursor.queued_points(), 0, "a batch behind a summary joins it");
    let expected: Vec<Key> = folded.iter().chain(&later).map(key).collect();
    let mut missing: HashSet<Key> = expected.iter().copied().collect();
    while !missing.is_empty() {
        let item = tokio::time::timeout(Duration::from_secs(120), cursor.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(item.caught_up, "read back from the store, not queued");
        for p in &item.points {
            missing.remove(&key(p));
        }
    }
}

tianshu_e2e::on_both_backends!(
    a_later_batch_never_overtakes_a_pending_summary,
    nothing_overtakes,
    "follow_order"
);

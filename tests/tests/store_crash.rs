//! Crash tests: a child process appends through the store API from several concurrent appenders and is
//! killed with SIGKILL right after an append resolves; on reopen, every acknowledged point is there.

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;

use futures::TryStreamExt;
use tianshu_e2e::Scratch;
use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::Store;
use tokio::io::{AsyncBufReadExt, BufReader};

const TASKS: u64 = 4;
const VEHICLES_PER_TASK: u64 = 25;

/// Runs the child until `kill_after` acknowledgements, SIGKILLs it, and returns every batch it
/// acknowledged (task -> batches), including any printed between the decision and the kill.
async fn run_and_kill(url: &str, kill_after: usize) -> BTreeMap<u64, Vec<u64>> {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_store_crash_child"))
        .args([url, &TASKS.to_string(), &VEHICLES_PER_TASK.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the crash child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut count = 0;
    let mut killed = false;
    while let Some(line) = lines.next_line().await.expect("reading the child's output") {
        if line == "ready" {
            continue;
        }
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next(), Some("acked"), "unexpected child output {line:?}");
        let task: u64 = parts.next().and_then(|s| s.parse().ok()).expect("task number");
        let batch: u64 = parts.next().and_then(|s| s.parse().ok()).expect("batch number");
        acked.entry(task).or_default().push(batch);
        count += 1;
        if count >= kill_after && !killed {
            // `start_kill` sends SIGKILL at once; lines already written are still read below.
            child.start_kill().expect("killing the child");
            killed = true;
        }
    }
    let status = child.wait().await.expect("waiting for the child");
    assert!(
        killed,
        "the child exited by itself ({status}) before {kill_after} acknowledgements"
    );
    assert!(!status.success(), "the child was killed, not finished: {status}");
    acked
}

async fn everything_acknowledged_survives(scratch: Scratch) {
    let url = scratch.url();
    // Migrate first so that the child starts appending at once.
    drop(Store::open(&url).await.expect("creating the store"));
    let acked = run_and_kill(&url, 60).await;
    assert!(acked.values().map(Vec::len).sum::<usize>() >= 60);

    let store = Store::open(&url).await.expect("reopening after the crash");
    for (task, batches) in &acked {
        for v in 0..VEHICLES_PER_TASK {
            let vehicle = VehicleId((task * 1_000 + v + 1) as i64);
            let stored: HashSet<i64> = store
                .track(vehicle, Timestamp(0), Timestamp(i64::MAX / 2))
                .await
                .expect("reading the track")
                .map_ok(|p| p.fix_time.secs())
                .try_collect()
                .await
                .expect("reading the track");
            for batch in batches {
                let secs = 1_795_737_600 + *batch as i64 * 10;
                assert!(
                    stored.contains(&secs),
                    "vehicle {vehicle}: acknowledged batch {batch} is missing after SIGKILL"
                );
            }
        }
    }
    // The store is usable after the crash: appends resume where they left off.
    let next = acked
        .get(&0)
        .and_then(|b| b.iter().max())
        .map_or(0, |b| b + 1_000);
    let p = tianshu_model::Position {
        vehicle: VehicleId(1),
        fix_time: Timestamp::from_secs(1_795_737_600 + next as i64 * 10),
        ..Default::default()
    };
    assert_eq!(
        store
            .append_points(&[p])
            .await
            .expect("appending after recovery")
            .inserted,
        1
    );
}

tianshu_e2e::on_both_backends!(
    keeps_every_acknowledged_point_across_sigkill,
    everything_acknowledged_survives,
    "crash"
);

/// Vehicles and days of the compaction crash test: enough vehicle-days that a compaction takes many
/// transactions, so that a kill lands between some of them.
const COMPACT_VEHICLES: i64 = 150;
const COMPACT_DAYS: i64 = 3;

/// Every vehicle's whole track, as keys in the order handed out.
async fn tracks_by_vehicle(store: &Store) -> Vec<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    for v in 1..=COMPACT_VEHICLES {
        let keys: Vec<(i64, i64)> = store
            .track(VehicleId(v), Timestamp(0), Timestamp(i64::MAX / 2))
            .await
            .expect("reading the track")
            .map_ok(|p| tianshu_model::block::track_key(&p))
            .try_collect()
            .await
            .expect("reading the track");
        out.push(keys);
    }
    out
}

async fn compaction_killed_loses_and_repeats_nothing(scratch: Scratch) {
    let url = scratch.url();
    let store = Store::open(&url).await.expect("creating the store");
    let first_day = tianshu_model::block::china_day(Timestamp::from_secs(1_795_737_600));
    let start = tianshu_model::block::china_day_start(first_day).secs();
    // A point every 20 minutes over three China days, for every vehicle.
    let points: Vec<tianshu_model::Position> = (1..=COMPACT_VEHICLES)
        .flat_map(|v| {
            (0..COMPACT_DAYS * 72).map(move |i| tianshu_e2e::point(v, start - 1_795_737_600 + i * 1_200))
        })
        .collect();
    store.append_points(&points).await.expect("storing the tracks");
    let expected = tracks_by_vehicle(&store).await;
    assert!(expected.iter().all(|t| t.len() == (COMPACT_DAYS * 72) as usize));
    store.close().await.expect("closing");
    drop(store);

    // `tianshu store compact` killed at several moments; after each, every point is there once.
    let mut partial = 0;
    for delay_ms in [50, 150, 300, 600, 1_000] {
        let mut child = tokio::process::Command::new(tianshu_e2e::tianshu_bin())
            .args(["store", "compact", "--store", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting tianshu store compact");
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        child.start_kill().expect("killing the compaction");
        child.wait().await.expect("waiting for the compaction");
        let store = Store::open(&url).await.expect("reopening after the kill");
        assert_eq!(
            tracks_by_vehicle(&store).await,
            expected,
            "after a kill at {delay_ms} ms, every point is there once, in order"
        );
        let layers = store.layer_stats().await.expect("layer stats");
        let points_of = |name: &str| layers.iter().find(|l| l.layer == name).map_or(0, |l| l.points);
        if points_of("rows") > 0 && points_of("blocks") > 0 {
            partial += 1;
        }
        assert_eq!(points_of("rows") + points_of("blocks"), points.len() as u64);
        store.close().await.expect("closing");
    }
    eprintln!("{partial} of the kills left a compaction half done");
    // Finished now, the tracks are the same, and a second run has nothing to do.
    let store = Store::open(&url).await.expect("reopening");
    store
        .compact_blocks(first_day + COMPACT_DAYS)
        .await
        .expect("compacting");
    assert_eq!(tracks_by_vehicle(&store).await, expected);
    let again = store
        .compact_blocks(first_day + COMPACT_DAYS)
        .await
        .expect("compacting again");
    assert_eq!(again, tianshu_store::CompactSummary::default());
    assert!(store.damaged_blocks().await.expect("checking blocks").is_empty());
}

tianshu_e2e::on_both_backends!(
    a_killed_compaction_loses_and_repeats_nothing,
    compaction_killed_loses_and_repeats_nothing,
    "compact_crash"
);

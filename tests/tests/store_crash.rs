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

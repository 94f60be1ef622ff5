//! A child process for the store crash tests: appends batches forever from several concurrent
//! appenders and prints `acked TASK BATCH` the moment each append resolves, so that the parent can
//! SIGKILL it right after an acknowledgement and check that everything acknowledged survived.
//!
//! Usage: `store_crash_child STORE_URL TASKS VEHICLES_PER_TASK`

use std::io::Write;

use tianshu_model::{Phone, Position, Timestamp, VehicleId};
use tianshu_store::Store;

/// Fix time of batch `batch`: 10 s apart from 2026-11-27T00:00:00Z.
fn fix_time(batch: u64) -> Timestamp {
    Timestamp::from_secs(1_795_737_600 + batch as i64 * 10)
}

fn batch_points(task: u64, vehicles: u64, batch: u64) -> Vec<Position> {
    (0..vehicles)
        .map(|v| {
            let vehicle = (task * 1_000 + v + 1) as i64;
            Position {
                vehicle: VehicleId(vehicle),
                phone: Phone(13_900_000_000 + vehicle as u128),
                fix_time: fix_time(batch),
                recv_time: fix_time(batch),
                lat_e6: 30_000_000 + batch as i32,
                lon_e6: 115_000_000 + vehicle as i32,
                speed_dkmh: 300,
                ..Default::default()
            }
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(tasks), Some(vehicles)) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
        args.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: store_crash_child STORE_URL TASKS VEHICLES_PER_TASK");
        return std::process::ExitCode::FAILURE;
    };
    let store = match Store::open(url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("opening {url}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("ready");
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for batch in 0.. {
                match store
                    .append_points_owned(batch_points(task, vehicles, batch))
                    .await
                {
                    Ok(_) => {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "acked {task} {batch}");
                        let _ = out.flush();
                    }
                    Err(e) => eprintln!("append {task} {batch} failed: {e}"),
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    std::process::ExitCode::SUCCESS
}

//! A measuring soak of the embedded store under the real `tianshu serve` (ignored: it measures, it does not
//! judge). Terminals report `SOAK_POINTS` points (default 100,000) over JT/T 808, one 0x0200 per point, each
//! keeping a window of reports unanswered; then the test waits for the rules to have taken every point,
//! stops the server with SIGTERM and prints what the server process held: resident memory at start, at its
//! peak, once ingest ended and once the rules caught up; the WAL's largest size seen during the run and its
//! size after the clean stop; the database's size.
//!
//! `SOAK_POINTS=1000000 cargo nextest run -p tianshu-e2e --test store_soak --run-ignored only --no-capture`
//! (`SOAK_TERMINALS` sets the number of terminals, default 50 (at most 1,024: they share one address);
//! `SOAK_WINDOW` the reports each keeps unanswered, default 64; `SOAK_CONFIG` adds lines to the server's
//! configuration file, e.g. `SOAK_CONFIG=$'[store.embedded]\nwriter_cache_kib = 8192'`.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tianshu_e2e::gateway::{Terminal, phone, point, provision};
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, wait_watermark};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of `/proc/PID/status` in KiB (`VmRSS:`, `VmHWM:`).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The size of `path` in bytes; `None` when it does not exist.
fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// Samples the server's resident memory and the WAL's size until stopped; keeps the largest of each.
struct Sampler {
    stop: Arc<AtomicBool>,
    wal_max: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(wal: PathBuf) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let wal_max = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, wal_max) = (stop.clone(), wal_max.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    wal_max.fetch_max(file_size(&wal).unwrap_or(0), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Sampler {
            stop,
            wal_max,
            thread,
        }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.wal_max.load(Ordering::Relaxed)
    }
}

/// Terminal `i` reports `n` points, `window` at a time, each window answered before the next.
async fn report(jt808: std::net::SocketAddr, i: u32, n: u64, window: usize) {
    let mut t = Terminal::connect(jt808, phone(i))
        .await
        .expect("connecting a terminal");
    t.login(i).await;
    let mut sent = 0u64;
    while sent < n {
        let mut serials = Vec::with_capacity(window);
        while serials.len() < window && sent < n {
            serials.push(t.report(&point(i, sent as i64)).await);
            sent += 1;
        }
        for s in serials {
            assert_eq!(
                t.ack_of(s, Duration::from_secs(120)).await,
                Some(0),
                "terminal {i}: a report was not acknowledged"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures memory and the WAL under load; run on demand"]
async fn soak_the_embedded_store() {
    let total = env_or("SOAK_POINTS", 100_000);
    let terminals = env_or("SOAK_TERMINALS", 50).max(1) as u32;
    let window = env_or("SOAK_WINDOW", 64).max(1) as usize;
    let per_terminal = total.div_ceil(u64::from(terminals));
    let total = per_terminal * u64::from(terminals);

    let scratch = Scratch::embedded("soak");
    let url = scratch.url();
    let db = PathBuf::from(url.strip_prefix("sqlite:").unwrap_or(&url));
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    provision(&url, terminals).await;
    let dir = ScratchDir::new("soak");
    let config = format!(
        "[jt808]\nheartbeat_interval_secs = 600\n{}\n",
        std::env::var("SOAK_CONFIG").unwrap_or_default()
    );
    let mut server = Tianshu::start(&url, &config, &[], dir.path());
    let pid = server.child.id();
    let rss_start = status_kib(pid, "VmRSS:");
    let sampler = Sampler::start(wal.clone());

    let started = Instant::now();
    let tasks: Vec<_> = (0..terminals)
        .map(|i| tokio::spawn(report(server.jt808, i, per_terminal, window)))
        .collect();
    for t in tasks {
        t.await.expect("a terminal task");
    }
    let ingest = started.elapsed();
    let rss_ingested = status_kib(pid, "VmRSS:");
    // The rules follow every committed point; memory held for them is measured once they took the last.
    let evaluated = || async {
        server.metric("tianshu_alerts_points_evaluated_total", "").await
            + server.metric("tianshu_alerts_points_repeated_total", "").await
    };
    wait_watermark(
        "the rules to take every point",
        Duration::from_secs(3_600),
        total as f64,
        evaluated,
    )
    .await;
    let caught_up = started.elapsed();
    let rss_caught_up = status_kib(pid, "VmRSS:");
    let hwm = status_kib(pid, "VmHWM:");
    let wal_running = file_size(&wal);
    let catch_ups = server.metric("tianshu_store_follow_catch_ups_total", "").await;
    let deferred = server
        .metric("tianshu_store_follow_deferred_points_total", "")
        .await;

    let status = server.terminate();
    let wal_max = sampler.finish();
    assert!(status.success(), "tianshu serve stopped cleanly: {status}");
    let wal_after = file_size(&wal);
    let db_size = file_size(&db).unwrap_or(0);

    let show = |s: Option<u64>| s.map_or("absent".to_string(), |b| format!("{:.1} MiB", mib(b)));
    println!(
        "soak: {total} points from {terminals} terminals in {:.1} s ({:.0} points/s acknowledged); \
         the rules caught up at {:.1} s ({catch_ups} catch-ups from the store, {deferred} points read back)",
        ingest.as_secs_f64(),
        total as f64 / ingest.as_secs_f64(),
        caught_up.as_secs_f64()
    );
    println!(
        "soak: server RSS at start {:.1} MiB, peak (VmHWM) {:.1} MiB, after ingest {:.1} MiB, \
         after the rules caught up {:.1} MiB",
        rss_start as f64 / 1024.0,
        hwm as f64 / 1024.0,
        rss_ingested as f64 / 1024.0,
        rss_caught_up as f64 / 1024.0
    );
    println!(
        "soak: WAL largest during the run {:.1} MiB, before the stop {}, after SIGTERM {}; database {:.1} MiB",
        mib(wal_max),
        show(wal_running),
        show(wal_after),
        mib(db_size)
    );
}

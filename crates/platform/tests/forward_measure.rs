//! A measurement, not a check (ignored): Tianshu as a lower platform forwarding committed points to an
//! upper platform over loopback, end to end: the store's reads, the messages, the encoding and the socket.
//! The forwarding runs alone on a thread of its own (its runtime, its store pool), so that thread's CPU
//! time is the forwarding's cost; the upper platform, written with the codec, counts the positions on
//! another thread.
//!
//! `FORWARD_CARS` cars (default 100) with `FORWARD_POINTS` points each (default 5,000), received just before
//! the link comes up, on PostgreSQL:
//! `cargo test --release -p tianshu-platform --test forward_measure -- --ignored --nocapture`.
//!
//! `catch_up_cost`: a link back from an outage of `CATCHUP_HOURS` (default 6) catching up window by window
//! (`catch_up_window_secs`, default 600 s) what `CATCHUP_CARS` cars (default 700) sent meanwhile, a point
//! every 10 s each, received as they were sent; `CATCHUP_STORE=embedded` for the embedded store:
//! `CATCHUP_STORE=embedded cargo test --release -p tianshu-platform --test forward_measure catch_up -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::{accept, answer, upper_at};

use tianshu_jt809::Message;
use tianshu_platform::UpperPlatform;
use tianshu_platform::lower::forward;
use tianshu_store::Store;
use tianshu_testkit::{Fix, Scratch, drive, import_cars, vehicle_of};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This thread's CPU time (user and system), from `/proc/thread-self/stat`, in seconds.
fn thread_cpu_secs() -> f64 {
    stat_cpu_secs("/proc/thread-self/stat").map_or(0.0, |(_, cpu)| cpu)
}

/// The command name and CPU time (user and system, in seconds) of a `/proc/.../stat` file.
fn stat_cpu_secs(path: impl AsRef<std::path::Path>) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let name = head.split_once('(').map_or("", |(_, n)| n).to_string();
    Some((name, (ticks(11) + ticks(12)) / 100.0))
}

/// Runs `lower::forward` alone on a thread of its own, with its own current-thread runtime and store pool
/// (opened there, so that the pool's connections run on that thread too), until `stop`; the thread's CPU
/// seconds from `mark` on (from the start without one).
fn forward_alone(
    url: String,
    upper: UpperPlatform,
    stop: CancellationToken,
    mark: Option<tokio::sync::oneshot::Receiver<()>>,
) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let store = Store::open(&url).await.expect("opening the store");
            let forwarding = tokio::spawn(forward(upper, store, stop));
            if let Some(mark) = mark {
                let _ = mark.await;
            }
            // A current-thread runtime: the forwarding and this read share the thread.
            let cpu = thread_cpu_secs();
            let _ = forwarding.await;
            thread_cpu_secs() - cpu
        })
    })
}

/// `cars` cars of unit "City" in `store`, their plates.
async fn city_cars(store: &Store, cars: usize) -> Vec<String> {
    let plates: Vec<String> = (0..cars).map(|i| format!("鄂A{i:05}")).collect();
    let registry: Vec<(&str, u128)> = plates
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), 13_900_000_000 + i as u128))
        .collect();
    import_cars(store, "City", &registry).await;
    plates
}

/// A scratch store (the embedded one when the environment variable `choice` is `embedded`, else
/// PostgreSQL) named `name`, its URL, the store opened, and `cars` cars of unit "City" in it.
async fn city_store(choice: &str, name: &str, cars: usize) -> (Scratch, String, Store, Vec<String>) {
    let scratch = match std::env::var(choice).as_deref() {
        Ok("embedded") => Scratch::embedded(name),
        _ => Scratch::postgres(name).await,
    };
    let url = scratch.url();
    let store = Store::open(&url).await.expect("opening the store");
    let plates = city_cars(&store, cars).await;
    (scratch, url, store, plates)
}

/// The upper platform "province" listening on `listener`, with a minute for its answers.
fn province(listener: &TcpListener) -> UpperPlatform {
    UpperPlatform {
        answer_timeout_secs: 60,
        ..upper_at(listener, "province")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn forwarding_to_one_upper_platform() {
    let (cars, each) = (env("FORWARD_CARS", 100), env("FORWARD_POINTS", 5_000));
    let total = cars * each;
    let scratch = Scratch::postgres("forward_measure").await;
    let url = scratch.url();
    let store = Store::open(&url).await.expect("opening the store");
    let plates = city_cars(&store, cars).await;
    for plate in &plates {
        drive(&store, plate, each as i64 + 60, each as i64, 1).await;
    }
    store.close().await.expect("closing");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let upper = UpperPlatform {
        poll_ms: 50,
        ..province(&listener)
    };
    let stop = CancellationToken::new();
    let forwarder = forward_alone(url, upper, stop.clone(), None);

    let mut link = accept(&listener).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let mut received = 0;
    let mut started = None;
    while received < total {
        let message = link.next(deadline).await.expect("a message");
        if matches!(message, Message::Login(_)) {
            started = Some(Instant::now());
        }
        received += answer(&mut link, message).await;
    }
    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
    stop.cancel();
    let cpu = forwarder.join().expect("the forwarding thread");
    println!(
        "forwarding: {total} positions of {cars} cars in {:.2} s from the login to the last: {:.0} positions/s; \
         the forwarding thread's CPU {:.2} s in all (login and the store's reads included): {:.2} µs a position",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64().max(1e-9),
        cpu,
        cpu * 1e6 / total as f64
    );
}

/// This process's CPU time (user and system, every thread), in seconds.
fn process_cpu_secs() -> f64 {
    stat_cpu_secs("/proc/self/stat").map_or(0.0, |(_, cpu)| cpu)
}

/// The CPU time, in seconds, of every PostgreSQL server process on this machine (user and system).
fn postgres_cpu_secs() -> f64 {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| stat_cpu_secs(entry.path().join("stat")))
        .filter(|(name, _)| name.starts_with("postgres"))
        .map(|(_, cpu)| cpu)
        .sum()
}

/// What an idle link costs: `IDLE_CARS` cars (default 700) with a week of points each (`IDLE_POINTS`,
/// default 4,200: a car of the demo fleet), all forwarded first; then `IDLE_SECS` seconds (default 20)
/// with nothing new, polled every second as configured by default. Prints the forwarding thread's CPU
/// and PostgreSQL's (every server process on the machine: run it alone) per second of idling. On
/// PostgreSQL, or on the embedded store with `IDLE_STORE=embedded` (its reads are on the forwarding
/// thread). `cargo test --release -p tianshu-platform --test forward_measure idle -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn idle_link_cost() {
    let (cars, each, idle) = (
        env("IDLE_CARS", 700),
        env("IDLE_POINTS", 4_200),
        env("IDLE_SECS", 20),
    );
    let total = cars * each;
    let (_scratch, url, store, plates) = city_store("IDLE_STORE", "forward_idle", cars).await;
    let step = (7 * 86_400 / each.max(1)) as i64;
    for plate in &plates {
        drive(&store, plate, 7 * 86_400, each as i64, step).await;
    }
    // As `tianshu serve` keeps a store: the days before yesterday packed into blocks.
    let packed = store
        .compact_blocks_at(tianshu_model::Timestamp::now())
        .await
        .expect("packing");
    println!("packed: {packed:?}");
    store.close().await.expect("closing");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let upper = province(&listener);
    let stop = CancellationToken::new();
    let (mark_tx, mark_rx) = tokio::sync::oneshot::channel::<()>();
    let mut mark_tx = Some(mark_tx);
    let forwarder = forward_alone(url, upper, stop.clone(), Some(mark_rx));

    let mut link = accept(&listener).await;
    let mut received = 0;
    let mut idle_from: Option<Instant> = None;
    let (mut pg_cpu, mut process_cpu) = (0.0, 0.0);
    loop {
        // The first link reads the week at once: give it time; idle, wake up every 5 s.
        let wait = if idle_from.is_some() { 5 } else { 120 };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        let message = match link.next(deadline).await {
            Ok(m) => m,
            Err(_) if idle_from.is_some_and(|t| t.elapsed() >= Duration::from_secs(idle as u64)) => break,
            Err(_) if idle_from.is_some() => continue,
            Err(e) => panic!("the link: {e}"),
        };
        received += answer(&mut link, message).await;
        if received >= total && idle_from.is_none() {
            // Everything is up; from the next poll on the link idles.
            tokio::time::sleep(Duration::from_secs(3)).await;
            if let Some(tx) = mark_tx.take() {
                let _ = tx.send(());
            }
            pg_cpu = postgres_cpu_secs();
            process_cpu = process_cpu_secs();
            idle_from = Some(Instant::now());
        }
        if idle_from.is_some_and(|t| t.elapsed() >= Duration::from_secs(idle as u64)) {
            break;
        }
    }
    let seconds = idle_from.map_or(1.0, |t| t.elapsed().as_secs_f64());
    let pg = postgres_cpu_secs() - pg_cpu;
    let process = process_cpu_secs() - process_cpu;
    stop.cancel();
    let cpu = forwarder.join().expect("the forwarding thread");
    println!(
        "idle link, {cars} cars with {each} points each over the last week: over {seconds:.1} s, the forwarding \
         thread's CPU {:.1} ms/s, this process's (the embedded store's reads included) {:.1} ms/s, \
         PostgreSQL's {:.1} ms/s",
        cpu * 1e3 / seconds,
        process * 1e3 / seconds,
        pg * 1e3 / seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn catch_up_cost() {
    let (cars, hours) = (env("CATCHUP_CARS", 700), env("CATCHUP_HOURS", 6) as i64);
    let (_scratch, url, store, plates) = city_store("CATCHUP_STORE", "forward_catch_up", cars).await;
    let now = tianshu_model::Timestamp::now().secs();
    let start = now - hours * 3_600;
    let each = hours * 360;
    for plate in &plates {
        let vehicle = vehicle_of(&store, plate).await;
        let points: Vec<tianshu_model::Position> = (0..each)
            .map(|i| {
                let at = start + 5 + i * 10;
                let mut p = Fix::at(at)
                    .at_e6(30_500_000 + i as i32 * 100, 114_300_000 + vehicle.0 as i32)
                    .heading(400, 90)
                    .build();
                p.vehicle = vehicle;
                p.recv_time = tianshu_model::Timestamp::from_secs(at + 1);
                p
            })
            .collect();
        store.append_points(&points).await.expect("appending");
    }
    // The link was last up `hours` ago: its saved position is then.
    store
        .forwarding()
        .save(
            "province",
            tianshu_model::Timestamp::from_secs(start),
            tianshu_model::Timestamp::from_secs(start),
        )
        .await
        .expect("saving the position");
    store.close().await.expect("closing");
    let total = cars * each as usize;

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let upper = province(&listener);
    let stop = CancellationToken::new();
    let (pg_cpu, process_cpu) = (postgres_cpu_secs(), process_cpu_secs());
    let forwarder = forward_alone(url, upper, stop.clone(), None);
    let mut link = accept(&listener).await;
    let began = Instant::now();
    let mut received = 0;
    while received < total {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        let message = link.next(deadline).await.expect("the link");
        received += answer(&mut link, message).await;
    }
    let seconds = began.elapsed().as_secs_f64();
    let (pg, process) = (postgres_cpu_secs() - pg_cpu, process_cpu_secs() - process_cpu);
    stop.cancel();
    let cpu = forwarder.join().expect("the forwarding thread");
    println!(
        "catch-up of {hours} h, {cars} cars, {total} points: all up in {seconds:.1} s; the forwarding thread's \
         CPU {cpu:.1} s, this process's (the embedded store's reads included) {process:.1} s, PostgreSQL's {pg:.1} s"
    );
}

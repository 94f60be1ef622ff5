//! Load generator for the gateway figures in BENCHMARKS.md ("Gateway").
//!
//! The gateway runs in a child process (`ingest_load serve ...`) so its CPU time and memory are measured
//! apart from the load generator, which shares the same machine:
//!
//! - `ingest_load ack [--connections 1000] [--window 16] [--secs 20]`: the acknowledgement path on loopback
//!   with a store stand-in that is durable at once; prints acknowledged frames/s and server CPU µs per frame.
//! - `ingest_load e2e --store postgres://... [--terminals 10000] [--rate 50000] [--secs 300]`: 0x0200 reports
//!   at a fixed total rate, acknowledged after durable commit; prints points/s and receive-to-ack latency.
//!   `--publish mqtt://HOST:PORT` also publishes every committed position to that broker (QoS 0, as
//!   `tianshu serve` does with `[mqtt.publish] positions = true`), to compare ingest with publishing on and off.
//!   `--bus nats://HOST:PORT` goes through NATS JetStream instead: the server process publishes the points
//!   (acknowledged after the stream's PubAck) and runs a writer that commits them, as `tianshu serve --roles
//!   gateway,writer` does. `--replicas N` (default 1) makes its streams N-fold replicated, for a cluster;
//!   `--flush-ms MS` sets how long the gateway gathers points before publishing (`[bus] flush_ms`).
//! - `ingest_load idle [--connections 10000] [--step 5000] [--pre-auth] [--served PATH]`: idle connections
//!   (authenticated, or connected only), opened in steps; prints the server's resident memory per connection
//!   between steps and on average. `--served` measures a `tianshu serve` binary, log subscriber included.
//! - `ingest_load storm --store URL [--terminals 10000] [--procs 2]`: a reconnect storm into the real store:
//!   every terminal connects at once, registers (0x0100) and authenticates (0x0102) with the code it got;
//!   prints the seconds from the first connect to the last 0x8001 answering an authentication.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tianshu_ingest::{DurableAtOnce, Gateway, GatewayConfig, PointSink, StoreSink};
use tianshu_jt808::{
    Authenticate, BasicLocation, FrameDecoder, GeneralAck, Header, Items, LocationReport, Message, Text,
    encode_message,
};
use tianshu_model::{Edition, Phone, Position, StatusFlags, Timestamp, VehicleClass};
use tianshu_store::{RegistryRecord, Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

mod idle;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arg_str(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn phone(i: u32) -> Phone {
    Phone(15_000_000_000 + u128::from(i))
}

fn code(i: u32) -> String {
    format!("{:032X}", 0xB0_0000u64 + u64::from(i))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args),
        Some("ack") => ack(&args),
        Some("e2e") => e2e(&args),
        Some("idle") => idle::idle(&args),
        Some("idle-client") => idle::client(&args),
        Some("storm") => storm(&args),
        Some("storm-client") => storm_client(&args),
        _ => {
            eprintln!("usage: ingest_load ack|e2e|idle|storm [options] (see the source's module docs)");
            std::process::exit(2);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The server side.

/// `serve --store URL --terminals N --sink durable|store [--threads T]`: provisions N terminals with known
/// codes, starts the gateway, prints `listening ADDR`, and runs until standard input closes.
fn serve(args: &[String]) -> Result<()> {
    let store_url = arg_str(args, "--store").ok_or("--store URL is required")?;
    let terminals: u32 = arg(args, "--terminals", 1000);
    let durable_at_once = arg_str(args, "--sink").as_deref() != Some("store");
    let threads: usize = arg(args, "--threads", 2);
    let publish_url = arg_str(args, "--publish");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut store_config = StoreConfig::default();
        let w = &mut store_config.writer;
        w.max_batch_points = arg(args, "--batch-points", w.max_batch_points);
        w.max_batch_delay_ms = arg(args, "--batch-delay-ms", w.max_batch_delay_ms);
        w.max_commits_in_flight = arg(args, "--commits-in-flight", w.max_commits_in_flight);
        let pg = &mut store_config.postgres;
        pg.pool_size = arg(args, "--pool", pg.pool_size);
        let store = Store::open_with(&store_url, &store_config).await?;
        provision(&store, terminals).await?;
        if !durable_at_once {
            tokio::spawn(writer_stats());
        }
        let publisher = match publish_url {
            Some(url) => {
                let mut mqtt = tianshu_mqtt::MqttConfig {
                    url,
                    client_id: format!("ingest-load-{}", std::process::id()),
                    ..tianshu_mqtt::MqttConfig::default()
                };
                mqtt.publish.positions = true;
                Some(tianshu_mqtt::Publisher::spawn(&mqtt, None, store.clone())?)
            }
            None => None,
        };
        let config = GatewayConfig {
            max_connections: 19_900,
            max_connections_per_ip: 20_000,
            max_unauthenticated: 20_000,
            heartbeat_interval_secs: 3_600,
            pre_auth_timeout_secs: 600,
            ..GatewayConfig::default()
        };
        let sink: Arc<dyn PointSink> = match (durable_at_once, arg_str(args, "--bus")) {
            (true, _) => Arc::new(DurableAtOnce::default()),
            (false, None) => Arc::new(StoreSink(store.clone())),
            (false, Some(servers)) => {
                let servers = tianshu_bus::BusConfig::servers_from_flag(&servers);
                let replicas = arg_str(args, "--replicas").map_or(Ok(1), |r| r.parse())?;
                let defaults = tianshu_bus::BusConfig::default();
                let flush_ms = arg_str(args, "--flush-ms").map_or(Ok(defaults.flush_ms), |r| r.parse())?;
                let bus = tianshu_bus::Bus::connect(&tianshu_bus::BusConfig {
                    servers,
                    replicas,
                    flush_ms,
                    ..defaults
                })
                .await?;
                tokio::spawn(tianshu_bus::writer::run(
                    bus.clone(),
                    store.clone(),
                    std::future::pending(),
                ));
                Arc::new(tianshu_bus::publish::BusSink::spawn(&bus))
            }
        };
        let gateway = Gateway::new(config, store, sink);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("listening {}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            stop.cancel();
        });
        tianshu_ingest::run(listener, gateway, shutdown).await;
        if let Some(p) = publisher {
            let m = &tianshu_mqtt::metrics::METRICS;
            eprintln!(
                "server: {} positions published, {} dropped (publishing queue full)",
                m.published.with_label_values(&["position"]).get(),
                m.publish_dropped.with_label_values(&["position"]).get()
            );
            p.shutdown();
        }
        let h = &tianshu_ingest::metrics::METRICS.ack_latency_seconds;
        eprintln!(
            "server: {} acknowledged batches, mean receive-to-ack {:.2} ms",
            h.get_sample_count(),
            1000.0 * h.get_sample_sum() / (h.get_sample_count().max(1) as f64)
        );
        let lag = &tianshu_bus::metrics::METRICS.commit_lag_seconds;
        if lag.get_sample_count() > 0 {
            let ms = |q| bucket_quantile(lag, q).map_or("over the last bucket".into(), |s| format!("<= {:.0} ms", s * 1e3));
            eprintln!(
                "server: commit lag (PubAck to committed) over {} messages: mean {:.1} ms, p50 {}, p99 {}, p99.9 {} (bucket bounds)",
                lag.get_sample_count(),
                1000.0 * lag.get_sample_sum() / lag.get_sample_count() as f64,
                ms(0.5),
                ms(0.99),
                ms(0.999)
            );
        }
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })
}

/// The upper bound of the bucket holding quantile `q` of `h`; `None` past its last bucket.
fn bucket_quantile(h: &prometheus::Histogram, q: f64) -> Option<f64> {
    use prometheus::core::Collector;
    let families = h.collect();
    let histogram = families.first()?.get_metric().first()?.get_histogram();
    let wanted = (q * histogram.get_sample_count() as f64).ceil() as u64;
    histogram
        .get_bucket()
        .iter()
        .find(|b| b.cumulative_count() >= wanted)
        .map(|b| b.upper_bound())
}

/// Every 10 s, the store writer's commits over the last 10 s (from its Prometheus metrics) on standard
/// error: how many, their mean size and duration, and the points waiting for the writer.
async fn writer_stats() {
    fn histogram(families: &[prometheus::proto::MetricFamily], name: &str) -> (u64, f64) {
        families
            .iter()
            .find(|f| f.name() == name)
            .and_then(|f| f.get_metric().first())
            .map(|m| {
                (
                    m.get_histogram().get_sample_count(),
                    m.get_histogram().get_sample_sum(),
                )
            })
            .unwrap_or_default()
    }
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    let (mut commits, mut points, mut seconds) = (0, 0.0, 0.0);
    loop {
        tick.tick().await;
        let families = prometheus::gather();
        let (n, sum_points) = histogram(&families, "tianshu_store_batch_points");
        let (_, sum_seconds) = histogram(&families, "tianshu_store_commit_seconds");
        let queue = families
            .iter()
            .find(|f| f.name() == "tianshu_store_queue_points")
            .and_then(|f| f.get_metric().first())
            .map(|m| m.get_gauge().get_value())
            .unwrap_or_default();
        let d = (n - commits).max(1) as f64;
        eprintln!(
            "server: last 10 s: {} commits, mean {:.0} points, mean commit {:.1} ms; {queue} points queued",
            n - commits,
            (sum_points - points) / d,
            1000.0 * (sum_seconds - seconds) / d,
        );
        (commits, points, seconds) = (n, sum_points, sum_seconds);
    }
}

async fn provision(store: &Store, n: u32) -> Result<()> {
    let have = store.terminals().await?;
    let registered = have.iter().filter(|t| t.auth_code_hash.is_some()).count();
    if registered >= n as usize {
        return Ok(());
    }
    let records: Vec<RegistryRecord> = (0..n)
        .map(|i| RegistryRecord {
            unit: "压测单位".to_string(),
            plate: format!("鄂L{i:05}"),
            phone: phone(i),
            terminal_id: format!("L{i:06}"),
            vehicle_class: VehicleClass::General,
            marking: None,
        })
        .collect();
    for chunk in records.chunks(5_000) {
        store.import_registry(chunk).await?;
    }
    for i in 0..n {
        let hash = tianshu_ingest::auth::hash_code(code(i).as_bytes());
        store
            .save_registration(phone(i), Edition::V2013, &hash, None)
            .await?;
    }
    Ok(())
}

/// Starts the gateway child; returns it and its address.
fn spawn_server(
    store_url: &str,
    terminals: u32,
    sink: &str,
    publish: Option<&str>,
    tuning: &[String],
) -> Result<(Child, SocketAddr)> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.args([
        "serve",
        "--store",
        store_url,
        "--terminals",
        &terminals.to_string(),
        "--sink",
        sink,
    ]);
    if let Some(url) = publish {
        command.args(["--publish", url]);
    }
    command.args(tuning);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .ok_or("server did not start")?
        .parse()?;
    Ok((child, addr))
}

/// The store-writer flags of `e2e` (`--batch-points`, `--batch-delay-ms`, `--commits-in-flight`, `--pool`),
/// passed on to the server; the store's defaults apply to those not given.
fn writer_tuning(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in [
        "--batch-points",
        "--batch-delay-ms",
        "--commits-in-flight",
        "--pool",
        "--bus",
        "--replicas",
        "--flush-ms",
    ] {
        if let Some(v) = arg_str(args, name) {
            out.extend([name.to_string(), v]);
        }
    }
    out
}

fn stop_server(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of /proc/pid/stat; here 0-based after the state field (field 3).
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn scratch_store(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tianshu-bench-{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    format!("sqlite:{}", dir.join("tianshu.db").display())
}

// ---------------------------------------------------------------------------------------------------------
// Terminals.

/// The first report's fix time: when the load generator started. Reports are dated from then on, as a
/// live fleet's are; a fixed date would turn into a past day as the calendar moves, and a past day's
/// points take the store's backfill path (blocks checked first, then a staging insert), about half the
/// live rate on PostgreSQL.
fn first_fix_secs() -> i64 {
    static FIRST: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *FIRST.get_or_init(|| Timestamp::now().0 / 1000)
}

fn report_frame(i: u32, serial: u16, n: u64, out: &mut BytesMut) {
    let p = Position {
        fix_time: Timestamp::from_secs(first_fix_secs() + (n / 4) as i64),
        lat_e6: 30_200_000 + (n % 4) as i32 * 7 + (i as i32 % 1000) * 100,
        lon_e6: 115_040_000 + (n % 100_000) as i32,
        speed_dkmh: 400,
        status: StatusFlags(StatusFlags::ACC_ON | StatusFlags::FIXED),
        ..Position::default()
    };
    let report = LocationReport {
        basic: BasicLocation::from_bytes(&p.basic_block()),
        items: Items::default(),
    };
    let header = Header::new(0x0200, phone(i), serial, Edition::V2013);
    let _ = encode_message(&header, &Message::Location(report), out);
}

async fn authenticate(stream: &mut TcpStream, i: u32) -> Result<()> {
    authenticate_with(stream, i, code(i).as_bytes()).await
}

/// Counts 0x8001 frames in `buf` (whole frames only) and returns them, with the serials they answer.
fn take_acks(decoder: &mut FrameDecoder, buf: &mut BytesMut, answered: &mut Vec<u16>) -> usize {
    let mut n = 0;
    while let Ok(Some(f)) = decoder.decode(buf) {
        if let Ok(Message::PlatformAck(a)) = f.message() {
            answered.push(a.reply_serial);
            n += 1;
        }
    }
    n
}

// ---------------------------------------------------------------------------------------------------------
// ack: throughput of the acknowledgement path.

fn ack(args: &[String]) -> Result<()> {
    let connections: u32 = arg(args, "--connections", 1000);
    let window: usize = arg(args, "--window", 16);
    let secs: u64 = arg(args, "--secs", 20);
    let threads: usize = arg(args, "--client-threads", 2);
    let store_url = scratch_store("ack");
    let (child, addr) = spawn_server(&store_url, connections, "durable", None, &[])?;
    let pid = child.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let acked = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..connections {
            let acked = acked.clone();
            let stop = stop.clone();
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            authenticate(&mut stream, i).await?;
            tasks.push(tokio::spawn(async move {
                let mut frames = Vec::with_capacity(64);
                for k in 0..64u16 {
                    let mut b = BytesMut::new();
                    report_frame(i, k + 1, u64::from(k), &mut b);
                    frames.push(b.freeze());
                }
                let mut decoder = FrameDecoder::default();
                let mut buf = BytesMut::with_capacity(8192);
                let mut answered = Vec::new();
                let mut in_flight = 0usize;
                let mut k = 0usize;
                while !stop.is_cancelled() {
                    while in_flight < window {
                        // One frame per write, as terminals send them.
                        if stream.write_all(&frames[k % frames.len()]).await.is_err() {
                            return;
                        }
                        k += 1;
                        in_flight += 1;
                    }
                    match stream.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    answered.clear();
                    let n = take_acks(&mut decoder, &mut buf, &mut answered);
                    in_flight = in_flight.saturating_sub(n);
                    acked.fetch_add(n as u64, Ordering::Relaxed);
                }
            }));
        }
        eprintln!("{connections} connections authenticated; warming up");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (a0, c0, t0) = (acked.load(Ordering::Relaxed), cpu_secs(pid), Instant::now());
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let (a1, c1, elapsed) = (acked.load(Ordering::Relaxed), cpu_secs(pid), t0.elapsed());
        stop.cancel();
        let frames = (a1 - a0) as f64;
        let rate = frames / elapsed.as_secs_f64();
        let cpu_us = (c1 - c0) * 1e6 / frames.max(1.0);
        println!(
            "ack path: {connections} connections, window {window}, {secs} s: {rate:.0} frames/s acknowledged, \
             server CPU {cpu_us:.2} µs/frame ({:.0}% of a core)",
            100.0 * (c1 - c0) / elapsed.as_secs_f64()
        );
        for t in tasks {
            t.abort();
        }
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })?;
    drop(runtime);
    stop_server(child);
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// e2e: sustained rate into the store, latency from send to acknowledgement.

/// Latency histogram with 1 ms buckets up to 60 s.
struct Latency {
    buckets: Vec<AtomicU64>,
}

impl Latency {
    fn new() -> Self {
        Latency {
            buckets: (0..60_001).map(|_| AtomicU64::new(0)).collect(),
        }
    }
    fn record(&self, d: Duration) {
        let ms = (d.as_millis() as usize).min(self.buckets.len() - 1);
        self.buckets[ms].fetch_add(1, Ordering::Relaxed);
    }
    fn quantile(&self, q: f64) -> usize {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let target = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (ms, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= target.max(1) {
                return ms;
            }
        }
        counts.len()
    }
}

fn e2e(args: &[String]) -> Result<()> {
    let store_url = arg_str(args, "--store").ok_or("--store URL is required")?;
    let terminals: u32 = arg(args, "--terminals", 10_000);
    let rate: f64 = arg(args, "--rate", 50_000.0);
    let secs: u64 = arg(args, "--secs", 300);
    let threads: usize = arg(args, "--client-threads", 2);
    let acked_after = match arg_str(args, "--bus") {
        Some(_) => "the bus's PubAck",
        None => "durable commit",
    };
    let (child, addr) = spawn_server(
        &store_url,
        terminals,
        "store",
        arg_str(args, "--publish").as_deref(),
        &writer_tuning(args),
    )?;
    let pid = child.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let acked = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let latency = Arc::new(Latency::new());
    let stop = CancellationToken::new();
    let interval = Duration::from_secs_f64(f64::from(terminals) / rate);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..terminals {
            let mut stream = TcpStream::connect(addr).await?;
            authenticate(&mut stream, i).await?;
            let (acked, sent, latency, stop) = (acked.clone(), sent.clone(), latency.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let (mut rd, mut wr) = stream.into_split();
                let pending: Arc<std::sync::Mutex<HashMap<u16, Instant>>> = Arc::default();
                let reader = {
                    let pending = pending.clone();
                    let (acked, latency) = (acked.clone(), latency.clone());
                    tokio::spawn(async move {
                        let mut decoder = FrameDecoder::default();
                        let mut buf = BytesMut::with_capacity(1024);
                        let mut answered = Vec::new();
                        loop {
                            match rd.read_buf(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) => {}
                            }
                            answered.clear();
                            let n = take_acks(&mut decoder, &mut buf, &mut answered);
                            let now = Instant::now();
                            let mut p = pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            for s in &answered {
                                if let Some(t) = p.remove(s) {
                                    latency.record(now - t);
                                }
                            }
                            acked.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    })
                };
                // Spread the terminals' phases over one interval.
                tokio::time::sleep(interval.mul_f64(f64::from(i % 1000) / 1000.0)).await;
                let mut tick = tokio::time::interval(interval);
                // A tick the generator itself was late for is sent at once: on average every
                // terminal offers exactly its share of the rate, however busy the machine.
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut n: u64 = 0;
                let mut out = BytesMut::with_capacity(128);
                while !stop.is_cancelled() {
                    tick.tick().await;
                    n += 1;
                    let serial = (n % 65_535) as u16 + 1;
                    out.clear();
                    report_frame(i, serial, n, &mut out);
                    pending
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(serial, Instant::now());
                    if wr.write_all(&out).await.is_err() {
                        break;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                reader.abort();
            }));
        }
        eprintln!("{terminals} terminals authenticated; reporting at {rate} points/s total");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (a0, s0, c0, t0) = (
            acked.load(Ordering::Relaxed),
            sent.load(Ordering::Relaxed),
            cpu_secs(pid),
            Instant::now(),
        );
        let mut last = (a0, Instant::now());
        while t0.elapsed() < Duration::from_secs(secs) {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let a = acked.load(Ordering::Relaxed);
            eprintln!(
                "  {:>4.0} s: {:.0} points/s",
                t0.elapsed().as_secs_f64(),
                (a - last.0) as f64 / last.1.elapsed().as_secs_f64()
            );
            last = (a, Instant::now());
        }
        let (a1, s1, c1, elapsed) = (
            acked.load(Ordering::Relaxed),
            sent.load(Ordering::Relaxed),
            cpu_secs(pid),
            t0.elapsed(),
        );
        stop.cancel();
        let points = (a1 - a0) as f64;
        println!(
            "end to end: {terminals} terminals, {:.0} s: {:.0} points/s acknowledged after {acked_after} \
             ({:.0} points/s sent), latency send->ack p50 {} ms, p99 {} ms, p99.9 {} ms; server CPU {:.1} µs/point",
            elapsed.as_secs_f64(),
            points / elapsed.as_secs_f64(),
            (s1 - s0) as f64 / elapsed.as_secs_f64(),
            latency.quantile(0.5),
            latency.quantile(0.99),
            latency.quantile(0.999),
            (c1 - c0) * 1e6 / points.max(1.0),
        );
        for t in tasks {
            t.abort();
        }
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })?;
    drop(runtime);
    stop_server(child);
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// storm: every terminal registers and authenticates at once.

fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn storm(args: &[String]) -> Result<()> {
    let store_url = arg_str(args, "--store").unwrap_or_else(|| scratch_store("storm"));
    let terminals: u32 = arg(args, "--terminals", 10_000);
    let procs: u32 = arg(args, "--procs", 2).max(1);
    let (child, addr) = spawn_server(&store_url, terminals, "durable", None, &[])?;
    let (pid, cpu0) = (child.id(), cpu_secs(child.id()));
    let exe = std::env::current_exe()?;
    let per = terminals.div_ceil(procs);
    let mut clients = Vec::new();
    for p in 0..procs {
        let (from, to) = (p * per, ((p + 1) * per).min(terminals));
        let (addr, from, to) = (addr.to_string(), from.to_string(), to.to_string());
        let c = Command::new(&exe)
            .args(["storm-client", "--addr", &addr, "--from", &from, "--to", &to])
            .stdout(Stdio::piped())
            .spawn()?;
        clients.push(c);
    }
    let (mut first, mut last, mut failed) = (u128::MAX, 0u128, 0u64);
    for c in clients {
        let out = c.wait_with_output()?;
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<u128> = line.split_whitespace().filter_map(|v| v.parse().ok()).collect();
        let [a, b, n] = f[..] else {
            return Err(format!("storm client failed: {line}").into());
        };
        (first, last, failed) = (first.min(a), last.max(b), failed + n as u64);
    }
    let cpu = cpu_secs(pid) - cpu0;
    println!(
        "storm: {terminals} terminals registered and authenticated in {:.2} s (first connect to last 0x8001), \
         {failed} failed; server CPU {cpu:.2} s",
        (last - first) as f64 / 1000.0
    );
    stop_server(child);
    Ok(())
}

/// Sends `message` as terminal `i` on `stream` and reads the platform's answer; `answer` takes it or
/// says what was wrong with it (`what` names the exchange in errors).
async fn exchange<T>(
    stream: &mut TcpStream,
    i: u32,
    (msg_id, serial): (u16, u16),
    message: Message<'_>,
    what: &str,
    answer: impl FnOnce(Message<'_>) -> std::result::Result<T, String>,
) -> Result<T> {
    let mut out = BytesMut::new();
    encode_message(
        &Header::new(msg_id, phone(i), serial, Edition::V2013),
        &message,
        &mut out,
    )?;
    stream.write_all(&out).await?;
    let mut buf = BytesMut::with_capacity(256);
    let mut decoder = FrameDecoder::default();
    loop {
        if let Some(f) = decoder.decode(&mut buf)? {
            return answer(f.message()?).map_err(|e| format!("terminal {i}: {what} answered {e}").into());
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(format!("terminal {i}: closed during {what}").into());
        }
    }
}

/// Registers terminal `i` on `stream` and returns the code it was given.
async fn register(stream: &mut TcpStream, i: u32) -> Result<Vec<u8>> {
    let id = format!("L{i:06}");
    let reg = tianshu_sim::terminal::registration(&id, 0, b"");
    exchange(
        stream,
        i,
        (0x0100, 0),
        Message::Register(reg),
        "registration",
        |m| match m {
            Message::RegisterAck(a) if a.result == 0 => {
                Ok(a.auth_code.map(|c| c.as_bytes().to_vec()).unwrap_or_default())
            }
            other => Err(format!("{other:?}")),
        },
    )
    .await
}

/// Authenticates terminal `i` with `code`.
async fn authenticate_with(stream: &mut TcpStream, i: u32, code: &[u8]) -> Result<()> {
    let auth = Authenticate {
        auth_code: Text(code),
        imei: None,
        software_version: None,
    };
    exchange(
        stream,
        i,
        (0x0102, 1),
        Message::Authenticate(auth),
        "authentication",
        |m| match m {
            Message::PlatformAck(GeneralAck { result: 0, .. }) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await
}

/// Prints `FIRST_CONNECT_MS LAST_AUTH_MS FAILED` (milliseconds since the epoch) once every terminal of
/// `--from..--to` has registered and authenticated, or failed.
fn storm_client(args: &[String]) -> Result<()> {
    let addr: SocketAddr = arg_str(args, "--addr").ok_or("--addr")?.parse()?;
    let (from, to): (u32, u32) = (arg(args, "--from", 0), arg(args, "--to", 0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let first = epoch_ms();
        let tasks: Vec<_> = (from..to)
            .map(|i| {
                tokio::spawn(async move {
                    let mut s = TcpStream::connect(addr).await?;
                    let code = register(&mut s, i).await?;
                    authenticate_with(&mut s, i, &code).await?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>((epoch_ms(), s))
                })
            })
            .collect();
        let (mut last, mut failed, mut streams) = (first, 0u32, Vec::new());
        for t in tasks {
            match t.await? {
                Ok((at, s)) => {
                    last = last.max(at);
                    streams.push(s);
                }
                Err(e) => {
                    failed += 1;
                    if failed <= 3 {
                        eprintln!("{e}");
                    }
                }
            }
        }
        println!("{first} {last} {failed}");
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })
}

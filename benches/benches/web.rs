//! The web side's performance claims:
//! - live: a position acknowledged (its append resolved durable, the moment a session sends 0x8001)
//!   reaches a connected WebSocket client, while 10,000 points/s are ingested; the p99 is printed with
//!   the achieved rate, and criterion reports the mean;
//! - replay: one vehicle, one month of 10-second points (259,200), from request to the last byte, on
//!   PostgreSQL at 127.0.0.1:5432 (a database created for the run and dropped after): the GeoJSON
//!   export (`GET .../track?format=geojson`), and the replay view (`GET .../replay`) simplified as the
//!   page asks for it and with every point (`tolerance_m=0`, where the size of a point on the wire
//!   counts most).
//!
//! `WEB_BENCH_LIVE_STORE=postgres` runs the live bench on PostgreSQL instead of the embedded store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench setup: a panic is a broken bench
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;
use tianshu_api::{ApiConfig, ApiState};
use tianshu_benches::{fleet_point, runtime};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::access::{NewUser, Role};
use tianshu_store::{RegistryRecord, Store};
use tianshu_testkit::registry_record;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PASSWORD: &str = "bench password";
/// 2026-10-01T00:00:00Z.
const MONTH_T0_SECS: i64 = 1_790_812_800;
const MONTH_POINTS: i64 = 30 * 8_640;
const LIVE_VEHICLES: usize = 1_000;
const LIVE_POINTS_PER_SEC: usize = 10_000;

fn point(vehicle: VehicleId, secs: i64, i: i64) -> Position {
    let at = (
        30_200_000 + (i % 5_000) as i32 * 7,
        115_000_000 + (i % 3_000) as i32 * 11,
    );
    fleet_point(vehicle, secs, at)
}

async fn pg_database(name: &str) -> (String, tokio_postgres::Client) {
    let (admin, conn) = tokio_postgres::connect(PG_ADMIN, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres) is needed for this bench");
    tokio::spawn(conn);
    let db = format!("tianshu_bench_web_{name}_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    (format!("postgres://postgres@127.0.0.1:5432/{db}"), admin)
}

/// Registry, an administrator, and the API on 127.0.0.1:0; returns the address and a session cookie.
async fn serve(store: &Store, vehicles: usize) -> (SocketAddr, String, Vec<VehicleId>) {
    let records: Vec<RegistryRecord> = (0..vehicles)
        .map(|i| {
            registry_record(
                "基准市/车队",
                &format!("鄂B{i:05}"),
                14_000_000_000 + i as u128,
                &format!("B{i:06}"),
            )
        })
        .collect();
    store.import_registry(&records).await.unwrap();
    let ids = store
        .vehicles()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id)
        .collect();
    let hash = tianshu_api::hash_password(PASSWORD).unwrap();
    let _ = store.access().delete_user("bench").await;
    store
        .access()
        .create_user(&NewUser {
            username: "bench".into(),
            role: Role::Administrator,
            unit: None,
            password_hash: hash,
        })
        .await
        .unwrap();
    let app = tianshu_api::router(ApiState::new(store.clone(), ApiConfig::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    let body = format!(r#"{{"username":"bench","password":"{PASSWORD}"}}"#);
    let head = request(addr, "POST", "/api/session", None, &body).await.0;
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    (addr, cookie, ids)
}

/// One HTTP/1.1 request read to the last byte; (head, body length).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> (String, usize) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{cookie}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::with_capacity(1 << 20);
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    (head, raw.len() - split - 4)
}

fn replay_month(c: &mut Criterion) {
    let rt = runtime();
    let (url, admin) = rt.block_on(pg_database("replay"));
    let (addr, cookie, vehicle) = rt.block_on(async {
        let store = Store::open(&url).await.unwrap();
        let (addr, cookie, ids) = serve(&store, 1).await;
        let v = ids[0];
        let mut batch = Vec::with_capacity(10_000);
        for i in 0..MONTH_POINTS {
            batch.push(point(v, MONTH_T0_SECS + i * 10, i));
            if batch.len() == 10_000 {
                store
                    .append_points_owned(std::mem::take(&mut batch))
                    .await
                    .unwrap();
            }
        }
        store.append_points_owned(batch).await.unwrap();
        (addr, cookie, v)
    });
    let from = Timestamp::from_secs(MONTH_T0_SECS).to_rfc3339();
    let to = Timestamp::from_secs(MONTH_T0_SECS + MONTH_POINTS * 10).to_rfc3339();
    let base = format!("/api/vehicles/{vehicle}");
    let cases = [
        (
            "replay_month_geojson/postgres",
            format!("{base}/track?from={from}&to={to}&format=geojson"),
        ),
        (
            "replay_month_json/postgres",
            format!("{base}/replay?from={from}&to={to}"),
        ),
        (
            "replay_month_json_every_point/postgres",
            format!("{base}/replay?from={from}&to={to}&tolerance_m=0"),
        ),
    ];
    let mut g = c.benchmark_group("web");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (name, path) in &cases {
        let (_, bytes) = rt.block_on(request(addr, "GET", path, Some(&cookie), ""));
        println!("web/{name}: {MONTH_POINTS} points stored, {bytes} bytes per response");
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(rt.block_on(request(addr, "GET", path, Some(&cookie), "")).1);
                }
                start.elapsed()
            })
        });
    }
    g.finish();
    let db = url.rsplit('/').next().unwrap().to_string();
    rt.block_on(async move {
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await;
    });
}

/// Acknowledgement and reception instants of each point, matched as they come.
#[derive(Default)]
struct Matcher {
    acked: HashMap<(i64, i64), Instant>,
    received: HashMap<(i64, i64), Instant>,
    latencies: Vec<Duration>,
}

impl Matcher {
    fn ack(&mut self, key: (i64, i64), at: Instant) {
        match self.received.remove(&key) {
            // Shown before the terminal even had its acknowledgement: no delay at all.
            Some(_) => self.latencies.push(Duration::ZERO),
            None => {
                self.acked.insert(key, at);
            }
        }
    }
    fn receive(&mut self, key: (i64, i64), at: Instant) {
        match self.acked.remove(&key) {
            Some(acked) => self.latencies.push(at.saturating_duration_since(acked)),
            None => {
                self.received.insert(key, at);
            }
        }
    }
}

fn live_latency(c: &mut Criterion) {
    let rt = runtime();
    let on_pg = std::env::var("WEB_BENCH_LIVE_STORE").is_ok_and(|v| v == "postgres");
    let (url, admin) = if on_pg {
        let (u, a) = rt.block_on(pg_database("live"));
        (u, Some(a))
    } else {
        let dir = std::env::temp_dir().join(format!("tianshu-bench-web-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (format!("sqlite:{}", dir.join("live.db").display()), None)
    };
    let store = rt.block_on(Store::open(&url)).unwrap();
    let (addr, cookie, ids) = rt.block_on(serve(&store, LIVE_VEHICLES));
    let matcher = Arc::new(Mutex::new(Matcher::default()));

    // The watching client.
    {
        let matcher = matcher.clone();
        let mut req = format!("ws://{addr}/api/live").into_client_request().unwrap();
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        let (mut ws, _) = rt.block_on(tokio_tungstenite::connect_async(req)).unwrap();
        rt.spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let at = Instant::now();
                let Message::Text(text) = msg else { continue };
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                if v["type"] != "positions" {
                    continue;
                }
                let mut m = matcher.lock().unwrap();
                for p in v["points"].as_array().unwrap() {
                    let fix = Timestamp::parse_rfc3339(p["fix_time"].as_str().unwrap()).unwrap();
                    m.receive((p["vehicle"].as_i64().unwrap(), fix.millis()), at);
                }
            }
        });
    }
    // The load: every 10 ms, ten sessions each hand the writer ten points and await durability,
    // like terminals awaiting their 0x8001.
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    {
        let (store, matcher, sent) = (store.clone(), matcher.clone(), sent.clone());
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let per_tick = LIVE_POINTS_PER_SEC / 100;
            let base_secs = Timestamp::from_millis(chrono::Utc::now().timestamp_millis()).secs() - 86_400;
            let mut round: i64 = 0;
            loop {
                tick.tick().await;
                round += 1;
                for s in 0..10 {
                    let points: Vec<Position> = (0..per_tick / 10)
                        .map(|k| {
                            let v = ids[(s * (per_tick / 10) + k + round as usize * per_tick) % ids.len()];
                            point(v, base_secs + round, round)
                        })
                        .collect();
                    let (store, matcher, sent) = (store.clone(), matcher.clone(), sent.clone());
                    tokio::spawn(async move {
                        let keys: Vec<(i64, i64)> = points
                            .iter()
                            .map(|p| (p.vehicle.0, p.fix_time.millis()))
                            .collect();
                        if store.append_points_owned(points).await.is_ok() {
                            let at = Instant::now();
                            sent.fetch_add(keys.len() as u64, std::sync::atomic::Ordering::Relaxed);
                            let mut m = matcher.lock().unwrap();
                            for k in keys {
                                m.ack(k, at);
                            }
                        }
                    });
                }
            }
        });
    }
    // Warm up, then measure: each criterion iteration is one point's ack-to-WebSocket latency.
    std::thread::sleep(Duration::from_secs(3));
    matcher.lock().unwrap().latencies.clear();
    let mut all: Vec<Duration> = Vec::new();
    let mut g = c.benchmark_group("web");
    g.sample_size(20).measurement_time(Duration::from_secs(20));
    g.bench_function(
        if on_pg {
            "live_ack_to_ws/postgres"
        } else {
            "live_ack_to_ws/embedded"
        },
        |b| {
            b.iter_custom(|iters| {
                let mut got: Vec<Duration> = Vec::new();
                while (got.len() as u64) < iters {
                    std::thread::sleep(Duration::from_millis(5));
                    got.append(&mut matcher.lock().unwrap().latencies);
                }
                let total = got.iter().sum();
                all.extend(got);
                total
            })
        },
    );
    g.finish();
    if all.is_empty() {
        return; // filtered out on the command line
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = sent.load(std::sync::atomic::Ordering::Relaxed) as f64 / elapsed;
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "web/live_ack_to_ws ({}): {} samples at {rate:.0} points/s acknowledged: p50 {:?} p99 {:?} max {:?}",
        if on_pg { "postgres" } else { "embedded" },
        all.len(),
        pct(0.50),
        pct(0.99),
        all.last().copied().unwrap_or_default()
    );
    if let Some(admin) = admin {
        let db = url.rsplit('/').next().unwrap().to_string();
        drop(store);
        rt.block_on(async move {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .await;
        });
    }
}

criterion_group!(benches, live_latency, replay_month);
criterion_main!(benches);

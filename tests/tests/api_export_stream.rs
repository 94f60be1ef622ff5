//! Track downloads from the served binary: a long track leaves whole, in order and byte for byte what
//! the whole document was, while it streams; one download more than `[web] max_concurrent_exports` is
//! refused with 429 and `Retry-After`; a track that changes under a download that reads it more than
//! once cuts the download (no complete-looking file) and is counted. On both stores.
//!
//! The ignored `measure_download_memory_*` tests print the server's memory growth over one download of
//! a long track (BENCHMARKS.md, "Web").

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Instant;

use futures::TryStreamExt;
use tianshu_api::Identity;
use tianshu_api::position::wire_positions;
use tianshu_api::resources::exports::{Format, render};
use tianshu_e2e::api::{self as api_support, Resp};
use tianshu_e2e::gateway::{Terminal, phone, plate, provision};
use tianshu_e2e::{Fix, Scratch, Tianshu};
use tianshu_model::{Position, StatusFlags, Timestamp, Vehicle};
use tianshu_store::Store;
use tianshu_store::access::{NewUser, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The first fix of the long track.
const START_SECS: i64 = 1_795_000_000;

/// One fix a second from [`START_SECS`], moving, with an odometer on every tenth.
fn fix(vehicle: &Vehicle, i: i64) -> Position {
    let mut p = Fix::at(START_SECS + i)
        .at_e6(30_200_000 + (i % 5_000) as i32, 115_040_000 + (i % 7_919) as i32)
        .heading((i % 1_200) as u16, (i % 360) as u16)
        .status(StatusFlags::ACC_ON | StatusFlags::FIXED)
        .build();
    p.vehicle = vehicle.id;
    p.phone = phone(0);
    p.mileage_dkm = (i % 10 == 0).then_some(i as u32);
    p
}

/// A track of `points` seeded in `scratch`'s store, served by `tianshu serve` with `config` (its
/// directory named after `name`), and an administrator's session cookie.
async fn served(
    scratch: &Scratch,
    points: i64,
    name: &str,
    config: &str,
) -> (Vehicle, Vec<Position>, Tianshu, String) {
    let url = scratch.url();
    let (v, stored) = seed(&url, points).await;
    let server = Tianshu::start(&url, config, &[], &tianshu_testkit::unique_dir(name));
    let cookie = api_support::login_at(server.http, "administrator").await;
    (v, stored, server, cookie)
}

/// Provisions terminal 0's car and an administrator, stores `points` fixes of the car, and reads them
/// back: the car and its stored track.
async fn seed(url: &str, points: i64) -> (Vehicle, Vec<Position>) {
    provision(url, 1).await;
    let store = Store::open(url).await.unwrap();
    let v = store.vehicle_by_plate(&plate(0)).await.unwrap().unwrap();
    store
        .access()
        .create_user(&NewUser {
            username: "administrator".into(),
            role: Role::Administrator,
            unit: None,
            password_hash: tianshu_api::hash_password(api_support::PASSWORD).unwrap(),
        })
        .await
        .unwrap();
    let mut i = 0;
    while i < points {
        let batch: Vec<Position> = (i..(i + 10_000).min(points)).map(|k| fix(&v, k)).collect();
        store.append_points_owned(batch).await.unwrap();
        i += 10_000;
    }
    let (from, to) = range(points);
    let stored: Vec<Position> = store
        .track(v.id, from, to)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len() as i64, points, "the seeded track is stored whole");
    (v, stored)
}

/// The range that covers a track of `points` fixes, and a little more.
fn range(points: i64) -> (Timestamp, Timestamp) {
    (
        Timestamp::from_secs(START_SECS),
        Timestamp::from_secs(START_SECS + points + 600),
    )
}

fn query(points: i64) -> String {
    let (from, to) = range(points);
    format!("from={from}&to={to}")
}

/// Sends a GET on a connection whose receive buffer is small, and reads the response's head only: the
/// server is left with a download its client does not take yet.
async fn start_slow_download(addr: SocketAddr, path: &str, cookie: &str) -> (TcpStream, Vec<u8>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "the response head arrives");
        raw.extend_from_slice(&buf[..n]);
    }
    (s, raw)
}

/// The chunked body of a response, joined.
fn body_of(raw: &[u8]) -> String {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let mut b = &raw[split + 4..];
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    String::from_utf8(out).unwrap()
}

/// Every format of a long track leaves whole and in order, as the whole document was written; with one
/// download place, a second download is refused while the first streams, and admitted after it.
async fn a_long_track_streams_whole_and_one_download_too_many_waits(scratch: Scratch) {
    const POINTS: i64 = 200_000;
    let (v, stored, server, cookie) = served(
        &scratch,
        POINTS,
        "export-stream",
        "[web]\nmax_concurrent_exports = 1\n",
    )
    .await;
    let q = query(POINTS);
    let (from, to) = range(POINTS);

    let positions = format!("/api/positions?vehicle={}&{q}", v.id.0);
    let r = api_support::http(server.http, "GET", &positions, Some(&cookie), None).await;
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(300)]);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let expected = serde_json::to_string(&wire_positions(&stored, Identity::Full)).unwrap();
    assert!(
        r.body == expected,
        "the positions leave whole, in order, as stored"
    );
    for format in Format::ALL {
        let path = format!("/api/vehicles/{}/track?format={}&{q}", v.id.0, format.as_str());
        let r = api_support::http(server.http, "GET", &path, Some(&cookie), None).await;
        assert_eq!(r.status, 200, "{format:?}: {}", &r.body[..r.body.len().min(300)]);
        assert_eq!(r.header("content-type"), Some(format.content_type()));
        let expected = render(format, &v, from, to, &stored);
        assert!(
            r.body == expected,
            "the {format:?} export leaves whole, as stored"
        );
    }

    // One place: the CSV export held open by a client that does not read yet takes it.
    let csv = format!("/api/vehicles/{}/track?format=csv&{q}", v.id.0);
    let (mut slow, mut raw) = start_slow_download(server.http, &csv, &cookie).await;
    let refused: Resp = api_support::http(server.http, "GET", &positions, Some(&cookie), None).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("5"));
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("too many downloads")
    );
    slow.read_to_end(&mut raw).await.unwrap();
    assert!(
        body_of(&raw) == render(Format::Csv, &v, from, to, &stored),
        "the held download still leaves whole"
    );
    let again = api_support::http(server.http, "GET", &positions, Some(&cookie), None).await;
    assert_eq!(again.status, 200, "the place is free again once a download ended");
    let audited = server
        .metric("tianshu_api_tracks_served_total", "format=\"json\"")
        .await;
    assert_eq!(audited, 2.0, "the refused download was not served");
}

tianshu_e2e::on_both_backends!(a_long_track_streams_whole_and_one_download_too_many_waits);

/// A GeoJSON export reads the track three times (times, speeds, coordinates); a point stored into the
/// range meanwhile cuts the download (its last chunk never comes) instead of misaligning the arrays, and
/// the break is counted.
async fn a_track_changing_under_a_download_cuts_it(scratch: Scratch) {
    const POINTS: i64 = 200_000;
    let (v, _, server, cookie) = served(&scratch, POINTS, "export-broken", "").await;
    let path = format!("/api/vehicles/{}/track?format=geojson&{}", v.id.0, query(POINTS));
    let (mut slow, mut raw) = start_slow_download(server.http, &path, &cookie).await;
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));

    // The car's terminal reports one more fix inside the range while the download is held.
    let mut terminal = Terminal::connect(server.jt808, phone(0)).await.unwrap();
    terminal.login(0).await;
    let serial = terminal.report(&fix(&v, POINTS + 10)).await;
    assert_eq!(
        terminal.ack_of(serial, std::time::Duration::from_secs(10)).await,
        Some(0)
    );

    // Whatever arrived, the body does not end: no closing chunk, no complete-looking document.
    let _ = slow.read_to_end(&mut raw).await;
    assert!(!raw.ends_with(b"0\r\n\r\n"), "the body ended as if complete");
    let broken = server
        .metric("tianshu_api_downloads_broken_total", "action=\"export.geojson\"")
        .await;
    assert_eq!(broken, 1.0);
}

tianshu_e2e::on_both_backends!(a_track_changing_under_a_download_cuts_it);

/// The resident memory of process `pid`, and its peak so far, in KiB (`/proc/PID/status`).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Downloads `path` and drops its bytes as they come; how many there were.
async fn download_counting(addr: SocketAddr, path: &str, cookie: &str) -> (u16, u64) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let (mut total, mut head) = (0u64, Vec::new());
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        if head.len() < 64 {
            head.extend_from_slice(&buf[..n.min(64)]);
        }
        total += n as u64;
    }
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, total)
}

/// Stores a long track (`TIANSHU_MEASURE_POINTS`, default 600,000 one-second fixes, about a week at
/// 1 Hz), then downloads it as `/api/positions`, as a GeoJSON and as a CSV export; prints the server's
/// peak resident memory during each download over its memory before it.
async fn measure_download_memory(scratch: Scratch) {
    let points: i64 = std::env::var("TIANSHU_MEASURE_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600_000);
    let (v, _, server, cookie) = served(&scratch, points, "export-measure", "").await;
    let pid = server.child.id();
    let q = query(points);
    let paths = [
        ("positions", format!("/api/positions?vehicle={}&{q}", v.id.0)),
        (
            "export.geojson",
            format!("/api/vehicles/{}/track?format=geojson&{q}", v.id.0),
        ),
        (
            "export.csv",
            format!("/api/vehicles/{}/track?format=csv&{q}", v.id.0),
        ),
    ];
    // A short download first, so that what every download sets up once is not counted as its growth.
    let warm = format!(
        "/api/positions?vehicle={}&from={}&to={}",
        v.id.0,
        Timestamp::from_secs(START_SECS),
        Timestamp::from_secs(START_SECS + 60)
    );
    download_counting(server.http, &warm, &cookie).await;
    for (what, path) in paths {
        // Resets the peak (VmHWM) to the memory now, so that the peak read after is this download's.
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
        let (before, _) = memory_kib(pid);
        let started = Instant::now();
        let (status, bytes) = download_counting(server.http, &path, &cookie).await;
        let took = started.elapsed();
        let (after, hwm) = memory_kib(pid);
        assert_eq!(status, 200);
        println!(
            "{what}: {points} points, {:.1} MB in {:.2} s; server RSS before {:.1} MiB, after {:.1} MiB, \
             peak (VmHWM) {:.1} MiB: growth {:.1} MiB",
            bytes as f64 / 1e6,
            took.as_secs_f64(),
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            hwm as f64 / 1024.0,
            hwm.saturating_sub(before) as f64 / 1024.0,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run by hand, see BENCHMARKS.md"]
async fn measure_download_memory_embedded() {
    measure_download_memory(Scratch::embedded("export-measure")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run by hand, see BENCHMARKS.md"]
async fn measure_download_memory_postgres() {
    measure_download_memory(Scratch::postgres("export_measure").await).await;
}

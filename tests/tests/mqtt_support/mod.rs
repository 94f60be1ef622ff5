//! What the MQTT, configuration and readiness tests share: the real `tianshu serve` binary on 127.0.0.1
//! (port 0) with a configuration file, a dedicated Mosquitto when a test needs its own broker settings,
//! the metrics endpoint, and payload builders (JSON positions, raw JT/T 808 frames).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::TryStreamExt;
use tianshu_jt808::{
    BasicLocation, BatchItems, Header, Items, LocationBatch, LocationReport, Message, encode_message,
};
use tianshu_model::{Edition, Phone, Position, StatusFlags, Timestamp, VehicleClass};
use tianshu_store::{RegistryRecord, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The shared broker the tests use.
pub const BROKER: &str = "mqtt://127.0.0.1:1883";

pub use tianshu_testkit::unique;

/// A scratch directory removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// A fresh directory.
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("tianshu-test-{}", unique(name)));
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `tianshu` binary, built once per test process.
pub fn binary() -> PathBuf {
    tianshu_e2e::tianshu_bin()
}

/// Runs `tianshu ARGS` to completion: (exit success, stdout, stderr).
pub fn run_tianshu(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running tianshu");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The repository root (for deploy/ files).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// A running `tianshu serve`.
pub struct Tianshu {
    /// The process.
    pub child: Child,
    /// Where terminals connect.
    pub jt808: SocketAddr,
    /// Where `/metrics` and `/readyz` are.
    pub http: SocketAddr,
}

impl Tianshu {
    /// Starts `tianshu serve --store URL` with `config_toml` as its configuration file (written into `dir`)
    /// and `extra` arguments, on loopback port 0; returns once it listens.
    pub fn start(store_url: &str, config_toml: &str, extra: &[&str], dir: &Path) -> Tianshu {
        let config = dir.join(format!("{}.toml", unique("tianshu")));
        std::fs::write(&config, config_toml).expect("writing the config file");
        let serve = [
            "serve",
            "--store",
            store_url,
            "--jt808",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--config",
        ];
        let l = tianshu_e2e::spawn_listening(
            serve
                .iter()
                .map(std::ffi::OsStr::new)
                .chain([config.as_os_str()])
                .chain(extra.iter().map(std::ffi::OsStr::new)),
        );
        Tianshu {
            jt808: l.jt808,
            http: l.http,
            child: l.child,
        }
    }

    /// `kill -9`: no chance to acknowledge or flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        http_get(self.http, "/metrics").await.1
    }

    /// The sum of every sample of `name` whose labels contain `labels` (e.g. `reason="not_json"`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        metric(&self.metrics().await, name, labels)
    }
}

impl Drop for Tianshu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` on `addr`: (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connecting to the HTTP endpoint");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("sending the request");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("reading the response");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The sum of the samples of `name` whose label set contains `labels`.
pub fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b' ') | Some(b'{')))
        .filter(|l| labels.is_empty() || l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// Waits (polling) until `check` holds; panics with `what` after `limit`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(start.elapsed() < limit, "gave up waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `tianshu` (configured by [`mqtt_config`] with `prefix`, on the shared broker) is connected
/// and its JSON subscription is in place: publishes the JSON position of terminal `i` at `T0` until it is
/// stored (the probe is then that terminal's first stored point).
pub async fn wait_subscribed(tianshu: &Tianshu, store: &Store, prefix: &str, i: u32, dir: &Path) {
    let limit = Duration::from_secs(90);
    wait_for("the broker connection", limit, || async {
        tianshu.metric("tianshu_mqtt_connected", "").await == 1.0
    })
    .await;
    let probe_phone = phone(PHONE_BASE, i);
    let topic = format!("{prefix}/in/json/{}", probe_phone.padded(12));
    let probe = json_position(probe_phone, 0);
    wait_for("the probe to be stored", limit, || async {
        mosquitto_pub(1883, &topic, probe.as_bytes(), dir);
        // Until the subscription is in place the broker drops the probe: publish again now and then.
        let again = Instant::now() + Duration::from_millis(500);
        while Instant::now() < again {
            if !stored(store, PHONE_BASE, i).await.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    })
    .await;
}

/// The phone number of test terminal `i` in a test's own range `base`.
pub fn phone(base: u128, i: u32) -> Phone {
    Phone(base + u128::from(i))
}

/// The plate of test terminal `i` in range `base`.
pub fn plate(base: u128, i: u32) -> String {
    format!("鄂M{}", base % 100_000 * 100 + u128::from(i))
}

/// The first phone number of the MQTT tests' terminals (each test has its own database).
pub const PHONE_BASE: u128 = 15_000_000_000;

/// Provisions terminals `0..n` of range `base`, each with its own vehicle.
pub async fn provision(store: &Store, base: u128, n: u32) {
    let records: Vec<RegistryRecord> = (0..n)
        .map(|i| RegistryRecord {
            unit: "黄石市/机要局".to_string(),
            plate: plate(base, i),
            phone: phone(base, i),
            terminal_id: format!("M{i:06}"),
            vehicle_class: VehicleClass::General,
        })
        .collect();
    store
        .import_registry(&records)
        .await
        .expect("importing the test registry");
}

/// Every stored point of terminal `i`'s vehicle, in fix-time order.
pub async fn stored(store: &Store, base: u128, i: u32) -> Vec<Position> {
    let vehicle = store
        .vehicle_by_plate(&plate(base, i))
        .await
        .expect("reading the registry")
        .expect("the test vehicle exists");
    let stream = store
        .track(
            vehicle.id,
            Timestamp::from_secs(T0_SECS - 86_400),
            Timestamp::from_secs(T0_SECS + 365 * 86_400),
        )
        .await
        .expect("reading a track");
    stream.try_collect().await.expect("streaming a track")
}

/// The base instant of test positions: 2026-11-27T00:00:00Z.
pub const T0_SECS: i64 = 1_795_737_600;

/// A JSON position of `phone` at `T0 + secs` (the documented format).
pub fn json_position(phone: Phone, secs: i64) -> String {
    let t = Timestamp::from_secs(T0_SECS + secs)
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"{{"terminal":"{}","time":"{t}","lat":{:.6},"lon":115.04,"speed_kmh":40.5,"course_deg":90,"altitude_m":20,"alarm":0,"status":3}}"#,
        phone.padded(12),
        30.2 + (secs % 10_000) as f64 * 1e-5,
    )
}

/// A raw JT/T 808 0x0200 frame (2013 layout) of `phone` at `T0 + secs`.
pub fn frame_0200(phone: Phone, secs: i64, serial: u16) -> Vec<u8> {
    let message = Message::Location(report_at(phone, secs));
    encode_frame(&message, phone, serial)
}

/// A raw JT/T 808 0x0704 frame (2013 layout, a live batch) of `phone` with one report at `T0 + s` for each
/// `s` of `secs`; the report at index `garbled`, if any, carries a clock that is not BCD, as a terminal with
/// a damaged clock chip sends.
pub fn frame_0704(phone: Phone, secs: &[i64], garbled: Option<usize>, serial: u16) -> Vec<u8> {
    let reports: Vec<LocationReport<'static>> = secs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut report = report_at(phone, *s);
            if garbled == Some(i) {
                report.basic.time_bcd = [0xff; 6];
            }
            report
        })
        .collect();
    let batch = LocationBatch {
        count: reports.len() as u16,
        location_type: 0,
        items: BatchItems::List(&reports),
    };
    encode_frame(&Message::LocationBatch(batch), phone, serial)
}

fn encode_frame(message: &Message<'_>, phone: Phone, serial: u16) -> Vec<u8> {
    let header = Header::new(message.msg_id(), phone, serial, Edition::V2013);
    let mut out = BytesMut::new();
    encode_message(&header, message, &mut out).expect("encoding a test frame");
    out.to_vec()
}

/// The report of a test point of `phone` at `T0 + secs`.
fn report_at(phone: Phone, secs: i64) -> LocationReport<'static> {
    let p = Position {
        phone,
        fix_time: Timestamp::from_secs(T0_SECS + secs),
        lat_e6: 30_300_000 + (secs % 10_000) as i32 * 10,
        lon_e6: 115_100_000,
        altitude_m: 30,
        speed_dkmh: 300,
        course_deg: 45,
        status: StatusFlags(StatusFlags::ACC_ON | StatusFlags::FIXED),
        ..Default::default()
    };
    LocationReport {
        basic: BasicLocation::from_bytes(&p.basic_block()),
        items: Items::default(),
    }
}

/// A Mosquitto of the test's own, on a free loopback port, with `extra` configuration lines.
pub struct Mosquitto {
    child: Child,
    /// `mqtt://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
    _dir: ScratchDir,
}

impl Mosquitto {
    /// Starts it and waits until it accepts connections.
    pub fn start(extra: &str) -> Mosquitto {
        let dir = ScratchDir::new("mosquitto");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let conf = dir.0.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra}\n"),
        )
        .expect("writing mosquitto.conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosquitto (apt-get install mosquitto)");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "mosquitto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Mosquitto {
            child,
            url: format!("mqtt://127.0.0.1:{port}"),
            port,
            _dir: dir,
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mosquitto_pub` (a client nobody here wrote): publishes `payload` (from a file, so bytes pass as they
/// are) to `topic` with QoS 1 on the broker at `port`.
pub fn mosquitto_pub(port: u16, topic: &str, payload: &[u8], dir: &Path) {
    let file = dir.join(unique("payload"));
    std::fs::write(&file, payload).expect("writing the payload");
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-f",
        ])
        .arg(&file)
        .status()
        .expect("running mosquitto_pub (apt-get install mosquitto-clients)");
    assert!(status.success(), "mosquitto_pub failed");
}

/// A rumqttc publisher on the broker at `port`; its event loop runs in the background.
pub fn rumqttc_publisher(port: u16, id: &str) -> rumqttc::AsyncClient {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30)).set_inflight(200);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(o, 1000);
    tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    client
}

/// The configuration of an MQTT test instance: its own client id and topic filters under `prefix`.
pub fn mqtt_config(broker: &str, client_id: &str, prefix: &str, extra: &str) -> String {
    format!(
        r#"[mqtt]
url = "{broker}"
client_id = "{client_id}"
reconnect_min_backoff_ms = 100
reconnect_max_backoff_ms = 1000
{extra}

[[mqtt.subscriptions]]
filter = "{prefix}/in/json/+"
payload = "json"

[[mqtt.subscriptions]]
filter = "{prefix}/in/jt808/+"
payload = "jt808"
"#
    )
}

//! What the MQTT, configuration and readiness tests share: a dedicated Mosquitto when a test needs its
//! own broker settings, publishers, waiting for a running `tianshu serve` to be subscribed,
//! and payload builders (JSON positions, raw JT/T 808 frames).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::BytesMut;
use tianshu_jt808::{BatchItems, Header, LocationBatch, LocationReport, Message, encode_message};
use tianshu_model::{Edition, Phone, Position, Timestamp};
use tianshu_store::{RegistryRecord, Store};
use tianshu_testkit::wait::wait_port;

use crate::gateway::location;
use crate::{
    Fix, ScratchDir, T0_SECS, Tianshu, registry_record, retry_until, stored_track, unique, wait_until,
};

/// The shared broker the tests use.
pub const BROKER: &str = "mqtt://127.0.0.1:1883";

/// Waits until `tianshu` (configured by [`mqtt_config`] with `prefix`, on the shared broker) is connected
/// and its JSON subscription is in place: publishes the JSON position of terminal `i` at `T0` until it is
/// stored (the probe is then that terminal's first stored point).
pub async fn wait_subscribed(tianshu: &Tianshu, store: &Store, prefix: &str, i: u32, dir: &Path) {
    wait_connected(tianshu).await;
    let probe_phone = phone(PHONE_BASE, i);
    let topic = format!("{prefix}/in/json/{}", probe_phone.padded(12));
    let probe = json_position(probe_phone, 0);
    // Until the subscription is in place the broker drops the probe: publish again now and then.
    retry_until(
        "the probe to be stored",
        LIMIT,
        Duration::from_millis(500),
        || async { mosquitto_pub(1883, &topic, probe.as_bytes(), dir) },
        || async { !stored(store, PHONE_BASE, i).await.is_empty() },
    )
    .await;
}

/// Waits until `tianshu` reports its broker connection up.
pub async fn wait_connected(tianshu: &Tianshu) {
    wait_until("the broker connection", LIMIT, || async {
        tianshu.metric("tianshu_mqtt_connected", "").await == 1.0
    })
    .await;
}

/// Keeps publishing `payload` to `topic` with `publisher` until `check` holds (the subscription is then
/// certainly in place).
pub async fn publish_until<C: std::future::Future<Output = bool>>(
    what: &str,
    publisher: &rumqttc::AsyncClient,
    topic: &str,
    payload: &[u8],
    check: impl FnMut() -> C,
) {
    retry_until(
        what,
        LIMIT,
        Duration::from_millis(300),
        || async {
            let _ = publisher
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.to_vec())
                .await;
        },
        check,
    )
    .await;
}

/// Keeps publishing terminal 0's first JSON position under `prefix` with `publisher` until `store` holds
/// it (the subscription is then certainly in place).
pub async fn publish_first_until_stored(publisher: &rumqttc::AsyncClient, store: &Store, prefix: &str) {
    let p = phone(PHONE_BASE, 0);
    let topic = format!("{prefix}/in/json/{}", p.padded(12));
    let first = json_position(p, 0);
    publish_until(
        "the first message to be stored",
        publisher,
        &topic,
        first.as_bytes(),
        || async { !stored(store, PHONE_BASE, 0).await.is_empty() },
    )
    .await;
}

/// How long the MQTT tests wait for a broker round trip or a reconnect.
pub const LIMIT: Duration = Duration::from_secs(90);

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
        .map(|i| {
            registry_record(
                "黄石市/机要局",
                &plate(base, i),
                phone(base, i).0,
                &format!("M{i:06}"),
            )
        })
        .collect();
    store
        .import_registry(&records)
        .await
        .expect("importing the test registry");
}

/// Every stored point of terminal `i`'s vehicle, in fix-time order.
pub async fn stored(store: &Store, base: u128, i: u32) -> Vec<Position> {
    stored_track(store, &plate(base, i)).await
}

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
    let p = Fix::after_t0(secs)
        .phone(phone)
        .at_e6(30_300_000 + (secs % 10_000) as i32 * 10, 115_100_000)
        .altitude(30)
        .heading(300, 45)
        .build();
    location(&p)
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
        wait_port("mosquitto to listen", port, Duration::from_secs(20));
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
    rumqttc_publisher_with(port, id, 200, 1000)
}

/// As [`rumqttc_publisher`], with `inflight` messages unacknowledged at most and room for `queued`
/// requests.
pub fn rumqttc_publisher_with(port: u16, id: &str, inflight: u16, queued: usize) -> rumqttc::AsyncClient {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30)).set_inflight(inflight);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(o, queued);
    tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                // The client's reconnect backoff, not a wait for anything.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    client
}

/// Publishes the JSON position of `phone` at `T0 + secs` to `prefix/in/json/PHONE` with QoS 1.
pub async fn publish_json(publisher: &rumqttc::AsyncClient, prefix: &str, phone: Phone, secs: i64) {
    let topic = format!("{prefix}/in/json/{}", phone.padded(12));
    let payload = json_position(phone, secs).into_bytes();
    publisher
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
        .await
        .expect("publishing");
}

/// A subscriber to `filter` on the shared broker, subscribed (acknowledged) when this returns: what it
/// receives, as (topic, payload, retained).
pub async fn subscriber(filter: &str) -> tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>, bool)> {
    let mut o = rumqttc::MqttOptions::new(unique("sub"), "127.0.0.1", 1883);
    o.set_keep_alive(Duration::from_secs(30));
    let (sub, mut events) = rumqttc::AsyncClient::new(o, 100);
    sub.subscribe(filter, rumqttc::QoS::AtLeastOnce)
        .await
        .expect("queueing the subscription");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _sub = sub;
        let mut subscribed = Some(subscribed_tx);
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec(), p.retain));
                }
                Ok(_) => {}
                // The client's reconnect backoff, not a wait for anything.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    tokio::time::timeout(LIMIT, subscribed_rx)
        .await
        .expect("the subscription is acknowledged")
        .expect("the subscriber runs");
    rx
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

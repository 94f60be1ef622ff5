//! MQTT ingest throughput: JSON positions published with QoS 1 to a local Mosquitto, taken by
//! `tianshu_mqtt::run` into PostgreSQL, each PUBACK sent only after the commit that made its point durable.
//!
//! One iteration publishes `BATCH` positions (spread over 100 provisioned terminals, each position new) and
//! ends when the store has committed all of them. Needs PostgreSQL at 127.0.0.1:5432 (trust auth, user
//! `postgres`) and the `mosquitto` binary; the bench starts its own broker on a free loopback port and
//! creates (and drops) its own database.
//!
//! `cargo bench -p tianshu-benches --bench mqtt`
//! (`TIANSHU_BENCH_MQTT_PROTOCOL=3.1.1` measures MQTT 3.1.1, the default is MQTT 5;
//! `TIANSHU_BENCH_MQTT_INFLIGHT=N` sets `max_inflight_messages`.)

#![allow(missing_docs)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tianshu_model::{Phone, Timestamp, VehicleClass};
use tianshu_mqtt::config::{MqttConfig, PayloadKind, ProtocolVersion, Subscription};
use tianshu_mqtt::metrics::METRICS;
use tianshu_store::{RegistryRecord, Store};

const BATCH: u64 = 20_000;
const TERMINALS: u32 = 100;
const PHONE_BASE: u128 = 16_000_000_000;
const T0_SECS: i64 = 1_795_737_600;

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_broker(port: u16, dir: &std::path::Path) -> Broker {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\n\
             max_queued_messages 0\n"
        ),
    )
    .expect("writing mosquitto.conf");
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mosquitto");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "mosquitto did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Broker(child)
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        "postgres://postgres@127.0.0.1:5432/postgres",
        tokio_postgres::NoTls,
    )
    .await
    .expect("PostgreSQL at 127.0.0.1:5432");
    tokio::spawn(conn);
    client
}

fn json_position(phone: Phone, secs: i64) -> Vec<u8> {
    let t = Timestamp::from_secs(T0_SECS + secs)
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"{{"terminal":"{}","time":"{t}","lat":30.2,"lon":115.04,"speed_kmh":40.5,"course_deg":90,"altitude_m":20,"alarm":0,"status":3}}"#,
        phone.padded(12)
    )
    .into_bytes()
}

fn mqtt_ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = std::env::temp_dir().join(format!("tianshu-bench-mqtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a port");
    let _broker = start_broker(port, &dir);
    let db = format!("tianshu_bench_mqtt_{}", std::process::id());
    let protocol = match std::env::var("TIANSHU_BENCH_MQTT_PROTOCOL").as_deref() {
        Ok("3.1.1") => ProtocolVersion::V311,
        _ => ProtocolVersion::V5,
    };

    let (publisher, _store) = rt.block_on(async {
        let admin = admin().await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .await
            .expect("dropping an old database");
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("creating the database");
        let store = Store::open(&format!("postgres://postgres@127.0.0.1:5432/{db}"))
            .await
            .expect("opening the store");
        let records: Vec<RegistryRecord> = (0..TERMINALS)
            .map(|i| RegistryRecord {
                unit: "黄石市/机要局".to_string(),
                plate: format!("鄂N{i:05}"),
                phone: Phone(PHONE_BASE + u128::from(i)),
                terminal_id: format!("B{i:06}"),
                vehicle_class: VehicleClass::General,
            })
            .collect();
        store.import_registry(&records).await.expect("provisioning");
        let config = MqttConfig {
            url: format!("mqtt://127.0.0.1:{port}"),
            protocol,
            client_id: "tianshu-bench".to_string(),
            max_inflight_messages: std::env::var("TIANSHU_BENCH_MQTT_INFLIGHT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(MqttConfig::default().max_inflight_messages),
            subscriptions: vec![Subscription {
                filter: "bench/in/json/+".to_string(),
                payload: PayloadKind::Json,
            }],
            ..MqttConfig::default()
        };
        let status = Arc::new(tianshu_mqtt::MqttStatus::default());
        tokio::spawn(tianshu_mqtt::run(
            config,
            None,
            store.clone(),
            status.clone(),
            std::future::pending(),
        ));
        while !status.is_connected() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await; // the SUBSCRIBE reaches the broker

        let mut o = rumqttc::MqttOptions::new("bench-publisher", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30)).set_inflight(1000);
        let (client, mut eventloop) = rumqttc::AsyncClient::new(o, 10_000);
        tokio::spawn(async move {
            loop {
                if eventloop.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        (client, store)
    });

    let next_secs = AtomicI64::new(0);
    let mut group = c.benchmark_group("mqtt");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(BATCH));
    group.bench_function("json_positions_to_postgres_puback_after_commit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let target = METRICS.points_stored.get() + BATCH;
                    let start = Instant::now();
                    let per_terminal = BATCH / u64::from(TERMINALS);
                    for _ in 0..per_terminal {
                        let secs = next_secs.fetch_add(1, Ordering::Relaxed);
                        for i in 0..TERMINALS {
                            let phone = Phone(PHONE_BASE + u128::from(i));
                            let topic = format!("bench/in/json/{}", phone.padded(12));
                            publisher
                                .publish(
                                    topic,
                                    rumqttc::QoS::AtLeastOnce,
                                    false,
                                    json_position(phone, secs),
                                )
                                .await
                                .expect("publishing");
                        }
                    }
                    while METRICS.points_stored.get() < target {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
    rt.block_on(async {
        let _ = admin()
            .await
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, mqtt_ingest);
criterion_main!(benches);

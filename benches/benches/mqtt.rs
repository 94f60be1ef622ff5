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

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tianshu_e2e::mqtt::{Mosquitto, publish_json, publish_until, rumqttc_publisher_with};
use tianshu_e2e::{Scratch, WAIT, registry_record, wait_until};
use tianshu_model::Phone;
use tianshu_mqtt::config::{MqttConfig, PayloadKind, ProtocolVersion, Subscription};
use tianshu_mqtt::metrics::METRICS;
use tianshu_store::{RegistryRecord, Store};

const BATCH: u64 = 20_000;
const TERMINALS: u32 = 100;
const PHONE_BASE: u128 = 16_000_000_000;

fn json_position(phone: Phone, secs: i64) -> Vec<u8> {
    tianshu_e2e::mqtt::json_position(phone, secs).into_bytes()
}

fn mqtt_ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let broker = Mosquitto::start("max_inflight_messages 0\nmax_queued_messages 0\n");
    let port = broker.port;
    let protocol = match std::env::var("TIANSHU_BENCH_MQTT_PROTOCOL").as_deref() {
        Ok("3.1.1") => ProtocolVersion::V311,
        _ => ProtocolVersion::V5,
    };

    let (publisher, _store, scratch) = rt.block_on(async {
        let scratch = Scratch::postgres("bench_mqtt").await;
        let store = Store::open(&scratch.url()).await.expect("opening the store");
        let records: Vec<RegistryRecord> = (0..TERMINALS)
            .map(|i| {
                let phone = PHONE_BASE + u128::from(i);
                registry_record("黄石市/机要局", &format!("鄂N{i:05}"), phone, &format!("B{i:06}"))
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
        wait_until("the broker connection", WAIT, || {
            std::future::ready(status.is_connected())
        })
        .await;

        let client = rumqttc_publisher_with(port, "bench-publisher", 1000, 10_000);
        // A probe, published until stored: the subscription is then in place.
        let phone = Phone(PHONE_BASE);
        let topic = format!("bench/in/json/{}", phone.padded(12));
        publish_until(
            "the subscription",
            &client,
            &topic,
            &json_position(phone, -1),
            || std::future::ready(METRICS.points_stored.get() > 0),
        )
        .await;
        (client, store, scratch)
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
                            publish_json(&publisher, "bench", phone, secs).await;
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
    drop(scratch);
    drop(broker);
}

criterion_group!(benches, mqtt_ingest);
criterion_main!(benches);

//! The MQTT metrics, registered once in the default registry. No per-terminal labels.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, register_histogram};
use tianshu_ingest::metrics::{counter, counter_vec, gauge};

/// Every MQTT metric.
pub struct Metrics {
    /// Messages received, by payload kind.
    pub messages_received: IntCounterVec,
    /// Messages refused (and acknowledged), by reason.
    pub messages_rejected: IntCounterVec,
    /// Points refused within messages (a garbled report of a batch, a fix time the store does not take), by
    /// reason; the same reasons the JT/T 808 gateway counts.
    pub points_rejected: IntCounterVec,
    /// Points the store took as new.
    pub points_stored: IntCounter,
    /// Points the store already had (redeliveries, retransmissions).
    pub points_duplicate: IntCounter,
    /// Appends that failed and were retried; the message stays unacknowledged meanwhile.
    pub store_retries: IntCounter,
    /// Receipt to PUBACK, for messages that carried points.
    pub ack_latency_seconds: Histogram,
    /// Messages received and not yet acknowledged.
    pub inflight: IntGauge,
    /// 1 while the ingest connection is up.
    pub connected: IntGauge,
    /// Connection attempts that failed or connections that dropped, by side (`ingest`, `publish`).
    pub connection_errors: IntCounterVec,
    /// Messages published, by kind (`position`, `alert`).
    pub published: IntCounterVec,
    /// Messages not published because the queue was full, by kind.
    pub publish_dropped: IntCounterVec,
    /// Messages waiting to be published.
    pub publish_queue: IntGauge,
}

/// The metrics.
pub static METRICS: LazyLock<Metrics> =
    LazyLock::new(|| {
        let latency = HistogramOpts::new(
        "tianshu_mqtt_ack_latency_seconds",
        "Time from receiving an MQTT position message to sending its PUBACK after the store made it durable.",
    )
    .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]);
        Metrics {
            messages_received: counter_vec(
                "tianshu_mqtt_messages_received_total",
                "MQTT messages received, by payload kind.",
                &["payload"],
            ),
            messages_rejected: counter_vec(
                "tianshu_mqtt_messages_rejected_total",
                "MQTT messages refused (and acknowledged so they do not loop), by reason.",
                &["reason"],
            ),
            points_rejected: counter_vec(
                "tianshu_mqtt_points_rejected_total",
                "Track points refused within MQTT messages (the others of the message are kept), by reason.",
                &["reason"],
            ),
            points_stored: counter(
                "tianshu_mqtt_points_stored_total",
                "Track points from MQTT the store took as new.",
            ),
            points_duplicate: counter(
                "tianshu_mqtt_points_duplicate_total",
                "Track points from MQTT the store already had (redeliveries).",
            ),
            store_retries: counter(
                "tianshu_mqtt_store_retries_total",
                "MQTT appends that failed and were retried; their messages stay unacknowledged meanwhile.",
            ),
            ack_latency_seconds: register_histogram!(latency.clone())
                .unwrap_or_else(|_| Histogram::with_opts(latency).expect("valid metric")),
            inflight: gauge(
                "tianshu_mqtt_inflight_messages",
                "MQTT messages received and not yet acknowledged.",
            ),
            connected: gauge(
                "tianshu_mqtt_connected",
                "1 while the MQTT ingest connection to the broker is up.",
            ),
            connection_errors: counter_vec(
                "tianshu_mqtt_connection_errors_total",
                "MQTT connection attempts that failed or connections that dropped, by side.",
                &["side"],
            ),
            published: counter_vec(
                "tianshu_mqtt_published_total",
                "Messages published to MQTT, by kind.",
                &["kind"],
            ),
            publish_dropped: counter_vec(
                "tianshu_mqtt_publish_dropped_total",
                "Messages not published because the publish queue was full, by kind.",
                &["kind"],
            ),
            publish_queue: gauge(
                "tianshu_mqtt_publish_queue_messages",
                "Messages waiting to be published to MQTT.",
            ),
        }
    });

//! The bus metrics, registered once in the default registry. Labels are roles and partitions, never
//! vehicles.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use tianshu_ingest::metrics::{counter, counter_vec, gauge};

/// Every bus metric.
pub struct Metrics {
    /// 1 while this process's connection to the bus is up.
    pub connected: IntGauge,
    /// Points published by gateways and acknowledged by the stream.
    pub points_published: IntCounter,
    /// Group messages whose publication failed (bus down, stream full), by reason; their points were not
    /// acknowledged to the terminals.
    pub publish_failures: IntCounterVec,
    /// From handing a group to the bus to its PubAck.
    pub publish_seconds: Histogram,
    /// From a message's PubAck (the time the stream stored it) to its points committed to the store.
    pub commit_lag_seconds: Histogram,
    /// Bytes of points messages published by this gateway and acknowledged by the stream.
    pub bytes_published: IntCounter,
    /// How long the points stream could go on taking points at the rate they reach it, with no writer
    /// taking any, before it is full (`points_max_bytes`) or drops them (`points_max_age_secs`).
    pub buffer_horizon_seconds: prometheus::Gauge,
    /// Messages a writer committed and acknowledged.
    pub messages_committed: IntCounter,
    /// Points a writer committed from the bus.
    pub points_committed: IntCounter,
    /// Messages that did not decode, moved to the dead-letter subject.
    pub dead_letters: IntCounter,
    /// Batches whose commit failed; their messages are delivered again.
    pub commit_failures: IntCounter,
    /// Messages of the writers' consumer not yet delivered, by stream.
    pub consumer_pending: IntGaugeVec,
    /// Committed points fed to this process's rules and live map.
    pub committed_received: IntCounter,
    /// Rules partitions this instance holds a lease on.
    pub leases_held: IntGauge,
}

/// The metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let publish = HistogramOpts::new(
        "tianshu_bus_publish_seconds",
        "Time from handing a partition's group of points to the bus to its PubAck (the points then stored on the stream's replicas).",
    )
    .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
    let publish_seconds = prometheus::register_histogram!(publish.clone())
        .unwrap_or_else(|_| Histogram::with_opts(publish).expect("valid metric"));
    let lag = HistogramOpts::new(
        "tianshu_bus_commit_lag_seconds",
        "Time from a points message's PubAck (stored on the stream) to its points committed to the store by a writer.",
    )
    .buckets(vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ]);
    let commit_lag_seconds = prometheus::register_histogram!(lag.clone())
        .unwrap_or_else(|_| Histogram::with_opts(lag).expect("valid metric"));
    let pending = Opts::new(
        "tianshu_bus_consumer_pending_messages",
        "Messages on the stream not yet delivered to the writers' consumer (the writers' lag).",
    );
    let consumer_pending = prometheus::register_int_gauge_vec!(pending.clone(), &["stream"])
        .unwrap_or_else(|_| IntGaugeVec::new(pending, &["stream"]).expect("valid metric"));
    Metrics {
        connected: gauge(
            "tianshu_bus_connected",
            "1 while this process's connection to the bus is up.",
        ),
        points_published: counter(
            "tianshu_bus_points_published_total",
            "Points published to the points stream and acknowledged by it (then acknowledged to terminals).",
        ),
        publish_failures: counter_vec(
            "tianshu_bus_publish_failures_total",
            "Groups of points the stream did not acknowledge, by reason; their terminals were told nothing and retransmit.",
            &["reason"],
        ),
        publish_seconds,
        commit_lag_seconds,
        bytes_published: counter(
            "tianshu_bus_bytes_published_total",
            "Bytes of points messages this gateway published to the points stream and the stream acknowledged.",
        ),
        buffer_horizon_seconds: {
            let opts = Opts::new(
                "tianshu_bus_buffer_horizon_seconds",
                "How long the points stream could go on taking points at the rate they reach it, with no writer taking any, before it is full (points_max_bytes) or drops them (points_max_age_secs).",
            );
            prometheus::register_gauge!(opts.clone())
                .unwrap_or_else(|_| prometheus::Gauge::with_opts(opts).expect("valid metric"))
        },
        messages_committed: counter(
            "tianshu_bus_messages_committed_total",
            "Points messages a writer committed to the store and then acknowledged to the stream.",
        ),
        points_committed: counter(
            "tianshu_bus_points_committed_total",
            "Points a writer committed to the store from the points stream (new or already stored).",
        ),
        dead_letters: counter(
            "tianshu_bus_dead_letters_total",
            "Points messages that did not decode, moved to the dead-letter subject instead of being committed.",
        ),
        commit_failures: counter(
            "tianshu_bus_commit_failures_total",
            "Writer batches whose store commit failed; their messages are delivered again.",
        ),
        consumer_pending,
        committed_received: counter(
            "tianshu_bus_committed_points_received_total",
            "Committed points read from the committed stream and fed to this process's rules and live map.",
        ),
        leases_held: gauge(
            "tianshu_bus_rules_partitions_held",
            "Partitions of the committed stream this rules instance holds a lease on (and evaluates).",
        ),
    }
});

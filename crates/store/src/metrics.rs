//! The store's Prometheus metrics: the group-commit writer's and its followers'.

use std::sync::OnceLock;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};

/// The store's Prometheus metrics (the writer's and its followers'), registered once per process in the
/// default registry.
pub(crate) struct Metrics {
    pub(crate) points_stored: IntCounter,
    pub(crate) points_duplicate: IntCounter,
    pub(crate) batch_points: Histogram,
    pub(crate) commit_seconds: Histogram,
    pub(crate) queue_points: IntGauge,
    pub(crate) commit_errors: IntCounter,
    pub(crate) fanout_lagged_batches: IntCounter,
    /// Points folded into a follower's summary because its queue was full.
    pub(crate) follow_deferred_points: IntCounter,
    /// Summaries a follower took to catch up from the store.
    pub(crate) follow_catch_ups: IntCounter,
    /// Points a follower read back from the store to catch up.
    pub(crate) follow_caught_up_points: IntCounter,
    /// Catch-up reads that failed (and were retried).
    pub(crate) follow_read_errors: IntCounter,
    /// Terminal lookups and registration writes of the registry, and the queries or transactions
    /// they were coalesced into (see `registry_batch.rs`).
    pub(crate) registry_calls: IntCounter,
    pub(crate) registry_batches: IntCounter,
    /// The embedded store's truncating WAL checkpoints that emptied the WAL, and those cut short.
    pub(crate) wal_checkpoints: IntCounter,
    pub(crate) wal_checkpoints_busy: IntCounter,
}

pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).unwrap_or_else(|e| unreachable!("bad metric {name}: {e}"));
            register(Box::new(c.clone()));
            c
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .unwrap_or_else(|e| unreachable!("bad metric {name}: {e}"));
            register(Box::new(h.clone()));
            h
        };
        let queue_points = IntGauge::new(
            "tianshu_store_queue_points",
            "Points waiting for the store writer.",
        )
        .unwrap_or_else(|e| unreachable!("bad metric: {e}"));
        register(Box::new(queue_points.clone()));
        Metrics {
            points_stored: counter("tianshu_store_points_stored_total", "Track points newly stored."),
            points_duplicate: counter(
                "tianshu_store_points_duplicate_total",
                "Track points that were already stored (retransmissions, backfills, redeliveries).",
            ),
            batch_points: histogram(
                "tianshu_store_batch_points",
                "Points per group commit.",
                vec![
                    1.0, 10.0, 50.0, 100.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0, 25_000.0,
                ],
            ),
            commit_seconds: histogram(
                "tianshu_store_commit_seconds",
                "Time to commit one batch, durable.",
                vec![
                    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            queue_points,
            commit_errors: counter(
                "tianshu_store_commit_errors_total",
                "Group commits that failed; their appends were answered with the error.",
            ),
            fanout_lagged_batches: counter(
                "tianshu_store_fanout_lagged_batches_total",
                "Committed batches a lagging subscriber missed.",
            ),
            follow_deferred_points: counter(
                "tianshu_store_follow_deferred_points_total",
                "Committed points a lagging follower is to read back from the store instead of its queue.",
            ),
            follow_catch_ups: counter(
                "tianshu_store_follow_catch_ups_total",
                "Times a lagging follower caught up from the store.",
            ),
            follow_caught_up_points: counter(
                "tianshu_store_follow_caught_up_points_total",
                "Points followers read back from the store to catch up (some may repeat delivered ones).",
            ),
            follow_read_errors: counter(
                "tianshu_store_follow_read_errors_total",
                "Failed reads of a follower catching up (retried).",
            ),
            registry_calls: counter(
                "tianshu_store_registry_calls_total",
                "Terminal lookups and registration writes asked of the registry.",
            ),
            registry_batches: counter(
                "tianshu_store_registry_batches_total",
                "Queries and transactions the registry's lookups and registration writes were coalesced into.",
            ),
            wal_checkpoints: counter(
                "tianshu_store_wal_checkpoints_total",
                "Checkpoints of the embedded store that copied the WAL back and truncated it.",
            ),
            wal_checkpoints_busy: counter(
                "tianshu_store_wal_checkpoints_busy_total",
                "Truncating checkpoints of the embedded store cut short by a reader on an older snapshot or the writer.",
            ),
        }
    })
}

fn register(c: Box<dyn prometheus::core::Collector>) {
    if let Err(e) = prometheus::default_registry().register(c) {
        tracing::warn!(error = %e, "store metric not registered");
    }
}

//! The store's Prometheus metrics: the group-commit writer's and its followers'.

use std::sync::OnceLock;

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};

/// Declares the store's metrics once: each field with its type, its name and its help text.
macro_rules! metrics {
    ($($field:ident: $kind:ident($name:literal, $help:literal $(, $buckets:expr)?);)*) => {
        /// The store's Prometheus metrics (the writer's and its followers'), registered once per process in
        /// the default registry.
        pub(crate) struct Metrics {
            $(pub(crate) $field: $kind,)*
        }

        pub(crate) fn metrics() -> &'static Metrics {
            static METRICS: OnceLock<Metrics> = OnceLock::new();
            METRICS.get_or_init(|| Metrics {
                $($field: register($kind::with_opts(opts!($name, $help $(, $buckets)?))),)*
            })
        }
    };
}

/// The options of a counter or gauge, or with buckets of a histogram.
macro_rules! opts {
    ($name:literal, $help:literal) => {
        prometheus::Opts::new($name, $help)
    };
    ($name:literal, $help:literal, $buckets:expr) => {
        HistogramOpts::new($name, $help).buckets($buckets.to_vec())
    };
}

metrics! {
    points_stored: IntCounter("tianshu_store_points_stored_total", "Track points newly stored.");
    points_duplicate: IntCounter(
        "tianshu_store_points_duplicate_total",
        "Track points that were already stored (retransmissions, backfills, redeliveries)."
    );
    batch_points: Histogram(
        "tianshu_store_batch_points",
        "Points per group commit.",
        [1.0, 10.0, 50.0, 100.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0, 25_000.0]
    );
    commit_seconds: Histogram(
        "tianshu_store_commit_seconds",
        "Time to commit one batch, durable.",
        [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
    );
    damaged_blocks: IntCounter(
        "tianshu_store_damaged_blocks_total",
        "Reads that met a track block that does not decode (its day is left out of the track)."
    );
    queue_points: IntGauge("tianshu_store_queue_points", "Points waiting for the store writer.");
    commit_errors: IntCounter(
        "tianshu_store_commit_errors_total",
        "Group commits that failed; their appends were answered with the error."
    );
    fanout_lagged_batches: IntCounter(
        "tianshu_store_fanout_lagged_batches_total",
        "Committed batches a lagging subscriber missed."
    );
    follow_deferred_points: IntCounter(
        "tianshu_store_follow_deferred_points_total",
        "Committed points a lagging follower is to read back from the store instead of its queue."
    );
    follow_catch_ups: IntCounter(
        "tianshu_store_follow_catch_ups_total",
        "Times a lagging follower caught up from the store."
    );
    follow_caught_up_points: IntCounter(
        "tianshu_store_follow_caught_up_points_total",
        "Points followers read back from the store to catch up (some may repeat delivered ones)."
    );
    follow_read_errors: IntCounter(
        "tianshu_store_follow_read_errors_total",
        "Failed reads of a follower catching up (retried)."
    );
    registry_calls: IntCounter(
        "tianshu_store_registry_calls_total",
        "Terminal lookups and registration writes asked of the registry."
    );
    registry_batches: IntCounter(
        "tianshu_store_registry_batches_total",
        "Queries and transactions the registry's lookups and registration writes were coalesced into."
    );
    wal_checkpoints: IntCounter(
        "tianshu_store_wal_checkpoints_total",
        "Checkpoints of the embedded store that copied the WAL back and truncated it."
    );
    wal_checkpoints_busy: IntCounter(
        "tianshu_store_wal_checkpoints_busy_total",
        "Truncating checkpoints of the embedded store cut short by a reader on an older snapshot or the writer."
    );
}

/// Registers a metric made with `made` in the default registry; a failure is logged, the metric still counts.
fn register<M: Collector + Clone + 'static>(made: prometheus::Result<M>) -> M {
    let m = made.unwrap_or_else(|e| unreachable!("bad store metric: {e}"));
    if let Err(e) = prometheus::default_registry().register(Box::new(m.clone())) {
        tracing::warn!(error = %e, "store metric not registered");
    }
    m
}

/// The health of TimescaleDB's policy jobs on `points`, by policy (`compression`, `retention`); set from
/// TimescaleDB's catalogue about once a minute while `points` is a hypertable.
pub(crate) struct TimescaleJobMetrics {
    /// `tianshu_store_timescaledb_job_last_run_timestamp_seconds`.
    pub(crate) last_run: prometheus::IntGaugeVec,
    /// `tianshu_store_timescaledb_job_last_success_timestamp_seconds`.
    pub(crate) last_success: prometheus::IntGaugeVec,
    /// `tianshu_store_timescaledb_job_consecutive_failures`.
    pub(crate) consecutive_failures: prometheus::IntGaugeVec,
}

/// The TimescaleDB job metrics, registered on first use.
pub(crate) fn timescale_jobs() -> &'static TimescaleJobMetrics {
    static METRICS: OnceLock<TimescaleJobMetrics> = OnceLock::new();
    let gauge = |name: &str, help: &str| {
        register(prometheus::IntGaugeVec::new(
            prometheus::Opts::new(name, help),
            &["policy"],
        ))
    };
    METRICS.get_or_init(|| TimescaleJobMetrics {
        last_run: gauge(
            "tianshu_store_timescaledb_job_last_run_timestamp_seconds",
            "When a TimescaleDB policy job on points last started (Unix seconds; 0: never).",
        ),
        last_success: gauge(
            "tianshu_store_timescaledb_job_last_success_timestamp_seconds",
            "When a TimescaleDB policy job on points last finished successfully (Unix seconds; 0: never).",
        ),
        consecutive_failures: gauge(
            "tianshu_store_timescaledb_job_consecutive_failures",
            "Failed runs of a TimescaleDB policy job on points since its last success.",
        ),
    })
}

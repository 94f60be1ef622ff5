//! The PostgreSQL / TimescaleDB backend.
//!
//! Connections come from a deadpool pool; a connection broken by a database restart is dropped on
//! return and a new one is made on the next use, so the store reconnects by itself, and while the
//! database is down every call fails fast with [`Error::Unavailable`] (nothing is acknowledged).
//!
//! Points arrive by binary COPY straight into `points` when none of them is stored yet (live points),
//! and otherwise by COPY into a per-connection temporary staging table, then one
//! `INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING` moves them into `points`; sessions are
//! started with `synchronous_commit = on`, so every commit is durable when it returns (see `points.rs`).
//! `latest_positions` is written behind the commits, once per `latest_flush_ms` for the whole fleet,
//! and repaired from `points` at open (see `latest.rs`).
//! With TimescaleDB, `points` is a hypertable (see `timescale.rs`); without it, it is partitioned by China
//! day, and the partitions of days packed into blocks are dropped (see `partitions.rs`).
//!
//! Areas add their own `impl Trait for PostgresBackend` in a file of this module, using
//! [`PostgresBackend::client`].

mod blocks;
mod connect;
mod copy;
mod latest;
mod partitions;
mod points;
mod sql;
mod timescale;
pub mod timescale_plan;
mod typed;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde::{Deserialize, Serialize};

pub use connect::connections_ended;

use crate::migrate;
use crate::{Error, Result};

/// Settings of the PostgreSQL backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// Connections in the pool (the writer uses one at a time; reads use the rest).
    pub pool_size: usize,
    /// How long to wait for a connection to be made or handed out before failing the call.
    pub connect_timeout_secs: u64,
    /// Daily partitions created ahead of today (without TimescaleDB); a point dated further ahead goes to the
    /// default partition.
    pub partition_days_ahead: u32,
    /// Partitions are created back to the day this many days before now (without TimescaleDB); an
    /// older point goes to the default partition. Not read from this section: `tianshu serve` sets it to
    /// `[uplink] far_past_days`, the age beyond which a fix is already unusual.
    #[serde(skip)]
    pub partition_days_behind: u32,
    /// With TimescaleDB: compress chunks older than this many days (none when absent; an existing policy is
    /// then removed).
    pub compress_after_days: Option<u32>,
    /// With TimescaleDB: drop chunks older than this many days (none when absent: keep everything; an
    /// existing policy is then removed).
    pub retain_days: Option<u32>,
    /// With TimescaleDB: days of fix time per chunk, for chunks made from now on. TimescaleDB's guidance is
    /// that the chunks being written (with their indexes) fit in about a quarter of the server's memory: a
    /// city's fleet writes well under that in a week.
    pub chunk_days: u32,
    /// How often the newest committed point of each vehicle is written to `latest_positions` (one
    /// statement for the whole fleet), in milliseconds. Reads through this process see them at once;
    /// another process reading the table sees them at most this late.
    pub latest_flush_ms: u64,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            pool_size: 8,
            connect_timeout_secs: 5,
            partition_days_ahead: 3,
            partition_days_behind: 30,
            compress_after_days: None,
            retain_days: None,
            chunk_days: 7,
            latest_flush_ms: 1_000,
        }
    }
}

/// The PostgreSQL backend.
pub struct PostgresBackend {
    /// The connection pool.
    pool: Pool,
    /// Whether `points` is a TimescaleDB hypertable (no partitions to manage).
    hypertable: bool,
    /// China days whose partition is known to exist.
    partitions: Mutex<HashSet<i64>>,
    /// Which days get a partition of their own: `(days behind now, days ahead)`.
    window: (u32, u32),
    /// Keeps the partition-maintenance task alive exactly as long as the backend.
    _alive: Arc<()>,
    /// Batches to commit through the staging table before trying the direct COPY again.
    pub(crate) fast_path_rest: std::sync::atomic::AtomicU32,
    /// Parts a large group commit may be split into, committed at once on their own connections:
    /// with two commits in flight, at least two connections stay for reads.
    pub(crate) max_commit_parts: usize,
    /// Newest committed points per vehicle not yet written to `latest_positions` (see `latest.rs`).
    pub(crate) latest: Arc<latest::PendingLatest>,
    /// The TimescaleDB policy jobs' health as last read (empty without a hypertable), for `/readyz`.
    jobs: Arc<Mutex<Vec<timescale_plan::JobHealth>>>,
}

/// A driver error is the store's, keeping the server's message.
impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Error {
        match e.as_db_error() {
            Some(db) => Error::Unavailable(format!("postgres {}: {}", db.code().code(), db.message())),
            None => {
                let mut msg = format!("postgres: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    msg.push_str(&format!(": {s}"));
                    source = s.source();
                }
                Error::Unavailable(msg)
            }
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Error {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Error::from(e),
            other => Error::Unavailable(format!("postgres: {other}")),
        }
    }
}

impl PostgresBackend {
    /// Connects, applies pending migrations and prepares partitions (or TimescaleDB policies).
    pub async fn open(url: &str, config: &PostgresConfig) -> Result<PostgresBackend> {
        let mut pg: tokio_postgres::Config = url.parse().map_err(|e| Error::BadUrl {
            url: url.to_string(),
            reason: format!("{e}"),
        })?;
        let timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(timeout);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("tianshu");
        }
        // Every commit is durable when it returns, whatever the server's or the role's default: set
        // in the startup packet, so it costs no round trip per transaction.
        let options = match pg.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} -c synchronous_commit=on"),
            _ => "-c synchronous_commit=on".to_string(),
        };
        pg.options(options);
        let manager = Manager::from_connect(
            pg,
            connect::CleanEnd,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|e| Error::Unavailable(format!("postgres pool: {e}")))?;
        let backend = PostgresBackend {
            pool,
            hypertable: false,
            partitions: Mutex::new(HashSet::new()),
            window: (config.partition_days_behind, config.partition_days_ahead),
            _alive: Arc::new(()),
            fast_path_rest: std::sync::atomic::AtomicU32::new(0),
            max_commit_parts: (config.pool_size.max(2).saturating_sub(2) / 2).clamp(1, 4),
            latest: Arc::default(),
            jobs: Arc::default(),
        };
        let mut client = backend.client().await.map_err(|e| match e {
            Error::Unavailable(m) => Error::Unavailable(format!(
                "cannot connect to {}: {m}",
                tianshu_model::redact_url(url)
            )),
            other => other,
        })?;
        let create = "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, \
                      name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
        migrate::apply_all(create, migrate::POSTGRES, |w| backend.write_tx(w)).await?;
        let hypertable = points_is_hypertable(&client).await?;
        tracing::info!(
            layout = if hypertable {
                "TimescaleDB hypertable"
            } else {
                "plain PostgreSQL, daily partitions"
            },
            "points layout, from the catalogue"
        );
        check_policies(hypertable, config)?;
        if hypertable {
            timescale::reconcile(&mut client, config).await?;
        }
        latest::repair(&mut client, config.partition_days_behind, hypertable).await?;
        drop(client);
        let mut backend = backend;
        backend.hypertable = hypertable;
        if hypertable {
            timescale::spawn_health(
                backend.pool.clone(),
                backend.jobs.clone(),
                Arc::downgrade(&backend._alive),
            );
        } else {
            backend.ensure_partitions_ahead().await?;
            backend.spawn_partition_maintenance();
        }
        backend.latest.spawn_flusher(
            backend.pool.clone(),
            Duration::from_millis(config.latest_flush_ms.max(1)),
            Arc::downgrade(&backend._alive),
        );
        Ok(backend)
    }

    /// Whether `points` is a TimescaleDB hypertable (see [`points_is_hypertable`]).
    pub fn is_hypertable(&self) -> bool {
        self.hypertable
    }

    /// The TimescaleDB policy jobs' health as last read (empty without a hypertable).
    pub fn job_health(&self) -> Vec<timescale_plan::JobHealth> {
        self.jobs.lock().map(|j| j.clone()).unwrap_or_default()
    }

    /// A pooled connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(Error::from)
    }

    /// Closes the pool: idle connections end now (with Terminate), those in use when they come back, and
    /// no more are made. The background tasks holding the pool fail their next use and stop with the backend.
    pub(crate) fn close_pool(&self) {
        self.pool.close();
    }
}

/// A dropped backend's connections end cleanly, even when nobody closed the store.
impl Drop for PostgresBackend {
    fn drop(&mut self) {
        self.close_pool();
    }
}

/// Whether `points` is a TimescaleDB hypertable, as TimescaleDB's catalogue says
/// (`timescaledb_information.hypertables`), not whether the extension is installed: a database that got the
/// extension after its schema was made keeps plain partitioned `points`.
async fn points_is_hypertable(client: &deadpool_postgres::Object) -> Result<bool> {
    let extension: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
            &[],
        )
        .await?
        .get(0);
    if !extension {
        return Ok(false);
    }
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables \
             WHERE hypertable_schema = current_schema() AND hypertable_name = 'points')",
            &[],
        )
        .await?
        .get(0))
}

/// Refuses TimescaleDB policy keys on a `points` table that is not a hypertable, naming the fix.
fn check_policies(hypertable: bool, config: &PostgresConfig) -> Result<()> {
    let keys: Vec<&str> = [
        ("compress_after_days", config.compress_after_days.is_some()),
        ("retain_days", config.retain_days.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    if hypertable || keys.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "[store.postgres] {} set, but points is not a TimescaleDB hypertable in this database (plain PostgreSQL \
         packs old days into track blocks instead): unset them, or convert points to a hypertable first \
         (deploy/OPERATIONS.md, \"Retention and compression\")",
        keys.join(" and ")
    )))
}

//! TimescaleDB: every statement Tianshu sends it, the reconciliation at open and the policy jobs' health.
//!
//! At every open of a database whose `points` is a hypertable, in one transaction under an advisory lock
//! (two processes opening at once reconcile one after the other): the release is checked against
//! [`MIN_TIMESCALEDB`]; the chunk interval is set when it differs from `chunk_days` (it applies to chunks
//! made from then on); the compression settings are changed only when they differ from what
//! `timescaledb_information.compression_settings` lists (releases before 2.14 refuse to change them once a
//! chunk is compressed); each policy job is kept, added, replaced (removed and added anew, when its age
//! differs) or removed (its key unset), as [`plan_policies`] decides from `timescaledb_information.jobs`;
//! and what is in effect is logged. Then, about once a minute, the jobs' health
//! (`timescaledb_information.job_stats`, `job_errors`) is read into metrics and `/readyz`'s detail.
//!
//! The statements follow TimescaleDB's documented API (`add_compression_policy`,
//! `remove_compression_policy`, `add_retention_policy`, `remove_retention_policy`,
//! `set_chunk_time_interval`, `ALTER TABLE ... SET (timescaledb.compress ...)`) and its
//! `timescaledb_information` views; nothing reads its internal schemas.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::PostgresConfig;
use super::timescale_plan::{
    CompressionColumn, JobHealth, MIN_TIMESCALEDB, ORDER_BY, PolicyAction, PolicyJob, PolicyKind, SEGMENT_BY,
    check_version, chunk_interval_differs, compression_differs, plan_policies,
};
use super::typed;
use crate::{Error, Result};

/// Serialises the reconciliation among processes opening the same database ("tsdbpol" in ASCII).
const RECONCILE_LOCK: i64 = 0x0074_7364_6270_6f6c;

/// The installed release.
const VERSION: &str = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'";

/// The chunk interval of `points`, in seconds.
const CHUNK_INTERVAL: &str = "SELECT extract(epoch FROM time_interval)::bigint FROM timescaledb_information.dimensions \
     WHERE hypertable_schema = current_schema() AND hypertable_name = 'points' AND column_name = 'fix_time'";

/// Sets the interval of chunks made from now on.
const SET_CHUNK_INTERVAL: &str = "SELECT set_chunk_time_interval('points', make_interval(days => $1))";

/// The compression settings of `points`, a row per segment-by or order-by column.
const COMPRESSION_SETTINGS: &str = "SELECT attname::text, segmentby_column_index::integer, \
     orderby_column_index::integer, orderby_asc FROM timescaledb_information.compression_settings \
     WHERE hypertable_schema = current_schema() AND hypertable_name = 'points'";

/// The policy jobs of `points`, with their age in seconds.
const POLICY_JOBS: &str = "SELECT job_id, proc_name::text, \
     extract(epoch FROM coalesce(config->>'compress_after', config->>'drop_after')::interval)::bigint \
     FROM timescaledb_information.jobs \
     WHERE hypertable_schema = current_schema() AND hypertable_name = 'points' \
     AND proc_name IN ('policy_compression', 'policy_retention') ORDER BY job_id";

/// Each policy job's last run, last success and the failures since.
const JOB_HEALTH: &str = "SELECT j.job_id, j.proc_name::text, s.last_run_started_at, s.last_successful_finish, \
     (SELECT count(*) FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id \
      AND e.start_time > coalesce(s.last_successful_finish, '-infinity'::timestamptz)) \
     FROM timescaledb_information.jobs j \
     LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id \
     WHERE j.hypertable_schema = current_schema() AND j.hypertable_name = 'points' \
     AND j.proc_name IN ('policy_compression', 'policy_retention') ORDER BY j.job_id";

/// The statement that adds a policy of `kind` (`$1`: its age in days).
fn add_policy(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Compression => {
            "SELECT add_compression_policy('points', compress_after => make_interval(days => $1))"
        }
        PolicyKind::Retention => {
            "SELECT add_retention_policy('points', drop_after => make_interval(days => $1))"
        }
    }
}

/// The statement that removes the policy of `kind`.
fn remove_policy(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Compression => "SELECT remove_compression_policy('points', if_exists => true)",
        PolicyKind::Retention => "SELECT remove_retention_policy('points', if_exists => true)",
    }
}

/// Enables compression with Tianshu's settings ([`SEGMENT_BY`], [`ORDER_BY`]).
fn enable_compression() -> String {
    format!(
        "ALTER TABLE points SET (timescaledb.compress, timescaledb.compress_segmentby = '{}', \
         timescaledb.compress_orderby = '{}')",
        SEGMENT_BY.join(", "),
        ORDER_BY.join(", ")
    )
}

/// A configured age in days as the `integer` `make_interval` takes.
fn days_param(days: u32) -> Result<i32> {
    i32::try_from(days).map_err(|_| Error::invalid(format!("{days} days is out of range")))
}

/// Brings TimescaleDB's settings and policy jobs on `points` to `config` (see the module's documentation).
pub(crate) async fn reconcile(client: &mut deadpool_postgres::Object, config: &PostgresConfig) -> Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&RECONCILE_LOCK])
        .await?;
    let version: String = tx.query_one(VERSION, &[]).await?.try_get(0)?;
    check_version(&version).map_err(Error::invalid)?;

    // Once: the packed layout's hypertable becomes the typed one (see `typed.rs`).
    let packed: bool = tx.query_one(typed::HAS_PACKED_RECORD, &[]).await?.try_get(0)?;
    if packed {
        tracing::info!(
            chunk_days = config.chunk_days,
            "TimescaleDB points: converting the packed records into typed columns (once; the rows are copied)"
        );
        for statement in typed::conversion(config.chunk_days) {
            tx.batch_execute(&statement).await?;
        }
    }

    let current: Option<i64> = tx
        .query_opt(CHUNK_INTERVAL, &[])
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    if chunk_interval_differs(current, config.chunk_days) {
        tx.execute(SET_CHUNK_INTERVAL, &[&days_param(config.chunk_days.max(1))?])
            .await?;
        tracing::info!(
            from_secs = ?current,
            chunk_days = config.chunk_days,
            "TimescaleDB chunk interval changed (for chunks made from now on)"
        );
    }

    reconcile_compression(&tx, config).await?;
    reconcile_policies(&tx, config).await?;
    tx.commit().await?;
    let (a, b, c) = MIN_TIMESCALEDB;
    tracing::info!(
        version = %version,
        minimum = %format!("{a}.{b}.{c}"),
        chunk_days = config.chunk_days,
        compress_after_days = ?config.compress_after_days,
        retain_days = ?config.retain_days,
        "TimescaleDB settings in effect"
    );
    Ok(())
}

/// Sets the compression settings of `points` when compression is configured and they differ.
async fn reconcile_compression(
    tx: &deadpool_postgres::Transaction<'_>,
    config: &PostgresConfig,
) -> Result<()> {
    if config.compress_after_days.is_none() {
        return Ok(());
    }
    let rows = tx.query(COMPRESSION_SETTINGS, &[]).await?;
    let settings = rows
        .iter()
        .map(|r| {
            Ok(CompressionColumn {
                column: r.try_get(0)?,
                segmentby_index: r.try_get(1)?,
                orderby_index: r.try_get(2)?,
                orderby_asc: r.try_get(3)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, tokio_postgres::Error>>()?;
    if compression_differs(&settings) {
        tx.batch_execute(&enable_compression()).await?;
        tracing::info!(
            segment_by = ?SEGMENT_BY,
            order_by = ?ORDER_BY,
            "TimescaleDB compression settings of points set"
        );
    }
    Ok(())
}

/// Brings the compression and retention policy jobs to the configured days (`plan_policies`).
async fn reconcile_policies(tx: &deadpool_postgres::Transaction<'_>, config: &PostgresConfig) -> Result<()> {
    let mut jobs = Vec::new();
    for r in tx.query(POLICY_JOBS, &[]).await? {
        let proc_name: String = r.try_get(1)?;
        if let Some(kind) = PolicyKind::of_proc(&proc_name) {
            jobs.push(PolicyJob {
                job_id: r.try_get(0)?,
                kind,
                after_secs: r.try_get(2)?,
            });
        }
    }
    let days = |kind| match kind {
        PolicyKind::Compression => config.compress_after_days,
        PolicyKind::Retention => config.retain_days,
    };
    for action in plan_policies(&jobs, days) {
        match action {
            PolicyAction::Keep { kind, days } => {
                tracing::info!(
                    policy = kind.label(),
                    days,
                    "TimescaleDB policy in effect, unchanged"
                );
            }
            PolicyAction::Add { kind, days } => {
                tx.execute(add_policy(kind), &[&days_param(days)?]).await?;
                tracing::info!(policy = kind.label(), days, "TimescaleDB policy added");
            }
            PolicyAction::Replace { kind, job_id, days } => {
                tx.execute(remove_policy(kind), &[]).await?;
                tx.execute(add_policy(kind), &[&days_param(days)?]).await?;
                tracing::info!(
                    policy = kind.label(),
                    old_job = job_id,
                    days,
                    "TimescaleDB policy replaced"
                );
            }
            PolicyAction::Remove { kind, job_id } => {
                tx.execute(remove_policy(kind), &[]).await?;
                tracing::info!(
                    policy = kind.label(),
                    job = job_id,
                    key = kind.key(),
                    "TimescaleDB policy removed: its key is unset"
                );
            }
        }
    }
    Ok(())
}

/// The policy jobs' health, from TimescaleDB's views.
pub(crate) async fn job_health(client: &tokio_postgres::Client) -> Result<Vec<JobHealth>> {
    let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
    let mut out = Vec::new();
    for r in client.query(JOB_HEALTH, &[]).await? {
        let proc_name: String = r.try_get(1)?;
        let Some(kind) = PolicyKind::of_proc(&proc_name) else {
            continue;
        };
        out.push(JobHealth {
            kind,
            job_id: r.try_get(0)?,
            last_run_ms: ms(r.try_get(2)?),
            last_success_ms: ms(r.try_get(3)?),
            consecutive_failures: r.try_get::<_, i64>(4)?.max(0) as u64,
        });
    }
    Ok(out)
}

/// Sets the job metrics to `health` (jobs gone since the last reading leave the metrics).
fn publish(health: &[JobHealth]) {
    let m = crate::metrics::timescale_jobs();
    m.last_run.reset();
    m.last_success.reset();
    m.consecutive_failures.reset();
    for h in health {
        let policy = [h.kind.label()];
        let secs = |ms: Option<i64>| ms.map_or(0, |ms| ms.div_euclid(1000));
        m.last_run.with_label_values(&policy).set(secs(h.last_run_ms));
        m.last_success
            .with_label_values(&policy)
            .set(secs(h.last_success_ms));
        m.consecutive_failures
            .with_label_values(&policy)
            .set(i64::try_from(h.consecutive_failures).unwrap_or(i64::MAX));
    }
}

/// How often the jobs' health is read.
const HEALTH_EVERY: Duration = Duration::from_secs(60);

/// Reads the jobs' health now and then every [`HEALTH_EVERY`] into `slot` and the metrics, until `alive` is
/// gone; a failed reading is logged and the last one kept.
pub(crate) fn spawn_health(pool: deadpool_postgres::Pool, slot: Arc<Mutex<Vec<JobHealth>>>, alive: Weak<()>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEALTH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            let read = match pool.get().await {
                Ok(c) => job_health(&c).await,
                Err(e) => Err(Error::from(e)),
            };
            match read {
                Ok(health) => {
                    publish(&health);
                    for h in health.iter().filter(|h| h.consecutive_failures > 0) {
                        tracing::warn!(detail = %h.describe(), "a TimescaleDB policy job is failing");
                    }
                    if let Ok(mut s) = slot.lock() {
                        *s = health;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading TimescaleDB job health failed; will retry"),
            }
        }
    });
}

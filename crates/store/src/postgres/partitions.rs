//! The partitions of plain PostgreSQL's `points`: one per China day, so that a day packed into blocks
//! leaves the row table and its key index whole, by dropping its partition, instead of leaving deleted
//! rows and index pages behind (a month loaded and packed kept 185 bytes a point of empty index pages).
//!
//! Partitions are created ahead of need (today and [`PostgresConfig::partition_days_ahead`] days after, at
//! open and hourly) and on demand for a backfill into an older day, but only for the days of a bounded
//! window around now ([`PostgresConfig::partition_days_behind`] before): a point dated outside it goes to
//! the `DEFAULT` partition, so a flood of odd dates cannot create a partition per day it names. A day that
//! enters the window takes its rows out of the default partition when its partition is created. After a
//! compaction, every partition wholly before the packed boundary that is empty is dropped, under the
//! exclusive blocks lock (no commit into a past day is under way) and a short lock timeout (a long replay
//! holding the table only postpones the drop to the next compaction). Monthly partitions of databases made
//! before (`points_y2026m11`) stay as they are, take the days they cover, and are dropped the same way once
//! their month is packed.
//!
//! [`PostgresConfig::partition_days_ahead`]: super::PostgresConfig::partition_days_ahead
//! [`PostgresConfig::partition_days_behind`]: super::PostgresConfig::partition_days_behind

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tianshu_model::Timestamp;
use tianshu_model::block::{china_day, china_day_start};
use tokio_postgres::error::SqlState;

use super::PostgresBackend;
use crate::{Error, Result};

/// The China day of a UTC millisecond instant, the key of a partition.
pub(crate) fn day_of(ms: i64) -> i64 {
    china_day(Timestamp(ms))
}

/// The calendar date of China day `day`.
fn date_of(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(day))
}

/// The name of day `day`'s partition: `points_d20261207` (the China date).
pub(crate) fn partition_name(day: i64) -> Option<String> {
    let date = date_of(day).filter(|d| (1..=9998).contains(&d.year()))?;
    Some(format!("points_d{}", date.format("%Y%m%d")))
}

/// The fix times (Unix ms, `[from, to)`) a partition of Tianshu's holds, from its name: a day's
/// (`points_d20261207`) or, in databases made before days, a UTC month's (`points_y2026m11`).
pub(crate) fn partition_span(name: &str) -> Option<(i64, i64)> {
    if let Some(date) = name.strip_prefix("points_d") {
        let date = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
        let day = (date - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days();
        return Some((china_day_start(day).0, china_day_start(day + 1).0));
    }
    let rest = name.strip_prefix("points_y")?;
    let (year, month) = rest.split_once('m')?;
    let (year, month): (i32, u32) = (year.parse().ok()?, month.parse().ok()?);
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let ms = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
    Some((ms(first)?, ms(next)?))
}

/// A partition bound literal for a Unix ms instant.
fn bound(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.3f+00")))
}

/// Today (China time) and the `days_ahead` after it.
fn ahead(days_ahead: u32) -> std::ops::RangeInclusive<i64> {
    let today = day_of(Utc::now().timestamp_millis());
    today..=today + i64::from(days_ahead)
}

impl PostgresBackend {
    /// Creates today's partition and those of the days ahead the window holds.
    pub(super) async fn ensure_partitions_ahead(&self) -> Result<()> {
        let days: Vec<i64> = ahead(self.window.1).collect();
        self.ensure_partitions(&days).await
    }

    pub(super) fn spawn_partition_maintenance(&self) {
        let alive = Arc::downgrade(&self._alive);
        let pool = self.pool.clone();
        let days_ahead = self.window.1;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            tick.tick().await;
            loop {
                tick.tick().await;
                if alive.upgrade().is_none() {
                    break;
                }
                for day in ahead(days_ahead) {
                    let result = match pool.get().await {
                        Ok(c) => create_partition(&c, day).await,
                        Err(e) => Err(Error::from(e)),
                    };
                    if let Err(e) = result {
                        tracing::warn!(error = %e, day, "creating a points partition ahead failed; will retry");
                    }
                }
            }
        });
    }

    /// Makes sure the partitions of these China days exist, those inside the window (no-op with
    /// TimescaleDB); the others' points go to the default partition.
    pub(crate) async fn ensure_partitions(&self, days: &[i64]) -> Result<()> {
        if self.hypertable {
            return Ok(());
        }
        let now = Utc::now().timestamp_millis();
        let behind = day_of(now.saturating_sub(i64::from(self.window.0) * 86_400_000));
        let window = behind..=day_of(now) + i64::from(self.window.1);
        let missing: Vec<i64> = {
            let known = self
                .partitions
                .lock()
                .map_err(|_| Error::Unavailable("partition cache poisoned".into()))?;
            days.iter()
                .copied()
                .filter(|d| window.contains(d) && !known.contains(d))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        for day in missing {
            create_partition(&client, day).await?;
            if let Ok(mut known) = self.partitions.lock() {
                known.insert(day);
            }
        }
        Ok(())
    }

    /// Drops every partition whose days all lie before `end` (Unix ms) and that holds no row: the days
    /// compaction packed. Returns how many were dropped; one that cannot be dropped now (a reader holds the
    /// table) is left for the next compaction.
    pub(crate) async fn drop_packed_partitions(&self, end: i64, blocks_lock: i64) -> Result<u64> {
        if self.hypertable {
            return Ok(0);
        }
        let mut client = self.client().await?;
        let names: Vec<String> = client
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'points'::regclass",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        let mut dropped = 0;
        for name in names {
            if partition_span(&name).is_none_or(|(_, to)| to > end) {
                continue;
            }
            let tx = client.transaction().await?;
            tx.batch_execute("SET LOCAL lock_timeout = '2s'").await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&blocks_lock])
                .await?;
            let sql = format!("SELECT EXISTS (SELECT 1 FROM {name})");
            if tx.query_one(&sql, &[]).await?.try_get::<_, bool>(0)? {
                continue;
            }
            match tx.batch_execute(&format!("DROP TABLE {name}")).await {
                Ok(()) => {
                    tx.commit().await?;
                    dropped += 1;
                    tracing::info!(partition = %name, "a packed day's empty partition dropped");
                }
                Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                    tracing::info!(partition = %name, "a packed partition is in use; dropped at a later compaction");
                }
                Err(e) => return Err(Error::from(e)),
            }
        }
        if dropped > 0
            && let Ok(mut known) = self.partitions.lock()
        {
            known.clear();
        }
        Ok(dropped)
    }
}

/// Creates the partition of China day `day` unless it (or a monthly partition covering it) exists,
/// moving the day's rows out of the default partition in the same transaction (PostgreSQL refuses a
/// partition whose rows the default holds).
async fn create_partition(client: &tokio_postgres::Client, day: i64) -> Result<()> {
    let name = partition_name(day)
        .ok_or_else(|| Error::invalid(format!("fix time on day {day} is out of range")))?;
    let exists = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await?;
    if exists.get::<_, bool>(0) {
        return Ok(());
    }
    let (Some(from), Some(to)) = (bound(china_day_start(day).0), bound(china_day_start(day + 1).0)) else {
        return Err(Error::invalid(format!("fix time on day {day} is out of range")));
    };
    // One implicit transaction (a simple query of several statements).
    let sql = format!(
        "CREATE TEMP TABLE moving (LIKE points) ON COMMIT DROP; \
         WITH gone AS (DELETE FROM points_default WHERE fix_time >= {from} AND fix_time < {to} RETURNING *) \
         INSERT INTO moving SELECT * FROM gone; \
         CREATE TABLE IF NOT EXISTS {name} PARTITION OF points FOR VALUES FROM ({from}) TO ({to}); \
         INSERT INTO points SELECT * FROM moving"
    );
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        // Another process created it at the same moment, or a monthly partition of an older database
        // covers the day already.
        Err(e)
            if e.code() == Some(&SqlState::DUPLICATE_TABLE)
                || e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                || e.code() == Some(&SqlState::INVALID_OBJECT_DEFINITION) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_partition_holds_one_china_day() {
        // 2026-12-07 in China: 2026-12-06T16:00Z up to 2026-12-07T16:00Z.
        let from = DateTime::parse_from_rfc3339("2026-12-06T16:00:00Z")
            .unwrap()
            .timestamp_millis();
        let day = day_of(from);
        assert_eq!(day_of(from - 1), day - 1);
        assert_eq!(partition_name(day).as_deref(), Some("points_d20261207"));
        assert_eq!(
            partition_span("points_d20261207"),
            Some((from, from + 86_400_000))
        );
        assert_eq!(bound(from).as_deref(), Some("'2026-12-06 16:00:00.000+00'"));
    }

    #[test]
    fn monthly_partitions_of_older_databases_are_read_by_their_names() {
        let ms = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        assert_eq!(
            partition_span("points_y2026m11"),
            Some((ms("2026-11-01T00:00:00Z"), ms("2026-12-01T00:00:00Z")))
        );
        assert_eq!(
            partition_span("points_y2026m12"),
            Some((ms("2026-12-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")))
        );
        for other in [
            "points_default",
            "points_y2026m13",
            "points_dx",
            "latest_positions",
        ] {
            assert_eq!(partition_span(other), None, "{other}");
        }
    }
}

//! `latest_positions`, written behind the point commits.
//!
//! A point commit does not touch `latest_positions`. It records the newest committed point of each
//! vehicle here ([`PendingLatest::offer`]), and a task writes everything recorded, at most every
//! `latest_flush_ms`, in one statement. Moving the table inside every commit cost one row update per
//! vehicle per commit, which at a fleet's reporting rate is about one update per stored point (the
//! group commits are a few milliseconds apart; each holds about one point per vehicle), and the row
//! locks made two commits in flight wait for each other's fsync. Written behind, it costs one update per
//! vehicle per interval and no lock among point commits.
//!
//! Reads through this backend overlay what is recorded but not yet written, so in this process the latest
//! position is never behind an acknowledged point. Another process reading the table sees it at most one
//! interval (plus the statement) behind. A crash can lose what was recorded and not written: at open,
//! [`repair`] moves each vehicle's row to its newest stored point, so the table never stays behind the
//! points themselves.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tianshu_model::Position;
use tokio_postgres::types::ToSql;

use super::copy::to_datetime;
use crate::record::{REC_FIXED, encode_rec};
use crate::{Error, Result};

/// Newest committed points per vehicle not yet in `latest_positions`.
#[derive(Default)]
pub(crate) struct PendingLatest {
    maps: Mutex<Maps>,
    /// Serializes flushes (the timer's and an explicit one), so a write never overtakes another.
    flush_turn: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Maps {
    /// Recorded since the last flush began.
    pending: HashMap<i64, Position>,
    /// Being written by the flush in progress; still overlaid on reads until it commits.
    flushing: HashMap<i64, Position>,
}

/// Keeps the newer (by fix time) of `p` and what `map` holds for its vehicle.
fn keep_newest(map: &mut HashMap<i64, Position>, p: &Position) {
    match map.entry(p.vehicle.0) {
        Entry::Occupied(mut e) => {
            if p.fix_time > e.get().fix_time {
                e.insert(*p);
            }
        }
        Entry::Vacant(e) => {
            e.insert(*p);
        }
    }
}

impl PendingLatest {
    /// Records committed points; only each vehicle's newest is kept.
    pub(crate) fn offer<'a>(&self, points: impl IntoIterator<Item = &'a Position>) {
        let mut maps = self.lock();
        for p in points {
            keep_newest(&mut maps.pending, p);
        }
    }

    /// The newest recorded and unwritten position of `vehicle`.
    pub(crate) fn get(&self, vehicle: i64) -> Option<Position> {
        let maps = self.lock();
        match (maps.pending.get(&vehicle), maps.flushing.get(&vehicle)) {
            (Some(a), Some(b)) => Some(if a.fix_time >= b.fix_time { *a } else { *b }),
            (a, b) => a.or(b).copied(),
        }
    }

    /// Overlays the recorded and unwritten positions on rows read from the table.
    pub(crate) fn overlay(&self, rows: Vec<Position>) -> Vec<Position> {
        // Copied out under the lock, merged after it: the writer's `offer` waits only for the copy.
        let unwritten: Vec<Position> = {
            let maps = self.lock();
            maps.flushing
                .values()
                .chain(maps.pending.values())
                .copied()
                .collect()
        };
        if unwritten.is_empty() {
            return rows;
        }
        let mut by_vehicle: HashMap<i64, Position> = rows.into_iter().map(|p| (p.vehicle.0, p)).collect();
        for p in &unwritten {
            keep_newest(&mut by_vehicle, p);
        }
        let mut out: Vec<Position> = by_vehicle.into_values().collect();
        out.sort_unstable_by_key(|p| p.vehicle.0);
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes everything recorded into `latest_positions`. On failure what was taken is recorded again
    /// (unless something newer was recorded meanwhile) for the next flush, and the error returned.
    pub(crate) async fn flush(&self, pool: &deadpool_postgres::Pool) -> Result<usize> {
        let _turn = self.flush_turn.lock().await;
        let batch: Vec<Position> = {
            let mut maps = self.lock();
            if maps.pending.is_empty() && maps.flushing.is_empty() {
                return Ok(0);
            }
            // What an abandoned flush (a caller that stopped waiting) left unwritten goes again.
            let mut taken = std::mem::take(&mut maps.pending);
            for p in std::mem::take(&mut maps.flushing).values() {
                keep_newest(&mut taken, p);
            }
            maps.flushing = taken;
            maps.flushing.values().copied().collect()
        };
        let written = write(pool, &batch).await;
        let mut maps = self.lock();
        let flushed = std::mem::take(&mut maps.flushing);
        match written {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                for p in flushed.values() {
                    keep_newest(&mut maps.pending, p);
                }
                Err(e)
            }
        }
    }

    /// Flushes every `every` until `alive` is gone; failures are logged and retried next time.
    pub(crate) fn spawn_flusher(
        self: &Arc<Self>,
        pool: deadpool_postgres::Pool,
        every: Duration,
        alive: Weak<()>,
    ) {
        let pending = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (Some(pending), Some(_alive)) = (pending.upgrade(), alive.upgrade()) else {
                    return;
                };
                if let Err(e) = pending.flush(&pool).await {
                    tracing::warn!(error = %e, "writing latest positions failed; retrying at the next interval");
                }
            }
        });
    }
}

/// `INSERT ... ON CONFLICT` that moves `latest_positions` forward only.
const UPSERT_TAIL: &str = "ON CONFLICT (vehicle) DO UPDATE SET fix_time = excluded.fix_time, \
     block_hash = excluded.block_hash, rec = excluded.rec WHERE excluded.fix_time > latest_positions.fix_time";

/// Moves `latest_positions` forward to `newest` (at most one position per vehicle), in one statement.
async fn write(pool: &deadpool_postgres::Pool, newest: &[Position]) -> Result<()> {
    let mut newest: Vec<&Position> = newest.iter().collect();
    // One order everywhere: two writers of overlapping vehicles lock rows in the same order.
    newest.sort_unstable_by_key(|p| p.vehicle.0);
    let vehicle: Vec<i64> = newest.iter().map(|p| p.vehicle.0).collect();
    let fix_time: Vec<DateTime<Utc>> = newest.iter().map(|p| to_datetime(p.fix_time)).collect();
    let block_hash: Vec<i64> = newest.iter().map(|p| p.block_hash()).collect();
    let rec: Vec<Vec<u8>> = newest
        .iter()
        .map(|p| {
            let mut b = Vec::with_capacity(REC_FIXED + 20);
            encode_rec(p, &mut b);
            b
        })
        .collect();
    let client = pool.get().await?;
    let st = client
        .prepare_cached(&format!(
            "INSERT INTO latest_positions (vehicle, fix_time, block_hash, rec)
             SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::int8[], $4::bytea[]) {UPSERT_TAIL}"
        ))
        .await?;
    let params: [&(dyn ToSql + Sync); 4] = [&vehicle, &fix_time, &block_hash, &rec];
    client.execute(&st, &params).await?;
    Ok(())
}

/// How long the repair at open may take before it is given up (logged; the table then stays as it was
/// until the next open, and the next commits move it forward anyway).
const REPAIR_TIMEOUT: &str = "60s";

/// Moves every vehicle's `latest_positions` row forward to its newest stored point, for points whose
/// recorded latest position was lost with the process before it was written. Bounded in time twice: only
/// points with fix times from `days_behind` days before the newest recorded latest position (or now, if
/// earlier) are looked at (a lost write is at most one flush interval old, so a point newer than the
/// recorded latest is a recent one; the bound is a constant, so the planner leaves older partitions and
/// chunks out), and the statement gives up after [`REPAIR_TIMEOUT`]. One backward index probe per registered vehicle.
/// With `typed` (TimescaleDB's typed columns), the record is packed from the columns.
pub(crate) async fn repair(
    client: &mut deadpool_postgres::Object,
    days_behind: u32,
    typed: bool,
) -> Result<u64> {
    let newest_row = if typed {
        format!(
            "p.vehicle, p.fix_time, p.block_hash::bigint, {} AS rec",
            super::typed::pack_expr()
        )
    } else {
        "p.vehicle, p.fix_time, p.block_hash, p.rec".to_string()
    };
    let tx = client.transaction().await?;
    // The newest recorded latest position, or now if that is earlier (a clock far ahead), less the window;
    // without any recorded position (nothing was ever flushed), everything.
    let newest: Option<DateTime<Utc>> = tx
        .query_one("SELECT max(fix_time) FROM latest_positions", &[])
        .await?
        .try_get(0)?;
    let since = newest.map_or(to_datetime(tianshu_model::Timestamp(i64::MIN)), |t| {
        t.min(Utc::now()) - chrono::Duration::days(i64::from(days_behind.max(1)))
    });
    tx.batch_execute(&format!("SET LOCAL statement_timeout = '{REPAIR_TIMEOUT}'"))
        .await?;
    let repaired = tx
        .execute(
            &format!(
                "INSERT INTO latest_positions (vehicle, fix_time, block_hash, rec)
                 SELECT n.vehicle, n.fix_time, n.block_hash, n.rec
                 FROM vehicles v
                 CROSS JOIN LATERAL (
                     SELECT {newest_row} FROM points p
                     WHERE p.vehicle = v.id AND p.fix_time >= $1
                     ORDER BY p.fix_time DESC, p.block_hash DESC
                     LIMIT 1
                 ) n
                 LEFT JOIN latest_positions l ON l.vehicle = n.vehicle
                 WHERE l.vehicle IS NULL OR n.fix_time > l.fix_time
                 {UPSERT_TAIL}"
            ),
            &[&since],
        )
        .await;
    match repaired {
        Ok(n) => {
            tx.commit().await?;
            if n > 0 {
                tracing::info!(
                    vehicles = n,
                    "latest positions moved forward to their newest stored points"
                );
            }
            Ok(n)
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) => {
            tracing::warn!(
                timeout = REPAIR_TIMEOUT,
                "repairing latest positions took too long and was given up; they move forward with the next points"
            );
            Ok(0)
        }
        Err(e) => Err(Error::from(e)),
    }
}

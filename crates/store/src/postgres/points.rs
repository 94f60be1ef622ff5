//! Track points and latest positions in PostgreSQL, and its [`Backend`] implementation.
//!
//! A stored point is its key as columns, `(vehicle, fix_time, block_hash)`, and everything else packed
//! into one `rec bytea` ([`encode_rec`](crate::record), migration 0004). PostgreSQL formats and parses every
//! datum of a row with a function call; with seventeen columns that per-datum cost, not the index scan, was
//! most of a replay and a good part of an ingest. With four, the key index covers the replay (`INCLUDE
//! (rec)`), index tuples are smaller, COPY parses four fields a row, and a replay returns two. The bytes
//! of COPY are in `copy.rs`, the blocks of past days in `blocks.rs`.

use std::io::Cursor;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use tianshu_model::block::may_be_blocked;
use tianshu_model::{Position, Timestamp, VehicleId};

use super::PostgresBackend;
use super::copy::{
    CopyParser, PG_MAX_MILLIS, PG_MIN_MILLIS, PgMillis, Staged, copy_buffer, rec_received, row_to_position,
    timestamptz_literal,
};
use super::partitions::day_of;
use super::typed;
use crate::blocks::{CompactSummary, DamagedBlock, LayerStats, merge_with_blocks};
use crate::sql::tx;
use crate::{Backend, Error, Result, TrackQuery, TrackStream, migrate};

/// The columns of `points`, `latest_positions` and the staging table, in COPY order.
const COLUMNS: &str = "vehicle, fix_time, block_hash, rec";

impl PostgresBackend {
    async fn commit_points_pg(&self, points: &[Position]) -> Result<Vec<bool>> {
        // Key order: index inserts walk the B-tree in order, lock order is the same everywhere, and
        // the first occurrence of each key (in batch order) goes to the database; later repeats in the
        // batch are duplicates.
        let mut staged: Vec<Staged> = points
            .iter()
            .enumerate()
            .map(|(at, p)| Staged {
                vehicle: p.vehicle.0,
                fix_time: p.fix_time.0,
                block_hash: p.block_hash(),
                at,
            })
            .collect();
        staged.sort_unstable_by_key(|r| (r.vehicle, r.fix_time, r.block_hash, r.at));
        staged.dedup_by_key(|r| (r.vehicle, r.fix_time, r.block_hash));
        let mut days: Vec<i64> = staged.iter().map(|r| day_of(r.fix_time)).collect();
        days.sort_unstable();
        days.dedup();
        self.ensure_partitions(&days).await?;

        // A large batch is split by vehicle into parts committed at once on their own connections,
        // so that the server maintains the key index on more than one core. The parts hold disjoint
        // vehicles (no lock between them); the append resolves once every part is durable, and fails
        // if any part fails (a retry then finds the committed parts' points stored: idempotence).
        if staged.is_empty() {
            return Ok(vec![false; points.len()]);
        }
        let parts = split_by_vehicle(
            &staged,
            staged.len().div_ceil(PART_POINTS).clamp(1, self.max_commit_parts),
        );
        let done =
            futures::future::join_all(parts.into_iter().map(|part| self.commit_part(points, part))).await;
        let mut inserted = vec![false; points.len()];
        let mut failed = None;
        let mut committed = 0;
        for part in done {
            match part {
                Ok(new) => {
                    committed += 1;
                    for at in new {
                        inserted[at] = true;
                    }
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            None => Ok(inserted),
            // Nothing committed: the plain error (nothing durable, nothing to fan out).
            Some(e) if committed == 0 => Err(e),
            // Some parts are durable: say which, so that their points still reach subscribers.
            Some(e) => Err(Error::PartlyCommitted {
                inserted,
                cause: e.to_string(),
            }),
        }
    }

    /// Commits the staged rows of one part in one transaction; returns the batch indexes of the
    /// points that were new.
    async fn commit_part(&self, points: &[Position], staged: &[Staged]) -> Result<Vec<usize>> {
        let now = Timestamp::from_datetime(&Utc::now());
        // On TimescaleDB the hypertable's native compression stands in for blocks: there are none.
        if !self.hypertable && staged.iter().any(|r| may_be_blocked(Timestamp(r.fix_time), now)) {
            return self.commit_past_part(points, staged, now).await;
        }
        let copy = copy_buffer(points, staged);
        // Fast path: live points are almost never duplicates, so COPY straight into `points`. If a
        // duplicate is there after all, the transaction fails whole (nothing committed) and the part
        // goes the staging way; the fast path then rests for a few batches (a retransmitting fleet).
        // TimescaleDB's typed `points` takes records only through the staging table, which unpacks them.
        let typed = self.hypertable;
        if !typed && self.fast_path_rest.load(Ordering::Relaxed) == 0 {
            let mut client = self.client().await?;
            match copy_direct(&mut client, copy.clone()).await {
                Ok(()) => {
                    self.latest.offer(newest_per_vehicle(points, staged));
                    return Ok(staged.iter().map(|r| r.at).collect());
                }
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                    self.fast_path_rest
                        .store(FAST_PATH_REST_BATCHES, Ordering::Relaxed);
                }
                Err(e) => return Err(Error::from(e)),
            }
        } else {
            let _ = self
                .fast_path_rest
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }

        // Two overlapping commits that both hold duplicates could deadlock on the key index; the
        // sorted insert makes that rare, and the loser is retried once before anyone sees an error.
        let mut attempt = 0;
        let inserted_rows = loop {
            let mut client = self.client().await?;
            match copy_and_insert(&mut client, copy.clone(), typed).await {
                Ok(rows) => break rows,
                Err(e)
                    if attempt == 0
                        && e.code() == Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED) =>
                {
                    attempt += 1;
                    tracing::debug!(error = %e, "store commit deadlocked; retrying once");
                }
                Err(e) => return Err(Error::from(e)),
            }
        };
        // A staged row that was already stored is never newer than its vehicle's latest position,
        // so the newest of each vehicle may be offered whether or not it was new.
        self.latest.offer(newest_per_vehicle(points, staged));
        inserted_at(&inserted_rows, staged, typed)
    }
}

/// The batch indexes of the staged rows an insert returned (`RETURNING vehicle, fix_time, block_hash`); with
/// `typed` (TimescaleDB) the returned hash is the 32 bits stored ([`typed::hash32`]).
pub(super) fn inserted_at(
    rows: &[tokio_postgres::Row],
    staged: &[Staged],
    typed: bool,
) -> Result<Vec<usize>> {
    let mut inserted = Vec::with_capacity(rows.len());
    for r in rows {
        let (vehicle, fix_time, hash) = (
            r.try_get::<_, i64>(0)?,
            r.try_get::<_, PgMillis>(1)?.0,
            r.try_get::<_, i64>(2)?,
        );
        if !typed {
            if let Ok(i) = staged.binary_search_by_key(&(vehicle, fix_time, hash), |s| {
                (s.vehicle, s.fix_time, s.block_hash)
            }) {
                inserted.push(staged[i].at);
            }
            continue;
        }
        let first = staged.partition_point(|s| (s.vehicle, s.fix_time) < (vehicle, fix_time));
        let same_instant = staged[first..]
            .iter()
            .take_while(|s| (s.vehicle, s.fix_time) == (vehicle, fix_time));
        if let Some(s) = same_instant
            .into_iter()
            .find(|s| typed::hash32(s.block_hash) == hash)
        {
            inserted.push(s.at);
        }
    }
    Ok(inserted)
}

/// The newest of each vehicle's staged rows (rows are in key order: the last of each vehicle's run),
/// so a commit records one position per vehicle, not one per point.
pub(super) fn newest_per_vehicle<'a>(
    points: &'a [Position],
    staged: &'a [Staged],
) -> impl Iterator<Item = &'a Position> {
    staged
        .iter()
        .enumerate()
        .filter(|(i, r)| staged.get(i + 1).is_none_or(|next| next.vehicle != r.vehicle))
        .map(|(_, r)| &points[r.at])
}

/// Points per part a large batch is split into, up to the backend's `max_commit_parts`.
const PART_POINTS: usize = 2_500;

/// Splits rows in key order into up to `parts` runs of about equal length, never splitting a
/// vehicle's rows.
fn split_by_vehicle(staged: &[Staged], parts: usize) -> Vec<&[Staged]> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = staged;
    for k in (1..parts).rev() {
        let mut cut = rest.len() - rest.len() * k / (k + 1);
        while cut > 0 && cut < rest.len() && rest[cut].vehicle == rest[cut - 1].vehicle {
            cut += 1;
        }
        if cut == 0 || cut >= rest.len() {
            break;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// Batches the fast path sits out after a batch turned out to hold a stored point.
const FAST_PATH_REST_BATCHES: u32 = 16;

/// Sends a prepared binary COPY stream.
async fn send_copy(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &str,
    copy: Vec<u8>,
) -> std::result::Result<(), tokio_postgres::Error> {
    // Prepared once per connection: one round trip less per commit.
    let statement = tx.prepare_cached(statement).await?;
    let sink = tx.copy_in::<_, Cursor<Vec<u8>>>(&statement).await?;
    let mut sink = std::pin::pin!(sink);
    sink.send(Cursor::new(copy)).await?;
    sink.as_mut().finish().await?;
    Ok(())
}

/// COPYs the rows straight into `points` in one transaction. Fails with a unique violation,
/// committing nothing, when any row is already stored.
async fn copy_direct(
    client: &mut deadpool_postgres::Object,
    copy: Vec<u8>,
) -> std::result::Result<(), tokio_postgres::Error> {
    // The session commits with `synchronous_commit = on` (set when the connection is made).
    let tx = client.transaction().await?;
    send_copy(
        &tx,
        &format!("COPY points ({COLUMNS}) FROM STDIN (FORMAT binary)"),
        copy,
    )
    .await?;
    tx.commit().await
}

/// COPYs the rows into a per-connection temporary staging table, then `INSERT ... SELECT ... ON
/// CONFLICT DO NOTHING` moves them into `points`, in one transaction; returns the keys that were new.
async fn copy_and_insert(
    client: &mut deadpool_postgres::Object,
    copy: Vec<u8>,
    typed: bool,
) -> std::result::Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let rows = insert_staged(&tx, copy, typed).await?;
    tx.commit().await?;
    Ok(rows)
}

/// In `tx`: COPYs the rows into the staging table and moves the new ones into `points` (unpacked into
/// TimescaleDB's typed columns when `typed`); returns their keys.
pub(super) async fn insert_staged(
    tx: &deadpool_postgres::Transaction<'_>,
    copy: Vec<u8>,
    typed: bool,
) -> std::result::Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    tx.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS points_incoming (
             vehicle bigint, fix_time timestamptz, block_hash bigint, rec bytea
         ) ON COMMIT DELETE ROWS",
    )
    .await?;
    send_copy(
        tx,
        &format!("COPY points_incoming ({COLUMNS}) FROM STDIN (FORMAT binary)"),
        copy,
    )
    .await?;
    let sql = if typed {
        typed::insert_from_staging()
    } else {
        format!(
            "INSERT INTO points ({COLUMNS}) SELECT {COLUMNS} FROM points_incoming
             ORDER BY vehicle, fix_time, block_hash
             ON CONFLICT DO NOTHING
             RETURNING vehicle, fix_time, block_hash"
        )
    };
    let insert = tx.prepare_cached(&sql).await?;
    tx.query(&insert, &[]).await
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn commit_points(&self, points: &[Position]) -> Result<Vec<bool>> {
        self.commit_points_pg(points).await
    }

    async fn flush(&self) -> Result<()> {
        self.latest.flush(&self.pool).await.map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        let flushed = self.flush().await;
        self.close_pool();
        flushed
    }

    async fn latest_positions(&self) -> Result<Vec<Position>> {
        let rows = self.stored_latest(None).await?;
        Ok(self.latest.overlay(rows))
    }

    async fn latest_position(&self, vehicle: VehicleId) -> Result<Option<Position>> {
        let stored = self.stored_latest(Some(vehicle)).await?.pop();
        Ok(match (stored, self.latest.get(vehicle.0)) {
            (Some(s), Some(p)) if s.fix_time >= p.fix_time => Some(s),
            (s, p) => p.or(s),
        })
    }

    async fn read_track(&self, q: TrackQuery) -> Result<TrackStream> {
        // Rows first, then blocks: a compaction between the two moves points from rows into a block,
        // never out of one, so a point is read at least once, and a point read in both is handed out
        // once (the merge drops a repeated key).
        let rows = self.copy_track(q).await?;
        let blocks = self.block_days(&q).await?;
        Ok(merge_with_blocks(rows, blocks))
    }

    async fn received_between(
        &self,
        vehicles: &[VehicleId],
        from: Timestamp,
        received: (Timestamp, Timestamp),
    ) -> Result<Vec<Position>> {
        if self.hypertable {
            // Typed columns, no blocks: car by car.
            return crate::received_between_by_vehicle(self, vehicles, from, received).await;
        }
        self.received_between_pg(vehicles, from, received).await
    }

    async fn track_count(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<u64> {
        self.track_count_pg(vehicle, from, to).await
    }

    async fn compact_blocks(&self, through_day: i64) -> Result<CompactSummary> {
        self.compact_blocks_pg(through_day).await
    }

    async fn damaged_blocks(&self) -> Result<Vec<DamagedBlock>> {
        self.damaged_blocks_pg().await
    }

    async fn layer_stats(&self) -> Result<Vec<LayerStats>> {
        self.layer_stats_pg().await
    }

    async fn ping(&self) -> Result<()> {
        self.read_tx(tx!(|tx| tx.query("SELECT 1", &[]))).await.map(drop)
    }

    async fn applied_migrations(&self) -> Result<Vec<u32>> {
        self.read_tx(tx!(|tx| migrate::applied(tx))).await
    }
}

impl PostgresBackend {
    /// The latest positions written to the table (of one vehicle, or of all), without those still
    /// held behind the commits.
    async fn stored_latest(&self, vehicle: Option<VehicleId>) -> Result<Vec<Position>> {
        let client = self.client().await?;
        let rows = match vehicle {
            Some(v) => {
                let sql = "SELECT vehicle, fix_time, rec FROM latest_positions WHERE vehicle = $1";
                let st = client.prepare_cached(sql).await?;
                client.query(&st, &[&v.0]).await
            }
            None => {
                let sql = "SELECT vehicle, fix_time, rec FROM latest_positions";
                let st = client.prepare_cached(sql).await?;
                client.query(&st, &[]).await
            }
        };
        rows?.iter().map(row_to_position).collect()
    }

    /// A vehicle's track, read by binary COPY.
    async fn copy_track(&self, q: TrackQuery) -> Result<TrackStream> {
        let client = self.client().await?;
        // Binary COPY out rather than a query: the rows arrive as bytes this side parses in chunks,
        // without a row object per point. COPY takes no parameters; the values are numbers this
        // function formats itself.
        let (from, to) = (
            q.from.0.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS),
            q.to.0.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS),
        );
        // The receive time is compared in the packed record, as bytes (see `rec_received`), in the
        // index-only scan: the points filtered out are never formatted or sent.
        // On TimescaleDB's typed columns, the receive time is a column and the record is packed from the
        // columns (`typed::pack_expr`), the same bytes.
        let received: String = q
            .receive_bounds()
            .map(|(op, t)| {
                if self.hypertable {
                    format!(" AND recv_time {op} {}", timestamptz_literal(t.0.max(0)))
                } else {
                    format!(" AND {}", rec_received(op, t))
                }
            })
            .collect();
        let rec = if self.hypertable {
            typed::pack_expr()
        } else {
            "rec".to_string()
        };
        let sql = format!(
            "COPY (SELECT fix_time, {rec} FROM points WHERE vehicle = {v} \
             AND fix_time >= {from_sql} AND fix_time < {to_sql}{received} ORDER BY fix_time, block_hash) \
             TO STDOUT (FORMAT binary)",
            v = q.vehicle.0,
            from_sql = timestamptz_literal(from),
            to_sql = timestamptz_literal(to),
        );
        let rows = client.copy_out(&sql).await?;
        let state = (
            client,
            Box::pin(rows.ready_chunks(64)),
            CopyParser::new(q.vehicle.0),
            false,
        );
        // The pooled connection rides along with the rows and returns to the pool when the stream ends.
        let stream = futures::stream::unfold(state, |(client, mut rows, mut parser, ended)| async move {
            if ended {
                return None;
            }
            let Some(chunks) = rows.next().await else {
                let tail = parser.finish();
                return Some((tail, (client, rows, parser, true)));
            };
            let mut out = Vec::new();
            for chunk in chunks {
                match chunk {
                    Ok(bytes) => parser.feed(&bytes, &mut out),
                    Err(e) => {
                        out.push(Err(Error::from(e)));
                        return Some((out, (client, rows, parser, true)));
                    }
                }
            }
            let ended = out.last().is_some_and(|r| r.is_err());
            Some((out, (client, rows, parser, ended)))
        });
        Ok(stream.flat_map(futures::stream::iter).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_hold_whole_vehicles_and_every_row() {
        let staged: Vec<Staged> = [1, 1, 1, 2, 3, 3, 4, 5, 5, 5, 5, 6]
            .iter()
            .enumerate()
            .map(|(at, &vehicle)| Staged {
                vehicle,
                fix_time: at as i64,
                block_hash: 0,
                at,
            })
            .collect();
        for parts in 1..=6 {
            let split = split_by_vehicle(&staged, parts);
            assert!(!split.is_empty() && split.len() <= parts, "{parts}");
            assert_eq!(split.iter().map(|p| p.len()).sum::<usize>(), staged.len());
            for w in split.windows(2) {
                assert!(!w[0].is_empty() && !w[1].is_empty());
                assert_ne!(w[0].last().map(|r| r.vehicle), w[1].first().map(|r| r.vehicle));
            }
        }
        assert_eq!(split_by_vehicle(&staged, 2).len(), 2);
        assert_eq!(
            split_by_vehicle(&staged[..3], 3).len(),
            1,
            "one vehicle is one part"
        );
    }
}

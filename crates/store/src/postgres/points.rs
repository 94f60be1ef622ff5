//! Track points and latest positions in PostgreSQL, and its [`Backend`] implementation.
//!
//! A stored point is its key as columns, `(vehicle, fix_time, block_hash)`, and everything else packed
//! into one `rec bytea` ([`encode_rec`], migration 0004). PostgreSQL formats and parses every datum of
//! a row with a function call; with seventeen columns that per-datum cost, not the index scan, was most
//! of a replay and a good part of an ingest. With four, the key index covers the replay (`INCLUDE
//! (rec)`), index tuples are smaller, COPY parses four fields a row, and a replay returns two.

use std::io::Cursor;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use tianshu_model::{Position, Timestamp, VehicleId};
use tokio_postgres::types::{FromSql, Type};

use super::{PostgresBackend, month_of};
use tianshu_model::record::{REC_RECV_AT, recv_time_bytes};

use std::collections::{HashSet, VecDeque};

use tianshu_model::block::{china_day, china_day_start, may_be_blocked, track_key};

use crate::blocks::{
    CompactSummary, DamagedBlock, LayerStats, block_points_in, by_month, days_of, decode_stored,
    merged_block, stored_day,
};
use crate::record::{REC_FIXED, decode_rec, encode_rec};
use crate::sql::tx;
use crate::{Backend, Error, Result, TrackQuery, TrackStream, migrate};

/// The advisory lock that orders a compaction (exclusive) against commits of points into past days
/// (shared): a point is checked against its day's block and stored as a row while no compaction can move
/// that day's rows into the block.
const BLOCKS_LOCK: i64 = 0x7473_626c_6f63_6b73;

/// The columns of `points`, `latest_positions` and the staging table, in COPY order.
const COLUMNS: &str = "vehicle, fix_time, block_hash, rec";

/// Instants PostgreSQL's `timestamptz` holds (about 4300 BC to 255,000 AD); a range bound beyond
/// them (say `i64::MAX` for "until the end") is clamped rather than wrapped.
const PG_MIN_MILLIS: i64 = -200_000_000_000_000;
const PG_MAX_MILLIS: i64 = 8_000_000_000_000_000;

/// 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix milliseconds.
const PG_EPOCH_MILLIS: i64 = 946_684_800_000;

pub(crate) fn to_datetime(t: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t.0.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS)).unwrap_or_default()
}

/// A Unix millisecond instant as the microseconds since 2000 of binary `timestamptz`.
fn to_pg_micros(ms: i64) -> i64 {
    (ms.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS) - PG_EPOCH_MILLIS) * 1000
}

/// A `timestamptz` read straight from its binary form, as Unix milliseconds (no calendar types).
struct PgMillis(i64);

impl<'a> FromSql<'a> for PgMillis {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let micros = i64::from_be_bytes(raw.try_into()?);
        Ok(PgMillis(micros.div_euclid(1000).saturating_add(PG_EPOCH_MILLIS)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// A row of `points` or `latest_positions` read as `vehicle, fix_time, rec`.
fn row_to_position(r: &tokio_postgres::Row) -> Result<Position> {
    let get_err = |e: tokio_postgres::Error| Error::Corrupt(format!("points row: {e}"));
    let vehicle: i64 = r.try_get(0).map_err(get_err)?;
    let fix_time: PgMillis = r.try_get(1).map_err(get_err)?;
    let rec: &[u8] = r.try_get(2).map_err(get_err)?;
    decode_rec(vehicle, fix_time.0, rec)
}

/// A `timestamptz` expression for a Unix millisecond instant (exact: whole milliseconds).
fn timestamptz_literal(ms: i64) -> String {
    format!("(timestamptz 'epoch' + {ms}::bigint * interval '1 millisecond')")
}

/// Parses a binary COPY stream of `fix_time, rec` rows into positions, chunk by chunk (a row may
/// straddle two chunks).
struct CopyParser {
    vehicle: i64,
    /// Bytes of an incomplete row (or header) carried to the next chunk.
    pending: Vec<u8>,
    header_done: bool,
    trailer_seen: bool,
}

/// The fixed part of a binary COPY header: signature, flags, extension length.
const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

impl CopyParser {
    fn new(vehicle: i64) -> Self {
        CopyParser {
            vehicle,
            pending: Vec::new(),
            header_done: false,
            trailer_seen: false,
        }
    }

    fn feed(&mut self, chunk: &[u8], out: &mut Vec<Result<Position>>) {
        if self.pending.is_empty() {
            let used = self.parse(chunk, out);
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let buf = std::mem::take(&mut self.pending);
            let used = self.parse(&buf, out);
            self.pending.extend_from_slice(&buf[used..]);
        }
    }

    /// Parses every complete row of `buf`; returns the bytes used.
    fn parse(&mut self, buf: &[u8], out: &mut Vec<Result<Position>>) -> usize {
        let mut at = 0;
        if !self.header_done {
            let fixed = COPY_SIGNATURE.len() + 8;
            if buf.len() < fixed {
                return 0;
            }
            if &buf[..COPY_SIGNATURE.len()] != COPY_SIGNATURE {
                out.push(Err(Error::Corrupt("track: not a binary COPY stream".into())));
                self.trailer_seen = true;
                return buf.len();
            }
            let ext = i32::from_be_bytes([buf[fixed - 4], buf[fixed - 3], buf[fixed - 2], buf[fixed - 1]]);
            let ext = usize::try_from(ext).unwrap_or(0);
            if buf.len() < fixed + ext {
                return 0;
            }
            at = fixed + ext;
            self.header_done = true;
        }
        while !self.trailer_seen {
            let rest = &buf[at..];
            if rest.len() < 2 {
                break;
            }
            let fields = i16::from_be_bytes([rest[0], rest[1]]);
            if fields == -1 {
                self.trailer_seen = true;
                at += 2;
                break;
            }
            // fields (2) + fix_time (4 + 8) + rec length (4)
            if rest.len() < 18 {
                break;
            }
            let time_len = i32::from_be_bytes([rest[2], rest[3], rest[4], rest[5]]);
            let rec_len = i32::from_be_bytes([rest[14], rest[15], rest[16], rest[17]]);
            let Ok(rec_len) = usize::try_from(rec_len) else {
                out.push(Err(Error::Corrupt("track: null record".into())));
                self.trailer_seen = true;
                return buf.len();
            };
            if fields != 2 || time_len != 8 {
                out.push(Err(Error::Corrupt(format!(
                    "track: COPY row of {fields} fields, time of {time_len} bytes"
                ))));
                self.trailer_seen = true;
                return buf.len();
            }
            if rest.len() < 18 + rec_len {
                break;
            }
            let mut micros = [0u8; 8];
            micros.copy_from_slice(&rest[6..14]);
            let fix_time = i64::from_be_bytes(micros).div_euclid(1000) + PG_EPOCH_MILLIS;
            out.push(decode_rec(self.vehicle, fix_time, &rest[18..18 + rec_len]));
            at += 18 + rec_len;
        }
        at
    }

    /// The error, if the stream ended before its trailer.
    fn finish(&mut self) -> Vec<Result<Position>> {
        if self.trailer_seen {
            Vec::new()
        } else {
            self.trailer_seen = true;
            vec![Err(Error::Unavailable(
                "track: the COPY stream ended early".into(),
            ))]
        }
    }
}

/// One point of a batch on its way in: its key, and where it was in the batch.
struct Staged {
    vehicle: i64,
    fix_time: i64,
    block_hash: i64,
    /// Index of the point in the batch.
    at: usize,
}

/// The binary COPY stream of `rows` (`COLUMNS` order), built in one buffer.
fn copy_buffer(points: &[Position], rows: &[Staged]) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + rows.len() * (2 + 12 * 3 + 4 + REC_FIXED + 20) + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for r in rows {
        out.extend_from_slice(&4i16.to_be_bytes());
        for v in [r.vehicle, to_pg_micros(r.fix_time), r.block_hash] {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&v.to_be_bytes());
        }
        let len_at = out.len();
        out.extend_from_slice(&0i32.to_be_bytes());
        encode_rec(&points[r.at], &mut out);
        let len = (out.len() - len_at - 4) as i32;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

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
        let mut months: Vec<i32> = staged.iter().map(|r| month_of(r.fix_time)).collect();
        months.sort_unstable();
        months.dedup();
        self.ensure_partitions(&months).await?;

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
        if self.fast_path_rest.load(Ordering::Relaxed) == 0 {
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
            match copy_and_insert(&mut client, copy.clone()).await {
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
        inserted_at(&inserted_rows, staged)
    }
}

impl PostgresBackend {
    /// Commits a part that reaches into past days, which may have blocks: under the shared
    /// [`BLOCKS_LOCK`], the points their day's block holds are duplicates and the others go the staging
    /// way; returns the batch indexes of the points that were new.
    async fn commit_past_part(
        &self,
        points: &[Position],
        staged: &[Staged],
        now: Timestamp,
    ) -> Result<Vec<usize>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&BLOCKS_LOCK])
            .await?;
        let mut days: Vec<(i64, i32)> = Vec::new();
        for r in staged
            .iter()
            .filter(|r| may_be_blocked(Timestamp(r.fix_time), now))
        {
            days.push((r.vehicle, stored_day(china_day(Timestamp(r.fix_time)))?));
        }
        days.sort_unstable();
        days.dedup();
        let (vehicles, day_numbers): (Vec<i64>, Vec<i32>) = days.into_iter().unzip();
        let blocks = tx
            .query(
                "SELECT b.vehicle, b.day, b.data FROM point_blocks b \
                 JOIN unnest($1::bigint[], $2::int[]) AS k(vehicle, day) ON b.vehicle = k.vehicle AND b.day = k.day",
                &[&vehicles, &day_numbers],
            )
            .await?;
        let mut held: HashSet<(i64, i64, i64)> = HashSet::new();
        for b in &blocks {
            let (vehicle, day): (i64, i32) = (b.try_get(0)?, b.try_get(1)?);
            if let Some(points) = decode_stored(vehicle, i64::from(day), b.try_get(2)?) {
                held.extend(points.iter().map(|p| (vehicle, p.fix_time.0, p.block_hash())));
            }
        }
        let kept: Vec<Staged> = staged
            .iter()
            .filter(|r| !held.contains(&(r.vehicle, r.fix_time, r.block_hash)))
            .map(|r| Staged {
                vehicle: r.vehicle,
                fix_time: r.fix_time,
                block_hash: r.block_hash,
                at: r.at,
            })
            .collect();
        let rows = insert_staged(&tx, copy_buffer(points, &kept)).await?;
        tx.commit().await?;
        self.latest.offer(newest_per_vehicle(points, staged));
        inserted_at(&rows, staged)
    }

    /// Moves one vehicle's rows up to China day `through` into blocks, in one transaction under the
    /// exclusive [`BLOCKS_LOCK`].
    async fn compact_vehicle(&self, vehicle: i64, through: i64) -> Result<CompactSummary> {
        let end = china_day_start(through + 1).0;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&BLOCKS_LOCK])
            .await?;
        let mut done = CompactSummary::default();
        let mut from = PG_MIN_MILLIS;
        loop {
            let first = tx
                .query_opt(
                    "SELECT fix_time FROM points WHERE vehicle = $1 AND fix_time >= $2 AND fix_time < $3 \
                     ORDER BY fix_time LIMIT 1",
                    &[
                        &vehicle,
                        &to_datetime(Timestamp(from)),
                        &to_datetime(Timestamp(end)),
                    ],
                )
                .await?;
            let Some(first) = first else { break };
            let day = china_day(Timestamp(first.try_get::<_, PgMillis>(0)?.0));
            let (start, stop) = (china_day_start(day), china_day_start(day + 1));
            from = stop.0;
            let range = [
                &vehicle as &(dyn tokio_postgres::types::ToSql + Sync),
                &to_datetime(start),
                &to_datetime(stop),
            ];
            let rows = tx
                .query(
                    "SELECT vehicle, fix_time, rec FROM points WHERE vehicle = $1 AND fix_time >= $2 AND fix_time < $3",
                    &range,
                )
                .await?;
            let rows: Vec<Position> = rows.iter().map(row_to_position).collect::<Result<_>>()?;
            let old = tx
                .query_opt(
                    "SELECT data FROM point_blocks WHERE vehicle = $1 AND day = $2 FOR UPDATE",
                    &[&vehicle, &stored_day(day)?],
                )
                .await?;
            let old: Option<Vec<u8>> = old.map(|r| r.try_get(0)).transpose()?;
            let Some((block, n)) = merged_block(vehicle, day, old.as_deref(), &rows) else {
                done.damaged += 1;
                continue;
            };
            tx.execute(
                "INSERT INTO point_blocks (vehicle, day, points, data) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (vehicle, day) DO UPDATE SET points = excluded.points, data = excluded.data",
                &[&vehicle, &stored_day(day)?, &(n as i32), &block],
            )
            .await?;
            let deleted = tx
                .execute(
                    "DELETE FROM points WHERE vehicle = $1 AND fix_time >= $2 AND fix_time < $3",
                    &range,
                )
                .await?;
            done.blocks += 1;
            done.points += deleted;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// The points of a track read's blocks, in track order (damaged blocks left out).
    async fn block_points(&self, q: &TrackQuery) -> Result<Vec<Position>> {
        let client = self.client().await?;
        let (first, last) = days_of(q.from, q.to);
        let rows = client
            .query(
                "SELECT day, data FROM point_blocks WHERE vehicle = $1 AND day >= $2 AND day <= $3 ORDER BY day",
                &[&q.vehicle.0, &stored_day(first.max(0))?, &stored_day(last.clamp(0, i64::from(i32::MAX)))?],
            )
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let day: i32 = r.try_get(0)?;
            if let Some(points) = decode_stored(q.vehicle.0, i64::from(day), r.try_get(1)?) {
                out.extend(block_points_in(points, q, None));
            }
        }
        Ok(out)
    }
}

/// The batch indexes of the staged rows an insert returned (`RETURNING vehicle, fix_time, block_hash`).
fn inserted_at(rows: &[tokio_postgres::Row], staged: &[Staged]) -> Result<Vec<usize>> {
    let mut inserted = Vec::with_capacity(rows.len());
    for r in rows {
        let key = (
            r.try_get::<_, i64>(0)?,
            r.try_get::<_, PgMillis>(1)?.0,
            r.try_get::<_, i64>(2)?,
        );
        if let Ok(i) = staged.binary_search_by_key(&key, |s| (s.vehicle, s.fix_time, s.block_hash)) {
            inserted.push(staged[i].at);
        }
    }
    Ok(inserted)
}

/// The newest of each vehicle's staged rows (rows are in key order: the last of each vehicle's run),
/// so a commit records one position per vehicle, not one per point.
fn newest_per_vehicle<'a>(
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
) -> std::result::Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let rows = insert_staged(&tx, copy).await?;
    tx.commit().await?;
    Ok(rows)
}

/// In `tx`: COPYs the rows into the staging table and moves the new ones into `points`; returns their keys.
async fn insert_staged(
    tx: &deadpool_postgres::Transaction<'_>,
    copy: Vec<u8>,
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
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO points ({COLUMNS}) SELECT {COLUMNS} FROM points_incoming
             ORDER BY vehicle, fix_time, block_hash
             ON CONFLICT DO NOTHING
             RETURNING vehicle, fix_time, block_hash"
        ))
        .await?;
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
        let blocks = self.block_points(&q).await?;
        Ok(merge_with_blocks(rows, blocks))
    }

    async fn track_count(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<u64> {
        let client = self.client().await?;
        // Rows and blocks in one statement, so in one snapshot: a point is counted in one of them.
        let (first, last) = days_of(from, to);
        let st = client
            .prepare_cached(
                "SELECT (SELECT count(*) FROM points WHERE vehicle = $1 AND fix_time >= $2 AND fix_time < $3), \
                 NULL::integer, NULL::bytea \
                 UNION ALL SELECT NULL, day, data FROM point_blocks WHERE vehicle = $1 AND day >= $4 AND day <= $5",
            )
            .await?;
        let rows = client
            .query(
                &st,
                &[
                    &vehicle.0,
                    &to_datetime(from),
                    &to_datetime(to),
                    &stored_day(first.max(0))?,
                    &stored_day(last.clamp(0, i64::from(i32::MAX)))?,
                ],
            )
            .await?;
        let q = TrackQuery {
            vehicle,
            from,
            to,
            received_after: None,
        };
        let mut total = 0u64;
        for r in &rows {
            match r.try_get::<_, Option<i64>>(0)? {
                Some(n) => total += n.max(0) as u64,
                None => {
                    let day: i32 = r.try_get(1)?;
                    if let Some(points) = decode_stored(vehicle.0, i64::from(day), r.try_get(2)?) {
                        total += block_points_in(points, &q, None).len() as u64;
                    }
                }
            }
        }
        Ok(total)
    }

    async fn compact_blocks(&self, through_day: i64) -> Result<CompactSummary> {
        if self.hypertable {
            tracing::info!(
                "points is a TimescaleDB hypertable: its compression policy packs old points, not blocks"
            );
            return Ok(CompactSummary::default());
        }
        let end = to_datetime(china_day_start(through_day + 1));
        let vehicles: Vec<i64> = {
            let client = self.client().await?;
            let rows = client
                .query("SELECT DISTINCT vehicle FROM points WHERE fix_time < $1", &[&end])
                .await?;
            rows.iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<_, _>>()?
        };
        let mut total = CompactSummary::default();
        for vehicle in vehicles {
            let done = self.compact_vehicle(vehicle, through_day).await?;
            total += done;
        }
        Ok(total)
    }

    async fn damaged_blocks(&self) -> Result<Vec<DamagedBlock>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT vehicle, day, data FROM point_blocks ORDER BY vehicle, day",
                &[],
            )
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let (vehicle, day): (i64, i32) = (r.try_get(0)?, r.try_get(1)?);
            if let Err(reason) = tianshu_model::block::decode_block(VehicleId(vehicle), r.try_get(2)?) {
                out.push(DamagedBlock {
                    vehicle: VehicleId(vehicle),
                    day: i64::from(day),
                    reason,
                });
            }
        }
        Ok(out)
    }

    async fn layer_stats(&self) -> Result<Vec<LayerStats>> {
        let client = self.client().await?;
        // The tables and their partitions, each its heap (with TOAST) and its indexes apart.
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM points), \
                 (SELECT coalesce(sum(pg_table_size(relid)), 0)::bigint FROM pg_partition_tree('points')), \
                 (SELECT coalesce(sum(points), 0)::bigint FROM point_blocks), \
                 pg_table_size('point_blocks')::bigint, \
                 ((SELECT coalesce(sum(pg_indexes_size(relid)), 0) FROM pg_partition_tree('points')) \
                   + pg_indexes_size('point_blocks'))::bigint",
                &[],
            )
            .await?;
        let get = |i: usize| -> Result<u64> { Ok(row.try_get::<_, i64>(i)?.max(0) as u64) };
        let mut out = vec![
            LayerStats {
                layer: "rows".into(),
                points: get(0)?,
                bytes: get(1)?,
            },
            LayerStats {
                layer: "blocks".into(),
                points: get(2)?,
                bytes: get(3)?,
            },
            LayerStats {
                layer: "indexes".into(),
                points: 0,
                bytes: get(4)?,
            },
        ];
        let months = client
            .query(
                "SELECT day, points, octet_length(data) FROM point_blocks ORDER BY day",
                &[],
            )
            .await?;
        let mut blocks = Vec::with_capacity(months.len());
        for r in &months {
            let (day, points, bytes): (i32, i32, i32) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            blocks.push((i64::from(day), points.max(0) as u64, bytes.max(0) as u64));
        }
        out.extend(by_month(blocks));
        Ok(out)
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
        // The receive time is compared in the packed record, as bytes (see `recv_time_bytes`), in the
        // index-only scan: the points filtered out are never formatted or sent.
        let received = q.received_after.map_or(String::new(), |t| {
            let hex: String = recv_time_bytes(t).iter().map(|b| format!("{b:02x}")).collect();
            format!(
                " AND substring(rec FROM {} FOR 8) > '\\x{hex}'::bytea",
                REC_RECV_AT + 1
            )
        });
        let sql = format!(
            "COPY (SELECT fix_time, rec FROM points WHERE vehicle = {v} \
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

/// Merges a track's row stream with its block points (both in track order) into one ordered stream; a
/// key in both is handed out once.
fn merge_with_blocks(rows: TrackStream, blocks: Vec<Position>) -> TrackStream {
    if blocks.is_empty() {
        return rows;
    }
    let state = (
        rows,
        None::<Position>,
        std::collections::VecDeque::from(blocks),
        false,
    );
    futures::stream::unfold(
        state,
        |(mut rows, mut pending, mut blocks, mut rows_done)| async move {
            if pending.is_none() && !rows_done {
                match rows.next().await {
                    Some(Ok(p)) => pending = Some(p),
                    Some(Err(e)) => return Some((Err(e), (rows, None, VecDeque::new(), true))),
                    None => rows_done = true,
                }
            }
            let next = match (&pending, blocks.front()) {
                (Some(r), Some(b)) if track_key(b) < track_key(r) => blocks.pop_front(),
                (Some(r), Some(b)) if track_key(b) == track_key(r) => {
                    blocks.pop_front();
                    pending.take()
                }
                (Some(_), _) => pending.take(),
                (None, Some(_)) => blocks.pop_front(),
                (None, None) => None,
            }?;
            Some((Ok(next), (rows, pending, blocks, rows_done)))
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use tianshu_model::Phone;

    use super::*;

    /// A point of vehicle 7 whose record's length follows its phone number's.
    fn point(secs: i64, phone: u128) -> Position {
        Position {
            vehicle: VehicleId(7),
            phone: Phone(phone),
            fix_time: Timestamp::from_secs(1_793_491_200 + secs),
            mileage_dkm: Some(secs as u32),
            ..Default::default()
        }
    }

    #[test]
    fn copy_rows_parse_whatever_the_chunking() {
        let points = [
            point(0, 99_999_999_999_999_999_999),
            point(10, 1),
            point(20, 13_800_138_000),
        ];
        let staged: Vec<Staged> = points
            .iter()
            .enumerate()
            .map(|(at, p)| Staged {
                vehicle: 7,
                fix_time: p.fix_time.0,
                block_hash: p.block_hash(),
                at,
            })
            .collect();
        // The stream COPY out sends for `fix_time, rec`: the COPY-in buffer without the two key columns.
        let mut stream = b"PGCOPY\n\xff\r\n\0".to_vec();
        stream.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        for p in &points {
            stream.extend_from_slice(&2i16.to_be_bytes());
            stream.extend_from_slice(&8i32.to_be_bytes());
            stream.extend_from_slice(&to_pg_micros(p.fix_time.0).to_be_bytes());
            let mut rec = Vec::new();
            encode_rec(p, &mut rec);
            stream.extend_from_slice(&(rec.len() as i32).to_be_bytes());
            stream.extend_from_slice(&rec);
        }
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        assert!(copy_buffer(&points, &staged).len() > stream.len());
        for size in [1, 2, 7, 19, 64, stream.len()] {
            let mut parser = CopyParser::new(7);
            let mut out = Vec::new();
            for chunk in stream.chunks(size) {
                parser.feed(chunk, &mut out);
            }
            out.extend(parser.finish());
            let got: Vec<Position> = out.into_iter().map(|r| r.unwrap()).collect();
            assert_eq!(got, points, "chunks of {size}");
        }
        let mut parser = CopyParser::new(7);
        let mut out = Vec::new();
        parser.feed(&stream[..stream.len() - 2], &mut out);
        assert!(
            matches!(parser.finish()[..], [Err(Error::Unavailable(_))]),
            "a stream cut short is an error"
        );
    }

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

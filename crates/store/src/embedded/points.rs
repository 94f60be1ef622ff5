//! Track points and latest positions in the embedded store, and its [`Backend`] implementation.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tianshu_model::{Position, Timestamp, VehicleId};

use super::EmbeddedBackend;
use tianshu_model::record::{REC_RECV_AT, recv_time_bytes};

use tianshu_model::block::{china_day, china_day_start, may_be_blocked, track_key};

use crate::blocks::{
    CompactSummary, DamagedBlock, LayerStats, block_points_in, by_month, days_of, decode_stored,
    merge_ordered, merged_block, received_bound,
};
use crate::record::{REC_FIXED, decode_rec, encode_rec};
use crate::sql::tx;
use crate::{Backend, Error, Result, TrackQuery, TrackStream, migrate};

/// The columns of `points`, `points_recent` and `latest_positions`: the key and the packed record
/// ([`crate::record`]).
const COLUMNS: &str = "vehicle, fix_time, block_hash, rec";

/// The columns a read selects, in the order [`row_to_position`] reads them.
const READ_COLUMNS: &str = "vehicle, fix_time, rec";

/// Points a track stream reads per step before handing them to the async side.
const TRACK_CHUNK_POINTS: usize = 2_048;

/// A row read as `vehicle, fix_time, rec`: its position, or why the record does not decode.
fn row_to_position(r: &Row<'_>) -> rusqlite::Result<Result<Position>> {
    let rec = r.get_ref(2)?.as_blob()?;
    Ok(decode_rec(r.get(0)?, r.get(1)?, rec))
}

/// One transaction: insert what is new into `points_recent` (a point already moved into `points` is
/// a duplicate too), move latest positions forward, commit (fsync'd by FULL sync). Returns, per
/// point, whether it was new, and how many were.
///
/// Every statement here is `OR IGNORE`: a statement that might abort halfway makes SQLite keep a
/// statement journal, a copy of each page before the statement's change, which for one-row
/// statements is a page copy per row.
fn commit_points_blocking(
    conn: &mut Connection,
    points: &[Position],
    stored_up_to: &mut HashMap<i64, i64>,
) -> Result<(Vec<bool>, u64)> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut inserted = Vec::with_capacity(points.len());
    let mut newest: HashMap<i64, (usize, i64)> = HashMap::with_capacity(points.len().min(1 << 16));
    let mut count = 0;
    let mut rec = Vec::with_capacity(REC_FIXED + 20);
    let now = Timestamp::from_datetime(&chrono::Utc::now());
    // The keys of the blocks of the vehicle-days this batch reaches back into (read once a commit).
    let mut blocked: HashMap<(i64, i64), HashSet<(i64, i64)>> = HashMap::new();
    {
        let mut probe = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO points_recent ({COLUMNS}) SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS \
                 (SELECT 1 FROM points WHERE vehicle = ?1 AND fix_time = ?2 AND block_hash = ?3)"
        ))?;
        // A point newer than everything stored for its vehicle cannot be in `points`: only the
        // (cheap, time-clustered) `points_recent` key needs checking. Live points all take this way;
        // retransmissions and backfills take the probe.
        let mut fresh = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO points_recent ({COLUMNS}) VALUES (?1, ?2, ?3, ?4)"
        ))?;
        for (i, p) in points.iter().enumerate() {
            let hash = p.block_hash();
            let newer = stored_up_to.get(&p.vehicle.0).is_none_or(|t| p.fix_time.0 > *t);
            let st = if newer { &mut fresh } else { &mut probe };
            if !newer && may_be_blocked(p.fix_time, now) {
                let day = china_day(p.fix_time);
                let keys = match blocked.entry((p.vehicle.0, day)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(block_keys(&tx, p.vehicle.0, day)?)
                    }
                };
                if keys.contains(&(p.fix_time.0, hash)) {
                    inserted.push(false);
                    continue;
                }
            }
            rec.clear();
            encode_rec(p, &mut rec);
            let new = st.execute(params![p.vehicle.0, p.fix_time.0, hash, &rec[..]])? == 1;
            inserted.push(new);
            if new {
                count += 1;
                let e = newest.entry(p.vehicle.0).or_insert((i, hash));
                let best = &points[e.0];
                if (p.fix_time, hash) > (best.fix_time, e.1) {
                    *e = (i, hash);
                }
            }
        }
        // Latest positions: move the row forward, or add it for a vehicle that has none.
        let mut forward = tx.prepare_cached(
            "UPDATE OR IGNORE latest_positions SET fix_time = ?2, block_hash = ?3, rec = ?4 \
                 WHERE vehicle = ?1 AND fix_time < ?2",
        )?;
        let mut first = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO latest_positions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4)"
        ))?;
        for (vehicle, (i, hash)) in &newest {
            let p = &points[*i];
            rec.clear();
            encode_rec(p, &mut rec);
            let values = params![vehicle, p.fix_time.0, hash, &rec[..]];
            if forward.execute(values)? == 0 {
                // Ignored when the vehicle's row is there already, with a newer point.
                first.execute(values)?;
            }
        }
    }
    tx.commit()?;
    for (vehicle, (i, _)) in newest {
        let t = stored_up_to.entry(vehicle).or_insert(points[i].fix_time.0);
        *t = (*t).max(points[i].fix_time.0);
    }
    Ok((inserted, count))
}

/// The keys a vehicle-day's block holds (none when there is no block, or it is damaged: a point then
/// stays a row).
fn block_keys(conn: &Connection, vehicle: i64, day: i64) -> Result<HashSet<(i64, i64)>> {
    let mut st = conn.prepare_cached("SELECT data FROM point_blocks WHERE vehicle = ?1 AND day = ?2")?;
    let data: Option<Vec<u8>> = st.query_row(params![vehicle, day], |r| r.get(0)).optional()?;
    Ok(data
        .and_then(|d| decode_stored(vehicle, day, &d))
        .map(|points| points.iter().map(track_key).collect())
        .unwrap_or_default())
}

/// The blocks of a vehicle from China day `first` to `last`, in day order, but those known to hold
/// nothing received after `received_after` ([`received_bound`]).
fn read_blocks(
    conn: &Connection,
    vehicle: i64,
    (first, last): (i64, i64),
    received_after: Option<Timestamp>,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut st = conn.prepare_cached(
        "SELECT day, data FROM point_blocks WHERE vehicle = ?1 AND day >= ?2 AND day <= ?3 \
         AND (received_last IS NULL OR received_last > ?4) ORDER BY day",
    )?;
    let bound = received_bound(received_after);
    let rows = st.query_map(params![vehicle, first, last, bound], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    rows.map(|r| r.map_err(Error::from)).collect()
}

/// Moves one vehicle's rows up to China day `through` into blocks, one transaction; the recent points
/// were moved into `points` just before, on the same thread.
fn compact_vehicle(conn: &mut Connection, vehicle: i64, through: i64) -> Result<CompactSummary> {
    let end = china_day_start(through + 1).0;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut done = CompactSummary::default();
    let mut from = i64::MIN;
    loop {
        let first: Option<i64> = tx
            .prepare_cached(
                "SELECT fix_time FROM points WHERE vehicle = ?1 AND fix_time >= ?2 AND fix_time < ?3 \
                 ORDER BY fix_time LIMIT 1",
            )?
            .query_row(params![vehicle, from, end], |r| r.get(0))
            .optional()?;
        let Some(first) = first else { break };
        let day = china_day(Timestamp(first));
        let (start, stop) = (china_day_start(day).0, china_day_start(day + 1).0);
        from = stop;
        let rows: Vec<Position> = {
            let mut st = tx.prepare_cached(&format!(
                "SELECT {READ_COLUMNS} FROM points WHERE vehicle = ?1 AND fix_time >= ?2 AND fix_time < ?3"
            ))?;
            let rows = st.query_map(params![vehicle, start, stop], row_to_position)?;
            rows.map(|r| r.map_err(Error::from).and_then(|p| p))
                .collect::<Result<_>>()?
        };
        let old: Option<Vec<u8>> = tx
            .prepare_cached("SELECT data FROM point_blocks WHERE vehicle = ?1 AND day = ?2")?
            .query_row(params![vehicle, day], |r| r.get(0))
            .optional()?;
        let Some(block) = merged_block(vehicle, day, old.as_deref(), &rows) else {
            done.damaged += 1;
            continue;
        };
        tx.prepare_cached(
            "INSERT INTO point_blocks (vehicle, day, points, data, received_last) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (vehicle, day) DO UPDATE SET points = excluded.points, data = excluded.data, \
             received_last = excluded.received_last",
        )?
        .execute(params![vehicle, day, block.points, block.data, block.received_last])?;
        let deleted = tx
            .prepare_cached("DELETE FROM points WHERE vehicle = ?1 AND fix_time >= ?2 AND fix_time < ?3")?
            .execute(params![vehicle, start, stop])?;
        done.blocks += 1;
        done.points += deleted as u64;
    }
    tx.commit()?;
    Ok(done)
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn commit_points(&self, points: &[Position]) -> Result<Vec<bool>> {
        let points = points.to_vec();
        let recent = self.recent_points.clone();
        let stored_up_to = self.stored_up_to.clone();
        self.write(move |conn| {
            let mut stored_up_to = stored_up_to
                .lock()
                .map_err(|_| Error::Unavailable("latest-time cache poisoned".into()))?;
            let (inserted, count) = commit_points_blocking(conn, &points, &mut stored_up_to)?;
            recent.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            Ok(inserted)
        })
        .await
    }

    async fn latest_positions(&self) -> Result<Vec<Position>> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(&format!("SELECT {READ_COLUMNS} FROM latest_positions"))?;
            let rows = st.query_map([], row_to_position)?;
            rows.map(|r| r.map_err(Error::from).and_then(|p| p)).collect()
        })
        .await
    }

    async fn latest_position(&self, vehicle: VehicleId) -> Result<Option<Position>> {
        self.read(move |conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {READ_COLUMNS} FROM latest_positions WHERE vehicle = ?1"
            ))?;
            let mut rows = st.query_map([vehicle.0], row_to_position)?;
            rows.next().transpose()?.transpose()
        })
        .await
    }

    async fn read_track(&self, q: TrackQuery) -> Result<TrackStream> {
        self.read_track_chunks(q)
    }

    async fn track_count(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<u64> {
        self.read(move |conn| {
            // Both tables in one read transaction, as a track chunk reads them: a point is in one of them.
            let tx = conn.unchecked_transaction()?;
            let mut total = 0u64;
            for table in ["points", "points_recent"] {
                let n: i64 = tx
                    .prepare_cached(&format!(
                        "SELECT count(*) FROM {table} WHERE vehicle = ?1 AND fix_time >= ?2 AND fix_time < ?3"
                    ))
                    .and_then(|mut st| st.query_row(params![vehicle.0, from.0, to.0], |r| r.get(0)))?;
                total += n.max(0) as u64;
            }
            let (first, last) = days_of(from, to);
            let q = TrackQuery {
                vehicle,
                from,
                to,
                received_after: None,
                received_upto: None,
            };
            for (day, data) in read_blocks(&tx, vehicle.0, (first, last), None)? {
                if let Some(points) = decode_stored(vehicle.0, day, &data) {
                    total += block_points_in(points, &q, None).len() as u64;
                }
            }
            tx.finish()?;
            Ok(total)
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        EmbeddedBackend::close(self).await
    }

    async fn compact_blocks(&self, through_day: i64) -> Result<CompactSummary> {
        // First the recent points into `points`, so that every row of an old day is in one table.
        self.write(|conn| {
            super::move_recent(conn)?;
            Ok(())
        })
        .await?;
        let end = china_day_start(through_day + 1).0;
        let vehicles: Vec<i64> = self
            .read(move |conn| {
                let mut st = conn.prepare("SELECT DISTINCT vehicle FROM points WHERE fix_time < ?1")?;
                let rows = st.query_map([end], |r| r.get(0))?;
                rows.map(|r| r.map_err(Error::from)).collect()
            })
            .await?;
        let mut total = CompactSummary::default();
        // One vehicle a write job: appends queued meanwhile are committed between two vehicles.
        for vehicle in vehicles {
            let done = self
                .write(move |conn| compact_vehicle(conn, vehicle, through_day))
                .await?;
            total += done;
        }
        Ok(total)
    }

    async fn damaged_blocks(&self) -> Result<Vec<DamagedBlock>> {
        self.read(|conn| {
            let mut st = conn.prepare("SELECT vehicle, day, data FROM point_blocks ORDER BY vehicle, day")?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let (vehicle, day): (i64, i64) = (r.get(0)?, r.get(1)?);
                let data: Vec<u8> = r.get(2)?;
                if let Err(reason) = tianshu_model::block::decode_block(VehicleId(vehicle), &data) {
                    out.push(DamagedBlock {
                        vehicle: VehicleId(vehicle),
                        day,
                        reason,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn layer_stats(&self) -> Result<Vec<LayerStats>> {
        self.read(|conn| {
            let count = |sql: &str| -> Result<u64> {
                let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
                Ok(n.max(0) as u64)
            };
            // `dbstat` counts the pages of each table (a WITHOUT ROWID table is its key index).
            let pages = |names: &str| -> Result<u64> {
                count(&format!(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({names})"
                ))
            };
            let rows = count("SELECT (SELECT count(*) FROM points) + (SELECT count(*) FROM points_recent)")?;
            let blocked = count("SELECT coalesce(sum(points), 0) FROM point_blocks")?;
            let mut out = vec![
                LayerStats {
                    layer: "rows".into(),
                    points: rows,
                    bytes: pages("'points', 'points_recent'")?,
                },
                LayerStats {
                    layer: "blocks".into(),
                    points: blocked,
                    bytes: pages("'point_blocks'")?,
                },
                LayerStats {
                    layer: "indexes".into(),
                    points: 0,
                    bytes: pages("'latest_positions'")?,
                },
            ];
            let mut st = conn.prepare("SELECT day, points, length(data) FROM point_blocks ORDER BY day")?;
            let months = st
                .query_map([], |r| {
                    let (day, points, bytes): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                    Ok((day, points.max(0) as u64, bytes.max(0) as u64))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            out.extend(by_month(months));
            Ok(out)
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read_tx(tx!(|tx| tx.query("SELECT 1", &[]))).await.map(drop)
    }

    async fn applied_migrations(&self) -> Result<Vec<u32>> {
        self.read_tx(tx!(|tx| migrate::applied(tx))).await
    }
}

impl EmbeddedBackend {
    /// A vehicle's track, read in chunks on a blocking thread.
    fn read_track_chunks(&self, q: TrackQuery) -> Result<TrackStream> {
        // Keyset pagination: each step is a short read, so no read transaction stays open for the
        // life of a slow consumer, and the first points arrive before the last are read.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Position>>>(2);
        let conn = self.reader()?;
        let readers = self.readers.clone();
        let max_idle = self.config.max_idle_readers;
        tokio::task::spawn_blocking(move || {
            let mut after: Option<(i64, i64)> = None;
            loop {
                let chunk = read_track_chunk(&conn, q, after);
                let stop = match &chunk {
                    Ok(c) => {
                        after = c.last().map(|p| (p.fix_time.0, p.block_hash()));
                        c.len() < TRACK_CHUNK_POINTS
                    }
                    Err(_) => true,
                };
                if tx.blocking_send(chunk).is_err() || stop {
                    break;
                }
            }
            super::give_back(&readers, conn, max_idle);
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            let chunk = rx.recv().await?;
            let items: Vec<Result<Position>> = match chunk {
                Ok(c) => c.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            Some((futures::stream::iter(items), rx))
        });
        use futures::StreamExt;
        Ok(stream.flatten().boxed())
    }
}

fn read_track_chunk(conn: &Connection, q: TrackQuery, after: Option<(i64, i64)>) -> Result<Vec<Position>> {
    let TrackQuery {
        vehicle,
        from,
        to,
        received_after,
        ..
    } = q;
    // A point is in exactly one of `points` and `points_recent` at any snapshot (the move is one
    // transaction), and both tables are read in one read transaction: keyset pagination over the
    // merge neither repeats nor skips a point, even when a move happens between two chunks.
    // The range starts at the last point returned (a plain `fix_time >=` bound the index can seek
    // to), and the points of that same instant up to its hash are filtered out.
    let (start, after_time, after_hash) = match after {
        Some((t, h)) => (t.max(from.0), t, h),
        None => (from.0, i64::MIN, i64::MIN),
    };
    let limit = TRACK_CHUNK_POINTS as i64;
    // The receive time is compared in the packed record, as bytes (see `recv_time_bytes`).
    let received: Vec<(&str, [u8; 8])> = q
        .receive_bounds()
        .map(|(op, bound)| (op, recv_time_bytes(bound)))
        .collect();
    let recv_clause: String = received
        .iter()
        .enumerate()
        .map(|(i, (op, _))| format!(" AND substr(rec, {}, 8) {op} ?{}", REC_RECV_AT + 1, 7 + i))
        .collect();
    let tx = conn.unchecked_transaction()?;
    let read = |table: &str| -> Result<Vec<Position>> {
        let mut st = tx.prepare_cached(&format!(
            "SELECT {READ_COLUMNS} FROM {table} WHERE vehicle = ?1 AND fix_time >= ?2 AND fix_time < ?3 \
                 AND (fix_time > ?4 OR block_hash > ?5){recv_clause} ORDER BY fix_time, block_hash LIMIT ?6"
        ))?;
        let mut values: Vec<Value> = [vehicle.0, start, to.0, after_time, after_hash, limit]
            .into_iter()
            .map(Value::Integer)
            .collect();
        values.extend(received.iter().map(|(_, bytes)| Value::Blob(bytes.to_vec())));
        let rows = st.query_map(rusqlite::params_from_iter(values), row_to_position)?;
        rows.map(|r| r.map_err(Error::from).and_then(|p| p)).collect()
    };
    let archived = read("points")?;
    let recent = read("points_recent")?;
    // The blocks from the day of the last point returned on, up to `limit` points past it.
    let mut blocked = Vec::new();
    let (first, last) = days_of(Timestamp(start), to);
    for (day, data) in read_blocks(&tx, vehicle.0, (first, last), received_after)? {
        if blocked.len() >= TRACK_CHUNK_POINTS {
            break;
        }
        if let Some(points) = decode_stored(vehicle.0, day, &data) {
            blocked.extend(block_points_in(points, &q, after));
        }
    }
    tx.finish()?;
    let rows = merge_ordered(archived, recent, TRACK_CHUNK_POINTS);
    Ok(merge_ordered(blocked, rows, TRACK_CHUNK_POINTS))
}

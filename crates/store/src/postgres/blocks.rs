//! Track blocks on plain PostgreSQL (see [`crate::blocks`]): a commit into past days checked against their
//! blocks, the compaction of a vehicle's old days into blocks, and the reads of blocks beside rows (a
//! replay, a count, the damaged ones, the sizes of the layers).

use std::collections::HashSet;

use tianshu_model::block::{china_day, china_day_start, may_be_blocked, track_key};
use tianshu_model::{Position, Timestamp, VehicleId};

use super::PostgresBackend;
use futures::StreamExt;

use super::copy::{
    CopyParser, PG_MAX_MILLIS, PG_MIN_MILLIS, PgMillis, Staged, copy_buffer, rec_received, row_to_position,
    timestamptz_literal, to_datetime,
};
use super::points::{insert_staged, inserted_at, newest_per_vehicle};
use crate::blocks::{
    CompactSummary, DamagedBlock, LayerStats, PackedDays, block_points_in, by_month, days_of, decode_stored,
    merged_block, received_bound, stored_day,
};
use crate::{Result, TrackQuery};

/// The advisory lock that orders a compaction (exclusive) against commits of points into past days
/// (shared): a point is checked against its day's block and stored as a row while no compaction can move
/// that day's rows into the block.
const BLOCKS_LOCK: i64 = 0x7473_626c_6f63_6b73;

impl PostgresBackend {
    /// Commits a part that reaches into past days, which may have blocks: under the shared
    /// [`BLOCKS_LOCK`], the points their day's block holds are duplicates and the others go the staging
    /// way; returns the batch indexes of the points that were new.
    pub(super) async fn commit_past_part(
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
        let rows = insert_staged(&tx, copy_buffer(points, &kept), false).await?;
        tx.commit().await?;
        self.latest.offer(newest_per_vehicle(points, staged));
        inserted_at(&rows, staged, false)
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
            let Some(block) = merged_block(vehicle, day, old.as_deref(), &rows) else {
                done.damaged += 1;
                continue;
            };
            tx.execute(
                "INSERT INTO point_blocks (vehicle, day, points, data, received_last) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (vehicle, day) DO UPDATE SET points = excluded.points, data = excluded.data, \
                 received_last = excluded.received_last",
                &[
                    &vehicle,
                    &stored_day(day)?,
                    &(block.points as i32),
                    &block.data,
                    &block.received_last,
                ],
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

    /// [`crate::Backend::received_between`] on plain PostgreSQL: one binary COPY of the rows of every car
    /// (bounded by receive time at both ends), then one read of their blocks newer than the cursor. Rows
    /// first, then blocks, as [`crate::Backend::read_track`]: a compaction
    /// between the two moves points from rows into a block, so a point is read at least once, and a
    /// point read in both is handed out once.
    pub(super) async fn received_between_pg(
        &self,
        vehicles: &[VehicleId],
        from: Timestamp,
        (received_after, received_upto): (Timestamp, Timestamp),
    ) -> Result<Vec<Position>> {
        let ids: Vec<i64> = vehicles.iter().map(|v| v.0).collect();
        let client = self.client().await?;
        // Binary COPY, as a track's read: the rows arrive as bytes parsed in chunks, not a row object
        // each. COPY takes no parameters; every value below is a number or bytes formatted here.
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        // Every car's rows and blocks from `from` on, bounded at both ends by receive time.
        let window = |vehicle| TrackQuery {
            vehicle,
            from,
            to: Timestamp(PG_MAX_MILLIS),
            received_after: Some(received_after),
            received_upto: Some(received_upto),
        };
        let received: String = window(VehicleId(0))
            .receive_bounds()
            .map(|(op, t)| format!(" AND {}", rec_received(op, t)))
            .collect();
        let sql = format!(
            "COPY (SELECT vehicle, fix_time, rec FROM points WHERE vehicle = ANY('{{{list}}}'::bigint[]) \
             AND fix_time >= {from_sql}{received}) TO STDOUT (FORMAT binary)",
            list = list.join(","),
            from_sql = timestamptz_literal(from.0.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS)),
        );
        let mut parser = CopyParser::of_many();
        let mut parsed = Vec::new();
        let mut rows = std::pin::pin!(client.copy_out(&sql).await?);
        while let Some(chunk) = rows.next().await {
            parser.feed(&chunk?, &mut parsed);
        }
        parsed.extend(parser.finish());
        let mut out: Vec<Position> = parsed.into_iter().collect::<Result<_>>()?;
        let blocks_st = client
            .prepare_cached(
                "SELECT vehicle, day, data FROM point_blocks WHERE vehicle = ANY($1) AND day >= $2 \
                 AND (received_last IS NULL OR received_last > $3)",
            )
            .await?;
        let first = stored_day(china_day(from).max(0))?;
        let blocks = client
            .query(&blocks_st, &[&ids, &first, &received_bound(Some(received_after))])
            .await?;
        let mut packed = Vec::new();
        for r in &blocks {
            let (vehicle, day): (i64, i32) = (r.try_get(0)?, r.try_get(1)?);
            let Some(points) = decode_stored(vehicle, i64::from(day), r.try_get(2)?) else {
                continue;
            };
            packed.extend(block_points_in(points, &window(VehicleId(vehicle)), None));
        }
        if !packed.is_empty() {
            // A point read both as a row and in a block (packed between the two reads) once; only the
            // rows of the cars with such points are looked at, as blocks newer than a cursor are rare.
            let mut keys: HashSet<(i64, (i64, i64))> =
                packed.iter().map(|p| (p.vehicle.0, track_key(p))).collect();
            let cars: HashSet<i64> = keys.iter().map(|k| k.0).collect();
            for p in out.iter().filter(|p| cars.contains(&p.vehicle.0)) {
                keys.remove(&(p.vehicle.0, track_key(p)));
            }
            out.extend(
                packed
                    .into_iter()
                    .filter(|p| keys.remove(&(p.vehicle.0, track_key(p)))),
            );
        }
        Ok(out)
    }

    /// A track read's blocks, still packed (see [`PackedDays`]).
    pub(super) async fn block_days(&self, q: &TrackQuery) -> Result<PackedDays> {
        let client = self.client().await?;
        let (first, last) = days_of(q.from, q.to);
        let rows = client
            .query(
                "SELECT day, data FROM point_blocks WHERE vehicle = $1 AND day >= $2 AND day <= $3 \
                 AND (received_last IS NULL OR received_last > $4) ORDER BY day",
                &[
                    &q.vehicle.0,
                    &stored_day(first.max(0))?,
                    &stored_day(last.clamp(0, i64::from(i32::MAX)))?,
                    &received_bound(q.received_after),
                ],
            )
            .await?;
        let days = rows
            .iter()
            .map(|r| Ok((i64::from(r.try_get::<_, i32>(0)?), r.try_get(1)?)))
            .collect::<Result<_>>()?;
        Ok(PackedDays::new(*q, days))
    }

    pub(super) async fn track_count_pg(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64> {
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
            received_upto: None,
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

    pub(super) async fn compact_blocks_pg(&self, through_day: i64) -> Result<CompactSummary> {
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
        // The packed days' partitions are empty now: dropped whole, they leave no table or index pages.
        self.drop_packed_partitions(china_day_start(through_day + 1).0, BLOCKS_LOCK)
            .await?;
        Ok(total)
    }

    pub(super) async fn damaged_blocks_pg(&self) -> Result<Vec<DamagedBlock>> {
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

    pub(super) async fn layer_stats_pg(&self) -> Result<Vec<LayerStats>> {
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
}

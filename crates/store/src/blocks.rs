//! Track blocks in the store: points older than `keep_days` China days are moved, per vehicle and day,
//! out of the row tables into one block ([`tianshu_model::block`]) in `point_blocks`.
//!
//! Both backends keep the same invariants:
//! - A point is in exactly one place at any snapshot, a row or a block: a vehicle-day's block is written
//!   (or rewritten with the rows that landed in its day since) and those rows deleted in one transaction,
//!   so a compaction killed at any moment loses and repeats nothing, and running it again does nothing
//!   more.
//! - A point appended into a day that has a block is a duplicate when the block holds its key, else a
//!   row, which the next compaction merges into the block (one rewrite for all of them).
//! - A replay reads blocks and rows in one snapshot and merges them as one ordered track. A block that
//!   does not decode is left as it is, logged and counted (`tianshu_store_damaged_blocks_total`) and
//!   listed by [`crate::Store::damaged_blocks`]; the rest of the track still replays.

use std::cmp::Ordering;
use std::collections::VecDeque;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tianshu_model::block::{china_day, decode_block, encode_block, track_key, track_order};
use tianshu_model::{Position, Timestamp, VehicleId};

use crate::{Error, Result, TrackQuery, TrackStream};

/// When points are packed into blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlocksConfig {
    /// Whole China days kept as rows (today counts as one): 1, the least, packs every day before today.
    pub keep_days: u32,
    /// Seconds between compactions run in the background by a serving process; 0 for none (then only
    /// `tianshu store compact` packs blocks).
    pub compact_every_secs: u64,
    /// Whole China days of tracks kept: at each compaction, the blocks of older days are deleted (none when
    /// absent: keep everything). On TimescaleDB, `[store.postgres] retain_days` drops old chunks; this one
    /// deletes the blocks packed before the conversion.
    pub retain_days: Option<u32>,
}

impl Default for BlocksConfig {
    fn default() -> Self {
        BlocksConfig {
            keep_days: 1,
            compact_every_secs: 900,
            retain_days: None,
        }
    }
}

/// What one compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompactSummary {
    /// Vehicle-days whose block was written or rewritten.
    pub blocks: u64,
    /// Rows moved into blocks.
    pub points: u64,
    /// Vehicle-days left as rows because their block is damaged.
    pub damaged: u64,
    /// Blocks deleted because their day is older than `retain_days`.
    #[serde(default)]
    pub expired: u64,
}

impl std::ops::AddAssign for CompactSummary {
    fn add_assign(&mut self, other: CompactSummary) {
        self.blocks += other.blocks;
        self.points += other.points;
        self.damaged += other.damaged;
        self.expired += other.expired;
    }
}

/// A block that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamagedBlock {
    /// Its vehicle.
    pub vehicle: VehicleId,
    /// Its China day ([`china_day`]).
    pub day: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Points, bytes and bytes per point of one layer of the track store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// `rows`, `blocks` or `indexes`, or a month (`2026-11`) of the blocks.
    pub layer: String,
    /// Points held (0 for indexes, which hold none of their own).
    pub points: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// A block's decoded points, or the damage (logged and counted here, once per read).
pub(crate) fn decode_stored(vehicle: i64, day: i64, data: &[u8]) -> Option<Vec<Position>> {
    match decode_block(VehicleId(vehicle), data) {
        Ok(points) => Some(points),
        Err(reason) => {
            crate::metrics::metrics().damaged_blocks.inc();
            tracing::error!(vehicle, day, %reason, "a track block is damaged; its day is left out of the track");
            None
        }
    }
}

/// A vehicle-day's block as stored: its bytes, its point count and the latest receive time among its
/// points (`received_last`, Unix ms), by which a read of what arrived after a cursor skips the block
/// without decoding it.
pub(crate) struct Packed {
    pub(crate) data: Vec<u8>,
    pub(crate) points: u32,
    pub(crate) received_last: i64,
}

/// A vehicle-day's new block: its old block's points merged with `rows` (a key in both counted once).
/// `None` when the old block is damaged: the rows then stay rows.
pub(crate) fn merged_block(vehicle: i64, day: i64, old: Option<&[u8]>, rows: &[Position]) -> Option<Packed> {
    let mut points = match old {
        Some(data) => decode_stored(vehicle, day, data)?,
        None => Vec::new(),
    };
    points.extend_from_slice(rows);
    let received_last = points.iter().map(|p| p.recv_time.0).max().unwrap_or(0);
    let data = encode_block(&points);
    let n = tianshu_model::block::block_len(&data).unwrap_or(0);
    Some(Packed {
        data,
        points: n,
        received_last,
    })
}

/// The bound a read compares a block's `received_last` with: the blocks whose latest receive time is
/// after it may hold points the read wants. Without `received_after`, every block (the bound is below
/// any time); blocks packed before the column existed have none and are always read.
pub(crate) fn received_bound(received_after: Option<Timestamp>) -> i64 {
    received_after.map_or(i64::MIN, |t| t.0.max(0))
}

/// The points of a block a track read asks for, after the key `after` (keyset pagination), in order.
pub(crate) fn block_points_in(
    points: Vec<Position>,
    q: &TrackQuery,
    after: Option<(i64, i64)>,
) -> Vec<Position> {
    points
        .into_iter()
        .filter(|p| p.fix_time >= q.from && p.fix_time < q.to)
        .filter(|p| after.is_none_or(|a| track_key(p) > a))
        .filter(|p| q.received_after.is_none_or(|r| p.recv_time.0 > r.0.max(0)))
        .filter(|p| q.received_upto.is_none_or(|r| p.recv_time.0 <= r.0.max(0)))
        .collect()
}

/// The China days a track read touches: `from <= fix_time < to`.
pub(crate) fn days_of(from: Timestamp, to: Timestamp) -> (i64, i64) {
    (china_day(from), china_day(Timestamp(to.0.saturating_sub(1))))
}

/// Merges two lists in track order into at most `limit` points.
pub(crate) fn merge_ordered(a: Vec<Position>, b: Vec<Position>, limit: usize) -> Vec<Position> {
    let mut out = Vec::with_capacity(limit.min(a.len() + b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < limit {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => track_order(x, y).is_le(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if let Some(p) = if take_a { a.next() } else { b.next() } {
            out.push(p);
        }
    }
    out
}

/// The blocks per month (`blocks 2026-11`, China time), from `(day, points, bytes)` of each block in day
/// order.
pub(crate) fn by_month(blocks: impl IntoIterator<Item = (i64, u64, u64)>) -> Vec<LayerStats> {
    let mut out: Vec<LayerStats> = Vec::new();
    for (day, points, bytes) in blocks {
        let month = tianshu_model::block::china_day_start(day)
            .to_china()
            .format("blocks %Y-%m")
            .to_string();
        match out.last_mut() {
            Some(m) if m.layer == month => {
                m.points += points;
                m.bytes += bytes;
            }
            _ => out.push(LayerStats {
                layer: month,
                points,
                bytes,
            }),
        }
    }
    out
}

/// The first China day kept at `now` when tracks are retained for `retain_days` whole days (today counts
/// as one): blocks of the days before it are deleted.
pub fn first_retained_day(now: Timestamp, retain_days: u32) -> i64 {
    china_day(now) - i64::from(retain_days.max(1)) + 1
}

/// Deletes the blocks of the days before `first_day`, on either backend; how many.
pub(crate) async fn expire_blocks(db: &crate::db::Db, first_day: i64) -> Result<u64> {
    db.execute(
        "DELETE FROM point_blocks WHERE day < $1",
        crate::sql::params![stored_day(first_day.max(0))?].to_vec(),
    )
    .await
}

/// The stored day of a block as the database hands it.
pub(crate) fn stored_day(day: i64) -> Result<i32> {
    i32::try_from(day).map_err(|_| Error::Corrupt(format!("block day {day} out of range")))
}

/// A track read's blocks as the store handed them, in day order, each decoded only when the read
/// reaches it: a year's replay holds one day's points at a time, not the year's.
pub(crate) struct PackedDays {
    query: TrackQuery,
    days: VecDeque<(i64, Vec<u8>)>,
}

impl PackedDays {
    /// The blocks `(day, data)` of `query`'s vehicle, in day order.
    pub(crate) fn new(query: TrackQuery, days: Vec<(i64, Vec<u8>)>) -> PackedDays {
        PackedDays {
            query,
            days: days.into(),
        }
    }

    /// The next day's points the read asks for, in track order (a damaged block left out, as
    /// [`decode_stored`] says); `None` after the last.
    fn next_day(&mut self) -> Option<VecDeque<Position>> {
        while let Some((day, data)) = self.days.pop_front() {
            if let Some(points) = decode_stored(self.query.vehicle.0, day, &data) {
                let points = block_points_in(points, &self.query, None);
                if !points.is_empty() {
                    return Some(points.into());
                }
            }
        }
        None
    }
}

/// Merges a track's row stream with its blocks (both in track order) into one ordered stream; a key in
/// both is handed out once.
pub(crate) fn merge_with_blocks(rows: TrackStream, packed: PackedDays) -> TrackStream {
    if packed.days.is_empty() {
        return rows;
    }
    MergeWithBlocks {
        rows: Some(rows),
        pending: None,
        day: VecDeque::new(),
        packed,
    }
    .boxed()
}

/// [`merge_with_blocks`]'s stream: a row read ahead waits in `pending` for the blocks' points before it.
/// Written as a `Stream` rather than an `unfold`, which would move the whole state through a new future
/// for every point (a year's replay is hundreds of thousands of them).
struct MergeWithBlocks {
    /// `None` once the rows are done (or failed).
    rows: Option<TrackStream>,
    pending: Option<Position>,
    /// What is left of the day being read from the blocks.
    day: VecDeque<Position>,
    packed: PackedDays,
}

impl futures::Stream for MergeWithBlocks {
    type Item = Result<Position>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = self.get_mut();
        if this.pending.is_none()
            && let Some(rows) = &mut this.rows
        {
            match rows.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(p))) => this.pending = Some(p),
                Poll::Ready(Some(Err(e))) => {
                    this.rows = None;
                    this.day.clear();
                    this.packed.days.clear();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => this.rows = None,
            }
        }
        if this.day.is_empty()
            && let Some(day) = this.packed.next_day()
        {
            this.day = day;
        }
        let next = match (&this.pending, this.day.front()) {
            (Some(r), Some(b)) => match track_order(b, r) {
                Ordering::Less => this.day.pop_front(),
                Ordering::Equal => {
                    this.day.pop_front();
                    this.pending.take()
                }
                Ordering::Greater => this.pending.take(),
            },
            (Some(_), None) => this.pending.take(),
            (None, _) => this.day.pop_front(),
        };
        Poll::Ready(next.map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use tianshu_model::block::china_day_start;

    use super::*;

    fn at(day: i64, minute: i64, lon_e6: i32) -> Position {
        let t = china_day_start(day).add_millis(minute * 60_000);
        Position {
            vehicle: VehicleId(1),
            fix_time: t,
            recv_time: t,
            lat_e6: 30_000_000,
            lon_e6,
            ..Position::default()
        }
    }

    #[test]
    fn rows_and_days_of_blocks_merge_in_track_order_each_point_once() {
        let (a, b, c) = (20_400, 20_401, 20_402);
        let day_a: Vec<Position> = (0..5).map(|m| at(a, m * 10, 115_000_000 + m as i32)).collect();
        // Two points of one instant in day c: the hash orders them.
        let mut day_c: Vec<Position> = (0..5).map(|m| at(c, m * 10, 116_000_000 + m as i32)).collect();
        day_c.push(at(c, 20, 116_500_000));
        // Rows: one between two of day a's points, one also in day c's block, one after everything.
        let rows = vec![at(a, 15, 117_000_000), day_c[3], at(c + 1, 0, 118_000_000)];
        let packed = PackedDays::new(
            TrackQuery {
                vehicle: VehicleId(1),
                from: china_day_start(a),
                to: china_day_start(c + 2),
                received_after: None,
                received_upto: None,
            },
            vec![
                (a, encode_block(&day_a)),
                (b, b"not a block".to_vec()),
                (c, encode_block(&day_c)),
            ],
        );
        let stream = futures::stream::iter(rows.clone().into_iter().map(Ok)).boxed();
        let merged: Vec<Position> =
            futures::executor::block_on(merge_with_blocks(stream, packed).try_collect()).unwrap();
        let mut expect: Vec<Position> = day_a.iter().chain(&day_c).chain(&rows).copied().collect();
        expect.sort_by_key(track_key);
        expect.dedup_by_key(|p| track_key(p));
        assert_eq!(expect.len(), 5 + 6 + 2, "the row in day c's block counted once");
        assert_eq!(
            merged, expect,
            "the damaged day b left out, the rest in track order"
        );
    }
}

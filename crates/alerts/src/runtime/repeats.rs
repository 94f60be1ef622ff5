//! Recognising a point the rules have already taken, so that a repeat cannot open a second case or
//! change one.
//!
//! The store's follower hands every committed point over at least once; a catch-up from the store can
//! hand over again points it had delivered before (its range spans them), and a point committed while a
//! catch-up reads may come both from the read and from the queue (see [`tianshu_store::follow`]). Fed
//! to the rules twice, a point no newer than the car's last one would go to the late lane, whose
//! episodes are marked late: it could open a second case, or mark a case late, for data that was on
//! time. So each car remembers the keys (fix time, block hash: the store's own key with the vehicle) of
//! the last [`REMEMBERED`] points its rules took, and a point with a remembered key is dropped. A batch
//! is sifted as a whole before any of it is taken, so a long catch-up cannot push out the keys it is
//! compared with.
//!
//! Only a point no newer than the newest remembered one can be a repeat; a point in fix-time order (the
//! usual case) is not looked up. The memory is bounded per car: a repeat goes unrecognised only when a
//! car's points arrive out of order by more than [`REMEMBERED`] points around the moment its follower
//! fell behind (a repeat is a point delivered shortly before the catch-up, or during it).

use std::collections::VecDeque;

use tianshu_model::Position;

/// Keys remembered per car.
pub(super) const REMEMBERED: usize = 128;

/// The keys of the last points one car's rules took.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Taken {
    /// (fix time, block hash), in the order taken.
    keys: VecDeque<(i64, i64)>,
    /// The newest fix time among `keys`.
    newest: Option<i64>,
}

fn key(p: &Position) -> (i64, i64) {
    (p.fix_time.millis(), p.block_hash())
}

impl Taken {
    /// The points of `batch` (one car's, in the order to feed them) not taken before.
    pub(super) fn sift<'a>(&self, batch: &[&'a Position]) -> Vec<&'a Position> {
        batch
            .iter()
            .filter(|p| {
                !self
                    .newest
                    .is_some_and(|n| p.fix_time.millis() <= n && self.keys.contains(&key(p)))
            })
            .copied()
            .collect()
    }

    /// The keys of the last `n` points taken (a saved state keeps these).
    pub(super) fn last(&self, n: usize) -> Taken {
        let keys: VecDeque<(i64, i64)> = self
            .keys
            .iter()
            .skip(self.keys.len().saturating_sub(n))
            .copied()
            .collect();
        Taken {
            newest: keys.iter().map(|k| k.0).max(),
            keys,
        }
    }

    /// Remembers that the rules took `p`.
    pub(super) fn take(&mut self, p: &Position) {
        if self.keys.len() == REMEMBERED {
            self.keys.pop_front();
        }
        let k = key(p);
        self.keys.push_back(k);
        // The newest of what is still remembered is at most this; an evicted newer key only makes a
        // later point be looked up needlessly.
        self.newest = Some(self.newest.map_or(k.0, |n| n.max(k.0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tianshu_model::{Timestamp, VehicleId};

    fn point(secs: i64, lat_e6: i32) -> Position {
        Position {
            vehicle: VehicleId(1),
            fix_time: Timestamp::from_secs(secs),
            lat_e6,
            ..Position::default()
        }
    }

    #[test]
    fn a_point_taken_before_is_sifted_out_and_a_new_late_one_is_kept() {
        let mut taken = Taken::default();
        let delivered: Vec<Position> = (20..=40).map(|s| point(s, 1)).collect();
        for p in &delivered {
            taken.take(p);
        }
        // A catch-up range spanning the delivered stretch: a backfilled start, the stretch again, and newer points.
        let range: Vec<Position> = (0..=50).map(|s| point(s, 1)).collect();
        let refs: Vec<&Position> = range.iter().collect();
        let fresh: Vec<i64> = taken.sift(&refs).iter().map(|p| p.fix_time.secs()).collect();
        let expected: Vec<i64> = (0..20).chain(41..=50).collect();
        assert_eq!(fresh, expected);
        // The same fix time with another block (another point of the store) is not a repeat.
        let other = point(30, 2);
        assert_eq!(taken.sift(&[&other]).len(), 1);
    }

    #[test]
    fn the_last_keys_recognise_the_last_points_only() {
        let mut taken = Taken::default();
        let points: Vec<Position> = (0..100).map(|s| point(s, 1)).collect();
        for p in &points {
            taken.take(p);
        }
        let kept = taken.last(10);
        let refs: Vec<&Position> = points.iter().collect();
        let fresh: Vec<i64> = kept.sift(&refs).iter().map(|p| p.fix_time.secs()).collect();
        assert_eq!(fresh, (0..90).collect::<Vec<_>>());
        assert_eq!(taken.last(1000).sift(&refs).len(), 0);
    }

    #[test]
    fn the_memory_keeps_the_last_points_taken() {
        let mut taken = Taken::default();
        let points: Vec<Position> = (0..(REMEMBERED as i64 + 10)).map(|s| point(s, 1)).collect();
        for p in &points {
            taken.take(p);
        }
        let refs: Vec<&Position> = points.iter().collect();
        let fresh = taken.sift(&refs);
        assert_eq!(fresh.len(), 10, "only the forgotten oldest come through");
        assert!(fresh.iter().all(|p| p.fix_time.secs() < 10));
    }
}

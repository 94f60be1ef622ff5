//! What a track shows besides its points: its stops and trips, and a simplified line for the map.
//!
//! A stop is a stretch of at least [`MIN_STOP_MS`] during which the car stays below
//! [`STOP_SPEED_DKMH`]; the trips are what lies between stops. Distances are great-circle sums of the
//! stored fixes (not the odometer, which many terminals do not report).
//!
//! Simplification is for long replays: a month at 10 s is 260k points and a map needs far fewer.
//! Douglas-Peucker reduces moving stretches to within a tolerance in metres, but an inspector must
//! still see every stop and every alarm, so those points are pinned first: the first and last point
//! of every stationary run (speed 0), every point whose alarm word is non-zero, and the track's two
//! ends. Simplification runs between pinned points.

use serde::Serialize;
use tianshu_model::geo::{LocalFrame, segment_distance2};
use tianshu_model::{LonLat, Position, Timestamp};

/// Below this speed (0.1 km/h units) the car counts as standing.
pub const STOP_SPEED_DKMH: u16 = 30;
/// A standstill shorter than this (a traffic light) is not a stop.
pub const MIN_STOP_MS: i64 = 3 * 60 * 1000;

/// A stop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    /// Arrival.
    pub from: Timestamp,
    /// Departure (or the end of the range).
    pub to: Timestamp,
    /// Where: longitude, WGS-84 degrees.
    pub longitude: f64,
    /// Where: latitude, WGS-84 degrees.
    pub latitude: f64,
    /// Ignition stayed on throughout (idling).
    pub idling: bool,
}

/// A trip between two stops.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trip {
    /// Departure.
    pub from: Timestamp,
    /// Arrival.
    pub to: Timestamp,
    /// Distance driven, metres.
    pub distance_m: f64,
    /// Top speed, km/h.
    pub max_kmh: f64,
}

/// The standing runs long enough to be stops, as inclusive index ranges.
fn stop_runs(points: &[Position]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, p) in points.iter().enumerate() {
        let standing = p.speed_dkmh < STOP_SPEED_DKMH;
        match (standing, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, points.len() - 1));
    }
    runs.retain(|&(s, e)| points[e].fix_time.millis() - points[s].fix_time.millis() >= MIN_STOP_MS);
    runs
}

/// Splits a fix-time-ordered track into stops and trips.
pub fn trips_and_stops(points: &[Position]) -> (Vec<Trip>, Vec<Stop>) {
    let stops_idx = stop_runs(points);
    let stops = stops_idx
        .iter()
        .map(|&(s, e)| Stop {
            from: points[s].fix_time,
            to: points[e].fix_time,
            longitude: points[s].lon(),
            latitude: points[s].lat(),
            idling: points[s..=e].iter().all(|p| p.status.acc_on()),
        })
        .collect();
    // Trips: the stretches between stops (and before the first / after the last).
    let mut trips = Vec::new();
    let mut cursor = 0;
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    for &(s, e) in &stops_idx {
        if s > cursor {
            bounds.push((cursor, s));
        }
        cursor = e;
    }
    if cursor + 1 < points.len() {
        bounds.push((cursor, points.len() - 1));
    }
    for (s, e) in bounds {
        let seg = &points[s..=e];
        let distance_m: f64 = seg
            .windows(2)
            .map(|w| w[0].lonlat().distance_m(w[1].lonlat()))
            .sum();
        if distance_m < 50.0 {
            continue;
        }
        let max_kmh = seg.iter().map(Position::speed_kmh).fold(0.0, f64::max);
        trips.push(Trip {
            from: seg[0].fix_time,
            to: seg[seg.len() - 1].fix_time,
            distance_m,
            max_kmh,
        });
    }
    (trips, stops)
}

/// Simplifies a time-ordered track, keeping stops, alarm points, both ends, and both sides of a silence
/// longer than a stop ([`MIN_STOP_MS`]) unless the car stood still on both: whoever draws the simplified
/// track moves the car between the points kept at the pace of their times, so a car that stood silent for
/// hours and then drove off must keep the fix it drove off from, or it would be shown creeping away
/// through the whole silence.
pub fn simplify_track(points: &[Position], tolerance_m: f64) -> Vec<Position> {
    let n = points.len();
    if n <= 2 {
        return points.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    for i in 0..n {
        let p = &points[i];
        let stopped = p.speed_dkmh == 0;
        let run_starts = i == 0 || points[i - 1].speed_dkmh != 0;
        let run_ends = i + 1 == n || points[i + 1].speed_dkmh != 0;
        if p.alarm.0 != 0 || (stopped && (run_starts || run_ends)) {
            keep[i] = true;
        }
        if i > 0
            && p.fix_time.millis() - points[i - 1].fix_time.millis() > MIN_STOP_MS
            && !(stopped && points[i - 1].speed_dkmh == 0)
        {
            keep[i - 1] = true;
            keep[i] = true;
        }
    }
    // Planar metres around the track's mean point: exact enough for the few-kilometre spans one
    // simplification step compares.
    let mean = |f: fn(&Position) -> f64| points.iter().map(f).sum::<f64>() / n as f64;
    let frame = LocalFrame::new(LonLat::new(mean(Position::lon), mean(Position::lat)));
    let xy: Vec<(f64, f64)> = points.iter().map(|p| frame.to_xy(p.lonlat())).collect();
    let pinned: Vec<usize> = (0..n).filter(|i| keep[*i]).collect();
    let mut stack = Vec::new();
    for w in pinned.windows(2) {
        stack.push((w[0], w[1]));
        while let Some((a, b)) = stack.pop() {
            if b <= a + 1 {
                continue;
            }
            let mut worst = (0.0, a);
            for i in a + 1..b {
                let d = segment_distance2(xy[i], xy[a], xy[b]).sqrt();
                if d > worst.0 {
                    worst = (d, i);
                }
            }
            if worst.0 > tolerance_m {
                keep[worst.1] = true;
                stack.push((a, worst.1));
                stack.push((worst.1, b));
            }
        }
    }
    points
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect()
}

/// A car's fixes in fix-time order with the distance driven up to each: the fixes within a window and
/// the distance between two times by binary search, so that one read of a car's track answers every
/// question about it (the fuel checks ask two per fill).
#[derive(Debug, Clone, Default)]
pub struct TrackIndex {
    points: Vec<(Timestamp, LonLat)>,
    /// Great-circle metres from the first fix to each.
    travelled_m: Vec<f64>,
}

impl TrackIndex {
    /// Indexes fixes given in fix-time order.
    pub fn new(points: Vec<(Timestamp, LonLat)>) -> Self {
        let mut travelled_m = Vec::with_capacity(points.len());
        let mut sum = 0.0;
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                sum += points[i - 1].1.distance_m(p.1);
            }
            travelled_m.push(sum);
        }
        TrackIndex { points, travelled_m }
    }

    fn range(&self, from: Timestamp, to: Timestamp) -> std::ops::Range<usize> {
        let start = self.points.partition_point(|p| p.0 < from);
        let end = self.points.partition_point(|p| p.0 < to).max(start);
        start..end
    }

    /// The fixes with `from <= time < to`.
    pub fn within(&self, from: Timestamp, to: Timestamp) -> &[(Timestamp, LonLat)] {
        &self.points[self.range(from, to)]
    }

    /// Metres along the fixes with `from <= time < to`; `None` when there is none.
    pub fn distance_m(&self, from: Timestamp, to: Timestamp) -> Option<f64> {
        let r = self.range(from, to);
        (!r.is_empty()).then(|| self.travelled_m[r.end - 1] - self.travelled_m[r.start])
    }
}

#[cfg(test)]
mod tests {
    use tianshu_model::{AlarmFlags, StatusFlags};

    use super::*;

    fn pt(t_s: i64, lon_e6: i32, speed_dkmh: u16) -> Position {
        Position {
            fix_time: Timestamp::from_secs(t_s),
            lon_e6,
            lat_e6: 30_000_000,
            speed_dkmh,
            status: StatusFlags(StatusFlags::ACC_ON),
            ..Default::default()
        }
    }

    #[test]
    fn a_long_standstill_splits_two_trips() {
        let mut pts = Vec::new();
        // Drive 10 minutes east, stand 10 minutes, drive 10 minutes east again.
        for i in 0..60 {
            pts.push(pt(i * 10, 115_000_000 + i as i32 * 100, 400));
        }
        for i in 60..120 {
            pts.push(pt(i * 10, 115_006_000, 0));
        }
        for i in 120..180 {
            pts.push(pt(i * 10, 115_006_000 + (i as i32 - 120) * 100, 400));
        }
        let (trips, stops) = trips_and_stops(&pts);
        assert_eq!(stops.len(), 1);
        assert_eq!(stops[0].from, Timestamp::from_secs(600));
        assert!(stops[0].idling);
        assert_eq!(trips.len(), 2);
        // 59 steps of 0.0001 degree of longitude at 30 N (about 9.6 m each), plus the step into the stop.
        assert!(
            (trips[0].distance_m - 60.0 * 9.63).abs() < 10.0,
            "{}",
            trips[0].distance_m
        );
        assert_eq!(trips[0].max_kmh, 40.0);
    }

    #[test]
    fn a_red_light_is_not_a_stop() {
        let pts: Vec<_> = (0..30)
            .map(|i| {
                pt(
                    i * 10,
                    115_000_000 + i as i32 * 100,
                    if i == 10 { 0 } else { 300 },
                )
            })
            .collect();
        let (trips, stops) = trips_and_stops(&pts);
        assert!(stops.is_empty());
        assert_eq!(trips.len(), 1);
    }

    fn at(i: i64, lat_e6: i32, lon_e6: i32, speed_dkmh: u16) -> Position {
        Position {
            fix_time: Timestamp::from_secs(i * 10),
            lat_e6,
            lon_e6,
            speed_dkmh,
            ..Default::default()
        }
    }

    #[test]
    fn straight_lines_collapse_but_stops_and_alarms_stay() {
        // 100 points due east at speed, a stop of 10 points, 100 more points east, one alarm among them.
        let mut track: Vec<Position> = (0..100)
            .map(|i| at(i, 30_000_000, 115_000_000 + i as i32 * 100, 400))
            .collect();
        track.extend((100..110).map(|i| at(i, 30_000_000, 115_010_000, 0)));
        track.extend((110..210).map(|i| at(i, 30_000_000, 115_010_000 + (i as i32 - 110) * 100, 400)));
        track[150].alarm = AlarmFlags(1);
        let simple = simplify_track(&track, 5.0);
        let times: Vec<i64> = simple.iter().map(|p| p.fix_time.secs() / 10).collect();
        assert_eq!(times, [0, 100, 109, 150, 209]);

        // A detour well beyond the tolerance is kept.
        track[50].lat_e6 += 1_000; // about 111 m north
        let simple = simplify_track(&track, 5.0);
        assert!(simple.iter().any(|p| p.fix_time.secs() == 500));
        assert!(simplify_track(&track[..2], 5.0).len() == 2);
    }

    #[test]
    fn a_car_that_drives_off_after_a_silence_keeps_the_fix_it_left_from() {
        // Parked at the origin until 100, silent for an hour, then due east from the origin at speed.
        let mut track: Vec<Position> = (0..=10).map(|i| at(i * 10, 30_000_000, 115_000_000, 0)).collect();
        track.extend((0..60).map(|i| at(460 + i, 30_000_000, 115_000_000 + i as i32 * 100, 400)));
        let simple = simplify_track(&track, 5.0);
        let times: Vec<i64> = simple.iter().map(|p| p.fix_time.secs() / 10).collect();
        assert_eq!(times, [0, 100, 460, 519], "the silence's both sides kept");
        // Hours of a parked car's periodic reports with silences between them stay one stop.
        let parked: Vec<Position> = (0..20).map(|i| at(i * 40, 30_000_000, 115_000_000, 0)).collect();
        assert_eq!(simplify_track(&parked, 5.0).len(), 2);
    }

    #[test]
    fn a_long_stop_keeps_its_ends() {
        // 600 fixes 50 micro-degrees apart at 10 s, a 10-minute stop from 2,000 s, an alarm at 4,000 s.
        let mut track: Vec<Position> = (0..600)
            .map(|i| at(i, 30_200_000, 115_000_000 + i as i32 * 50, 420))
            .collect();
        for p in &mut track[200..260] {
            p.speed_dkmh = 0;
            p.lon_e6 = 115_010_000;
        }
        track[400].alarm = AlarmFlags(1 << 1);
        let simple = simplify_track(&track, 10.0);
        assert!(simple.len() < 20, "{} points", simple.len());
        let secs: Vec<i64> = simple.iter().map(|p| p.fix_time.secs()).collect();
        for must in [0, 2_000, 2_590, 4_000, 5_990] {
            assert!(secs.contains(&must), "{must} missing from {secs:?}");
        }
        assert!(secs.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn an_indexed_track_answers_windows_and_distances_like_its_fixes() {
        let at = |s: i64| Timestamp(s * 1000);
        let fixes: Vec<_> = (0..10)
            .map(|i| (at(i * 10), LonLat::new(115.0 + i as f64 * 0.001, 30.2)))
            .collect();
        let index = TrackIndex::new(fixes.clone());
        assert_eq!(index.within(at(15), at(45)), &fixes[2..5]);
        assert_eq!(index.within(at(200), at(300)), &[]);
        let along: f64 = fixes[2..5].windows(2).map(|w| w[0].1.distance_m(w[1].1)).sum();
        let d = index.distance_m(at(15), at(45)).unwrap();
        assert!((d - along).abs() < 1e-6, "{d} vs {along}");
        assert!(along > 150.0);
        assert_eq!(index.distance_m(at(20), at(21)), Some(0.0));
        assert_eq!(index.distance_m(at(91), at(95)), None);
    }
}

//! Server-side track simplification for long replays.
//!
//! A month at 10 s is 260k points; a map needs far fewer. Douglas-Peucker reduces moving stretches to
//! within a tolerance in metres, but an inspector must still see every stop and every alarm, so those
//! points are pinned first: the first and last point of every stationary run (speed 0), every point
//! whose alarm word is non-zero, and the track's two ends. Simplification runs between pinned points.

use tianshu_model::geo::{LocalFrame, segment_distance2};
use tianshu_model::{LonLat, Position};

/// Simplifies a time-ordered track, keeping stops, alarm points and both ends.
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

#[cfg(test)]
mod tests {
    use tianshu_model::{AlarmFlags, Timestamp};

    use super::*;

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
}

//! Trips and stops of a track, for the replay timeline, the trips table and the monthly report (the
//! routes that serve them are `resources::tracks` and `resources::reports`).
//!
//! A stop is a stretch of at least [`MIN_STOP_MS`] during which the car stays below
//! [`STOP_SPEED_DKMH`]; the trips are what lies between stops. Distances are great-circle sums of the
//! stored fixes (not the odometer, which many terminals do not report).

use serde::Serialize;
use tianshu_model::{Position, Timestamp};

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
    pub lon_deg: f64,
    /// Where: latitude, WGS-84 degrees.
    pub lat_deg: f64,
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

/// Great-circle distance in metres.
pub fn haversine_m(a: &Position, b: &Position) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, la2) = (a.lat().to_radians(), b.lat().to_radians());
    let dla = la2 - la1;
    let dlo = (b.lon() - a.lon()).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().asin()
}

/// Splits a fix-time-ordered track into stops and trips.
pub fn trips_and_stops(points: &[Position]) -> (Vec<Trip>, Vec<Stop>) {
    // Standing runs first, as index ranges.
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
    let stops_idx: Vec<(usize, usize)> = runs
        .into_iter()
        .filter(|&(s, e)| points[e].fix_time.millis() - points[s].fix_time.millis() >= MIN_STOP_MS)
        .collect();
    let stops = stops_idx
        .iter()
        .map(|&(s, e)| Stop {
            from: points[s].fix_time,
            to: points[e].fix_time,
            lon_deg: points[s].lon(),
            lat_deg: points[s].lat(),
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
        let distance_m: f64 = seg.windows(2).map(|w| haversine_m(&w[0], &w[1])).sum();
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

#[cfg(test)]
mod tests {
    use tianshu_model::StatusFlags;

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
}

//! Trips and stops of a track, for the replay timeline and the trips table.
//!
//! A stop is a stretch of at least [`MIN_STOP_MS`] during which the car stays below
//! [`STOP_SPEED_DKMH`]; the trips are what lies between stops. Distances are great-circle sums of the
//! stored fixes (not the odometer, which many terminals do not report).

use axum::Json;
use axum::extract::{Path, Query, State};
use futures::TryStreamExt;
use serde::Serialize;
use tianshu_model::{Position, Timestamp, Vehicle, VehicleId};

use crate::ApiState;
use crate::auth::{Client, Principal, audit};
use crate::error::ApiResult;
use crate::handlers::{RangeQuery, parse_range, track_audit};
use crate::scope::Scoped;

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
    /// Where, WGS-84 degrees.
    pub lon: f64,
    /// Where, WGS-84 degrees.
    pub lat: f64,
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
            lon: points[s].lon(),
            lat: points[s].lat(),
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

/// The trips and stops of one vehicle over a range.
#[derive(Debug, Serialize)]
pub struct TripsAndStops {
    /// The vehicle.
    pub vehicle: Vehicle,
    /// Range start.
    pub from: Timestamp,
    /// Range end.
    pub to: Timestamp,
    /// Points stored in the range.
    pub points: usize,
    /// Trips, in time order.
    pub trips: Vec<Trip>,
    /// Stops, in time order.
    pub stops: Vec<Stop>,
}

/// `GET /api/vehicles/{id}/trips?from=&to=`: the trips and stops of a range, computed from every stored
/// point as the replay does; scoped like a track and audited like a replay.
pub async fn trips(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<TripsAndStops>> {
    let (from, to) = parse_range(&state, &q)?;
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = scoped.vehicle(VehicleId(id)).await?;
    let points: Vec<Position> = scoped.track(vehicle.id, from, to).await?.try_collect().await?;
    audit(
        &state,
        track_audit(&who, client, "trips".into(), vehicle.id, from, to, points.len()),
    )
    .await?;
    let (trips, stops) = trips_and_stops(&points);
    Ok(Json(TripsAndStops {
        vehicle,
        from,
        to,
        points: points.len(),
        trips,
        stops,
    }))
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

//! The trips table: a vehicle's trips and stops over a range, as the rules find them in its track
//! ([`tianshu_rules::track`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use futures::TryStreamExt;
use serde::Serialize;
use tianshu_model::{Position, Timestamp, Vehicle, VehicleId};
use tianshu_rules::track::{Stop, Trip, trips_and_stops};

use crate::ApiState;
use crate::auth::{Client, Principal, audit};
use crate::error::ApiResult;
use crate::handlers::{RangeQuery, parse_range, track_audit};
use crate::scope::Scoped;

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

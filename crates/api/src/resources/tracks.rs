//! A vehicle's track over a range: the stored points (`GET /api/positions`), the replay view
//! (`GET /api/vehicles/{id}/replay`) and the trips and stops (`GET /api/vehicles/{id}/trips`).
//!
//! `GET /api/positions` streams ([`start_download`], [`crate::download`]); the views computed from a
//! whole track read it whole. Every look at a track goes through [`look_at_track`] or
//! [`start_download`]: the scope refuses a vehicle outside the caller's units before a point is read,
//! and the look is written to the audit log (who, which vehicle, which range, how many points) before
//! any point leaves. A range is at most the configured number of days.

use axum::Json;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tianshu_model::{Position, Timestamp, Vehicle, VehicleId};

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Client, Principal};
use crate::cases::{CaseFilter, CaseView};
use crate::download::{self, Document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::position::{Identity, REPLAY_COLUMNS, ReplayRow, WirePosition, WireStop};
use crate::scope::Scoped;
use tianshu_rules::track::{Trip, trips_and_stops};
use tokio::sync::OwnedSemaphorePermit;

/// Checks a range given as RFC 3339 texts: `to` after `from`, at most the configured days long.
pub(crate) fn parse_range(state: &ApiState, from: &str, to: &str) -> ApiResult<(Timestamp, Timestamp)> {
    let from = Timestamp::parse_rfc3339(from).map_err(|e| ApiError::BadRequest(format!("from: {e}")))?;
    let to = Timestamp::parse_rfc3339(to).map_err(|e| ApiError::BadRequest(format!("to: {e}")))?;
    if to <= from {
        return Err(ApiError::BadRequest("`to` must be after `from`".into()));
    }
    let max_ms = i64::from(state.config().max_range_days) * 86_400_000;
    if to.millis() - from.millis() > max_ms {
        return Err(ApiError::BadRequest(format!(
            "range longer than {} days",
            state.config().max_range_days
        )));
    }
    Ok((from, to))
}

/// Every stored point of `vehicle` in `range`, in fix-time order, after the scope check; the look is
/// audited as `action` before the points are handed back.
pub(crate) async fn look_at_track(
    state: &ApiState,
    scoped: &Scoped,
    client: Client,
    action: &str,
    vehicle: VehicleId,
    range: (Timestamp, Timestamp),
) -> ApiResult<Vec<Position>> {
    let points: Vec<Position> = scoped
        .track(vehicle, range.0, range.1)
        .await?
        .try_collect()
        .await?;
    let entry = audit::track_look(scoped.who(), client, action, vehicle, range, points.len());
    audit::record(state, entry).await?;
    Ok(points)
}

/// Admits a download of `vehicle`'s track over `range` (429 when too many stream already), counts its
/// points and audits the look as `action` with that count, all before its first byte: the range and the
/// place to stream it with ([`download::body`]). `vehicle` is the one `scoped` admitted.
pub(crate) async fn start_download(
    state: &ApiState,
    scoped: &Scoped,
    client: Client,
    action: &str,
    vehicle: &Vehicle,
    (from, to): (Timestamp, Timestamp),
) -> ApiResult<(download::TrackRange, OwnedSemaphorePermit)> {
    let permit = state.downloads().admit()?;
    let count = scoped.track_count(vehicle, from, to).await?;
    let vehicle = vehicle.id;
    let entry = audit::track_look(scoped.who(), client, action, vehicle, (from, to), count as usize);
    audit::record(state, entry).await?;
    let range = download::TrackRange {
        vehicle,
        from,
        to,
        count,
    };
    Ok((range, permit))
}

/// `GET /api/positions`: a JSON array of [`WirePosition`]s, the phones shown as `identity` says.
struct PositionsJson {
    identity: Identity,
    /// One position's text, kept between points so that each is written without allocating.
    scratch: Vec<u8>,
}

impl Document for PositionsJson {
    fn open(&mut self, _: usize, out: &mut String) {
        out.push('[');
    }

    fn point(&mut self, _: usize, index: u64, p: &Position, out: &mut String) {
        if index > 0 {
            out.push(',');
        }
        self.scratch.clear();
        // A position always serializes (numbers and texts only), and serde_json writes UTF-8.
        if serde_json::to_writer(&mut self.scratch, &WirePosition(*p, self.identity)).is_ok()
            && let Ok(text) = std::str::from_utf8(&self.scratch)
        {
            out.push_str(text);
        }
    }

    fn close(&mut self, out: &mut String) {
        out.push(']');
    }
}

/// Which vehicle and which range a track view covers: the first fields of the trips and the replay.
#[derive(Debug, Serialize)]
pub struct TrackRange {
    /// The vehicle.
    pub vehicle: Vehicle,
    /// Range start.
    pub from: Timestamp,
    /// Range end.
    pub to: Timestamp,
}

/// One vehicle's whole track over a range, looked at through [`look_at_track`] (scoped and audited):
/// what the trips and the replay are computed from.
struct VehicleTrack {
    scoped: Scoped,
    range: TrackRange,
    points: Vec<Position>,
}

impl VehicleTrack {
    /// Checks the range, then reads vehicle `id`'s points in it as `who`, audited as `action`.
    async fn look(
        state: &ApiState,
        who: &Principal,
        client: Client,
        action: &str,
        id: i64,
        (from, to): (&str, &str),
    ) -> ApiResult<Self> {
        let (from, to) = parse_range(state, from, to)?;
        let scoped = Scoped::new(state, who).await?;
        let vehicle = scoped.vehicle(VehicleId(id)).await?;
        let points = look_at_track(state, &scoped, client, action, vehicle.id, (from, to)).await?;
        Ok(VehicleTrack {
            scoped,
            range: TrackRange { vehicle, from, to },
            points,
        })
    }
}

/// Counts a track handed out, by format.
pub(crate) fn count_served(format: &str) {
    crate::metrics::metrics()
        .tracks_served
        .with_label_values(&[format])
        .inc();
}

/// `GET /api/positions` query: a vehicle (by plate or id) and a range.
#[derive(Debug, Deserialize)]
pub struct PositionsQuery {
    /// Licence plate.
    pub plate: Option<String>,
    /// Vehicle id.
    pub vehicle: Option<i64>,
    /// Start (ISO-8601 UTC).
    pub from: String,
    /// End (ISO-8601 UTC).
    pub to: String,
}

/// `GET /api/positions?plate=&from=&to=`: every stored point of the range, audited, streamed.
pub async fn positions(
    Caller { state, who, client }: Caller,
    Query(q): Query<PositionsQuery>,
) -> ApiResult<Response> {
    let range = parse_range(&state, &q.from, &q.to)?;
    let scoped = Scoped::new(&state, &who).await?;
    let v = match (q.plate.as_deref(), q.vehicle) {
        (Some(p), _) => scoped.vehicle_by_plate(p).await?,
        (None, Some(id)) => scoped.vehicle(VehicleId(id)).await?,
        (None, None) => return Err(ApiError::BadRequest("give `plate` or `vehicle`".into())),
    };
    let (range, permit) = start_download(&state, &scoped, client, "positions", &v, range).await?;
    count_served("json");
    let doc = PositionsJson {
        identity: Identity::for_role(who.role),
        scratch: Vec::with_capacity(512),
    };
    let mut resp = download::body(&state, range, "positions", doc, permit).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// `GET /api/vehicles/{id}/trips` query.
#[derive(Debug, Clone, Deserialize)]
pub struct RangeQuery {
    /// Start, inclusive (RFC 3339, UTC or with an offset).
    pub from: String,
    /// End, exclusive.
    pub to: String,
}

/// The trips and stops of one vehicle over a range.
#[derive(Debug, Serialize)]
pub struct TripsAndStops {
    /// The vehicle and the range.
    #[serde(flatten)]
    pub range: TrackRange,
    /// Points stored in the range.
    pub points: usize,
    /// Trips, in time order.
    pub trips: Vec<Trip>,
    /// Stops, in time order.
    pub stops: Vec<WireStop>,
}

/// `GET /api/vehicles/{id}/trips?from=&to=`: the trips and stops of a range, computed from every stored
/// point as the replay does; scoped like a track and audited like a replay.
pub async fn trips(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<TripsAndStops>> {
    let t = VehicleTrack::look(&state, &who, client, "trips", id, (&q.from, &q.to)).await?;
    let (trips, stops) = trips_and_stops(&t.points);
    Ok(Json(TripsAndStops {
        range: t.range,
        points: t.points.len(),
        trips,
        stops: stops.into_iter().map(WireStop).collect(),
    }))
}

/// `GET /api/vehicles/{id}/replay` query.
#[derive(Debug, Deserialize)]
pub struct ReplayQuery {
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
    /// Display tolerance in metres (0: every point); default from the configuration.
    #[serde(default)]
    pub tolerance_m: Option<f64>,
}

/// What the replay view draws.
#[derive(Debug, Serialize)]
pub struct Replay {
    /// The vehicle and the range.
    #[serde(flatten)]
    pub range: TrackRange,
    /// Points stored in the range.
    pub total_points: usize,
    /// The names of the columns of `points`, units in the names.
    pub columns: [&'static str; REPLAY_COLUMNS.len()],
    /// The points for display, the track simplified to the tolerance: compact rows, for size (see
    /// [`ReplayRow`]).
    pub points: Vec<ReplayRow>,
    /// Stops.
    pub stops: Vec<WireStop>,
    /// Trips.
    pub trips: Vec<Trip>,
    /// The vehicle's alert cases in the range (episodes on the timeline).
    pub cases: Vec<CaseView>,
}

/// `GET /api/vehicles/{id}/replay?from=&to=&tolerance_m=`: the track simplified for display, with
/// stops, trips and cases; audited.
pub async fn replay(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<ReplayQuery>,
) -> ApiResult<Json<Replay>> {
    let VehicleTrack {
        scoped,
        range,
        points: full,
    } = VehicleTrack::look(&state, &who, client, "replay", id, (&q.from, &q.to)).await?;
    count_served("replay");
    let tolerance_m = q
        .tolerance_m
        .unwrap_or(state.config().simplify_tolerance_m)
        .clamp(0.0, 1000.0);
    let (trips, stops) = trips_and_stops(&full);
    let points = if tolerance_m > 0.0 {
        let shown = tianshu_rules::track::simplify_track(&full, tolerance_m);
        shown.into_iter().map(ReplayRow).collect()
    } else {
        full.iter().copied().map(ReplayRow).collect()
    };
    let filter = CaseFilter {
        vehicle: Some(range.vehicle.id),
        limit: 500,
        ..Default::default()
    };
    let mut cases = scoped.cases(filter).await?;
    cases.retain(|c| case_overlaps(c, range.from, range.to));
    Ok(Json(Replay {
        range,
        total_points: full.len(),
        columns: REPLAY_COLUMNS,
        points,
        stops: stops.into_iter().map(WireStop).collect(),
        trips,
        cases,
    }))
}

/// Whether a case's episode (or its opening, for a case without one) falls in the range.
fn case_overlaps(c: &CaseView, from: Timestamp, to: Timestamp) -> bool {
    let t = |k: &str| {
        c.detail
            .get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| Timestamp::parse_rfc3339(s).ok())
    };
    match (t("start").or(t("opened")), t("end")) {
        (Some(s), Some(e)) => s < to && e >= from,
        (Some(s), None) => s < to && s >= from,
        _ => true,
    }
}

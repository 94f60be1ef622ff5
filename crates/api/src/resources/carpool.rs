//! The office's car pool (用车保障): `GET`/`POST /api/carpool/requests`, `GET /api/carpool/requests/{id}`,
//! `GET /api/carpool/requests/{id}/offers`, `POST /api/carpool/requests/{id}/assign`,
//! `POST /api/carpool/requests/{id}/settle`, `PUT /api/carpool/requests/{id}/settlement`,
//! `PUT /api/carpool/requests/{id}/rating`, `POST /api/carpool/maintenance`,
//! `GET`/`PUT /api/vehicles/{id}/fleet`.
//!
//! A requester (or a supervisor) asks for a car for a unit in their scope (their own when the body names
//! none; another unit is 403). The dispatch office lists the requests, sees the pool's cars and the
//! drivers free for a request's whole window with each car's distance to the pickup and the suggested
//! pair (`tianshu_rules::carpool::offers`), and assigns one: the store checks and writes the approved
//! dispatch order, the request's assignment and the notices in one transaction with the audit record
//! (a clash is 409 naming it, a bad choice 400 naming the field).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tianshu_model::carpool::{CarRequest, FleetFields, Rating, RequestFields, SettlementCorrection};
use tianshu_model::{Timestamp, VehicleId};
use tianshu_rules::carpool::Offers;
use tianshu_store::access::AuditEntry;
use tianshu_store::carpool::{AssignAsk, Assigned, Maintenance, Settled};

use crate::ApiState;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};
use crate::scope::Scoped;

/// A request in scope, refused (403) to a caller who does not see its unit; unknown is 404 to one who
/// sees every unit, 403 to the others.
async fn request_in_scope(scoped: &Scoped, state: &ApiState, id: i64) -> ApiResult<CarRequest> {
    match state.store().carpool().request(id).await? {
        Some(r) if scoped.sees_unit(r.unit) => Ok(r),
        Some(_) => Err(ApiError::Forbidden),
        None if !scoped.sees_all() => Err(ApiError::Forbidden),
        None => Err(ApiError::NotFound(format!("request {id}"))),
    }
}

/// `GET /api/carpool/requests`: the requests of the units in scope, newest window first.
pub async fn list(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<CarRequest>>> {
    let scoped = Scoped::new(&state, &who).await?;
    let mut all = state.store().carpool().requests().await?;
    all.retain(|r| scoped.sees_unit(r.unit));
    Ok(Json(all))
}

/// `POST /api/carpool/requests`: window, pickup, destinations, passengers, purpose, kind, class; the unit
/// served is the caller's own unless the body names one in their scope.
pub async fn create(
    caller: Caller,
    Body(mut req): Body<RequestFields>,
) -> ApiResult<(StatusCode, Json<CarRequest>)> {
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    let unit = req
        .unit
        .or(caller.who.unit)
        .ok_or_else(|| ApiError::BadRequest("unit: name the unit served (the caller has no unit)".into()))?;
    scoped.unit(unit).await?;
    req.unit = Some(unit);
    let describe = |r: &CarRequest, e: &mut AuditEntry| {
        e.detail = format!(
            "request {} unit {} {} {}..{}",
            r.id,
            r.unit,
            r.fields.kind.as_str(),
            r.fields.start,
            r.fields.end
        );
    };
    let pool = caller.state.store().carpool();
    let create = pool.create_request(&req, &caller.who.username, Timestamp::now());
    let r = caller
        .commit("carpool.request", None, String::new(), describe, create)
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// A request with the notices sent about it.
#[derive(Debug, Serialize)]
pub struct RequestDetail {
    /// The request.
    #[serde(flatten)]
    pub request: CarRequest,
    /// The notices: recipient (`requester:<username>`, `driver:<phone>`) and text.
    pub notices: Vec<Notice>,
}

/// A notice sent about a request.
#[derive(Debug, Serialize)]
pub struct Notice {
    /// `requester:<username>` or `driver:<phone>`.
    pub to: String,
    /// Its text.
    pub text: String,
}

fn notices(list: Vec<(String, String)>) -> Vec<Notice> {
    list.into_iter().map(|(to, text)| Notice { to, text }).collect()
}

/// `GET /api/carpool/requests/{id}`: one request in scope, with its notices.
pub async fn detail(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<RequestDetail>> {
    let scoped = Scoped::new(&state, &who).await?;
    let request = request_in_scope(&scoped, &state, id).await?;
    let notices = notices(state.store().carpool().notices(id).await?);
    Ok(Json(RequestDetail { request, notices }))
}

/// What is free for a request.
#[derive(Debug, Serialize)]
pub struct RequestOffers {
    /// The request.
    pub request: CarRequest,
    /// The free cars and drivers, and the suggested pair.
    #[serde(flatten)]
    pub offers: Offers,
}

/// `GET /api/carpool/requests/{id}/offers`: the pool's cars and the drivers free for the whole window,
/// nearest car first, and the suggested pair.
pub async fn offers(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<RequestOffers>> {
    let scoped = Scoped::new(&state, &who).await?;
    let request = request_in_scope(&scoped, &state, id).await?;
    let (cars, drivers) = state
        .store()
        .carpool()
        .candidates(request.fields.start, request.fields.end)
        .await?;
    let offers = tianshu_rules::carpool::offers(&request.fields, &cars, &drivers);
    Ok(Json(RequestOffers { request, offers }))
}

/// `POST /api/carpool/requests/{id}/assign` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The car's id.
    pub vehicle: i64,
    /// The driver's id.
    pub driver: i64,
}

/// What an assignment answers.
#[derive(Debug, Serialize)]
pub struct AssignedView {
    /// The request, now assigned.
    pub request: CarRequest,
    /// The approved dispatch order's id.
    pub order: String,
    /// The notices sent.
    pub notices: Vec<Notice>,
}

/// `POST /api/carpool/requests/{id}/assign`: gives the request a car and a driver.
pub async fn assign(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<AssignBody>,
) -> ApiResult<Json<AssignedView>> {
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    request_in_scope(&scoped, &caller.state, id).await?;
    let describe = |a: &Assigned, e: &mut AuditEntry| {
        let s = a.request.assignment.as_ref();
        e.detail = format!(
            "request {} -> {} driver {} order {}",
            a.request.id,
            s.map_or("", |s| s.plate.as_str()),
            s.map_or(0, |s| s.driver),
            a.order.id
        );
    };
    let pool = caller.state.store().carpool();
    let now = Timestamp::now();
    let ask = AssignAsk {
        id,
        vehicle: VehicleId(req.vehicle),
        driver: req.driver,
        by: &caller.who.username,
    };
    let assign = pool.assign(ask, now, caller.state.carpool_route(now).await?);
    let a = caller
        .commit(
            "carpool.assign",
            Some(VehicleId(req.vehicle)),
            String::new(),
            describe,
            assign,
        )
        .await?;
    Ok(Json(AssignedView {
        order: a.order.id,
        request: a.request,
        notices: notices(a.notices),
    }))
}

/// What a settlement answers.
#[derive(Debug, Serialize)]
pub struct SettledView {
    /// The request, now settled.
    pub request: CarRequest,
    /// The alert case its differences opened.
    pub case: Option<i64>,
}

/// `POST /api/carpool/requests/{id}/settle`: settles an assigned trip from its car's track (from an
/// hour before the window to six hours after it) against `[rules.carpool]`; differences beyond the
/// thresholds open a case. A trip settles by itself when due; this settles it now.
pub async fn settle(caller: Caller, Path(id): Path<i64>) -> ApiResult<Json<SettledView>> {
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    let request = request_in_scope(&scoped, &caller.state, id).await?;
    let Some(a) = request.assignment.as_ref() else {
        return Err(ApiError::Conflict(format!(
            "request {id} is {}: only an assigned trip is settled",
            request.state.as_str()
        )));
    };
    // The car's track, read after the scope's check of the car.
    scoped.vehicle(a.vehicle).await?;
    let now = Timestamp::now();
    let pool = caller.state.store().carpool();
    let points = pool.trip_track(&request, None).await?;
    let thresholds = caller.state.carpool_config().thresholds();
    let s = tianshu_rules::carpool::settle(&request.fields, &points, &thresholds);
    let describe = |s: &Settled, e: &mut AuditEntry| {
        let km = s.request.settlement.as_ref().map_or(0.0, |x| x.km);
        e.detail = format!("request {} settled: {km:.1} km, case {:?}", s.request.id, s.case);
    };
    let settle = pool.settle(id, &s, now, caller.state.carpool_route(now).await?);
    let vehicle = Some(a.vehicle);
    let done = caller
        .commit("carpool.settle", vehicle, String::new(), describe, settle)
        .await?;
    Ok(Json(SettledView {
        request: done.request,
        case: done.case,
    }))
}

/// `PUT /api/carpool/requests/{id}/rating`: the requester rates a settled trip (1 to 5 stars and a
/// note): a requester only the trips they asked for (403), a supervisor or an administrator on the
/// unit's behalf; only once settled (409); a later rating replaces it.
pub async fn rate(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<Rating>,
) -> ApiResult<Json<CarRequest>> {
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    let request = request_in_scope(&scoped, &caller.state, id).await?;
    if !request.may_rate(&caller.who.username, caller.who.role) {
        return Err(ApiError::Forbidden);
    }
    let describe = |r: &CarRequest, e: &mut AuditEntry| {
        e.detail = format!(
            "request {} rated {} stars",
            r.id,
            r.rating.as_ref().map_or(0, |x| x.stars)
        );
    };
    let rate = caller.state.store().carpool().rate(id, &req);
    let vehicle = request.assignment.as_ref().map(|a| a.vehicle);
    let r = caller
        .commit("carpool.rate", vehicle, String::new(), describe, rate)
        .await?;
    Ok(Json(r))
}

/// `PUT /api/carpool/requests/{id}/settlement`: the dispatcher confirms a settled trip, correcting its km
/// with a note when the track fell short.
pub async fn confirm(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<SettlementCorrection>,
) -> ApiResult<Json<CarRequest>> {
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    let request = request_in_scope(&scoped, &caller.state, id).await?;
    let describe = |r: &CarRequest, e: &mut AuditEntry| {
        let s = r.settlement.as_ref();
        e.detail = format!(
            "request {} settlement confirmed: {:.1} km {:?}",
            r.id,
            s.map_or(0.0, |x| x.km),
            s.and_then(|x| x.note.as_deref())
        );
    };
    let pool = caller.state.store().carpool();
    let confirm = pool.confirm(id, &req, &caller.who.username);
    let vehicle = request.assignment.as_ref().map(|a| a.vehicle);
    let r = caller
        .commit("carpool.confirm", vehicle, String::new(), describe, confirm)
        .await?;
    Ok(Json(r))
}

/// `POST /api/carpool/maintenance` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceBody {
    /// The car's id.
    pub vehicle: i64,
    /// Start (UTC).
    pub start: Timestamp,
    /// End (UTC), exclusive.
    pub end: Timestamp,
    /// What is done.
    pub note: String,
}

/// `POST /api/carpool/maintenance`: a car's maintenance window, which blocks it like an order.
pub async fn add_maintenance(
    caller: Caller,
    Body(req): Body<MaintenanceBody>,
) -> ApiResult<(StatusCode, Json<Maintenance>)> {
    let vehicle = VehicleId(req.vehicle);
    Scoped::new(&caller.state, &caller.who)
        .await?
        .vehicle(vehicle)
        .await?;
    let m = Maintenance {
        id: 0,
        vehicle,
        start: req.start,
        end: req.end,
        note: req.note,
    };
    let describe = |m: &Maintenance, e: &mut AuditEntry| {
        e.detail = format!("maintenance {} {}..{} {:?}", m.id, m.start, m.end, m.note);
    };
    let pool = caller.state.store().carpool();
    let add = pool.add_maintenance(&m);
    let m = caller
        .commit("carpool.maintenance", Some(vehicle), String::new(), describe, add)
        .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// `GET /api/vehicles/{id}/fleet`: a car's fleet fields (the defaults when none are recorded).
pub async fn fleet(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<FleetFields>> {
    let v = Scoped::new(&state, &who).await?.vehicle(VehicleId(id)).await?;
    Ok(Json(state.store().carpool().fleet(v.id).await?))
}

/// `PUT /api/vehicles/{id}/fleet`: replaces a car's fleet fields.
pub async fn put_fleet(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<FleetFields>,
) -> ApiResult<Json<FleetFields>> {
    let vehicle = VehicleId(id);
    let describe = |(v, f): &(VehicleId, FleetFields), e: &mut AuditEntry| {
        e.detail = format!(
            "fleet {v}: {:?} disposed {:?} marking {:?} terminal {:?}",
            f.ownership, f.disposed_on, f.marking_status, f.terminal_status
        );
    };
    let pool = caller.state.store().carpool();
    let put = pool.put_fleet(vehicle, &req);
    let (_, f) = caller
        .commit("vehicle.fleet", Some(vehicle), String::new(), describe, put)
        .await?;
    Ok(Json(f))
}

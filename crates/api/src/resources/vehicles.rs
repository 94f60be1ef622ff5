//! Vehicles: `GET`/`POST /api/vehicles`, `GET`/`PATCH`/`DELETE /api/vehicles/{id}` (a vehicle's
//! track is `resources::tracks`, its exports, reports and commands have their own files).
//!
//! Reads go through the scope: a listing shows the caller's units' vehicles, one vehicle outside them
//! is refused before anything about it is read. Changes are checked by the store's registry checks; a
//! vehicle with a terminal, a track or cases cannot be deleted (409).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tianshu_model::{Timestamp, UnitId, Vehicle, VehicleClass, VehicleId};
use tianshu_store::access::AuditEntry;
use tianshu_store::registry_admin::VehicleChange;

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::ApiResult;
use crate::extract::{Body, Path};
use crate::position::{Identity, WirePosition};
use crate::scope::Scoped;

/// `GET /api/vehicles`: the vehicles in scope.
pub async fn list(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<Vehicle>>> {
    Ok(Json(Scoped::new(&state, &who).await?.vehicles().await?))
}

/// A vehicle with its latest position.
#[derive(Debug, Serialize)]
pub struct VehicleDetail {
    /// The registry record.
    #[serde(flatten)]
    pub vehicle: Vehicle,
    /// The latest committed position.
    pub latest: Option<WirePosition>,
    /// Who drives it: the last card sign-in of the past day, else the current order's driver.
    pub driver: Option<String>,
    /// The dispatch order or filing covering the latest fix (`id`, `purpose`, `start`, `end`...).
    pub order: Option<serde_json::Value>,
}

/// `GET /api/vehicles/{id}`: the vehicle, its latest position, its driver and its current order.
pub async fn detail(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<VehicleDetail>> {
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = scoped.vehicle(VehicleId(id)).await?;
    let latest = scoped.latest_position(vehicle.id).await?;
    let now = latest.map_or_else(
        || Timestamp::from_millis(chrono::Utc::now().timestamp_millis()),
        |p| p.fix_time,
    );
    let order = scoped
        .orders()
        .await?
        .into_iter()
        .filter(|o| o.plate == vehicle.plate && o.start <= now && now < o.end)
        .filter(|o| tianshu_rules::orders::OrderState::parse_covers(&o.state))
        .max_by_key(|o| o.start);
    let signed_in = scoped
        .driver_events(vehicle.id, now.add_millis(-86_400_000), now.add_millis(1))
        .await?
        .into_iter()
        .rev()
        .find(|e| e.signed_in)
        .and_then(|e| e.name);
    let driver = signed_in.or_else(|| {
        order
            .as_ref()
            .and_then(|o| o.body.get("driver"))
            .and_then(|d| d.as_str())
            .map(str::to_string)
    });
    Ok(Json(VehicleDetail {
        vehicle,
        latest: latest.map(|p| WirePosition(p, Identity::for_role(who.role))),
        driver,
        order: order.map(|o| o.body),
    }))
}

/// `POST /api/vehicles` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVehicle {
    /// Licence plate.
    pub plate: String,
    /// The unit's id.
    pub unit: i64,
    /// `general`, `confidential`, `emergency`, `law_enforcement` or `special`.
    pub class: VehicleClass,
    /// The marking number (标识号) on the car.
    pub marking: Option<String>,
}

/// The audit detail of a vehicle as created or changed.
fn describe(v: &Vehicle, e: &mut AuditEntry) {
    e.vehicle = Some(v.id);
    e.detail = format!("{} unit {} class {}", v.plate, v.unit, v.class.as_str());
    if let Some(m) = &v.marking {
        e.detail += &format!(" marking {m}");
    }
}

/// `POST /api/vehicles`
pub async fn create(caller: Caller, Body(req): Body<NewVehicle>) -> ApiResult<(StatusCode, Json<Vehicle>)> {
    let registry = caller.state.store().registry_admin();
    let create =
        registry.create_marked_vehicle(&req.plate, UnitId(req.unit), req.class, req.marking.as_deref());
    let v = caller
        .commit("vehicle.create", None, String::new(), describe, create)
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `PATCH /api/vehicles/{id}` body: the fields to change.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VehiclePatch {
    /// New plate.
    pub plate: Option<String>,
    /// New unit id.
    pub unit: Option<i64>,
    /// New class.
    pub class: Option<VehicleClass>,
    /// New marking number (标识号); empty: none any more.
    pub marking: Option<String>,
}

/// `PATCH /api/vehicles/{id}`
pub async fn update(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<VehiclePatch>,
) -> ApiResult<Json<Vehicle>> {
    let change = VehicleChange {
        plate: req.plate,
        unit: req.unit.map(UnitId),
        class: req.class,
        marking: req.marking,
    };
    let registry = caller.state.store().registry_admin();
    let update = registry.update_vehicle(VehicleId(id), &change);
    let v = caller
        .commit("vehicle.update", None, String::new(), describe, update)
        .await?;
    Ok(Json(v))
}

/// `DELETE /api/vehicles/{id}`: refused (409) while a terminal is bound or a track or case is stored.
pub async fn delete(caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let id = VehicleId(id);
    let detail = format!("vehicle {id}");
    let registry = caller.state.store().registry_admin();
    let delete = registry.delete_vehicle(id);
    caller
        .commit("vehicle.delete", Some(id), detail, audit::as_is, delete)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

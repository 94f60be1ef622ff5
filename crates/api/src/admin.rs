//! Creating, changing and deleting reference data: units, vehicles, terminals, geofences, orders and
//! filings, calendars, units' working hours, and disabling users.
//!
//! Every body is checked by the same code the import commands use (the store's registry checks, the
//! rules crate's parsers for geofences, orders and calendars), so a record the API accepts is one an
//! import would accept, and the other way round. A bad field is 400 with the field's name in the
//! message, a clash 409, an unknown record 404. Every change is written to the audit log after it is
//! stored. Writes to rules data are stored with an update time past the store's reference stamp, so the
//! running rules reload them at their next tick (and re-evaluate the cases an approved order covers);
//! registry edits move the stamp themselves.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use tianshu_model::{Edition, Phone, Terminal, Timestamp, Unit, UnitId, Vehicle, VehicleClass, VehicleId};
use tianshu_rules::calendar::{Calendar, YearCalendar};
use tianshu_rules::orders::{Order, OrderState};
use tianshu_rules::timetable::UnitTimetableBody;
use tianshu_store::access::AuditEntry;
use tianshu_store::registry_admin::{NewTerminal, TerminalChange, UnitChange, VehicleChange};
use tianshu_store::rules::{StoredFence, StoredOrder, StoredUnitTimetable};

use crate::ApiState;
use crate::auth::{Client, Principal, audit};
use crate::error::{ApiError, ApiResult};
use crate::scope::Scoped;

/// A JSON body whose errors name the field: `unit: invalid type: string "x", expected i64`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses JSON, naming the field that is wrong.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path == "?" || path.is_empty() {
            ApiError::BadRequest(format!("body: {inner}"))
        } else {
            ApiError::BadRequest(format!("{path}: {inner}"))
        }
    })
}

/// Deserialises a field that may be absent (no change), `null` (clear it) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// Records an administrative change.
async fn audit_change(
    state: &ApiState,
    who: &Principal,
    client: Client,
    action: &str,
    vehicle: Option<VehicleId>,
    detail: String,
) -> ApiResult<()> {
    audit(
        state,
        AuditEntry {
            actor: who.username.clone(),
            role: who.role.to_string(),
            action: action.into(),
            vehicle,
            remote: client.0,
            rows: 1,
            detail,
            ..Default::default()
        },
    )
    .await
}

/// The update time for rules data written now: past the reference stamp, so that the next reload of
/// the running rules sees the change (and re-evaluates an order changed by it).
async fn rules_write_time(state: &ApiState) -> ApiResult<Timestamp> {
    let stamp = state.store().rules().reference_stamp().await?;
    Ok(now().max(stamp.add_millis(1)))
}

// ---------------------------------------------------------------------------------------------------
// Units

/// `POST /api/units` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    /// The unit's own name (no `/`).
    pub name: String,
    /// The parent unit's id; absent or null for a root.
    #[serde(default)]
    pub parent: Option<i64>,
}

/// `POST /api/units`: creates a unit below `parent`.
pub async fn create_unit(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Body(req): Body<NewUnit>,
) -> ApiResult<(StatusCode, Json<Unit>)> {
    let unit = state
        .store()
        .registry_admin()
        .create_unit(&req.name, req.parent.map(UnitId))
        .await?;
    let detail = format!(
        "unit {} {:?} parent {:?}",
        unit.id,
        unit.name,
        unit.parent.map(|p| p.0)
    );
    audit_change(&state, &who, client, "unit.create", None, detail).await?;
    Ok((StatusCode::CREATED, Json(unit)))
}

/// `PATCH /api/units/{id}` body: the fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitPatch {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New parent; `null` makes it a root.
    #[serde(default, deserialize_with = "present")]
    pub parent: Option<Option<i64>>,
}

/// `PATCH /api/units/{id}`: renames or moves a unit (with its subtree; depots of the subtree follow).
pub async fn update_unit(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Body(req): Body<UnitPatch>,
) -> ApiResult<Json<Unit>> {
    let change = UnitChange {
        name: req.name,
        parent: req.parent.map(|p| p.map(UnitId)),
    };
    let unit = state
        .store()
        .registry_admin()
        .update_unit(UnitId(id), &change)
        .await?;
    let detail = format!(
        "unit {} {:?} parent {:?}",
        unit.id,
        unit.name,
        unit.parent.map(|p| p.0)
    );
    audit_change(&state, &who, client, "unit.update", None, detail).await?;
    Ok(Json(unit))
}

/// `DELETE /api/units/{id}`: refused (409) while the unit has vehicles, sub-units or users.
pub async fn delete_unit(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.store().registry_admin().delete_unit(UnitId(id)).await?;
    audit_change(&state, &who, client, "unit.delete", None, format!("unit {id}")).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------------
// Vehicles

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
}

/// `POST /api/vehicles`
pub async fn create_vehicle(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Body(req): Body<NewVehicle>,
) -> ApiResult<(StatusCode, Json<Vehicle>)> {
    let v = state
        .store()
        .registry_admin()
        .create_vehicle(&req.plate, UnitId(req.unit), req.class)
        .await?;
    let detail = format!("{} unit {} class {}", v.plate, v.unit, v.class.as_str());
    audit_change(&state, &who, client, "vehicle.create", Some(v.id), detail).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `PATCH /api/vehicles/{id}` body: the fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehiclePatch {
    /// New plate.
    #[serde(default)]
    pub plate: Option<String>,
    /// New unit id.
    #[serde(default)]
    pub unit: Option<i64>,
    /// New class.
    #[serde(default)]
    pub class: Option<VehicleClass>,
}

/// `PATCH /api/vehicles/{id}`
pub async fn update_vehicle(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Body(req): Body<VehiclePatch>,
) -> ApiResult<Json<Vehicle>> {
    let change = VehicleChange {
        plate: req.plate,
        unit: req.unit.map(UnitId),
        class: req.class,
    };
    let v = state
        .store()
        .registry_admin()
        .update_vehicle(VehicleId(id), &change)
        .await?;
    let detail = format!("{} unit {} class {}", v.plate, v.unit, v.class.as_str());
    audit_change(&state, &who, client, "vehicle.update", Some(v.id), detail).await?;
    Ok(Json(v))
}

/// `DELETE /api/vehicles/{id}`: refused (409) while a terminal is bound or a track or case is stored.
pub async fn delete_vehicle(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state
        .store()
        .registry_admin()
        .delete_vehicle(VehicleId(id))
        .await?;
    audit_change(
        &state,
        &who,
        client,
        "vehicle.delete",
        Some(VehicleId(id)),
        format!("vehicle {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------------
// Terminals

/// A terminal as the API shows it (never its auth-code hash).
#[derive(Debug, Serialize)]
pub struct TerminalView {
    /// Phone number.
    pub phone: Phone,
    /// Terminal id.
    pub terminal_id: String,
    /// Edition.
    pub edition: Option<Edition>,
    /// Whether it holds an auth code (has registered since it was provisioned or last reset).
    pub registered: bool,
    /// Bound vehicle.
    pub vehicle: Option<VehicleId>,
}

impl From<Terminal> for TerminalView {
    fn from(t: Terminal) -> Self {
        TerminalView {
            phone: t.phone,
            terminal_id: t.terminal_id,
            edition: t.edition,
            registered: t.auth_code_hash.is_some(),
            vehicle: t.vehicle,
        }
    }
}

/// `POST /api/terminals` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTerminalReq {
    /// Phone number in the JT/T 808 header (a string of digits).
    pub phone: Phone,
    /// Terminal id as the terminal sends it in 0x0100.
    pub terminal_id: String,
    /// The vehicle's id (or give `plate`).
    #[serde(default)]
    pub vehicle: Option<i64>,
    /// The vehicle's plate (or give `vehicle`).
    #[serde(default)]
    pub plate: Option<String>,
    /// `2011`, `2013` or `2019`, when known before it registers.
    #[serde(default)]
    pub edition: Option<Edition>,
}

/// The vehicle named by id or plate; a plate nobody has is a bad field, not a missing resource.
async fn binding(
    state: &ApiState,
    vehicle: Option<i64>,
    plate: Option<&str>,
) -> ApiResult<Option<VehicleId>> {
    match (vehicle, plate) {
        (Some(_), Some(_)) => Err(ApiError::BadRequest(
            "plate: give either vehicle or plate, not both".into(),
        )),
        (Some(v), None) => Ok(Some(VehicleId(v))),
        (None, Some(p)) => match state.store().vehicle_by_plate(p).await? {
            Some(v) => Ok(Some(v.id)),
            None => Err(ApiError::BadRequest(format!(
                "plate: no vehicle has plate {:?}",
                p.trim()
            ))),
        },
        (None, None) => Ok(None),
    }
}

/// `POST /api/terminals`: provisions a terminal, bound to a vehicle by id or plate.
pub async fn create_terminal(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Body(req): Body<NewTerminalReq>,
) -> ApiResult<(StatusCode, Json<TerminalView>)> {
    let vehicle = binding(&state, req.vehicle, req.plate.as_deref()).await?;
    let t = state
        .store()
        .registry_admin()
        .create_terminal(&NewTerminal {
            phone: req.phone,
            terminal_id: req.terminal_id,
            vehicle,
            edition: req.edition,
        })
        .await?;
    let detail = format!(
        "terminal {} id {} vehicle {:?}",
        t.phone,
        t.terminal_id,
        t.vehicle.map(|v| v.0)
    );
    audit_change(&state, &who, client, "terminal.create", t.vehicle, detail).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// `PATCH /api/terminals/{phone}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalPatch {
    /// New terminal id.
    #[serde(default)]
    pub terminal_id: Option<String>,
    /// Rebind to this vehicle id; `null` unbinds.
    #[serde(default, deserialize_with = "present")]
    pub vehicle: Option<Option<i64>>,
    /// Rebind to the vehicle with this plate.
    #[serde(default)]
    pub plate: Option<String>,
    /// Clear the auth code: the terminal must register again.
    #[serde(default)]
    pub reset_auth_code: bool,
}

fn parse_phone(s: &str) -> ApiResult<Phone> {
    Phone::parse(s).map_err(|e| ApiError::BadRequest(format!("phone: {e}")))
}

/// `PATCH /api/terminals/{phone}`: rebinds (which clears the auth code) or resets the auth code.
pub async fn update_terminal(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(phone): Path<String>,
    Body(req): Body<TerminalPatch>,
) -> ApiResult<Json<TerminalView>> {
    let phone = parse_phone(&phone)?;
    let vehicle = match (req.vehicle, req.plate.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "plate: give either vehicle or plate, not both".into(),
            ));
        }
        (Some(v), None) => Some(v.map(VehicleId)),
        (None, Some(p)) => Some(binding(&state, None, Some(p)).await?),
        (None, None) => None,
    };
    let before = state.store().terminal(phone).await?;
    let t = state
        .store()
        .registry_admin()
        .update_terminal(
            phone,
            &TerminalChange {
                terminal_id: req.terminal_id,
                vehicle,
                reset_auth_code: req.reset_auth_code,
            },
        )
        .await?;
    let detail = format!(
        "terminal {} id {} vehicle {:?} -> {:?} registered {}",
        t.phone,
        t.terminal_id,
        before.and_then(|b| b.vehicle).map(|v| v.0),
        t.vehicle.map(|v| v.0),
        t.auth_code_hash.is_some()
    );
    audit_change(&state, &who, client, "terminal.update", t.vehicle, detail).await?;
    Ok(Json(t.into()))
}

/// `DELETE /api/terminals/{phone}`
pub async fn delete_terminal(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(phone): Path<String>,
) -> ApiResult<StatusCode> {
    let phone = parse_phone(&phone)?;
    let before = state.store().terminal(phone).await?;
    state.store().registry_admin().delete_terminal(phone).await?;
    let vehicle = before.and_then(|t| t.vehicle);
    audit_change(
        &state,
        &who,
        client,
        "terminal.delete",
        vehicle,
        format!("terminal {phone}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------------
// Geofences

/// A stored fence as a GeoJSON Feature with its id, in the import format's properties.
fn fence_feature(id: i64, f: &StoredFence) -> serde_json::Value {
    let mut properties = serde_json::Map::new();
    for key in ["name", "kind", "unit", "category", "speed_limit_kmh"] {
        if let Some(v) = f.body.get(key).filter(|v| !v.is_null()) {
            properties.insert(key.into(), v.clone());
        }
    }
    serde_json::json!({
        "type": "Feature",
        "id": id,
        "geometry": {
            "type": "MultiPolygon",
            "coordinates": f.body.get("polygons").cloned().unwrap_or_else(|| serde_json::json!([])),
        },
        "properties": properties,
        "updated": f.updated,
    })
}

/// `GET /api/geofences`: every stored fence (regions, depots, prohibited places, speed zones) as one
/// GeoJSON FeatureCollection, each feature with its id for `PUT`/`DELETE /api/geofences/{id}`.
pub async fn geofences(State(state): State<ApiState>) -> ApiResult<Response> {
    let features: Vec<serde_json::Value> = state
        .store()
        .rules()
        .geofences_with_ids()
        .await?
        .iter()
        .map(|(id, f)| fence_feature(*id, f))
        .collect();
    let body = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
    Ok(([(CONTENT_TYPE, "application/geo+json")], body).into_response())
}

/// Checks one GeoJSON Feature with the import's parser, and that a depot's unit exists.
async fn parse_fence(state: &ApiState, bytes: &[u8]) -> ApiResult<StoredFence> {
    let feature: serde_json::Value = parse_json(bytes)?;
    if !feature.is_object() {
        return Err(ApiError::BadRequest(
            "body: expected a GeoJSON Feature object".into(),
        ));
    }
    // The import format is a FeatureCollection; one feature is a collection of one.
    let text = serde_json::json!({"type": "FeatureCollection", "features": [feature]}).to_string();
    let mut fences =
        tianshu_rules::fences::parse_geojson(&text).map_err(|e| ApiError::BadRequest(e.reason))?;
    let fence = fences
        .pop()
        .ok_or_else(|| ApiError::BadRequest("body: expected a GeoJSON Feature".into()))?;
    if let Some(path) = &fence.unit {
        let units = state.store().units().await?;
        if !unit_paths(&units).iter().any(|p| p == path) {
            return Err(ApiError::BadRequest(format!(
                "properties.unit: there is no unit {path:?}"
            )));
        }
    }
    Ok(StoredFence {
        kind: fence.kind.as_str().to_string(),
        name: fence.name.clone(),
        body: serde_json::to_value(&fence).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        updated: now(),
    })
}

/// Every unit's `/`-joined path from the root.
fn unit_paths(units: &[Unit]) -> Vec<String> {
    units
        .iter()
        .map(|u| {
            let mut names = vec![u.name.as_str()];
            let mut parent = u.parent;
            while let Some(p) = parent {
                match units.iter().find(|x| x.id == p) {
                    Some(x) if names.len() <= units.len() => {
                        names.push(x.name.as_str());
                        parent = x.parent;
                    }
                    _ => break,
                }
            }
            names.reverse();
            names.join("/")
        })
        .collect()
}

fn fence_detail(id: i64, f: &StoredFence) -> String {
    format!("geofence {id} {} {:?}", f.kind, f.name)
}

/// `POST /api/geofences`: one GeoJSON Feature in the import format.
pub async fn create_geofence(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let mut fence = parse_fence(&state, &body).await?;
    fence.updated = rules_write_time(&state).await?;
    let id = state
        .store()
        .rules()
        .create_geofence(&fence, fence.updated)
        .await?;
    audit_change(
        &state,
        &who,
        client,
        "geofence.create",
        None,
        fence_detail(id, &fence),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(fence_feature(id, &fence))))
}

/// `PUT /api/geofences/{id}`: replaces a fence with one GeoJSON Feature.
pub async fn replace_geofence(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let mut fence = parse_fence(&state, &body).await?;
    fence.updated = rules_write_time(&state).await?;
    state
        .store()
        .rules()
        .replace_geofence(id, &fence, fence.updated)
        .await?;
    audit_change(
        &state,
        &who,
        client,
        "geofence.replace",
        None,
        fence_detail(id, &fence),
    )
    .await?;
    Ok(Json(fence_feature(id, &fence)))
}

/// `DELETE /api/geofences/{id}`
pub async fn delete_geofence(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.store().rules().delete_geofence(id, now()).await?;
    audit_change(
        &state,
        &who,
        client,
        "geofence.delete",
        None,
        format!("geofence {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------------
// Orders and filings

/// `GET /api/orders` query.
#[derive(Debug, Deserialize)]
pub struct OrdersQuery {
    /// Only this car.
    pub plate: Option<String>,
    /// Only this state.
    pub state: Option<String>,
    /// Only windows ending after this (ISO-8601).
    pub from: Option<String>,
    /// Only windows starting before this (ISO-8601).
    pub to: Option<String>,
}

fn parse_state(s: &str) -> ApiResult<OrderState> {
    OrderState::parse(s).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "state: {s:?} is not one of requested, approved, cancelled, completed"
        ))
    })
}

fn parse_time(field: &str, s: &str) -> ApiResult<Timestamp> {
    Timestamp::parse_rfc3339(s).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

/// An order as listed: the import format plus when it last changed.
fn order_view(o: &StoredOrder) -> serde_json::Value {
    let mut body = o.body.clone();
    if let Some(m) = body.as_object_mut() {
        m.insert("updated".into(), serde_json::json!(o.updated));
    }
    body
}

/// `GET /api/orders?plate=&state=&from=&to=`: orders and filings of the cars in scope, by start.
pub async fn orders(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<OrdersQuery>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let scoped = Scoped::new(&state, &who).await?;
    let wanted_state = q.state.as_deref().map(parse_state).transpose()?;
    let from = q.from.as_deref().map(|s| parse_time("from", s)).transpose()?;
    let to = q.to.as_deref().map(|s| parse_time("to", s)).transpose()?;
    if let Some(p) = q.plate.as_deref() {
        scoped.vehicle_by_plate(p).await?;
    }
    let plates: Option<std::collections::HashSet<String>> = if scoped.sees_all() {
        None
    } else {
        Some(scoped.vehicles().await?.into_iter().map(|v| v.plate).collect())
    };
    let mut list: Vec<StoredOrder> = state
        .store()
        .rules()
        .orders()
        .await?
        .into_iter()
        .filter(|o| plates.as_ref().is_none_or(|s| s.contains(&o.plate)))
        .filter(|o| q.plate.as_deref().is_none_or(|p| o.plate == p.trim()))
        .filter(|o| wanted_state.is_none_or(|s| o.state == s.as_str()))
        .filter(|o| from.is_none_or(|f| o.end > f))
        .filter(|o| to.is_none_or(|t| o.start < t))
        .collect();
    list.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(list.iter().map(order_view).collect()))
}

fn stored_order(o: &Order, updated: Timestamp) -> ApiResult<StoredOrder> {
    Ok(StoredOrder {
        id: o.id.clone(),
        plate: o.plate.trim().to_string(),
        kind: o.kind.as_str().to_string(),
        state: o.state.as_str().to_string(),
        start: o.start,
        end: o.end,
        body: serde_json::to_value(o).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        updated,
    })
}

/// `POST /api/orders`: one order or filing in the JSON Lines import format (one object).
pub async fn create_order(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Body(order): Body<Order>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    order.validate().map_err(ApiError::BadRequest)?;
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = match state.store().vehicle_by_plate(order.plate.trim()).await? {
        Some(v) if scoped.sees_unit(v.unit) => v,
        Some(_) => return Err(ApiError::Forbidden),
        None => {
            return Err(ApiError::BadRequest(format!(
                "plate: {:?} is not in the registry",
                order.plate.trim()
            )));
        }
    };
    if state
        .store()
        .rules()
        .orders()
        .await?
        .iter()
        .any(|o| o.id == order.id)
    {
        return Err(ApiError::Conflict(format!(
            "order {:?} already exists; change its state with PATCH",
            order.id
        )));
    }
    let row = stored_order(&order, rules_write_time(&state).await?)?;
    state
        .store()
        .rules()
        .put_orders(std::slice::from_ref(&row), row.updated)
        .await?;
    let detail = format!(
        "{} {} {} {}..{} {}",
        row.kind, row.id, row.plate, row.start, row.end, row.state
    );
    audit_change(&state, &who, client, "order.create", Some(vehicle.id), detail).await?;
    Ok((StatusCode::CREATED, Json(order_view(&row))))
}

/// `PATCH /api/orders/{id}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPatch {
    /// The new state: `requested`, `approved`, `cancelled` or `completed`.
    pub state: OrderState,
}

/// `PATCH /api/orders/{id}`: moves an order through its states. An order approved after the fact
/// makes the running rules re-evaluate, and withdraw, the cases it covers.
pub async fn update_order(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<String>,
    Body(req): Body<OrderPatch>,
) -> ApiResult<Json<serde_json::Value>> {
    let scoped = Scoped::new(&state, &who).await?;
    let stored = state
        .store()
        .rules()
        .orders()
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("order {id}")))?;
    let vehicle = scoped.vehicle_by_plate(&stored.plate).await?;
    let mut order: Order = serde_json::from_value(stored.body.clone())
        .map_err(|e| ApiError::Unavailable(format!("stored order {id}: {e}")))?;
    let before = order.state;
    order.state = before
        .change_to(req.state)
        .map_err(|e| ApiError::Conflict(format!("order {id}: {e}")))?;
    let row = stored_order(&order, rules_write_time(&state).await?)?;
    state
        .store()
        .rules()
        .put_orders(std::slice::from_ref(&row), row.updated)
        .await?;
    let detail = format!("order {id}: {} -> {}", before.as_str(), req.state.as_str());
    audit_change(&state, &who, client, "order.state", Some(vehicle.id), detail).await?;
    Ok(Json(order_view(&row)))
}

// ---------------------------------------------------------------------------------------------------
// Calendars

/// One year of the official calendar as the rules use it.
#[derive(Debug, Serialize)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// `stored` (imported or put through the API) or `builtin` (shipped with Tianshu).
    pub source: &'static str,
    /// When it was stored (stored years only).
    pub updated: Option<Timestamp>,
    /// The notice, holidays and adjusted working days.
    #[serde(flatten)]
    pub calendar: YearCalendar,
}

/// `GET /api/calendars`: every year the rules know, the shipped ones overlaid by stored ones, with
/// their holidays and adjusted working days.
pub async fn calendars(State(state): State<ApiState>) -> ApiResult<Json<Vec<CalendarYear>>> {
    let builtin = Calendar::builtin().map_err(|e| ApiError::Unavailable(format!("shipped calendar: {e}")))?;
    let mut out: Vec<CalendarYear> = Vec::new();
    for c in state.store().rules().calendars().await? {
        if let Ok(y) = YearCalendar::parse_toml(&c.source) {
            out.push(CalendarYear {
                year: c.year,
                source: "stored",
                updated: Some(c.updated),
                calendar: y,
            });
        }
    }
    for year in builtin.years() {
        if !out.iter().any(|c| c.year == year)
            && let Some(y) = builtin.year(year)
        {
            out.push(CalendarYear {
                year,
                source: "builtin",
                updated: None,
                calendar: y.clone(),
            });
        }
    }
    out.sort_by_key(|c| c.year);
    Ok(Json(out))
}

/// `PUT /api/calendars/{year}`: the year's file in the `tianshu calendar import` format (TOML text).
pub async fn put_calendar(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(year): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let year: i32 = year
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("year: {year:?} is not a year")))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("body: the calendar file is not UTF-8".into()))?;
    let parsed = YearCalendar::parse_toml(text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if parsed.year != year {
        return Err(ApiError::BadRequest(format!(
            "year: the file is for {}, the path says {year}",
            parsed.year
        )));
    }
    let t = rules_write_time(&state).await?;
    let replaced = state.store().rules().put_calendar(year, text, t).await?;
    let detail = format!("calendar {year}: {} holidays", parsed.holidays.len());
    audit_change(&state, &who, client, "calendar.put", None, detail).await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let view = CalendarYear {
        year,
        source: "stored",
        updated: Some(t),
        calendar: parsed,
    };
    Ok((status, Json(view)).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Units' working hours

/// `GET /api/units/{id}/timetable`: where a unit's office hours come from.
#[derive(Debug, Serialize)]
pub struct UnitTimetableView {
    /// The unit asked about.
    pub unit: UnitId,
    /// `own` (stored for this unit), `inherited` (stored for the nearest ancestor that has one) or
    /// `configuration` (the server's `[rules] unit_timetables` entry of the nearest unit that has one,
    /// or else its city default `[rules.timetable]`). At each unit up the tree a stored timetable comes
    /// before a configured one, as the rules resolve them.
    pub source: &'static str,
    /// The unit whose timetable applies (absent for the city default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_unit: Option<UnitId>,
    /// Its path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// The office hours that apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timetable: Option<UnitTimetableBody>,
    /// When it was last written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<Timestamp>,
}

/// The unit `id` if the caller's scope holds it. Unknown is 404 to a caller who sees every unit; to a
/// scoped caller, out of scope and unknown look the same (403).
async fn unit_in_scope(state: &ApiState, who: &Principal, id: UnitId) -> ApiResult<Unit> {
    let scoped = Scoped::new(state, who).await?;
    match scoped.units().await?.into_iter().find(|u| u.id == id) {
        Some(u) => Ok(u),
        None if !scoped.sees_all() => Err(ApiError::Forbidden),
        None => Err(ApiError::NotFound(format!("unit {id}"))),
    }
}

/// `GET /api/units/{id}/timetable`: the unit's own stored timetable, else the nearest ancestor's.
pub async fn unit_timetable(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<UnitTimetableView>> {
    let unit = unit_in_scope(&state, &who, UnitId(id)).await?;
    let units = state.store().units().await?;
    let stored = state.store().rules().unit_timetables().await?;
    let paths = tianshu_rules::unit_paths(&units);
    let configured = state.configured_timetables();
    let mut cur = Some(unit.id);
    let mut hops = 0;
    while let Some(at) = cur {
        if let Some(t) = stored.iter().find(|t| t.unit == at) {
            let timetable: UnitTimetableBody = serde_json::from_value(t.body.clone())
                .map_err(|e| ApiError::Unavailable(format!("stored timetable of unit {at}: {e}")))?;
            return Ok(Json(UnitTimetableView {
                unit: unit.id,
                source: if at == unit.id { "own" } else { "inherited" },
                from_unit: Some(at),
                from_path: paths.get(&at).cloned(),
                timetable: Some(timetable),
                updated: Some(t.updated),
            }));
        }
        let path = paths.get(&at).cloned();
        if let Some((_, t)) = configured.units.iter().find(|(p, _)| Some(p) == path.as_ref()) {
            return Ok(Json(UnitTimetableView {
                unit: unit.id,
                source: "configuration",
                from_unit: Some(at),
                from_path: path,
                timetable: Some(t.clone()),
                updated: None,
            }));
        }
        hops += 1;
        cur = units
            .iter()
            .find(|u| u.id == at)
            .and_then(|u| u.parent)
            .filter(|_| hops <= 64);
    }
    Ok(Json(UnitTimetableView {
        unit: unit.id,
        source: "configuration",
        from_unit: None,
        from_path: None,
        timetable: Some(configured.city.clone()),
        updated: None,
    }))
}

/// `PUT /api/units/{id}/timetable`: replaces the unit's own office hours (`periods`, optional
/// `seasons`), checked as a configured unit timetable is.
pub async fn put_unit_timetable(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Body(body): Body<UnitTimetableBody>,
) -> ApiResult<Response> {
    body.validate().map_err(ApiError::BadRequest)?;
    let unit = unit_in_scope(&state, &who, UnitId(id)).await?;
    let t = rules_write_time(&state).await?;
    let row = StoredUnitTimetable {
        unit: unit.id,
        body: serde_json::to_value(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?,
        updated: t,
    };
    let (created, _) = state
        .store()
        .rules()
        .put_unit_timetables(std::slice::from_ref(&row), t)
        .await?;
    let periods: Vec<String> = body.periods.iter().map(ToString::to_string).collect();
    let detail = format!(
        "unit {} {:?}: {} ({} seasons)",
        unit.id,
        unit.name,
        periods.join(", "),
        body.seasons.len()
    );
    audit_change(&state, &who, client, "unit_timetable.put", None, detail).await?;
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let paths = tianshu_rules::unit_paths(&state.store().units().await?);
    let view = UnitTimetableView {
        unit: unit.id,
        source: "own",
        from_unit: Some(unit.id),
        from_path: paths.get(&unit.id).cloned(),
        timetable: Some(body),
        updated: Some(t),
    };
    Ok((status, Json(view)).into_response())
}

/// `DELETE /api/units/{id}/timetable`: the unit falls back to its ancestors' or the configured hours.
pub async fn delete_unit_timetable(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let unit = unit_in_scope(&state, &who, UnitId(id)).await?;
    let t = rules_write_time(&state).await?;
    state.store().rules().delete_unit_timetable(unit.id, t).await?;
    let detail = format!("unit {} {:?}", unit.id, unit.name);
    audit_change(&state, &who, client, "unit_timetable.delete", None, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------------
// Users

/// `PATCH /api/users/{username}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Disable (true) or enable (false) the login; disabling ends its sessions.
    pub disabled: bool,
}

/// `PATCH /api/users/{username}`: disables or enables a user.
pub async fn update_user(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(username): Path<String>,
    Body(req): Body<UserPatch>,
) -> ApiResult<Json<tianshu_store::access::User>> {
    if req.disabled && username == who.username {
        return Err(ApiError::Conflict(
            "an administrator cannot disable their own login".into(),
        ));
    }
    if !state
        .store()
        .access()
        .set_user_disabled(&username, req.disabled)
        .await?
    {
        return Err(ApiError::NotFound(format!("user {username}")));
    }
    let action = if req.disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit_change(&state, &who, client, action, None, username.clone()).await?;
    let user = state
        .store()
        .access()
        .user_by_name(&username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {username}")))?;
    Ok(Json(user))
}

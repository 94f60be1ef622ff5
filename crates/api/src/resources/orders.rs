//! Dispatch orders and holiday filings: `GET`/`POST /api/orders`, `PATCH /api/orders/{id}`.
//!
//! An order travels in the `tianshu order import` format (one JSON Lines object) and is checked by the
//! rules crate's own validation. Reads and writes go through the scope: a caller sees and changes only
//! the orders of cars in their units. Writes go through the store's reference area, the same checks as
//! the import, and commit with their audit record; each is stamped past the reference stamp, so the
//! running rules reload them at their next tick and re-evaluate the cases an order approved after the
//! fact covers. That stamp is also the order's `version`, which a `PATCH` may send back.
//!
//! The caller is recorded as the order's filer (`filed_by`) and, when it becomes approved, its approver
//! (`approved_by`), whatever the body says. Where the car's unit requires a second person (its
//! `second_person_approval` setting, on by default), approving one's own order, or an order that covers
//! the past without another filer on record, is refused with 403 naming why (`tianshu_rules::orders`).

use axum::Json;
use axum::extract::State;
use axum::http::header::IF_MATCH;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use tianshu_model::Timestamp;
use tianshu_rules::orders::{Order, OrderState};
use tianshu_store::access::AuditEntry;
use tianshu_store::reference::{OrderChange, StoredOrder};

use crate::ApiState;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};
use crate::scope::Scoped;

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

/// An order as listed: the import format plus when it last changed and its `version` (the stamp of
/// its last write), which a `PATCH` may name to be refused when somebody changed the order since.
fn view(o: &StoredOrder) -> serde_json::Value {
    let mut body = o.body.clone();
    if let Some(m) = body.as_object_mut() {
        m.insert("updated".into(), serde_json::json!(o.updated));
        m.insert("version".into(), serde_json::json!(o.updated.0));
    }
    body
}

/// `GET /api/orders?plate=&state=&from=&to=`: orders and filings of the cars in scope, by start.
pub async fn list(
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
    let mut list: Vec<StoredOrder> = scoped
        .orders()
        .await?
        .into_iter()
        .filter(|o| q.plate.as_deref().is_none_or(|p| o.plate == p.trim()))
        .filter(|o| wanted_state.is_none_or(|s| o.state == s.as_str()))
        .filter(|o| from.is_none_or(|f| o.end > f))
        .filter(|o| to.is_none_or(|t| o.start < t))
        .collect();
    list.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(list.iter().map(view).collect()))
}

/// `POST /api/orders`: one order or filing in the JSON Lines import format (one object).
pub async fn create(
    caller: Caller,
    Body(order): Body<Order>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    order.validate().map_err(ApiError::BadRequest)?;
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    let Some(vehicle) = scoped.find_vehicle_by_plate(order.plate.trim()).await? else {
        return Err(ApiError::BadRequest(format!(
            "plate: {:?} is not in the registry",
            order.plate.trim()
        )));
    };
    let describe = |o: &StoredOrder, e: &mut AuditEntry| {
        e.detail = format!(
            "{} {} {} {}..{} {}",
            o.kind, o.id, o.plate, o.start, o.end, o.state
        );
    };
    let rules = caller.state.store().rules();
    let create = rules.create_order(&order, &caller.who.username, Timestamp::now());
    let row = caller
        .commit("order.create", Some(vehicle.id), String::new(), describe, create)
        .await?;
    recheck_fuel(&caller.state, vehicle.id, &row).await;
    Ok((StatusCode::CREATED, Json(view(&row))))
}

/// `PATCH /api/orders/{id}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPatch {
    /// The new state: `requested`, `approved`, `cancelled` or `completed`.
    pub state: OrderState,
    /// The order's `version` as the client read it; the change is refused (409) when the order has
    /// been written since. The `If-Match` header carries it too.
    #[serde(default)]
    pub version: Option<i64>,
}

/// The version an `If-Match` header names: the order's `version`, bare or quoted as an entity tag
/// (`*` names none: any version).
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.trim_start_matches("W/").trim_matches('"');
    tag.parse().map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "If-Match: {text:?} is not an order version (the order's \"version\")"
        ))
    })
}

/// `PATCH /api/orders/{id}`: moves an order through its states. The order is read, checked and written
/// under a row lock in one transaction with its audit record, so two edits never overwrite each other:
/// the second sees the first's state (and, when it names the version it started from, is refused with
/// 409). An approval one person may not make alone is refused with 403. An order approved after the fact
/// makes the running rules re-evaluate, and withdraw, the cases it covers, naming it and its approver.
pub async fn update(
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(req): Body<OrderPatch>,
) -> ApiResult<Json<serde_json::Value>> {
    let version = match (req.version, if_match(&headers)?) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::BadRequest(format!(
                "version: the body says {a}, If-Match says {b}"
            )));
        }
        (a, b) => a.or(b),
    };
    let (_, vehicle) = Scoped::new(&caller.state, &caller.who).await?.order(&id).await?;
    let describe = |c: &OrderChange, e: &mut AuditEntry| {
        e.detail = format!("order {}: {} -> {}", c.order.id, c.before.as_str(), c.order.state);
    };
    let rules = caller.state.store().rules();
    let change = rules.change_order_state(&id, version, req.state, &caller.who.username, Timestamp::now());
    let changed = caller
        .commit("order.state", Some(vehicle.id), String::new(), describe, change)
        .await?;
    recheck_fuel(&caller.state, vehicle.id, &changed.order).await;
    Ok(Json(view(&changed.order)))
}

/// An approved order or filing may explain the car's fills in its window: they are checked again (a
/// finding it clears withdraws its case). The order stands whatever the re-check meets.
async fn recheck_fuel(state: &ApiState, vehicle: tianshu_model::VehicleId, order: &StoredOrder) {
    let cfg = state.fuel_config();
    let notifier = state.fuel_notifier();
    let done =
        crate::fuel::recheck_order(state.store(), &cfg, vehicle, order, notifier, Timestamp::now()).await;
    if let Err(e) = done {
        tracing::warn!(order = %order.id, error = %e, "the fuel checks of the order's window were not re-run");
    }
}

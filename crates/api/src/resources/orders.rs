//! Dispatch orders and holiday filings: `GET`/`POST /api/orders`, `PATCH /api/orders/{id}`.
//!
//! An order travels in the `tianshu order import` format (one JSON Lines object) and is checked by the
//! rules crate's own validation. Reads and writes go through the scope: a caller sees and changes only
//! the orders of cars in their units. Writes are stored past the reference stamp, so the running rules
//! reload them at their next tick and re-evaluate the cases an order approved after the fact covers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tianshu_model::Timestamp;
use tianshu_rules::orders::{Order, OrderState};
use tianshu_store::rules::StoredOrder;

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};
use crate::resources::rules_write_time;
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

/// An order as listed: the import format plus when it last changed.
fn view(o: &StoredOrder) -> serde_json::Value {
    let mut body = o.body.clone();
    if let Some(m) = body.as_object_mut() {
        m.insert("updated".into(), serde_json::json!(o.updated));
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

/// The stored row of an order, updated at `updated`.
fn stored(o: &Order, updated: Timestamp) -> ApiResult<StoredOrder> {
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

/// Stores one order row, stamped past the reference stamp.
async fn put(state: &ApiState, order: &Order) -> ApiResult<StoredOrder> {
    let row = stored(order, rules_write_time(state).await?)?;
    state
        .store()
        .rules()
        .put_orders(std::slice::from_ref(&row), row.updated)
        .await?;
    Ok(row)
}

/// `POST /api/orders`: one order or filing in the JSON Lines import format (one object).
pub async fn create(
    Caller { state, who, client }: Caller,
    Body(order): Body<Order>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    order.validate().map_err(ApiError::BadRequest)?;
    let scoped = Scoped::new(&state, &who).await?;
    let Some(vehicle) = scoped.find_vehicle_by_plate(order.plate.trim()).await? else {
        return Err(ApiError::BadRequest(format!(
            "plate: {:?} is not in the registry",
            order.plate.trim()
        )));
    };
    if scoped.order_id_taken(&order.id).await? {
        return Err(ApiError::Conflict(format!(
            "order {:?} already exists; change its state with PATCH",
            order.id
        )));
    }
    let row = put(&state, &order).await?;
    let detail = format!(
        "{} {} {} {}..{} {}",
        row.kind, row.id, row.plate, row.start, row.end, row.state
    );
    audit::change(&state, &who, client, "order.create", Some(vehicle.id), detail).await?;
    Ok((StatusCode::CREATED, Json(view(&row))))
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
pub async fn update(
    Caller { state, who, client }: Caller,
    Path(id): Path<String>,
    Body(req): Body<OrderPatch>,
) -> ApiResult<Json<serde_json::Value>> {
    let scoped = Scoped::new(&state, &who).await?;
    let (stored, vehicle) = scoped.order(&id).await?;
    let mut order: Order = serde_json::from_value(stored.body.clone())
        .map_err(|e| ApiError::Unavailable(format!("stored order {id}: {e}")))?;
    let before = order.state;
    order.state = before
        .change_to(req.state)
        .map_err(|e| ApiError::Conflict(format!("order {id}: {e}")))?;
    let row = put(&state, &order).await?;
    let detail = format!("order {id}: {} -> {}", before.as_str(), req.state.as_str());
    audit::change(&state, &who, client, "order.state", Some(vehicle.id), detail).await?;
    Ok(Json(view(&row)))
}

//! Geofences: `GET`/`POST /api/geofences`, `PUT`/`DELETE /api/geofences/{id}`.
//!
//! A fence travels as one GeoJSON Feature in the `tianshu geofence import` format and is checked by
//! the same parser the import uses, so that a fence the API accepts is one an import would accept. The
//! listing is one FeatureCollection with each feature's id. Every write commits with its audit record
//! and moves the reference stamp, so the running rules pick it up at their next reload.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tianshu_model::Timestamp;
use tianshu_rules::Geofence;
use tianshu_store::access::AuditEntry;
use tianshu_store::reference::{FenceWrite, StoredFence};

use crate::ApiState;
use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};

/// A stored fence as a GeoJSON Feature with its id, in the import format's properties.
fn feature(id: i64, f: &StoredFence) -> Value {
    let mut properties = serde_json::Map::new();
    for key in ["name", "kind", "unit", "category", "speed_limit_kmh"] {
        if let Some(v) = f.body.get(key).filter(|v| !v.is_null()) {
            properties.insert(key.into(), v.clone());
        }
    }
    json!({
        "type": "Feature",
        "id": id,
        "geometry": {
            "type": "MultiPolygon",
            "coordinates": f.body.get("polygons").cloned().unwrap_or_else(|| json!([])),
        },
        "properties": properties,
        "updated": f.updated,
    })
}

/// `GET /api/geofences`: every stored fence (regions, depots, prohibited places, speed zones) as one
/// GeoJSON FeatureCollection, each feature with its id for `PUT`/`DELETE /api/geofences/{id}`.
pub async fn list(State(state): State<ApiState>) -> ApiResult<Response> {
    let features: Vec<Value> = state
        .store()
        .rules()
        .geofences_with_ids()
        .await?
        .iter()
        .map(|(id, f)| feature(*id, f))
        .collect();
    let body = json!({"type": "FeatureCollection", "features": features}).to_string();
    Ok(([(CONTENT_TYPE, "application/geo+json")], body).into_response())
}

/// Checks one GeoJSON Feature with the import's parser (the store checks that a depot's unit exists).
fn parse(feature: Value) -> ApiResult<Geofence> {
    if !feature.is_object() {
        return Err(ApiError::BadRequest(
            "body: expected a GeoJSON Feature object".into(),
        ));
    }
    // The import format is a FeatureCollection; one feature is a collection of one.
    let text = json!({"type": "FeatureCollection", "features": [feature]}).to_string();
    let mut fences =
        tianshu_rules::fences::parse_geojson(&text).map_err(|e| ApiError::BadRequest(e.reason))?;
    fences
        .pop()
        .ok_or_else(|| ApiError::BadRequest("body: expected a GeoJSON Feature".into()))
}

/// Completes the audit record of a stored fence.
fn describe(w: &FenceWrite, e: &mut AuditEntry) {
    e.detail = format!("geofence {} {} {:?}", w.id, w.fence.kind, w.fence.name);
}

/// `POST /api/geofences`: one GeoJSON Feature in the import format.
pub async fn create(caller: Caller, Body(body): Body<Value>) -> ApiResult<(StatusCode, Json<Value>)> {
    let fence = parse(body)?;
    let rules = caller.state.store().rules();
    let create = rules.create_geofence(&fence, Timestamp::now());
    let w = caller
        .commit("geofence.create", None, String::new(), describe, create)
        .await?;
    Ok((StatusCode::CREATED, Json(feature(w.id, &w.fence))))
}

/// `PUT /api/geofences/{id}`: replaces a fence with one GeoJSON Feature.
pub async fn replace(caller: Caller, Path(id): Path<i64>, Body(body): Body<Value>) -> ApiResult<Json<Value>> {
    let fence = parse(body)?;
    let rules = caller.state.store().rules();
    let replace = rules.replace_geofence(id, &fence, Timestamp::now());
    let w = caller
        .commit("geofence.replace", None, String::new(), describe, replace)
        .await?;
    Ok(Json(feature(w.id, &w.fence)))
}

/// `DELETE /api/geofences/{id}`
pub async fn delete(caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let detail = format!("geofence {id}");
    let rules = caller.state.store().rules();
    let delete = rules.delete_geofence(id, Timestamp::now());
    caller
        .commit("geofence.delete", None, detail, audit::as_is, delete)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Units: `GET`/`POST /api/units`, `PATCH`/`DELETE /api/units/{id}`, and a unit's own settings
//! (`GET`/`PUT /api/units/{id}/settings`: whether its cars' orders need a second person to approve; a unit's
//! working hours are `resources::calendars`).
//!
//! A listing shows the units in the caller's scope. Changes are checked by the store's registry checks
//! (the ones `tianshu registry import` runs): a bad name or parent is 400 naming the field, a unit that
//! still has vehicles, sub-units or users cannot be deleted (409).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tianshu_model::Timestamp;
use tianshu_model::{Unit, UnitId};
use tianshu_rules::orders::UnitSettings;
use tianshu_store::access::AuditEntry;
use tianshu_store::registry_admin::UnitChange;

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::ApiResult;
use crate::extract::{Body, Path, present};
use crate::scope::Scoped;

/// `GET /api/units`: the units in scope.
pub async fn list(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<Unit>>> {
    Ok(Json(Scoped::new(&state, &who).await?.units().await?))
}

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

/// The audit detail of a unit as created or changed.
fn describe(unit: &Unit, e: &mut AuditEntry) {
    e.detail = format!(
        "unit {} {:?} parent {:?} reregistration_approval {}",
        unit.id,
        unit.name,
        unit.parent.map(|p| p.0),
        unit.reregistration_approval
    );
}

/// `POST /api/units`: creates a unit below `parent`.
pub async fn create(caller: Caller, Body(req): Body<NewUnit>) -> ApiResult<(StatusCode, Json<Unit>)> {
    let registry = caller.state.store().registry_admin();
    let create = registry.create_unit(&req.name, req.parent.map(UnitId));
    let unit = caller
        .commit("unit.create", None, String::new(), describe, create)
        .await?;
    Ok((StatusCode::CREATED, Json(unit)))
}

/// `PATCH /api/units/{id}` body: the fields to change.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnitPatch {
    /// New name.
    pub name: Option<String>,
    /// New parent; `null` makes it a root.
    #[serde(default, deserialize_with = "present")]
    pub parent: Option<Option<i64>>,
    /// Whether re-registrations of its (and its sub-units') cars' terminals that the terminal cannot prove
    /// wait for an administrator's approval.
    pub reregistration_approval: Option<bool>,
}

/// `PATCH /api/units/{id}`: renames or moves a unit (with its subtree; depots of the subtree follow), or
/// requires (or no longer requires) approval of its cars' terminals' unproven re-registrations.
pub async fn update(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<UnitPatch>,
) -> ApiResult<Json<Unit>> {
    let change = UnitChange {
        name: req.name,
        parent: req.parent.map(|p| p.map(UnitId)),
        reregistration_approval: req.reregistration_approval,
    };
    let registry = caller.state.store().registry_admin();
    let update = registry.update_unit(UnitId(id), &change);
    let unit = caller
        .commit("unit.update", None, String::new(), describe, update)
        .await?;
    Ok(Json(unit))
}

/// `DELETE /api/units/{id}`: refused (409) while the unit has vehicles, sub-units or users.
pub async fn delete(caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let detail = format!("unit {id}");
    let registry = caller.state.store().registry_admin();
    let delete = registry.delete_unit(UnitId(id));
    caller
        .commit("unit.delete", None, detail, audit::as_is, delete)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A unit's settings as shown and written: `{"unit": 3, "second_person_approval": true}`.
fn settings_view(unit: UnitId, settings: UnitSettings) -> serde_json::Value {
    let mut v = serde_json::json!(settings);
    if let Some(m) = v.as_object_mut() {
        m.insert("unit".into(), unit.0.into());
    }
    v
}

/// `GET /api/units/{id}/settings`: the unit's own settings (the defaults when none are stored).
pub async fn settings(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    let unit = Scoped::new(&state, &who).await?.unit(UnitId(id)).await?;
    let settings = state.store().rules().unit_settings(unit.id).await?;
    Ok(Json(settings_view(unit.id, settings)))
}

/// `PUT /api/units/{id}/settings`: replaces the unit's settings (a field left out takes its default).
pub async fn put_settings(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<UnitSettings>,
) -> ApiResult<Json<serde_json::Value>> {
    let describe = |(unit, s): &(UnitId, UnitSettings), e: &mut AuditEntry| {
        e.detail = format!("unit {unit} second_person_approval {}", s.second_person_approval);
    };
    let rules = caller.state.store().rules();
    let put = rules.put_unit_settings(UnitId(id), req, Timestamp::now());
    let (unit, settings) = caller
        .commit("unit.settings", None, String::new(), describe, put)
        .await?;
    Ok(Json(settings_view(unit, settings)))
}

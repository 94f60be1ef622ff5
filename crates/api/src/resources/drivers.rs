//! Drivers: `GET`/`POST /api/drivers`, `PUT`/`DELETE /api/drivers/{id}`, `POST /api/drivers/import`.
//!
//! A listing shows the drivers of the units in the caller's scope. Writes are the administrators': the
//! fields are checked by `tianshu_model::driver` (a bad one is 400 naming the field), a certificate
//! another driver holds is 409, and each write commits with its audit record. A driver file (CSV, UTF-8
//! or GBK) is imported whole or not at all, a bad row named by its line and column.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use tianshu_model::driver::parse_drivers_csv;
use tianshu_model::fuel::decode_text;
use tianshu_store::access::AuditEntry;
use tianshu_store::drivers::{Driver, DriverFields, DriverImport};

use crate::ApiState;
use crate::auth::{Caller, Principal};
use crate::error::ApiResult;
use crate::extract::{Body, Path};
use crate::scope::Scoped;

/// `GET /api/drivers`: the drivers of the units in scope.
pub async fn list(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<Driver>>> {
    let scoped = Scoped::new(&state, &who).await?;
    let mut all = state.store().drivers().list().await?;
    all.retain(|d| scoped.sees_unit(d.fields.unit));
    Ok(Json(all))
}

/// The audit detail of a driver as written.
fn describe(d: &Driver, e: &mut AuditEntry) {
    e.detail = format!(
        "driver {} {:?} certificate {} unit {}",
        d.id, d.fields.name, d.fields.certificate, d.fields.unit
    );
}

/// `POST /api/drivers`: name, certificate, phone, unit.
pub async fn create(caller: Caller, Body(req): Body<DriverFields>) -> ApiResult<(StatusCode, Json<Driver>)> {
    let drivers = caller.state.store().drivers();
    let create = drivers.create(&req);
    let d = caller
        .commit("driver.create", None, String::new(), describe, create)
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// `PUT /api/drivers/{id}`: replaces every field.
pub async fn replace(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<DriverFields>,
) -> ApiResult<Json<Driver>> {
    let drivers = caller.state.store().drivers();
    let replace = drivers.replace(id, &req);
    let d = caller
        .commit("driver.replace", None, String::new(), describe, replace)
        .await?;
    Ok(Json(d))
}

/// The audit detail of a driver import.
fn describe_import(i: &DriverImport, e: &mut AuditEntry) {
    e.rows = i.created + i.updated;
    e.detail = format!(
        "drivers imported: {} created, {} updated, {} unchanged",
        i.created, i.updated, i.unchanged
    );
}

/// `POST /api/drivers/import`: a driver file as the body (`name,certificate,phone,licence,unit,active`).
pub async fn import(caller: Caller, body: Bytes) -> ApiResult<Json<DriverImport>> {
    let (text, _) = decode_text(&body, None).map_err(tianshu_store::Error::from)?;
    let records = parse_drivers_csv(&text).map_err(tianshu_store::Error::from)?;
    let drivers = caller.state.store().drivers();
    let import = drivers.import(&records);
    let done = caller
        .commit("driver.import", None, String::new(), describe_import, import)
        .await?;
    Ok(Json(done))
}

/// `DELETE /api/drivers/{id}`
pub async fn delete(caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let drivers = caller.state.store().drivers();
    let delete = drivers.delete(id);
    caller
        .commit("driver.delete", None, String::new(), describe, delete)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Alert cases: `GET /api/cases`, `GET /api/cases/{id}`, `POST /api/cases/{id}/actions`.
//!
//! The cases come from the case book (`cases::CaseBook`, the alerts engine) through the scope: a caller
//! sees and acts on the cases of their units' vehicles only. Every action is audited with the state it
//! moved the case from and to, in the action's own transaction: both commit or neither does.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use tianshu_model::VehicleId;
use tianshu_store::access::AuditEntry;
use tianshu_store::rules::TransitionedCase;

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::cases::{CaseAction, CaseFilter, CaseView};
use crate::error::ApiResult;
use crate::extract::{Body, Path, Query};
use crate::scope::Scoped;

/// `GET /api/cases` query.
#[derive(Debug, Deserialize)]
pub struct CasesQuery {
    /// Only this state.
    pub state: Option<String>,
    /// Only this vehicle.
    pub vehicle: Option<i64>,
    /// At most this many (default 200).
    pub limit: Option<usize>,
}

/// `GET /api/cases`: cases in scope, newest first.
pub async fn list(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<CasesQuery>,
) -> ApiResult<Json<Vec<CaseView>>> {
    let filter = CaseFilter {
        state: q.state,
        vehicle: q.vehicle.map(VehicleId),
        limit: q.limit.unwrap_or(200).min(2000),
        ..Default::default()
    };
    Ok(Json(Scoped::new(&state, &who).await?.cases(filter).await?))
}

/// `GET /api/cases/{id}`
pub async fn one(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseView>> {
    Ok(Json(Scoped::new(&state, &who).await?.case(&id).await?))
}

/// `POST /api/cases/{id}/actions` with `{"action":"acknowledge"|"explain"|"close"|"escalate",...}`.
pub async fn act(
    Caller { state, who, client }: Caller,
    Path(id): Path<String>,
    Body(action): Body<CaseAction>,
) -> ApiResult<Json<CaseView>> {
    let scoped = Scoped::new(&state, &who).await?;
    let name = serde_json::to_value(&action)
        .ok()
        .and_then(|v| v["action"].as_str().map(str::to_string))
        .unwrap_or_default();
    let entry = AuditEntry {
        detail: format!("case {id}: "),
        ..audit::entry(&who, client, format!("case.{name}"))
    };
    let mut record = audit::with_change(entry, |t: &TransitionedCase, e| {
        moved(e, t.case.vehicle, t.before.as_str(), t.case.state.as_str());
    });
    let (before, after) = scoped.act_on_case(&id, &action, &mut record).await?;
    if let Some(unwritten) = record {
        // A case book without a transaction of its own: the record follows the step.
        let mut entry = unwritten.entry;
        moved(&mut entry, before.vehicle, &before.state, &after.state);
        audit::record(&state, entry).await?;
    }
    Ok(Json(after))
}

/// Completes the record of a case action: the case's vehicle, and the states it moved from and to.
fn moved(e: &mut AuditEntry, vehicle: VehicleId, before: &str, after: &str) {
    e.vehicle = Some(vehicle);
    e.detail += &format!("{before} -> {after}");
}

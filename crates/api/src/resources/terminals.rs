//! Terminals: `GET`/`POST /api/terminals`, `PATCH`/`DELETE /api/terminals/{phone}`, and
//! `POST /api/terminals/{phone}/reregistration` to approve or reject a pending re-registration.
//!
//! A terminal is shown without its auth-code hash, only whether it holds one, with how often it registered
//! again and its pending re-registration; its phone and terminal id are masked for every role but
//! administrators (whoever knows both can register as it). It is bound to a vehicle
//! by id or by plate (a plate nobody has is a bad field, not a missing resource); rebinding clears the
//! auth code so that it registers again. Its clock is shown as the offset set and the steady offset found
//! in its fixes; an administrator sets the offset (whole or half hours, see `tianshu_model::clock`), and an
//! online terminal's gateway session applies it at once. Reads go through the scope.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tianshu_model::{Edition, PendingState, Phone, Terminal, Timestamp, VehicleId};
use tianshu_store::access::AuditEntry;
use tianshu_store::registry_admin::{NewTerminal, TerminalChange};

use tianshu_model::clock::check_clock_offset;

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, present};
use crate::position::Identity;
use crate::scope::Scoped;

/// A terminal as the API shows it (never its auth-code hash); its phone and terminal id masked for every
/// role but administrators ([`Identity`]).
#[derive(Debug, Serialize)]
pub struct TerminalView {
    /// Phone number.
    pub phone: String,
    /// Terminal id.
    pub terminal_id: String,
    /// Edition last seen.
    pub edition: Option<Edition>,
    /// Whether it holds an auth code (has registered since it was provisioned or last reset).
    pub registered: bool,
    /// Bound vehicle.
    pub vehicle: Option<VehicleId>,
    /// Seconds added to its fix times before they are checked and stored (0: none).
    pub clock_offset_secs: i32,
    /// The steady offset last found in its live fixes as sent (the offset to set; 0: its clock is right),
    /// absent until one is found.
    pub clock_offset_found_secs: Option<i32>,
    /// When that offset was found.
    pub clock_offset_found_at: Option<Timestamp>,
    /// How many times it registered again while holding a code.
    pub reregistrations: u32,
    /// When it last did.
    pub last_reregistered: Option<Timestamp>,
    /// Its pending re-registration, whose code waits beside the current one.
    pub pending_registration: Option<PendingView>,
}

/// A pending re-registration as the API shows it (never its code's hash).
#[derive(Debug, Serialize)]
pub struct PendingView {
    /// When it registered.
    pub since: Timestamp,
    /// The edition it registered in.
    pub edition: Edition,
    /// The address it registered from.
    pub address: String,
    /// `unproven`, `same_address`, `awaiting_approval` or `approved`.
    pub state: PendingState,
}

impl TerminalView {
    /// `t` as a caller who sees identities as `identity` is shown it.
    pub fn of(t: Terminal, identity: Identity) -> Self {
        TerminalView {
            phone: identity.phone(t.phone),
            terminal_id: identity.terminal_id(&t.terminal_id),
            edition: t.edition,
            registered: t.auth_code_hash.is_some(),
            vehicle: t.vehicle,
            clock_offset_secs: t.clock_offset_secs,
            clock_offset_found_secs: t.clock_found.map(|(secs, _)| secs),
            clock_offset_found_at: t.clock_found.map(|(_, at)| at),
            reregistrations: t.reregistrations,
            last_reregistered: t.last_reregistered,
            pending_registration: t.pending.map(|p| PendingView {
                since: p.since,
                edition: p.edition,
                address: p.address,
                state: p.state,
            }),
        }
    }
}

/// `GET /api/terminals`: the terminals of the vehicles in scope.
pub async fn list(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<TerminalView>>> {
    let terminals = Scoped::new(&state, &who).await?.terminals().await?;
    let identity = Identity::for_role(who.role);
    Ok(Json(
        terminals
            .into_iter()
            .map(|t| TerminalView::of(t, identity))
            .collect(),
    ))
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

/// The vehicle a body names by id or by plate: `None` for neither, `Some(None)` for an unbinding
/// `null` id. A plate nobody has is a bad field, not a missing resource.
async fn binding(
    scoped: &Scoped,
    vehicle: Option<Option<i64>>,
    plate: Option<&str>,
) -> ApiResult<Option<Option<VehicleId>>> {
    match (vehicle, plate) {
        (Some(_), Some(_)) => Err(ApiError::BadRequest(
            "plate: give either vehicle or plate, not both".into(),
        )),
        (Some(v), None) => Ok(Some(v.map(VehicleId))),
        (None, Some(p)) => match scoped.find_vehicle_by_plate(p).await? {
            Some(v) => Ok(Some(Some(v.id))),
            None => Err(ApiError::BadRequest(format!(
                "plate: no vehicle has plate {:?}",
                p.trim()
            ))),
        },
        (None, None) => Ok(None),
    }
}

/// `POST /api/terminals`: provisions a terminal, bound to a vehicle by id or plate.
pub async fn create(
    caller: Caller,
    Body(req): Body<NewTerminalReq>,
) -> ApiResult<(StatusCode, Json<TerminalView>)> {
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    let vehicle = binding(&scoped, req.vehicle.map(Some), req.plate.as_deref()).await?;
    let new = NewTerminal {
        phone: req.phone,
        terminal_id: req.terminal_id,
        vehicle: vehicle.flatten(),
        edition: req.edition,
    };
    let describe = |t: &Terminal, e: &mut AuditEntry| {
        e.vehicle = t.vehicle;
        e.detail = format!(
            "terminal {} id {} vehicle {:?}",
            t.phone,
            t.terminal_id,
            t.vehicle.map(|v| v.0)
        );
    };
    let registry = caller.state.store().registry_admin();
    let create = registry.create_terminal(&new);
    let t = caller
        .commit("terminal.create", None, String::new(), describe, create)
        .await?;
    let identity = Identity::for_role(caller.who.role);
    Ok((StatusCode::CREATED, Json(TerminalView::of(t, identity))))
}

/// `PATCH /api/terminals/{phone}` body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalPatch {
    /// New terminal id.
    pub terminal_id: Option<String>,
    /// Rebind to this vehicle id; `null` unbinds.
    #[serde(default, deserialize_with = "present")]
    pub vehicle: Option<Option<i64>>,
    /// Rebind to the vehicle with this plate.
    pub plate: Option<String>,
    /// Clear the auth code: the terminal must register again.
    pub reset_auth_code: bool,
    /// Seconds to add to its fix times: whole or half hours, at most 14 hours either way (28800 for a
    /// terminal sending UTC as China time); 0 ends a correction.
    pub clock_offset_secs: Option<i32>,
}

fn parse_phone(s: &str) -> ApiResult<Phone> {
    Phone::parse(s).map_err(|e| ApiError::BadRequest(format!("phone: {e}")))
}

/// `PATCH /api/terminals/{phone}`: rebinds (which clears the auth code), resets the auth code or sets the
/// clock offset.
pub async fn update(
    caller: Caller,
    Path(phone): Path<String>,
    Body(req): Body<TerminalPatch>,
) -> ApiResult<Json<TerminalView>> {
    let phone = parse_phone(&phone)?;
    if let Some(secs) = req.clock_offset_secs {
        check_clock_offset(secs).map_err(|e| ApiError::BadRequest(format!("clock_offset_secs: {e}")))?;
    }
    let scoped = Scoped::new(&caller.state, &caller.who).await?;
    let vehicle = binding(&scoped, req.vehicle, req.plate.as_deref()).await?;
    let before = scoped.terminal(phone).await?;
    let change = TerminalChange {
        terminal_id: req.terminal_id,
        vehicle,
        reset_auth_code: req.reset_auth_code,
        clock_offset_secs: req.clock_offset_secs,
    };
    // Until `describe` runs, the record's vehicle is the binding before the change.
    let before = before.and_then(|b| b.vehicle);
    let describe = |t: &Terminal, e: &mut AuditEntry| {
        e.detail = format!(
            "terminal {} id {} vehicle {:?} -> {:?} registered {} clock_offset_secs {}",
            t.phone,
            t.terminal_id,
            e.vehicle.map(|v| v.0),
            t.vehicle.map(|v| v.0),
            t.auth_code_hash.is_some(),
            t.clock_offset_secs
        );
        e.vehicle = t.vehicle;
    };
    let registry = caller.state.store().registry_admin();
    let update = registry.update_terminal(phone, &change);
    let t = caller
        .commit("terminal.update", before, String::new(), describe, update)
        .await?;
    // A session online in this process applies the new offset to the next fix.
    if let Some(downlink) = caller.state.downlink() {
        downlink.terminal_changed(phone);
    }
    Ok(Json(TerminalView::of(t, Identity::for_role(caller.who.role))))
}

/// `POST /api/terminals/{phone}/reregistration` body: `{"decision":"approve"}` or `{"decision":"reject"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReregistrationDecision {
    /// `approve`: the pending code awaiting approval may authenticate; `reject`: it is dropped.
    pub decision: Decision,
}

/// An administrator's decision on a pending re-registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let it authenticate.
    Approve,
    /// Drop it.
    Reject,
}

/// `POST /api/terminals/{phone}/reregistration`: approves or rejects the terminal's pending
/// re-registration, audited in the same transaction; nothing to decide is 409.
pub async fn decide_reregistration(
    caller: Caller,
    Path(phone): Path<String>,
    Body(req): Body<ReregistrationDecision>,
) -> ApiResult<Json<TerminalView>> {
    let phone = parse_phone(&phone)?;
    let before = Scoped::new(&caller.state, &caller.who)
        .await?
        .terminal(phone)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("terminal {phone}")))?;
    let approve = req.decision == Decision::Approve;
    let (action, verb) = if approve {
        ("terminal.reregistration.approve", "approved")
    } else {
        ("terminal.reregistration.reject", "rejected")
    };
    let pending = before.pending.as_ref();
    let detail = format!(
        "terminal {phone} re-registration {verb}: registered {} from {}",
        pending.map(|p| p.since.to_string()).unwrap_or_default(),
        pending.map(|p| p.address.as_str()).unwrap_or_default()
    );
    let registry = caller.state.store().registry_admin();
    let decide = registry.decide_reregistration(phone, approve);
    let t = caller
        .commit(action, before.vehicle, detail, audit::as_is, decide)
        .await?;
    Ok(Json(TerminalView::of(t, Identity::for_role(caller.who.role))))
}

/// `DELETE /api/terminals/{phone}`
pub async fn delete(caller: Caller, Path(phone): Path<String>) -> ApiResult<StatusCode> {
    let phone = parse_phone(&phone)?;
    let before = Scoped::new(&caller.state, &caller.who)
        .await?
        .terminal(phone)
        .await?;
    let vehicle = before.and_then(|t| t.vehicle);
    let detail = format!("terminal {phone}");
    let registry = caller.state.store().registry_admin();
    let delete = registry.delete_terminal(phone);
    caller
        .commit("terminal.delete", vehicle, detail, audit::as_is, delete)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

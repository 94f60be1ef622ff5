//! The audit trail as the API writes it: who did what, from where, to which vehicle and range.
//!
//! Every look at a track (positions, replay, trips, report, export), every administrative change, case
//! action and downlink command, and every login and logout is recorded here. A record is written
//! *before* the answer that hands out data leaves: when the audit log cannot be written, the request
//! fails (see [`tianshu_store::access`] for the hash chain that makes the log tamper-evident).

use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::access::{Audit, AuditEntry};

use crate::ApiState;
use crate::auth::{Client, Principal};
use crate::error::ApiResult;

/// Writes one record, stamped now.
pub(crate) async fn record(state: &ApiState, entry: AuditEntry) -> ApiResult<()> {
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    state.store().access().append_audit(now, &entry).await?;
    Ok(())
}

/// The part of a record every request has: the caller, their role, the action and where it came from.
pub(crate) fn entry(who: &Principal, client: Client, action: impl Into<String>) -> AuditEntry {
    AuditEntry {
        actor: who.username.clone(),
        role: who.role.to_string(),
        action: action.into(),
        remote: client.0,
        ..Default::default()
    }
}

/// A look at `vehicle`'s track over `from..to` that handed out `rows` points.
pub(crate) fn track_look(
    who: &Principal,
    client: Client,
    action: impl Into<String>,
    vehicle: VehicleId,
    (from, to): (Timestamp, Timestamp),
    rows: usize,
) -> AuditEntry {
    AuditEntry {
        vehicle: Some(vehicle),
        from: Some(from),
        to: Some(to),
        rows: rows as u64,
        ..entry(who, client, action)
    }
}

/// The record of an administrative change of one record (`unit.create`, `order.state`...).
fn change_entry(
    who: &Principal,
    client: Client,
    action: &str,
    vehicle: Option<VehicleId>,
    detail: String,
) -> AuditEntry {
    AuditEntry {
        vehicle,
        rows: 1,
        detail,
        ..entry(who, client, action)
    }
}

/// Records an administrative change of one record (`unit.create`, `order.state`...).
pub(crate) async fn change(
    state: &ApiState,
    who: &Principal,
    client: Client,
    action: &str,
    vehicle: Option<VehicleId>,
    detail: String,
) -> ApiResult<()> {
    record(state, change_entry(who, client, action, vehicle, detail)).await
}

/// The record of an administrative change, for the store to write in the change's own transaction
/// (the change and its record commit together or not at all): what is known before the change, and
/// `describe` to complete it from what the change stored (an id the store assigned, a state it found).
pub(crate) fn change_of<R>(
    who: &Principal,
    client: Client,
    action: &str,
    vehicle: Option<VehicleId>,
    detail: String,
    describe: fn(&R, &mut AuditEntry),
) -> Audit<R> {
    Audit {
        time: Timestamp::from_millis(chrono::Utc::now().timestamp_millis()),
        entry: change_entry(who, client, action, vehicle, detail),
        describe,
    }
}

/// For [`change_of`]: the record is complete before the change.
pub(crate) fn as_is<R>(_: &R, _: &mut AuditEntry) {}

//! The audit trail as the API writes it: who did what, from where, to which vehicle and range.
//!
//! Every look at a track (positions, replay, trips, report, export), every administrative change, case
//! action and downlink command, and every login and logout is recorded here. A record is written
//! *before* the answer that hands out data leaves: when the audit log cannot be written, the request
//! fails (see [`tianshu_store::access`] for the hash chain that makes the log tamper-evident). A change
//! (registry, users, reference data, orders) carries its record into its own transaction
//! ([`of_change`]): both commit or neither does.

use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::access::{Audit, AuditEntry};

use crate::ApiState;
use crate::auth::{Client, Principal};
use crate::error::ApiResult;

/// Writes one record, stamped now.
pub(crate) async fn record(state: &ApiState, entry: AuditEntry) -> ApiResult<()> {
    state
        .store()
        .access()
        .append_audit(Timestamp::now(), &entry)
        .await?;
    Ok(())
}

/// `entry`, stamped now, as the record of a change that commits with it; `describe` completes it from
/// the change's result (the id a create assigned, the record as changed).
pub(crate) fn with_change<R>(entry: AuditEntry, describe: fn(&R, &mut AuditEntry)) -> Option<Audit<R>> {
    Some(Audit {
        time: Timestamp::now(),
        entry,
        describe,
    })
}

/// The record of an administrative change of one record (`unit.create`, `vehicle.delete`...) that
/// commits with it: `vehicle` and `detail` as known before the change, completed by `describe`.
pub(crate) fn of_change<R>(
    who: &Principal,
    client: Client,
    action: &str,
    vehicle: Option<VehicleId>,
    detail: String,
    describe: fn(&R, &mut AuditEntry),
) -> Option<Audit<R>> {
    with_change(change_entry(who, client, action, vehicle, detail), describe)
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

/// For [`of_change`]: the record is complete before the change.
pub(crate) fn as_is<R>(_: &R, _: &mut AuditEntry) {}

//! A terminal that registers again while it holds a code: the new code waits beside the current one until
//! a terminal uses it and proves to be the same; what that costs and raises.
//!
//! The decisions are pure (`login::registration`, `login::verdict`); here they are carried out against the
//! store: the pending code is recorded ([`issue`]), promoted when used with proof ([`promote`]), dropped when
//! the current code is used instead ([`current_code_used`]). Every step is counted
//! (`tianshu_jt808_reregistrations_total{step}`; the terminal's own count and last time are in the registry),
//! and what needs a person raises an alert case on the car's unit ([`tianshu_rules::terminal_case`]): a code
//! used without proof, a pending code used with the wrong IMEI, a re-registration awaiting approval.
//!
//! Cases go through the gateway's [`CaseSink`](crate::CaseSink) when the alert runtime set one (it adds the notifications and
//! the live feed), else straight to the store. One case per car stays open for its re-registrations: a new
//! event updates it.

use std::net::IpAddr;

use tianshu_model::case::CaseFilter;
use tianshu_model::{CaseState, Edition, PendingState, Terminal, Timestamp, VehicleId};
use tianshu_rules::terminal_case::{ReregistrationEvent, TERMINAL_REREGISTERED, reregistration_case};
use tianshu_store::Reregistration;
use tracing::{error, info, warn};

use crate::auth;
use crate::gateway::Gateway;
use crate::metrics::METRICS;

/// What a registration decides, given the registry's record of the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registration {
    /// Refused with this 0x8100 result.
    Refused(u8),
    /// The terminal holds no code: the code issued becomes its code.
    First,
    /// The terminal holds a code: the code issued waits beside it until it is used; `same_address` when it
    /// came from the address of the terminal's session online here now.
    Again {
        /// From the address of the live session.
        same_address: bool,
    },
}

/// What shows that the terminal using a pending code is the registered one (or lets it in without proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// It sent the IMEI on record.
    Imei,
    /// It registered from the address of the terminal's session online at the time.
    SameAddress,
    /// An administrator approved it.
    Approved,
    /// Nothing: no IMEI on record, another address, no approval required. Allowed, counted and alerted.
    Unproven,
}

impl Proof {
    /// The step label of the re-registrations metric.
    const fn label(self) -> &'static str {
        match self {
            Proof::Imei => "promoted_imei",
            Proof::SameAddress => "promoted_same_address",
            Proof::Approved => "promoted_approved",
            Proof::Unproven => "promoted_unproven",
        }
    }
}

fn count(step: &str) {
    METRICS.reregistrations.with_label_values(&[step]).inc();
}

/// Issues a code to registering `terminal` as `decision` says (not refused): its code at a first
/// registration, else a pending one. `None` when the registry could not record it (left unanswered).
pub(crate) async fn issue(
    gw: &Gateway,
    edition: Edition,
    terminal: &Terminal,
    decision: Registration,
    peer: IpAddr,
    now: Timestamp,
) -> Option<String> {
    let phone = terminal.phone;
    let issued = auth::issue_code();
    let saved = match decision {
        Registration::Again { same_address } => {
            let r = Reregistration {
                code_hash: issued.hash.clone(),
                edition,
                address: peer.to_string(),
                same_address,
            };
            gw.store.reregister(phone, &r, now).await.map(Some)
        }
        _ => gw
            .store
            .save_registration(phone, edition, &issued.hash, None)
            .await
            .map(|()| None),
    };
    match saved {
        Err(e) => {
            warn!(%phone, error = %e, "saving the registration failed; left unanswered");
            return None;
        }
        Ok(None) => info!(%phone, edition = edition.as_str(), "terminal registered"),
        Ok(Some(again)) => {
            count("registered");
            info!(%phone, %peer, state = again.state.as_str(), count = again.reregistrations, "terminal registered again; its new code waits beside the current one");
            if again.state == PendingState::AwaitingApproval
                && let Some(vehicle) = terminal.vehicle
            {
                let event = ReregistrationEvent::AwaitingApproval;
                raise(gw, vehicle, event, again.reregistrations, &peer.to_string(), now).await;
            }
        }
    }
    Some(issued.code)
}

/// A refused authentication of `terminal` for `reason`: a pending code used with the wrong IMEI raises a
/// case, one awaiting approval is counted.
pub(crate) async fn refused(gw: &Gateway, terminal: &Terminal, reason: &str, now: Timestamp) {
    if terminal.pending.is_none() || terminal.vehicle.is_none() {
        return;
    }
    match reason {
        "awaiting_approval" => count("awaiting_approval"),
        "pending_imei_mismatch" => {
            count("refused_imei");
            warn!(phone = %terminal.phone, "a pending code was used with another IMEI than the recorded one; refused");
            raise_for_pending(gw, terminal, ReregistrationEvent::ImeiMismatch, now).await;
        }
        _ => {}
    }
}

/// The terminal authenticated with its current code: it is the registered one, so a code issued meanwhile
/// to a registration (by someone else, or one it did not use) is dropped.
pub(crate) async fn current_code_used(gw: &Gateway, terminal: &Terminal) {
    let Some(pending) = &terminal.pending else {
        return;
    };
    match gw
        .store
        .settle_pending(terminal.phone, pending, false, None)
        .await
    {
        Ok(true) => count("dropped"),
        Ok(false) => {}
        Err(e) => warn!(phone = %terminal.phone, error = %e, "dropping the pending code failed"),
    }
}

/// The terminal used its pending code with `proof`: the pending code becomes its code (the old one is
/// dropped; `imei` recorded when none was). `false` when a newer registration replaced the code meanwhile.
pub(crate) async fn promote(
    gw: &Gateway,
    terminal: &Terminal,
    proof: Proof,
    imei: Option<&str>,
    now: Timestamp,
) -> tianshu_store::Result<bool> {
    let (Some(pending), Some(_)) = (&terminal.pending, terminal.vehicle) else {
        return Ok(false);
    };
    if !gw
        .store
        .settle_pending(terminal.phone, pending, true, imei)
        .await?
    {
        return Ok(false);
    }
    count(proof.label());
    info!(phone = %terminal.phone, proof = proof.label(), "the pending code replaced the terminal's code");
    if proof == Proof::Unproven {
        raise_for_pending(gw, terminal, ReregistrationEvent::UsedUnproven, now).await;
    }
    Ok(true)
}

/// Raises the re-registration case of `terminal`'s car for `event` of its pending code, naming the address
/// the code was issued to.
async fn raise_for_pending(gw: &Gateway, terminal: &Terminal, event: ReregistrationEvent, now: Timestamp) {
    if let (Some(pending), Some(vehicle)) = (&terminal.pending, terminal.vehicle) {
        raise(
            gw,
            vehicle,
            event,
            terminal.reregistrations,
            &pending.address,
            now,
        )
        .await;
    }
}

/// Raises (or updates the open) re-registration case of `vehicle`. A case that cannot be recorded is
/// logged: the registry keeps the count and the time.
async fn raise(
    gw: &Gateway,
    vehicle: VehicleId,
    event: ReregistrationEvent,
    count: u32,
    address: &str,
    now: Timestamp,
) {
    let recorded = async {
        let Some(v) = gw.store.vehicle(vehicle).await? else {
            return Ok(None);
        };
        let open = CaseFilter {
            states: vec![CaseState::Open, CaseState::Acknowledged],
            vehicle: Some(vehicle),
            rule: Some(TERMINAL_REREGISTERED.to_string()),
            limit: 1,
            ..CaseFilter::default()
        };
        let start = gw
            .store
            .cases()
            .cases(&open)
            .await?
            .first()
            .map_or(now, |c| c.start);
        let case = reregistration_case(&v, event, count, address, start, now);
        match gw.cases.get() {
            Some(sink) => sink.record(case).await.map(Some),
            None => Ok(Some(gw.store.cases().record_case(&case, &[], now).await?.0)),
        }
    };
    match recorded.await {
        Ok(Some(id)) => info!(case = id, %vehicle, event = event.as_str(), "re-registration case raised"),
        Ok(None) => {}
        Err(e) => {
            error!(%vehicle, event = event.as_str(), error = %e, "recording a re-registration case failed")
        }
    }
}

//! Registration (0x0100) and authentication (0x0102): the registry lookups, and what they decide.
//!
//! The session's state machine turns a login frame into a [`LoginRequest`] (owned, so it outlives the frame)
//! and applies the [`LoginOutcome`] that [`perform`] returns; the registry reads and writes and the
//! authentication throttle are used here, between the two. What the lookups decide is written as pure
//! functions of what was looked up ([`registration`], [`verdict`]); a terminal that registers again while
//! it holds a code is carried out in `reregister`.
//!
//! Invariants:
//! - Only a provisioned terminal bound to a vehicle registers, with the terminal id it was provisioned with;
//!   the plate it sends does not decide (firmwares truncate plates): a mismatch is logged and counted.
//! - Only the hash of an issued code is stored; a code is checked against it.
//! - Registering again never replaces a terminal's code: the new code waits beside it (pending) and the old
//!   one stays valid until the new one is used by a terminal that proves to be the same: the IMEI on record
//!   (2019 terminals), else the address of the session online when it registered, else an administrator's
//!   approval where the car's unit requires one. Without any of these (2011/2013 terminals, no approval
//!   required) the new code is allowed, counted and raises an alert case on the car's unit. Using the old
//!   code proves the terminal too: a pending code is then dropped.
//! - A phone over its failure budget from an address, or an address over its own, is refused without
//!   comparing the code, so codes cannot be guessed; failures elsewhere never lock a terminal out.
//! - When the registry cannot be read or written, the frame is left unanswered: the terminal asks again.

use std::net::IpAddr;
use std::time::Instant;

use tianshu_jt808::{Authenticate, Header, Register, RegisterAck, Text};
use tianshu_model::{Edition, PendingState, Terminal, Timestamp, VehicleId};

use crate::clock::TerminalClock;
use tracing::{debug, info, warn};

use crate::auth;
use crate::gateway::Gateway;
use crate::limits::Throttled;
use crate::metrics::METRICS;
use crate::reregister::{self, Proof, Registration};
use crate::text::gbk_text;

/// A 0x0100 to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegisterRequest {
    /// The frame's header (phone, serial, layout).
    pub header: Header,
    /// The header layout the terminal is recorded with: 2019 from the header, else 2011 for a body too
    /// short for 2013.
    pub edition: Edition,
    /// The terminal id it sent.
    pub terminal_id: String,
    /// The plate it sent, when one is to be checked: plate colour 0 means the field holds the VIN, and an
    /// empty plate is common on devices installed before the car was plated.
    pub plate: Option<String>,
}

impl RegisterRequest {
    /// The request of a 0x0100 whose body was `body_len` bytes.
    pub fn new(header: &Header, r: &Register<'_>, body_len: usize) -> Self {
        let edition = match header.edition() {
            Edition::V2019 => Edition::V2019,
            _ if body_len < 37 => Edition::V2011,
            _ => Edition::V2013,
        };
        let plate = (r.plate_color != 0)
            .then(|| gbk_text(r.plate))
            .flatten()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty());
        RegisterRequest {
            header: *header,
            edition,
            terminal_id: String::from_utf8_lossy(r.terminal_id.as_bytes()).into_owned(),
            plate,
        }
    }
}

/// A 0x0102 to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthRequest {
    /// The frame's header.
    pub header: Header,
    /// The code sent.
    pub code: Vec<u8>,
    /// The IMEI a 2019 terminal sends, as sent.
    pub imei: Option<Vec<u8>>,
}

impl AuthRequest {
    /// The request of a 0x0102.
    pub fn new(header: &Header, a: &Authenticate<'_>) -> Self {
        AuthRequest {
            header: *header,
            code: a.auth_code.as_bytes().to_vec(),
            imei: a.imei.map(|i| i.as_bytes().to_vec()),
        }
    }
}

/// A login frame to decide against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginRequest {
    /// 0x0100.
    Register(RegisterRequest),
    /// 0x0102.
    Authenticate(AuthRequest),
}

/// What the registry decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    /// The registry could not be read or written: no answer (the terminal asks again).
    Unanswered,
    /// Answer 0x8100 with `result`; `code` is the code issued when the terminal registered.
    Registered {
        /// The 0x0100's header.
        header: Header,
        /// The 0x8100 result.
        result: u8,
        /// The code issued.
        code: Option<String>,
    },
    /// Authentication refused for `reason` (a metric label); `throttled` when the phone is over its budget.
    Refused {
        /// The 0x0102's header.
        header: Header,
        /// Why.
        reason: &'static str,
    },
    /// Authenticated: the terminal reports for `vehicle`.
    Authenticated {
        /// The 0x0102's header.
        header: Header,
        /// Its vehicle.
        vehicle: VehicleId,
        /// Its clock, as the registry holds it.
        clock: Box<TerminalClock>,
    },
}

/// Whether the plate a registration sent names no vehicle, or another vehicle than `terminal` is bound to
/// (`plate_owner`: `None` when no plate was sent, `Some(None)` when it names no vehicle).
pub(crate) fn plate_mismatch(terminal: &Terminal, plate_owner: Option<Option<VehicleId>>) -> bool {
    plate_owner.is_some_and(|owner| owner.is_none() || owner != terminal.vehicle)
}

/// The time a login is decided at: monotonic for the throttle's window, wall clock for the registry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At {
    /// Monotonic.
    pub at: Instant,
    /// Wall clock.
    pub wall: Timestamp,
}

/// Looks up and decides `request` of a connection from `peer` at `now`.
pub(crate) async fn perform(gw: &Gateway, request: LoginRequest, peer: IpAddr, now: At) -> LoginOutcome {
    match request {
        LoginRequest::Register(r) => register(gw, r, peer, now.wall).await,
        LoginRequest::Authenticate(a) => authenticate(gw, a, peer, now).await,
    }
}

async fn register(gw: &Gateway, r: RegisterRequest, peer: IpAddr, now: Timestamp) -> LoginOutcome {
    let phone = r.header.phone;
    let looked_up = async {
        let terminal = gw.store.terminal(phone).await?;
        let plate_owner = match (&terminal, &r.plate) {
            (Some(_), Some(plate)) => Some(gw.store.vehicle_by_plate(plate).await?.map(|v| v.id)),
            _ => None,
        };
        Ok::<_, tianshu_store::Error>((terminal, plate_owner))
    };
    let (terminal, plate_owner) = match looked_up.await {
        Ok(found) => found,
        Err(e) => {
            warn!(%phone, error = %e, "registry unavailable; registration left unanswered");
            return LoginOutcome::Unanswered;
        }
    };
    let online_at = gw.online.address_of(phone);
    let decision = registration(
        &r,
        terminal.as_ref(),
        online_at,
        peer,
        gw.config.reregister_when_offline,
    );
    let (result, code) = match (decision, &terminal) {
        (Registration::Refused(_), _) | (_, None) => {
            let result = registration_refused(decision);
            info!(%phone, result, "registration refused");
            (result, None)
        }
        (decision, Some(terminal)) => {
            if plate_mismatch(terminal, plate_owner) {
                // The terminal is who its phone and terminal id say; firmwares truncate or mistype plates, so
                // the plate is flagged for an administrator, not a reason to refuse the car forever.
                METRICS.registration_plate_mismatches.inc();
                warn!(%phone, plate = r.plate.as_deref().unwrap_or(""), "registration accepted although its plate names no vehicle or another one than the terminal is bound to");
            }
            match reregister::issue(gw, r.edition, terminal, decision, peer, now).await {
                Some(code) => (RegisterAck::RESULT_OK, Some(code)),
                None => return LoginOutcome::Unanswered,
            }
        }
    };
    METRICS
        .registrations
        .with_label_values(&[register_result_label(result)])
        .inc();
    LoginOutcome::Registered {
        header: r.header,
        result,
        code,
    }
}

fn registration_refused(decision: Registration) -> u8 {
    match decision {
        Registration::Refused(result) => result,
        _ => RegisterAck::RESULT_NO_TERMINAL,
    }
}

/// What registration `r` from `peer` decides, given the registry's record of the terminal and the address of
/// its session online here (`online_at`). The terminal is identified by its phone and terminal id; the plate
/// it sends does not decide (see [`plate_mismatch`]).
///
/// A terminal that already holds a code may register again (`reregister`: after a factory reset it lost its
/// code; some firmwares register on every connect): it gets a new code, kept beside the current one, which
/// stays valid until the new one is used. While it is online, a registration from another address is refused
/// (result 3) unless an IMEI on record will check who uses the new code: a connected car that cannot prove
/// itself is not taken over from elsewhere, and a terminal reconnecting from its own address while its stale
/// session lingers is not locked out.
pub(crate) fn registration(
    r: &RegisterRequest,
    terminal: Option<&Terminal>,
    online_at: Option<IpAddr>,
    peer: IpAddr,
    reregister: bool,
) -> Registration {
    let Some(terminal) = terminal else {
        return Registration::Refused(RegisterAck::RESULT_NO_TERMINAL);
    };
    if !r
        .terminal_id
        .trim()
        .eq_ignore_ascii_case(terminal.terminal_id.trim())
    {
        return Registration::Refused(RegisterAck::RESULT_NO_TERMINAL);
    }
    if terminal.vehicle.is_none() {
        return Registration::Refused(RegisterAck::RESULT_NO_VEHICLE);
    }
    if terminal.auth_code_hash.is_none() {
        return Registration::First;
    }
    let same_address = online_at == Some(peer);
    if !reregister || (online_at.is_some() && !same_address && terminal.imei.is_none()) {
        return Registration::Refused(RegisterAck::RESULT_TERMINAL_REGISTERED);
    }
    Registration::Again { same_address }
}

async fn authenticate(gw: &Gateway, a: AuthRequest, peer: IpAddr, now: At) -> LoginOutcome {
    let (header, phone) = (a.header, a.header.phone);
    if let Err(over) = gw.auth_throttle.check(phone, peer, now.at) {
        METRICS.auth_failures.with_label_values(&["throttled"]).inc();
        debug!(%phone, %peer, ?over, "authentication refused unchecked: too many failures");
        return LoginOutcome::Refused {
            header,
            reason: "throttled",
        };
    }
    let terminal = match gw.store.terminal(phone).await {
        Ok(t) => t,
        Err(e) => {
            warn!(%phone, error = %e, "registry unavailable; authentication left unanswered");
            return LoginOutcome::Unanswered;
        }
    };
    let verdict = verdict(terminal.as_ref(), &a);
    let Some(terminal) = &terminal else {
        return refuse(gw, &a, peer, now, "unknown_terminal");
    };
    let vehicle = match (verdict, terminal.vehicle) {
        (Verdict::Refused(reason), _) => {
            reregister::refused(gw, terminal, reason, now.wall).await;
            return refuse(gw, &a, peer, now, reason);
        }
        (_, None) => return refuse(gw, &a, peer, now, "no_vehicle"),
        (_, Some(vehicle)) => vehicle,
    };
    if let Verdict::Promote(proof) = verdict {
        let imei = a.imei.as_deref().and_then(|i| Text(i).as_str()).map(str::trim);
        match reregister::promote(gw, terminal, proof, imei.filter(|i| !i.is_empty()), now.wall).await {
            Ok(true) => {}
            // A newer registration replaced the code meanwhile: it is no longer one the terminal holds.
            Ok(false) => return refuse(gw, &a, peer, now, "wrong_code"),
            Err(e) => {
                warn!(%phone, error = %e, "promoting the pending code failed; authentication left unanswered");
                return LoginOutcome::Unanswered;
            }
        }
    } else {
        reregister::current_code_used(gw, terminal).await;
        save_first_imei(gw, &a, terminal).await;
    }
    gw.auth_throttle.record_success(phone, peer);
    LoginOutcome::Authenticated {
        header,
        vehicle,
        clock: Box::new(TerminalClock::of(terminal)),
    }
}

/// Refuses authentication `a` for `reason`: counted, and charged to the throttle unless the code was right
/// (a code awaiting approval).
fn refuse(gw: &Gateway, a: &AuthRequest, peer: IpAddr, now: At, reason: &'static str) -> LoginOutcome {
    let phone = a.header.phone;
    METRICS.auth_failures.with_label_values(&[reason]).inc();
    if reason != "awaiting_approval" {
        // One line per budget used up, not one per attempt: a flood of guesses does not flood the log.
        match gw.auth_throttle.record_failure(phone, peer, now.at) {
            Some(Throttled::Address) => {
                warn!(%peer, "authentication failures from this address used up its budget; refusing its attempts for the window")
            }
            Some(Throttled::PhoneAt) => {
                warn!(%phone, %peer, "authentication failures of this phone from this address used up its budget; refusing them for the window")
            }
            None => debug!(%phone, %peer, reason, "authentication failed"),
        }
    }
    LoginOutcome::Refused {
        header: a.header,
        reason,
    }
}

/// What an authentication decides against the registry's record of the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It used the current code: authenticated.
    Current,
    /// It used the pending code with `proof`: the pending code becomes the current one (the old one is
    /// dropped), then it is authenticated.
    Promote(Proof),
    /// Refused, for this reason (a metric label).
    Refused(&'static str),
}

/// What authentication `a` decides against the registry's record of the terminal.
///
/// The current code is checked against the IMEI on record when one is sent (the code proves the terminal).
/// A pending code must be proven: with an IMEI on record the terminal must send that IMEI; without one it
/// is used as its registration left it (awaiting approval: refused; approved, from the live address, or
/// unproven: promoted).
pub(crate) fn verdict(terminal: Option<&Terminal>, a: &AuthRequest) -> Verdict {
    let Some(t) = terminal else {
        return Verdict::Refused("unknown_terminal");
    };
    let sent_imei = a
        .imei
        .as_deref()
        .map(|i| String::from_utf8_lossy(i).trim().to_string());
    let imei_differs = matches!((&t.imei, &sent_imei), (Some(r), Some(s)) if r.trim() != s);
    let verdict = if t
        .auth_code_hash
        .as_deref()
        .is_some_and(|h| auth::verify_code(&a.code, h))
    {
        if imei_differs {
            Verdict::Refused("imei_mismatch")
        } else {
            Verdict::Current
        }
    } else if let Some(p) = t
        .pending
        .as_ref()
        .filter(|p| auth::verify_code(&a.code, &p.code_hash))
    {
        match (&t.imei, p.state) {
            (Some(_), _) if imei_differs || sent_imei.is_none() => Verdict::Refused("pending_imei_mismatch"),
            (Some(_), _) => Verdict::Promote(Proof::Imei),
            (None, PendingState::AwaitingApproval) => Verdict::Refused("awaiting_approval"),
            (None, PendingState::Approved) => Verdict::Promote(Proof::Approved),
            (None, PendingState::SameAddress) => Verdict::Promote(Proof::SameAddress),
            (None, PendingState::Unproven) => Verdict::Promote(Proof::Unproven),
        }
    } else if t.auth_code_hash.is_none() {
        Verdict::Refused("not_registered")
    } else {
        Verdict::Refused("wrong_code")
    };
    match verdict {
        Verdict::Current | Verdict::Promote(_) if t.vehicle.is_none() => Verdict::Refused("no_vehicle"),
        v => v,
    }
}

/// Trust on first use: a 2019 terminal's IMEI is recorded the first time it authenticates.
async fn save_first_imei(gw: &Gateway, a: &AuthRequest, terminal: &Terminal) {
    let phone = a.header.phone;
    if terminal.imei.is_none()
        && let (Some(imei), Some(hash)) = (&a.imei, terminal.auth_code_hash.as_deref())
        && let Some(imei) = Text(imei).as_str().map(str::trim).filter(|s| !s.is_empty())
        && let Err(e) = gw
            .store
            .save_registration(phone, a.header.edition(), hash, Some(imei))
            .await
    {
        warn!(%phone, error = %e, "recording the IMEI failed");
    }
}

fn register_result_label(result: u8) -> &'static str {
    match result {
        RegisterAck::RESULT_OK => "ok",
        RegisterAck::RESULT_VEHICLE_REGISTERED => "vehicle_already_registered",
        RegisterAck::RESULT_NO_VEHICLE => "no_such_vehicle",
        RegisterAck::RESULT_TERMINAL_REGISTERED => "terminal_already_registered",
        RegisterAck::RESULT_NO_TERMINAL => "no_such_terminal",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use tianshu_model::{PendingRegistration, Phone};

    use super::*;

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const THERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn terminal() -> Terminal {
        Terminal {
            phone: Phone(1),
            terminal_id: "T000001".into(),
            edition: None,
            auth_code_hash: None,
            imei: None,
            vehicle: Some(VehicleId(5)),
            clock_offset_secs: 0,
            clock_found: None,
            pending: None,
            reregistrations: 0,
            last_reregistered: None,
        }
    }

    fn request(plate: Option<&str>) -> RegisterRequest {
        RegisterRequest {
            header: Header::new(0x0100, Phone(1), 1, Edition::V2013),
            edition: Edition::V2013,
            terminal_id: " t000001 ".into(),
            plate: plate.map(str::to_string),
        }
    }

    #[test]
    fn registration_checks_the_terminal_and_its_vehicle() {
        let t = terminal();
        let reg = |r: &RegisterRequest, t: Option<&Terminal>| registration(r, t, None, HERE, true);
        assert_eq!(reg(&request(None), Some(&t)), Registration::First);
        let refused = |code| Registration::Refused(code);
        assert_eq!(
            reg(&request(None), None),
            refused(RegisterAck::RESULT_NO_TERMINAL)
        );
        let other_id = RegisterRequest {
            terminal_id: "T9".into(),
            ..request(None)
        };
        assert_eq!(reg(&other_id, Some(&t)), refused(RegisterAck::RESULT_NO_TERMINAL));
        let unbound = Terminal {
            vehicle: None,
            ..t.clone()
        };
        assert_eq!(
            reg(&request(None), Some(&unbound)),
            refused(RegisterAck::RESULT_NO_VEHICLE)
        );
    }

    #[test]
    fn registering_again_waits_beside_the_code_and_is_refused_only_where_nothing_could_prove_it() {
        let registered = Terminal {
            auth_code_hash: Some("sha256:x".into()),
            ..terminal()
        };
        let r = request(None);
        let again = |same_address| Registration::Again { same_address };
        let already = Registration::Refused(RegisterAck::RESULT_TERMINAL_REGISTERED);
        // Offline: a pending code, from anywhere.
        assert_eq!(
            registration(&r, Some(&registered), None, THERE, true),
            again(false)
        );
        // Online: from the live session's address (a terminal that registers on every connect), yes.
        assert_eq!(
            registration(&r, Some(&registered), Some(HERE), HERE, true),
            again(true)
        );
        // Online, from elsewhere, nothing on record to check the new code against: refused.
        assert_eq!(
            registration(&r, Some(&registered), Some(HERE), THERE, true),
            already
        );
        // ... unless an IMEI on record will check who uses it.
        let with_imei = Terminal {
            imei: Some("860000000000001".into()),
            ..registered.clone()
        };
        assert_eq!(
            registration(&r, Some(&with_imei), Some(HERE), THERE, true),
            again(false)
        );
        // Re-registration switched off: an administrator resets the code.
        assert_eq!(registration(&r, Some(&registered), None, THERE, false), already);
    }

    #[test]
    fn a_wrong_plate_does_not_refuse_a_terminal_bound_by_phone_and_id_but_is_flagged() {
        let t = terminal();
        // A firmware that truncates the plate: it names no vehicle, or another one.
        for plate_owner in [Some(None), Some(Some(VehicleId(6)))] {
            assert_eq!(
                registration(&request(Some("鄂B1")), Some(&t), None, HERE, true),
                Registration::First
            );
            assert!(plate_mismatch(&t, plate_owner), "{plate_owner:?} is flagged");
        }
        assert!(!plate_mismatch(&t, Some(Some(VehicleId(5)))), "its own plate");
        assert!(!plate_mismatch(&t, None), "no plate sent");
    }

    fn auth(code: &str, imei: Option<&str>) -> AuthRequest {
        AuthRequest {
            header: Header::new(0x0102, Phone(1), 2, Edition::V2019),
            code: code.as_bytes().to_vec(),
            imei: imei.map(|i| i.as_bytes().to_vec()),
        }
    }

    #[test]
    fn authentication_checks_the_code_the_imei_and_the_vehicle() {
        let issued = auth::issue_code();
        let t = Terminal {
            auth_code_hash: Some(issued.hash.clone()),
            imei: Some("860000000000001".into()),
            ..terminal()
        };
        let a = |imei| auth(&issued.code, imei);
        assert_eq!(verdict(Some(&t), &a(None)), Verdict::Current);
        assert_eq!(verdict(Some(&t), &a(Some("860000000000001 "))), Verdict::Current);
        assert_eq!(
            verdict(Some(&t), &a(Some("860000000000002"))),
            Verdict::Refused("imei_mismatch")
        );
        assert_eq!(
            verdict(Some(&t), &auth("nope", None)),
            Verdict::Refused("wrong_code")
        );
        assert_eq!(verdict(None, &a(None)), Verdict::Refused("unknown_terminal"));
        assert_eq!(
            verdict(Some(&terminal()), &a(None)),
            Verdict::Refused("not_registered")
        );
        let unbound = Terminal { vehicle: None, ..t };
        assert_eq!(verdict(Some(&unbound), &a(None)), Verdict::Refused("no_vehicle"));
    }

    #[test]
    fn a_pending_code_is_promoted_only_with_its_proof() {
        let (old, new) = (auth::issue_code(), auth::issue_code());
        let pending = |state| PendingRegistration {
            code_hash: new.hash.clone(),
            edition: Edition::V2019,
            since: Timestamp(1),
            address: THERE.to_string(),
            state,
        };
        let with = |imei: Option<&str>, state| Terminal {
            auth_code_hash: Some(old.hash.clone()),
            imei: imei.map(str::to_string),
            pending: Some(pending(state)),
            ..terminal()
        };
        let used = |imei| auth(&new.code, imei);
        // An IMEI on record: only that IMEI promotes, whatever the state.
        let recorded = with(Some("860000000000001"), PendingState::Unproven);
        assert_eq!(
            verdict(Some(&recorded), &used(Some("860000000000001"))),
            Verdict::Promote(Proof::Imei)
        );
        for imei in [Some("860000000000009"), None] {
            assert_eq!(
                verdict(Some(&recorded), &used(imei)),
                Verdict::Refused("pending_imei_mismatch"),
                "{imei:?}"
            );
        }
        // None on record: as the registration left it.
        use PendingState::*;
        let cases = [
            (AwaitingApproval, Verdict::Refused("awaiting_approval")),
            (Approved, Verdict::Promote(Proof::Approved)),
            (SameAddress, Verdict::Promote(Proof::SameAddress)),
            (Unproven, Verdict::Promote(Proof::Unproven)),
        ];
        for (state, want) in cases {
            assert_eq!(verdict(Some(&with(None, state)), &used(None)), want, "{state:?}");
        }
        // The old code still works meanwhile.
        let waiting = with(None, AwaitingApproval);
        assert_eq!(verdict(Some(&waiting), &auth(&old.code, None)), Verdict::Current);
    }
}

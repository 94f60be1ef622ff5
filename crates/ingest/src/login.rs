//! Registration (0x0100) and authentication (0x0102): the registry lookups, and what they decide.
//!
//! The session's state machine turns a login frame into a [`LoginRequest`] (owned, so it outlives the frame)
//! and applies the [`LoginOutcome`] that [`perform`] returns; the registry reads and writes and the
//! authentication throttle are used here, between the two. What the lookups decide is written as pure
//! functions of what was looked up ([`registration_result`], [`auth_failure`]).
//!
//! Invariants:
//! - Only a provisioned terminal bound to a vehicle registers, with the terminal id it was provisioned with;
//!   the plate it sends does not decide (firmwares truncate plates): a mismatch is logged and counted.
//! - Only the hash of an issued code is stored; a code is checked against it.
//! - A phone over its failure budget from an address, or an address over its own, is refused without
//!   comparing the code, so codes cannot be guessed; failures elsewhere never lock a terminal out.
//! - When the registry cannot be read or written, the frame is left unanswered: the terminal asks again.

use std::net::IpAddr;
use std::time::Instant;

use tianshu_jt808::{Authenticate, Header, Register, RegisterAck, Text};
use tianshu_model::{Edition, Terminal, VehicleId};

use crate::clock::TerminalClock;
use tracing::{debug, info, warn};

use crate::auth;
use crate::gateway::Gateway;
use crate::limits::Throttled;
use crate::metrics::METRICS;
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

/// Looks up and decides `request` of a connection from `peer`; `now` is for the throttle's window.
pub(crate) async fn perform(gw: &Gateway, request: LoginRequest, peer: IpAddr, now: Instant) -> LoginOutcome {
    match request {
        LoginRequest::Register(r) => register(gw, r).await,
        LoginRequest::Authenticate(a) => authenticate(gw, a, peer, now).await,
    }
}

async fn register(gw: &Gateway, r: RegisterRequest) -> LoginOutcome {
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
    let online = gw.online.is_online(phone);
    let result = registration_result(&r, terminal.as_ref(), online, gw.config.reregister_when_offline);
    if result == RegisterAck::RESULT_OK
        && let Some(terminal) = &terminal
        && plate_mismatch(terminal, plate_owner)
    {
        // The terminal is who its phone and terminal id say; firmwares truncate or mistype plates, so the
        // plate is flagged for an administrator, not a reason to refuse the car forever.
        METRICS.registration_plate_mismatches.inc();
        warn!(%phone, plate = r.plate.as_deref().unwrap_or(""), "registration accepted although its plate names no vehicle or another one than the terminal is bound to");
    }
    let mut code = None;
    if result == RegisterAck::RESULT_OK {
        let issued = auth::issue_code();
        if let Err(e) = gw
            .store
            .save_registration(phone, r.edition, &issued.hash, None)
            .await
        {
            warn!(%phone, error = %e, "saving the registration failed; left unanswered");
            return LoginOutcome::Unanswered;
        }
        info!(%phone, edition = r.edition.as_str(), "terminal registered");
        code = Some(issued.code);
    } else {
        info!(%phone, result, "registration refused");
    }
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

/// The 0x8100 result of registration `r`, given the registry's record of the terminal and whether the
/// terminal is online here now. The terminal is identified by its phone and terminal id; the plate it sends
/// does not decide (see [`plate_mismatch`]).
pub(crate) fn registration_result(
    r: &RegisterRequest,
    terminal: Option<&Terminal>,
    online: bool,
    reregister_when_offline: bool,
) -> u8 {
    let Some(terminal) = terminal else {
        return RegisterAck::RESULT_NO_TERMINAL;
    };
    if !r
        .terminal_id
        .trim()
        .eq_ignore_ascii_case(terminal.terminal_id.trim())
    {
        return RegisterAck::RESULT_NO_TERMINAL;
    }
    if terminal.vehicle.is_none() {
        return RegisterAck::RESULT_NO_VEHICLE;
    }
    if terminal.auth_code_hash.is_some() && (!reregister_when_offline || online) {
        return RegisterAck::RESULT_TERMINAL_REGISTERED;
    }
    RegisterAck::RESULT_OK
}

async fn authenticate(gw: &Gateway, a: AuthRequest, peer: IpAddr, now: Instant) -> LoginOutcome {
    let (header, phone) = (a.header, a.header.phone);
    if let Err(over) = gw.auth_throttle.check(phone, peer, now) {
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
    let failure = auth_failure(terminal.as_ref(), &a);
    let (Some(terminal), None) = (&terminal, failure) else {
        let reason = failure.unwrap_or("unknown_terminal");
        METRICS.auth_failures.with_label_values(&[reason]).inc();
        // One line per budget used up, not one per attempt: a flood of guesses does not flood the log.
        match gw.auth_throttle.record_failure(phone, peer, now) {
            Some(Throttled::Address) => {
                warn!(%peer, "authentication failures from this address used up its budget; refusing its attempts for the window")
            }
            Some(Throttled::PhoneAt) => {
                warn!(%phone, %peer, "authentication failures of this phone from this address used up its budget; refusing them for the window")
            }
            None => debug!(%phone, %peer, reason, "authentication failed"),
        }
        return LoginOutcome::Refused { header, reason };
    };
    let Some(vehicle) = terminal.vehicle else {
        return LoginOutcome::Refused {
            header,
            reason: "no_vehicle",
        };
    };
    save_first_imei(gw, &a, terminal).await;
    gw.auth_throttle.record_success(phone, peer);
    LoginOutcome::Authenticated {
        header,
        vehicle,
        clock: Box::new(TerminalClock::of(terminal)),
    }
}

/// Why authentication `a` fails against the registry's record of the terminal, or `None` when it passes.
pub(crate) fn auth_failure(terminal: Option<&Terminal>, a: &AuthRequest) -> Option<&'static str> {
    let Some(t) = terminal else {
        return Some("unknown_terminal");
    };
    let Some(hash) = &t.auth_code_hash else {
        return Some("not_registered");
    };
    if !auth::verify_code(&a.code, hash) {
        return Some("wrong_code");
    }
    if let (Some(recorded), Some(sent)) = (&t.imei, &a.imei)
        && recorded.trim() != String::from_utf8_lossy(sent).trim()
    {
        return Some("imei_mismatch");
    }
    t.vehicle.is_none().then_some("no_vehicle")
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
    use tianshu_model::Phone;

    use super::*;

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
        let ok = RegisterAck::RESULT_OK;
        assert_eq!(registration_result(&request(None), Some(&t), false, true), ok);
        assert_eq!(
            registration_result(&request(None), None, false, true),
            RegisterAck::RESULT_NO_TERMINAL
        );
        let other_id = RegisterRequest {
            terminal_id: "T9".into(),
            ..request(None)
        };
        assert_eq!(
            registration_result(&other_id, Some(&t), false, true),
            RegisterAck::RESULT_NO_TERMINAL
        );
        let unbound = Terminal {
            vehicle: None,
            ..t.clone()
        };
        assert_eq!(
            registration_result(&request(None), Some(&unbound), false, true),
            RegisterAck::RESULT_NO_VEHICLE
        );
        let registered = Terminal {
            auth_code_hash: Some("sha256:x".into()),
            ..t.clone()
        };
        assert_eq!(
            registration_result(&request(None), Some(&registered), false, true),
            ok
        );
        assert_eq!(
            registration_result(&request(None), Some(&registered), true, true),
            RegisterAck::RESULT_TERMINAL_REGISTERED
        );
        assert_eq!(
            registration_result(&request(None), Some(&registered), false, false),
            RegisterAck::RESULT_TERMINAL_REGISTERED
        );
    }

    #[test]
    fn a_wrong_plate_does_not_refuse_a_terminal_bound_by_phone_and_id_but_is_flagged() {
        let t = terminal();
        // A firmware that truncates the plate: it names no vehicle, or another one.
        for plate_owner in [Some(None), Some(Some(VehicleId(6)))] {
            assert_eq!(
                registration_result(&request(Some("鄂B1")), Some(&t), false, true),
                RegisterAck::RESULT_OK
            );
            assert!(plate_mismatch(&t, plate_owner), "{plate_owner:?} is flagged");
        }
        assert!(!plate_mismatch(&t, Some(Some(VehicleId(5)))), "its own plate");
        assert!(!plate_mismatch(&t, None), "no plate sent");
    }

    #[test]
    fn authentication_checks_the_code_the_imei_and_the_vehicle() {
        let issued = auth::issue_code();
        let t = Terminal {
            auth_code_hash: Some(issued.hash.clone()),
            imei: Some("860000000000001".into()),
            ..terminal()
        };
        let a = |code: &str, imei: Option<&str>| AuthRequest {
            header: Header::new(0x0102, Phone(1), 2, Edition::V2019),
            code: code.as_bytes().to_vec(),
            imei: imei.map(|i| i.as_bytes().to_vec()),
        };
        assert_eq!(auth_failure(Some(&t), &a(&issued.code, None)), None);
        assert_eq!(
            auth_failure(Some(&t), &a(&issued.code, Some("860000000000001 "))),
            None
        );
        assert_eq!(
            auth_failure(Some(&t), &a(&issued.code, Some("860000000000002"))),
            Some("imei_mismatch")
        );
        assert_eq!(auth_failure(Some(&t), &a("nope", None)), Some("wrong_code"));
        assert_eq!(
            auth_failure(None, &a(&issued.code, None)),
            Some("unknown_terminal")
        );
        assert_eq!(
            auth_failure(Some(&terminal()), &a(&issued.code, None)),
            Some("not_registered")
        );
        let unbound = Terminal { vehicle: None, ..t };
        assert_eq!(
            auth_failure(Some(&unbound), &a(&issued.code, None)),
            Some("no_vehicle")
        );
    }
}

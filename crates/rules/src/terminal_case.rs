//! Cases about what a terminal does at the gateway rather than about a track: a terminal registering
//! again ([`TERMINAL_REREGISTERED`]). The gateway raises them; they are alert cases like the rules' ones,
//! routed to the supervisors of the car's unit.
//!
//! One case per car stays open for its re-registrations: a later event updates it (the gateway passes the
//! open case's start) instead of opening another, so a car whose terminal keeps registering again from
//! unknown addresses raises one case, not one per connection. The texts name the car and the address,
//! never the terminal's phone or id (the supervisors who read them may not see those).

use tianshu_model::case::NewCase;
use tianshu_model::{Timestamp, Vehicle};

use crate::text::local_text;
use crate::{RuleId, Severity};

/// The rule id of a re-registration case.
pub const TERMINAL_REREGISTERED: &str = "terminal_reregistered";

/// What about a re-registration raises a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReregistrationEvent {
    /// A terminal used the new code without proof that it is the registered one: the car's previous
    /// code no longer works.
    UsedUnproven,
    /// A terminal used the new code with an IMEI other than the recorded one (or none): refused.
    ImeiMismatch,
    /// The car's unit requires approval: the new code waits for an administrator.
    AwaitingApproval,
}

impl ReregistrationEvent {
    /// The id kept in the case's episode.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReregistrationEvent::UsedUnproven => "used_unproven",
            ReregistrationEvent::ImeiMismatch => "imei_mismatch",
            ReregistrationEvent::AwaitingApproval => "awaiting_approval",
        }
    }

    fn severity(self) -> Severity {
        match self {
            ReregistrationEvent::AwaitingApproval => Severity::Medium,
            _ => Severity::High,
        }
    }

    fn texts(self, plate: &str, address: &str) -> (String, String) {
        match self {
            ReregistrationEvent::UsedUnproven => (
                format!(
                    "The terminal of {plate} registered again from {address} and its new code was used without \
                     proof that it is the same terminal (no IMEI on record, not from the address of its live \
                     session); the previous code no longer works. If the car's own terminal did not do this, \
                     its identity was taken over."
                ),
                format!(
                    "车辆{plate}的终端从{address}重新注册，新鉴权码在无法证明为同一终端的情况下被使用（无登记的IMEI，\
                     且不是原在线连接的地址），原鉴权码已失效。如非本车终端所为，则车辆身份已被冒用。"
                ),
            ),
            ReregistrationEvent::ImeiMismatch => (
                format!(
                    "A terminal registered again for {plate} from {address}, then used the new code with an IMEI \
                     other than the recorded one (or none): refused. The previous code still works."
                ),
                format!(
                    "有终端从{address}以车辆{plate}的身份重新注册，使用新鉴权码时上报的IMEI与登记不符（或未上报），\
                     已拒绝；原鉴权码仍然有效。"
                ),
            ),
            ReregistrationEvent::AwaitingApproval => (
                format!(
                    "The terminal of {plate} registered again from {address}; its unit requires approval, so \
                     the new code does not authenticate until an administrator approves it. The previous code \
                     still works."
                ),
                format!(
                    "车辆{plate}的终端从{address}重新注册；所属单位要求审批，新鉴权码在管理员批准前不能鉴权，\
                     原鉴权码仍然有效。"
                ),
            ),
        }
    }
}

/// The case of `event` for `vehicle`, whose terminal registered again `count` times so far, last from
/// `address`; `start` is the open case's start when one is open (it is then updated), else `now`.
pub fn reregistration_case(
    vehicle: &Vehicle,
    event: ReregistrationEvent,
    count: u32,
    address: &str,
    start: Timestamp,
    now: Timestamp,
) -> NewCase {
    let (en, zh) = event.texts(&vehicle.plate, address);
    let when = local_text(now);
    NewCase {
        vehicle: vehicle.id,
        unit: vehicle.unit,
        rule: TERMINAL_REREGISTERED.to_string(),
        start,
        end: Some(now),
        severity: event.severity().as_str().to_string(),
        late: false,
        reasoning: format!("{en} Registered again {count} times so far; this at {when} (Beijing time)."),
        reasoning_zh: format!("{zh}累计重新注册{count}次；本次为北京时间{when}。"),
        episode: serde_json::json!({
            "event": event.as_str(),
            "address": address,
            "reregistrations": count,
            "at": now,
        }),
        escalate_at: None,
    }
}

/// The English and Chinese titles of a case's rule id: the rules' and the gateway's kinds.
pub fn case_titles(rule: &str) -> Option<(&'static str, &'static str)> {
    if rule == TERMINAL_REREGISTERED {
        return Some(("Terminal registered again", "终端重新注册"));
    }
    RuleId::parse(rule).map(|r| (r.title_en(), r.title_zh()))
}

#[cfg(test)]
mod tests {
    use tianshu_model::{UnitId, VehicleClass, VehicleId};

    use super::*;

    #[test]
    fn a_case_names_the_car_and_address_and_is_routed_to_its_unit() {
        let v = Vehicle {
            id: VehicleId(3),
            plate: "鄂B00001".into(),
            unit: UnitId(9),
            class: VehicleClass::General,
            marking: None,
        };
        let start = Timestamp::from_secs(1_800_000_000);
        let now = start.add_millis(60_000);
        let c = reregistration_case(&v, ReregistrationEvent::ImeiMismatch, 2, "10.1.2.3", start, now);
        assert_eq!(
            (c.vehicle, c.unit, c.rule.as_str()),
            (v.id, v.unit, TERMINAL_REREGISTERED)
        );
        assert_eq!((c.start, c.end), (start, Some(now)));
        assert_eq!(c.severity, "high");
        assert!(c.reasoning.contains("鄂B00001") && c.reasoning.contains("10.1.2.3"));
        assert!(c.reasoning_zh.contains("累计重新注册2次"));
        assert_eq!(c.episode["event"], "imei_mismatch");
        assert_eq!(
            case_titles(TERMINAL_REREGISTERED).map(|t| t.1),
            Some("终端重新注册")
        );
        assert_eq!(case_titles("tamper").map(|t| t.0), Some("Terminal tampering"));
        assert_eq!(case_titles("nope"), None);
    }
}

//! The registry: units, vehicles, terminals.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{Phone, Timestamp, UnitId, VehicleId};

/// The JT/T 808 edition a terminal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Edition {
    /// JT/T 808-2011.
    #[serde(rename = "2011")]
    V2011,
    /// JT/T 808-2013 (the most common in the field).
    #[default]
    #[serde(rename = "2013")]
    V2013,
    /// JT/T 808-2019.
    #[serde(rename = "2019")]
    V2019,
}

impl Edition {
    /// "2011", "2013" or "2019".
    pub const fn as_str(self) -> &'static str {
        match self {
            Edition::V2011 => "2011",
            Edition::V2013 => "2013",
            Edition::V2019 => "2019",
        }
    }

    /// Parses "2011", "2013" or "2019".
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "2011" => Some(Edition::V2011),
            "2013" => Some(Edition::V2013),
            "2019" => Some(Edition::V2019),
            _ => None,
        }
    }
}

/// Official-car classes (《党政机关公务用车管理办法》); exemptions from rules hang off these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleClass {
    /// Ordinary official car.
    #[default]
    General,
    /// 机要通信: confidential courier.
    Confidential,
    /// 应急保障: emergency support.
    Emergency,
    /// 执法执勤: law enforcement and duty.
    LawEnforcement,
    /// 特种专业技术: special technical.
    Special,
}

/// Why a text is not a vehicle class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown vehicle class {0:?}; expected general, confidential, emergency, law_enforcement or special")]
pub struct ParseVehicleClassError(pub String);

impl VehicleClass {
    /// Every class.
    pub const ALL: [VehicleClass; 5] = [
        VehicleClass::General,
        VehicleClass::Confidential,
        VehicleClass::Emergency,
        VehicleClass::LawEnforcement,
        VehicleClass::Special,
    ];

    /// The snake_case id used in files, config and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            VehicleClass::General => "general",
            VehicleClass::Confidential => "confidential",
            VehicleClass::Emergency => "emergency",
            VehicleClass::LawEnforcement => "law_enforcement",
            VehicleClass::Special => "special",
        }
    }

    /// The Chinese name.
    pub const fn name_zh(self) -> &'static str {
        match self {
            VehicleClass::General => "一般公务用车",
            VehicleClass::Confidential => "机要通信",
            VehicleClass::Emergency => "应急保障",
            VehicleClass::LawEnforcement => "执法执勤",
            VehicleClass::Special => "特种专业技术",
        }
    }
}

impl std::str::FromStr for VehicleClass {
    type Err = ParseVehicleClassError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VehicleClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| ParseVehicleClassError(s.to_string()))
    }
}

/// A unit and every unit below it (whose cars a unit's supervisor sees, a lower platform reports).
pub fn subtree(units: &[Unit], root: UnitId) -> HashSet<UnitId> {
    let mut children: HashMap<UnitId, Vec<UnitId>> = HashMap::new();
    for u in units {
        if let Some(p) = u.parent {
            children.entry(p).or_default().push(u.id);
        }
    }
    let mut out = HashSet::new();
    let mut stack = vec![root];
    while let Some(u) = stack.pop() {
        // The registry is a tree, but never loop on a corrupt one.
        if out.insert(u) {
            stack.extend(children.get(&u).into_iter().flatten().copied());
        }
    }
    out
}

/// A unit (organisation); units form a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Registry id.
    pub id: UnitId,
    /// Name, UTF-8 (usually Chinese).
    pub name: String,
    /// Parent unit, `None` for a root.
    pub parent: Option<UnitId>,
    /// Whether a re-registration of a terminal of this unit's cars (or of its sub-units' cars) that the
    /// terminal cannot prove waits for an administrator's approval ([`PendingState::AwaitingApproval`]).
    #[serde(default)]
    pub reregistration_approval: bool,
}

impl Unit {
    /// A unit as it is created: its re-registrations wait for nobody until an administrator says
    /// otherwise.
    pub fn new(id: UnitId, name: impl Into<String>, parent: Option<UnitId>) -> Unit {
        Unit {
            id,
            name: name.into(),
            parent,
            reregistration_approval: false,
        }
    }
}

/// A vehicle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vehicle {
    /// Registry id.
    pub id: VehicleId,
    /// Licence plate, UTF-8 (e.g. 鄂B12345).
    pub plate: String,
    /// The unit the car belongs to.
    pub unit: UnitId,
    /// Class, for rule exemptions.
    pub class: VehicleClass,
    /// The marking number (标识号) painted on the car, which the public often names instead of the
    /// plate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marking: Option<String>,
}

/// A terminal as provisioned and, after registration, as it identified itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terminal {
    /// Phone number in the JT/T 808 header.
    pub phone: Phone,
    /// Terminal id from 0x0100 (7 characters in 2011/2013, up to 30 in 2019).
    pub terminal_id: String,
    /// Edition last seen.
    pub edition: Option<Edition>,
    /// Hash of the auth code issued at registration (never the code itself).
    pub auth_code_hash: Option<String>,
    /// IMEI reported by a 2019 terminal, checked on authentication when recorded.
    pub imei: Option<String>,
    /// The vehicle it is bound to.
    pub vehicle: Option<VehicleId>,
    /// Seconds added to its fix times before they are checked and stored (see [`crate::clock`]): set by an
    /// administrator for a clock that runs a steady whole or half number of hours off; 0 for none.
    #[serde(default)]
    pub clock_offset_secs: i32,
    /// The steady clock offset last found in its live fixes (before any correction), and when.
    #[serde(default)]
    pub clock_found: Option<(i32, crate::Timestamp)>,
    /// The code of a re-registration, waiting beside the current one until it is used.
    #[serde(default)]
    pub pending: Option<PendingRegistration>,
    /// How many times it registered again while holding a code.
    #[serde(default)]
    pub reregistrations: u32,
    /// When it last did.
    #[serde(default)]
    pub last_reregistered: Option<Timestamp>,
}

/// A code issued to a terminal that already held one (it registered again). It is kept beside the current
/// code, which stays valid, until a terminal authenticates with it and proves to be the same terminal;
/// only then does it replace the current code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRegistration {
    /// Hash of the new code (never the code).
    pub code_hash: String,
    /// The edition the registration came in, recorded once the code is used.
    pub edition: Edition,
    /// When it registered.
    pub since: Timestamp,
    /// The address it registered from.
    pub address: String,
    /// What the code still needs before it is used.
    pub state: PendingState,
}

/// What a re-registration's code needs before it replaces the current code. A terminal with an IMEI on
/// record must also send that IMEI when it uses the code, whatever the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingState {
    /// Nothing showed it is the same terminal (no IMEI on record, not from the address of its session
    /// online at the time): its use is allowed, counted and raises an alert case.
    Unproven,
    /// It came from the address of the terminal's session online at the time (a terminal that registers
    /// on every connect while its stale session lingers).
    SameAddress,
    /// Its unit requires approval and nothing proves it: the code does not authenticate until an
    /// administrator approves it.
    AwaitingApproval,
    /// An administrator approved it.
    Approved,
}

impl PendingState {
    /// The state of a re-registration: `imei_recorded` (its use will be checked against the IMEI),
    /// `same_address` (from the address of the session online now), `approval_required` (its unit's).
    pub const fn at_registration(imei_recorded: bool, same_address: bool, approval_required: bool) -> Self {
        if same_address {
            PendingState::SameAddress
        } else if approval_required && !imei_recorded {
            PendingState::AwaitingApproval
        } else {
            PendingState::Unproven
        }
    }

    /// The id used in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            PendingState::Unproven => "unproven",
            PendingState::SameAddress => "same_address",
            PendingState::AwaitingApproval => "awaiting_approval",
            PendingState::Approved => "approved",
        }
    }
}

/// A re-registration to record: the new code's hash and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reregistration {
    /// Hash of the new code.
    pub code_hash: String,
    /// The edition it registered in.
    pub edition: Edition,
    /// The address it registered from.
    pub address: String,
    /// Whether that is the address of the terminal's session online now.
    pub same_address: bool,
}

/// A recorded re-registration: its pending code's state and how often the terminal registered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reregistered {
    /// The pending code's state ([`PendingState::at_registration`]).
    pub state: PendingState,
    /// How many times the terminal registered again, this one included.
    pub reregistrations: u32,
}

impl PendingRegistration {
    /// What an administrator's decision leaves: approving lets a code awaiting approval authenticate,
    /// rejecting drops any pending code. `Err` says why the decision does not apply.
    pub fn decide(pending: Option<&Self>, approve: bool) -> Result<Option<Self>, String> {
        match pending {
            None => Err("the terminal has no re-registration pending".into()),
            Some(p) if approve && p.state != PendingState::AwaitingApproval => Err(format!(
                "the pending re-registration is {}, not awaiting approval",
                p.state.as_str()
            )),
            Some(p) if approve => Ok(Some(PendingRegistration {
                state: PendingState::Approved,
                ..p.clone()
            })),
            Some(_) => Ok(None),
        }
    }
}

/// A terminal's attributes (its 0x0107), kept after the frame is gone, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attributes {
    /// Terminal type bits (bit 0 passenger, 1 dangerous goods, 2 freight, 3 taxi, 6 video, 7 all-in-one).
    pub terminal_type: u16,
    /// Maker id.
    pub maker_id: String,
    /// Model.
    pub model: String,
    /// Terminal id.
    pub terminal_id: String,
    /// SIM ICCID, 20 digits.
    pub iccid: String,
    /// Hardware version.
    pub hardware_version: String,
    /// Firmware version.
    pub firmware_version: String,
    /// GNSS module bits (0 GPS, 1 BeiDou, 2 GLONASS, 3 Galileo).
    pub gnss: u8,
    /// Communication module bits (0 GPRS, 1 CDMA, 2 TD-SCDMA, 3 WCDMA, 4 CDMA2000, 5 TD-LTE, 7 other).
    pub network: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reregistration_from_the_live_address_is_proven_else_it_waits_only_where_required() {
        use PendingState::*;
        assert_eq!(PendingState::at_registration(false, true, true), SameAddress);
        assert_eq!(
            PendingState::at_registration(false, false, true),
            AwaitingApproval
        );
        assert_eq!(PendingState::at_registration(false, false, false), Unproven);
        // An IMEI on record is checked when the code is used: no approval needed.
        assert_eq!(PendingState::at_registration(true, false, true), Unproven);
    }

    #[test]
    fn only_a_code_awaiting_approval_is_approved_and_any_is_rejected() {
        let p = PendingRegistration {
            code_hash: "sha256:x".into(),
            edition: Edition::V2013,
            since: Timestamp(1),
            address: "10.0.0.1".into(),
            state: PendingState::AwaitingApproval,
        };
        let approved = PendingRegistration::decide(Some(&p), true).unwrap_or_default();
        assert_eq!(approved.map(|a| a.state), Some(PendingState::Approved));
        assert_eq!(PendingRegistration::decide(Some(&p), false), Ok(None));
        let unproven = PendingRegistration {
            state: PendingState::Unproven,
            ..p
        };
        assert!(PendingRegistration::decide(Some(&unproven), true).is_err());
        assert!(PendingRegistration::decide(None, false).is_err());
    }
}

//! The registry: units, vehicles, terminals.

use serde::{Deserialize, Serialize};

use crate::{Phone, UnitId, VehicleId};

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

/// A unit (organisation); units form a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Registry id.
    pub id: UnitId,
    /// Name, UTF-8 (usually Chinese).
    pub name: String,
    /// Parent unit, `None` for a root.
    pub parent: Option<UnitId>,
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
}

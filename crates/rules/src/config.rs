//! The rules' configuration: the `[rules]` table of the configuration file.
//!
//! Every field has a default that makes the rules useful before anyone configures them; every rule has
//! its own table (`[rules.off_route]`, ...) with `enabled`, `severity` and its de-bounce settings:
//! - `min_duration_secs` and `min_fixes`: the condition must hold that long, over that many consecutive
//!   fixes, before an episode opens (GPS jitter and a road grazing a fence never last);
//! - `max_gap_secs`, the stale-message guard: two fixes farther apart than this are not one continuous
//!   observation (a pending condition restarts; an open episode ends at its last fix);
//! - `clear_secs`, hysteresis in time: an open episode ends only once the condition has been false this
//!   long. Geometric rules add hysteresis in space (`hysteresis_m`, `margin_m`, `inner_margin_m`).

use serde::{Deserialize, Serialize};
use tianshu_model::{AlarmBit, VehicleClass};

use crate::timetable::Timetable;
use crate::{RuleId, Severity};

/// De-bounce settings, as the engine uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    /// See the module documentation.
    pub min_duration_secs: u32,
    /// See the module documentation.
    pub min_fixes: u32,
    /// See the module documentation.
    pub max_gap_secs: u32,
    /// See the module documentation.
    pub clear_secs: u32,
}

macro_rules! rule_config {
    (
        $(#[$meta:meta])*
        $name:ident = ($enabled:expr, $severity:expr, $dur:expr, $fixes:expr, $gap:expr, $clear:expr)
        { $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Whether the rule runs.
            pub enabled: bool,
            /// Severity of its episodes: `low`, `medium` or `high`.
            pub severity: Severity,
            /// The condition must hold at least this long before an episode opens. Seconds.
            pub min_duration_secs: u32,
            /// ... and over at least this many consecutive fixes.
            pub min_fixes: u32,
            /// Stale-message guard: fixes farther apart than this are not one continuous observation. Seconds.
            pub max_gap_secs: u32,
            /// Hysteresis in time: an open episode ends once the condition has been false this long. Seconds.
            pub clear_secs: u32,
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: $enabled,
                    severity: $severity,
                    min_duration_secs: $dur,
                    min_fixes: $fixes,
                    max_gap_secs: $gap,
                    clear_secs: $clear,
                    $( $field: $default, )*
                }
            }
        }

        impl $name {
            /// The de-bounce settings of this rule.
            pub fn debounce(&self) -> Debounce {
                Debounce {
                    min_duration_secs: self.min_duration_secs,
                    min_fixes: self.min_fixes,
                    max_gap_secs: self.max_gap_secs,
                    clear_secs: self.clear_secs,
                }
            }
        }
    };
}

rule_config! {
    /// `out_of_hours`: in use on a rest day or outside office hours with no approved order or filing.
    /// Public holidays belong to `holiday_seal` while that rule is enabled.
    /// Defaults: enabled, medium, 300 s, 3 fixes, gap 600 s, clear 300 s.
    OutOfHoursConfig = (true, Severity::Medium, 300, 3, 600, 300) {}
}

rule_config! {
    /// `no_order`: in use during office hours without an approved order, for units that require orders
    /// (`order_required_units`). Defaults: enabled, medium, 300 s, 3 fixes, gap 600 s, clear 300 s.
    NoOrderConfig = (true, Severity::Medium, 300, 3, 600, 300) {}
}

rule_config! {
    /// `off_route`: during an order with an approved route, farther from it than the corridor.
    /// Defaults: enabled, medium, 60 s, 3 fixes, gap 300 s, clear 60 s.
    OffRouteConfig = (true, Severity::Medium, 60, 3, 300, 60) {
        /// Corridor half-width when the order gives none. Metres. Default 300.
        corridor_m: f64 = 300.0,
        /// Points this close to the route's start, end or a destination are never off route. Metres. Default 500.
        endpoint_tolerance_m: f64 = 500.0,
        /// Once off route, the car is back only when this much inside the corridor. Metres. Default 50.
        hysteresis_m: f64 = 50.0,
    }
}

rule_config! {
    /// `region_exit`: outside every `region` geofence without an order that allows it.
    /// Defaults: enabled, medium, 120 s, 3 fixes, gap 600 s, clear 120 s.
    RegionExitConfig = (true, Severity::Medium, 120, 3, 600, 120) {
        /// An episode opens only for fixes at least this far outside the boundary. Metres. Default 200.
        margin_m: f64 = 200.0,
    }
}

rule_config! {
    /// `prohibited_place`: inside a `prohibited` geofence.
    /// Defaults: enabled, high, 300 s, 2 fixes, gap 900 s, clear 120 s.
    ProhibitedPlaceConfig = (true, Severity::High, 300, 2, 900, 120) {
        /// A fix counts towards opening an episode only this deep inside the fence, so a road that grazes
        /// it does not. Metres. Default 30.
        inner_margin_m: f64 = 30.0,
    }
}

rule_config! {
    /// `holiday_seal`: any use on a public holiday without an approved filing or order.
    /// Defaults: enabled, high, 120 s, 2 fixes, gap 600 s, clear 300 s.
    HolidaySealConfig = (true, Severity::High, 120, 2, 600, 300) {}
}

rule_config! {
    /// `tamper`: terminal alarm bits that signal tampering.
    /// Defaults: enabled, high, 0 s, 1 fix, gap 3600 s, clear 60 s.
    TamperConfig = (true, Severity::High, 0, 1, 3600, 60) {
        /// Alarm bits that count as tampering, by name (`power_lost`, `gnss_antenna_cut`,
        /// `gnss_antenna_short`, `gnss_fault`, `illegal_ignition`, `illegal_displacement`, ...).
        /// Default: those six.
        alarm_bits: Vec<String> = default_tamper_bits(),
    }
}

rule_config! {
    /// `overspeed`: above the vehicle's or the zone's limit.
    /// Defaults: enabled, medium, 30 s, 3 fixes, gap 60 s, clear 20 s.
    OverspeedConfig = (true, Severity::Medium, 30, 3, 60, 20) {
        /// Limit for cars outside any speed zone. km/h. Default 120 (the national expressway limit).
        default_limit_kmh: f64 = 120.0,
        /// An episode opens above limit + tolerance. km/h. Default 5.
        tolerance_kmh: f64 = 5.0,
        /// Once over, the car is back under only below limit - hysteresis. km/h. Default 5.
        hysteresis_kmh: f64 = 5.0,
    }
}

fn default_tamper_bits() -> Vec<String> {
    [
        AlarmBit::PowerLost,
        AlarmBit::GnssAntennaCut,
        AlarmBit::GnssAntennaShort,
        AlarmBit::GnssFault,
        AlarmBit::IllegalIgnition,
        AlarmBit::IllegalDisplacement,
    ]
    .iter()
    .map(|b| b.name().to_string())
    .collect()
}

/// `night_parking`: at the check times, and whenever the ignition goes off at night, the car is not in
/// its unit's depot. One episode per night at most; it ends when the car is back in the depot or the
/// night ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NightParkingConfig {
    /// Whether the rule runs. Default true.
    pub enabled: bool,
    /// Severity: `low`, `medium` or `high`. Default medium.
    pub severity: Severity,
    /// Night starts, local `HH:MM`. Default `20:00`.
    pub night_start: String,
    /// Night ends, local `HH:MM`. Default `06:00`.
    pub night_end: String,
    /// Times of the nightly check, local `HH:MM`, inside the night. Default `["22:00"]`.
    pub check_times: Vec<String>,
    /// A fix this close to a depot's boundary counts as in the depot (GPS jitter). Metres. Default 50.
    pub depot_tolerance_m: f64,
    /// The car is in its depot if any of its last this-many fixes is (GPS jitter). Default 3.
    pub recent_fixes: u32,
    /// Stale-message guard: a last fix older than this at the check time is not evidence. Seconds. Default 21600.
    pub max_position_age_secs: u32,
}

impl Default for NightParkingConfig {
    fn default() -> Self {
        NightParkingConfig {
            enabled: true,
            severity: Severity::Medium,
            night_start: "20:00".into(),
            night_end: "06:00".into(),
            check_times: vec!["22:00".into()],
            depot_tolerance_m: 50.0,
            recent_fixes: 3,
            max_position_age_secs: 21_600,
        }
    }
}

/// `silence`: no report for longer than `after_hours` while the car was last seen in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SilenceConfig {
    /// Whether the rule runs. Default true.
    pub enabled: bool,
    /// Severity: `low`, `medium` or `high`. Default medium.
    pub severity: Severity,
    /// Silence longer than this is an episode. Hours. Default 2.
    pub after_hours: f64,
}

impl Default for SilenceConfig {
    fn default() -> Self {
        SilenceConfig {
            enabled: true,
            severity: Severity::Medium,
            after_hours: 2.0,
        }
    }
}

/// Office hours of one unit (and its descendants that have none of their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTimetable {
    /// Unit path, `/`-separated from the root (`黄石市/市委办公室`).
    pub unit: String,
    /// Office hours, local `"HH:MM-HH:MM"`, end exclusive.
    pub periods: Vec<crate::timetable::Period>,
    /// Seasonal variants (summer/winter); default none.
    #[serde(default)]
    pub seasons: Vec<crate::timetable::Season>,
}

/// Rules a vehicle class is exempt from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exemptions {
    /// 一般公务用车. Default none.
    pub general: Vec<RuleId>,
    /// 机要通信. Default out_of_hours, no_order, holiday_seal, night_parking.
    pub confidential: Vec<RuleId>,
    /// 应急保障. Default out_of_hours, no_order, holiday_seal, night_parking, region_exit.
    pub emergency: Vec<RuleId>,
    /// 执法执勤. Default out_of_hours, no_order, holiday_seal, night_parking.
    pub law_enforcement: Vec<RuleId>,
    /// 特种专业技术. Default out_of_hours, holiday_seal.
    pub special: Vec<RuleId>,
}

impl Default for Exemptions {
    fn default() -> Self {
        use RuleId::*;
        Exemptions {
            general: vec![],
            confidential: vec![OutOfHours, NoOrder, HolidaySeal, NightParking],
            emergency: vec![OutOfHours, NoOrder, HolidaySeal, NightParking, RegionExit],
            law_enforcement: vec![OutOfHours, NoOrder, HolidaySeal, NightParking],
            special: vec![OutOfHours, HolidaySeal],
        }
    }
}

impl Exemptions {
    /// The rules `class` is exempt from.
    pub fn of(&self, class: VehicleClass) -> &[RuleId] {
        match class {
            VehicleClass::General => &self.general,
            VehicleClass::Confidential => &self.confidential,
            VehicleClass::Emergency => &self.emergency,
            VehicleClass::LawEnforcement => &self.law_enforcement,
            VehicleClass::Special => &self.special,
        }
    }
}

/// The `[rules]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// An ignition-on car at or above this speed is moving (in use). km/h. Default 5.
    pub moving_speed_kmh: f64,
    /// A car farther than this from where it last stood still is displaced (in use, even with the
    /// ignition off: towed or terminal tampered). Metres. Default 200.
    pub displacement_m: f64,
    /// A fix received this long after it was taken is late, and so are the episodes it opens. Seconds.
    /// Default 300.
    pub late_after_secs: u32,
    /// Position rules ignore fixes whose status word says "not fixed" (bit 1). Default true.
    pub require_valid_fix: bool,
    /// The city's office hours on working days. Default 08:30-12:00 and 14:00-17:30.
    pub timetable: Timetable,
    /// Per-unit office hours. Default none.
    pub unit_timetables: Vec<UnitTimetable>,
    /// Units (paths) whose cars need an approved order for any use in office hours; descendants
    /// included. Default none.
    pub order_required_units: Vec<String>,
    /// Per-class exemptions.
    pub exemptions: Exemptions,
    /// `out_of_hours`.
    pub out_of_hours: OutOfHoursConfig,
    /// `no_order`.
    pub no_order: NoOrderConfig,
    /// `off_route`.
    pub off_route: OffRouteConfig,
    /// `region_exit`.
    pub region_exit: RegionExitConfig,
    /// `prohibited_place`.
    pub prohibited_place: ProhibitedPlaceConfig,
    /// `night_parking`.
    pub night_parking: NightParkingConfig,
    /// `holiday_seal`.
    pub holiday_seal: HolidaySealConfig,
    /// `tamper`.
    pub tamper: TamperConfig,
    /// `silence`.
    pub silence: SilenceConfig,
    /// `overspeed`.
    pub overspeed: OverspeedConfig,
    /// The fuel-card checks (`[rules.fuel]`).
    pub fuel: crate::fuel::FuelConfig,
    /// The car pool's settlement (`[rules.carpool]`).
    pub carpool: crate::carpool_due::CarpoolConfig,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            moving_speed_kmh: 5.0,
            displacement_m: 200.0,
            late_after_secs: 300,
            require_valid_fix: true,
            timetable: Timetable::default(),
            unit_timetables: Vec::new(),
            order_required_units: Vec::new(),
            exemptions: Exemptions::default(),
            out_of_hours: OutOfHoursConfig::default(),
            no_order: NoOrderConfig::default(),
            off_route: OffRouteConfig::default(),
            region_exit: RegionExitConfig::default(),
            prohibited_place: ProhibitedPlaceConfig::default(),
            night_parking: NightParkingConfig::default(),
            holiday_seal: HolidaySealConfig::default(),
            tamper: TamperConfig::default(),
            silence: SilenceConfig::default(),
            overspeed: OverspeedConfig::default(),
            fuel: crate::fuel::FuelConfig::default(),
            carpool: crate::carpool_due::CarpoolConfig::default(),
        }
    }
}

impl RulesConfig {
    /// Whether a rule is enabled.
    pub fn enabled(&self, rule: RuleId) -> bool {
        match rule {
            RuleId::OutOfHours => self.out_of_hours.enabled,
            RuleId::NoOrder => self.no_order.enabled,
            RuleId::OffRoute => self.off_route.enabled,
            RuleId::RegionExit => self.region_exit.enabled,
            RuleId::ProhibitedPlace => self.prohibited_place.enabled,
            RuleId::NightParking => self.night_parking.enabled,
            RuleId::HolidaySeal => self.holiday_seal.enabled,
            RuleId::Tamper => self.tamper.enabled,
            RuleId::Silence => self.silence.enabled,
            RuleId::Overspeed => self.overspeed.enabled,
        }
    }

    /// The de-bounce settings of a rule that judges points one by one (`None` for the rules about
    /// absence, silence and night parking, which have none).
    pub fn debounce(&self, rule: RuleId) -> Option<Debounce> {
        Some(match rule {
            RuleId::OutOfHours => self.out_of_hours.debounce(),
            RuleId::NoOrder => self.no_order.debounce(),
            RuleId::OffRoute => self.off_route.debounce(),
            RuleId::RegionExit => self.region_exit.debounce(),
            RuleId::ProhibitedPlace => self.prohibited_place.debounce(),
            RuleId::HolidaySeal => self.holiday_seal.debounce(),
            RuleId::Tamper => self.tamper.debounce(),
            RuleId::Overspeed => self.overspeed.debounce(),
            RuleId::NightParking | RuleId::Silence => return None,
        })
    }

    /// The configured severity of a rule.
    pub fn severity(&self, rule: RuleId) -> Severity {
        match rule {
            RuleId::OutOfHours => self.out_of_hours.severity,
            RuleId::NoOrder => self.no_order.severity,
            RuleId::OffRoute => self.off_route.severity,
            RuleId::RegionExit => self.region_exit.severity,
            RuleId::ProhibitedPlace => self.prohibited_place.severity,
            RuleId::NightParking => self.night_parking.severity,
            RuleId::HolidaySeal => self.holiday_seal.severity,
            RuleId::Tamper => self.tamper.severity,
            RuleId::Silence => self.silence.severity,
            RuleId::Overspeed => self.overspeed.severity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_partial_tables() {
        let c: RulesConfig = toml::from_str(
            r#"
            moving_speed_kmh = 8
            [off_route]
            corridor_m = 500
            [exemptions]
            general = ["silence"]
            "#,
        )
        .unwrap();
        assert_eq!(c.moving_speed_kmh, 8.0);
        assert_eq!(c.off_route.corridor_m, 500.0);
        assert_eq!(
            c.off_route.min_fixes, 3,
            "unset fields keep the rule's own defaults"
        );
        assert_eq!(c.exemptions.general, [RuleId::Silence]);
        assert_eq!(c.exemptions.emergency, Exemptions::default().emergency);
        assert!(toml::from_str::<RulesConfig>("[off_route]\ncorridor = 5").is_err());
        assert!(toml::from_str::<RulesConfig>("[exemptions]\ngeneral = [\"speeding\"]").is_err());
        // The defaults serialise and read back unchanged: the config engineer can print them.
        let text = toml::to_string(&RulesConfig::default()).unwrap();
        assert_eq!(
            toml::from_str::<RulesConfig>(&text).unwrap(),
            RulesConfig::default()
        );
    }
}

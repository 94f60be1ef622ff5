//! Tianshu's rule engine: turns a vehicle's track into a short list of credible violations.
//!
//! The crate is pure: no I/O, no clock, no threads. Time comes from the points themselves (fix time) and,
//! for rules about absence (silence, the nightly check), from the `now` the caller passes to
//! [`VehicleRules::tick`]. Reference data (calendar, office hours, geofences, orders, configuration) is
//! compiled once into a [`Reference`] shared by every vehicle; per-vehicle state lives in
//! [`VehicleRules`], fed points in fix-time order.
//!
//! A violation is one [`Episode`] (start, end, evidence, reasoning in Chinese and English, severity), never
//! one alert per point: each rule de-bounces its condition (minimum duration and fixes, a stale-message
//! guard, hysteresis in time and space) so GPS jitter and a road grazing a fence raise nothing. Points
//! received late (a blind-area backfill) are evaluated in fix-time order and their episodes are marked
//! late; an order approved after the fact is handled by [`reevaluate`], which withdraws the episodes it
//! covers with a reason.
//!
//! The crate also holds the other decisions that need no I/O: which steps move an alert case or an
//! order from one state to another ([`workflow`]), the stops, trips and simplified line of a
//! track ([`track`]), and the cases the gateway raises about a terminal ([`terminal_case`]).
#![deny(missing_docs)]

pub mod calendar;
pub mod carpool;
pub mod carpool_due;
pub mod casework;
pub mod channels;
pub mod config;
mod debounce;
mod engine;
pub mod fences;
pub mod fuel;
pub mod geo;
pub mod orders;
mod reference;
mod rules;
mod snapshot;
pub mod summary;
pub mod terminal_case;
mod text;
pub mod timetable;
pub mod track;
mod verdict;
pub mod workflow;
pub mod yearly;

use serde::{Deserialize, Serialize};
use tianshu_model::{LonLat, Timestamp, VehicleId};

pub use calendar::{Calendar, DayKind, YearCalendar};
pub use config::RulesConfig;
pub use engine::VehicleRules;
pub use fences::{FenceKind, Geofence};
pub use orders::{Order, OrderKind, OrderState};
pub use reference::{CompiledOrder, Cover, FenceInfo, Reference, ReferenceError, unit_paths};
pub use snapshot::{SNAPSHOT_VERSION, SnapshotRefused, config_fingerprint};
pub use timetable::Timetable;
pub use verdict::{Verdict, reevaluate};
pub use workflow::{CaseAction, CaseState, TransitionError};

/// The line (from 1) that byte `offset` of `text` stands on: how the reference files (calendar, unit
/// timetables, geofences) and the configuration file name the place of a problem.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The rules, by the ids used in alerts, configuration and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// In use on a day off or outside office hours without an approved order or filing.
    OutOfHours,
    /// In use during office hours without an approved order (units that require orders).
    NoOrder,
    /// Away from the approved route of the current order.
    OffRoute,
    /// Outside the permitted region without an order that allows it.
    RegionExit,
    /// Inside a prohibited place.
    ProhibitedPlace,
    /// Not in the unit's depot at night.
    NightParking,
    /// Used on a public holiday without a filing.
    HolidaySeal,
    /// Terminal alarms that signal tampering.
    Tamper,
    /// No report for hours while last seen in use.
    Silence,
    /// Above the speed limit.
    Overspeed,
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 10] = [
        RuleId::OutOfHours,
        RuleId::NoOrder,
        RuleId::OffRoute,
        RuleId::RegionExit,
        RuleId::ProhibitedPlace,
        RuleId::NightParking,
        RuleId::HolidaySeal,
        RuleId::Tamper,
        RuleId::Silence,
        RuleId::Overspeed,
    ];

    /// The id.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleId::OutOfHours => "out_of_hours",
            RuleId::NoOrder => "no_order",
            RuleId::OffRoute => "off_route",
            RuleId::RegionExit => "region_exit",
            RuleId::ProhibitedPlace => "prohibited_place",
            RuleId::NightParking => "night_parking",
            RuleId::HolidaySeal => "holiday_seal",
            RuleId::Tamper => "tamper",
            RuleId::Silence => "silence",
            RuleId::Overspeed => "overspeed",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Self> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// A short English title.
    pub const fn title_en(self) -> &'static str {
        match self {
            RuleId::OutOfHours => "Use outside working hours",
            RuleId::NoOrder => "Use without a dispatch order",
            RuleId::OffRoute => "Off the approved route",
            RuleId::RegionExit => "Left the permitted region",
            RuleId::ProhibitedPlace => "At a prohibited place",
            RuleId::NightParking => "Not parked at the depot at night",
            RuleId::HolidaySeal => "Use on a public holiday",
            RuleId::Tamper => "Terminal tampering",
            RuleId::Silence => "Terminal silent",
            RuleId::Overspeed => "Overspeed",
        }
    }

    /// A short Chinese title.
    pub const fn title_zh(self) -> &'static str {
        match self {
            RuleId::OutOfHours => "非工作时间用车",
            RuleId::NoOrder => "无单出车",
            RuleId::OffRoute => "偏离审批路线",
            RuleId::RegionExit => "驶出允许区域",
            RuleId::ProhibitedPlace => "进入禁入场所",
            RuleId::NightParking => "夜间未按规定停放",
            RuleId::HolidaySeal => "节假日违规用车",
            RuleId::Tamper => "终端疑似被破坏",
            RuleId::Silence => "终端长时间离线",
            RuleId::Overspeed => "超速",
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious an episode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// A probable violation.
    #[default]
    Medium,
    /// A clear violation or tampering.
    High,
}

impl Severity {
    /// The id.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// One point kept as evidence of an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Fix time.
    pub fix_time: Timestamp,
    /// Latitude, micro-degrees.
    pub lat_e6: i32,
    /// Longitude, micro-degrees.
    pub lon_e6: i32,
    /// Speed, 0.1 km/h.
    pub speed_dkmh: u16,
    /// Ignition on.
    pub acc_on: bool,
    /// Raw alarm word.
    pub alarm: u32,
}

impl Evidence {
    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        tianshu_model::deg_from_e6(self.lat_e6)
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        tianshu_model::deg_from_e6(self.lon_e6)
    }

    /// Speed in km/h.
    pub fn speed_kmh(&self) -> f64 {
        tianshu_model::kmh_from_dkmh(self.speed_dkmh)
    }

    /// From a point.
    pub fn of(p: &tianshu_model::Position) -> Self {
        Evidence {
            fix_time: p.fix_time,
            lat_e6: p.lat_e6,
            lon_e6: p.lon_e6,
            speed_dkmh: p.speed_dkmh,
            acc_on: p.status.acc_on(),
            alarm: p.alarm.0,
        }
    }

    /// Where the point was.
    pub fn lonlat(&self) -> LonLat {
        LonLat::from_e6(self.lon_e6, self.lat_e6)
    }
}

/// At most this many evidence points are kept per episode: the first ones and the latest.
pub const MAX_EVIDENCE: usize = 16;

/// One violation: a rule's condition held, de-bounced, from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Which rule.
    pub rule: RuleId,
    /// Which vehicle.
    pub vehicle: VehicleId,
    /// When the condition began (fix time of its first evidence).
    pub start: Timestamp,
    /// When it ended (last fix at which it held); `None` while it goes on.
    pub end: Option<Timestamp>,
    /// How serious.
    pub severity: Severity,
    /// Whether the data that revealed it arrived late (blind-area backfill, delayed delivery).
    pub late: bool,
    /// What happened, in plain English.
    pub reasoning: String,
    /// What happened, in plain Chinese.
    pub reasoning_zh: String,
    /// What it concerns, when specific: a geofence name, an order id.
    pub subject: Option<String>,
    /// The first points and the latest point of the episode.
    pub evidence: Vec<Evidence>,
}

impl Episode {
    /// Whether `[start, end]` overlaps `[from, to]` (an open episode extends to the end of time).
    pub fn overlaps(&self, from: Timestamp, to: Timestamp) -> bool {
        self.start <= to && self.end.is_none_or(|e| e >= from)
    }
}

/// What the rules report.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleEvent {
    /// An episode began (its minimum duration was reached); `end` is `None`.
    Opened(Episode),
    /// An episode ended; `end` is set. Same rule, vehicle and start as its `Opened`.
    Closed(Episode),
}

impl RuleEvent {
    /// The episode.
    pub fn episode(&self) -> &Episode {
        match self {
            RuleEvent::Opened(e) | RuleEvent::Closed(e) => e,
        }
    }
}

/// Things the rules could not judge, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Years the calendar has no data for, seen in the points: day-based rules were skipped.
    pub missing_calendar_years: Vec<i32>,
    /// The vehicle's unit has no depot, so the night check was skipped.
    pub no_depot: bool,
    /// Points older than the last one seen, evaluated in the late lane.
    pub out_of_order_points: u64,
}

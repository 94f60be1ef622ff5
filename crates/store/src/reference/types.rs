//! What the reference area stores and returns: the stored rows, and the results of its writes.

use serde::{Deserialize, Serialize};
use tianshu_model::{Timestamp, UnitId};
use tianshu_rules::calendar::YearCalendar;
use tianshu_rules::orders::OrderState;

/// One year of the official calendar, as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCalendar {
    /// The year.
    pub year: i32,
    /// The TOML text.
    pub source: String,
    /// When it was imported.
    pub updated: Timestamp,
}

/// A geofence, as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFence {
    /// `region`, `depot`, `prohibited` or `speed_zone`.
    pub kind: String,
    /// Name, unique per kind.
    pub name: String,
    /// The fence as JSON (name, kind, unit, category, speed limit, polygons).
    pub body: serde_json::Value,
    /// When it was last imported (set by the store).
    pub updated: Timestamp,
}

/// A dispatch order or holiday filing, as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOrder {
    /// Order id.
    pub id: String,
    /// The car's plate.
    pub plate: String,
    /// `order` or `filing`.
    pub kind: String,
    /// `requested`, `approved`, `cancelled` or `completed`.
    pub state: String,
    /// Start of the window.
    pub start: Timestamp,
    /// End of the window.
    pub end: Timestamp,
    /// The order as JSON, in the import format.
    pub body: serde_json::Value,
    /// The reference stamp of the write that stored it (set by the store): it grows with every write
    /// of the order, so it is also the order's version.
    pub updated: Timestamp,
}

/// The office hours of one unit, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUnitTimetable {
    /// The unit.
    pub unit: UnitId,
    /// The timetable as JSON: `{"periods": [...], "seasons": [...]}`, the shape of a configured
    /// `[[rules.unit_timetables]]` entry without its `unit`.
    pub body: serde_json::Value,
    /// When it was last written (set by the store).
    pub updated: Timestamp,
}

/// What an order import did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderImportSummary {
    /// New ids.
    pub created: u64,
    /// Known ids whose content changed.
    pub updated: u64,
    /// Known ids imported again unchanged.
    pub unchanged: u64,
    /// Ids created or changed, for re-evaluation.
    pub changed_ids: Vec<String>,
}

/// A calendar year as stored by [`super::ReferenceData::put_calendar`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarWrite {
    /// The year, parsed.
    pub calendar: YearCalendar,
    /// Whether it replaced a stored year.
    pub replaced: bool,
    /// When it was stored.
    pub updated: Timestamp,
}

/// A geofence as stored by [`super::ReferenceData::create_geofence`] or [`super::ReferenceData::replace_geofence`].
#[derive(Debug, Clone, PartialEq)]
pub struct FenceWrite {
    /// Its id.
    pub id: i64,
    /// The stored row.
    pub fence: StoredFence,
}

/// An order's change of state, as stored by [`super::ReferenceData::change_order_state`].
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    /// The state it had.
    pub before: OrderState,
    /// The stored row with the new state (and version).
    pub order: StoredOrder,
}

/// A unit's working hours as stored by [`super::ReferenceData::put_unit_timetable`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimetableWrite {
    /// The stored row.
    pub timetable: StoredUnitTimetable,
    /// Whether the unit had none of its own before.
    pub created: bool,
}

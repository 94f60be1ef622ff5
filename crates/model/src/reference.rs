//! What the rules' reference data is stored as: the stored rows (each item as the document it came in
//! as), and the results of the writes that do not name a rules type.

use serde::{Deserialize, Serialize};

use crate::{Timestamp, UnitId};

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

/// A geofence as stored by the store (a create or a replacement).
#[derive(Debug, Clone, PartialEq)]
pub struct FenceWrite {
    /// Its id.
    pub id: i64,
    /// The stored row.
    pub fence: StoredFence,
}

/// A unit's working hours as stored by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct TimetableWrite {
    /// The stored row.
    pub timetable: StoredUnitTimetable,
    /// Whether the unit had none of its own before.
    pub created: bool,
}

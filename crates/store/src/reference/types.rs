//! What the reference area stores and returns: the stored rows (the model's), and the results of its
//! writes.

use tianshu_model::Timestamp;
pub use tianshu_model::reference::{
    FenceWrite, OrderImportSummary, StoredCalendar, StoredFence, StoredOrder, StoredUnitTimetable,
    TimetableWrite,
};
use tianshu_rules::calendar::YearCalendar;
use tianshu_rules::orders::OrderState;

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

/// An order's change of state, as stored by [`super::ReferenceData::change_order_state`].
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    /// The state it had.
    pub before: OrderState,
    /// The stored row with the new state (and version).
    pub order: StoredOrder,
}

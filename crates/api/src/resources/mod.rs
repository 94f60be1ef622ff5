//! The HTTP resources, one file each. A resource's file holds its handlers, its request and response
//! types, and the checks that are its own; what several share has one home outside: the scope
//! (module `scope`), the audit trail (`audit`), the extractors and the error contract (`extract`,
//! `error`) and the position on the wire (`position`). Which role may call which handler is declared
//! once, in the route table (`routes`).

pub mod audit_log;
pub mod calendars;
pub mod cases;
pub mod commands;
pub mod exports;
pub mod geofences;
pub mod live;
pub mod orders;
pub mod reports;
pub mod sessions;
pub mod terminals;
pub mod tracks;
pub mod units;
pub mod users;
pub mod vehicles;

use tianshu_model::Timestamp;

/// Now, UTC milliseconds.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

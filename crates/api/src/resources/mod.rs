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

use crate::ApiState;
use crate::error::ApiResult;

/// Now, UTC milliseconds.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// The update time for rules data (geofences, orders, calendars, working hours) written now: past the
/// store's reference stamp, so that the next reload of the running rules sees the change (and
/// re-evaluates an order changed by it).
pub(crate) async fn rules_write_time(state: &ApiState) -> ApiResult<Timestamp> {
    let stamp = state.store().rules().reference_stamp().await?;
    Ok(now().max(stamp.add_millis(1)))
}

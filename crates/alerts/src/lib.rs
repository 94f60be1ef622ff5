//! Tianshu's alert runtime: from committed points to alert cases that reach the right supervisors.
//!
//! - [`reference`]: validated imports of calendars, geofences and orders into the store, and the
//!   compiled [`tianshu_rules::Reference`] built from it.
//! - [`runtime`]: feeds committed points (every one: it follows the store, `Store::follow`) to the rules
//!   per vehicle in fix-time order, records episodes as cases, routes and delivers notifications through
//!   the outbox, escalates unexplained cases, and withdraws cases an order approved later covers.
//! - [`cases`]: the case workflow the web API calls (list, detail, transitions).
//! - [`complaints`]: the notifications of complaints forwarded to a unit, and the escalation of overdue
//!   ones, through the same channels.
//! - [`carpool`]: the car pool's notices through the same channels, and its trips settled by
//!   themselves when due.
//! - [`notify`]: notification bodies (generic JSON, DingTalk and WeCom robots, e-mail), routing by unit,
//!   and the senders.
#![deny(missing_docs)]

pub mod carpool;
pub mod cases;
pub mod complaints;
pub mod config;
pub mod notify;
pub mod reference;
pub mod runtime;

pub use cases::{CaseAction, CaseDetail, Step, apply_action, apply_audited_action, case_detail, list_cases};
pub use complaints::{complaint_deliveries, escalate_overdue_complaints};
pub use config::AlertsConfig;
pub use notify::Notice;
pub use runtime::{
    AlertsHandle, CaseRecorder, Ownership, RuntimeProgress, new_case_deliveries, start, start_following,
    start_owned,
};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input was refused; one message per problem, each naming its line when it came from a file.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tianshu_store::Error),
    /// Reference data could not be compiled.
    #[error(transparent)]
    Reference(#[from] tianshu_rules::ReferenceError),
}

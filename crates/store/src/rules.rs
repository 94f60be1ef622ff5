//! The types of the rules' alert cases: a case, its events, its notification outbox and its transitions.
//!
//! Cases are one row per episode, identified by (vehicle, rule, start): recording an episode again
//! updates its end and evidence instead of opening a second case. A case and its notifications are
//! written in one transaction (an outbox), so a crash between detection and delivery delays a
//! notification but never loses it. The SQL is `crate::cases` (reached through
//! [`crate::Store::cases`]); the rules' reference data is `crate::reference`.

use crate::{Error, Result};

/// The plain types are the model's (the steps between states are the rules').
pub use tianshu_model::case::{
    AlertCase, CASE_ID_TOKEN, CaseEvent, CaseFilter, CaseState, Delivery, DeliveryOutcome, NewCase,
    NewDelivery, Transition, TransitionedCase,
};

/// Reads a stored JSON document.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt(format!("stored JSON: {e}")))
}

/// Reads a stored case state.
pub(crate) fn parse_state(s: &str) -> Result<CaseState> {
    CaseState::parse(s).ok_or_else(|| Error::Corrupt(format!("stored case state {s:?}")))
}

//! Alert cases as the page sees them, behind a small trait the alerts engine implements (the routes are
//! `resources::cases`).
//!
//! The API never decides what a case is; it lists them, shows one, and forwards a supervisor's
//! action. Every case names its vehicle, so the scoped data layer can refuse a case of another unit
//! exactly as it refuses that unit's track.

use std::collections::HashSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tianshu_model::{UnitId, VehicleId};
use tianshu_store::access::Audit;
use tianshu_store::rules::TransitionedCase;

use crate::error::ApiError;
use crate::extract::retagged;

/// A case as listed and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseView {
    /// Stable id.
    pub id: String,
    /// The vehicle it is about (the scope check reads this).
    pub vehicle: VehicleId,
    /// `open`, `acknowledged`, `explained`, `escalated`, `closed`...
    pub state: String,
    /// Everything else the engine says about it (rule, severity, reasoning, episode times, history).
    #[serde(flatten)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only cases in this state.
    pub state: Option<String>,
    /// Only cases of this vehicle.
    pub vehicle: Option<VehicleId>,
    /// Only cases of these vehicles (`None`: any): the caller's scope.
    pub vehicles: Option<HashSet<VehicleId>>,
    /// Only cases of these units (`None`: any): the same scope, as units.
    pub units: Option<Vec<UnitId>>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// A supervisor's (or inspector's) action on a case: `{"action":"explain","text":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaseAction {
    /// Seen; being looked into.
    Acknowledge,
    /// The unit's explanation (a late order, an emergency).
    Explain {
        /// The text.
        text: String,
    },
    /// Done: justified or dealt with.
    Close {
        /// Optional closing note.
        note: Option<String>,
    },
    /// Passed up to discipline inspection.
    Escalate {
        /// Optional reason.
        note: Option<String>,
    },
}

/// [`CaseAction`] externally tagged, so that a bad field is named (see [`retagged`]).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum CaseActionTwin {
    Acknowledge {},
    Explain {
        text: String,
    },
    Close {
        #[serde(default)]
        note: Option<String>,
    },
    Escalate {
        #[serde(default)]
        note: Option<String>,
    },
}

impl<'de> Deserialize<'de> for CaseAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match retagged::<CaseActionTwin, D>(d, "action")? {
            CaseActionTwin::Acknowledge {} => CaseAction::Acknowledge,
            CaseActionTwin::Explain { text } => CaseAction::Explain { text },
            CaseActionTwin::Close { note } => CaseAction::Close { note },
            CaseActionTwin::Escalate { note } => CaseAction::Escalate { note },
        })
    }
}

impl CaseAction {
    /// The workflow step this action is, and its note (empty when none).
    pub fn step(&self) -> (tianshu_rules::CaseAction, &str) {
        use tianshu_rules::CaseAction as Step;
        match self {
            CaseAction::Acknowledge => (Step::Acknowledge, ""),
            CaseAction::Explain { text } => (Step::Explain, text),
            CaseAction::Close { note } => (Step::Close, note.as_deref().unwrap_or_default()),
            CaseAction::Escalate { note } => (Step::Escalate, note.as_deref().unwrap_or_default()),
        }
    }
}

/// Why an action was not applied.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// No such case.
    #[error("no case {0}")]
    NotFound(String),
    /// Not allowed from the case's current state.
    #[error("{0}")]
    InvalidTransition(String),
    /// The engine's storage failed.
    #[error("{0}")]
    Unavailable(String),
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::NotFound(id) => ApiError::NotFound(format!("case {id}")),
            CaseError::InvalidTransition(m) => ApiError::Conflict(m),
            CaseError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}

/// The alert cases; implemented over the alerts engine.
#[async_trait]
pub trait CaseBook: Send + Sync + 'static {
    /// Cases matching `filter`, newest first.
    async fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseView>, CaseError>;
    /// One case.
    async fn get(&self, id: &str) -> Result<Option<CaseView>, CaseError>;
    /// Applies an action by `actor` and returns the case after it. A book that stores its cases takes
    /// `audit` (completed from the case as moved and the state it moved from) into the step's own
    /// transaction, so that both commit or neither does; one that does not leaves it, and the API writes
    /// it after the step.
    async fn apply(
        &self,
        id: &str,
        action: &CaseAction,
        actor: &str,
        audit: &mut Option<Audit<TransitionedCase>>,
    ) -> Result<CaseView, CaseError>;
}

/// No alerts engine in this process: no cases.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCases;

#[async_trait]
impl CaseBook for NoCases {
    async fn list(&self, _: &CaseFilter) -> Result<Vec<CaseView>, CaseError> {
        Ok(Vec::new())
    }
    async fn get(&self, _: &str) -> Result<Option<CaseView>, CaseError> {
        Ok(None)
    }
    async fn apply(
        &self,
        id: &str,
        _: &CaseAction,
        _: &str,
        _: &mut Option<Audit<TransitionedCase>>,
    ) -> Result<CaseView, CaseError> {
        Err(CaseError::NotFound(id.to_string()))
    }
}

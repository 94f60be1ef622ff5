//! The case workflow, as the web API calls it.
//!
//! ```text
//! open --acknowledge--> acknowledged --explain--> explained --close--> closed
//!   |                       |                        |
//!   +--------explain--------+                        +--escalate--> escalated
//!   +------escalate (or automatically after `auto_escalate_after_hours` unexplained)-----+
//! any state but closed --withdraw--> withdrawn (an order approved after the fact; an administrator)
//! ```
//! Every step records who, when and what (the explanation, the verification note, the reason) in the
//! case's history. Who may take which step is the API's decision (a unit's supervisor explains; the
//! car-management office or an inspector closes or escalates); these functions check only that the step
//! fits the case's state, atomically.

use tianshu_model::Timestamp;
use tianshu_store::Store;
use tianshu_store::rules::{AlertCase, CaseEvent, CaseFilter, CaseState, Delivery, Transition};

use crate::Error;
use crate::config::AlertsConfig;
use crate::notify::Routing;

/// A step a person takes on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseAction {
    /// A supervisor has seen the case.
    Acknowledge,
    /// The unit's written explanation (the note is required).
    Explain,
    /// The explanation was verified against the track: closed.
    Close,
    /// Sent up to the discipline inspectors (the note says why).
    Escalate,
    /// Withdrawn (the note says why).
    Withdraw,
}

impl CaseAction {
    /// Every action.
    pub const ALL: [CaseAction; 5] = [
        CaseAction::Acknowledge,
        CaseAction::Explain,
        CaseAction::Close,
        CaseAction::Escalate,
        CaseAction::Withdraw,
    ];

    /// The id used in the API and the history.
    pub const fn as_str(self) -> &'static str {
        match self {
            CaseAction::Acknowledge => "acknowledge",
            CaseAction::Explain => "explain",
            CaseAction::Close => "close",
            CaseAction::Escalate => "escalate",
            CaseAction::Withdraw => "withdraw",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Self> {
        CaseAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The states the action applies to.
    pub fn from_states(self) -> Vec<CaseState> {
        use CaseState::*;
        match self {
            CaseAction::Acknowledge => vec![Open],
            CaseAction::Explain => vec![Open, Acknowledged],
            CaseAction::Close => vec![Explained],
            CaseAction::Escalate => vec![Open, Acknowledged, Explained],
            CaseAction::Withdraw => vec![Open, Acknowledged, Explained, Escalated],
        }
    }

    /// The state it leads to.
    pub const fn to_state(self) -> CaseState {
        match self {
            CaseAction::Acknowledge => CaseState::Acknowledged,
            CaseAction::Explain => CaseState::Explained,
            CaseAction::Close => CaseState::Closed,
            CaseAction::Escalate => CaseState::Escalated,
            CaseAction::Withdraw => CaseState::Withdrawn,
        }
    }

    /// Whether a note is required.
    pub const fn needs_note(self) -> bool {
        matches!(
            self,
            CaseAction::Explain | CaseAction::Escalate | CaseAction::Withdraw
        )
    }
}

/// A case with its history and deliveries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseDetail {
    /// The case.
    pub case: AlertCase,
    /// Its history, oldest first.
    pub events: Vec<CaseEvent>,
    /// Its notifications.
    pub deliveries: Vec<Delivery>,
}

/// Cases matching a filter, newest first.
pub async fn list_cases(store: &Store, filter: &CaseFilter) -> Result<Vec<AlertCase>, Error> {
    Ok(store.rules().cases(filter).await?)
}

/// One case with its history and deliveries.
pub async fn case_detail(store: &Store, id: i64) -> Result<Option<CaseDetail>, Error> {
    let Some(case) = store.rules().case(id).await? else {
        return Ok(None);
    };
    Ok(Some(CaseDetail {
        events: store.rules().case_events(id).await?,
        deliveries: store.rules().deliveries(id).await?,
        case,
    }))
}

/// Applies a person's step to a case. An escalation notifies the same channels as the opening.
pub async fn apply_action(
    store: &Store,
    config: &AlertsConfig,
    id: i64,
    action: CaseAction,
    actor: &str,
    note: &str,
    now: Timestamp,
) -> Result<AlertCase, Error> {
    if actor.trim().is_empty() {
        return Err(Error::Invalid(vec!["the actor is required".into()]));
    }
    if action.needs_note() && note.trim().is_empty() {
        return Err(Error::Invalid(vec![format!("{} needs a note", action.as_str())]));
    }
    let case = store
        .rules()
        .case(id)
        .await?
        .ok_or_else(|| Error::Store(tianshu_store::Error::NotFound(format!("case {id}"))))?;
    // Acknowledging keeps the escalation deadline: only an explanation stops the clock.
    let escalate_at = match action {
        CaseAction::Acknowledge => case.escalate_at,
        _ => None,
    };
    let deliveries = if action == CaseAction::Escalate {
        let routing = Routing::new(&store.units().await?, &store.vehicles().await?);
        let mut escalated = case.clone();
        escalated.state = CaseState::Escalated;
        let notice = routing.notice(
            &escalated,
            "escalated",
            config.notify_parent_levels,
            Some(note.to_string()),
        );
        routing.deliveries(&notice, config)
    } else {
        Vec::new()
    };
    let t = Transition {
        case_id: id,
        from: action.from_states(),
        to: action.to_state(),
        actor: actor.to_string(),
        action: action.to_state().as_str().to_string(),
        note: note.to_string(),
        escalate_at,
        deliveries,
    };
    Ok(store.rules().transition_case(&t, now).await?)
}

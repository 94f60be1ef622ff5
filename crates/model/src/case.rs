//! An alert case as stored and shown: its states, its events, its notification outbox and its
//! transitions.
//!
//! Which steps lead from one state to another is a decision of the rules
//! (`tianshu_rules::workflow`); this is only the vocabulary every layer shares.

use serde::{Deserialize, Serialize};

use crate::{Timestamp, UnitId, VehicleId};

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Raised, nobody has looked yet.
    Open,
    /// A supervisor has seen it.
    Acknowledged,
    /// The unit has written its explanation.
    Explained,
    /// Verified and closed.
    Closed,
    /// Sent up to the discipline inspectors (by a person, or by itself when left unexplained).
    Escalated,
    /// Withdrawn by re-evaluation (an order approved after the fact) or by an administrator.
    Withdrawn,
}

impl CaseState {
    /// Every state.
    pub const ALL: [CaseState; 6] = [
        CaseState::Open,
        CaseState::Acknowledged,
        CaseState::Explained,
        CaseState::Closed,
        CaseState::Escalated,
        CaseState::Withdrawn,
    ];

    /// The id used in the database and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Acknowledged => "acknowledged",
            CaseState::Explained => "explained",
            CaseState::Closed => "closed",
            CaseState::Escalated => "escalated",
            CaseState::Withdrawn => "withdrawn",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Self> {
        CaseState::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for CaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert case: the episode as it was raised (and updated since), and what its life added. The
/// episode's fields read through the case (`case.vehicle`, `case.rule`...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertCase {
    /// Case id.
    pub id: i64,
    /// The episode (the car's unit is the one it had when the case was raised; `escalate_at` is when
    /// the case escalates by itself if still unexplained).
    #[serde(flatten)]
    pub raised: NewCase,
    /// Where the case is.
    pub state: CaseState,
    /// When it was raised.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
}

impl std::ops::Deref for AlertCase {
    type Target = NewCase;
    fn deref(&self) -> &NewCase {
        &self.raised
    }
}

impl std::ops::DerefMut for AlertCase {
    fn deref_mut(&mut self) -> &mut NewCase {
        &mut self.raised
    }
}

/// An episode to record as a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCase {
    /// The car.
    pub vehicle: VehicleId,
    /// The car's unit.
    pub unit: UnitId,
    /// Rule id.
    pub rule: String,
    /// Start of the episode.
    pub start: Timestamp,
    /// End, once it ended.
    pub end: Option<Timestamp>,
    /// Severity.
    pub severity: String,
    /// Raised from late data.
    pub late: bool,
    /// Reasoning, English.
    pub reasoning: String,
    /// Reasoning, Chinese.
    pub reasoning_zh: String,
    /// The episode as JSON.
    pub episode: serde_json::Value,
    /// When it escalates by itself if unexplained (for a new case).
    pub escalate_at: Option<Timestamp>,
}

/// One step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// The case.
    pub case_id: i64,
    /// When.
    pub time: Timestamp,
    /// Who (a username, or `system`).
    pub actor: String,
    /// What: `opened`, `acknowledged`, `explained`, `closed`, `escalated`, `withdrawn`, `updated`.
    pub action: String,
    /// The explanation, the verification note, the reason.
    pub note: String,
}

/// Which cases to list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaseFilter {
    /// Only these states (all when empty).
    pub states: Vec<CaseState>,
    /// Only these units (all when `None`; a supervisor's scope is their unit and its descendants).
    pub units: Option<Vec<UnitId>>,
    /// Only this vehicle.
    pub vehicle: Option<VehicleId>,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only episodes that started at or after this.
    pub from: Option<Timestamp>,
    /// Only episodes that started before this.
    pub to: Option<Timestamp>,
    /// At most this many (newest first); 0 means 100.
    pub limit: u32,
    /// Skip this many.
    pub offset: u32,
}

/// In a delivery payload recorded with a new case, this token is replaced by the case's id (the id
/// exists only once the row does, and both are written in one transaction).
pub const CASE_ID_TOKEN: &str = "{{case_id}}";

/// A notification to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// `web`, `webhook`, `email`, `mqtt`.
    pub channel: String,
    /// Channel-specific: a URL, an e-mail address, a unit id for the web feed.
    pub recipient: String,
    /// The message body as the channel will send it.
    pub payload: String,
}

/// A notification in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Outbox id.
    pub id: i64,
    /// The case it is about (`None`: a complaint's).
    pub case_id: Option<i64>,
    /// The complaint it is about (`None`: a case's).
    pub complaint_id: Option<i64>,
    /// Channel.
    pub channel: String,
    /// Recipient.
    pub recipient: String,
    /// Body.
    pub payload: String,
    /// `pending`, `sent` or `failed` (gave up).
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt: Timestamp,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created: Timestamp,
    /// When it was sent.
    pub sent: Option<Timestamp>,
}

/// How an attempt to deliver went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Delivered.
    Sent,
    /// Failed; try again at `next_attempt`.
    Retry {
        /// Why it failed.
        error: String,
        /// When to try again.
        next_attempt: Timestamp,
    },
    /// Failed for good (too many attempts, or a permanent error).
    Failed {
        /// Why.
        error: String,
    },
}

/// A case transition to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The case.
    pub case_id: i64,
    /// The states the case must be in (compare-and-set: a concurrent change makes this fail).
    pub from: Vec<CaseState>,
    /// The new state.
    pub to: CaseState,
    /// Who.
    pub actor: String,
    /// The event's action name.
    pub action: String,
    /// The explanation, note or reason.
    pub note: String,
    /// The new auto-escalation time (`None` clears it).
    pub escalate_at: Option<Timestamp>,
    /// Notifications to queue with it.
    pub deliveries: Vec<NewDelivery>,
}

impl Transition {
    /// Why the transition does not apply to case `id`, which is in `state`.
    pub fn refusal(&self, id: i64, state: &str) -> String {
        let from: Vec<&str> = self.from.iter().map(|s| s.as_str()).collect();
        format!(
            "case {id} is {state}; {} needs it to be {}",
            self.action,
            from.join(" or ")
        )
    }
}

/// A case as a transition left it, with the state it moved from (read under the transition's lock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionedCase {
    /// The state the case was in.
    pub before: CaseState,
    /// The case after the transition.
    pub case: AlertCase,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for s in CaseState::ALL {
            assert_eq!(CaseState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(CaseState::parse("opened"), None);
    }
}

//! The states of an alert case, as stored and shown.
//!
//! Which steps lead from one state to another is a decision of the rules
//! (`tianshu_rules::workflow`); this is only the vocabulary every layer shares.

use serde::{Deserialize, Serialize};

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

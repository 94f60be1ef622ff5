//! The workflows of alert cases and of orders: which steps lead from which state to which.
//!
//! ```text
//! open --acknowledge--> acknowledged --explain--> explained --close--> closed
//!   |                       |                        |
//!   +--------explain--------+                        +--escalate--> escalated
//!   +------escalate (or by itself after `auto_escalate_after_hours` unexplained)-----+
//! any state but closed (and withdrawn) --withdraw--> withdrawn
//!
//! requested --> approved --> completed
//!     |            |
//!     +------------+-------> cancelled
//! ```
//! Every layer that moves a case or an order asks these tables ([`next`], [`OrderState::can_become`],
//! [`Order::step`], which adds the separation of duties of `crate::orders` to an approval) and reports a
//! refusal with the one [`TransitionError`] (or [`OrderRefused`]). Who may take a step is the API's decision;
//! that a step fits the state is decided here. The store applies a case step as a compare-and-set on
//! the states the table allows, so a concurrent change cannot slip between the check and the write.

use tianshu_model::Timestamp;

use crate::orders::{Order, OrderState, SecondPersonNeeded, UnitSettings};
pub use tianshu_model::CaseState;

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

    /// The state the action leads to.
    pub const fn to_state(self) -> CaseState {
        match self {
            CaseAction::Acknowledge => CaseState::Acknowledged,
            CaseAction::Explain => CaseState::Explained,
            CaseAction::Close => CaseState::Closed,
            CaseAction::Escalate => CaseState::Escalated,
            CaseAction::Withdraw => CaseState::Withdrawn,
        }
    }

    /// Whether the action applies to a case in `state`: the table.
    pub const fn applies_to(self, state: CaseState) -> bool {
        use CaseState::*;
        match self {
            CaseAction::Acknowledge => matches!(state, Open),
            CaseAction::Explain => matches!(state, Open | Acknowledged),
            CaseAction::Close => matches!(state, Explained),
            CaseAction::Escalate => matches!(state, Open | Acknowledged | Explained),
            CaseAction::Withdraw => matches!(state, Open | Acknowledged | Explained | Escalated),
        }
    }

    /// The states the action applies to, in [`CaseState::ALL`] order.
    pub fn from_states(self) -> Vec<CaseState> {
        CaseState::ALL
            .into_iter()
            .filter(|s| self.applies_to(*s))
            .collect()
    }

    /// Whether a note is required.
    pub const fn needs_note(self) -> bool {
        matches!(
            self,
            CaseAction::Explain | CaseAction::Escalate | CaseAction::Withdraw
        )
    }

    /// Whether the case keeps its escalation deadline after the step: acknowledging does, since only
    /// an explanation (or an end of the case) stops the clock.
    pub const fn keeps_deadline(self) -> bool {
        matches!(self, CaseAction::Acknowledge)
    }
}

/// The state a case in `state` moves to by `action`, or why it cannot.
pub fn next(state: CaseState, action: CaseAction) -> Result<CaseState, TransitionError> {
    if action.applies_to(state) {
        Ok(action.to_state())
    } else {
        Err(TransitionError::Case { state, action })
    }
}

/// Whether an unexplained case in `state` escalates by itself once its deadline passes: only while
/// nobody has explained it (an explanation stops the clock).
pub const fn escalates_by_itself(state: CaseState) -> bool {
    matches!(state, CaseState::Open | CaseState::Acknowledged)
}

/// The states in which a case escalates by itself (see [`escalates_by_itself`]).
pub fn auto_escalation_states() -> Vec<CaseState> {
    CaseState::ALL
        .into_iter()
        .filter(|s| escalates_by_itself(*s))
        .collect()
}

impl OrderState {
    /// Whether an order may move from this state to `to`: a request is approved or cancelled, an
    /// approved order completed or cancelled; cancelled and completed are final.
    pub const fn can_become(self, to: OrderState) -> bool {
        use OrderState::*;
        matches!(
            (self, to),
            (Requested, Approved) | (Requested, Cancelled) | (Approved, Completed) | (Approved, Cancelled)
        )
    }

    /// The new state, or why the order cannot take it.
    pub fn change_to(self, to: OrderState) -> Result<OrderState, TransitionError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(TransitionError::Order { from: self, to })
        }
    }
}

/// An order's change of state, as a store wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    /// The state it had.
    pub before: OrderState,
    /// The stored row with the new state (and version).
    pub order: tianshu_model::reference::StoredOrder,
}

impl Order {
    /// Moves the order to `to` as `by` at `at`, as the workflow allows ([`OrderState::change_to`]); when
    /// it becomes approved, `by` is recorded as its approver, under the separation of duties of the car's
    /// unit `settings` (`Order::approve`). Returns the state it had.
    pub fn step(
        &mut self,
        to: OrderState,
        by: &str,
        at: Timestamp,
        settings: UnitSettings,
    ) -> Result<OrderState, OrderRefused> {
        let before = self.state;
        let after = before.change_to(to)?;
        if after.covers() && !before.covers() {
            self.approve(by, at, settings)?;
        }
        self.state = after;
        Ok(before)
    }
}

/// Why an order cannot take a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderRefused {
    /// The workflow does not allow it.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Separation of duties.
    #[error(transparent)]
    SecondPerson(#[from] SecondPersonNeeded),
}

/// A step that does not fit the state it is taken from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// A case step taken in a state it does not apply to.
    #[error(
        "{} needs the case to be {}, and it is {}",
        action.as_str(),
        states_text(&action.from_states()),
        state.as_str()
    )]
    Case {
        /// The case's state.
        state: CaseState,
        /// The step.
        action: CaseAction,
    },
    /// An order state change the workflow does not allow.
    #[error("an order that is {} cannot become {}", from.as_str(), to.as_str())]
    Order {
        /// The order's state.
        from: OrderState,
        /// The state asked for.
        to: OrderState,
    },
}

/// `open, acknowledged or explained`.
fn states_text(states: &[CaseState]) -> String {
    match states {
        [] => "nothing".into(),
        [one] => one.as_str().into(),
        [init @ .., last] => format!(
            "{} or {}",
            init.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            last.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The case table, written out in full: every (state, action) pair and where it leads.
    #[test]
    fn the_case_table() {
        use CaseAction::*;
        use CaseState::*;
        let allowed = [
            (Open, Acknowledge, Acknowledged),
            (Open, Explain, Explained),
            (Open, Escalate, Escalated),
            (Open, Withdraw, Withdrawn),
            (Acknowledged, Explain, Explained),
            (Acknowledged, Escalate, Escalated),
            (Acknowledged, Withdraw, Withdrawn),
            (Explained, Close, Closed),
            (Explained, Escalate, Escalated),
            (Explained, Withdraw, Withdrawn),
            (Escalated, Withdraw, Withdrawn),
        ];
        for state in CaseState::ALL {
            for action in CaseAction::ALL {
                let expected = allowed
                    .iter()
                    .find(|(s, a, _)| *s == state && *a == action)
                    .map(|(_, _, to)| *to);
                match (next(state, action), expected) {
                    (Ok(to), Some(e)) => assert_eq!(to, e, "{state} {action:?}"),
                    (Err(e), None) => {
                        assert_eq!(e, TransitionError::Case { state, action });
                        assert!(!action.from_states().contains(&state));
                    }
                    (got, want) => panic!("{state} {action:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        // Closed and withdrawn are final.
        for action in CaseAction::ALL {
            assert!(next(Closed, action).is_err() && next(Withdrawn, action).is_err());
        }
        assert_eq!(auto_escalation_states(), [Open, Acknowledged]);
        assert_eq!(Withdraw.from_states(), [Open, Acknowledged, Explained, Escalated]);
    }

    #[test]
    fn one_message_for_a_refused_step() {
        let e = next(CaseState::Open, CaseAction::Close).unwrap_err();
        assert_eq!(
            e.to_string(),
            "close needs the case to be explained, and it is open"
        );
        let e = next(CaseState::Closed, CaseAction::Escalate).unwrap_err();
        assert_eq!(
            e.to_string(),
            "escalate needs the case to be open, acknowledged or explained, and it is closed"
        );
        let e = OrderState::Cancelled.change_to(OrderState::Approved).unwrap_err();
        assert_eq!(e.to_string(), "an order that is cancelled cannot become approved");
    }

    #[test]
    fn the_order_table() {
        use OrderState::*;
        let all = [Requested, Approved, Cancelled, Completed];
        let allowed = [
            (Requested, Approved),
            (Requested, Cancelled),
            (Approved, Completed),
            (Approved, Cancelled),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
                assert_eq!(from.change_to(to).is_ok(), from.can_become(to));
            }
        }
        for s in all {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderState::parse("done"), None);
    }

    #[test]
    fn action_ids_and_notes() {
        for a in CaseAction::ALL {
            assert_eq!(CaseAction::parse(a.as_str()), Some(a));
        }
        assert!(CaseAction::Explain.needs_note() && !CaseAction::Acknowledge.needs_note());
        assert!(CaseAction::Acknowledge.keeps_deadline() && !CaseAction::Explain.keeps_deadline());
    }

    /// An order of 2026-11-27 00:30 to 04:00, requested, imported (no filer).
    fn requested() -> Order {
        let line = r#"{"id":"PC-1","kind":"order","plate":"鄂B12345","start":"2026-11-27T00:30:00Z","end":"2026-11-27T04:00:00Z","state":"requested"}"#;
        crate::orders::parse_jsonl(line).unwrap().remove(0)
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    const SECOND: UnitSettings = UnitSettings {
        second_person_approval: true,
    };
    const ALONE: UnitSettings = UnitSettings {
        second_person_approval: false,
    };

    #[test]
    fn nobody_approves_their_own_order_alone() {
        let before = at("2026-11-26T12:00:00Z");
        let mut o = requested();
        o.file("wang", before, SECOND).unwrap();
        let own = o.clone().step(OrderState::Approved, "wang", before, SECOND);
        assert!(
            matches!(
                own,
                Err(OrderRefused::SecondPerson(SecondPersonNeeded::OwnOrder { .. }))
            ),
            "{own:?}"
        );
        assert_eq!(
            o.step(OrderState::Approved, "li", before, SECOND),
            Ok(OrderState::Requested)
        );
        assert_eq!(o.state, OrderState::Approved);
        assert_eq!(
            (o.filed_by.as_deref(), o.approved_by.as_deref()),
            (Some("wang"), Some("li"))
        );
        // Completing it approves nothing.
        assert!(o.step(OrderState::Completed, "wang", before, SECOND).is_ok());
    }

    #[test]
    fn an_order_covering_the_past_needs_another_filer_on_record() {
        // Imported (no filer) and approved 20 minutes into its window: a second person is needed.
        let late = at("2026-11-27T00:50:00Z");
        let past = requested().step(OrderState::Approved, "li", late, SECOND);
        let Err(OrderRefused::SecondPerson(e)) = past else {
            panic!("{past:?}")
        };
        assert!(e.to_string().contains("covers the past"), "{e}");
        // Within the grace, or filed by someone else, or in a unit that allows it: one approver will do.
        let within = at("2026-11-27T00:39:00Z");
        assert!(
            requested()
                .step(OrderState::Approved, "li", within, SECOND)
                .is_ok()
        );
        let mut filed = requested();
        filed.file("wang", late, SECOND).unwrap();
        assert!(filed.step(OrderState::Approved, "li", late, SECOND).is_ok());
        assert!(requested().step(OrderState::Approved, "li", late, ALONE).is_ok());
        // The workflow's own refusals come first.
        let mut cancelled = requested();
        cancelled.state = OrderState::Cancelled;
        let e = cancelled.step(OrderState::Approved, "li", late, ALONE);
        assert!(matches!(e, Err(OrderRefused::Transition(_))), "{e:?}");
    }
}

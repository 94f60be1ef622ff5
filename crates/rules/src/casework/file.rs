//! The casework file: complaints with what became of them (the steps taken and when, the deadline they
//! were forwarded with, the finding of the case opened from them), one JSON object per line. The
//! simulator writes a year of it with its totals; `tianshu casework import` loads one into a store.
//!
//! A record is checked here before anything is written: its steps follow the complaint's table from
//! `received`, in time order, none before it was received; a forward carries a deadline after it; a
//! finding is checked as an inspector's would be. The store still checks each step as it applies it.

use serde::{Deserialize, Serialize};
use tianshu_model::Timestamp;
use tianshu_model::complaint::{Accountable, Channel, ComplaintState, FindingOutcome};

use super::{ComplaintAction, FindingInput, check_finding, next};

/// One step of a record: what was done and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordStep {
    /// The step.
    pub action: ComplaintAction,
    /// When it was taken.
    pub at: Timestamp,
    /// What was said (the answer, the reason, the reply).
    #[serde(default)]
    pub note: String,
}

/// The finding of the case opened from a record's complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFinding {
    /// When the case was opened, explained and found.
    pub at: Timestamp,
    /// The date decided (local).
    pub decided: chrono::NaiveDate,
    /// The outcome.
    pub outcome: FindingOutcome,
    /// The violation type (confirmed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
    /// The people held to account (confirmed only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Accountable>,
    /// Amount recovered, fen.
    #[serde(default)]
    pub recovered_fen: i64,
}

impl RecordFinding {
    /// The finding as an inspector enters it.
    pub fn input(&self) -> FindingInput {
        FindingInput {
            outcome: self.outcome,
            violation: self.violation.clone(),
            people: self.people.clone(),
            recovered_fen: self.recovered_fen,
        }
    }
}

/// One complaint of a casework file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseworkRecord {
    /// When it was received.
    pub received: Timestamp,
    /// How.
    pub channel: Channel,
    /// The car named (a plate, part of one, a marking number; resolved against the registry).
    pub plate: String,
    /// What was reported.
    pub text: String,
    /// The place named.
    #[serde(default)]
    pub place: String,
    /// The deadline of its forward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// The steps taken, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<RecordStep>,
    /// The finding of a case opened from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<RecordFinding>,
}

impl CaseworkRecord {
    /// Checks the record against the complaint's table and `violation_types`; the reason it is refused.
    pub fn check(&self, violation_types: &[String]) -> Result<(), String> {
        let mut state = ComplaintState::Received;
        let mut last = self.received;
        for s in &self.steps {
            if s.at < last {
                return Err(format!(
                    "{} at {} is before the step or receipt before it",
                    s.action.as_str(),
                    s.at.to_rfc3339()
                ));
            }
            state = next(state, s.action).map_err(|e| e.to_string())?;
            last = s.at;
            if s.action == ComplaintAction::Forward && self.deadline.is_none_or(|d| d <= s.at) {
                return Err("deadline: a forward needs a deadline after it".into());
            }
        }
        let forwarded = self.steps.iter().any(|s| s.action == ComplaintAction::Forward);
        if self.deadline.is_some() && !forwarded {
            return Err("deadline: the complaint is never forwarded".into());
        }
        if let Some(f) = &self.finding {
            if f.at < self.received {
                return Err("finding: before the complaint was received".into());
            }
            check_finding(&f.input(), violation_types).map_err(|e| format!("finding: {e}"))?;
        }
        Ok(())
    }
}

/// A file's records with their line numbers (1-based), each checked; a bad line is refused with its
/// number and nothing else is taken. Blank lines are skipped.
pub fn parse_file(
    text: &str,
    violation_types: &[String],
) -> Result<Vec<(usize, CaseworkRecord)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: CaseworkRecord = serde_json::from_str(line).map_err(|e| (i + 1, e.to_string()))?;
        r.check(violation_types).map_err(|e| (i + 1, e))?;
        out.push((i + 1, r));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use tianshu_model::complaint::Measure;

    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn types() -> Vec<String> {
        vec!["公车私用".into()]
    }

    fn record() -> CaseworkRecord {
        let step = |action, t: &str| RecordStep {
            action,
            at: at(t),
            note: String::new(),
        };
        CaseworkRecord {
            received: at("2025-03-03T09:00:00+08:00"),
            channel: Channel::Hotline,
            plate: "鄂B10001".into(),
            text: "周末接孩子".into(),
            place: String::new(),
            deadline: Some(at("2025-03-11T00:00:00+08:00")),
            steps: vec![
                step(ComplaintAction::Forward, "2025-03-03T10:00:00+08:00"),
                step(ComplaintAction::Answer, "2025-03-05T10:00:00+08:00"),
                step(ComplaintAction::Accept, "2025-03-06T10:00:00+08:00"),
                step(ComplaintAction::Reply, "2025-03-06T11:00:00+08:00"),
            ],
            finding: Some(RecordFinding {
                at: at("2025-03-20T10:00:00+08:00"),
                decided: chrono::NaiveDate::from_ymd_opt(2025, 3, 20).unwrap(),
                outcome: FindingOutcome::Confirmed,
                violation: Some("公车私用".into()),
                people: vec![Accountable {
                    name: "张三".into(),
                    post: "司机".into(),
                    unit: String::new(),
                    measure: Measure::Admonition,
                }],
                recovered_fen: 12_000,
            }),
        }
    }

    #[test]
    fn a_record_round_trips_as_one_line() {
        let r = record();
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains('\n'));
        let back = parse_file(&format!("{line}\n\n{line}\n"), &types()).unwrap();
        assert_eq!(back, [(1, r.clone()), (3, r)]);
    }

    #[test]
    fn bad_records_are_refused_with_their_line() {
        let ok = serde_json::to_string(&record()).unwrap();
        let mut r = record();
        r.steps.remove(1); // accepted without an answer
        let bad = serde_json::to_string(&r).unwrap();
        let (line, why) = parse_file(&format!("{ok}\n{bad}\n"), &types()).unwrap_err();
        assert_eq!(line, 2);
        assert!(why.contains("accept needs it to be answered"), "{why}");

        let mut r = record();
        r.steps.swap(2, 3);
        assert!(r.check(&types()).is_err(), "reply before accept");
        let mut r = record();
        r.steps[1].at = at("2025-03-01T00:00:00+08:00");
        assert!(r.check(&types()).unwrap_err().contains("before"));
        let mut r = record();
        r.deadline = Some(at("2025-03-03T09:30:00+08:00"));
        assert!(r.check(&types()).unwrap_err().starts_with("deadline"));
        let mut r = record();
        r.finding.as_mut().unwrap().violation = Some("其他".into());
        assert!(r.check(&types()).unwrap_err().starts_with("finding: violation"));
        let (line, _) = parse_file("{\"received\": 1}\n", &types()).unwrap_err();
        assert_eq!(line, 1);
    }
}

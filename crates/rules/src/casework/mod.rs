//! The decisions of the office's casework: which step moves a complaint from which state, when a
//! forwarded complaint's answer is due (working days of the holiday calendar), which car a named plate
//! means and what a finding must hold; how the office's figures are counted is [`summary`]'s, the file
//! of complaints a store can load [`file`]'s.
//!
//! ```text
//! received --forward--> forwarded --answer--> answered --accept--> accepted --reply--> replied
//!                           ^                     |
//!                           +------send_back------+
//! ```
//! A complaint past its deadline without an answer is overdue; it escalates by itself (once) and is
//! listed, whatever its state. The store applies a step as a compare-and-set on the states allowed
//! here, under a row lock.

use chrono::Datelike;
use chrono::Weekday;
use serde::Serialize;
use tianshu_model::complaint::{Accountable, ComplaintState, FindingOutcome, NamedCar, mask_reporter_phone};
use tianshu_model::{CaseState, Timestamp, Unit, UnitId, Vehicle};

use crate::calendar::{Calendar, date_of_day, instant_of, local_day};

pub mod file;
pub mod summary;

pub use summary::{
    ComplaintFacts, Figures, FindingFacts, SUMMARY_COLUMNS, Summary, SummaryLine, SummaryRow, summarize,
    summary_csv, summary_header, summary_lines,
};

/// The default number of working days a unit has to answer a forwarded complaint.
pub const DEFAULT_ANSWER_DAYS: u32 = 5;

/// A step taken on a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintAction {
    /// Passed to the car's unit with a deadline.
    Forward,
    /// The unit's answer: what happened, what was corrected.
    Answer,
    /// An inspector accepts the answer.
    Accept,
    /// An inspector sends the answer back; the unit answers again.
    SendBack,
    /// The reply to the reporter: when, how, what was said.
    Reply,
}

impl ComplaintAction {
    /// Every action.
    pub const ALL: [ComplaintAction; 5] = [
        ComplaintAction::Forward,
        ComplaintAction::Answer,
        ComplaintAction::Accept,
        ComplaintAction::SendBack,
        ComplaintAction::Reply,
    ];

    /// The id used in the API and the history.
    pub const fn as_str(self) -> &'static str {
        match self {
            ComplaintAction::Forward => "forward",
            ComplaintAction::Answer => "answer",
            ComplaintAction::Accept => "accept",
            ComplaintAction::SendBack => "send_back",
            ComplaintAction::Reply => "reply",
        }
    }

    /// The state the action leads to.
    pub const fn to_state(self) -> ComplaintState {
        match self {
            ComplaintAction::Forward | ComplaintAction::SendBack => ComplaintState::Forwarded,
            ComplaintAction::Answer => ComplaintState::Answered,
            ComplaintAction::Accept => ComplaintState::Accepted,
            ComplaintAction::Reply => ComplaintState::Replied,
        }
    }

    /// Whether the action applies to a complaint in `state`: the table.
    pub const fn applies_to(self, state: ComplaintState) -> bool {
        use ComplaintState::*;
        match self {
            ComplaintAction::Forward => matches!(state, Received),
            ComplaintAction::Answer => matches!(state, Forwarded),
            ComplaintAction::Accept | ComplaintAction::SendBack => matches!(state, Answered),
            ComplaintAction::Reply => matches!(state, Accepted),
        }
    }

    /// The states the action applies to.
    pub fn from_states(self) -> Vec<ComplaintState> {
        ComplaintState::ALL
            .iter()
            .copied()
            .filter(|s| self.applies_to(*s))
            .collect()
    }

    /// Whether the step needs a note (what the unit answered, why it is sent back, what the reporter
    /// was told).
    pub const fn needs_note(self) -> bool {
        matches!(
            self,
            ComplaintAction::Answer | ComplaintAction::SendBack | ComplaintAction::Reply
        )
    }
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseworkError {
    /// The complaint's state does not allow the step.
    #[error("complaint is {state}; {action} needs it to be {}", allowed.join(" or "))]
    State {
        /// Its state.
        state: ComplaintState,
        /// The step.
        action: &'static str,
        /// The states that allow it.
        allowed: Vec<&'static str>,
    },
    /// Bad input, with the field it is about.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> CaseworkError {
    CaseworkError::Invalid {
        field,
        message: message.into(),
    }
}

/// The state a complaint in `state` moves to by `action`, or why it cannot.
pub fn next(state: ComplaintState, action: ComplaintAction) -> Result<ComplaintState, CaseworkError> {
    if action.applies_to(state) {
        Ok(action.to_state())
    } else {
        Err(CaseworkError::State {
            state,
            action: action.as_str(),
            allowed: action.from_states().iter().map(|s| s.as_str()).collect(),
        })
    }
}

/// Whether a local day is a working day: the calendar's word, and Monday to Friday for a year it has
/// no data for.
fn working(calendar: &Calendar, day: i64) -> bool {
    match calendar.kind_of_day(day) {
        Some(kind) => kind.is_working(),
        None => date_of_day(day).is_some_and(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)),
    }
}

/// When the answer to a complaint forwarded at `at` is due: the end (local midnight after it) of the
/// `days`-th working day after the day of `at`. A holiday or a weekend does not count; an adjusted
/// working day (调休上班) does.
pub fn deadline(calendar: &Calendar, at: Timestamp, days: u32) -> Timestamp {
    let mut day = local_day(at);
    let mut left = days.max(1);
    while left > 0 {
        day += 1;
        if working(calendar, day) {
            left -= 1;
        }
    }
    instant_of(day + 1, 0)
}

/// A deadline given explicitly: refused when it is not after `now`.
pub fn check_deadline(deadline: Timestamp, now: Timestamp) -> Result<Timestamp, CaseworkError> {
    if deadline <= now {
        return Err(invalid(
            "deadline",
            format!("{} is in the past", deadline.to_rfc3339()),
        ));
    }
    Ok(deadline)
}

/// A time window named by a complaint: refused when its end is not after its start.
pub fn check_window(from: Timestamp, to: Timestamp) -> Result<(Timestamp, Timestamp), CaseworkError> {
    if to <= from {
        return Err(invalid(
            "window",
            format!(
                "the end {} is not after the start {}",
                to.to_rfc3339(),
                from.to_rfc3339()
            ),
        ));
    }
    Ok((from, to))
}

/// Whether a forwarded complaint is overdue at `now`: its deadline passed with no answer yet.
pub fn overdue(state: ComplaintState, deadline: Option<Timestamp>, now: Timestamp) -> bool {
    state == ComplaintState::Forwarded && deadline.is_some_and(|d| d <= now)
}

/// A plate as compared: letters upper-cased, separators (spaces, `·`, `-`, `.`) removed.
fn plate_key(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '·' | '-' | '.' | '•'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Which car a named plate or marking number means, among `vehicles`: the car whose plate or marking
/// number (标识号) equals it, else the one car whose plate or marking number contains it (a partial
/// one, at least 3 characters). None or several matches leave it unresolved, kept as written
/// (several: with the candidates' plates). Letters compare upper-cased, separators ignored.
pub fn resolve_car(text: &str, vehicles: &[Vehicle]) -> NamedCar {
    let key = plate_key(text);
    let mut named = NamedCar {
        text: text.trim().to_string(),
        vehicle: None,
        plate: None,
        unit: None,
        candidates: Vec::new(),
    };
    if key.chars().count() < 3 {
        return named;
    }
    let keys = |v: &Vehicle| {
        [Some(plate_key(&v.plate)), v.marking.as_deref().map(plate_key)]
            .into_iter()
            .flatten()
            .filter(|k| !k.is_empty())
            .collect::<Vec<_>>()
    };
    let exact: Vec<&Vehicle> = vehicles.iter().filter(|v| keys(v).contains(&key)).collect();
    let hits: Vec<&Vehicle> = if exact.is_empty() {
        vehicles
            .iter()
            .filter(|v| keys(v).iter().any(|k| k.contains(&key)))
            .collect()
    } else {
        exact
    };
    match hits.as_slice() {
        [one] => {
            named.vehicle = Some(one.id);
            named.plate = Some(one.plate.clone());
            named.unit = Some(one.unit);
        }
        many => named.candidates = many.iter().take(10).map(|v| v.plate.clone()).collect(),
    }
    named
}

/// Whether case `case_id`, of unit `case_unit`, may be linked to a complaint about `complaint_units`
/// (the unit it was forwarded to and its named cars' units): any case while the complaint concerns no
/// unit yet, else only a case of one of them or of a unit below one. `units` gives names and parents.
pub fn check_link(
    case_id: i64,
    case_unit: UnitId,
    complaint_units: &[UnitId],
    units: &[Unit],
) -> Result<(), CaseworkError> {
    if complaint_units.is_empty() {
        return Ok(());
    }
    let unit = |id: UnitId| units.iter().find(|u| u.id == id);
    let mut at = Some(case_unit);
    // A unit's chain of parents is never longer than the units there are (a cycle stops it too).
    for _ in 0..=units.len() {
        let Some(u) = at else { break };
        if complaint_units.contains(&u) {
            return Ok(());
        }
        at = unit(u).and_then(|u| u.parent);
    }
    let name = |id: UnitId| unit(id).map_or_else(|| format!("unit {id}"), |u| u.name.clone());
    let theirs: Vec<String> = complaint_units.iter().map(|u| name(*u)).collect();
    Err(invalid(
        "case",
        format!(
            "case {case_id} is of {}, not of the complaint's unit ({})",
            name(case_unit),
            theirs.join(", ")
        ),
    ))
}

/// A finding as entered, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingInput {
    /// The outcome.
    pub outcome: FindingOutcome,
    /// The violation type.
    pub violation: Option<String>,
    /// The people held to account.
    pub people: Vec<Accountable>,
    /// Amount recovered, fen.
    pub recovered_fen: i64,
}

/// Whether a case in `state` may take a finding: only once the unit has explained it, it was
/// escalated, or it is closed (an open, merely acknowledged or withdrawn case has nothing to find yet).
/// A finding on an explained or escalated case closes it.
pub fn finding_allowed(state: CaseState) -> Result<bool, String> {
    match state {
        CaseState::Explained | CaseState::Escalated => Ok(true),
        CaseState::Closed => Ok(false),
        s => Err(format!(
            "a case that is {s} takes no finding; it must be explained, escalated or closed first"
        )),
    }
}

/// Checks a finding against the configured violation types: a confirmed finding names one of them
/// and every person has a name; an unfounded or explained one names no violation, no people and no
/// amount; an amount is never negative.
pub fn check_finding(f: &FindingInput, violation_types: &[String]) -> Result<(), CaseworkError> {
    if f.recovered_fen < 0 {
        return Err(invalid("recovered_yuan", "must not be negative"));
    }
    match f.outcome {
        FindingOutcome::Confirmed => {
            let v = f.violation.as_deref().unwrap_or_default();
            if !violation_types.iter().any(|t| t == v) {
                return Err(invalid(
                    "violation",
                    format!(
                        "{v:?} is not a configured violation type ({})",
                        violation_types.join(", ")
                    ),
                ));
            }
            for (i, p) in f.people.iter().enumerate() {
                if p.name.trim().is_empty() {
                    return Err(invalid("people", format!("person {} has no name", i + 1)));
                }
            }
        }
        FindingOutcome::Unfounded | FindingOutcome::Explained => {
            if f.violation.is_some() || !f.people.is_empty() || f.recovered_fen != 0 {
                return Err(invalid(
                    "outcome",
                    format!("a finding of {} names no violation, people or amount", f.outcome),
                ));
            }
        }
    }
    Ok(())
}

/// The reporter's number as `role` is shown it: in clear only to a role the configuration allows and
/// that is not the unit's (a supervisor never), masked otherwise.
pub fn shown_phone(clear: &str, may_unmask: bool) -> String {
    if may_unmask {
        clear.to_string()
    } else {
        mask_reporter_phone(clear)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use tianshu_model::complaint::Measure;
    use tianshu_model::{VehicleClass, VehicleId};

    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn the_table_allows_only_its_steps() {
        use ComplaintAction::*;
        use ComplaintState::*;
        assert_eq!(next(Received, Forward), Ok(Forwarded));
        assert_eq!(next(Forwarded, Answer), Ok(Answered));
        assert_eq!(next(Answered, SendBack), Ok(Forwarded));
        assert_eq!(next(Answered, Accept), Ok(Accepted));
        assert_eq!(next(Accepted, Reply), Ok(Replied));
        let e = next(Received, Answer).unwrap_err();
        assert_eq!(
            e.to_string(),
            "complaint is received; answer needs it to be forwarded"
        );
        assert!(next(Replied, Forward).is_err());
        assert!(next(Forwarded, Accept).is_err());
    }

    #[test]
    fn deadlines_skip_holidays_and_count_adjusted_days() {
        let cal = Calendar::builtin().unwrap();
        // Monday 2026-03-02 10:00 local: five working days are Tue..Fri and Mon 03-09; due 03-10 00:00.
        let due = deadline(&cal, at("2026-03-02T10:00:00+08:00"), 5);
        assert_eq!(due, at("2026-03-10T00:00:00+08:00"));
        // Forwarded on 2026-09-30 (Wednesday): National Day holiday Oct 1-8 does not count.
        let due = deadline(&cal, at("2026-09-30T09:00:00+08:00"), 1);
        let first_working_after = (1..20)
            .map(|d| NaiveDate::from_ymd_opt(2026, 10, d).unwrap())
            .find(|d| cal.day_kind(*d).is_some_and(|k| k.is_working()))
            .unwrap();
        let want = instant_of(crate::calendar::day_number(first_working_after) + 1, 0);
        assert_eq!(due, want);
        assert!(due > at("2026-10-08T00:00:00+08:00"));
        // A year without data: Monday to Friday.
        let due = deadline(&cal, at("2030-01-04T12:00:00+08:00"), 1); // a Friday
        assert_eq!(due, at("2030-01-08T00:00:00+08:00"));
    }

    #[test]
    fn a_deadline_or_window_that_makes_no_sense_is_refused() {
        let now = at("2026-05-01T00:00:00Z");
        assert!(check_deadline(at("2026-04-30T00:00:00Z"), now).is_err());
        assert!(check_deadline(at("2026-05-02T00:00:00Z"), now).is_ok());
        let e = check_window(at("2026-05-02T00:00:00Z"), at("2026-05-01T00:00:00Z")).unwrap_err();
        assert!(e.to_string().starts_with("window: the end"), "{e}");
    }

    fn car(id: i64, plate: &str) -> Vehicle {
        Vehicle {
            id: VehicleId(id),
            plate: plate.into(),
            unit: UnitId(id * 10),
            class: VehicleClass::default(),
            marking: None,
        }
    }

    #[test]
    fn plates_resolve_fuzzily_or_stay_free_text() {
        let cars = [car(1, "鄂B10001"), car(2, "鄂B10002"), car(3, "鄂B2A001")];
        let full = resolve_car("鄂b 10001", &cars);
        assert_eq!(full.vehicle, Some(VehicleId(1)));
        assert_eq!(full.unit, Some(UnitId(10)));
        let partial = resolve_car("2A00", &cars);
        assert_eq!(partial.plate.as_deref(), Some("鄂B2A001"));
        let many = resolve_car("B1000", &cars);
        assert!(!many.resolved());
        assert_eq!(many.candidates, ["鄂B10001", "鄂B10002"]);
        let none = resolve_car("京A88888", &cars);
        assert!(!none.resolved() && none.candidates.is_empty());
        assert_eq!(none.text, "京A88888");
        assert!(!resolve_car("01", &cars).resolved(), "too short to mean one car");
    }

    #[test]
    fn marking_numbers_resolve_whole_or_in_part() {
        let mut cars = vec![car(1, "鄂B10001"), car(2, "鄂B10002"), car(3, "鄂B30003")];
        cars[0].marking = Some("HS-GW-0815".into());
        cars[1].marking = Some("HS-GW-0816".into());
        cars[2].marking = Some("10001".into());
        let whole = resolve_car("hs gw 0815", &cars);
        assert_eq!(whole.vehicle, Some(VehicleId(1)), "{whole:?}");
        assert_eq!(whole.plate.as_deref(), Some("鄂B10001"), "shown by its plate");
        assert_eq!(
            resolve_car("0816", &cars).vehicle,
            Some(VehicleId(2)),
            "a partial marking"
        );
        // A marking equal to what was said wins over plates that merely contain it.
        assert_eq!(resolve_car("10001", &cars).vehicle, Some(VehicleId(3)));
        let several = resolve_car("GW08", &cars);
        assert!(!several.resolved());
        assert_eq!(several.candidates, ["鄂B10001", "鄂B10002"]);
        let none = resolve_car("HS-ZF-0001", &cars);
        assert!(
            !none.resolved() && none.candidates.is_empty(),
            "kept as free text"
        );
    }

    #[test]
    fn a_case_of_another_unit_is_not_linked() {
        let unit = |id: i64, name: &str, parent: Option<i64>| Unit {
            id: UnitId(id),
            name: name.into(),
            parent: parent.map(UnitId),
            reregistration_approval: false,
        };
        let units = [
            unit(1, "黄石市", None),
            unit(2, "公安局", Some(1)),
            unit(3, "交警支队", Some(2)),
            unit(4, "市委办公室", Some(1)),
        ];
        assert!(check_link(7, UnitId(4), &[], &units).is_ok(), "no unit yet");
        assert!(check_link(7, UnitId(2), &[UnitId(2)], &units).is_ok());
        assert!(check_link(7, UnitId(3), &[UnitId(2)], &units).is_ok(), "below it");
        assert!(check_link(7, UnitId(3), &[UnitId(4), UnitId(3)], &units).is_ok());
        let e = check_link(7, UnitId(4), &[UnitId(2)], &units).unwrap_err();
        assert_eq!(
            e.to_string(),
            "case: case 7 is of 市委办公室, not of the complaint's unit (公安局)"
        );
        assert!(
            check_link(7, UnitId(2), &[UnitId(3)], &units).is_err(),
            "above it"
        );
    }

    #[test]
    fn findings_are_checked() {
        let types: Vec<String> = vec!["公车私用".into()];
        let person = Accountable {
            name: "张三".into(),
            post: "司机".into(),
            unit: "办公室".into(),
            measure: Measure::PartySanction,
        };
        let mut f = FindingInput {
            outcome: FindingOutcome::Confirmed,
            violation: Some("公车私用".into()),
            people: vec![person.clone()],
            recovered_fen: 12_050,
        };
        assert!(check_finding(&f, &types).is_ok());
        f.violation = Some("其他".into());
        assert!(check_finding(&f, &types).is_err());
        f.outcome = FindingOutcome::Unfounded;
        f.violation = None;
        assert!(check_finding(&f, &types).is_err(), "people on an unfounded case");
        f.people.clear();
        f.recovered_fen = 0;
        assert!(check_finding(&f, &types).is_ok());
        assert!(finding_allowed(CaseState::Open).is_err());
        assert!(finding_allowed(CaseState::Acknowledged).is_err());
        assert_eq!(finding_allowed(CaseState::Explained), Ok(true));
        assert_eq!(finding_allowed(CaseState::Closed), Ok(false));
    }

    #[test]
    fn only_allowed_roles_see_the_number() {
        assert_eq!(shown_phone("13812345678", false), "138****5678");
        assert_eq!(shown_phone("13812345678", true), "13812345678");
    }
}

//! The decisions of the office's casework: which step moves a complaint from which state, when a
//! forwarded complaint's answer is due (working days of the holiday calendar), which car a named plate
//! means, what a finding must hold, and how the yearly figures are counted.
//!
//! ```text
//! received --forward--> forwarded --answer--> answered --accept--> accepted --reply--> replied
//!                           ^                     |
//!                           +------send_back------+
//! ```
//! A complaint past its deadline without an answer is overdue; it escalates by itself (once) and is
//! listed, whatever its state. The store applies a step as a compare-and-set on the states allowed
//! here, under a row lock.

use std::collections::BTreeMap;

use chrono::{Datelike, Weekday};
use serde::Serialize;
use tianshu_model::complaint::{
    Accountable, ComplaintState, FindingOutcome, Measure, NamedCar, mask_reporter_phone,
};
use tianshu_model::{CaseState, Timestamp, UnitId, Vehicle};

use crate::calendar::{Calendar, date_of_day, instant_of, local_day};

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

/// The facts of one complaint the figures count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintFacts {
    /// When it was received.
    pub received: Timestamp,
    /// Its unit (forwarded to, else the first named car's), `None`: none known.
    pub unit: Option<UnitId>,
    /// Its state.
    pub state: ComplaintState,
    /// Its deadline.
    pub deadline: Option<Timestamp>,
    /// When it was first forwarded.
    pub forwarded: Option<Timestamp>,
    /// Whether the first answer came by the deadline.
    pub answered_in_time: Option<bool>,
    /// When the reporter was answered.
    pub replied: Option<Timestamp>,
}

/// The facts of one finding the figures count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingFacts {
    /// The date decided.
    pub decided: chrono::NaiveDate,
    /// The case's unit.
    pub unit: UnitId,
    /// The outcome.
    pub outcome: FindingOutcome,
    /// The violation type.
    pub violation: Option<String>,
    /// The measures, one per person.
    pub measures: Vec<Measure>,
    /// Amount recovered, fen.
    pub recovered_fen: i64,
}

/// The office's figures over one unit and month, or in total.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Figures {
    /// Complaints received.
    pub received: u64,
    /// Of them, forwarded to a unit.
    pub forwarded: u64,
    /// Of them, answered by the unit in time.
    pub answered_in_time: u64,
    /// Of them, overdue (answered late, or unanswered past the deadline).
    pub overdue: u64,
    /// Of them, answered to the reporter.
    pub replied: u64,
    /// Cases closed with a finding.
    pub findings: u64,
    /// Of them, confirmed violations.
    pub confirmed: u64,
    /// Confirmed violations by type.
    pub confirmed_by_type: BTreeMap<String, u64>,
    /// People dealt with (held to account in a confirmed case).
    pub people: u64,
    /// Of them, given a Party or administrative sanction.
    pub sanctioned: u64,
    /// Of them, referred to the judiciary.
    pub judiciary: u64,
    /// Amount recovered, fen.
    pub recovered_fen: i64,
}

impl Figures {
    fn add_complaint(&mut self, c: &ComplaintFacts, now: Timestamp) {
        self.received += 1;
        if c.forwarded.is_some() {
            self.forwarded += 1;
        }
        match c.answered_in_time {
            Some(true) => self.answered_in_time += 1,
            Some(false) => self.overdue += 1,
            None if c.deadline.is_some_and(|d| d <= now) => self.overdue += 1,
            None => {}
        }
        if c.replied.is_some() {
            self.replied += 1;
        }
    }

    fn add_finding(&mut self, f: &FindingFacts) {
        self.findings += 1;
        if f.outcome != FindingOutcome::Confirmed {
            return;
        }
        self.confirmed += 1;
        *self
            .confirmed_by_type
            .entry(f.violation.clone().unwrap_or_default())
            .or_default() += 1;
        self.people += f.measures.len() as u64;
        self.sanctioned += f.measures.iter().filter(|m| m.is_sanction()).count() as u64;
        self.judiciary += f.measures.iter().filter(|m| **m == Measure::Judiciary).count() as u64;
        self.recovered_fen += f.recovered_fen;
    }
}

/// One row of the figures: a unit's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    /// The unit (`None`: complaints whose car is not known).
    pub unit: Option<UnitId>,
    /// `YYYY-MM`, local.
    pub month: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of a period: in total and by unit and month.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Over everything counted.
    pub total: Figures,
    /// By unit, then month.
    pub rows: Vec<SummaryRow>,
}

fn month_of_day(day: i64) -> String {
    date_of_day(day).map_or_else(String::new, |d| format!("{:04}-{:02}", d.year(), d.month()))
}

/// Counts the figures: complaints by the month they were received, findings by the month they were
/// decided; a complaint is overdue when it was answered late, or not at all by a deadline before `now`.
/// The caller passes only what falls in the period and the units asked for.
pub fn summarize(complaints: &[ComplaintFacts], findings: &[FindingFacts], now: Timestamp) -> Summary {
    let mut rows: BTreeMap<(Option<UnitId>, String), Figures> = BTreeMap::new();
    let mut total = Figures::default();
    for c in complaints {
        let month = month_of_day(local_day(c.received));
        total.add_complaint(c, now);
        rows.entry((c.unit, month)).or_default().add_complaint(c, now);
    }
    for f in findings {
        let month = format!("{:04}-{:02}", f.decided.year(), f.decided.month());
        total.add_finding(f);
        rows.entry((Some(f.unit), month)).or_default().add_finding(f);
    }
    Summary {
        total,
        rows: rows
            .into_iter()
            .map(|((unit, month), figures)| SummaryRow { unit, month, figures })
            .collect(),
    }
}

/// The header of the figures as CSV.
pub const SUMMARY_CSV_HEADER: &str = "unit,month,received,forwarded,answered_in_time,overdue,replied,findings,confirmed,people,sanctioned,judiciary,recovered_yuan,confirmed_by_type";

/// One line of the figures, in the columns of [`SUMMARY_CSV_HEADER`]: the unit's name, the month, the
/// counts, the amount recovered (fen) and the confirmed violations by type (`type=n;...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    /// The unit's name (`total` on the last line).
    pub unit: String,
    /// `YYYY-MM` (empty on the last line).
    pub month: String,
    /// received, forwarded, answered_in_time, overdue, replied, findings, confirmed, people, sanctioned,
    /// judiciary.
    pub counts: [u64; 10],
    /// Amount recovered, fen.
    pub recovered_fen: i64,
    /// Confirmed violations by type, `type=n` joined by `;`.
    pub by_type: String,
}

impl SummaryLine {
    /// The amount recovered in yuan, two decimals.
    pub fn recovered_yuan(&self) -> String {
        format!("{}.{:02}", self.recovered_fen / 100, self.recovered_fen % 100)
    }
}

/// The figures as lines: one per unit and month, then `total`. `unit_name` names a unit.
pub fn summary_lines(s: &Summary, unit_name: impl Fn(Option<UnitId>) -> String) -> Vec<SummaryLine> {
    fn line(unit: String, month: &str, f: &Figures) -> SummaryLine {
        let by_type: Vec<String> = f
            .confirmed_by_type
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        SummaryLine {
            unit,
            month: month.to_string(),
            counts: [
                f.received,
                f.forwarded,
                f.answered_in_time,
                f.overdue,
                f.replied,
                f.findings,
                f.confirmed,
                f.people,
                f.sanctioned,
                f.judiciary,
            ],
            recovered_fen: f.recovered_fen,
            by_type: by_type.join(";"),
        }
    }
    let mut out: Vec<SummaryLine> = s
        .rows
        .iter()
        .map(|r| line(unit_name(r.unit), &r.month, &r.figures))
        .collect();
    out.push(line("total".into(), "", &s.total));
    out
}

/// The figures as CSV: one line per unit and month, then `total`. `unit_name` names a unit.
pub fn summary_csv(s: &Summary, unit_name: impl Fn(Option<UnitId>) -> String) -> String {
    fn quote(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out = format!("{SUMMARY_CSV_HEADER}\n");
    for l in summary_lines(s, unit_name) {
        let counts: Vec<String> = l.counts.iter().map(u64::to_string).collect();
        out += &format!(
            "{},{},{},{},{}\n",
            quote(&l.unit),
            l.month,
            counts.join(","),
            l.recovered_yuan(),
            quote(&l.by_type)
        );
    }
    out
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
    fn the_summary_counts_by_unit_and_month() {
        let now = at("2026-12-31T00:00:00Z");
        let c = |received: &str, unit: i64, in_time: Option<bool>, deadline: Option<&str>, replied: bool| {
            ComplaintFacts {
                received: at(received),
                unit: Some(UnitId(unit)),
                state: ComplaintState::Forwarded,
                deadline: deadline.map(at),
                forwarded: deadline.map(|_| at(received)),
                answered_in_time: in_time,
                replied: replied.then(|| at(received)),
            }
        };
        let complaints = [
            c(
                "2026-01-31T20:00:00Z",
                1,
                Some(true),
                Some("2026-02-08T00:00:00Z"),
                true,
            ), // Feb local
            c(
                "2026-01-10T00:00:00Z",
                1,
                Some(false),
                Some("2026-01-17T00:00:00Z"),
                false,
            ),
            c(
                "2026-01-11T00:00:00Z",
                1,
                None,
                Some("2026-01-18T00:00:00Z"),
                false,
            ), // unanswered, past
            c("2026-01-12T00:00:00Z", 2, None, None, false),
        ];
        let finding = |unit: i64, outcome, measures: Vec<Measure>, fen| FindingFacts {
            decided: NaiveDate::from_ymd_opt(2026, 3, 5).unwrap(),
            unit: UnitId(unit),
            outcome,
            violation: (outcome == FindingOutcome::Confirmed).then(|| "公车私用".to_string()),
            measures,
            recovered_fen: fen,
        };
        let findings = [
            finding(
                1,
                FindingOutcome::Confirmed,
                vec![Measure::PartySanction, Measure::Criticism, Measure::Judiciary],
                10_000,
            ),
            finding(2, FindingOutcome::Unfounded, vec![], 0),
        ];
        let s = summarize(&complaints, &findings, now);
        assert_eq!(s.total.received, 4);
        assert_eq!(s.total.forwarded, 3);
        assert_eq!(s.total.answered_in_time, 1);
        assert_eq!(s.total.overdue, 2);
        assert_eq!(s.total.replied, 1);
        assert_eq!(s.total.findings, 2);
        assert_eq!(s.total.confirmed, 1);
        assert_eq!(s.total.people, 3);
        assert_eq!(s.total.sanctioned, 1);
        assert_eq!(s.total.judiciary, 1);
        assert_eq!(s.total.recovered_fen, 10_000);
        let months: Vec<(Option<i64>, &str, u64)> = s
            .rows
            .iter()
            .map(|r| (r.unit.map(|u| u.0), r.month.as_str(), r.figures.received))
            .collect();
        assert_eq!(
            months,
            [
                (Some(1), "2026-01", 2),
                (Some(1), "2026-02", 1),
                (Some(1), "2026-03", 0),
                (Some(2), "2026-01", 1),
                (Some(2), "2026-03", 0)
            ]
        );
        let csv = summary_csv(&s, |u| u.map_or("-".into(), |u| format!("u{}", u.0)));
        assert!(csv.starts_with(SUMMARY_CSV_HEADER));
        assert!(
            csv.ends_with("total,,4,3,1,2,1,2,1,3,1,1,100.00,公车私用=1\n"),
            "{csv}"
        );
    }

    #[test]
    fn only_allowed_roles_see_the_number() {
        assert_eq!(shown_phone("13812345678", false), "138****5678");
        assert_eq!(shown_phone("13812345678", true), "13812345678");
    }
}

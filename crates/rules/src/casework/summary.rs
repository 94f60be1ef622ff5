//! How the office's figures are counted (complaints by the month they were received, findings by the
//! month they were decided, by unit) and written as lines, CSV and a table's header in either language.

use std::collections::BTreeMap;

use chrono::Datelike;
use serde::Serialize;
use tianshu_model::complaint::{ComplaintState, FindingOutcome, Measure};
use tianshu_model::{Lang, Timestamp, UnitId};

use crate::calendar::{date_of_day, local_day};

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

/// The columns of the figures: each one's Chinese and English title, in the page's words.
pub const SUMMARY_COLUMNS: [(&str, &str); 14] = [
    ("单位", "Unit"),
    ("月份", "Month"),
    ("受理举报", "Complaints received"),
    ("转办", "Forwarded"),
    ("按期反馈", "Answered in time"),
    ("逾期", "Overdue"),
    ("已答复举报人", "Replied to the reporter"),
    ("办结案件", "Cases with a finding"),
    ("查实违规", "Violations confirmed"),
    ("处理人数", "People dealt with"),
    ("党纪政务处分", "Party or administrative sanctions"),
    ("移送司法机关", "Referred to the judiciary"),
    ("追缴金额（元）", "Amount recovered (yuan)"),
    ("查实违规（按类型）", "Confirmed by type"),
];

/// The header of the figures in `lang`.
pub fn summary_header(lang: Lang) -> Vec<String> {
    SUMMARY_COLUMNS
        .iter()
        .map(|(zh, en)| lang.pick(zh, en).to_string())
        .collect()
}

/// The unit named on the last line, the total's.
fn total_label(lang: Lang) -> &'static str {
    lang.pick("合计", "Total")
}

/// One line of the figures, in the columns of [`SUMMARY_COLUMNS`]: the unit's name, the month, the
/// counts, the amount recovered (fen) and the confirmed violations by type (`type=n;...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    /// The unit's name (the total's label on the last line).
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

/// The figures as lines: one per unit and month, then the total (labelled in `lang`). `unit_name` names
/// a unit.
pub fn summary_lines(
    s: &Summary,
    lang: Lang,
    unit_name: impl Fn(Option<UnitId>) -> String,
) -> Vec<SummaryLine> {
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
    out.push(line(total_label(lang).into(), "", &s.total));
    out
}

/// The figures as CSV under the header in `lang`: one line per unit and month, then the total.
/// `unit_name` names a unit.
pub fn summary_csv(s: &Summary, lang: Lang, unit_name: impl Fn(Option<UnitId>) -> String) -> String {
    fn quote(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out = summary_header(lang).join(",") + "\n";
    for l in summary_lines(s, lang, unit_name) {
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

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
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
        let name = |u: Option<UnitId>| u.map_or("-".into(), |u| format!("u{}", u.0));
        let csv = summary_csv(&s, Lang::Zh, name);
        assert!(csv.starts_with("单位,月份,受理举报,转办,"), "{csv}");
        assert!(
            csv.ends_with("合计,,4,3,1,2,1,2,1,3,1,1,100.00,公车私用=1\n"),
            "{csv}"
        );
        let csv = summary_csv(&s, Lang::En, name);
        assert!(
            csv.starts_with("Unit,Month,Complaints received,Forwarded,Answered in time,Overdue,"),
            "{csv}"
        );
        assert!(csv.contains("\nu1,2026-01,2,2,0,2,0,0,0,0,0,0,0.00,\n"), "{csv}");
        assert!(
            csv.ends_with("Total,,4,3,1,2,1,2,1,3,1,1,100.00,公车私用=1\n"),
            "{csv}"
        );
    }
}

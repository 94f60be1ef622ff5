//! The fuel cards' report (per unit and China month): cards used, fills, litres, amount, findings by
//! check, fills flagged and the money at stake on them, cards cancelled and suspended, and the amount
//! recovered by the findings of fuel cases; and the report as lines titled in either language.
//!
//! Pure: the caller reads the facts of a period ([`FillFact`], [`FindingFact`], [`CardFact`],
//! [`RecoveryFact`]); [`fuel_report`] counts them and [`report_lines`] lays them out, for the API's
//! CSV/XLSX and `tianshu fuel report` alike.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use tianshu_model::fuel::{CardState, format_hundredths};
use tianshu_model::{Lang, Timestamp, UnitId, china_month};

use super::Check;

/// One stored transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillFact {
    /// The card's unit.
    pub unit: UnitId,
    /// When.
    pub time: Timestamp,
    /// The card.
    pub card: String,
    /// Litres, centilitres.
    pub litres_cl: i64,
    /// Amount, fen.
    pub amount_fen: i64,
}

/// One finding of the latest check of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingFact {
    /// The transaction.
    pub transaction_id: i64,
    /// Its unit.
    pub unit: UnitId,
    /// When the fill was.
    pub time: Timestamp,
    /// The check.
    pub check: Check,
    /// The money at stake, fen.
    pub at_stake_fen: i64,
}

/// A card cancelled or suspended, on the date its state took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFact {
    /// The card's unit.
    pub unit: UnitId,
    /// Cancelled or suspended.
    pub state: CardState,
    /// The local date.
    pub date: NaiveDate,
}

/// The amount a fuel case's finding recovered, on the local date it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryFact {
    /// The case's unit.
    pub unit: UnitId,
    /// The date decided.
    pub decided: NaiveDate,
    /// Amount recovered, fen.
    pub recovered_fen: i64,
}

/// The figures of one unit's month, or of the whole report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FuelFigures {
    /// Cards used (distinct).
    pub cards_used: u64,
    /// Fills.
    pub fills: u64,
    /// Litres, centilitres.
    pub litres_cl: i64,
    /// Amount, fen.
    pub amount_fen: i64,
    /// Findings by check id.
    pub findings: BTreeMap<Check, u64>,
    /// Fills with at least one finding.
    pub flagged_fills: u64,
    /// Money at stake, fen: per flagged fill, its largest finding's (as its case counts it).
    pub at_stake_fen: i64,
    /// Cards cancelled.
    pub cancelled: u64,
    /// Cards suspended.
    pub suspended: u64,
    /// Amount recovered by fuel cases' findings, fen.
    pub recovered_fen: i64,
    #[serde(skip)]
    cards: BTreeSet<String>,
    #[serde(skip)]
    flagged: BTreeMap<i64, i64>,
}

impl FuelFigures {
    fn add_fill(&mut self, f: &FillFact) {
        self.fills += 1;
        self.litres_cl += f.litres_cl;
        self.amount_fen += f.amount_fen;
        self.cards.insert(f.card.clone());
        self.cards_used = self.cards.len() as u64;
    }

    fn add_finding(&mut self, f: &FindingFact) {
        *self.findings.entry(f.check).or_default() += 1;
        let stake = self.flagged.entry(f.transaction_id).or_default();
        *stake = (*stake).max(f.at_stake_fen);
        self.flagged_fills = self.flagged.len() as u64;
        self.at_stake_fen = self.flagged.values().sum();
    }

    fn add_card(&mut self, c: &CardFact) {
        match c.state {
            CardState::Cancelled => self.cancelled += 1,
            CardState::Suspended => self.suspended += 1,
            CardState::Active => {}
        }
    }
}

/// One unit's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FuelReportRow {
    /// The unit.
    pub unit: UnitId,
    /// `YYYY-MM`, China time.
    pub month: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: FuelFigures,
}

/// The report of a period: by unit and month, and the total.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FuelReport {
    /// Over everything counted.
    pub total: FuelFigures,
    /// By unit, then month.
    pub rows: Vec<FuelReportRow>,
}

fn month_label(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn month_of(t: Timestamp) -> String {
    let ((y, m), ..) = china_month(t);
    format!("{y:04}-{m:02}")
}

/// Counts the report. Fills and findings by the China month of the fill, cards by the date of their
/// state, recoveries by the date decided. The caller passes only what falls in the period and the
/// units asked for.
pub fn fuel_report(
    fills: &[FillFact],
    findings: &[FindingFact],
    cards: &[CardFact],
    recoveries: &[RecoveryFact],
) -> FuelReport {
    let mut rows: BTreeMap<(UnitId, String), FuelFigures> = BTreeMap::new();
    let mut total = FuelFigures::default();
    for f in fills {
        total.add_fill(f);
        rows.entry((f.unit, month_of(f.time))).or_default().add_fill(f);
    }
    for f in findings {
        total.add_finding(f);
        rows.entry((f.unit, month_of(f.time))).or_default().add_finding(f);
    }
    for c in cards {
        total.add_card(c);
        rows.entry((c.unit, month_label(c.date))).or_default().add_card(c);
    }
    for r in recoveries {
        total.recovered_fen += r.recovered_fen;
        rows.entry((r.unit, month_label(r.decided)))
            .or_default()
            .recovered_fen += r.recovered_fen;
    }
    FuelReport {
        total,
        rows: rows
            .into_iter()
            .map(|((unit, month), figures)| FuelReportRow { unit, month, figures })
            .collect(),
    }
}

/// A check's title in `lang`.
pub fn check_title(check: Check, lang: Lang) -> &'static str {
    let (zh, en) = match check {
        Check::CardState => ("注销或冻结卡加油", "Cancelled or suspended card"),
        Check::Unbound => ("未绑定车辆", "Unbound card"),
        Check::OtherCar => ("为他车加油", "Other car"),
        Check::Product => ("油品不符", "Wrong product"),
        Check::OverLimit => ("超限额", "Over limit"),
        Check::NotAtStation => ("车辆不在加油站", "Car not at the station"),
        Check::OverTank => ("超油箱容量", "Over the tank"),
        Check::OverConsumption => ("超里程油耗", "Over consumption"),
        Check::DoubleFill => ("重复加油", "Double fill"),
        Check::OffHours => ("非工作时间", "Off hours"),
        Check::MonthRatio => ("月度油耗比异常", "Monthly ratio"),
    };
    lang.pick(zh, en)
}

/// One value of a line: a count, or hundredths (litres, yuan) written with two decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportValue {
    /// Text (the unit, the month).
    Text(String),
    /// A count.
    Count(u64),
    /// Hundredths of a litre or a yuan.
    Hundredths(i64),
}

impl std::fmt::Display for ReportValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportValue::Text(s) => f.write_str(s),
            ReportValue::Count(n) => write!(f, "{n}"),
            ReportValue::Hundredths(v) => f.write_str(&format_hundredths(*v)),
        }
    }
}

/// The report's header in `lang`: unit, month, the figures, then one column per check.
pub fn report_header(lang: Lang) -> Vec<String> {
    let fixed = [
        ("单位", "Unit"),
        ("月份", "Month"),
        ("用卡数", "Cards used"),
        ("加油笔数", "Fills"),
        ("加油量（升）", "Litres"),
        ("金额（元）", "Amount (yuan)"),
        ("疑点笔数", "Fills flagged"),
        ("涉及金额（元）", "Money at stake (yuan)"),
        ("注销卡数", "Cards cancelled"),
        ("冻结卡数", "Cards suspended"),
        ("追缴金额（元）", "Amount recovered (yuan)"),
    ];
    let checks = Check::ALL.iter().map(|c| check_title(*c, lang));
    fixed
        .iter()
        .map(|(zh, en)| lang.pick(zh, en))
        .chain(checks)
        .map(String::from)
        .collect()
}

/// The report as lines under [`report_header`]: one per unit and month, then the total (labelled in
/// `lang`). `unit_name` names a unit.
pub fn report_lines(
    r: &FuelReport,
    lang: Lang,
    unit_name: impl Fn(UnitId) -> String,
) -> Vec<Vec<ReportValue>> {
    fn line(unit: String, month: &str, f: &FuelFigures) -> Vec<ReportValue> {
        use ReportValue::{Count, Hundredths, Text};
        let mut out = vec![
            Text(unit),
            Text(month.to_string()),
            Count(f.cards_used),
            Count(f.fills),
            Hundredths(f.litres_cl),
            Hundredths(f.amount_fen),
            Count(f.flagged_fills),
            Hundredths(f.at_stake_fen),
            Count(f.cancelled),
            Count(f.suspended),
            Hundredths(f.recovered_fen),
        ];
        out.extend(
            Check::ALL
                .iter()
                .map(|c| Count(f.findings.get(c).copied().unwrap_or(0))),
        );
        out
    }
    r.rows
        .iter()
        .map(|row| line(unit_name(row.unit), &row.month, &row.figures))
        .chain(std::iter::once(line(
            lang.pick("合计", "Total").into(),
            "",
            &r.total,
        )))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn the_report_counts_by_unit_and_china_month() {
        let fill = |unit: i64, t: &str, card: &str, cl: i64| FillFact {
            unit: UnitId(unit),
            time: at(t),
            card: card.into(),
            litres_cl: cl,
            amount_fen: cl * 8,
        };
        // 2026-01-31T20:00Z is 1 February in China.
        let fills = [
            fill(1, "2026-01-10T02:00:00Z", "A", 4000),
            fill(1, "2026-01-12T02:00:00Z", "A", 3000),
            fill(1, "2026-01-31T20:00:00Z", "B", 5000),
            fill(2, "2026-01-15T02:00:00Z", "C", 2000),
        ];
        let finding = |id: i64, check, fen| FindingFact {
            transaction_id: id,
            unit: UnitId(1),
            time: at("2026-01-12T02:00:00Z"),
            check,
            at_stake_fen: fen,
        };
        let findings = [
            finding(2, Check::NotAtStation, 24_000),
            finding(2, Check::OffHours, 24_000),
            finding(9, Check::OverTank, 5_000),
        ];
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let cards = [CardFact {
            unit: UnitId(2),
            state: CardState::Cancelled,
            date: date("2026-01-20"),
        }];
        let rec = [RecoveryFact {
            unit: UnitId(1),
            decided: date("2026-02-03"),
            recovered_fen: 12_345,
        }];
        let r = fuel_report(&fills, &findings, &cards, &rec);
        assert_eq!(r.total.fills, 4);
        assert_eq!(r.total.cards_used, 3);
        assert_eq!(r.total.litres_cl, 14_000);
        assert_eq!(r.total.flagged_fills, 2);
        assert_eq!(
            r.total.at_stake_fen, 29_000,
            "the largest of a fill's findings, once"
        );
        assert_eq!(r.total.findings[&Check::NotAtStation], 1);
        assert_eq!((r.total.cancelled, r.total.recovered_fen), (1, 12_345));
        let keys: Vec<(i64, &str, u64, u64)> = r
            .rows
            .iter()
            .map(|x| (x.unit.0, x.month.as_str(), x.figures.fills, x.figures.cards_used))
            .collect();
        assert_eq!(
            keys,
            [(1, "2026-01", 2, 1), (1, "2026-02", 1, 1), (2, "2026-01", 1, 1)]
        );
        let lines = report_lines(&r, Lang::En, |u| format!("u{}", u.0));
        assert_eq!(report_header(Lang::En).len(), lines[0].len());
        let total: Vec<String> = lines.last().unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(
            total[..11],
            [
                "Total", "", "3", "4", "140.00", "1120.00", "2", "290.00", "1", "0", "123.45"
            ]
        );
        assert_eq!(report_header(Lang::Zh)[0], "单位");
    }
}

//! A planted year of the office's casework: complaints about the world's cars with what became of each
//! (forwarded, answered in time or late or never, sent back, accepted, replied to) and the findings of
//! the cases opened from them, as the casework file `tianshu casework import` loads; and the totals
//! the office's figures must show for that year, counted here as each fate is drawn (not by the
//! platform's own counting, only in its figures' shape), by unit and month.
//!
//! The year is the calendar year before the world's start date, so every deadline of it has passed by
//! the time the world runs: a complaint forwarded and never answered is overdue. A few complaints are
//! planted just outside the year, on both sides of its local midnights, and some findings are decided
//! in the next year: the totals leave them out.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tianshu_model::Timestamp;
use tianshu_model::complaint::{Accountable, Channel, DEFAULT_VIOLATION_TYPES, FindingOutcome, Measure};
use tianshu_rules::calendar::Calendar;
use tianshu_rules::casework::file::{CaseworkRecord, RecordFinding, RecordStep};
use tianshu_rules::casework::{ComplaintAction, DEFAULT_ANSWER_DAYS, Figures as Totals, deadline};

use crate::files::{WriteError, write_records_and_totals};
use crate::plan::{local_date, local_ms};
use crate::world::{World, mix_seed};

/// File name of the planted year's complaints inside a world directory.
pub const CASEWORK_FILE: &str = "casework.jsonl";
/// File name of the planted year's totals inside a world directory.
pub const CASEWORK_TOTALS_FILE: &str = "casework_totals.json";

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One unit's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalsRow {
    /// The unit's path (`None`: complaints naming no known car).
    pub unit: Option<String>,
    /// `YYYY-MM`, local.
    pub month: String,
    /// Its figures.
    #[serde(flatten)]
    pub totals: Totals,
}

/// What the summary of the planted year must show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearTotals {
    /// The year's first day (local).
    pub from: NaiveDate,
    /// The next year's first day (exclusive).
    pub to: NaiveDate,
    /// Over the year.
    pub total: Totals,
    /// By unit and month.
    pub rows: Vec<TotalsRow>,
}

/// The planted year: the casework file's records and their totals.
#[derive(Debug, Clone)]
pub struct PlantedYear {
    /// The records, in the order received.
    pub records: Vec<CaseworkRecord>,
    /// What the summary of the year must show.
    pub totals: YearTotals,
}

/// Counts as the fates are drawn: the year's total and each unit's month.
struct Counter {
    year: i32,
    total: Totals,
    rows: BTreeMap<(Option<String>, String), Totals>,
}

impl Counter {
    /// The total and the row of a unit's local month, when `date` falls in the year.
    fn at(&mut self, unit: Option<&str>, date: NaiveDate) -> Option<[&mut Totals; 2]> {
        if date.year() != self.year {
            return None;
        }
        let month = format!("{:04}-{:02}", date.year(), date.month());
        let row = self.rows.entry((unit.map(str::to_string), month)).or_default();
        Some([&mut self.total, row])
    }
}

/// How one complaint went, as drawn.
struct Fate {
    forwarded: bool,
    in_time: Option<bool>,
    replied: bool,
}

/// Draws the steps of a complaint about a known car: forwarded or not, answered in time, late or never,
/// perhaps sent back and answered again, accepted and replied to.
fn draw_steps(rng: &mut StdRng, calendar: &Calendar, r: &mut CaseworkRecord) -> Fate {
    let mut fate = Fate {
        forwarded: false,
        in_time: None,
        replied: false,
    };
    if rng.gen_bool(0.15) {
        return fate;
    }
    let step = |action, at: i64| RecordStep {
        action,
        at: Timestamp(at),
        note: String::new(),
    };
    let forwarded = r.received.0 + rng.gen_range(HOUR_MS..48 * HOUR_MS);
    let due = deadline(calendar, Timestamp(forwarded), DEFAULT_ANSWER_DAYS).0;
    r.deadline = Some(Timestamp(due));
    r.steps.push(step(ComplaintAction::Forward, forwarded));
    fate.forwarded = true;
    if rng.gen_bool(0.1) {
        return fate;
    }
    let in_time = rng.gen_bool(0.75);
    let mut t = if in_time {
        forwarded + rng.gen_range(HOUR_MS / 2..(due - forwarded - HOUR_MS).max(HOUR_MS))
    } else {
        due + rng.gen_range(HOUR_MS..10 * DAY_MS)
    };
    fate.in_time = Some(in_time);
    r.steps.push(step(ComplaintAction::Answer, t));
    if rng.gen_bool(0.2) {
        t += DAY_MS;
        r.steps.push(step(ComplaintAction::SendBack, t));
        t += 2 * DAY_MS;
        r.steps.push(step(ComplaintAction::Answer, t));
    }
    if rng.gen_bool(0.8) {
        t += DAY_MS;
        r.steps.push(step(ComplaintAction::Accept, t));
        if rng.gen_bool(0.85) {
            r.steps.push(step(ComplaintAction::Reply, t + HOUR_MS));
            fate.replied = true;
        }
    }
    fate
}

/// Draws the finding of a case opened from a forwarded complaint, some weeks after its last step.
fn draw_finding(rng: &mut StdRng, r: &CaseworkRecord, n: usize) -> RecordFinding {
    let last = r.steps.last().map_or(r.received, |s| s.at);
    let at = Timestamp(last.0 + rng.gen_range(DAY_MS..30 * DAY_MS));
    let roll = rng.gen_range(0..100);
    let outcome = match roll {
        0..65 => FindingOutcome::Confirmed,
        65..85 => FindingOutcome::Explained,
        _ => FindingOutcome::Unfounded,
    };
    let mut f = RecordFinding {
        at,
        decided: local_date(at.0),
        outcome,
        violation: None,
        people: Vec::new(),
        recovered_fen: 0,
    };
    if outcome == FindingOutcome::Confirmed {
        let kinds = DEFAULT_VIOLATION_TYPES;
        f.violation = Some(kinds[rng.gen_range(0..kinds.len())].to_string());
        let people = match rng.gen_range(0..100) {
            0..85 => 1,
            85..97 => 2,
            _ => 3,
        };
        f.people = (0..people)
            .map(|k| Accountable {
                name: format!("当事人{n}-{k}"),
                post: ["司机", "科员", "科长"][k % 3].into(),
                unit: String::new(),
                measure: Measure::ALL[rng.gen_range(0..Measure::ALL.len())],
            })
            .collect();
        if rng.gen_bool(0.5) {
            f.recovered_fen = rng.gen_range(100..500_000);
        }
    }
    f
}

fn count_complaint(c: &mut Counter, unit: Option<&str>, r: &CaseworkRecord, fate: &Fate) {
    let Some(all) = c.at(unit, local_date(r.received.0)) else {
        return;
    };
    for t in all {
        t.received += 1;
        t.forwarded += u64::from(fate.forwarded);
        match fate.in_time {
            Some(true) => t.answered_in_time += 1,
            // Late, or never answered by a deadline long past.
            Some(false) => t.overdue += 1,
            None if fate.forwarded => t.overdue += 1,
            None => {}
        }
        t.replied += u64::from(fate.replied);
    }
}

fn count_finding(c: &mut Counter, unit: &str, f: &RecordFinding) {
    let Some(all) = c.at(Some(unit), f.decided) else {
        return;
    };
    for t in all {
        t.findings += 1;
        if f.outcome != FindingOutcome::Confirmed {
            continue;
        }
        t.confirmed += 1;
        *t.confirmed_by_type
            .entry(f.violation.clone().unwrap_or_default())
            .or_default() += 1;
        t.people += f.people.len() as u64;
        t.sanctioned += f.people.iter().filter(|p| p.measure.is_sanction()).count() as u64;
        t.judiciary += f
            .people
            .iter()
            .filter(|p| p.measure == Measure::Judiciary)
            .count() as u64;
        t.recovered_fen += f.recovered_fen;
    }
}

/// The instants complaints are received at: 10 to 30 a month at random office-ish times, and four
/// around the year's local midnights (the first and last inside it, the others outside), in order.
fn receipt_times(rng: &mut StdRng, year: i32) -> Vec<i64> {
    let date = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let mut times = vec![
        local_ms(date(year - 1, 12, 31), 23 * 3600 + 50 * 60),
        local_ms(date(year, 1, 1), 5 * 60),
        local_ms(date(year, 12, 31), 23 * 3600 + 50 * 60),
        local_ms(date(year + 1, 1, 1), 5 * 60),
    ];
    for month in 1..=12 {
        let first = date(year, month, 1);
        let days = first
            .checked_add_months(chrono::Months::new(1))
            .map_or(28, |next| (next - first).num_days());
        for _ in 0..rng.gen_range(10..=30) {
            let day = first + chrono::Days::new(rng.gen_range(0..days) as u64);
            times.push(local_ms(day, rng.gen_range(7 * 3600..22 * 3600)));
        }
    }
    times.sort_unstable();
    times
}

/// Plants the year before the world's start date (see the module's notes).
pub fn planted_year(world: &World) -> PlantedYear {
    let year = world.config.start_date.year() - 1;
    let mut rng = StdRng::seed_from_u64(mix_seed(&[world.config.seed, 0xCA5E, year as u64]));
    let calendar = Calendar::builtin().unwrap_or_default();
    let mut counter = Counter {
        year,
        total: Totals::default(),
        rows: BTreeMap::new(),
    };
    let mut records = Vec::new();
    let mut taken = HashSet::new();
    for (n, mut received) in receipt_times(&mut rng, year).into_iter().enumerate() {
        let car = (!world.vehicles.is_empty() && !rng.gen_bool(0.1))
            .then(|| &world.vehicles[rng.gen_range(0..world.vehicles.len())]);
        // A case opened from a complaint is keyed on its car and start: one per car and instant.
        while !taken.insert((car.map(|v| v.plate.clone()), received)) {
            received += 1000;
        }
        let plate = match car {
            // Written as callers say them: now with a separator, now without.
            Some(v) if n % 5 == 0 => v.plate.replacen("鄂B", "鄂B·", 1),
            Some(v) => v.plate.clone(),
            None => format!("京A{:05}", rng.gen_range(0..100_000)),
        };
        let mut r = CaseworkRecord {
            received: Timestamp(received),
            channel: Channel::ALL[rng.gen_range(0..Channel::ALL.len())],
            plate,
            text: format!("第{n}号举报：公车被用于私事"),
            place: String::new(),
            deadline: None,
            steps: Vec::new(),
            finding: None,
        };
        let unit = car.map(|v| world.units[v.unit].path.as_str());
        let fate = match car {
            Some(_) => draw_steps(&mut rng, &calendar, &mut r),
            None => Fate {
                forwarded: false,
                in_time: None,
                replied: false,
            },
        };
        count_complaint(&mut counter, unit, &r, &fate);
        if let Some(unit) = unit.filter(|_| fate.forwarded && rng.gen_bool(0.35)) {
            let f = draw_finding(&mut rng, &r, n);
            count_finding(&mut counter, unit, &f);
            r.finding = Some(f);
        }
        records.push(r);
    }
    let first = |y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default();
    PlantedYear {
        records,
        totals: YearTotals {
            from: first(year),
            to: first(year + 1),
            total: counter.total,
            rows: counter
                .rows
                .into_iter()
                .map(|((unit, month), totals)| TotalsRow { unit, month, totals })
                .collect(),
        },
    }
}

/// Writes the planted year's records (`casework.jsonl`) and totals (`casework_totals.json`) into `dir`,
/// and returns their paths.
pub fn write_planted_year(world: &World, dir: &Path) -> Result<[PathBuf; 2], WriteError> {
    let planted = planted_year(world);
    write_records_and_totals(
        dir,
        (CASEWORK_FILE, &planted.records),
        (CASEWORK_TOTALS_FILE, &planted.totals),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    fn world() -> World {
        let start = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        World::generate(&WorldConfig {
            vehicles: 40,
            ..WorldConfig::from_date(start, 1)
        })
    }

    #[test]
    fn the_year_before_the_start_is_planted_and_every_record_checks() {
        let p = planted_year(&world());
        assert_eq!(p.totals.from, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        let types: Vec<String> = DEFAULT_VIOLATION_TYPES.iter().map(|s| s.to_string()).collect();
        for (i, r) in p.records.iter().enumerate() {
            r.check(&types).unwrap_or_else(|e| panic!("record {i}: {e}"));
        }
        let t = &p.totals.total;
        // The four around midnight: two inside the year.
        assert_eq!(t.received as usize, p.records.len() - 2);
        assert!(t.forwarded > 0 && t.answered_in_time > 0 && t.overdue > 0 && t.replied > 0);
        assert!(t.confirmed > 0 && t.people >= t.confirmed && t.findings > t.confirmed);
        assert!(p.totals.rows.iter().any(|r| r.unit.is_none()), "unknown cars");
        let sum: u64 = p.totals.rows.iter().map(|r| r.totals.received).sum();
        assert_eq!(sum, t.received, "the rows add up to the total");
    }

    #[test]
    fn the_same_world_plants_the_same_year() {
        let (a, b) = (planted_year(&world()), planted_year(&world()));
        assert_eq!(a.records, b.records);
        assert_eq!(a.totals, b.totals);
    }
}

//! The office's yearly figures of the reform and the pool: cars by unit and class, kept and disposed of
//! (the reduction rate), terminals installed (the install rate, exempt cars apart), marking; the pool's
//! trips and km by kind and by unit served (from settled trips); violations raised by rule; the year's
//! complaints and findings and its fuel-card figures (the totals of [`crate::casework::summarize`] and
//! [`crate::fuel::report::fuel_report`] over the same year and units, which [`YearlyFigures::with_office`]
//! takes). Counted here, from what the store reads; the API and the command line only lay them out.

use std::collections::BTreeMap;

use serde::Serialize;
use tianshu_model::VehicleClass;
use tianshu_model::carpool::{CarRequest, FleetFields, MarkingStatus, RequestState, TerminalStatus};

use crate::casework::Figures;
use crate::fuel::report::FuelFigures;
use crate::summary::{DaySummary, DaysFigures, days_figures};

/// A car as the figures count it.
#[derive(Debug, Clone)]
pub struct YearCar {
    /// Its unit's path.
    pub unit: String,
    /// Its class.
    pub class: VehicleClass,
    /// Its fleet fields.
    pub fleet: FleetFields,
}

/// Cars of a unit and class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitClass {
    /// The unit's path.
    pub unit: String,
    /// The class.
    pub class: VehicleClass,
    /// Kept at the year's end.
    pub kept: u64,
    /// Disposed of in the year.
    pub disposed: u64,
}

/// The reform's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reform {
    /// Cars kept at the year's end.
    pub kept: u64,
    /// Cars disposed of in the year.
    pub disposed: u64,
    /// Disposed of in the year over the cars at its start, percent.
    pub reduction_rate: f64,
    /// Kept cars with a terminal installed.
    pub installed: u64,
    /// Kept cars exempt from a terminal (shown apart).
    pub exempt: u64,
    /// Installed over the kept cars not exempt, percent.
    pub install_rate: f64,
    /// Kept cars marked.
    pub marked: u64,
    /// Kept cars exempt from marking.
    pub marking_exempt: u64,
}

/// The pool's service of one kind to one unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    /// `regular`, `emergency` or `campaign`.
    pub kind: &'static str,
    /// The unit served's path.
    pub unit: String,
    /// Trips settled.
    pub trips: u64,
    /// Km driven (as confirmed).
    pub km: f64,
}

/// The year's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearlyFigures {
    /// The year.
    pub year: i32,
    /// Cars by unit and class.
    pub cars: Vec<UnitClass>,
    /// The reform's totals.
    pub reform: Reform,
    /// The pool's service by kind and unit served.
    pub service: Vec<Service>,
    /// Violations raised in the year, by rule.
    pub violations: Vec<(String, u64)>,
    /// All cars' days of the year, from their daily summaries: online share, km, trips, cases by rule.
    pub days: DaysFigures,
    /// The year's complaints and findings: the casework summary's total over the same units.
    pub casework: Figures,
    /// The year's fuel cards: the fuel report's total over the same units.
    pub fuel: FuelFigures,
}

impl YearlyFigures {
    /// The figures with the office's casework and fuel-card totals of the same year and units.
    pub fn with_office(self, casework: Figures, fuel: FuelFigures) -> YearlyFigures {
        YearlyFigures {
            casework,
            fuel,
            ..self
        }
    }
}

/// The year of `t` in China time.
pub fn china_year(t: tianshu_model::Timestamp) -> i32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(t.0)
        .map_or(0, |d| d.with_timezone(&tianshu_model::china_offset()).year())
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

/// The figures of `year`: `cars` every registered car, `requests` the pool's requests with the path of
/// the unit served (those whose window starts in the year count), `rules` the rule of each alert case
/// raised in the year, `summaries` the daily summaries of the year's days of the cars counted.
pub fn yearly(
    year: i32,
    cars: &[YearCar],
    requests: &[(String, CarRequest)],
    rules: &[String],
    summaries: &[DaySummary],
) -> YearlyFigures {
    let mut by: BTreeMap<(String, &'static str), UnitClass> = BTreeMap::new();
    let (mut kept, mut disposed, mut installed, mut exempt, mut marked, mut marking_exempt) =
        (0, 0, 0, 0, 0, 0);
    for c in cars {
        let gone = c.fleet.disposed_on.as_deref().filter(|_| c.fleet.disposed());
        let gone_year = gone.and_then(|d| d.get(..4)).and_then(|y| y.parse::<i32>().ok());
        let e = by
            .entry((c.unit.clone(), c.class.as_str()))
            .or_insert_with(|| UnitClass {
                unit: c.unit.clone(),
                class: c.class,
                kept: 0,
                disposed: 0,
            });
        match gone_year {
            Some(y) if y < year => continue,
            Some(y) if y == year => {
                e.disposed += 1;
                disposed += 1;
                continue;
            }
            _ => {
                e.kept += 1;
                kept += 1;
            }
        }
        match c.fleet.terminal_status {
            TerminalStatus::Installed => installed += 1,
            TerminalStatus::Exempt => exempt += 1,
            TerminalStatus::Missing => {}
        }
        match c.fleet.marking_status {
            MarkingStatus::Marked => marked += 1,
            MarkingStatus::Exempt => marking_exempt += 1,
            MarkingStatus::Unmarked => {}
        }
    }
    let mut service: BTreeMap<(&'static str, String), Service> = BTreeMap::new();
    for (unit, r) in requests {
        let Some(s) = r.settlement.as_ref().filter(|_| r.state == RequestState::Settled) else {
            continue;
        };
        if china_year(r.fields.start) != year {
            continue;
        }
        let kind = r.fields.kind.as_str();
        let e = service.entry((kind, unit.clone())).or_insert_with(|| Service {
            kind,
            unit: unit.clone(),
            trips: 0,
            km: 0.0,
        });
        e.trips += 1;
        e.km += s.km;
    }
    let mut violations: BTreeMap<String, u64> = BTreeMap::new();
    for rule in rules {
        *violations.entry(rule.clone()).or_default() += 1;
    }
    YearlyFigures {
        year,
        cars: by.into_values().filter(|u| u.kept + u.disposed > 0).collect(),
        reform: Reform {
            kept,
            disposed,
            reduction_rate: percent(disposed, kept + disposed),
            installed,
            exempt,
            install_rate: percent(installed, kept - exempt),
            marked,
            marking_exempt,
        },
        service: service.into_values().collect(),
        violations: violations.into_iter().collect(),
        days: days_figures(summaries),
        casework: Figures::default(),
        fuel: FuelFigures::default(),
    }
}

#[cfg(test)]
mod tests {
    use tianshu_model::carpool::{DisposalHow, Ownership};

    use super::*;

    fn car(unit: &str, disposed: Option<&str>, terminal: TerminalStatus) -> YearCar {
        YearCar {
            unit: unit.into(),
            class: VehicleClass::General,
            fleet: FleetFields {
                ownership: Ownership::Unit,
                disposed_on: disposed.map(Into::into),
                disposal: disposed.map(|_| DisposalHow::Auctioned),
                terminal_status: terminal,
                terminal_exempt_reason: (terminal == TerminalStatus::Exempt).then(|| "公安".into()),
                ..FleetFields::default()
            },
        }
    }

    #[test]
    fn the_reform_counts_kept_disposed_and_installed_cars_exempt_apart() {
        let cars = [
            car("市委", None, TerminalStatus::Installed),
            car("市委", None, TerminalStatus::Installed),
            car("市委", None, TerminalStatus::Missing),
            car("公安局", None, TerminalStatus::Exempt),
            car("市委", Some("2026-05-01"), TerminalStatus::Installed),
            car("市委", Some("2025-05-01"), TerminalStatus::Installed),
            car("市委", Some("2027-01-02"), TerminalStatus::Installed),
        ];
        let f = yearly(
            2026,
            &cars,
            &[],
            &["off_hours".into(), "overspeed".into(), "off_hours".into()],
            &[],
        );
        assert_eq!((f.reform.kept, f.reform.disposed), (5, 1));
        assert_eq!(f.reform.reduction_rate, 16.67);
        assert_eq!((f.reform.installed, f.reform.exempt), (3, 1));
        assert_eq!(f.reform.install_rate, 75.0);
        assert_eq!(f.cars.len(), 2);
        assert_eq!(
            (f.cars[1].unit.as_str(), f.cars[1].kept, f.cars[1].disposed),
            ("市委", 4, 1)
        );
        assert_eq!(
            f.violations,
            [("off_hours".to_string(), 2), ("overspeed".to_string(), 1)]
        );
    }
}

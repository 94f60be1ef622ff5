//! The checks of a fuel-card transaction against the card, the car and its track: what an auditor of
//! fuel-card statements looks for, each finding with its evidence, a severity and the money at stake.
//!
//! Pure: the caller gathers a [`FillContext`] (the card, the car's profile, its positions around the
//! fill, its previous fill and the distance driven since, the month's spend on the card, the kind of
//! day) and [`check_fill`] decides. All thresholds are in [`FuelConfig`] (`[rules.fuel]`). One
//! transaction's findings become one case of rule [`FUEL_RULE`]; a re-run that finds nothing withdraws
//! it.

use serde::{Deserialize, Serialize};
use tianshu_model::fuel::{Card, FuelProfile, FuelTransaction};
use tianshu_model::{LonLat, Timestamp, VehicleId};

use crate::{DayKind, Severity};

mod checks;
pub mod report;
pub use checks::check_fill;

/// The rule id of fuel cases.
pub const FUEL_RULE: &str = "fuel";

/// The thresholds of the fuel checks (`[rules.fuel]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FuelConfig {
    /// Whether transactions are checked when imported. Default true.
    pub enabled: bool,
    /// The car must have been within this distance of the station... Metres. Default 300.
    pub near_station_m: f64,
    /// ... at some fix within this many minutes either side of the transaction. Default 20.
    pub near_window_minutes: u32,
    /// Litres above the tank's capacity times this are more than the tank holds. Default 1.05.
    pub tank_tolerance: f64,
    /// Litres above (distance since the previous fill × rated consumption) times this are more than the
    /// car could have burned. Default 1.5.
    pub consumption_tolerance: f64,
    /// Fills below this many litres are not compared with the distance driven (a top-up). Default 10.
    pub consumption_min_litres: f64,
    /// Two fills of one car or card closer than this are a double fill. Minutes. Default 240.
    pub double_fill_minutes: u32,
    /// Two fills farther apart than a car could drive at this speed are impossible. km/h. Default 120.
    pub max_travel_kmh: f64,
    /// The start of the working day on a working day, local time. Default 07:00.
    pub working_from: String,
    /// Its end. Default 20:00.
    pub working_to: String,
    /// A car's month is flagged when the litres bought in it exceed the litres its driven distance needs
    /// (km × rated consumption) times this, plus one tankful (a fill late in the month is driven off in
    /// the next). Default 1.3.
    pub month_ratio_max: f64,
    /// Months with fewer litres bought than this are not compared. Default 50.
    pub month_min_litres: f64,
    /// Every this many minutes the fills of the last `recheck_days` days whose car's track received
    /// fixes late (a blind-area backfill) are checked again; 0 never. Default 10.
    pub recheck_minutes: u32,
    /// How far back late fixes re-check fills. Days. Default 35.
    pub recheck_days: u32,
    /// Cases opened by the fuel checks escalate by themselves after this many hours unexplained; 0 never.
    /// Default 0.
    pub escalate_after_hours: u32,
}

impl Default for FuelConfig {
    fn default() -> Self {
        FuelConfig {
            enabled: true,
            near_station_m: 300.0,
            near_window_minutes: 20,
            tank_tolerance: 1.05,
            consumption_tolerance: 1.5,
            consumption_min_litres: 10.0,
            double_fill_minutes: 240,
            max_travel_kmh: 120.0,
            month_ratio_max: 1.3,
            month_min_litres: 50.0,
            recheck_minutes: 10,
            recheck_days: 35,
            working_from: "07:00".into(),
            working_to: "20:00".into(),
            escalate_after_hours: 0,
        }
    }
}

impl FuelConfig {
    /// Checks the thresholds; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("near_station_m", self.near_station_m),
            ("tank_tolerance", self.tank_tolerance),
            ("consumption_tolerance", self.consumption_tolerance),
            ("max_travel_kmh", self.max_travel_kmh),
            ("month_ratio_max", self.month_ratio_max),
        ];
        if let Some((k, v)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(format!("rules.fuel.{k} = {v} must be a positive number"));
        }
        self.working_window()?;
        Ok(())
    }

    /// The working window as seconds of the day.
    fn working_window(&self) -> Result<(u32, u32), String> {
        let parse = |k: &str, v: &str| {
            crate::timetable::parse_hhmm(v).ok_or_else(|| format!("rules.fuel.{k} = {v:?} is not HH:MM"))
        };
        let (from, to) = (
            parse("working_from", &self.working_from)?,
            parse("working_to", &self.working_to)?,
        );
        if from >= to {
            return Err(format!(
                "rules.fuel.working_from {} is not before working_to {}",
                self.working_from, self.working_to
            ));
        }
        Ok((from, to))
    }
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A cancelled or suspended card was used.
    CardState,
    /// A pool card was used with no car named.
    Unbound,
    /// The card was used for a car other than the one it is bound to.
    OtherCar,
    /// The product does not match the car's fuel.
    Product,
    /// Over the card's per-fill or monthly limit.
    OverLimit,
    /// The car was not at the station.
    NotAtStation,
    /// More litres than the tank holds.
    OverTank,
    /// More litres than the car could have burned since its previous fill.
    OverConsumption,
    /// Two fills too close in time, or too far apart in space for the time between them.
    DoubleFill,
    /// Outside working hours or on a rest day or holiday, no order covering the car.
    OffHours,
    /// Over a car's month, far more litres bought than its driven distance needs (found on the month's
    /// last fill).
    MonthRatio,
}

impl Check {
    /// Every check.
    pub const ALL: [Check; 11] = [
        Check::CardState,
        Check::Unbound,
        Check::OtherCar,
        Check::Product,
        Check::OverLimit,
        Check::NotAtStation,
        Check::OverTank,
        Check::OverConsumption,
        Check::DoubleFill,
        Check::OffHours,
        Check::MonthRatio,
    ];

    /// The check of an id [`Check::as_str`] gives.
    pub fn parse(s: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The id used in the API and the case's evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::CardState => "card_state",
            Check::Unbound => "unbound",
            Check::OtherCar => "other_car",
            Check::Product => "product",
            Check::OverLimit => "over_limit",
            Check::NotAtStation => "not_at_station",
            Check::OverTank => "over_tank",
            Check::OverConsumption => "over_consumption",
            Check::DoubleFill => "double_fill",
            Check::OffHours => "off_hours",
            Check::MonthRatio => "month_ratio",
        }
    }
}

/// One finding on a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check.
    pub check: Check,
    /// How serious.
    pub severity: Severity,
    /// Why, in English.
    pub reason: String,
    /// Why, in Chinese.
    pub reason_zh: String,
    /// The money at stake, fen (the whole fill, or the part over a limit or over what was needed).
    pub at_stake_fen: i64,
    /// The evidence (distances, positions, figures).
    pub evidence: serde_json::Value,
}

/// The previous fill of the same car (or card).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousFill {
    /// When.
    pub time: Timestamp,
    /// Where, when the station is known.
    pub at: Option<LonLat>,
    /// Its station as written.
    pub station: String,
}

/// A car's China calendar month, for the month's last fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonthUse {
    /// The month, `YYYY-MM`.
    pub month: (i32, u32),
    /// Litres bought for the car in the month, centilitres.
    pub litres_cl: i64,
    /// What they cost, fen.
    pub amount_fen: i64,
    /// Fills.
    pub fills: usize,
    /// Kilometres the car drove in the month, from its track.
    pub km: f64,
}

/// Everything [`check_fill`] looks at.
#[derive(Debug, Clone)]
pub struct FillContext<'a> {
    /// The transaction.
    pub txn: &'a FuelTransaction,
    /// Its card (an unknown card never gets this far: the import refuses it).
    pub card: &'a Card,
    /// The car the fill is for: the card's, or the one the statement names; with its plate.
    pub vehicle: Option<(VehicleId, &'a str)>,
    /// The plate the statement names, when it names one that is not a registered car.
    pub unknown_plate: Option<&'a str>,
    /// That car's fuel profile.
    pub profile: Option<FuelProfile>,
    /// The station's position (WGS-84), when the station is registered.
    pub station: Option<LonLat>,
    /// The car's fixes within ±`near_window_minutes` of the fill, in time order.
    pub positions: &'a [(Timestamp, LonLat)],
    /// Whether the car has any fix at all within a day of the fill (no track says nothing).
    pub tracked: bool,
    /// The car's (or a pool card's) previous fill.
    pub previous: Option<PreviousFill>,
    /// Kilometres the car drove since then, from its track, when it has one.
    pub km_since_previous: Option<f64>,
    /// The card's spend this calendar month before this fill, fen.
    pub month_spent_fen: i64,
    /// The kind of day of the fill, when the calendar knows it.
    pub day: Option<DayKind>,
    /// Whether an approved order or filing covers the car at the time.
    pub covered_by_order: bool,
    /// The car's month, when this is the last fill of it so far and the car has a track in it.
    pub month: Option<MonthUse>,
}

/// The case of a transaction's findings: the most serious finding's severity, the reasons joined,
/// the findings as the episode's evidence.
pub fn case_texts(findings: &[Finding]) -> Option<(Severity, String, String, i64)> {
    let severity = findings.iter().map(|f| f.severity).max()?;
    let reason = findings
        .iter()
        .map(|f| f.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let reason_zh = findings
        .iter()
        .map(|f| f.reason_zh.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let at_stake = findings.iter().map(|f| f.at_stake_fen).max().unwrap_or(0);
    Some((severity, reason, reason_zh, at_stake))
}

#[cfg(test)]
mod tests {
    use tianshu_model::UnitId;
    use tianshu_model::fuel::{CardState, Issuer, Product};

    use super::*;

    fn txn(time: &str, litres_cl: i64) -> FuelTransaction {
        FuelTransaction {
            card: "1000".into(),
            time: tianshu_model::fuel::parse_local_time(time).unwrap(),
            station: "S1".into(),
            product: Product::Petrol92,
            litres_cl,
            unit_price_fen: 750,
            amount_fen: litres_cl * 750 / 100,
            plate: None,
        }
    }

    fn card() -> Card {
        Card {
            number: "1000".into(),
            issuer: Issuer::Sinopec,
            unit: UnitId(1),
            vehicle: Some(VehicleId(7)),
            state: CardState::Active,
            state_date: None,
            state_reason: String::new(),
            limit_fill_fen: Some(50_000),
            limit_month_fen: None,
        }
    }

    const STATION: LonLat = LonLat::new(115.04, 30.20);

    fn ctx<'a>(
        t: &'a FuelTransaction,
        card: &'a Card,
        positions: &'a [(Timestamp, LonLat)],
    ) -> FillContext<'a> {
        FillContext {
            txn: t,
            card,
            vehicle: Some((VehicleId(7), "鄂B12345")),
            unknown_plate: None,
            profile: Some(FuelProfile::default_for(tianshu_model::VehicleClass::General)),
            station: Some(STATION),
            positions,
            tracked: true,
            previous: None,
            km_since_previous: Some(500.0),
            month_spent_fen: 0,
            day: Some(DayKind::Working),
            covered_by_order: false,
            month: None,
        }
    }

    fn checks(f: &[Finding]) -> Vec<Check> {
        f.iter().map(|f| f.check).collect()
    }

    #[test]
    fn a_fill_at_the_station_in_working_hours_is_clean() {
        let t = txn("2026-03-05 10:00:00", 4000);
        let c = card();
        let at = [(t.time.add_millis(-120_000), LonLat::new(115.0405, 30.2002))];
        assert_eq!(check_fill(&FuelConfig::default(), &ctx(&t, &c, &at)), vec![]);
    }

    #[test]
    fn each_misuse_is_found_with_its_evidence() {
        let cfg = FuelConfig::default();
        let c = card();
        // The car stood at the depot 5 km away.
        let t = txn("2026-03-05 10:00:00", 4000);
        let far = [(t.time, LonLat::new(115.09, 30.20))];
        let f = check_fill(&cfg, &ctx(&t, &c, &far));
        assert_eq!(checks(&f), vec![Check::NotAtStation]);
        assert!(f[0].evidence["nearest_m"].as_f64().unwrap() > 4000.0);
        // 80 L into a 60 L tank, on a Sunday evening, over the fill limit.
        let t = txn("2026-03-08 21:30:00", 8000);
        let at = [(t.time, STATION)];
        let mut x = ctx(&t, &c, &at);
        x.day = Some(DayKind::RestDay);
        let f = check_fill(&cfg, &x);
        assert_eq!(
            checks(&f),
            vec![Check::OverLimit, Check::OverTank, Check::OffHours]
        );
        // 45 L after 100 km at 8 L/100 km; 30 minutes after a fill 60 km away; cancelled card.
        let t = txn("2026-03-05 10:00:00", 4500);
        let mut c2 = card();
        c2.state = CardState::Cancelled;
        c2.state_reason = "人员调离".into();
        let mut x = ctx(&t, &c2, &at);
        x.km_since_previous = Some(100.0);
        x.previous = Some(PreviousFill {
            time: t.time.add_millis(-30 * 60_000),
            at: Some(LonLat::new(115.66, 30.20)),
            station: "S9".into(),
        });
        let f = check_fill(&cfg, &x);
        assert_eq!(
            checks(&f),
            vec![Check::CardState, Check::OverConsumption, Check::DoubleFill]
        );
        // Diesel for a petrol car, filled into another car.
        let mut t = txn("2026-03-05 10:00:00", 4000);
        t.product = Product::Diesel0;
        let mut x = ctx(&t, &c, &at);
        x.vehicle = Some((VehicleId(8), "鄂B99999"));
        let f = check_fill(&cfg, &x);
        assert_eq!(checks(&f), vec![Check::OtherCar, Check::Product]);
        let (sev, ..) = case_texts(&f).unwrap();
        assert_eq!(sev, Severity::High);
    }

    #[test]
    fn an_order_covers_an_off_hours_fill_and_a_bad_window_is_refused() {
        let cfg = FuelConfig::default();
        let c = card();
        let t = txn("2026-10-01 10:00:00", 4000);
        let at = [(t.time, STATION)];
        let mut x = ctx(&t, &c, &at);
        x.day = Some(DayKind::Holiday);
        assert_eq!(checks(&check_fill(&cfg, &x)), vec![Check::OffHours]);
        x.covered_by_order = true;
        assert!(check_fill(&cfg, &x).is_empty());
        let bad = FuelConfig {
            working_from: "21:00".into(),
            ..FuelConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("working_from"));
    }

    #[test]
    fn a_month_of_far_more_fuel_than_its_distance_needs_is_flagged_on_its_last_fill() {
        let cfg = FuelConfig::default();
        let c = card();
        let t = txn("2026-03-30 10:00:00", 4000);
        let at = [(t.time, STATION)];
        let mut x = ctx(&t, &c, &at);
        // A general car: 60 L tank, 8 L/100 km. 1,000 km need 80 L: 160 L bought is within 80 × 1.3 + 60.
        let month = MonthUse {
            month: (2026, 3),
            litres_cl: 16_000,
            amount_fen: 120_000,
            fills: 4,
            km: 1000.0,
        };
        x.month = Some(month);
        assert!(check_fill(&cfg, &x).is_empty());
        // 400 L for the same distance: a card filling other cars.
        x.month = Some(MonthUse {
            litres_cl: 40_000,
            amount_fen: 300_000,
            fills: 10,
            ..month
        });
        let f = check_fill(&cfg, &x);
        assert_eq!(checks(&f), vec![Check::MonthRatio]);
        assert_eq!(f[0].evidence["ratio"], 5.0);
        assert_eq!(f[0].at_stake_fen, 240_000, "the 320 L not needed");
        assert!(f[0].reason_zh.contains("2026年3月"), "{}", f[0].reason_zh);
        // Too little bought to judge, even with no distance at all.
        x.month = Some(MonthUse {
            litres_cl: 4_000,
            km: 0.0,
            ..month
        });
        assert!(check_fill(&cfg, &x).is_empty());
    }
}

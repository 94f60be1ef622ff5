//! The checks of a fuel-card transaction against the card, the car and its track: what an auditor of
//! fuel-card statements looks for, each finding with its evidence, a severity and the money at stake.
//!
//! Pure: the caller gathers a [`FillContext`] (the card, the car's profile, its positions around the
//! fill, its previous fill and the distance driven since, the month's spend on the card, the kind of
//! day) and [`check_fill`] decides. All thresholds are in [`FuelConfig`] (`[rules.fuel]`). One
//! transaction's findings become one case of rule [`FUEL_RULE`]; a re-run that finds nothing withdraws
//! it.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tianshu_model::fuel::{Card, CardState, FuelProfile, FuelTransaction, format_hundredths};
use tianshu_model::{LonLat, Timestamp, VehicleId};

use crate::{DayKind, Severity};

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

fn litres(cl: i64) -> f64 {
    cl as f64 / 100.0
}

/// The findings on one transaction (empty when it is clean).
pub fn check_fill(cfg: &FuelConfig, c: &FillContext<'_>) -> Vec<Finding> {
    let t = c.txn;
    let mut out = Vec::new();
    let mut find = |check, severity, at_stake_fen, reason: String, reason_zh: String, evidence| {
        out.push(Finding {
            check,
            severity,
            reason,
            reason_zh,
            at_stake_fen,
            evidence,
        });
    };
    let yuan = format_hundredths(t.amount_fen);
    let l = litres(t.litres_cl);

    if c.card.state != CardState::Active {
        let since = c.card.state_date.map(|d| d.to_string()).unwrap_or_default();
        let used_before = c
            .card
            .state_date
            .is_some_and(|d| t.time.to_china().date_naive() < d);
        if !used_before {
            find(
                Check::CardState,
                Severity::High,
                t.amount_fen,
                format!(
                    "card {} is {} ({since} {}) but was used for {yuan} yuan",
                    t.card,
                    c.card.state.as_str(),
                    c.card.state_reason
                ),
                format!(
                    "加油卡{}已{}({since} {}),仍消费{yuan}元",
                    t.card,
                    state_zh(c.card.state),
                    c.card.state_reason
                ),
                json!({ "state": c.card.state, "state_date": c.card.state_date, "reason": c.card.state_reason }),
            );
        }
    }
    match (c.card.vehicle, c.vehicle, c.unknown_plate) {
        (Some(bound), Some((used, plate)), _) if bound != used => find(
            Check::OtherCar,
            Severity::High,
            t.amount_fen,
            format!("card {} is bound to another car but filled {plate}", t.card),
            format!("加油卡{}绑定其他车辆,却为{plate}加油", t.card),
            json!({ "bound_vehicle": bound, "filled_vehicle": used, "plate": plate }),
        ),
        (_, _, Some(plate)) => find(
            Check::OtherCar,
            Severity::High,
            t.amount_fen,
            format!(
                "card {} filled {plate}, which is not an official car of the registry",
                t.card
            ),
            format!("加油卡{}为非登记公务车辆{plate}加油", t.card),
            json!({ "bound_vehicle": c.card.vehicle, "plate": plate }),
        ),
        (None, None, None) => find(
            Check::Unbound,
            Severity::Low,
            0,
            format!("pool card {} was used and the statement names no car", t.card),
            format!("未绑定车辆的加油卡{}消费,流水未记录车辆", t.card),
            json!({}),
        ),
        _ => {}
    }
    if let Some(p) = c.profile
        && p.fuel != t.product.fuel()
    {
        find(
            Check::Product,
            Severity::High,
            t.amount_fen,
            format!("{} bought for a {} car", t.product.as_str(), p.fuel.as_str()),
            format!("{}车辆购买{}", fuel_zh(p.fuel), t.product.as_str()),
            json!({ "product": t.product, "car_fuel": p.fuel }),
        );
    }
    if let Some(limit) = c.card.limit_fill_fen
        && t.amount_fen > limit
    {
        find(
            Check::OverLimit,
            Severity::Medium,
            t.amount_fen - limit,
            format!(
                "{yuan} yuan is over the card's limit of {} per fill",
                format_hundredths(limit)
            ),
            format!("单次{yuan}元超过加油卡单次限额{}元", format_hundredths(limit)),
            json!({ "limit_fill_fen": limit, "amount_fen": t.amount_fen }),
        );
    }
    if let Some(limit) = c.card.limit_month_fen
        && c.month_spent_fen + t.amount_fen > limit
    {
        let over = (c.month_spent_fen + t.amount_fen - limit).min(t.amount_fen);
        find(
            Check::OverLimit,
            Severity::Medium,
            over,
            format!(
                "the month's spend reaches {} yuan, over the card's monthly limit of {}",
                format_hundredths(c.month_spent_fen + t.amount_fen),
                format_hundredths(limit)
            ),
            format!(
                "本月累计{}元,超过月限额{}元",
                format_hundredths(c.month_spent_fen + t.amount_fen),
                format_hundredths(limit)
            ),
            json!({ "limit_month_fen": limit, "month_spent_fen": c.month_spent_fen }),
        );
    }
    if let (Some((_, plate)), Some(station)) = (c.vehicle, c.station)
        && c.tracked
    {
        let nearest = c
            .positions
            .iter()
            .map(|(at, p)| (p.distance_m(station), *at, *p))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let near = nearest.is_some_and(|(d, _, _)| d <= cfg.near_station_m);
        if !near {
            let (reason, reason_zh) = match nearest {
                Some((d, _, _)) => (
                    format!(
                        "{plate} was at least {:.0} m from station {} within {} minutes of the fill",
                        d, t.station, cfg.near_window_minutes
                    ),
                    format!(
                        "加油前后{}分钟内{plate}距加油站{}至少{:.0}米",
                        cfg.near_window_minutes, t.station, d
                    ),
                ),
                None => (
                    format!(
                        "{plate} reported no position within {} minutes of the fill at {}",
                        cfg.near_window_minutes, t.station
                    ),
                    format!(
                        "加油前后{}分钟内{plate}无定位,不在加油站{}",
                        cfg.near_window_minutes, t.station
                    ),
                ),
            };
            find(
                Check::NotAtStation,
                Severity::High,
                t.amount_fen,
                reason,
                reason_zh,
                json!({
                    "station": [station.lon, station.lat],
                    "nearest_m": nearest.map(|n| n.0.round()),
                    "nearest_at": nearest.map(|n| n.1),
                    "positions": c.positions.iter().map(|(at, p)| json!({"time": at, "lon": p.lon, "lat": p.lat})).collect::<Vec<_>>(),
                }),
            );
        }
    }
    if let Some(p) = c.profile {
        if l > p.tank_litres * cfg.tank_tolerance {
            let over = ((l - p.tank_litres) / l * t.amount_fen as f64).round() as i64;
            find(
                Check::OverTank,
                Severity::High,
                over,
                format!("{l:.2} L is more than the {:.0} L tank holds", p.tank_litres),
                format!("加油{l:.2}升,超过油箱容量{:.0}升", p.tank_litres),
                json!({ "litres": l, "tank_litres": p.tank_litres }),
            );
        } else if let Some(km) = c.km_since_previous
            && l >= cfg.consumption_min_litres
        {
            let need = km * p.rated_l_per_100km / 100.0;
            if l > need * cfg.consumption_tolerance {
                let over = ((l - need) / l * t.amount_fen as f64).round() as i64;
                find(
                    Check::OverConsumption,
                    Severity::Medium,
                    over,
                    format!(
                        "{l:.2} L after {km:.1} km since the previous fill, which needs {need:.1} L at {} L/100 km",
                        p.rated_l_per_100km
                    ),
                    format!(
                        "距上次加油行驶{km:.1}公里,按{}升/百公里仅需{need:.1}升,本次加油{l:.2}升",
                        p.rated_l_per_100km
                    ),
                    json!({ "litres": l, "km_since_previous": km, "needed_litres": need, "rated_l_per_100km": p.rated_l_per_100km }),
                );
            }
        }
    }
    if let Some(prev) = &c.previous {
        let minutes = (t.time.0 - prev.time.0) as f64 / 60_000.0;
        let apart_km = match (prev.at, c.station) {
            (Some(a), Some(b)) => Some(a.distance_m(b) / 1000.0),
            _ => None,
        };
        let too_far = apart_km.is_some_and(|km| km > cfg.max_travel_kmh * minutes.max(1.0) / 60.0);
        if minutes < f64::from(cfg.double_fill_minutes) || too_far {
            find(
                Check::DoubleFill,
                Severity::Medium,
                t.amount_fen,
                format!(
                    "{:.0} minutes after the previous fill at {}{}",
                    minutes,
                    prev.station,
                    apart_km.map(|k| format!(", {k:.1} km away")).unwrap_or_default()
                ),
                format!(
                    "距上次在{}加油仅{:.0}分钟{}",
                    prev.station,
                    minutes,
                    apart_km.map(|k| format!(",相距{k:.1}公里")).unwrap_or_default()
                ),
                json!({ "previous_time": prev.time, "previous_station": prev.station, "minutes": minutes.round(), "apart_km": apart_km }),
            );
        }
    }
    let (from, to) = cfg.working_window().unwrap_or((7 * 3600, 20 * 3600));
    let secs = crate::calendar::local_secs_of_day(t.time);
    let off_day = c.day.is_some_and(|d| !d.is_working());
    if !c.covered_by_order && (off_day || secs < from || secs >= to) {
        let when_en = c
            .day
            .map_or("a day the calendar does not know", |d| d.describe_en());
        let when_zh = c.day.map_or("日历未知日期", |d| d.describe_zh());
        let local = t.time.to_china().format("%Y-%m-%d %H:%M");
        find(
            Check::OffHours,
            if off_day { Severity::Medium } else { Severity::Low },
            t.amount_fen,
            format!(
                "filled at {local} on {when_en}, outside {}-{} working hours, with no order or filing",
                cfg.working_from, cfg.working_to
            ),
            format!(
                "{local}({when_zh})在{}-{}工作时间以外加油,无派车单或报备",
                cfg.working_from, cfg.working_to
            ),
            json!({ "local_time": local.to_string(), "day": c.day }),
        );
    }
    if let (Some(m), Some(p)) = (c.month, c.profile) {
        out.extend(month_ratio(cfg, &m, p));
    }
    out
}

/// The monthly ratio: litres bought against the litres the month's distance needs.
fn month_ratio(cfg: &FuelConfig, m: &MonthUse, p: FuelProfile) -> Option<Finding> {
    let bought = litres(m.litres_cl);
    let need = m.km * p.rated_l_per_100km / 100.0;
    let allowed = need * cfg.month_ratio_max + p.tank_litres;
    if bought < cfg.month_min_litres || bought <= allowed {
        return None;
    }
    let ratio = if need > 0.0 { Some(bought / need) } else { None };
    let ratio_text = ratio.map_or_else(|| "no distance".to_string(), |r| format!("{r:.1} times"));
    let ratio_zh = ratio.map_or_else(|| "无行驶里程".to_string(), |r| format!("为{r:.1}倍"));
    let (y, mo) = m.month;
    let at_stake_fen = ((bought - need) / bought * m.amount_fen as f64).round() as i64;
    Some(Finding {
        check: Check::MonthRatio,
        severity: Severity::High,
        reason: format!(
            "{y}-{mo:02}: {bought:.2} L bought in {} fills for {:.1} km driven, which need {need:.1} L ({ratio_text})",
            m.fills, m.km
        ),
        reason_zh: format!(
            "{y}年{mo}月加油{}次共{bought:.2}升,行驶{:.1}公里仅需{need:.1}升({ratio_zh})",
            m.fills, m.km
        ),
        at_stake_fen,
        evidence: json!({
            "month": format!("{y}-{mo:02}"), "litres": bought, "fills": m.fills, "km": m.km,
            "needed_litres": need, "ratio": ratio, "ratio_max": cfg.month_ratio_max,
            "tank_litres": p.tank_litres, "amount_fen": m.amount_fen,
        }),
    })
}

fn state_zh(s: CardState) -> &'static str {
    match s {
        CardState::Active => "正常",
        CardState::Suspended => "冻结",
        CardState::Cancelled => "注销",
    }
}

fn fuel_zh(f: tianshu_model::fuel::FuelKind) -> &'static str {
    match f {
        tianshu_model::fuel::FuelKind::Petrol => "汽油",
        tianshu_model::fuel::FuelKind::Diesel => "柴油",
    }
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
    use tianshu_model::fuel::{Issuer, Product};

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

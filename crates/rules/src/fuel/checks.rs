//! The checks of one transaction, each its own function over the same [`FillContext`]: what it finds
//! (at most one finding), with its reason in both languages, its evidence and the money at stake.
//! [`check_fill`] runs them in [`CHECKS`]' order, which is the order of a case's findings.

use serde_json::{Value, json};
use tianshu_model::fuel::{CardState, FuelKind, FuelProfile, format_hundredths};

use super::{Check, FillContext, Finding, FuelConfig, MonthUse};
use crate::Severity;

/// A check: at most one finding on the transaction of `c`.
type FillCheck = fn(&FuelConfig, &FillContext<'_>) -> Option<Finding>;

/// Every check of a fill, in the order its findings are listed.
const CHECKS: [FillCheck; 10] = [
    card_state,
    other_car,
    product,
    over_fill_limit,
    over_month_limit,
    not_at_station,
    over_tank_or_burn,
    double_fill,
    off_hours,
    month,
];

/// The findings on one transaction (empty when it is clean).
pub fn check_fill(cfg: &FuelConfig, c: &FillContext<'_>) -> Vec<Finding> {
    CHECKS.iter().filter_map(|check| check(cfg, c)).collect()
}

fn finding(
    check: Check,
    severity: Severity,
    at_stake_fen: i64,
    (reason, reason_zh): (String, String),
    evidence: Value,
) -> Finding {
    Finding {
        check,
        severity,
        reason,
        reason_zh,
        at_stake_fen,
        evidence,
    }
}

fn litres(cl: i64) -> f64 {
    cl as f64 / 100.0
}

/// A cancelled or suspended card used (after the date of its state).
fn card_state(_: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    if c.card.state == CardState::Active {
        return None;
    }
    let used_before = c
        .card
        .state_date
        .is_some_and(|d| t.time.to_china().date_naive() < d);
    if used_before {
        return None;
    }
    let since = c.card.state_date.map(|d| d.to_string()).unwrap_or_default();
    let yuan = format_hundredths(t.amount_fen);
    Some(finding(
        Check::CardState,
        Severity::High,
        t.amount_fen,
        (
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
        ),
        json!({ "state": c.card.state, "state_date": c.card.state_date, "reason": c.card.state_reason }),
    ))
}

/// A card bound to one car filling another, or a car that is not in the registry; a pool card used
/// for no named car.
fn other_car(_: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    match (c.card.vehicle, c.vehicle, c.unknown_plate) {
        (Some(bound), Some((used, plate)), _) if bound != used => Some(finding(
            Check::OtherCar,
            Severity::High,
            t.amount_fen,
            (
                format!("card {} is bound to another car but filled {plate}", t.card),
                format!("加油卡{}绑定其他车辆,却为{plate}加油", t.card),
            ),
            json!({ "bound_vehicle": bound, "filled_vehicle": used, "plate": plate }),
        )),
        (_, _, Some(plate)) => Some(finding(
            Check::OtherCar,
            Severity::High,
            t.amount_fen,
            (
                format!(
                    "card {} filled {plate}, which is not an official car of the registry",
                    t.card
                ),
                format!("加油卡{}为非登记公务车辆{plate}加油", t.card),
            ),
            json!({ "bound_vehicle": c.card.vehicle, "plate": plate }),
        )),
        (None, None, None) => Some(finding(
            Check::Unbound,
            Severity::Low,
            0,
            (
                format!("pool card {} was used and the statement names no car", t.card),
                format!("未绑定车辆的加油卡{}消费,流水未记录车辆", t.card),
            ),
            json!({}),
        )),
        _ => None,
    }
}

/// A product the car does not burn (petrol for a diesel car).
fn product(_: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    let p = c.profile.filter(|p| p.fuel != t.product.fuel())?;
    Some(finding(
        Check::Product,
        Severity::High,
        t.amount_fen,
        (
            format!("{} bought for a {} car", t.product.as_str(), p.fuel.as_str()),
            format!("{}车辆购买{}", fuel_zh(p.fuel), t.product.as_str()),
        ),
        json!({ "product": t.product, "car_fuel": p.fuel }),
    ))
}

/// A fill over the card's limit per fill.
fn over_fill_limit(_: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    let limit = c.card.limit_fill_fen.filter(|&limit| t.amount_fen > limit)?;
    let yuan = format_hundredths(t.amount_fen);
    Some(finding(
        Check::OverLimit,
        Severity::Medium,
        t.amount_fen - limit,
        (
            format!(
                "{yuan} yuan is over the card's limit of {} per fill",
                format_hundredths(limit)
            ),
            format!("单次{yuan}元超过加油卡单次限额{}元", format_hundredths(limit)),
        ),
        json!({ "limit_fill_fen": limit, "amount_fen": t.amount_fen }),
    ))
}

/// A fill that takes the card's month over its monthly limit.
fn over_month_limit(_: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    let spent = c.month_spent_fen + t.amount_fen;
    let limit = c.card.limit_month_fen.filter(|&limit| spent > limit)?;
    Some(finding(
        Check::OverLimit,
        Severity::Medium,
        (spent - limit).min(t.amount_fen),
        (
            format!(
                "the month's spend reaches {} yuan, over the card's monthly limit of {}",
                format_hundredths(spent),
                format_hundredths(limit)
            ),
            format!(
                "本月累计{}元,超过月限额{}元",
                format_hundredths(spent),
                format_hundredths(limit)
            ),
        ),
        json!({ "limit_month_fen": limit, "month_spent_fen": c.month_spent_fen }),
    ))
}

/// The car (with a track) not within `near_station_m` of the station at any fix near the fill.
fn not_at_station(cfg: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    let (Some((_, plate)), Some(station), true) = (c.vehicle, c.station, c.tracked) else {
        return None;
    };
    let nearest = c
        .positions
        .iter()
        .map(|(at, p)| (p.distance_m(station), *at, *p))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if nearest.is_some_and(|(d, _, _)| d <= cfg.near_station_m) {
        return None;
    }
    let minutes = cfg.near_window_minutes;
    let reasons = match nearest {
        Some((d, _, _)) => (
            format!(
                "{plate} was at least {d:.0} m from station {} within {minutes} minutes of the fill",
                t.station
            ),
            format!("加油前后{minutes}分钟内{plate}距加油站{}至少{d:.0}米", t.station),
        ),
        None => (
            format!(
                "{plate} reported no position within {minutes} minutes of the fill at {}",
                t.station
            ),
            format!("加油前后{minutes}分钟内{plate}无定位,不在加油站{}", t.station),
        ),
    };
    Some(finding(
        Check::NotAtStation,
        Severity::High,
        t.amount_fen,
        reasons,
        json!({
            "station": [station.lon, station.lat],
            "nearest_m": nearest.map(|n| n.0.round()),
            "nearest_at": nearest.map(|n| n.1),
            "positions": c.positions.iter().map(|(at, p)| json!({"time": at, "lon": p.lon, "lat": p.lat})).collect::<Vec<_>>(),
        }),
    ))
}

/// More litres than the tank holds; else more than the car can have burned since the previous fill.
fn over_tank_or_burn(cfg: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    let p = c.profile?;
    let l = litres(t.litres_cl);
    let share_over = |needed: f64| ((l - needed) / l * t.amount_fen as f64).round() as i64;
    if l > p.tank_litres * cfg.tank_tolerance {
        return Some(finding(
            Check::OverTank,
            Severity::High,
            share_over(p.tank_litres),
            (
                format!("{l:.2} L is more than the {:.0} L tank holds", p.tank_litres),
                format!("加油{l:.2}升,超过油箱容量{:.0}升", p.tank_litres),
            ),
            json!({ "litres": l, "tank_litres": p.tank_litres }),
        ));
    }
    let km = c.km_since_previous.filter(|_| l >= cfg.consumption_min_litres)?;
    let need = km * p.rated_l_per_100km / 100.0;
    if l <= need * cfg.consumption_tolerance {
        return None;
    }
    let rated = p.rated_l_per_100km;
    Some(finding(
        Check::OverConsumption,
        Severity::Medium,
        share_over(need),
        (
            format!(
                "{l:.2} L after {km:.1} km since the previous fill, which needs {need:.1} L at {rated} L/100 km"
            ),
            format!("距上次加油行驶{km:.1}公里,按{rated}升/百公里仅需{need:.1}升,本次加油{l:.2}升"),
        ),
        json!({ "litres": l, "km_since_previous": km, "needed_litres": need, "rated_l_per_100km": rated }),
    ))
}

/// Two fills of one car or card too close in time, or farther apart than the car could have driven.
fn double_fill(cfg: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    let prev = c.previous.as_ref()?;
    let minutes = (t.time.0 - prev.time.0) as f64 / 60_000.0;
    let apart_km = match (prev.at, c.station) {
        (Some(a), Some(b)) => Some(a.distance_m(b) / 1000.0),
        _ => None,
    };
    let too_far = apart_km.is_some_and(|km| km > cfg.max_travel_kmh * minutes.max(1.0) / 60.0);
    if minutes >= f64::from(cfg.double_fill_minutes) && !too_far {
        return None;
    }
    Some(finding(
        Check::DoubleFill,
        Severity::Medium,
        t.amount_fen,
        (
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
        ),
        json!({ "previous_time": prev.time, "previous_station": prev.station, "minutes": minutes.round(), "apart_km": apart_km }),
    ))
}

/// A fill outside working hours or on a day off with no order or filing covering the car.
fn off_hours(cfg: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    let t = c.txn;
    let (from, to) = cfg.working_window().unwrap_or((7 * 3600, 20 * 3600));
    let secs = crate::calendar::local_secs_of_day(t.time);
    let off_day = c.day.is_some_and(|d| !d.is_working());
    if c.covered_by_order || !(off_day || secs < from || secs >= to) {
        return None;
    }
    let when_en = c
        .day
        .map_or("a day the calendar does not know", |d| d.describe_en());
    let when_zh = c.day.map_or("日历未知日期", |d| d.describe_zh());
    let local = t.time.to_china().format("%Y-%m-%d %H:%M");
    Some(finding(
        Check::OffHours,
        if off_day { Severity::Medium } else { Severity::Low },
        t.amount_fen,
        (
            format!(
                "filled at {local} on {when_en}, outside {}-{} working hours, with no order or filing",
                cfg.working_from, cfg.working_to
            ),
            format!(
                "{local}({when_zh})在{}-{}工作时间以外加油,无派车单或报备",
                cfg.working_from, cfg.working_to
            ),
        ),
        json!({ "local_time": local.to_string(), "day": c.day }),
    ))
}

/// On the month's last fill so far: the month's ratio.
fn month(cfg: &FuelConfig, c: &FillContext<'_>) -> Option<Finding> {
    month_ratio(cfg, &c.month?, c.profile?)
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
    Some(finding(
        Check::MonthRatio,
        Severity::High,
        at_stake_fen,
        (
            format!(
                "{y}-{mo:02}: {bought:.2} L bought in {} fills for {:.1} km driven, which need {need:.1} L ({ratio_text})",
                m.fills, m.km
            ),
            format!(
                "{y}年{mo}月加油{}次共{bought:.2}升,行驶{:.1}公里仅需{need:.1}升({ratio_zh})",
                m.fills, m.km
            ),
        ),
        json!({
            "month": format!("{y}-{mo:02}"), "litres": bought, "fills": m.fills, "km": m.km,
            "needed_litres": need, "ratio": ratio, "ratio_max": cfg.month_ratio_max,
            "tank_litres": p.tank_litres, "amount_fen": m.amount_fen,
        }),
    ))
}

fn state_zh(s: CardState) -> &'static str {
    match s {
        CardState::Active => "正常",
        CardState::Suspended => "冻结",
        CardState::Cancelled => "注销",
    }
}

fn fuel_zh(f: FuelKind) -> &'static str {
    match f {
        FuelKind::Petrol => "汽油",
        FuelKind::Diesel => "柴油",
    }
}

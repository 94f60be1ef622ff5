//! The trips a car's driver means to make on a day, before they are laid out in time: how many, why,
//! where to, whether an order or a filing covers them and which scenario each plays.
//!
//! Every choice is drawn from the day's random stream in a fixed order, the same whether a scenario is on
//! or off (a rate of 0 still draws), so switching one scenario leaves the others' trips where they were.

use rand::Rng;
use rand::rngs::StdRng;
use tianshu_model::VehicleClass;

use super::{TripKind, hm, night_away};
use crate::scenario::PlanScenarios;
use crate::world::roads::NodeId;
use crate::world::{Destination, World};

/// A trip as intended: its stops and cover, not yet its path or motion.
pub(super) struct TripDraft {
    pub(super) kind: TripKind,
    /// Local time the driver means to leave, seconds of the day (also sets the trips' order).
    pub(super) depart_secs: u32,
    /// (place name, node, dwell seconds).
    pub(super) stops: Vec<(String, NodeId, u32)>,
    /// The driver leaves the approved route on the way.
    pub(super) detour: bool,
    /// `order` or `filing` when one covers the trip.
    pub(super) cover: Option<&'static str>,
    pub(super) allow_region_exit: bool,
    /// Where the car spends the night instead of its depot, for the drive home.
    pub(super) end_away: Option<NodeId>,
    /// Working-hours trips must leave by this local time or are dropped.
    pub(super) latest_depart_secs: u32,
}

/// What every draft of one car's day is drawn for.
struct Day<'a> {
    world: &'a World,
    rates: &'a PlanScenarios,
    depot: NodeId,
}

/// The drafts of `vehicle` on `date`, in the order the stream draws them: the morning return after a
/// night away, the day's work (or a day-off trip), the evening drive home before a night away.
pub(super) fn day_drafts(
    world: &World,
    vehicle: usize,
    date: chrono::NaiveDate,
    prev_away: Option<NodeId>,
    rng: &mut StdRng,
) -> Vec<TripDraft> {
    let v = &world.vehicles[vehicle];
    let day = Day {
        world,
        rates: &world.config.scenarios,
        depot: world.units[v.unit].depot_node,
    };
    let day_off = world.config.is_day_off(date);
    let exempt = matches!(v.class, VehicleClass::LawEnforcement | VehicleClass::Emergency);
    let away_tonight = night_away(world, vehicle, date);
    let mut drafts: Vec<TripDraft> = Vec::new();
    if let Some(home) = prev_away {
        drafts.push(TripDraft {
            kind: TripKind::MorningReturn,
            depart_secs: hm(7, 5) + rng.gen_range(0..1800),
            stops: vec![("家".to_string(), home, 0)],
            detour: false,
            cover: None,
            allow_region_exit: false,
            end_away: None,
            latest_depart_secs: hm(9, 0),
        });
    }
    if !day_off || exempt {
        work_drafts(&day, rng, day_off, exempt, &mut drafts);
        if !day_off && !exempt && away_tonight.is_none() {
            drafts.extend(off_hours_draft(&day, rng));
        }
    } else {
        drafts.extend(day_off_draft(&day, rng));
    }
    if let Some(home) = away_tonight {
        drafts.push(TripDraft {
            kind: TripKind::NightAway,
            depart_secs: hm(17, 45) + rng.gen_range(0..2700),
            stops: Vec::new(),
            detour: false,
            cover: None,
            allow_region_exit: false,
            end_away: Some(home),
            latest_depart_secs: hm(21, 0),
        });
    }
    drafts
}

/// The day's ordinary trips (duty trips for law-enforcement and emergency cars, also on days off).
fn work_drafts(day: &Day<'_>, rng: &mut StdRng, day_off: bool, exempt: bool, drafts: &mut Vec<TripDraft>) {
    let count = if exempt {
        rng.gen_range(if day_off { 0..3 } else { 1..5 })
    } else {
        [0, 1, 1, 1, 2, 2, 2, 3][rng.gen_range(0..8)]
    };
    let kind = if exempt { TripKind::Duty } else { TripKind::Ordered };
    // Later trips leave as soon as the layout allows: their draft time only sets the order.
    let first = hm(8, 40) + rng.gen_range(0..5400);
    for k in 0..count {
        let mut d = normal(day, rng, first + k, kind);
        d.latest_depart_secs = if d.kind == TripKind::RegionExit {
            hm(13, 0)
        } else {
            hm(16, 30)
        };
        drafts.push(d);
    }
}

/// Perhaps an evening trip without an order, inside the region (the off-hours scenario).
fn off_hours_draft(day: &Day<'_>, rng: &mut StdRng) -> Option<TripDraft> {
    if !rng.gen_bool(day.rates.off_hours_rate.clamp(0.0, 1.0)) {
        return None;
    }
    let at = hm(19, 30) + rng.gen_range(0..5400);
    let mut d = normal(day, rng, at, TripKind::OffHours);
    d.kind = TripKind::OffHours;
    d.cover = None;
    d.detour = false;
    d.stops.retain(|s| {
        !day.world
            .destinations
            .iter()
            .any(|x| x.node == s.1 && x.outside_region)
    });
    if d.stops.is_empty() {
        let (name, node) = pick_destination(day.world, rng, day.depot, false);
        d.stops.push((name, node, 3600));
    }
    Some(d)
}

/// Perhaps a trip on a day off: without a filing (the holiday scenario) or, failing that, with one.
fn day_off_draft(day: &Day<'_>, rng: &mut StdRng) -> Option<TripDraft> {
    if rng.gen_bool(day.rates.holiday_rate.clamp(0.0, 1.0)) {
        let at = hm(9, 0) + rng.gen_range(0..18_000);
        let mut d = normal(day, rng, at, TripKind::Holiday);
        if d.kind != TripKind::ProhibitedStop {
            d.kind = TripKind::Holiday;
        }
        d.cover = None;
        d.detour = false;
        return Some(d);
    }
    if !rng.gen_bool(day.rates.holiday_filing_rate.clamp(0.0, 1.0)) {
        return None;
    }
    let at = hm(9, 0) + rng.gen_range(0..18_000);
    let mut d = normal(day, rng, at, TripKind::HolidayFiled);
    d.kind = TripKind::HolidayFiled;
    d.cover = Some("filing");
    d.detour = false;
    d.stops
        .retain(|s| !day.world.prohibited.iter().any(|p| p.node_inside == Some(s.1)));
    if d.stops.is_empty() {
        let dest = pick_destination(day.world, rng, day.depot, false);
        d.stops.push((dest.0, dest.1, 3600));
    }
    Some(d)
}

/// An ordinary trip leaving at `depart_secs`, with the trip-level scenarios drawn for it: no order,
/// leaving the region, a stop at a prohibited place, a detour off the approved route.
fn normal(day: &Day<'_>, rng: &mut StdRng, depart_secs: u32, kind_default: TripKind) -> TripDraft {
    let sc = day.rates;
    let mut kind = kind_default;
    let mut allow_region_exit = false;
    let mut cover = match kind_default {
        TripKind::Ordered if !rng.gen_bool(sc.order_rate.clamp(0.0, 1.0)) => {
            kind = TripKind::Unordered;
            None
        }
        TripKind::Ordered => Some("order"),
        TripKind::Duty => rng.gen_bool(0.3).then_some("order"),
        TripKind::HolidayFiled => Some("filing"),
        _ => None,
    };
    let mut stops = Vec::new();
    if depart_secs < hm(13, 0) && rng.gen_bool(sc.region_exit_rate.clamp(0.0, 1.0)) {
        let (name, node) = pick_destination(day.world, rng, day.depot, true);
        stops.push((name, node, rng.gen_range(40..90) * 60));
        kind = TripKind::RegionExit;
        if cover.is_some() {
            allow_region_exit = rng.gen_bool(0.3);
        }
    } else {
        let n = if rng.gen_bool(0.3) { 2 } else { 1 };
        for _ in 0..n {
            let (name, node) = pick_destination(day.world, rng, day.depot, false);
            stops.push((name, node, rng.gen_range(15..75) * 60));
        }
        if let Some(stop) = prohibited_stop(day, rng) {
            stops.push(stop);
            kind = TripKind::ProhibitedStop;
        }
    }
    let detour = cover == Some("order")
        && kind != TripKind::RegionExit
        && rng.gen_bool(sc.off_route_rate.clamp(0.0, 1.0));
    if detour && kind == TripKind::Ordered {
        kind = TripKind::OffRoute;
    }
    if kind == TripKind::ProhibitedStop && cover == Some("order") && rng.gen_bool(0.5) {
        // Half of those visits happen on a trip nobody approved.
        cover = None;
    }
    TripDraft {
        kind,
        depart_secs,
        stops,
        detour,
        cover,
        allow_region_exit,
        end_away: None,
        latest_depart_secs: hm(23, 0),
    }
}

/// Perhaps a stop of an hour or more at a prohibited place a car can drive into (the scenario's rate).
fn prohibited_stop(day: &Day<'_>, rng: &mut StdRng) -> Option<(String, NodeId, u32)> {
    if !rng.gen_bool(day.rates.prohibited_stop_rate.clamp(0.0, 1.0)) {
        return None;
    }
    let places: Vec<_> = day
        .world
        .prohibited
        .iter()
        .filter(|p| p.node_inside.is_some())
        .collect();
    let (p, node) = places
        .get(rng.gen_range(0..places.len().max(1)))
        .and_then(|p| Some((p, p.node_inside?)))?;
    Some((p.name.clone(), node, rng.gen_range(60..150) * 60))
}

/// Picks a destination for a normal trip from a unit's seat: city units mostly in the city, town units
/// mostly in their town, some cross trips.
fn pick_destination(world: &World, rng: &mut StdRng, depot: NodeId, outside: bool) -> (String, NodeId) {
    let candidates: Vec<&Destination> = world
        .destinations
        .iter()
        .filter(|d| d.outside_region == outside && d.node != depot)
        .collect();
    if candidates.is_empty() {
        return ("单位".to_string(), depot);
    }
    // Prefer near destinations: draw three and keep the closest, most of the time.
    let here = world.roads.pos(depot);
    let mut best = candidates[rng.gen_range(0..candidates.len())];
    if !outside && rng.gen_bool(0.8) {
        for _ in 0..2 {
            let c = candidates[rng.gen_range(0..candidates.len())];
            if world.roads.pos(c.node).distance_m(here) < world.roads.pos(best.node).distance_m(here) {
                best = c;
            }
        }
    }
    (best.name.clone(), best.node)
}

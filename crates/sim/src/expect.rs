//! What the simulator does on purpose: every scripted misuse and tampering, with the rules it should
//! raise.
//!
//! Day plans and terminal events are pure functions of (seed, vehicle, date), so the world can say in
//! advance which trips break which rule. `tianshu simulate --write-world` writes this list as
//! `scripted.jsonl`; an end-to-end test runs the fleet against the platform and compares the alert
//! cases with it, and an operator tuning a rule can see what the demo fleet was told to do.
//!
//! Each record names the rules it **must** raise (`rules`) and those it **may** raise besides
//! (`may`): a night-time trip may or may not be caught by the depot check depending on when the ignition
//! goes off, an uncovered trip that runs past 17:30 is also out of hours. A case that matches no
//! record's `rules` or `may` is a false positive.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tianshu_model::Timestamp;

use tianshu_rules::Timetable;
use tianshu_rules::config::Exemptions;
use tianshu_rules::timetable::parse_hhmm;

use crate::events::{EventKind, events_for};
use crate::plan::{DayPlan, Trip, TripKind, day_plan, local_ms};
use crate::scenario::TerminalScenarios;
use crate::world::World;

/// One scripted misuse: a trip or a terminal event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scripted {
    /// The car's plate.
    pub plate: String,
    /// What happens: a trip kind (`off_hours`, `off_route`, ...) or a terminal event (`alarm`, `silent`).
    pub what: String,
    /// Start (departure or event start).
    pub from: Timestamp,
    /// End (arrival or event end).
    pub to: Timestamp,
    /// Rules that must raise a case overlapping `from..to`.
    pub rules: Vec<String>,
    /// Rules that may also raise one.
    pub may: Vec<String>,
}

/// Local time of day, seconds.
const fn hm(h: u32, m: u32) -> u32 {
    h * 3600 + m * 60
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

/// A condition held this long is surely past the rules' default minimum durations (5 minutes) and
/// their fix counts; a shorter one may or may not raise a case.
const SURE_MS: i64 = 8 * 60_000;

/// The stretches of a trip with the ignition on (consecutive engine-on segments), UTC ms.
fn engine_on_stretches(trip: &Trip) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for s in trip.segments.iter().filter(|s| s.engine_on) {
        match out.last_mut() {
            Some(last) if last.1 == s.t0_ms => last.1 = s.t1_ms,
            _ => out.push((s.t0_ms, s.t1_ms)),
        }
    }
    out
}

/// Longest piece of `a..b` that lies inside (`inside = true`) or outside `office` hours on `date`.
fn longest_piece(office: &[(u32, u32)], date: NaiveDate, a: i64, b: i64, inside: bool) -> i64 {
    let mut cuts = vec![a, b];
    for &(s, e) in office {
        for t in [local_ms(date, s), local_ms(date, e)] {
            if t > a && t < b {
                cuts.push(t);
            }
        }
    }
    cuts.sort_unstable();
    let in_office = |t: i64| {
        office
            .iter()
            .any(|&(s, e)| t >= local_ms(date, s) && t < local_ms(date, e))
    };
    cuts.windows(2)
        .filter(|w| in_office(w[0] + (w[1] - w[0]) / 2) == inside)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(0)
}

/// Adds `rule` to `rules` when the condition surely held long enough, else to `may` when it held at all.
fn by_duration<'a>(rule: &'a str, held_ms: i64, rules: &mut Vec<&'a str>, may: &mut Vec<&'a str>) {
    if held_ms >= SURE_MS {
        rules.push(rule);
    } else if held_ms > 0 {
        may.push(rule);
    }
}

/// What the platform's default configuration says about one car on one day.
struct Judge<'a> {
    world: &'a World,
    plate: &'a str,
    date: NaiveDate,
    day_off: bool,
    orders_required: bool,
    /// The rules the car's class is exempt from (`[rules.exemptions]`).
    exempt_from: Vec<String>,
    /// The default night (`[rules.night_parking]`), local seconds of the day.
    night: (u32, u32),
    /// The default office hours (`[rules.timetable]`), local seconds of the day.
    office: Vec<(u32, u32)>,
}

impl<'a> Judge<'a> {
    fn new(world: &'a World, vehicle: usize, date: NaiveDate, orders_required: bool) -> Self {
        let v = &world.vehicles[vehicle];
        let night = tianshu_rules::config::NightParkingConfig::default();
        Judge {
            world,
            plate: &v.plate,
            date,
            day_off: world.config.is_day_off(date),
            orders_required,
            exempt_from: Exemptions::default()
                .of(v.class)
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            night: (
                parse_hhmm(&night.night_start).unwrap_or(hm(20, 0)),
                parse_hhmm(&night.night_end).unwrap_or(hm(6, 0)),
            ),
            office: Timetable::default()
                .periods
                .iter()
                .map(|p| (p.start_secs, p.end_secs))
                .collect(),
        }
    }

    fn exempt(&self, rule: &str) -> bool {
        self.exempt_from.iter().any(|r| r == rule)
    }

    fn record(&self, what: &str, from: i64, to: i64, rules: &[&str], may: &[&str]) -> Scripted {
        Scripted {
            plate: self.plate.to_string(),
            what: what.to_string(),
            from: Timestamp(from),
            to: Timestamp(to),
            rules: strings(rules),
            may: strings(may),
        }
    }

    /// Whether the trip's path passes a node outside the permitted region.
    fn leaves_region(&self, trip: &Trip) -> bool {
        let region = &self.world.region;
        !region.is_empty()
            && trip
                .path
                .iter()
                .any(|n| !tianshu_model::geo::point_in_ring(self.world.roads.pos(*n), region))
    }

    /// The record of a trip, when it must or may raise anything.
    fn trip(&self, trip: &Trip) -> Option<Scripted> {
        let mut rules: Vec<&str> = Vec::new();
        let mut may: Vec<&str> = Vec::new();
        if trip.cover.is_none() {
            self.uncovered(trip, &mut rules, &mut may);
        }
        // Driving off the approved route.
        if let Some(route) = trip.cover.as_ref().and_then(|c| c.route.as_ref())
            && *route != trip.path
        {
            rules.push("off_route");
        }
        // Out of the region without leave.
        if trip.kind == TripKind::RegionExit && !trip.cover.as_ref().is_some_and(|c| c.allow_region_exit) {
            rules.push("region_exit");
        } else if !trip.cover.as_ref().is_some_and(|c| c.allow_region_exit) && self.leaves_region(trip) {
            // The road to a destination inside the region may cut across its edge.
            may.push("region_exit");
        }
        // A stop at a prohibited place (whatever else the trip is).
        let prohibited = &self.world.prohibited;
        if trip
            .stops
            .iter()
            .any(|s| prohibited.iter().any(|p| p.node_inside == Some(s.node)))
        {
            rules.push("prohibited_place");
        }
        // Standing with the ignition off away from the depot at night.
        if trip.end_ms() > local_ms(self.date, self.night.0) {
            may.push("night_parking");
        }
        // Exemptions are the platform's configuration: what the class is exempt from may still be raised
        // by a configuration without them.
        let (exempted, mut rules): (Vec<&str>, Vec<&str>) = rules.into_iter().partition(|r| self.exempt(r));
        may.extend(exempted);
        rules.sort_unstable();
        rules.dedup();
        may.retain(|r| !rules.contains(r));
        may.sort_unstable();
        may.dedup();
        if rules.is_empty() && may.is_empty() {
            return None;
        }
        // The trip kind's own name (its serde name: `off_hours`, `night_away`, ...).
        let what = serde_json::to_value(trip.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Some(self.record(&what, trip.depart_ms(), trip.end_ms(), &rules, &may))
    }

    /// Use without an order or filing: judged by the clock and the calendar.
    fn uncovered<'r>(&self, trip: &Trip, rules: &mut Vec<&'r str>, may: &mut Vec<&'r str>) {
        if self.day_off {
            may.extend(["out_of_hours", "holiday_seal"]);
            return;
        }
        let stretches = engine_on_stretches(trip);
        let longest = |inside: bool| {
            stretches
                .iter()
                .map(|&(a, b)| longest_piece(&self.office, self.date, a, b, inside))
                .max()
                .unwrap_or(0)
        };
        by_duration("out_of_hours", longest(false), rules, may);
        if self.orders_required {
            by_duration("no_order", longest(true), rules, may);
        }
    }

    /// The night a car spends away from its depot, its own record: the depot check falls hours after the
    /// drive home.
    fn night_away(&self, trip: &Trip) -> Scripted {
        let away_from = local_ms(self.date, self.night.0).max(trip.end_ms());
        let morning = self
            .date
            .succ_opt()
            .map_or(away_from, |d| local_ms(d, self.night.1));
        let (r, m): (&[&str], &[&str]) = if self.exempt("night_parking") {
            (&[], &["night_parking"])
        } else {
            (&["night_parking"], &[])
        };
        self.record("night_away", away_from, morning, r, m)
    }
}

/// The scripted records of one car on one day, from its plan and its terminal's events.
/// `orders_required`: whether the car's unit must have an order for every trip (the `no_order` rule).
/// Rules the car's class is exempt from by the platform's default configuration are only `may`.
pub fn scripted_for(
    world: &World,
    vehicle: usize,
    date: NaiveDate,
    plan: &DayPlan,
    terminal: &TerminalScenarios,
    orders_required: bool,
) -> Vec<Scripted> {
    let judge = Judge::new(world, vehicle, date, orders_required);
    let mut out = Vec::new();
    // The end of the latest order window of the day's trips so far: a trip leaving before it is judged
    // against that order's route too, and may be off it.
    let mut order_until = i64::MIN;
    for trip in &plan.trips {
        if trip.kind == TripKind::NightAway {
            out.push(judge.night_away(trip));
        }
        let mut record = judge.trip(trip);
        if trip.depart_ms() < order_until {
            let r = record.get_or_insert_with(|| {
                judge.record("order_overlap", trip.depart_ms(), trip.end_ms(), &[], &[])
            });
            if !r.rules.iter().chain(&r.may).any(|x| x == "off_route") {
                r.may.push("off_route".into());
                r.may.sort_unstable();
            }
        }
        if let Some(c) = trip.cover.as_ref().filter(|c| c.kind == "order") {
            order_until = order_until.max(c.end.millis());
        }
        out.extend(record);
    }
    for ev in events_for(world.config.seed, vehicle, date, plan, terminal) {
        let (what, rules, may): (&str, &[&str], &[&str]) = match ev.kind {
            EventKind::Alarm(_) => ("alarm", &["tamper"], &[]),
            // Silence is judged on the receiving clock: a case only when the car was in use and the
            // gap outlasts the rule's threshold in real time.
            EventKind::Silent => ("silent", &[], &["silence"]),
            EventKind::BlindArea => continue,
        };
        out.push(judge.record(what, ev.start_ms, ev.end_ms, rules, may));
    }
    out
}

/// Every scripted record of the world's cars (the first `terminals`, or all when 0) on `days` days from
/// `start`, in (date, vehicle) order.
pub fn scripted(
    world: &World,
    terminals: usize,
    start: NaiveDate,
    days: u32,
    terminal: &TerminalScenarios,
    orders_required: bool,
) -> Vec<Scripted> {
    let n = if terminals == 0 {
        world.vehicles.len()
    } else {
        terminals.min(world.vehicles.len())
    };
    let mut out = Vec::new();
    for date in start.iter_days().take(days as usize) {
        for vehicle in 0..n {
            let plan = day_plan(world, vehicle, date);
            out.extend(scripted_for(
                world,
                vehicle,
                date,
                &plan,
                terminal,
                orders_required,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::PlanScenarios;
    use crate::world::WorldConfig;

    #[test]
    fn clean_days_script_nothing_and_misuse_scripts_its_rule() {
        let clean = World::generate(&WorldConfig {
            vehicles: 60,
            days: 1,
            scenarios: PlanScenarios::none(),
            ..Default::default()
        });
        let date = clean.config.start_date;
        // Nothing must be raised; uncovered duty trips of exempt cars may be, by configuration.
        let s = scripted(&clean, 0, date, 1, &TerminalScenarios::none(), true);
        assert!(s.iter().all(|r| r.rules.is_empty()), "{s:#?}");

        let busy = World::generate(&WorldConfig {
            vehicles: 60,
            days: 1,
            scenarios: PlanScenarios {
                off_hours_rate: 1.0,
                ..PlanScenarios::none()
            },
            ..Default::default()
        });
        let s = scripted(&busy, 0, date, 1, &TerminalScenarios::none(), true);
        let off_hours: Vec<_> = s.iter().filter(|r| r.what == "off_hours").collect();
        assert!(!off_hours.is_empty());
        for r in off_hours {
            assert!(r.from.millis() >= local_ms(date, hm(17, 30)), "{r:?}");
            assert!(
                r.rules.contains(&"out_of_hours".to_string()) || r.may.contains(&"out_of_hours".to_string()),
                "{r:?}"
            );
        }
    }
}

//! What each car does on each day: trips from the depot to destinations and back, stops, parking
//! overnight, and the trip-level scenarios (off-hours use, holiday use, detours off the approved route,
//! leaving the region, parking away from the depot at night, stopping at a prohibited place).
//!
//! A day plan is a pure function of (world, vehicle, date): the fleet computes it to drive the car, and
//! the world computes the very same plans to write the dispatch orders and filings that cover them.
//! Trips never cross midnight, so each day starts where the previous one ended.

mod drafts;

use chrono::{NaiveDate, NaiveTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tianshu_model::geo::LonLat;
use tianshu_model::{Timestamp, china_offset};

use crate::geo::distance_to_polyline_m;
use crate::world::roads::NodeId;
use crate::world::{World, mix_seed, names};
use drafts::{TripDraft, day_drafts};

/// Why a trip happens, and which scenario (if any) it plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripKind {
    /// An ordinary trip in working hours with an approved order.
    Ordered,
    /// An ordinary trip in working hours with no order (无单出车).
    Unordered,
    /// A duty trip of a law-enforcement or emergency car (exempt from most rules).
    Duty,
    /// An ordered trip whose driver leaves the approved route.
    OffRoute,
    /// A trip out of the permitted region.
    RegionExit,
    /// A trip that stops at a prohibited place.
    ProhibitedStop,
    /// An evening trip outside working hours.
    OffHours,
    /// A trip on a day off without a filing.
    Holiday,
    /// A trip on a day off covered by a filing.
    HolidayFiled,
    /// The evening drive home of a car that spends the night away from its depot.
    NightAway,
    /// The morning drive back to the depot after a night away.
    MorningReturn,
}

/// One piece of motion: from `from` at `t0` to `to` at `t1` (same point = standing still).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start, UTC ms.
    pub t0_ms: i64,
    /// End, UTC ms.
    pub t1_ms: i64,
    /// Where the segment starts.
    pub from: LonLat,
    /// Where it ends.
    pub to: LonLat,
    /// Ignition on during the segment.
    pub engine_on: bool,
}

/// A stop on a trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// Place name.
    pub name: String,
    /// The road node where the car stands.
    pub node: NodeId,
    /// How long it stands there, seconds.
    pub dwell_secs: u32,
}

/// The order or filing that covers a trip, before it gets its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    /// `order` or `filing`.
    pub kind: &'static str,
    /// Purpose text.
    pub purpose: String,
    /// Approved window start.
    pub start: Timestamp,
    /// Approved window end.
    pub end: Timestamp,
    /// The approved route (orders only).
    pub route: Option<Vec<NodeId>>,
    /// Whether leaving the region is approved.
    pub allow_region_exit: bool,
}

/// One trip: the driven node path, its stops and its motion.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    /// What the trip is.
    pub kind: TripKind,
    /// The nodes driven through, in order (consecutive nodes are joined by a road).
    pub path: Vec<NodeId>,
    /// Stops along the way (the last one is where the trip turns back, unless it ends away).
    pub stops: Vec<Stop>,
    /// The motion, from leaving the parking place to parking again.
    pub segments: Vec<Segment>,
    /// The order or filing, when one covers the trip.
    pub cover: Option<Cover>,
}

impl Trip {
    /// Departure, UTC ms.
    pub fn depart_ms(&self) -> i64 {
        self.segments.first().map_or(0, |s| s.t0_ms)
    }
    /// Arrival at the final parking place, UTC ms.
    pub fn end_ms(&self) -> i64 {
        self.segments.last().map_or(0, |s| s.t1_ms)
    }
    /// Where the car parks at the end.
    pub fn end_spot(&self) -> LonLat {
        self.segments.last().map(|s| s.to).unwrap_or_default()
    }
}

/// A car's day (China local date).
#[derive(Debug, Clone, PartialEq)]
pub struct DayPlan {
    /// The date.
    pub date: NaiveDate,
    /// Where the car stands at midnight.
    pub start_spot: LonLat,
    /// Trips in time order, never overlapping, all within the day.
    pub trips: Vec<Trip>,
}

/// What a terminal reports at an instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CarState {
    /// Position.
    pub pos: LonLat,
    /// Speed over ground, km/h.
    pub speed_kmh: f64,
    /// Course, degrees from north.
    pub course_deg: f64,
    /// Ignition on.
    pub acc_on: bool,
}

impl DayPlan {
    /// The car's state at `t_ms` (UTC ms); outside every trip the car stands parked with the engine off.
    pub fn state_at(&self, t_ms: i64) -> CarState {
        let mut parked = self.start_spot;
        let mut course = 0.0;
        for trip in &self.trips {
            if t_ms < trip.depart_ms() {
                break;
            }
            if t_ms < trip.end_ms() {
                let i = trip.segments.partition_point(|s| s.t1_ms <= t_ms);
                if let Some(s) = trip.segments.get(i) {
                    if s.from == s.to {
                        let course = last_course(&trip.segments[..i]);
                        return CarState {
                            pos: s.from,
                            speed_kmh: 0.0,
                            course_deg: course,
                            acc_on: s.engine_on,
                        };
                    }
                    let dur = (s.t1_ms - s.t0_ms).max(1) as f64;
                    let f = ((t_ms - s.t0_ms) as f64 / dur).clamp(0.0, 1.0);
                    let speed_kmh = s.from.distance_m(s.to) / (dur / 1000.0) * 3.6;
                    return CarState {
                        pos: s.from.lerp(s.to, f),
                        speed_kmh,
                        course_deg: s.from.bearing_deg(s.to),
                        acc_on: true,
                    };
                }
            }
            parked = trip.end_spot();
            course = last_course(&trip.segments);
        }
        CarState {
            pos: parked,
            speed_kmh: 0.0,
            course_deg: course,
            acc_on: false,
        }
    }
}

fn last_course(segs: &[Segment]) -> f64 {
    segs.iter()
        .rev()
        .find(|s| s.from != s.to)
        .map_or(0.0, |s| s.from.bearing_deg(s.to))
}

/// The UTC instant of a China-local time of day on `date`.
pub fn local_ms(date: NaiveDate, secs_of_day: u32) -> i64 {
    let t = NaiveTime::from_num_seconds_from_midnight_opt(secs_of_day.min(86_399), 0).unwrap_or_default();
    date.and_time(t)
        .and_local_timezone(china_offset())
        .single()
        .map_or(0, |dt| dt.timestamp_millis())
}

/// The China-local date of a UTC instant.
pub fn local_date(t_ms: i64) -> NaiveDate {
    Timestamp(t_ms).to_china().date_naive()
}

fn hm(h: u32, m: u32) -> u32 {
    h * 3600 + m * 60
}

fn date_key(date: NaiveDate) -> u64 {
    date.num_days_from_ce() as u64
}

use chrono::Datelike;

/// Whether the car spends the night of `date` away from its depot (and where).
pub fn night_away(world: &World, vehicle: usize, date: NaiveDate) -> Option<NodeId> {
    let rate = world.config.scenarios.night_away_rate;
    if rate <= 0.0 || world.config.is_day_off(date) {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(mix_seed(&[world.config.seed, 2, vehicle as u64, date_key(date)]));
    rng.gen_bool(rate.clamp(0.0, 1.0))
        .then_some(world.vehicles[vehicle].home_node)
}

/// Motion being built: segments end to end from an instant.
struct Motion {
    segs: Vec<Segment>,
    t: i64,
}

impl Motion {
    /// Standing at `at` for `ms`.
    fn stand(&mut self, at: LonLat, ms: i64, engine_on: bool) {
        self.segs.push(Segment {
            t0_ms: self.t,
            t1_ms: self.t + ms,
            from: at,
            to: at,
            engine_on,
        });
        self.t += ms;
    }

    /// Driving straight from `from` to `to` at `speed_kmh` (whole seconds, at least one; nothing for a
    /// hop under half a metre).
    fn go(&mut self, from: LonLat, to: LonLat, speed_kmh: f64) {
        let d = from.distance_m(to);
        if d < 0.5 {
            return;
        }
        let ms = (d / (speed_kmh / 3.6) * 1000.0).round().max(1000.0) as i64;
        self.segs.push(Segment {
            t0_ms: self.t,
            t1_ms: self.t + ms,
            from,
            to,
            engine_on: true,
        });
        self.t += ms;
    }
}

/// Builds the motion of a drive along `path` starting at `t0_ms`, from `start` to `end` (parking places
/// off the first and last node), standing `dwell` seconds at the given path indices.
fn drive(
    world: &World,
    rng: &mut StdRng,
    t0_ms: i64,
    start: LonLat,
    path: &[NodeId],
    dwells: &[(usize, u32)],
    end: LonLat,
) -> Vec<Segment> {
    let mut m = Motion {
        segs: Vec::new(),
        t: t0_ms,
    };
    // Warm-up with the engine on before leaving the parking place.
    m.stand(start, 60_000, true);
    let (Some(&first), Some(&last)) = (path.first(), path.last()) else {
        return m.segs;
    };
    m.go(start, world.roads.pos(first), 10.0);
    for (i, &node) in path.iter().enumerate() {
        if let Some(&(_, dwell)) = dwells.iter().find(|(k, _)| *k == i) {
            // Short waits keep the engine running; longer stops switch it off.
            m.stand(world.roads.pos(node), i64::from(dwell) * 1000, dwell < 600);
        }
        let Some(&next) = path.get(i + 1) else { break };
        let class = world
            .roads
            .edge_between(node, next)
            .map_or(crate::world::roads::RoadClass::Street, |e| e.class);
        let speed = class.cruise_speed_kmh() * rng.gen_range(0.7..1.1);
        m.go(world.roads.pos(node), world.roads.pos(next), speed);
    }
    m.go(world.roads.pos(last), end, 10.0);
    m.segs
}

/// The plan of `vehicle` on `date`.
pub fn day_plan(world: &World, vehicle: usize, date: NaiveDate) -> DayPlan {
    let v = &world.vehicles[vehicle];
    let mut rng = StdRng::seed_from_u64(mix_seed(&[world.config.seed, 3, vehicle as u64, date_key(date)]));
    let prev_away = date.pred_opt().and_then(|d| night_away(world, vehicle, d));
    let start_spot = prev_away.map_or(v.parking_spot, |n| world.roads.pos(n));
    let drafts = day_drafts(world, vehicle, date, prev_away, &mut rng);

    // Lay the drafts out in time: each departs no earlier than its draft time and 20+ minutes after the
    // previous trip ended; a trip that would run past 23:50 is dropped.
    let depot = world.units[v.unit].depot_node;
    let mut trips = Vec::new();
    let mut at = (start_spot, prev_away.unwrap_or(depot));
    let mut earliest = 0i64;
    let day_end = local_ms(date, hm(23, 50));
    for d in drafts {
        let depart = local_ms(date, d.depart_secs).max(earliest);
        if depart > local_ms(date, d.latest_depart_secs) {
            tracing::debug!(vehicle, %date, kind = ?d.kind, "trip would leave too late; dropped");
            continue;
        }
        let end_node = d.end_away.unwrap_or(depot);
        let end_spot = if d.end_away.is_some() {
            world.roads.pos(end_node)
        } else {
            v.parking_spot
        };
        let Some((mut trip, approved)) = realise(world, &mut rng, &d, depart, at, (end_spot, end_node))
        else {
            continue;
        };
        if trip.end_ms() > day_end {
            tracing::debug!(vehicle, %date, kind = ?d.kind, "trip would cross midnight; dropped");
            continue;
        }
        trip.cover = cover(&trip, approved, &d, &mut rng);
        earliest = trip.end_ms() + i64::from(rng.gen_range(20u32..120)) * 60_000;
        trips.push(trip);
        at = (end_spot, end_node);
    }
    DayPlan {
        date,
        start_spot,
        trips,
    }
}

/// The trip a draft becomes when it leaves at `depart` from `from` (a parking spot off a node) and parks
/// at `to`: the approved path through its stops, the driven one (with the detour, if one is found), and
/// the motion, and the approved path. `None` when the road network has no path. The trip has no cover
/// yet: that is drawn once it is known to fit in the day ([`cover`]).
fn realise(
    world: &World,
    rng: &mut StdRng,
    d: &TripDraft,
    depart: i64,
    from: (LonLat, NodeId),
    to: (LonLat, NodeId),
) -> Option<(Trip, Vec<NodeId>)> {
    let mut waypoints = vec![from.1];
    waypoints.extend(d.stops.iter().map(|s| s.1));
    waypoints.push(to.1);
    waypoints.dedup();
    let approved = world.roads.path_through(&waypoints)?;
    let mut driven = approved.clone();
    // An off-route draft stays an ordinary ordered trip unless a real detour is found.
    let mut kind = if d.kind == TripKind::OffRoute {
        TripKind::Ordered
    } else {
        d.kind
    };
    if let Some(via) = d.detour.then(|| detour_node(world, rng, &approved)).flatten() {
        let mut wp = vec![waypoints[0], via];
        wp.extend_from_slice(&waypoints[1..]);
        if let Some(p) = world.roads.path_through(&wp) {
            driven = p;
            if kind == TripKind::Ordered {
                kind = TripKind::OffRoute;
            }
        }
    }
    // Dwell at the first visit of each stop node along the driven path.
    let mut dwells: Vec<(usize, u32)> = Vec::new();
    let mut start = 0;
    for (_, node, dwell) in &d.stops {
        if let Some(k) = driven[start..].iter().position(|n| n == node) {
            dwells.push((start + k, *dwell));
            start += k;
        }
    }
    let segments = drive(world, rng, depart, from.0, &driven, &dwells, to.0);
    let stops = d
        .stops
        .iter()
        .map(|(name, node, dwell)| Stop {
            name: name.clone(),
            node: *node,
            dwell_secs: *dwell,
        })
        .collect();
    let trip = Trip {
        kind,
        path: driven,
        stops,
        segments,
        cover: None,
    };
    Some((trip, approved))
}

/// The order or filing covering `trip`, if its draft has one: a purpose, and a window on whole five
/// minutes from a quarter of an hour before departure to half an hour after arrival, as people fill in
/// forms; an order approves the `approved` path.
fn cover(trip: &Trip, approved: Vec<NodeId>, d: &TripDraft, rng: &mut StdRng) -> Option<Cover> {
    let kind = d.cover?;
    let purpose = names::PURPOSES[rng.gen_range(0..names::PURPOSES.len())].to_string();
    let start = (trip.depart_ms() - 15 * 60_000).div_euclid(300_000) * 300_000;
    let finish = (trip.end_ms() + 30 * 60_000).div_euclid(300_000) * 300_000 + 300_000;
    Some(Cover {
        kind,
        purpose,
        start: Timestamp(start),
        end: Timestamp(finish),
        route: (kind == "order").then_some(approved),
        allow_region_exit: d.allow_region_exit,
    })
}

/// Counts trips of each kind over the world's days (a summary for logs and tests).
pub fn trip_kinds(world: &World) -> Vec<(TripKind, usize)> {
    let mut counts: Vec<(TripKind, usize)> = Vec::new();
    for v in 0..world.vehicles.len() {
        for d in world.dates() {
            for t in day_plan(world, v, d).trips {
                match counts.iter_mut().find(|(k, _)| *k == t.kind) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((t.kind, 1)),
                }
            }
        }
    }
    counts
}

/// A node well off the approved route (1.2-4 km away) that makes a believable detour.
fn detour_node(world: &World, rng: &mut StdRng, approved: &[NodeId]) -> Option<NodeId> {
    let line: Vec<LonLat> = approved.iter().map(|&n| world.roads.pos(n)).collect();
    for _ in 0..40 {
        let n = rng.gen_range(0..world.roads.nodes.len()) as NodeId;
        let d = distance_to_polyline_m(world.roads.pos(n), &line);
        if (1200.0..4000.0).contains(&d) && world.in_region(world.roads.pos(n)) {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::PlanScenarios;
    use crate::world::WorldConfig;
    use tianshu_model::VehicleClass;
    use tianshu_model::geo::point_in_ring;

    fn world(scenarios: PlanScenarios) -> World {
        // 2026-11-27 is a Friday, 28-29 a weekend.
        let friday = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        World::generate(&WorldConfig {
            scenarios,
            ..WorldConfig::from_date(friday, 3)
        })
    }

    #[test]
    fn driven_paths_stay_on_the_road_network_and_motion_is_continuous() {
        let w = world(PlanScenarios::default());
        let mut trips = 0;
        for v in 0..w.vehicles.len() {
            // The first day may start at the driver's home if the night before the range was spent away.
            let mut at = day_plan(&w, v, w.config.start_date).start_spot;
            for date in w.dates() {
                let plan = day_plan(&w, v, date);
                assert_eq!(
                    plan.start_spot, at,
                    "vehicle {v} on {date}: a day starts where the previous one ended"
                );
                let mut prev_end = local_ms(date, 0);
                for t in &plan.trips {
                    trips += 1;
                    assert!(
                        w.roads.is_connected_path(&t.path),
                        "{:?} trip off the road network",
                        t.kind
                    );
                    assert!(t.depart_ms() >= prev_end, "trips overlap");
                    assert!(local_date(t.end_ms()) == date, "trip crosses midnight");
                    for pair in t.segments.windows(2) {
                        assert_eq!(pair[0].t1_ms, pair[1].t0_ms);
                        assert_eq!(pair[0].to, pair[1].from);
                    }
                    for s in &t.segments {
                        if s.from != s.to {
                            let kmh =
                                s.from.distance_m(s.to) / ((s.t1_ms - s.t0_ms) as f64 / 3_600_000.0) / 1000.0;
                            assert!(kmh <= 115.0, "{kmh} km/h");
                        }
                    }
                    prev_end = t.end_ms();
                }
                at = plan.trips.last().map_or(plan.start_spot, |t| t.end_spot());
            }
        }
        assert!(trips > 700, "{trips} trips");
    }

    #[test]
    fn state_is_consistent_with_motion() {
        let w = world(PlanScenarios::default());
        let date = w.config.start_date;
        let plan = (0..w.vehicles.len())
            .map(|v| day_plan(&w, v, date))
            .find(|p| !p.trips.is_empty())
            .unwrap();
        let t = &plan.trips[0];
        let before = plan.state_at(t.depart_ms() - 1);
        assert!(!before.acc_on && before.speed_kmh == 0.0);
        let mut moving = 0;
        let mut last = before.pos;
        let mut ts = t.depart_ms();
        while ts < t.end_ms() {
            let s = plan.state_at(ts);
            assert!(s.acc_on || s.speed_kmh == 0.0, "moving with ignition off");
            // Ten seconds at up to 110 km/h is at most ~310 m.
            assert!(
                s.pos.distance_m(last) < 320.0,
                "jump of {} m",
                s.pos.distance_m(last)
            );
            if s.speed_kmh > 0.0 {
                moving += 1;
            }
            last = s.pos;
            ts += 10_000;
        }
        assert!(moving > 10);
        let after = plan.state_at(t.end_ms() + 1);
        assert!(!after.acc_on && after.speed_kmh == 0.0);
        assert_eq!(after.pos, t.end_spot());
    }

    #[test]
    fn working_days_and_days_off_differ() {
        let w = world(PlanScenarios::none());
        let (fri, sat) = (w.config.start_date, w.config.start_date.succ_opt().unwrap());
        let general: Vec<usize> = (0..w.vehicles.len())
            .filter(|&v| w.vehicles[v].class == VehicleClass::General)
            .collect();
        let weekday_trips: usize = general.iter().map(|&v| day_plan(&w, v, fri).trips.len()).sum();
        let weekend_trips: usize = general.iter().map(|&v| day_plan(&w, v, sat).trips.len()).sum();
        assert!(weekday_trips > 300);
        assert_eq!(
            weekend_trips, 0,
            "with scenarios off, general cars stay parked on days off"
        );
        for &v in &general {
            for t in day_plan(&w, v, fri).trips {
                assert_eq!(t.kind, TripKind::Ordered);
                let local = Timestamp(t.depart_ms()).to_china();
                use chrono::Timelike;
                assert!((8..17).contains(&local.hour()), "departs at {local}");
                assert!(t.cover.is_some());
            }
        }
    }

    #[test]
    fn scenario_switches_change_the_trips() {
        let all = PlanScenarios {
            off_route_rate: 0.5,
            region_exit_rate: 0.2,
            night_away_rate: 0.1,
            holiday_rate: 0.2,
            off_hours_rate: 0.2,
            prohibited_stop_rate: 0.2,
            ..PlanScenarios::default()
        };
        let w = world(all);
        let kinds: std::collections::HashMap<TripKind, usize> = trip_kinds(&w).into_iter().collect();
        for k in [
            TripKind::OffRoute,
            TripKind::RegionExit,
            TripKind::NightAway,
            TripKind::MorningReturn,
            TripKind::Holiday,
            TripKind::OffHours,
            TripKind::ProhibitedStop,
            TripKind::Unordered,
            TripKind::Duty,
        ] {
            assert!(
                kinds.get(&k).copied().unwrap_or(0) > 0,
                "no {k:?} trip in {kinds:?}"
            );
        }
        let quiet = world(PlanScenarios::none());
        let kinds: std::collections::HashMap<TripKind, usize> = trip_kinds(&quiet).into_iter().collect();
        assert_eq!(
            kinds
                .keys()
                .filter(|k| !matches!(k, TripKind::Ordered | TripKind::Duty))
                .count(),
            0,
            "{kinds:?}"
        );

        // What each scenario means on the map.
        for v in 0..w.vehicles.len() {
            for date in w.dates() {
                for t in day_plan(&w, v, date).trips {
                    let line: Vec<LonLat> = t.path.iter().map(|&n| w.roads.pos(n)).collect();
                    let route = || {
                        t.cover
                            .as_ref()
                            .and_then(|c| c.route.clone())
                            .expect("approved route")
                    };
                    match t.kind {
                        TripKind::OffRoute => {
                            let approved: Vec<LonLat> = route().iter().map(|&n| w.roads.pos(n)).collect();
                            let max = line
                                .iter()
                                .map(|p| distance_to_polyline_m(*p, &approved))
                                .fold(0.0, f64::max);
                            assert!(max > 1000.0, "detour only {max} m off the route");
                        }
                        TripKind::Ordered => {
                            assert_eq!(route(), t.path, "an ordered trip drives its approved route");
                        }
                        TripKind::RegionExit => assert!(line.iter().any(|p| !w.in_region(*p))),
                        TripKind::ProhibitedStop => assert!(t.stops.iter().any(|s| {
                            w.prohibited
                                .iter()
                                .any(|p| point_in_ring(w.roads.pos(s.node), &p.ring))
                        })),
                        TripKind::NightAway => {
                            assert!(!point_in_ring(t.end_spot(), &w.units[w.vehicles[v].unit].depot))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

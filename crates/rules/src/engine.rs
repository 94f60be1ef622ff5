//! Per-vehicle rule state: points in, episodes out.
//!
//! [`VehicleRules::push`] takes one vehicle's points in fix-time order. For each point the engine
//! works out the facts every rule asks about (in use, valid fix, day kind, office hours, covering
//! orders, containing geofences) once, then runs the rules about absence (silence, the night checks
//! due before the point), then each point rule through its de-bouncer, then the
//! night rule's reaction to the point (back in the depot, ignition off at night).
//!
//! A point older than the last one seen (a blind-area backfill arriving after live points) goes to a
//! separate late lane: a fresh state fed the late points in their own fix-time order, whose episodes
//! are all marked late. The lane closes when the caller's clock says no late point came for a while
//! ([`VehicleRules::tick`]) or when the evaluation ends ([`VehicleRules::finish`]).

use chrono::Datelike;
use tianshu_model::{LonLat, Position, PositionSource, Timestamp, Vehicle};

use crate::debounce::Track;
use crate::reference::Reference;
use crate::rules::night_parking::NightParking;
use crate::rules::silence::Silence;
use crate::rules::{Facts, POINT_RULES, Prev, Subject, judge_point};
use crate::{Diagnostics, Evidence, RuleEvent};

/// Idle time after which a late lane is closed, by the caller's clock. Milliseconds.
const LATE_LANE_IDLE_MS: i64 = 120_000;

/// One vehicle's rule state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VehicleRules {
    subject: Subject,
    /// Where the car last stood still (or moved to), for the displacement test of "in use".
    anchor: Option<LonLat>,
    /// One per point rule, in their evaluation order.
    tracks: [Track; POINT_RULES],
    night: NightParking,
    silence: Silence,
    late_lane: Option<Box<VehicleRules>>,
    diag: Diagnostics,
}

impl VehicleRules {
    /// Fresh state for a vehicle.
    pub fn new(vehicle: &Vehicle) -> Self {
        VehicleRules {
            subject: Subject {
                vehicle: vehicle.id,
                unit: vehicle.unit,
                class: vehicle.class,
                force_late: false,
                prev: None,
                last_evidence: None,
                last_recv: Timestamp::default(),
            },
            anchor: None,
            tracks: Default::default(),
            night: NightParking::default(),
            silence: Silence::default(),
            late_lane: None,
            diag: Diagnostics::default(),
        }
    }

    fn lane_of(&self) -> Self {
        let s = &self.subject;
        let mut lane = VehicleRules::new(&Vehicle {
            id: s.vehicle,
            plate: String::new(),
            unit: s.unit,
            class: s.class,
            marking: None,
        });
        lane.subject.force_late = true;
        lane
    }

    /// Updates the vehicle's unit and class after a registry change; open episodes are kept.
    pub fn set_vehicle(&mut self, vehicle: &Vehicle) {
        self.subject.unit = vehicle.unit;
        self.subject.class = vehicle.class;
    }

    /// What could not be judged so far.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diag
    }

    /// The fix time of the last in-order point.
    pub fn last_fix(&self) -> Option<Timestamp> {
        self.subject.prev.map(|p| p.t)
    }

    /// Feeds one point. Points should come in fix-time order; an older point goes to the late lane.
    pub fn push(&mut self, r: &Reference, p: &Position, out: &mut Vec<RuleEvent>) {
        if p.recv_time > self.subject.last_recv {
            self.subject.last_recv = p.recv_time;
        }
        if let Some(prev) = self.subject.prev
            && p.fix_time < prev.t
        {
            self.diag.out_of_order_points += 1;
            let restart = self
                .late_lane
                .as_ref()
                .is_none_or(|l| l.subject.prev.is_some_and(|lp| p.fix_time < lp.t));
            if restart {
                if let Some(mut old) = self.late_lane.take() {
                    old.finish(r, out);
                }
                self.late_lane = Some(Box::new(self.lane_of()));
            }
            if let Some(lane) = self.late_lane.as_mut() {
                lane.subject.last_recv = lane.subject.last_recv.max(p.recv_time);
                lane.step(r, p, out);
            }
            return;
        }
        self.step(r, p, out);
    }

    /// Lets time pass without points: opens a silence episode, runs the nightly check, closes an idle
    /// late lane. `now` is the caller's clock, compared with the receive times of the points.
    pub fn tick(&mut self, r: &Reference, now: Timestamp, out: &mut Vec<RuleEvent>) {
        if let Some(prev) = self.subject.prev {
            // Absence is judged on the receiving clock (how long since anything arrived) and projected
            // onto the data's own timeline, so a replay or a simulation running hours behind the wall
            // clock is not "silent" and its nightly check falls at its own night.
            let last_heard = if self.subject.last_recv.millis() > 0 {
                self.subject.last_recv
            } else {
                prev.t
            };
            let idle_ms = (now.millis() - last_heard.millis()).max(0);
            let data_now = prev.t.add_millis(idle_ms);
            self.silence.on_tick(r, &self.subject, prev, idle_ms, out);
            if data_now > prev.t {
                self.night.before(r, &self.subject, data_now, &mut self.diag, out);
            }
        }
        if self
            .late_lane
            .as_ref()
            .is_some_and(|l| now.millis() - l.subject.last_recv.millis() > LATE_LANE_IDLE_MS)
            && let Some(mut lane) = self.late_lane.take()
        {
            lane.finish(r, out);
        }
    }

    /// Ends the evaluation: open episodes close at their last evidence (a silence still in progress
    /// stays open).
    // `r` is part of the contract (a future rule may need reference data to close), not only recursion.
    #[allow(clippy::only_used_in_recursion)]
    pub fn finish(&mut self, r: &Reference, out: &mut Vec<RuleEvent>) {
        if let Some(mut lane) = self.late_lane.take() {
            lane.finish(r, out);
        }
        for tr in &mut self.tracks {
            tr.finish(out);
        }
        self.night.finish(&self.subject, out);
    }

    /// One point in fix-time order.
    fn step(&mut self, r: &Reference, p: &Position, out: &mut Vec<RuleEvent>) {
        let cfg = &r.config;
        let t = p.fix_time;
        let late = self.subject.force_late
            || p.source == PositionSource::Backfill
            || p.recv_time.millis() - t.millis() > i64::from(cfg.late_after_secs) * 1000;
        let valid = (!cfg.require_valid_fix || p.status.fixed()) && !(p.lat_e6 == 0 && p.lon_e6 == 0);
        let ll = p.lonlat();
        let acc = p.status.acc_on();
        let moving = acc && p.speed_kmh() >= cfg.moving_speed_kmh;
        let displaced = valid
            && self
                .anchor
                .is_some_and(|a| a.approx_distance_m(ll) > cfg.displacement_m);
        let in_use = moving || displaced;
        if valid && (in_use || self.anchor.is_none()) {
            self.anchor = Some(ll);
        }

        // Absence first: the time between the previous point and this one.
        self.silence.on_point(r, &self.subject, t, late, out);
        self.night.before(r, &self.subject, t, &mut self.diag, out);
        let ev = Evidence::of(p);
        if valid {
            self.night.remember(ev);
        }

        let facts = Facts::new(r, &self.subject, p, late, ll, valid, in_use);
        if facts.kind.is_none() {
            let y = t.to_china().year();
            if !self.diag.missing_calendar_years.contains(&y) {
                self.diag.missing_calendar_years.push(y);
            }
        }
        judge_point(&mut self.tracks, &facts, out);
        self.night.on_point(&facts, ev, out);

        let prev_acc = self.subject.prev.is_some_and(|p| p.acc);
        self.subject.prev = Some(Prev { t, in_use, acc });
        self.subject.last_evidence = Some(ev);
        if prev_acc && !acc {
            self.night.switched_off(r, &self.subject, t, &mut self.diag, out);
        }
    }
}

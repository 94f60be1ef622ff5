//! The rules, one file each.
//!
//! Eight rules judge each point on its own, behind the [`Rule`] trait: given the facts of a point
//! ([`Facts`], computed once per point and shared), a rule says whether its condition holds (the
//! looser "stay" test is the hysteresis in space) and, when an episode starts, what to say about it.
//! The engine's de-bouncer turns those conditions into episodes; a rule keeps no state of its own.
//! [`judge_point`] runs them in the order they are evaluated, which is the order their events come
//! out for one point.
//!
//! Two rules are about absence rather than points and keep their own state: [`silence`] (no report
//! for hours after the car was in use) and [`night_parking`] (the car is not in its depot at night,
//! checked at fixed times and when the ignition goes off).

use tianshu_model::{LonLat, Position, Timestamp, UnitId, VehicleClass, VehicleId};

use crate::calendar::{DayKind, local_day, local_secs_of_day};
pub(crate) use crate::debounce::Judgement;
use crate::debounce::{Fix, Track};
use crate::reference::{Cover, Reference};
use crate::text::{Detail, month_day};
use crate::timetable::Timetable;
use crate::{Evidence, FenceKind, RuleEvent, RuleId};

mod holiday_seal;
pub(crate) mod night_parking;
mod no_order;
mod off_route;
mod out_of_hours;
mod overspeed;
mod prohibited_place;
mod region_exit;
pub(crate) mod silence;
mod tamper;

/// How many rules judge points one by one.
pub(crate) const POINT_RULES: usize = 8;

/// Judges point `f` by every point rule, in evaluation order (the order their events come out),
/// each feeding its own track. The calls are direct, so each rule's code is compiled into this loop.
#[inline]
pub(crate) fn judge_point(tracks: &mut [Track; POINT_RULES], f: &Facts<'_>, out: &mut Vec<RuleEvent>) {
    let [t0, t1, t2, t3, t4, t5, t6, t7] = tracks;
    out_of_hours::OutOfHours.apply(t0, f, out);
    no_order::NoOrder.apply(t1, f, out);
    off_route::OffRoute.apply(t2, f, out);
    region_exit::RegionExit.apply(t3, f, out);
    prohibited_place::ProhibitedPlace.apply(t4, f, out);
    holiday_seal::HolidaySeal.apply(t5, f, out);
    tamper::Tamper.apply(t6, f, out);
    overspeed::Overspeed.apply(t7, f, out);
}

/// A rule that judges each point.
pub(crate) trait Rule {
    /// Which rule (its settings are the configuration's of this id).
    const ID: RuleId;

    /// Whether the condition holds at this point; `None` when the rule does not look at the point at
    /// all (the class is exempt, no valid fix), which leaves its de-bouncer where it was. Asked only
    /// while the rule is enabled. `active` tells whether an episode is open, for rules whose enter
    /// test costs more than their stay test.
    fn judge(&self, f: &Facts<'_>, active: bool) -> Option<Judgement>;

    /// The words of an episode that starts at this point (called only then).
    fn detail(&self, f: &Facts<'_>) -> Detail;

    /// Judges point `f` and feeds the judgement to the rule's track.
    #[inline]
    fn apply(&self, track: &mut Track, f: &Facts<'_>, out: &mut Vec<RuleEvent>) {
        let cfg = &f.r.config;
        if !cfg.enabled(Self::ID) {
            return;
        }
        let Some(d) = cfg.debounce(Self::ID) else {
            return;
        };
        if let Some(j) = self.judge(f, track.is_active()) {
            let at = Fix {
                r: f.r,
                p: f.p,
                vehicle: f.vehicle,
                late: f.late,
            };
            track.drive(Self::ID, d, at, j, || self.detail(f), out);
        }
    }
}

/// The vehicle a state judges, and what the engine has seen of it so far.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Subject {
    /// The vehicle.
    pub(crate) vehicle: VehicleId,
    /// Its unit.
    pub(crate) unit: UnitId,
    /// Its class.
    pub(crate) class: VehicleClass,
    /// Every episode of this state is late (the late lane).
    pub(crate) force_late: bool,
    /// The last in-order point.
    pub(crate) prev: Option<Prev>,
    /// Evidence of the last in-order point.
    pub(crate) last_evidence: Option<Evidence>,
    /// The latest receive time seen.
    pub(crate) last_recv: Timestamp,
}

/// The last in-order point, as the rules about absence need it.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(crate) struct Prev {
    /// Its fix time.
    pub(crate) t: Timestamp,
    /// The car was in use (moving, or displaced from where it stood).
    pub(crate) in_use: bool,
    /// Ignition on.
    pub(crate) acc: bool,
}

/// The geofences that contain a point, found in one pass.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FenceHits {
    /// Inside a permitted region.
    pub(crate) in_region: bool,
    /// The first prohibited place containing it.
    pub(crate) prohibited: Option<u32>,
    /// The speed zone with the lowest limit containing it, and that limit.
    pub(crate) zone: Option<(u32, f64)>,
}

impl FenceHits {
    fn of(r: &Reference, ll: LonLat) -> Self {
        let mut hits = FenceHits::default();
        for id in r.polygons().containing(ll) {
            let Some(f) = r.fence(id) else { continue };
            match f.kind {
                FenceKind::Region => hits.in_region = true,
                FenceKind::Prohibited => {
                    hits.prohibited.get_or_insert(id);
                }
                FenceKind::SpeedZone => {
                    if let Some(l) = f.speed_limit_kmh
                        && hits.zone.is_none_or(|(_, z)| l < z)
                    {
                        hits.zone = Some((id, l));
                    }
                }
                FenceKind::Depot => {}
            }
        }
        hits
    }
}

/// Everything the point rules ask about one point, computed once.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// The reference data.
    pub(crate) r: &'a Reference,
    /// The point.
    pub(crate) p: &'a Position,
    /// It arrived late (a backfill, a delayed delivery, or a point of the late lane).
    pub(crate) late: bool,
    /// Its place.
    pub(crate) ll: LonLat,
    /// The fix is usable for place-based rules.
    pub(crate) valid: bool,
    /// The car is in use.
    pub(crate) in_use: bool,
    /// The vehicle.
    pub(crate) vehicle: VehicleId,
    /// Its unit.
    pub(crate) unit: UnitId,
    /// Its class.
    pub(crate) class: VehicleClass,
    /// The local day number.
    pub(crate) day: i64,
    /// What kind of day it is, when the calendar knows the year.
    pub(crate) kind: Option<DayKind>,
    /// The unit's office hours.
    pub(crate) timetable: &'a Timetable,
    /// Within office hours on a working day.
    pub(crate) office: bool,
    /// The orders and filings that cover the car now.
    pub(crate) cover: Cover<'a>,
    /// The geofences containing the point (none for an invalid fix).
    pub(crate) fences: FenceHits,
}

impl<'a> Facts<'a> {
    /// The facts of point `p` of the subject's vehicle.
    #[inline]
    pub(crate) fn new(
        r: &'a Reference,
        s: &Subject,
        p: &'a Position,
        late: bool,
        ll: LonLat,
        valid: bool,
        in_use: bool,
    ) -> Self {
        let t = p.fix_time;
        let (day, secs) = (local_day(t), local_secs_of_day(t));
        let kind = r.calendar.kind_of_day(day);
        let timetable = r.timetable(s.unit);
        let office =
            kind.is_some_and(|k| k.is_working()) && timetable.is_office_time(secs, || month_day(day));
        Facts {
            r,
            p,
            late,
            ll,
            valid,
            in_use,
            vehicle: s.vehicle,
            unit: s.unit,
            class: s.class,
            day,
            kind,
            timetable,
            office,
            cover: r.cover(s.vehicle, t),
            fences: if valid {
                FenceHits::of(r, ll)
            } else {
                FenceHits::default()
            },
        }
    }

    /// `Some` when a rule about places can judge this point: the fix is valid and the vehicle's class
    /// is not exempt from `rule`.
    #[inline]
    pub(crate) fn valid_fix_for(&self, rule: RuleId) -> Option<()> {
        (self.valid && !self.exempt(rule)).then_some(())
    }

    /// Whether the vehicle's class is exempt from `rule`.
    #[inline]
    pub(crate) fn exempt(&self, rule: RuleId) -> bool {
        self.r.exempt(self.class, rule)
    }
}

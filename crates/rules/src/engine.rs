//! Per-vehicle rule state: points in, episodes out.
//!
//! [`VehicleRules::push`] takes one vehicle's points in fix-time order. Each rule computes a condition
//! per point (an "enter" test and a looser "stay" test, which is the hysteresis in space), and a
//! de-bouncer turns conditions into episodes: idle -> pending (the condition holds, not yet long enough)
//! -> active (an episode is open) -> idle (it has been false for `clear_secs`, or the data has a gap
//! longer than `max_gap_secs`). Only transitions allocate (reasoning texts, the episode itself).
//!
//! A point older than the last one seen (a blind-area backfill arriving after live points) goes to a
//! separate late lane: a fresh state fed the late points in their own fix-time order, whose episodes
//! are all marked late. The lane closes when the caller's clock says no late point came for a while
//! ([`VehicleRules::tick`]) or when the evaluation ends ([`VehicleRules::finish`]).

use chrono::Datelike;
use tianshu_model::{LonLat, Position, PositionSource, Timestamp, UnitId, Vehicle, VehicleClass, VehicleId};

use crate::calendar::{DayKind, date_of_day, instant_of, local_day, local_secs_of_day};
use crate::config::Debounce;
use crate::reference::Reference;
use crate::{Episode, Evidence, MAX_EVIDENCE, RuleId};

/// What the rules report.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleEvent {
    /// An episode began (its minimum duration was reached); `end` is `None`.
    Opened(Episode),
    /// An episode ended; `end` is set. Same rule, vehicle and start as its `Opened`.
    Closed(Episode),
}

impl RuleEvent {
    /// The episode.
    pub fn episode(&self) -> &Episode {
        match self {
            RuleEvent::Opened(e) | RuleEvent::Closed(e) => e,
        }
    }
}

/// Things the rules could not judge, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// Years the calendar has no data for, seen in the points: day-based rules were skipped.
    pub missing_calendar_years: Vec<i32>,
    /// The vehicle's unit has no depot, so the night check was skipped.
    pub no_depot: bool,
    /// Points older than the last one seen, evaluated in the late lane.
    pub out_of_order_points: u64,
}

#[derive(Debug, Clone, Copy, Default)]
enum Phase {
    #[default]
    Idle,
    Pending {
        since: Timestamp,
        fixes: u32,
        last: Timestamp,
    },
    Active {
        last_true: Timestamp,
        false_since: Option<Timestamp>,
        last: Timestamp,
    },
}

#[derive(Debug, Default)]
struct StepOut {
    closed: Option<Timestamp>,
    opened: Option<Timestamp>,
    started: bool,
}

#[derive(Debug, Clone, Default)]
struct Debouncer {
    phase: Phase,
}

impl Debouncer {
    fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active { .. })
    }

    fn is_engaged(&self) -> bool {
        !matches!(self.phase, Phase::Idle)
    }

    fn step(&mut self, d: Debounce, t: Timestamp, enter: bool, stay: bool) -> StepOut {
        let mut o = StepOut::default();
        let max_gap_ms = i64::from(d.max_gap_secs) * 1000;
        match self.phase {
            Phase::Pending { last, .. } if t.millis() - last.millis() > max_gap_ms => {
                self.phase = Phase::Idle
            }
            Phase::Active { last, last_true, .. } if t.millis() - last.millis() > max_gap_ms => {
                o.closed = Some(last_true);
                self.phase = Phase::Idle;
            }
            _ => {}
        }
        match &mut self.phase {
            Phase::Idle => {
                if enter {
                    self.phase = Phase::Pending {
                        since: t,
                        fixes: 1,
                        last: t,
                    };
                    o.started = true;
                }
            }
            Phase::Pending { fixes, last, .. } => {
                if enter {
                    *fixes += 1;
                    *last = t;
                } else {
                    self.phase = Phase::Idle;
                }
            }
            Phase::Active {
                last_true,
                false_since,
                last,
            } => {
                *last = t;
                if stay {
                    *last_true = t;
                    *false_since = None;
                } else {
                    let since = *false_since.get_or_insert(t);
                    if t.millis() - since.millis() >= i64::from(d.clear_secs) * 1000 {
                        o.closed = Some(*last_true);
                        self.phase = Phase::Idle;
                    }
                }
            }
        }
        if let Phase::Pending { since, fixes, last } = self.phase
            && last.millis() - since.millis() >= i64::from(d.min_duration_secs) * 1000
            && fixes >= d.min_fixes
        {
            self.phase = Phase::Active {
                last_true: last,
                false_since: None,
                last,
            };
            o.opened = Some(since);
        }
        o
    }

    fn finish(&mut self) -> Option<Timestamp> {
        let end = match self.phase {
            Phase::Active { last_true, .. } => Some(last_true),
            _ => None,
        };
        self.phase = Phase::Idle;
        end
    }
}

/// The rule-specific words of an episode, captured when its condition first holds.
#[derive(Debug, Clone, Default)]
struct Detail {
    en: String,
    zh: String,
    subject: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Track {
    deb: Debouncer,
    pending_evidence: Vec<Evidence>,
    open: Option<Episode>,
    detail: Detail,
    late: bool,
}

const OUT_OF_HOURS: usize = 0;
const NO_ORDER: usize = 1;
const OFF_ROUTE: usize = 2;
const REGION_EXIT: usize = 3;
const PROHIBITED: usize = 4;
const HOLIDAY: usize = 5;
const TAMPER: usize = 6;
const OVERSPEED: usize = 7;
const TRACKS: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Prev {
    t: Timestamp,
    in_use: bool,
    acc: bool,
}

/// How many recent fixes the night check can look at.
const RECENT: usize = 8;

/// Idle time after which a late lane is closed, by the caller's clock. Milliseconds.
const LATE_LANE_IDLE_MS: i64 = 120_000;

/// One vehicle's rule state.
#[derive(Debug, Clone)]
pub struct VehicleRules {
    vehicle: VehicleId,
    unit: UnitId,
    class: VehicleClass,
    force_late: bool,
    tracks: [Track; TRACKS],
    prev: Option<Prev>,
    last_evidence: Option<Evidence>,
    last_recv: Timestamp,
    anchor: Option<LonLat>,
    recent: [Option<Evidence>; RECENT],
    recent_next: usize,
    night_open: Option<(Episode, Timestamp)>,
    night_checked_until: Option<Timestamp>,
    silence_open: Option<Episode>,
    late_lane: Option<Box<VehicleRules>>,
    diag: Diagnostics,
}

fn local_text(t: Timestamp) -> String {
    t.to_china().format("%Y-%m-%d %H:%M").to_string()
}

fn duration_text(start: Timestamp, end: Timestamp) -> (String, String) {
    let secs = (end.millis() - start.millis()).max(0) / 1000;
    if secs < 120 {
        (format!("{secs} s"), format!("{secs}秒"))
    } else {
        (format!("{} min", secs / 60), format!("{}分钟", secs / 60))
    }
}

fn compose(rule: RuleId, d: &Detail, start: Timestamp, end: Option<Timestamp>) -> (String, String) {
    match end {
        Some(end) => {
            let (den, dzh) = duration_text(start, end);
            (
                format!(
                    "{}: {}; from {} to {} ({den}, Beijing time).",
                    rule.title_en(),
                    d.en,
                    local_text(start),
                    local_text(end)
                ),
                format!(
                    "{}：{}；{}至{}（{dzh}，北京时间）。",
                    rule.title_zh(),
                    d.zh,
                    local_text(start),
                    local_text(end)
                ),
            )
        }
        None => (
            format!(
                "{}: {}; since {} (Beijing time).",
                rule.title_en(),
                d.en,
                local_text(start)
            ),
            format!(
                "{}：{}；{}起（北京时间）。",
                rule.title_zh(),
                d.zh,
                local_text(start)
            ),
        ),
    }
}

fn push_evidence(v: &mut Vec<Evidence>, e: Evidence) {
    if v.len() < MAX_EVIDENCE {
        v.push(e);
    } else if let Some(last) = v.last_mut() {
        *last = e;
    }
}

fn close_episode(mut ep: Episode, end: Timestamp, d: &Detail) -> Episode {
    ep.end = Some(end.max(ep.start));
    let (en, zh) = compose(ep.rule, d, ep.start, ep.end);
    ep.reasoning = en;
    ep.reasoning_zh = zh;
    ep
}

fn ll_of(e: &Evidence) -> LonLat {
    LonLat::from_e6(e.lon_e6, e.lat_e6)
}

fn month_day(day: i64) -> (u8, u8) {
    date_of_day(day).map_or((1, 1), |d| (d.month() as u8, d.day() as u8))
}

fn date_text(day: i64) -> String {
    date_of_day(day).map_or_else(String::new, |d| d.format("%Y-%m-%d (%A)").to_string())
}

impl VehicleRules {
    /// Fresh state for a vehicle.
    pub fn new(vehicle: &Vehicle) -> Self {
        VehicleRules {
            vehicle: vehicle.id,
            unit: vehicle.unit,
            class: vehicle.class,
            force_late: false,
            tracks: Default::default(),
            prev: None,
            last_evidence: None,
            last_recv: Timestamp::default(),
            anchor: None,
            recent: [None; RECENT],
            recent_next: 0,
            night_open: None,
            night_checked_until: None,
            silence_open: None,
            late_lane: None,
            diag: Diagnostics::default(),
        }
    }

    fn lane_of(&self) -> Self {
        let mut lane = VehicleRules::new(&Vehicle {
            id: self.vehicle,
            plate: String::new(),
            unit: self.unit,
            class: self.class,
        });
        lane.force_late = true;
        lane
    }

    /// Updates the vehicle's unit and class after a registry change; open episodes are kept.
    pub fn set_vehicle(&mut self, vehicle: &Vehicle) {
        self.unit = vehicle.unit;
        self.class = vehicle.class;
    }

    /// What could not be judged so far.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diag
    }

    /// The fix time of the last in-order point.
    pub fn last_fix(&self) -> Option<Timestamp> {
        self.prev.map(|p| p.t)
    }

    /// Feeds one point. Points should come in fix-time order; an older point goes to the late lane.
    pub fn push(&mut self, r: &Reference, p: &Position, out: &mut Vec<RuleEvent>) {
        if p.recv_time > self.last_recv {
            self.last_recv = p.recv_time;
        }
        if let Some(prev) = self.prev
            && p.fix_time < prev.t
        {
            self.diag.out_of_order_points += 1;
            let restart = self
                .late_lane
                .as_ref()
                .is_none_or(|l| l.prev.is_some_and(|lp| p.fix_time < lp.t));
            if restart {
                if let Some(mut old) = self.late_lane.take() {
                    old.finish(r, out);
                }
                self.late_lane = Some(Box::new(self.lane_of()));
            }
            if let Some(lane) = self.late_lane.as_mut() {
                lane.last_recv = lane.last_recv.max(p.recv_time);
                lane.step(r, p, out);
            }
            return;
        }
        self.step(r, p, out);
    }

    /// Lets time pass without points: opens a silence episode, runs the nightly check, closes an idle
    /// late lane. `now` is the caller's clock, compared with the receive times of the points.
    pub fn tick(&mut self, r: &Reference, now: Timestamp, out: &mut Vec<RuleEvent>) {
        let cfg = &r.config.silence;
        if let Some(prev) = self.prev {
            // Absence is judged on the receiving clock (how long since anything arrived) and projected
            // onto the data's own timeline, so a replay or a simulation running hours behind the wall
            // clock is not "silent" and its nightly check falls at its own night.
            let last_heard = if self.last_recv.millis() > 0 {
                self.last_recv
            } else {
                prev.t
            };
            let idle_ms = (now.millis() - last_heard.millis()).max(0);
            let data_now = prev.t.add_millis(idle_ms);
            let after_ms = (cfg.after_hours * 3_600_000.0) as i64;
            if cfg.enabled
                && !r.exempt(self.class, RuleId::Silence)
                && self.silence_open.is_none()
                && idle_ms > after_ms
                && (prev.in_use || prev.acc)
            {
                let ep = self.silence_episode(r, prev.t, None, false);
                out.push(RuleEvent::Opened(ep.clone()));
                self.silence_open = Some(ep);
            }
            if data_now > prev.t {
                self.night_before(r, data_now, out);
            }
        }
        if self
            .late_lane
            .as_ref()
            .is_some_and(|l| now.millis() - l.last_recv.millis() > LATE_LANE_IDLE_MS)
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
            if let Some(end) = tr.deb.finish()
                && let Some(ep) = tr.open.take()
            {
                out.push(RuleEvent::Closed(close_episode(ep, end, &tr.detail)));
            }
            tr.pending_evidence.clear();
        }
        if let Some((ep, night_end)) = self.night_open.take() {
            let last = self.prev.map_or(ep.start, |p| p.t);
            out.push(RuleEvent::Closed(self.close_night(ep, last.min(night_end))));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn drive(
        &mut self,
        idx: usize,
        rule: RuleId,
        r: &Reference,
        d: Debounce,
        p: &Position,
        enter: bool,
        stay: bool,
        late: bool,
        detail: impl FnOnce() -> Detail,
        out: &mut Vec<RuleEvent>,
    ) {
        let vehicle = self.vehicle;
        let tr = &mut self.tracks[idx];
        let s = tr.deb.step(d, p.fix_time, enter, stay);
        if let Some(end) = s.closed
            && let Some(ep) = tr.open.take()
        {
            out.push(RuleEvent::Closed(close_episode(ep, end, &tr.detail)));
        }
        if s.started {
            tr.pending_evidence.clear();
            tr.detail = detail();
            tr.late = late;
        }
        if tr.deb.is_engaged() && (enter || stay) {
            match &mut tr.open {
                Some(ep) => push_evidence(&mut ep.evidence, Evidence::of(p)),
                None => push_evidence(&mut tr.pending_evidence, Evidence::of(p)),
            }
        }
        if let Some(start) = s.opened {
            tr.late |= late;
            let (en, zh) = compose(rule, &tr.detail, start, None);
            let ep = Episode {
                rule,
                vehicle,
                start,
                end: None,
                severity: r.config.severity(rule),
                late: tr.late,
                reasoning: en,
                reasoning_zh: zh,
                subject: tr.detail.subject.clone(),
                evidence: std::mem::take(&mut tr.pending_evidence),
            };
            out.push(RuleEvent::Opened(ep.clone()));
            tr.open = Some(ep);
        }
    }

    fn silence_episode(
        &self,
        r: &Reference,
        start: Timestamp,
        end: Option<Timestamp>,
        late: bool,
    ) -> Episode {
        let hours = r.config.silence.after_hours;
        let d = Detail {
            en: format!("no report for more than {hours} h after the car was last seen in use"),
            zh: format!("车辆最后一次处于使用状态后超过{hours}小时无位置上报"),
            subject: None,
        };
        let (en, zh) = compose(RuleId::Silence, &d, start, end);
        Episode {
            rule: RuleId::Silence,
            vehicle: self.vehicle,
            start,
            end,
            severity: r.config.severity(RuleId::Silence),
            late,
            reasoning: en,
            reasoning_zh: zh,
            subject: None,
            evidence: self.last_evidence.into_iter().collect(),
        }
    }

    fn remember(&mut self, e: Evidence) {
        self.recent[self.recent_next] = Some(e);
        self.recent_next = (self.recent_next + 1) % RECENT;
    }

    /// The newest `n` remembered fixes, newest first.
    fn recent_fixes(&self, n: usize) -> impl Iterator<Item = &Evidence> {
        (1..=RECENT.min(n))
            .filter_map(move |k| self.recent[(self.recent_next + RECENT - k) % RECENT].as_ref())
    }

    /// Night episode bookkeeping up to `upto`: closes an episode whose night has ended and runs the
    /// nightly checks that fall in `(watermark, upto]`.
    fn night_before(&mut self, r: &Reference, upto: Timestamp, out: &mut Vec<RuleEvent>) {
        if let Some((ep, night_end)) = &self.night_open
            && upto >= *night_end
        {
            let end = *night_end;
            let ep = ep.clone();
            self.night_open = None;
            out.push(RuleEvent::Closed(self.close_night(ep, end)));
        }
        let from = self.night_checked_until.unwrap_or(upto);
        if upto > from && r.config.night_parking.enabled && !r.night.checks_secs.is_empty() {
            // A gap of days gets the checks of its last two days only: older ones have no evidence.
            let (d0, d1) = (local_day(from).max(local_day(upto) - 1), local_day(upto));
            let mut instants = Vec::new();
            for day in d0..=d1 {
                for &c in &r.night.checks_secs {
                    let at = instant_of(day, c);
                    if at > from && at <= upto {
                        instants.push(at);
                    }
                }
            }
            instants.sort();
            for at in instants {
                self.night_evaluate(r, at, true, out);
            }
        }
        self.night_checked_until = Some(from.max(upto));
    }

    fn close_night(&self, ep: Episode, end: Timestamp) -> Episode {
        let mut closed = ep.clone();
        closed.end = Some(end.max(ep.start));
        let (den, dzh) = duration_text(ep.start, end.max(ep.start));
        closed.reasoning = format!("{} Until {} ({den}).", ep.reasoning, local_text(end));
        closed.reasoning_zh = format!("{}持续至{}（{dzh}）。", ep.reasoning_zh, local_text(end));
        closed
    }

    fn night_evaluate(&mut self, r: &Reference, at: Timestamp, scheduled: bool, out: &mut Vec<RuleEvent>) {
        let cfg = &r.config.night_parking;
        if !cfg.enabled || r.exempt(self.class, RuleId::NightParking) || self.night_open.is_some() {
            return;
        }
        if !r.has_depot(self.unit) {
            self.diag.no_depot = true;
            return;
        }
        let Some(prev) = self.prev else { return };
        if scheduled && prev.in_use {
            // Driving at check time is the other rules' business; the car is checked when it parks.
            return;
        }
        let cover = r.cover(self.vehicle, at);
        if cover.order || cover.filing {
            return;
        }
        let Some(newest) = self.recent_fixes(1).next().copied() else {
            return;
        };
        if at.millis() - newest.fix_time.millis() > i64::from(cfg.max_position_age_secs) * 1000 {
            return;
        }
        let k = cfg.recent_fixes.max(1) as usize;
        if self
            .recent_fixes(k)
            .any(|e| r.in_depot(self.unit, ll_of(e), cfg.depot_tolerance_m))
        {
            return;
        }
        let (day, secs) = (local_day(at), local_secs_of_day(at));
        let night_end = if secs < r.night.end_secs {
            instant_of(day, r.night.end_secs)
        } else {
            instant_of(day + 1, r.night.end_secs)
        };
        let why_en = if scheduled {
            "at the nightly check"
        } else {
            "when the ignition was switched off at night"
        };
        let why_zh = if scheduled {
            "夜间定时检查时"
        } else {
            "夜间熄火时"
        };
        let d = Detail {
            en: format!(
                "{why_en} the car was not in its unit's depot (last fix {})",
                local_text(newest.fix_time)
            ),
            zh: format!(
                "{why_zh}车辆不在本单位停车场内（最后定位时间{}）",
                local_text(newest.fix_time)
            ),
            subject: None,
        };
        let (en, zh) = compose(RuleId::NightParking, &d, at, None);
        let mut evidence: Vec<Evidence> = self.recent_fixes(k).copied().collect();
        evidence.reverse();
        let late = self.force_late
            || newest.fix_time.millis()
                < self.last_recv.millis() - i64::from(r.config.late_after_secs) * 1000;
        let ep = Episode {
            rule: RuleId::NightParking,
            vehicle: self.vehicle,
            start: at,
            end: None,
            severity: r.config.severity(RuleId::NightParking),
            late,
            reasoning: en,
            reasoning_zh: zh,
            subject: None,
            evidence,
        };
        out.push(RuleEvent::Opened(ep.clone()));
        self.night_open = Some((ep, night_end));
    }

    fn step(&mut self, r: &Reference, p: &Position, out: &mut Vec<RuleEvent>) {
        let cfg = &r.config;
        let t = p.fix_time;
        let late = self.force_late
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
        let class = self.class;
        let ex = |rule: RuleId| r.exempt(class, rule);

        // Absence first: the time between the previous point and this one.
        if let Some(prev) = self.prev {
            if let Some(ep) = self.silence_open.take() {
                let d = Detail {
                    en: format!(
                        "no report for more than {} h after the car was last seen in use",
                        cfg.silence.after_hours
                    ),
                    zh: format!(
                        "车辆最后一次处于使用状态后超过{}小时无位置上报",
                        cfg.silence.after_hours
                    ),
                    subject: None,
                };
                out.push(RuleEvent::Closed(close_episode(ep, t, &d)));
            } else if cfg.silence.enabled
                && !ex(RuleId::Silence)
                && (prev.in_use || prev.acc)
                && t.millis() - prev.t.millis() > (cfg.silence.after_hours * 3_600_000.0) as i64
            {
                let ep = self.silence_episode(r, prev.t, Some(t), late);
                out.push(RuleEvent::Opened(Episode {
                    end: None,
                    ..ep.clone()
                }));
                out.push(RuleEvent::Closed(ep));
            }
        }
        self.night_before(r, t, out);
        let ev = Evidence::of(p);
        if valid {
            self.remember(ev);
        }

        let day = local_day(t);
        let secs = local_secs_of_day(t);
        let kind = r.calendar.kind_of_day(day);
        if kind.is_none() {
            let y = t.to_china().year();
            if !self.diag.missing_calendar_years.contains(&y) {
                self.diag.missing_calendar_years.push(y);
            }
        }
        let tt = r.timetable(self.unit);
        let office = kind.is_some_and(|k| k.is_working()) && tt.is_office_time(secs, || month_day(day));
        let cover = r.cover(self.vehicle, t);

        // out_of_hours
        if cfg.out_of_hours.enabled {
            let cond = match kind {
                Some(k) if in_use && !cover.order && !cover.filing && !ex(RuleId::OutOfHours) => {
                    let holiday_seal_applies =
                        k == DayKind::Holiday && cfg.holiday_seal.enabled && !ex(RuleId::HolidaySeal);
                    !holiday_seal_applies && !office
                }
                _ => false,
            };
            self.drive(
                OUT_OF_HOURS,
                RuleId::OutOfHours,
                r,
                cfg.out_of_hours.debounce(),
                p,
                cond,
                cond,
                late,
                || {
                    let k = kind.unwrap_or(DayKind::Working);
                    let (m, dd) = month_day(day);
                    if k.is_working() {
                        Detail {
                            en: format!(
                                "in use on {}, {}, outside office hours {}",
                                date_text(day),
                                k.describe_en(),
                                tt.describe(m, dd)
                            ),
                            zh: format!(
                                "{}（{}）办公时间（{}）以外用车",
                                date_text(day),
                                k.describe_zh(),
                                tt.describe(m, dd)
                            ),
                            subject: None,
                        }
                    } else {
                        Detail {
                            en: format!(
                                "in use on {}, {}, with no approved order or filing",
                                date_text(day),
                                k.describe_en()
                            ),
                            zh: format!("{}（{}）无审批派车单或报备用车", date_text(day), k.describe_zh()),
                            subject: None,
                        }
                    }
                },
                out,
            );
        }

        // no_order
        if cfg.no_order.enabled && r.order_required(self.unit) {
            let cond = in_use && office && !cover.order && !ex(RuleId::NoOrder);
            self.drive(
                NO_ORDER,
                RuleId::NoOrder,
                r,
                cfg.no_order.debounce(),
                p,
                cond,
                cond,
                late,
                || Detail {
                    en: "in use during office hours with no approved dispatch order".into(),
                    zh: "工作时间内无审批派车单用车".into(),
                    subject: None,
                },
                out,
            );
        }

        // off_route
        if cfg.off_route.enabled && valid && !ex(RuleId::OffRoute) {
            let (mut enter, mut stay) = (false, false);
            let mut detail = Detail::default();
            if let Some(o) = cover.routed
                && let Some(route) = o.route.as_ref()
            {
                let tol = cfg.off_route.endpoint_tolerance_m;
                let near_end = ll.approx_distance_m(route.start()) <= tol
                    || ll.approx_distance_m(route.end()) <= tol
                    || o.order
                        .destinations
                        .iter()
                        .any(|d| ll.approx_distance_m(LonLat::new(d.lon, d.lat)) <= tol);
                if !near_end {
                    enter = route.distance_within_m(ll, o.corridor_m).is_none();
                    let inner = (o.corridor_m - cfg.off_route.hysteresis_m).max(0.0);
                    stay = enter || route.distance_within_m(ll, inner).is_none();
                }
                if enter && !self.tracks[OFF_ROUTE].deb.is_engaged() {
                    let dist = route.distance_m(ll);
                    detail = Detail {
                        en: format!(
                            "{dist:.0} m from the approved route of order {} (corridor {:.0} m)",
                            o.order.id, o.corridor_m
                        ),
                        zh: format!(
                            "偏离派车单{}审批路线{dist:.0}米（允许范围{:.0}米）",
                            o.order.id, o.corridor_m
                        ),
                        subject: Some(o.order.id.clone()),
                    };
                }
            }
            self.drive(
                OFF_ROUTE,
                RuleId::OffRoute,
                r,
                cfg.off_route.debounce(),
                p,
                enter,
                stay,
                late,
                || detail,
                out,
            );
        }

        // One pass over the geofences that contain the point.
        let mut in_region = false;
        let mut prohibited: Option<u32> = None;
        let mut zone: Option<(u32, f64)> = None;
        if valid {
            for id in r.polygons().containing(ll) {
                let Some(f) = r.fence(id) else { continue };
                match f.kind {
                    crate::FenceKind::Region => in_region = true,
                    crate::FenceKind::Prohibited => {
                        prohibited.get_or_insert(id);
                    }
                    crate::FenceKind::SpeedZone => {
                        if let Some(l) = f.speed_limit_kmh
                            && zone.is_none_or(|(_, z)| l < z)
                        {
                            zone = Some((id, l));
                        }
                    }
                    crate::FenceKind::Depot => {}
                }
            }
        }

        // region_exit
        if cfg.region_exit.enabled && r.has_region() && valid && !ex(RuleId::RegionExit) {
            let outside = !in_region && !cover.region_exit_allowed;
            let mut dist = 0.0;
            let enter = outside && !self.tracks[REGION_EXIT].deb.is_active() && {
                dist = r.region_boundary_distance_m(ll);
                dist >= cfg.region_exit.margin_m
            };
            self.drive(
                REGION_EXIT,
                RuleId::RegionExit,
                r,
                cfg.region_exit.debounce(),
                p,
                enter,
                outside,
                late,
                || Detail {
                    en: format!("{dist:.0} m outside the permitted region, with no order that allows it"),
                    zh: format!("驶出允许区域{dist:.0}米，且无允许出区域的派车单"),
                    subject: None,
                },
                out,
            );
        }

        // prohibited_place
        if cfg.prohibited_place.enabled && valid && !ex(RuleId::ProhibitedPlace) {
            let stay = prohibited.is_some();
            let enter = match prohibited {
                Some(id) if !self.tracks[PROHIBITED].deb.is_active() => r
                    .polygons()
                    .get(id)
                    .is_some_and(|poly| poly.boundary_distance_m(ll) >= cfg.prohibited_place.inner_margin_m),
                _ => false,
            };
            let info = prohibited.and_then(|id| r.fence(id));
            self.drive(
                PROHIBITED,
                RuleId::ProhibitedPlace,
                r,
                cfg.prohibited_place.debounce(),
                p,
                enter,
                stay,
                late,
                || {
                    let (name, cat) = info.map_or((String::new(), String::new()), |f| {
                        (
                            f.name.clone(),
                            f.category.clone().unwrap_or_else(|| "other".into()),
                        )
                    });
                    Detail {
                        en: format!("inside prohibited place {name} (category {cat})"),
                        zh: format!("进入禁入场所“{name}”（类别{cat}）"),
                        subject: Some(name),
                    }
                },
                out,
            );
        }

        // holiday_seal
        if cfg.holiday_seal.enabled {
            let cond = in_use
                && kind == Some(DayKind::Holiday)
                && !cover.filing
                && !cover.order
                && !ex(RuleId::HolidaySeal);
            self.drive(
                HOLIDAY,
                RuleId::HolidaySeal,
                r,
                cfg.holiday_seal.debounce(),
                p,
                cond,
                cond,
                late,
                || {
                    let name = date_of_day(day)
                        .and_then(|d| r.calendar.holiday_of(d))
                        .map(|h| (h.name.clone(), h.name_en.clone()));
                    let (zh_name, en_name) = name.map_or((String::new(), String::new()), |(zh, en)| {
                        (zh.clone(), en.unwrap_or(zh))
                    });
                    Detail {
                        en: format!(
                            "in use on {}, a day off of {en_name}, with no approved filing",
                            date_text(day)
                        ),
                        zh: format!("{}（{zh_name}假期）未报备用车", date_text(day)),
                        subject: Some(zh_name),
                    }
                },
                out,
            );
        }

        // tamper
        if cfg.tamper.enabled {
            let bits = p.alarm.0 & r.tamper_mask;
            let cond = bits != 0 && !ex(RuleId::Tamper);
            self.drive(
                TAMPER,
                RuleId::Tamper,
                r,
                cfg.tamper.debounce(),
                p,
                cond,
                cond,
                late,
                || {
                    let names: Vec<&str> = tianshu_model::AlarmFlags(bits).iter().map(|b| b.name()).collect();
                    Detail {
                        en: format!("terminal raised {}", names.join(", ")),
                        zh: format!("终端报警：{}", names.join("、")),
                        subject: names.first().map(|s| s.to_string()),
                    }
                },
                out,
            );
        }

        // overspeed
        if cfg.overspeed.enabled && valid && !ex(RuleId::Overspeed) {
            let limit = zone.map_or(cfg.overspeed.default_limit_kmh, |(_, z)| {
                z.min(cfg.overspeed.default_limit_kmh)
            });
            let speed = p.speed_kmh();
            let enter = speed > limit + cfg.overspeed.tolerance_kmh;
            let stay = speed > limit - cfg.overspeed.hysteresis_kmh;
            let zone_name = zone.and_then(|(id, _)| r.fence(id)).map(|f| f.name.clone());
            self.drive(
                OVERSPEED,
                RuleId::Overspeed,
                r,
                cfg.overspeed.debounce(),
                p,
                enter,
                stay,
                late,
                || Detail {
                    en: format!(
                        "{speed:.0} km/h where the limit is {limit:.0} km/h{}",
                        zone_name
                            .as_ref()
                            .map(|z| format!(" (speed zone {z})"))
                            .unwrap_or_default()
                    ),
                    zh: format!(
                        "车速{speed:.0}公里/小时，限速{limit:.0}公里/小时{}",
                        zone_name
                            .as_ref()
                            .map(|z| format!("（限速区“{z}”）"))
                            .unwrap_or_default()
                    ),
                    subject: zone_name.clone(),
                },
                out,
            );
        }

        // night_parking: back in the depot ends the night's episode; switching off at night checks.
        if let Some((ep, _)) = self.night_open.as_mut() {
            if valid && r.in_depot(self.unit, ll, cfg.night_parking.depot_tolerance_m) {
                let ep = ep.clone();
                self.night_open = None;
                out.push(RuleEvent::Closed(self.close_night(ep, t)));
            } else {
                push_evidence(&mut ep.evidence, ev);
            }
        }
        let prev_acc = self.prev.is_some_and(|p| p.acc);
        self.prev = Some(Prev { t, in_use, acc });
        self.last_evidence = Some(ev);
        if prev_acc && !acc && r.night.contains(secs) {
            self.night_evaluate(r, t, false, out);
        }
    }
}

/// The outcome of re-evaluating an episode against changed reference data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rule still finds a violation in the episode's time.
    Stands,
    /// It no longer does.
    Withdrawn {
        /// Why, in English.
        reason: String,
        /// Why, in Chinese.
        reason_zh: String,
    },
}

/// Re-runs the rules over `track` (the vehicle's points around the episode, in fix-time order) with
/// the current reference data, and withdraws the episode if its rule no longer finds a violation that
/// overlaps it: how an order or filing approved after the fact clears the alerts it covers.
pub fn reevaluate(r: &Reference, vehicle: &Vehicle, track: &[Position], episode: &Episode) -> Verdict {
    let mut rules = VehicleRules::new(vehicle);
    let mut events = Vec::new();
    for p in track {
        rules.push(r, p, &mut events);
    }
    rules.finish(r, &mut events);
    let end = episode
        .end
        .unwrap_or_else(|| track.last().map_or(episode.start, |p| p.fix_time));
    let stands = events
        .iter()
        .any(|e| e.episode().rule == episode.rule && e.episode().overlaps(episode.start, end));
    if stands {
        return Verdict::Stands;
    }
    let orders = r.covering_orders(vehicle.id, episode.start, end);
    if orders.is_empty() {
        Verdict::Withdrawn {
            reason: "re-evaluated with the current rules and reference data: no violation remains".into(),
            reason_zh: "按现行规则和基础数据重新研判：不构成违规".into(),
        }
    } else {
        let list =
            |f: &dyn Fn(&crate::Order) -> String| orders.iter().map(|o| f(o)).collect::<Vec<_>>().join(", ");
        Verdict::Withdrawn {
            reason: format!(
                "covered by approved {} (re-evaluated: no violation remains)",
                list(&|o| format!(
                    "{} {} ({} to {})",
                    o.kind.as_str(),
                    o.id,
                    local_text(o.start),
                    local_text(o.end)
                ))
            ),
            reason_zh: format!(
                "已有审批{}（重新研判后不构成违规）",
                list(&|o| format!(
                    "{}{}（{}至{}）",
                    if o.kind == crate::OrderKind::Order {
                        "派车单"
                    } else {
                        "报备"
                    },
                    o.id,
                    local_text(o.start),
                    local_text(o.end)
                ))
            ),
        }
    }
}

//! `night_parking`: at night the car belongs in its unit's depot.
//!
//! The car is checked at the configured check times (unless it is being driven then: that is the
//! other rules' business, and it is checked when it parks) and whenever its ignition goes off at
//! night. A check looks at the last few valid fixes, so one jittery fix outside the fence raises
//! nothing; an order or filing covering the moment excuses it. An episode lasts until the car is back
//! in the depot or the night ends.
//!
//! The checks run on the data's own timeline: each point (and the caller's clock, projected onto that
//! timeline by [`crate::VehicleRules::tick`]) runs the checks that fall between the previous watermark
//! and its time.

use tianshu_model::Timestamp;

use super::{Facts, Subject};
use crate::calendar::{instant_of, local_day, local_secs_of_day};
use crate::reference::Reference;
use crate::text::{Detail, compose, duration_text, local_text, push_evidence};
use crate::{Diagnostics, Episode, Evidence, RuleEvent, RuleId};

/// How many recent fixes a check can look at.
const RECENT: usize = 8;

/// The night-parking state of one vehicle.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct NightParking {
    /// The episode in progress and the end of its night.
    open: Option<(Episode, Timestamp)>,
    /// The checks up to this instant have run.
    checked_until: Option<Timestamp>,
    /// The latest valid fixes, a ring.
    recent: [Option<Evidence>; RECENT],
    recent_next: usize,
}

/// The episode ended at `end`, its reasoning extended to say until when.
fn close(ep: Episode, end: Timestamp) -> Episode {
    let (den, dzh) = duration_text(ep.start, end.max(ep.start));
    let mut closed = ep;
    closed.end = Some(end.max(closed.start));
    closed.reasoning = format!("{} Until {} ({den}).", closed.reasoning, local_text(end));
    closed.reasoning_zh = format!("{}持续至{}（{dzh}）。", closed.reasoning_zh, local_text(end));
    closed
}

impl NightParking {
    /// Remembers a valid fix for later checks.
    pub(crate) fn remember(&mut self, e: Evidence) {
        self.recent[self.recent_next] = Some(e);
        self.recent_next = (self.recent_next + 1) % RECENT;
    }

    /// The newest `n` remembered fixes, newest first.
    fn recent_fixes(&self, n: usize) -> impl Iterator<Item = &Evidence> {
        (1..=RECENT.min(n))
            .filter_map(move |k| self.recent[(self.recent_next + RECENT - k) % RECENT].as_ref())
    }

    /// Bookkeeping up to `upto`: closes an episode whose night has ended and runs the checks that
    /// fall in `(watermark, upto]`.
    pub(crate) fn before(
        &mut self,
        r: &Reference,
        s: &Subject,
        upto: Timestamp,
        diag: &mut Diagnostics,
        out: &mut Vec<RuleEvent>,
    ) {
        if let Some((_, night_end)) = &self.open
            && upto >= *night_end
            && let Some((ep, night_end)) = self.open.take()
        {
            out.push(RuleEvent::Closed(close(ep, night_end)));
        }
        let from = self.checked_until.unwrap_or(upto);
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
                self.check(r, s, at, true, diag, out);
            }
        }
        self.checked_until = Some(from.max(upto));
    }

    /// After the other rules have seen point `f`: back in the depot ends the night's episode, else the
    /// point is more evidence of it.
    pub(crate) fn on_point(&mut self, f: &Facts<'_>, e: Evidence, out: &mut Vec<RuleEvent>) {
        let Some((ep, _)) = self.open.as_mut() else {
            return;
        };
        let tolerance_m = f.r.config.night_parking.depot_tolerance_m;
        if f.valid && f.r.in_depot(f.unit, f.ll, tolerance_m) {
            if let Some((ep, _)) = self.open.take() {
                out.push(RuleEvent::Closed(close(ep, f.p.fix_time)));
            }
        } else {
            push_evidence(&mut ep.evidence, e);
        }
    }

    /// The ignition went off at `at`, after the subject's last point was recorded: a check if it is
    /// night.
    pub(crate) fn switched_off(
        &mut self,
        r: &Reference,
        s: &Subject,
        at: Timestamp,
        diag: &mut Diagnostics,
        out: &mut Vec<RuleEvent>,
    ) {
        if r.night.contains(local_secs_of_day(at)) {
            self.check(r, s, at, false, diag, out);
        }
    }

    /// The evaluation ends: an episode in progress closes at the last point (or its night's end).
    pub(crate) fn finish(&mut self, s: &Subject, out: &mut Vec<RuleEvent>) {
        if let Some((ep, night_end)) = self.open.take() {
            let last = s.prev.map_or(ep.start, |p| p.t);
            out.push(RuleEvent::Closed(close(ep, last.min(night_end))));
        }
    }

    /// One check at `at`, scheduled or at an ignition-off.
    fn check(
        &mut self,
        r: &Reference,
        s: &Subject,
        at: Timestamp,
        scheduled: bool,
        diag: &mut Diagnostics,
        out: &mut Vec<RuleEvent>,
    ) {
        let cfg = &r.config.night_parking;
        if !cfg.enabled || r.exempt(s.class, RuleId::NightParking) || self.open.is_some() {
            return;
        }
        if !r.has_depot(s.unit) {
            diag.no_depot = true;
            return;
        }
        let Some(prev) = s.prev else { return };
        if scheduled && prev.in_use {
            // Driving at check time is the other rules' business; the car is checked when it parks.
            return;
        }
        let cover = r.cover(s.vehicle, at);
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
            .any(|e| r.in_depot(s.unit, e.lonlat(), cfg.depot_tolerance_m))
        {
            return;
        }
        let mut evidence: Vec<Evidence> = self.recent_fixes(k).copied().collect();
        evidence.reverse();
        let late = s.force_late
            || newest.fix_time.millis() < s.last_recv.millis() - i64::from(r.config.late_after_secs) * 1000;
        let ep = episode(r, s, at, scheduled, newest.fix_time, evidence, late);
        out.push(RuleEvent::Opened(ep.clone()));
        self.open = Some((ep, night_end(r, at)));
    }
}

/// The end of the night that `at` falls in.
fn night_end(r: &Reference, at: Timestamp) -> Timestamp {
    let (day, secs) = (local_day(at), local_secs_of_day(at));
    if secs < r.night.end_secs {
        instant_of(day, r.night.end_secs)
    } else {
        instant_of(day + 1, r.night.end_secs)
    }
}

/// A new episode of a check at `at` that found the car away, its newest fix at `last_fix`.
fn episode(
    r: &Reference,
    s: &Subject,
    at: Timestamp,
    scheduled: bool,
    last_fix: Timestamp,
    evidence: Vec<Evidence>,
    late: bool,
) -> Episode {
    let (why_en, why_zh) = if scheduled {
        ("at the nightly check", "夜间定时检查时")
    } else {
        ("when the ignition was switched off at night", "夜间熄火时")
    };
    let d = Detail {
        en: format!(
            "{why_en} the car was not in its unit's depot (last fix {})",
            local_text(last_fix)
        ),
        zh: format!(
            "{why_zh}车辆不在本单位停车场内（最后定位时间{}）",
            local_text(last_fix)
        ),
        subject: None,
    };
    let (en, zh) = compose(RuleId::NightParking, &d, at, None);
    Episode {
        rule: RuleId::NightParking,
        vehicle: s.vehicle,
        start: at,
        end: None,
        severity: r.config.severity(RuleId::NightParking),
        late,
        reasoning: en,
        reasoning_zh: zh,
        subject: None,
        evidence,
    }
}

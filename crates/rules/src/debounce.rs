//! The de-bouncer: turns a rule's per-point condition into episodes.
//!
//! Per rule and vehicle: idle -> pending (the condition holds, not yet long enough) -> active (an
//! episode is open) -> idle (it has been false for `clear_secs`, or the data has a gap longer than
//! `max_gap_secs`). An episode opens only once the condition has held for `min_duration_secs` over at
//! least `min_fixes` fixes, so GPS jitter raises nothing. Only transitions allocate (the reasoning
//! texts, the episode itself).

use tianshu_model::{Position, Timestamp, VehicleId};

use crate::config::Debounce;
use crate::reference::Reference;
use crate::text::{Detail, close_episode, compose, push_evidence};
use crate::{Episode, Evidence, RuleEvent, RuleId};

/// A rule's verdict on one point: what the de-bouncer is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judgement {
    /// The condition holds strictly: it may start an episode.
    pub(crate) enter: bool,
    /// The condition holds loosely: it keeps an open episode going.
    pub(crate) stay: bool,
}

impl Judgement {
    /// A condition without hysteresis in space.
    pub(crate) const fn plain(holds: bool) -> Self {
        Judgement {
            enter: holds,
            stay: holds,
        }
    }
}

/// One point as a track is fed it, with what an episode opened at it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fix<'a> {
    /// The reference data (for the rule's severity).
    pub(crate) r: &'a Reference,
    /// The point.
    pub(crate) p: &'a Position,
    /// Its vehicle.
    pub(crate) vehicle: VehicleId,
    /// It arrived late.
    pub(crate) late: bool,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
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

/// What one step of the de-bouncer did.
#[derive(Debug, Default)]
struct StepOut {
    /// An episode ended, at this last time its condition held.
    closed: Option<Timestamp>,
    /// An episode began, at this start.
    opened: Option<Timestamp>,
    /// The condition began to hold (pending from this point).
    started: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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

    #[inline]
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

/// One rule's episodes for one vehicle: its de-bouncer, the evidence gathered while pending, and the
/// episode in progress.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Track {
    deb: Debouncer,
    pending_evidence: Vec<Evidence>,
    open: Option<Episode>,
    detail: Detail,
    late: bool,
}

impl Track {
    /// Whether an episode is open.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.deb.is_active()
    }

    /// Feeds the judgement of `rule` at point `at`: whether its condition holds strictly (`enter`)
    /// and loosely (`stay`). `detail` gives the words of an episode that starts here.
    #[inline]
    pub(crate) fn drive(
        &mut self,
        rule: RuleId,
        d: Debounce,
        at: Fix<'_>,
        j: Judgement,
        detail: impl FnOnce() -> Detail,
        out: &mut Vec<RuleEvent>,
    ) {
        let Judgement { enter, stay } = j;
        let s = self.deb.step(d, at.p.fix_time, enter, stay);
        if let Some(end) = s.closed
            && let Some(ep) = self.open.take()
        {
            out.push(RuleEvent::Closed(close_episode(ep, end, &self.detail)));
        }
        if s.started {
            self.pending_evidence.clear();
            self.detail = detail();
            self.late = at.late;
        }
        if self.deb.is_engaged() && (enter || stay) {
            match &mut self.open {
                Some(ep) => push_evidence(&mut ep.evidence, Evidence::of(at.p)),
                None => push_evidence(&mut self.pending_evidence, Evidence::of(at.p)),
            }
        }
        if let Some(start) = s.opened {
            self.late |= at.late;
            let (en, zh) = compose(rule, &self.detail, start, None);
            let ep = Episode {
                rule,
                vehicle: at.vehicle,
                start,
                end: None,
                severity: at.r.config.severity(rule),
                late: self.late,
                reasoning: en,
                reasoning_zh: zh,
                subject: self.detail.subject.clone(),
                evidence: std::mem::take(&mut self.pending_evidence),
            };
            out.push(RuleEvent::Opened(ep.clone()));
            self.open = Some(ep);
        }
    }

    /// The evaluation ends: an open episode closes at the last time its condition held.
    pub(crate) fn finish(&mut self, out: &mut Vec<RuleEvent>) {
        if let Some(end) = self.deb.finish()
            && let Some(ep) = self.open.take()
        {
            out.push(RuleEvent::Closed(close_episode(ep, end, &self.detail)));
        }
        self.pending_evidence.clear();
    }
}

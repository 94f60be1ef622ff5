//! `silence`: no report for hours while the car was last seen in use (ignition on or moving): a
//! terminal switched off or shielded on a trip.
//!
//! Absence is seen two ways. Between two points, a gap longer than the threshold after a point in use
//! is an episode that opened and closed (its end is the point that broke the silence). Without points,
//! the caller's clock ([`Silence::on_tick`]) opens an episode that the next point closes.

use tianshu_model::Timestamp;

use super::{Prev, Subject};
use crate::reference::Reference;
use crate::text::{Detail, close_episode, compose};
use crate::{Episode, RuleEvent, RuleId};

/// The silence state of one vehicle: the episode in progress, if any.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Silence {
    open: Option<Episode>,
}

fn detail(r: &Reference) -> Detail {
    let hours = r.config.silence.after_hours;
    Detail {
        en: format!("no report for more than {hours} h after the car was last seen in use"),
        zh: format!("车辆最后一次处于使用状态后超过{hours}小时无位置上报"),
        subject: None,
    }
}

fn threshold_ms(r: &Reference) -> i64 {
    (r.config.silence.after_hours * 3_600_000.0) as i64
}

/// Whether the rule watches the vehicle and its last point was in use.
fn watched(r: &Reference, s: &Subject, prev: Prev) -> bool {
    r.config.silence.enabled && !r.exempt(s.class, RuleId::Silence) && (prev.in_use || prev.acc)
}

fn episode(r: &Reference, s: &Subject, start: Timestamp, end: Option<Timestamp>, late: bool) -> Episode {
    let (en, zh) = compose(RuleId::Silence, &detail(r), start, end);
    Episode {
        rule: RuleId::Silence,
        vehicle: s.vehicle,
        start,
        end,
        severity: r.config.severity(RuleId::Silence),
        late,
        reasoning: en,
        reasoning_zh: zh,
        subject: None,
        evidence: s.last_evidence.into_iter().collect(),
    }
}

impl Silence {
    /// A point at `t` arrived after the subject's last one: it ends a silence in progress, or the gap
    /// before it was one.
    pub(crate) fn on_point(
        &mut self,
        r: &Reference,
        s: &Subject,
        t: Timestamp,
        late: bool,
        out: &mut Vec<RuleEvent>,
    ) {
        let Some(prev) = s.prev else { return };
        if let Some(ep) = self.open.take() {
            out.push(RuleEvent::Closed(close_episode(ep, t, &detail(r))));
        } else if watched(r, s, prev) && t.millis() - prev.t.millis() > threshold_ms(r) {
            let ep = episode(r, s, prev.t, Some(t), late);
            out.push(RuleEvent::Opened(Episode {
                end: None,
                ..ep.clone()
            }));
            out.push(RuleEvent::Closed(ep));
        }
    }

    /// Nothing arrived for `idle_ms` after the subject's last point `prev`: a silence opens.
    pub(crate) fn on_tick(
        &mut self,
        r: &Reference,
        s: &Subject,
        prev: Prev,
        idle_ms: i64,
        out: &mut Vec<RuleEvent>,
    ) {
        if self.open.is_none() && idle_ms > threshold_ms(r) && watched(r, s, prev) {
            let ep = episode(r, s, prev.t, None, false);
            out.push(RuleEvent::Opened(ep.clone()));
            self.open = Some(ep);
        }
    }
}

//! Re-evaluation: an episode judged again with changed reference data (an order or filing approved
//! after the fact), standing or withdrawn with a reason people can read, naming the orders that cover it
//! and who approved them.

use tianshu_model::{Position, Vehicle};

use crate::engine::VehicleRules;
use crate::reference::Reference;
use crate::text::local_text;
use crate::{Episode, Order, OrderKind};

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
        let list = |f: &dyn Fn(&Order) -> String| orders.iter().map(|o| f(o)).collect::<Vec<_>>().join(", ");
        Verdict::Withdrawn {
            reason: format!(
                "covered by approved {} (re-evaluated: no violation remains)",
                list(&|o| format!(
                    "{} {} ({} to {}{})",
                    o.kind.as_str(),
                    o.id,
                    local_text(o.start),
                    local_text(o.end),
                    o.approved_by
                        .as_ref()
                        .map(|by| format!(", approved by {by}"))
                        .unwrap_or_default()
                ))
            ),
            reason_zh: format!(
                "已有审批{}（重新研判后不构成违规）",
                list(&|o| format!(
                    "{}{}（{}至{}{}）",
                    if o.kind == OrderKind::Order {
                        "派车单"
                    } else {
                        "报备"
                    },
                    o.id,
                    local_text(o.start),
                    local_text(o.end),
                    o.approved_by
                        .as_ref()
                        .map(|by| format!("，审批人{by}"))
                        .unwrap_or_default()
                ))
            ),
        }
    }
}

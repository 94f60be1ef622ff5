//! `off_route`: during an order with an approved route, farther from it than the order's corridor.
//!
//! Points near the route's ends or one of the order's destinations never count (the car leaves the
//! road to park), and once off route the car is back only when well inside the corridor (hysteresis
//! in space).

use tianshu_model::LonLat;

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::text::Detail;

/// The rule.
pub(crate) struct OffRoute;

impl Rule for OffRoute {
    const ID: RuleId = RuleId::OffRoute;

    fn judge(&self, f: &Facts<'_>, _active: bool) -> Option<Judgement> {
        let cfg = &f.r.config.off_route;
        f.valid_fix_for(Self::ID)?;
        let mut j = Judgement::plain(false);
        if let Some(o) = f.cover.routed
            && let Some(route) = o.route.as_ref()
        {
            let (ll, tol) = (f.ll, cfg.endpoint_tolerance_m);
            let near_end = ll.approx_distance_m(route.start()) <= tol
                || ll.approx_distance_m(route.end()) <= tol
                || o.order
                    .destinations
                    .iter()
                    .any(|d| ll.approx_distance_m(LonLat::new(d.lon, d.lat)) <= tol);
            if !near_end {
                j.enter = route.distance_within_m(ll, o.corridor_m).is_none();
                let inner = (o.corridor_m - cfg.hysteresis_m).max(0.0);
                j.stay = j.enter || route.distance_within_m(ll, inner).is_none();
            }
        }
        Some(j)
    }

    fn detail(&self, f: &Facts<'_>) -> Detail {
        let Some((o, route)) = f
            .cover
            .routed
            .and_then(|o| o.route.as_ref().map(|route| (o, route)))
        else {
            return Detail::default();
        };
        let dist = route.distance_m(f.ll);
        Detail {
            en: format!(
                "{dist:.0} m from the approved route of order {} (corridor {:.0} m)",
                o.order.id, o.corridor_m
            ),
            zh: format!(
                "偏离派车单{}审批路线{dist:.0}米（允许范围{:.0}米）",
                o.order.id, o.corridor_m
            ),
            subject: Some(o.order.id.clone()),
        }
    }
}

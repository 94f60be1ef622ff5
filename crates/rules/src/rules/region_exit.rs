//! `region_exit`: outside the permitted region with no order that allows it.
//!
//! An episode starts only at a margin beyond the boundary (a road along the city limit is not an
//! exit), and goes on while the car is outside at all.

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::text::Detail;

/// The rule.
pub(crate) struct RegionExit;

impl Rule for RegionExit {
    const ID: RuleId = RuleId::RegionExit;

    fn judge(&self, f: &Facts<'_>, active: bool) -> Option<Judgement> {
        let cfg = &f.r.config.region_exit;
        f.valid_fix_for(Self::ID)?;
        if !f.r.has_region() {
            return None;
        }
        let outside = !f.fences.in_region && !f.cover.region_exit_allowed;
        // The boundary distance scans the region's edges: only worth it when it can start an episode.
        let enter = outside && !active && f.r.region_boundary_distance_m(f.ll) >= cfg.margin_m;
        Some(Judgement { enter, stay: outside })
    }

    fn detail(&self, f: &Facts<'_>) -> Detail {
        let dist = f.r.region_boundary_distance_m(f.ll);
        Detail {
            en: format!("{dist:.0} m outside the permitted region, with no order that allows it"),
            zh: format!("驶出允许区域{dist:.0}米，且无允许出区域的派车单"),
            subject: None,
        }
    }
}

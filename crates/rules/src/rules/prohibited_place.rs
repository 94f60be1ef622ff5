//! `prohibited_place`: inside a prohibited place (entertainment venue, scenic spot, club, ...).
//!
//! An episode starts only a margin inside the fence (a road grazing it is not a visit), and goes on
//! while the car is inside at all.

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::text::Detail;

/// The rule.
pub(crate) struct ProhibitedPlace;

impl Rule for ProhibitedPlace {
    const ID: RuleId = RuleId::ProhibitedPlace;

    fn judge(&self, f: &Facts<'_>, active: bool) -> Option<Judgement> {
        let cfg = &f.r.config.prohibited_place;
        f.valid_fix_for(Self::ID)?;
        let enter = match f.fences.prohibited {
            Some(id) if !active => {
                f.r.polygons()
                    .get(id)
                    .is_some_and(|poly| poly.boundary_distance_m(f.ll) >= cfg.inner_margin_m)
            }
            _ => false,
        };
        Some(Judgement {
            enter,
            stay: f.fences.prohibited.is_some(),
        })
    }

    fn detail(&self, f: &Facts<'_>) -> Detail {
        let info = f.fences.prohibited.and_then(|id| f.r.fence(id));
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
    }
}

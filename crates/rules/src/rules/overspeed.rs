//! `overspeed`: above the speed limit (the lowest of the default and the speed zones the car is in),
//! by more than a tolerance; it ends once below the limit minus a hysteresis.

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::text::Detail;

/// The rule.
pub(crate) struct Overspeed;

/// The limit at the point, km/h.
fn limit_kmh(f: &Facts<'_>) -> f64 {
    let default = f.r.config.overspeed.default_limit_kmh;
    f.fences.zone.map_or(default, |(_, z)| z.min(default))
}

impl Rule for Overspeed {
    const ID: RuleId = RuleId::Overspeed;

    fn judge(&self, f: &Facts<'_>, _active: bool) -> Option<Judgement> {
        let cfg = &f.r.config.overspeed;
        f.valid_fix_for(Self::ID)?;
        let (speed, limit) = (f.p.speed_kmh(), limit_kmh(f));
        Some(Judgement {
            enter: speed > limit + cfg.tolerance_kmh,
            stay: speed > limit - cfg.hysteresis_kmh,
        })
    }

    fn detail(&self, f: &Facts<'_>) -> Detail {
        let (speed, limit) = (f.p.speed_kmh(), limit_kmh(f));
        let zone = f
            .fences
            .zone
            .and_then(|(id, _)| f.r.fence(id))
            .map(|z| z.name.clone());
        let (zone_en, zone_zh) = zone.as_ref().map_or((String::new(), String::new()), |z| {
            (format!(" (speed zone {z})"), format!("（限速区“{z}”）"))
        });
        Detail {
            en: format!("{speed:.0} km/h where the limit is {limit:.0} km/h{zone_en}"),
            zh: format!("车速{speed:.0}公里/小时，限速{limit:.0}公里/小时{zone_zh}"),
            subject: zone,
        }
    }
}

//! `tamper`: the terminal raises an alarm that signals tampering (the configured alarm bits: antenna
//! cut, power cut, ...).

use tianshu_model::AlarmFlags;

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::text::Detail;

/// The rule.
pub(crate) struct Tamper;

/// The tamper bits the point raises.
fn raised(f: &Facts<'_>) -> u32 {
    f.p.alarm.0 & f.r.tamper_mask
}

impl Rule for Tamper {
    const ID: RuleId = RuleId::Tamper;

    fn judge(&self, f: &Facts<'_>, _active: bool) -> Option<Judgement> {
        Some(Judgement::plain(raised(f) != 0 && !f.exempt(RuleId::Tamper)))
    }

    fn detail(&self, f: &Facts<'_>) -> Detail {
        let names: Vec<&str> = AlarmFlags(raised(f)).iter().map(|b| b.name()).collect();
        Detail {
            en: format!("terminal raised {}", names.join(", ")),
            zh: format!("终端报警：{}", names.join("、")),
            subject: names.first().map(|s| s.to_string()),
        }
    }
}

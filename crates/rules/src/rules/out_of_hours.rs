//! `out_of_hours`: in use on a rest day, or outside office hours on a working day, with no approved
//! order or filing. Public holidays belong to `holiday_seal` while that rule runs for the car.

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::calendar::DayKind;
use crate::text::{Detail, date_text, month_day};

/// The rule.
pub(crate) struct OutOfHours;

impl Rule for OutOfHours {
    const ID: RuleId = RuleId::OutOfHours;

    fn judge(&self, f: &Facts<'_>, _active: bool) -> Option<Judgement> {
        let cfg = &f.r.config;
        let holds = match f.kind {
            Some(k) if f.in_use && !f.cover.order && !f.cover.filing && !f.exempt(RuleId::OutOfHours) => {
                let holiday_seal_applies =
                    k == DayKind::Holiday && cfg.holiday_seal.enabled && !f.exempt(RuleId::HolidaySeal);
                !holiday_seal_applies && !f.office
            }
            _ => false,
        };
        Some(Judgement::plain(holds))
    }

    fn detail(&self, f: &Facts<'_>) -> Detail {
        let k = f.kind.unwrap_or(DayKind::Working);
        let (m, d) = month_day(f.day);
        let date = date_text(f.day);
        if k.is_working() {
            let hours = f.timetable.describe(m, d);
            Detail {
                en: format!(
                    "in use on {date}, {}, outside office hours {hours}",
                    k.describe_en()
                ),
                zh: format!("{date}（{}）办公时间（{hours}）以外用车", k.describe_zh()),
                subject: None,
            }
        } else {
            Detail {
                en: format!(
                    "in use on {date}, {}, with no approved order or filing",
                    k.describe_en()
                ),
                zh: format!("{date}（{}）无审批派车单或报备用车", k.describe_zh()),
                subject: None,
            }
        }
    }
}

//! `holiday_seal`: in use on a public holiday with no approved filing (or order).

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::calendar::{DayKind, date_of_day};
use crate::text::{Detail, date_text};

/// The rule.
pub(crate) struct HolidaySeal;

impl Rule for HolidaySeal {
    const ID: RuleId = RuleId::HolidaySeal;

    fn judge(&self, f: &Facts<'_>, _active: bool) -> Option<Judgement> {
        Some(Judgement::plain(
            f.in_use
                && f.kind == Some(DayKind::Holiday)
                && !f.cover.filing
                && !f.cover.order
                && !f.exempt(RuleId::HolidaySeal),
        ))
    }

    fn detail(&self, f: &Facts<'_>) -> Detail {
        let name = date_of_day(f.day)
            .and_then(|d| f.r.calendar.holiday_of(d))
            .map(|h| (h.name.clone(), h.name_en.clone()));
        let (zh_name, en_name) = name.map_or((String::new(), String::new()), |(zh, en)| {
            (zh.clone(), en.unwrap_or(zh))
        });
        Detail {
            en: format!(
                "in use on {}, a day off of {en_name}, with no approved filing",
                date_text(f.day)
            ),
            zh: format!("{}（{zh_name}假期）未报备用车", date_text(f.day)),
            subject: Some(zh_name),
        }
    }
}

//! `no_order`: in use during office hours without an approved dispatch order, for the cars of units
//! that require orders.

use super::{Facts, Judgement, Rule};
use crate::RuleId;
use crate::text::Detail;

/// The rule.
pub(crate) struct NoOrder;

impl Rule for NoOrder {
    const ID: RuleId = RuleId::NoOrder;

    fn judge(&self, f: &Facts<'_>, _active: bool) -> Option<Judgement> {
        if !f.r.order_required(f.unit) {
            return None;
        }
        Some(Judgement::plain(
            f.in_use && f.office && !f.cover.order && !f.exempt(RuleId::NoOrder),
        ))
    }

    fn detail(&self, _: &Facts<'_>) -> Detail {
        Detail {
            en: "in use during office hours with no approved dispatch order".into(),
            zh: "工作时间内无审批派车单用车".into(),
            subject: None,
        }
    }
}

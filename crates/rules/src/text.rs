//! The words of an episode: what a rule says when its condition first holds ([`Detail`]) and the
//! reasoning texts composed from it, in English and Chinese, with times in Beijing time.
//!
//! Texts are built only on transitions (an episode opens or closes), never per point.

use chrono::Datelike;
use tianshu_model::Timestamp;

use crate::calendar::date_of_day;
use crate::{Episode, Evidence, MAX_EVIDENCE, RuleId};

/// The rule-specific words of an episode, captured when its condition first holds.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Detail {
    /// What happened, English (without the rule's title or times).
    pub(crate) en: String,
    /// What happened, Chinese.
    pub(crate) zh: String,
    /// What it concerns: a geofence name, an order id.
    pub(crate) subject: Option<String>,
}

/// A time as people read it: `2026-11-27 18:05`, Beijing time.
pub(crate) fn local_text(t: Timestamp) -> String {
    t.to_china().format("%Y-%m-%d %H:%M").to_string()
}

/// A duration in seconds below two minutes, else in minutes.
pub(crate) fn duration_text(start: Timestamp, end: Timestamp) -> (String, String) {
    let secs = (end.millis() - start.millis()).max(0) / 1000;
    if secs < 120 {
        (format!("{secs} s"), format!("{secs}秒"))
    } else {
        (format!("{} min", secs / 60), format!("{}分钟", secs / 60))
    }
}

/// The reasoning of an episode of `rule` from `start`, to `end` once it ended.
pub(crate) fn compose(
    rule: RuleId,
    d: &Detail,
    start: Timestamp,
    end: Option<Timestamp>,
) -> (String, String) {
    match end {
        Some(end) => {
            let (den, dzh) = duration_text(start, end);
            (
                format!(
                    "{}: {}; from {} to {} ({den}, Beijing time).",
                    rule.title_en(),
                    d.en,
                    local_text(start),
                    local_text(end)
                ),
                format!(
                    "{}：{}；{}至{}（{dzh}，北京时间）。",
                    rule.title_zh(),
                    d.zh,
                    local_text(start),
                    local_text(end)
                ),
            )
        }
        None => (
            format!(
                "{}: {}; since {} (Beijing time).",
                rule.title_en(),
                d.en,
                local_text(start)
            ),
            format!(
                "{}：{}；{}起（北京时间）。",
                rule.title_zh(),
                d.zh,
                local_text(start)
            ),
        ),
    }
}

/// Keeps the first [`MAX_EVIDENCE`] - 1 points and the latest one.
pub(crate) fn push_evidence(v: &mut Vec<Evidence>, e: Evidence) {
    if v.len() < MAX_EVIDENCE {
        v.push(e);
    } else if let Some(last) = v.last_mut() {
        *last = e;
    }
}

/// The episode ended at `end` (never before its start), with its reasoning rewritten to say so.
pub(crate) fn close_episode(mut ep: Episode, end: Timestamp, d: &Detail) -> Episode {
    ep.end = Some(end.max(ep.start));
    let (en, zh) = compose(ep.rule, d, ep.start, ep.end);
    ep.reasoning = en;
    ep.reasoning_zh = zh;
    ep
}

/// Month and day of a local day number (1 January when out of range).
pub(crate) fn month_day(day: i64) -> (u8, u8) {
    date_of_day(day).map_or((1, 1), |d| (d.month() as u8, d.day() as u8))
}

/// A local day as `2026-11-28 (Saturday)`.
pub(crate) fn date_text(day: i64) -> String {
    date_of_day(day).map_or_else(String::new, |d| d.format("%Y-%m-%d (%A)").to_string())
}

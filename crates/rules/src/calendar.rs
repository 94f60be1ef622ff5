//! The official calendar: which days are working days, ordinary rest days, or public holidays.
//!
//! China's working week is not the plain Monday-Friday week: the State Council's yearly notice turns some
//! weekdays into days off and some Saturdays and Sundays into working days (调休上班). The notice for a year
//! is published late in the year before, so the calendar is data, one TOML file per year, never code.
//! Tianshu ships 2025 and 2026 ([`Calendar::builtin`]); an administrator imports later years with
//! `tianshu calendar import FILE`. A day in a year with no data has no kind ([`Calendar::day_kind`] returns
//! `None`): the rules report the gap instead of guessing.
//!
//! # File format
//! ```toml
//! year = 2026                      # the year the file describes (required)
//! notice = "..."                   # the notice it transcribes (optional, free text)
//!
//! [[holiday]]                      # one table per holiday
//! name = "元旦"                     # Chinese name (required)
//! name_en = "New Year's Day"       # English name (optional)
//! first = "2026-01-01"             # first day off, YYYY-MM-DD (required)
//! last = "2026-01-03"              # last day off, inclusive (required)
//! working = ["2026-01-04"]         # adjusted working days (Saturdays or Sundays) that go with it
//! ```
//! Every date must fall in `year`; holidays may not overlap; an adjusted working day must be a Saturday
//! or a Sunday and may not be a day off. Errors name the line.
//!
//! Lookups are by local (GMT+8) day number and cost one array index: the rules ask for every point.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use tianshu_model::Timestamp;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Days from 0001-01-01 (chrono's "day 1 of the common era") to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// What kind of day a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary working day (Monday-Friday, not a holiday).
    Working,
    /// A Saturday or Sunday that the notice makes a working day (调休上班).
    AdjustedWorking,
    /// An ordinary Saturday or Sunday.
    RestDay,
    /// A day off of a public holiday (including the weekend days inside its span).
    Holiday,
}

impl DayKind {
    /// Working day, ordinary or adjusted.
    pub const fn is_working(self) -> bool {
        matches!(self, DayKind::Working | DayKind::AdjustedWorking)
    }

    /// English words for reasoning texts.
    pub const fn describe_en(self) -> &'static str {
        match self {
            DayKind::Working => "a working day",
            DayKind::AdjustedWorking => "an adjusted working day",
            DayKind::RestDay => "a rest day",
            DayKind::Holiday => "a public holiday",
        }
    }

    /// Chinese words for reasoning texts.
    pub const fn describe_zh(self) -> &'static str {
        match self {
            DayKind::Working => "工作日",
            DayKind::AdjustedWorking => "调休工作日",
            DayKind::RestDay => "休息日",
            DayKind::Holiday => "法定节假日",
        }
    }
}

/// Why a calendar file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CalendarError {
    /// 1-based line of the offending value in the file (1 when the file as a whole is wrong).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// One holiday of a year.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holiday {
    /// Chinese name.
    pub name: String,
    /// English name, when given.
    pub name_en: Option<String>,
    /// First day off.
    pub first: NaiveDate,
    /// Last day off, inclusive.
    pub last: NaiveDate,
    /// Adjusted working days that go with it.
    pub working: Vec<NaiveDate>,
}

/// A calendar year as a store wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarWrite {
    /// The year, parsed.
    pub calendar: YearCalendar,
    /// Whether it replaced a stored year.
    pub replaced: bool,
    /// When it was stored.
    pub updated: Timestamp,
}

/// One year's notice, validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct YearCalendar {
    /// The year.
    pub year: i32,
    /// The notice it transcribes.
    pub notice: Option<String>,
    /// Its holidays, in date order.
    pub holidays: Vec<Holiday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: toml::Spanned<i32>,
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    holiday: Vec<RawHoliday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: toml::Spanned<String>,
    #[serde(default)]
    name_en: Option<String>,
    first: toml::Spanned<String>,
    last: toml::Spanned<String>,
    #[serde(default)]
    working: Vec<toml::Spanned<String>>,
}

impl YearCalendar {
    /// Parses and validates one year's file.
    pub fn parse_toml(text: &str) -> Result<Self, CalendarError> {
        let raw: RawYear = toml::from_str(text).map_err(|e| CalendarError {
            line: e.span().map(|s| crate::line_of(text, s.start)).unwrap_or(1),
            reason: e.message().to_string(),
        })?;
        let err = |span: std::ops::Range<usize>, reason: String| CalendarError {
            line: crate::line_of(text, span.start),
            reason,
        };
        let year = *raw.year.get_ref();
        if !(2000..=2200).contains(&year) {
            return Err(err(
                raw.year.span(),
                format!("year {year} is out of range 2000-2200"),
            ));
        }
        let date = |s: &toml::Spanned<String>| -> Result<NaiveDate, CalendarError> {
            let d = NaiveDate::parse_from_str(s.get_ref(), "%Y-%m-%d").map_err(|e| {
                err(
                    s.span(),
                    format!("{:?} is not a YYYY-MM-DD date: {e}", s.get_ref()),
                )
            })?;
            if d.year() != year {
                return Err(err(s.span(), format!("{d} is not in year {year}")));
            }
            Ok(d)
        };
        let mut holidays = Vec::with_capacity(raw.holiday.len());
        let mut days: BTreeMap<NaiveDate, (bool, std::ops::Range<usize>)> = BTreeMap::new();
        for h in &raw.holiday {
            if h.name.get_ref().trim().is_empty() {
                return Err(err(h.name.span(), "holiday name is empty".into()));
            }
            let first = date(&h.first)?;
            let last = date(&h.last)?;
            if last < first {
                return Err(err(
                    h.last.span(),
                    format!("last day {last} is before first day {first}"),
                ));
            }
            for d in first.iter_days().take_while(|d| *d <= last) {
                if days.insert(d, (false, h.first.span())).is_some() {
                    return Err(err(h.first.span(), format!("{d} is listed twice")));
                }
            }
            let mut working = Vec::with_capacity(h.working.len());
            for w in &h.working {
                let d = date(w)?;
                if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                    return Err(err(
                        w.span(),
                        format!(
                            "adjusted working day {d} is a {}, not a Saturday or Sunday",
                            d.weekday()
                        ),
                    ));
                }
                if days.insert(d, (true, w.span())).is_some() {
                    return Err(err(w.span(), format!("{d} is listed twice")));
                }
                working.push(d);
            }
            holidays.push(Holiday {
                name: h.name.get_ref().trim().to_string(),
                name_en: h.name_en.clone(),
                first,
                last,
                working,
            });
        }
        holidays.sort_by_key(|h| h.first);
        Ok(YearCalendar {
            year,
            notice: raw.notice,
            holidays,
        })
    }
}

/// The calendar: any number of years, with an O(1) lookup by local day.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearCalendar>,
    /// Local day number (days since 1970-01-01 in GMT+8) of `kinds[0]`.
    first_day: i64,
    /// One entry per day from the first to the last loaded year; `None` inside a gap between years.
    kinds: Vec<Option<DayKind>>,
}

/// The calendar files shipped with Tianshu, used when nothing else is configured.
pub const BUILTIN_CALENDARS: [(&str, &str); 2] = [
    ("2025.toml", include_str!("../calendars/2025.toml")),
    ("2026.toml", include_str!("../calendars/2026.toml")),
];

impl Calendar {
    /// An empty calendar: every day is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shipped calendars (2025 and 2026).
    pub fn builtin() -> Result<Self, CalendarError> {
        let mut c = Calendar::new();
        for (_, text) in BUILTIN_CALENDARS {
            c.insert(YearCalendar::parse_toml(text)?);
        }
        Ok(c)
    }

    /// Adds or replaces one year.
    pub fn insert(&mut self, year: YearCalendar) {
        self.years.insert(year.year, year);
        self.rebuild();
    }

    /// The years with data.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// One year's data.
    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    fn rebuild(&mut self) {
        let (Some(&lo), Some(&hi)) = (self.years.keys().next(), self.years.keys().next_back()) else {
            self.kinds.clear();
            return;
        };
        let (Some(start), Some(end)) = (
            NaiveDate::from_ymd_opt(lo, 1, 1),
            NaiveDate::from_ymd_opt(hi, 12, 31),
        ) else {
            return;
        };
        self.first_day = day_number(start);
        let n = (day_number(end) - self.first_day + 1) as usize;
        self.kinds = vec![None; n];
        for (y, data) in &self.years {
            let Some(mut d) = NaiveDate::from_ymd_opt(*y, 1, 1) else {
                continue;
            };
            while d.year() == *y {
                let kind = if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                    DayKind::RestDay
                } else {
                    DayKind::Working
                };
                self.kinds[(day_number(d) - self.first_day) as usize] = Some(kind);
                let Some(next) = d.succ_opt() else { break };
                d = next;
            }
            for h in &data.holidays {
                for d in h.first.iter_days().take_while(|d| *d <= h.last) {
                    self.kinds[(day_number(d) - self.first_day) as usize] = Some(DayKind::Holiday);
                }
                for w in &h.working {
                    self.kinds[(day_number(*w) - self.first_day) as usize] = Some(DayKind::AdjustedWorking);
                }
            }
        }
    }

    /// The kind of a local day number ([`local_day`]), `None` when its year has no data.
    #[inline]
    pub fn kind_of_day(&self, day: i64) -> Option<DayKind> {
        let i = day.checked_sub(self.first_day)?;
        if i < 0 {
            return None;
        }
        self.kinds.get(i as usize).copied().flatten()
    }

    /// The kind of a date, `None` when its year has no data.
    pub fn day_kind(&self, date: NaiveDate) -> Option<DayKind> {
        self.kind_of_day(day_number(date))
    }

    /// The kind of the local (GMT+8) day of an instant.
    pub fn day_kind_at(&self, t: Timestamp) -> Option<DayKind> {
        self.kind_of_day(local_day(t))
    }

    /// The holiday a date belongs to, when it is a day off of one.
    pub fn holiday_of(&self, date: NaiveDate) -> Option<&Holiday> {
        self.years
            .get(&date.year())?
            .holidays
            .iter()
            .find(|h| h.first <= date && date <= h.last)
    }
}

/// Days since 1970-01-01 of a date.
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// The local (GMT+8) day number of an instant.
#[inline]
pub fn local_day(t: Timestamp) -> i64 {
    (t.millis() + i64::from(tianshu_model::CHINA_OFFSET_SECS) * 1000).div_euclid(DAY_MS)
}

/// Seconds since local (GMT+8) midnight of an instant.
#[inline]
pub fn local_secs_of_day(t: Timestamp) -> u32 {
    ((t.millis() + i64::from(tianshu_model::CHINA_OFFSET_SECS) * 1000).rem_euclid(DAY_MS) / 1000) as u32
}

/// The date of a local day number.
pub fn date_of_day(day: i64) -> Option<NaiveDate> {
    let d = i32::try_from(day).ok()?.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?;
    NaiveDate::from_num_days_from_ce_opt(d)
}

/// The UTC instant of local (GMT+8) midnight starting a local day number, plus `secs` seconds.
pub fn instant_of(day: i64, secs: u32) -> Timestamp {
    Timestamp::from_millis(
        day * DAY_MS - i64::from(tianshu_model::CHINA_OFFSET_SECS) * 1000 + i64::from(secs) * 1000,
    )
}

/// The first instant of `year` in China time: its January 1st at midnight, GMT+8 (what the yearly
/// reports count from).
pub fn year_start(year: i32) -> Timestamp {
    NaiveDate::from_ymd_opt(year, 1, 1).map_or(Timestamp(0), |d| instant_of(day_number(d), 0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_year_starts_at_china_midnight_of_january_first() {
        let t = |s: &str| tianshu_model::Timestamp::parse_rfc3339(s).unwrap();
        assert_eq!(super::year_start(2025), t("2024-12-31T16:00:00Z"));
        assert_eq!(super::year_start(2026), t("2026-01-01T00:00:00+08:00"));
    }

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn builtin_years_follow_the_notices() {
        let c = Calendar::builtin().unwrap();
        assert_eq!(c.years().collect::<Vec<_>>(), [2025, 2026]);
        // 2026: New Year Jan 1-3 off, Sunday Jan 4 worked.
        assert_eq!(c.day_kind(d("2026-01-02")), Some(DayKind::Holiday));
        assert_eq!(c.day_kind(d("2026-01-03")), Some(DayKind::Holiday));
        assert_eq!(c.day_kind(d("2026-01-04")), Some(DayKind::AdjustedWorking));
        assert_eq!(c.day_kind(d("2026-01-05")), Some(DayKind::Working));
        // Spring Festival 2026: Sat Feb 14 and Sat Feb 28 worked, Feb 15-23 off.
        assert_eq!(c.day_kind(d("2026-02-14")), Some(DayKind::AdjustedWorking));
        assert_eq!(c.day_kind(d("2026-02-23")), Some(DayKind::Holiday));
        assert_eq!(c.day_kind(d("2026-02-24")), Some(DayKind::Working));
        assert_eq!(c.day_kind(d("2026-02-28")), Some(DayKind::AdjustedWorking));
        // Sat Oct 10 2026 worked; Sat Nov 28 2026 an ordinary rest day.
        assert_eq!(c.day_kind(d("2026-10-10")), Some(DayKind::AdjustedWorking));
        assert_eq!(c.day_kind(d("2026-11-28")), Some(DayKind::RestDay));
        assert_eq!(c.day_kind(d("2026-11-27")), Some(DayKind::Working));
        // 2025: Sunday Jan 26 worked, Oct 8 off, Sat Oct 11 worked.
        assert_eq!(c.day_kind(d("2025-01-26")), Some(DayKind::AdjustedWorking));
        assert_eq!(c.day_kind(d("2025-10-08")), Some(DayKind::Holiday));
        assert_eq!(c.day_kind(d("2025-10-11")), Some(DayKind::AdjustedWorking));
        assert_eq!(
            c.holiday_of(d("2025-10-08")).map(|h| h.name.as_str()),
            Some("国庆节、中秋节")
        );
    }

    #[test]
    fn a_year_without_data_is_unknown() {
        let c = Calendar::builtin().unwrap();
        assert_eq!(c.day_kind(d("2027-01-04")), None);
        assert_eq!(c.day_kind(d("2024-12-31")), None);
    }

    #[test]
    fn local_day_is_china_time() {
        let c = Calendar::builtin().unwrap();
        // 2026-01-03T16:30Z is 00:30 on Sunday Jan 4 in Beijing: an adjusted working day.
        let t = Timestamp::parse_rfc3339("2026-01-03T16:30:00Z").unwrap();
        assert_eq!(c.day_kind_at(t), Some(DayKind::AdjustedWorking));
        assert_eq!(local_secs_of_day(t), 30 * 60);
        assert_eq!(instant_of(local_day(t), 30 * 60), t);
        assert_eq!(date_of_day(local_day(t)), Some(d("2026-01-04")));
    }

    #[test]
    fn bad_files_name_the_line() {
        let e = YearCalendar::parse_toml(
            "year = 2027\n[[holiday]]\nname = \"x\"\nfirst = \"2027-02-30\"\nlast = \"2027-03-01\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e = YearCalendar::parse_toml(
            "year = 2027\n[[holiday]]\nname = \"x\"\nfirst = \"2027-02-01\"\nlast = \"2027-02-02\"\nworking = [\"2027-02-03\"]\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 6);
        assert!(e.reason.contains("Wednesday") || e.reason.contains("Wed"), "{e}");
        let e = YearCalendar::parse_toml("year = 2027\nbogus = 1\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = YearCalendar::parse_toml(
            "year = 2027\n[[holiday]]\nname = \"x\"\nfirst = \"2026-12-31\"\nlast = \"2027-01-01\"\n",
        )
        .unwrap_err();
        assert!(e.reason.contains("not in year 2027"), "{e}");
    }

    #[test]
    fn imported_year_extends_the_calendar() {
        let mut c = Calendar::builtin().unwrap();
        let y = YearCalendar::parse_toml(
            "year = 2027\n[[holiday]]\nname = \"元旦\"\nfirst = \"2027-01-01\"\nlast = \"2027-01-01\"\n",
        )
        .unwrap();
        c.insert(y);
        assert_eq!(c.day_kind(d("2027-01-01")), Some(DayKind::Holiday));
        assert_eq!(c.day_kind(d("2027-01-04")), Some(DayKind::Working));
        assert_eq!(c.day_kind(d("2026-01-04")), Some(DayKind::AdjustedWorking));
    }
}

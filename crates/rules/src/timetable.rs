//! Working hours: which times of a working day are office hours.
//!
//! A timetable is a list of periods (`"08:30-12:00"`, end exclusive) that applies on every working day
//! of the calendar, with optional seasonal variants (a summer and a winter timetable are common: the
//! variant whose date span contains the day wins). The city default is 08:30-12:00 and 14:00-17:30; units
//! may override it. Whether a day is a working day at all is the calendar's business, not the timetable's.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A span of the day in local (GMT+8) time, `start` inclusive, `end` exclusive, in seconds since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First second of the period.
    pub start_secs: u32,
    /// First second after the period.
    pub end_secs: u32,
}

/// Parses `HH:MM` into seconds since midnight (24:00 allowed as the end of the day).
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 3600 + m * 60)
}

/// Formats seconds since midnight as `HH:MM`.
pub fn format_hhmm(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

impl std::str::FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a period like \"08:30-12:00\"");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start_secs, end_secs) = (parse_hhmm(a).ok_or_else(bad)?, parse_hhmm(b).ok_or_else(bad)?);
        if end_secs <= start_secs {
            return Err(format!("period {s:?} ends before it starts"));
        }
        Ok(Period { start_secs, end_secs })
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}",
            format_hhmm(self.start_secs),
            format_hhmm(self.end_secs)
        )
    }
}

/// Serialized as their text (`"08:30-12:00"`, `"05-01"`), the form the configuration and the files
/// write, and parsed back with `FromStr` (its error message is the deserializer's).
macro_rules! serde_as_text {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(Period, MonthDay);

/// A month and day (`"05-01"`), for seasonal timetables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthDay {
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
}

impl std::str::FromStr for MonthDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a month and day like \"05-01\"");
        let (m, d) = s.trim().split_once('-').ok_or_else(bad)?;
        let (month, day): (u8, u8) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(bad());
        }
        Ok(MonthDay { month, day })
    }
}

impl std::fmt::Display for MonthDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// A seasonal variant of a timetable (e.g. summer hours from 05-01 to 09-30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Season {
    /// A name for reasoning texts ("summer").
    pub name: String,
    /// First day of the season, `MM-DD`, inclusive.
    pub from: MonthDay,
    /// Last day of the season, `MM-DD`, inclusive; a span may wrap the new year (`11-01` to `03-31`).
    pub to: MonthDay,
    /// Office hours during the season.
    pub periods: Vec<Period>,
}

impl Season {
    fn contains(&self, md: MonthDay) -> bool {
        if self.from <= self.to {
            self.from <= md && md <= self.to
        } else {
            md >= self.from || md <= self.to
        }
    }
}

/// Office hours on working days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timetable {
    /// Office hours, local time, `"HH:MM-HH:MM"` each, end exclusive. Default `["08:30-12:00", "14:00-17:30"]`.
    #[serde(default = "default_periods")]
    pub periods: Vec<Period>,
    /// Seasonal variants; the first whose span contains the day replaces `periods`. Default none.
    #[serde(default)]
    pub seasons: Vec<Season>,
}

fn default_periods() -> Vec<Period> {
    vec![
        Period {
            start_secs: 8 * 3600 + 30 * 60,
            end_secs: 12 * 3600,
        },
        Period {
            start_secs: 14 * 3600,
            end_secs: 17 * 3600 + 30 * 60,
        },
    ]
}

impl Default for Timetable {
    /// The city default: 08:30-12:00 and 14:00-17:30.
    fn default() -> Self {
        Timetable {
            periods: default_periods(),
            seasons: Vec::new(),
        }
    }
}

impl Timetable {
    /// The periods that apply on a date (`month`, `day`).
    pub fn periods_on(&self, month: u8, day: u8) -> &[Period] {
        let md = MonthDay { month, day };
        self.seasons
            .iter()
            .find(|s| s.contains(md))
            .map_or(&self.periods, |s| &s.periods)
    }

    /// Whether second `secs` of a working day (`month`, `day`) is within office hours. Without
    /// seasons the date is not needed, which keeps the per-point path free of date arithmetic.
    #[inline]
    pub fn is_office_time(&self, secs: u32, date: impl FnOnce() -> (u8, u8)) -> bool {
        let periods = if self.seasons.is_empty() {
            &self.periods[..]
        } else {
            let (m, d) = date();
            self.periods_on(m, d)
        };
        periods.iter().any(|p| p.start_secs <= secs && secs < p.end_secs)
    }

    /// `08:30-12:00, 14:00-17:30` for reasoning texts.
    pub fn describe(&self, month: u8, day: u8) -> String {
        self.periods_on(month, day)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The office hours of one unit as stored and edited: the shape of a configured
/// `[[rules.unit_timetables]]` entry without its `unit`. Unlike [`Timetable`], `periods` has no
/// default: a unit's own timetable says what its hours are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTimetableBody {
    /// Office hours, local `"HH:MM-HH:MM"`, end exclusive; at least one.
    pub periods: Vec<Period>,
    /// Seasonal variants (summer/winter); default none.
    #[serde(default)]
    pub seasons: Vec<Season>,
}

impl UnitTimetableBody {
    /// The checks a configured unit timetable gets, plus non-empty seasons: `Err` names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.periods.is_empty() {
            return Err("periods: a unit timetable needs at least one period".into());
        }
        for (i, season) in self.seasons.iter().enumerate() {
            if season.periods.is_empty() {
                return Err(format!(
                    "seasons[{i}].periods: season {:?} needs at least one period",
                    season.name
                ));
            }
        }
        Ok(())
    }

    /// As a timetable the rules use.
    pub fn to_timetable(&self) -> Timetable {
        Timetable {
            periods: self.periods.clone(),
            seasons: self.seasons.clone(),
        }
    }
}

/// One entry of a unit timetable file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitTimetableEntry {
    /// The line the entry starts on (of its `unit` key).
    pub line: usize,
    /// Unit path, `/`-separated from the root.
    pub unit: String,
    /// Its office hours, validated.
    pub body: UnitTimetableBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnitTimetableFile {
    #[serde(default)]
    unit_timetables: Vec<RawUnitTimetable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnitTimetable {
    unit: toml::Spanned<String>,
    periods: Vec<Period>,
    #[serde(default)]
    seasons: Vec<Season>,
}

/// The entries of a timetable file with their units' ids, found by path in `paths` ([`crate::unit_paths`]);
/// every unit not there is named with its line.
pub fn resolve_units(
    entries: Vec<UnitTimetableEntry>,
    paths: &std::collections::HashMap<tianshu_model::UnitId, String>,
) -> Result<Vec<(tianshu_model::UnitId, UnitTimetableBody)>, Vec<String>> {
    let mut errors = Vec::new();
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        match paths.iter().find(|(_, p)| **p == e.unit) {
            Some((id, _)) => rows.push((*id, e.body)),
            None => errors.push(format!(
                "line {}: unit {:?} is not in the registry",
                e.line, e.unit
            )),
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// Parses and validates a unit timetable file: `[[unit_timetables]]` entries with `unit`, `periods`
/// and optional `seasons`, the shape of `[[rules.unit_timetables]]` in the configuration. Every
/// problem is reported, each naming its line; a unit listed twice is one of them.
pub fn parse_unit_timetables_toml(text: &str) -> Result<Vec<UnitTimetableEntry>, Vec<String>> {
    let raw: RawUnitTimetableFile = toml::from_str(text).map_err(|e| {
        vec![format!(
            "line {}: {}",
            e.span().map(|s| crate::line_of(text, s.start)).unwrap_or(1),
            e.message()
        )]
    })?;
    let mut errors = Vec::new();
    let mut out: Vec<UnitTimetableEntry> = Vec::with_capacity(raw.unit_timetables.len());
    for r in raw.unit_timetables {
        let line = crate::line_of(text, r.unit.span().start);
        let unit = r.unit.get_ref().trim().trim_matches('/').to_string();
        let body = UnitTimetableBody {
            periods: r.periods,
            seasons: r.seasons,
        };
        if unit.is_empty() {
            errors.push(format!("line {line}: unit: empty"));
        } else if let Err(e) = body.validate() {
            errors.push(format!("line {line}: unit {unit:?}: {e}"));
        } else if let Some(first) = out.iter().find(|e| e.unit == unit) {
            errors.push(format!(
                "line {line}: unit {unit:?} is listed again (first on line {})",
                first.line
            ));
        } else {
            out.push(UnitTimetableEntry { line, unit, body });
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_city_timetable() {
        let t = Timetable::default();
        let at = |h: u32, m: u32, s: u32| t.is_office_time(h * 3600 + m * 60 + s, || (11, 27));
        assert!(!at(8, 29, 59));
        assert!(at(8, 30, 0));
        assert!(at(11, 59, 59));
        assert!(!at(12, 0, 0));
        assert!(!at(13, 59, 59));
        assert!(at(17, 29, 59));
        assert!(!at(17, 30, 0));
        assert_eq!(t.describe(11, 27), "08:30-12:00, 14:00-17:30");
    }

    #[test]
    fn seasons_replace_the_periods() {
        let t: Timetable = toml::from_str(
            r#"
            periods = ["08:30-12:00", "14:00-17:30"]
            [[seasons]]
            name = "summer"
            from = "05-01"
            to = "09-30"
            periods = ["08:00-12:00", "15:00-18:00"]
            "#,
        )
        .unwrap();
        assert!(t.is_office_time(17 * 3600 + 45 * 60, || (7, 1)));
        assert!(!t.is_office_time(17 * 3600 + 45 * 60, || (10, 1)));
        assert!(!t.is_office_time(14 * 3600 + 30 * 60, || (9, 30)));
        assert!(toml::from_str::<Timetable>("periods = [\"12:00-08:00\"]").is_err());
        assert!(toml::from_str::<Timetable>("period = []").is_err());
    }

    #[test]
    fn unit_timetable_files_name_the_bad_entry() {
        let good = "[[unit_timetables]]\nunit = \"黄石市/市委办公室\"\nperiods = [\"08:30-12:00\", \"14:00-18:00\"]\n";
        let entries = parse_unit_timetables_toml(good).unwrap();
        assert_eq!(
            (entries[0].line, entries[0].unit.as_str()),
            (2, "黄石市/市委办公室")
        );
        assert!(
            entries[0]
                .body
                .to_timetable()
                .is_office_time(17 * 3600 + 45 * 60, || (11, 27))
        );

        let empty = format!("{good}[[unit_timetables]]\nunit = \"黄石市/财政局\"\nperiods = []\n");
        let errors = parse_unit_timetables_toml(&empty).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("line 5: unit \"黄石市/财政局\": periods:"),
            "{errors:?}"
        );

        let twice = format!("{good}{good}");
        let errors = parse_unit_timetables_toml(&twice).unwrap_err();
        assert!(errors[0].contains("listed again (first on line 2)"), "{errors:?}");

        let bad = "[[unit_timetables]]\nunit = \"a\"\nperiods = [\"18:00-08:00\"]\n";
        let errors = parse_unit_timetables_toml(bad).unwrap_err();
        assert!(
            errors[0].starts_with("line 3:") && errors[0].contains("ends before it starts"),
            "{errors:?}"
        );
    }
}

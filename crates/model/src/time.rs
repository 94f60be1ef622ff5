//! Instants as UTC milliseconds.
//!
//! Terminals report BCD local time in GMT+8; the codec converts at the edge, and from there on every
//! instant in Tianshu is a UTC [`Timestamp`]. An `i64` of milliseconds is `Copy`, orders correctly, and
//! stores as one column in either backend.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// China Standard Time is UTC+8 all year (no daylight saving).
pub const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// The fixed GMT+8 offset JT/T 808 times are expressed in.
pub fn china_offset() -> FixedOffset {
    // east_opt only fails beyond +/-24h.
    FixedOffset::east_opt(CHINA_OFFSET_SECS).expect("UTC+8 is a valid offset")
}

/// The China calendar month (GMT+8) an instant falls in: `(year, month)`, its first instant and the
/// first instant of the next month.
pub fn china_month(t: Timestamp) -> ((i32, u32), Timestamp, Timestamp) {
    use chrono::Datelike as _;
    let local = t.to_china().date_naive();
    let (y, m) = (local.year(), local.month());
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let first = |y: i32, m: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(t, |d| {
                Timestamp(d.and_utc().timestamp_millis() - i64::from(CHINA_OFFSET_SECS) * 1000)
            })
    };
    ((y, m), first(y, m), first(ny, nm))
}

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// From whole seconds since the Unix epoch.
    pub const fn from_secs(s: i64) -> Self {
        Timestamp(s * 1000)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (floor).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// As a chrono UTC date-time.
    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// From a chrono date-time in any zone.
    pub fn from_datetime<Tz: TimeZone>(dt: &DateTime<Tz>) -> Self {
        Timestamp(dt.timestamp_millis())
    }

    /// Now, by the system clock: the one reading of the wall clock every crate stamps with.
    pub fn now() -> Self {
        Self::from_millis(chrono::Utc::now().timestamp_millis())
    }

    /// As local time in China (GMT+8), the zone of calendars and working hours.
    pub fn to_china(self) -> DateTime<FixedOffset> {
        self.to_utc().with_timezone(&china_offset())
    }

    /// RFC 3339 / ISO-8601 in UTC with a `Z`, millisecond precision only when needed.
    pub fn to_rfc3339(self) -> String {
        let secs_format = if self.0 % 1000 == 0 {
            chrono::SecondsFormat::Secs
        } else {
            chrono::SecondsFormat::Millis
        };
        self.to_utc().to_rfc3339_opts(secs_format, true)
    }

    /// Parses RFC 3339 (`2026-11-27T08:00:00Z`, any offset).
    pub fn parse_rfc3339(s: &str) -> Result<Self, chrono::ParseError> {
        Ok(Self::from_datetime(&DateTime::parse_from_rfc3339(s)?))
    }

    /// This instant plus `ms` milliseconds.
    pub const fn add_millis(self, ms: i64) -> Self {
        Timestamp(self.0 + ms)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-11-27T08:00:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-27T08:00:00Z");
        assert_eq!(Timestamp::parse_rfc3339("2026-11-27T16:00:00+08:00").unwrap(), t);
        assert_eq!(t.add_millis(5).to_rfc3339(), "2026-11-27T08:00:00.005Z");
        assert_eq!(t.to_china().format("%H:%M").to_string(), "16:00");
    }

    #[test]
    fn a_china_month_runs_from_midnight_of_its_first_day_in_china() {
        let at = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
        let march = at("2026-03-01T00:00:00+08:00");
        let april = at("2026-04-01T00:00:00+08:00");
        assert_eq!(
            china_month(at("2026-03-01T00:30:00+08:00")),
            ((2026, 3), march, april)
        );
        // 17:00 UTC on the last of February is already March in China.
        assert_eq!(china_month(at("2026-02-28T17:00:00Z")), ((2026, 3), march, april));
        let (m, _, next) = china_month(at("2026-12-31T23:59:00+08:00"));
        assert_eq!((m, next), ((2026, 12), at("2027-01-01T00:00:00+08:00")));
    }
}

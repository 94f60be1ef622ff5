//! Which days are days off, for the simulated drivers' behaviour.
//!
//! The platform reads its calendar from a file an administrator maintains; the simulator only needs to
//! know when its virtual drivers stay home, so it carries the State Council's published days for 2025 and
//! 2026 (放假调休) as a default and accepts any other list through its configuration.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Days off and adjusted working days (调休上班); any other day follows the plain week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Public holidays (days off even on a weekday).
    #[serde(default = "default_days_off")]
    pub days_off: Vec<NaiveDate>,
    /// Weekend days that are working days.
    #[serde(default = "default_working_weekends")]
    pub working_weekends: Vec<NaiveDate>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            days_off: default_days_off(),
            working_weekends: default_working_weekends(),
        }
    }
}

fn ranges(list: &[((i32, u32, u32), u32)]) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    for &((y, m, d), n) in list {
        if let Some(first) = NaiveDate::from_ymd_opt(y, m, d) {
            out.extend(first.iter_days().take(n as usize));
        }
    }
    out
}

fn default_days_off() -> Vec<NaiveDate> {
    ranges(&[
        ((2025, 1, 1), 1),
        ((2025, 1, 28), 8),
        ((2025, 4, 4), 3),
        ((2025, 5, 1), 5),
        ((2025, 5, 31), 3),
        ((2025, 10, 1), 8),
        ((2026, 1, 1), 3),
        ((2026, 2, 15), 9),
        ((2026, 4, 4), 3),
        ((2026, 5, 1), 5),
        ((2026, 6, 19), 3),
        ((2026, 9, 25), 3),
        ((2026, 10, 1), 7),
    ])
}

fn default_working_weekends() -> Vec<NaiveDate> {
    ranges(&[
        ((2025, 1, 26), 1),
        ((2025, 2, 8), 1),
        ((2025, 4, 27), 1),
        ((2025, 9, 28), 1),
        ((2025, 10, 11), 1),
        ((2026, 1, 4), 1),
        ((2026, 2, 14), 1),
        ((2026, 2, 28), 1),
        ((2026, 5, 9), 1),
        ((2026, 9, 20), 1),
        ((2026, 10, 10), 1),
    ])
}

impl Calendar {
    /// Whether `date` (China local) is a day off.
    pub fn is_day_off(&self, date: NaiveDate) -> bool {
        if self.working_weekends.contains(&date) {
            return false;
        }
        if self.days_off.contains(&date) {
            return true;
        }
        matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_notice() {
        let c = Calendar::default();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(c.is_day_off(d(2026, 10, 5))); // Monday in National Day week
        assert!(!c.is_day_off(d(2026, 10, 10))); // Saturday worked
        assert!(c.is_day_off(d(2026, 11, 28))); // plain Saturday
        assert!(!c.is_day_off(d(2026, 11, 27))); // plain Friday
    }
}

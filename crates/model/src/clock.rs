//! A terminal's clock: whether its fixes run a steady whole or half number of hours off their receive
//! times (a time-zone mistake: a firmware sending UTC labelled as China time stores every fix 8 hours
//! early), and which correction an administrator may set.
//!
//! A clock offset is the number of seconds added to a terminal's fix times, so the offset found and the
//! one to set are the same number (+28,800 for UTC sent as China time). Only multiples of half an hour up
//! to 14 hours count: network delay and a terminal buffering its reports make fixes late by seconds or
//! minutes, and no time zone is further than 14 hours from UTC.

use crate::Timestamp;

/// The step clock offsets come in: half an hour.
pub const CLOCK_OFFSET_STEP_SECS: i32 = 1_800;

/// The largest clock offset either way: 14 hours.
pub const MAX_CLOCK_OFFSET_SECS: i32 = 14 * 3_600;

/// How far a fix's lag may stray from a step and still count toward it: delivery delay, a few minutes of
/// buffering.
pub const CLOCK_LAG_TOLERANCE_SECS: i32 = 300;

/// Whether `secs` can be a terminal's clock offset: a multiple of half an hour, at most 14 hours either way.
pub fn check_clock_offset(secs: i32) -> Result<(), String> {
    if secs % CLOCK_OFFSET_STEP_SECS != 0 || secs.abs() > MAX_CLOCK_OFFSET_SECS {
        return Err(format!(
            "{secs} s is not a clock offset: a multiple of {CLOCK_OFFSET_STEP_SECS} s (half an hour), \
             at most {MAX_CLOCK_OFFSET_SECS} s either way"
        ));
    }
    Ok(())
}

/// `fix` corrected by a clock offset of `offset_secs`.
pub const fn corrected(fix: Timestamp, offset_secs: i32) -> Timestamp {
    fix.add_millis(offset_secs as i64 * 1000)
}

/// Finds the steady clock offset of one terminal from its live fixes, as they arrive.
///
/// It keeps the lags (receive time minus fix time) of the last [`ClockWatch::WINDOW`] live fixes. Once the
/// window is full, their median, rounded to the nearest half hour, is the offset when at least three in
/// four lags lie within [`CLOCK_LAG_TOLERANCE_SECS`] of it: a few late or early fixes do not move it, and
/// lags that wander (buffering, a drifting clock) name none. After an offset is found the window starts
/// over, so a terminal names a new one at most once per window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClockWatch {
    /// The newest lags in seconds, a ring.
    lags: [i32; ClockWatch::WINDOW],
    /// How many of `lags` are filled.
    len: u8,
    /// Where the next lag goes.
    next: u8,
    /// The offset found last.
    found: Option<i32>,
}

impl ClockWatch {
    /// How many live fixes one finding rests on.
    pub const WINDOW: usize = 9;

    /// A watch that has already found `offset_secs` (known from before), so that it reports only a change.
    pub fn knowing(offset_secs: Option<i32>) -> ClockWatch {
        ClockWatch {
            found: offset_secs,
            ..ClockWatch::default()
        }
    }

    /// The offset found last.
    pub fn found(&self) -> Option<i32> {
        self.found
    }

    /// Takes one live fix (its time as the terminal sent it, uncorrected) received at `recv`; returns the
    /// offset when one is found that differs from the last.
    pub fn observe(&mut self, fix: Timestamp, recv: Timestamp) -> Option<i32> {
        let lag_secs = recv.0.saturating_sub(fix.0) / 1000;
        self.lags[usize::from(self.next)] = lag_secs.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        self.next = (self.next + 1) % Self::WINDOW as u8;
        self.len = (self.len + 1).min(Self::WINDOW as u8);
        if usize::from(self.len) < Self::WINDOW {
            return None;
        }
        let mut sorted = self.lags;
        sorted.sort_unstable();
        let median = sorted[Self::WINDOW / 2];
        let steps = (f64::from(median) / f64::from(CLOCK_OFFSET_STEP_SECS)).round();
        let offset = (steps * f64::from(CLOCK_OFFSET_STEP_SECS)) as i32;
        let near = |lag: &&i32| (**lag - offset).abs() <= CLOCK_LAG_TOLERANCE_SECS;
        let steady = sorted.iter().filter(near).count() * 4 >= Self::WINDOW * 3;
        if !steady || offset.abs() > MAX_CLOCK_OFFSET_SECS || self.found == Some(offset) {
            return None;
        }
        self.found = Some(offset);
        self.len = 0;
        Some(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-27T00:00:00Z.
    const T0: i64 = 1_795_737_600;

    /// Feeds fixes received every 30 s whose lags are `lags` (seconds); the offsets reported.
    fn watch(w: &mut ClockWatch, lags: impl IntoIterator<Item = i64>) -> Vec<i32> {
        lags.into_iter()
            .enumerate()
            .filter_map(|(i, lag)| {
                let recv = T0 + 30 * i as i64;
                w.observe(Timestamp::from_secs(recv - lag), Timestamp::from_secs(recv))
            })
            .collect()
    }

    #[test]
    fn utc_sent_as_china_time_is_found_eight_hours_off_once_the_window_is_full() {
        let mut w = ClockWatch::default();
        // Eight hours and a few seconds of delivery each.
        let lags: Vec<i64> = (0..9).map(|i| 28_800 + i % 4).collect();
        assert_eq!(watch(&mut w, lags[..8].iter().copied()), Vec::<i32>::new());
        assert_eq!(watch(&mut w, [lags[8]]), [28_800]);
        assert_eq!(w.found(), Some(28_800));
        // The same offset again is not news.
        assert_eq!(watch(&mut w, std::iter::repeat_n(28_803, 20)), Vec::<i32>::new());
    }

    #[test]
    fn delay_and_buffering_are_not_a_clock_offset() {
        // A right clock: seconds late, one report buffered for an hour and a half.
        let mut w = ClockWatch::default();
        assert_eq!(watch(&mut w, [2, 3, 1, 5400, 2, 4, 2, 3, 1]), [0]);
        // Reports buffered for twenty minutes are near no half hour; buffering that wanders names none.
        let mut w = ClockWatch::default();
        assert_eq!(watch(&mut w, std::iter::repeat_n(1_200, 30)), Vec::<i32>::new());
        let mut w = ClockWatch::default();
        assert_eq!(watch(&mut w, (0..30).map(|i| i * 250)), Vec::<i32>::new());
        // A clock years off is no time zone.
        let mut w = ClockWatch::default();
        assert_eq!(
            watch(&mut w, std::iter::repeat_n(3 * 365 * 86_400, 9)),
            Vec::<i32>::new()
        );
    }

    #[test]
    fn a_few_strays_do_not_hide_an_offset_and_a_change_is_reported() {
        let mut w = ClockWatch::knowing(Some(28_800));
        // Two of nine fixes from a clock that resynchronised for a moment: still eight hours.
        assert_eq!(
            watch(
                &mut w,
                [28_800, 5, 28_801, 28_799, 3, 28_800, 28_802, 28_800, 28_801]
            ),
            Vec::<i32>::new()
        );
        // A firmware update: the clock is right from now on (an administrator's correction is now wrong).
        assert_eq!(watch(&mut w, std::iter::repeat_n(2, 9)), [0]);
        // UTC minus half an hour, early.
        assert_eq!(watch(&mut w, std::iter::repeat_n(-1_795, 9)), [-1_800]);
    }

    #[test]
    fn only_half_hours_up_to_fourteen_hours_can_be_set() {
        for ok in [0, 1_800, -1_800, 28_800, -50_400, 50_400] {
            assert_eq!(check_clock_offset(ok), Ok(()), "{ok}");
        }
        for bad in [1, 900, 28_801, 52_200, -52_200] {
            assert!(check_clock_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(
            corrected(Timestamp::from_secs(T0), 28_800),
            Timestamp::from_secs(T0 + 28_800)
        );
    }
}

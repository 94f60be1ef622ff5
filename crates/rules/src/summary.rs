//! A car's China day summarised: km driven (the trips of [`crate::track`], so a standing car's jitter
//! is not driven), time online, points, trips, and the cases opened on it that day by rule. Stored per car
//! and day (the store's `daily_summaries`), so that a year's figures ([`crate::yearly`]) are read from
//! 365 rows a car instead of every point again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tianshu_model::{Position, VehicleId};

use crate::calendar::local_day;
use crate::track::trips_and_stops;

/// Two fixes further apart than this leave the car offline between them (a terminal reports at least
/// every minute while on, and heartbeats every few minutes while parked).
pub const ONLINE_GAP_MS: i64 = 5 * 60 * 1000;

/// One car's China day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySummary {
    /// The car.
    pub vehicle: VehicleId,
    /// The China (GMT+8) day number (`crate::calendar::local_day`).
    pub day: i64,
    /// Metres driven: the sum of the day's trips.
    pub metres: i64,
    /// Seconds online: the sum of the gaps between consecutive fixes no longer than [`ONLINE_GAP_MS`].
    pub online_secs: i64,
    /// Fixes of the day.
    pub points: i64,
    /// Trips of the day.
    pub trips: i64,
    /// Cases opened on the car that day, by rule.
    pub cases: BTreeMap<String, i64>,
}

/// The summary of `vehicle`'s China day `day` from its fix-time-ordered `track` (fixes of other days are
/// left out) and the rules of the cases opened on it that day.
pub fn summarise_day(vehicle: VehicleId, day: i64, track: &[Position], case_rules: &[String]) -> DaySummary {
    let start = track.partition_point(|p| local_day(p.fix_time) < day);
    let end = track.partition_point(|p| local_day(p.fix_time) <= day);
    let points = &track[start..end];
    let (trips, _) = trips_and_stops(points);
    let online_ms: i64 = points
        .windows(2)
        .map(|w| w[1].fix_time.millis() - w[0].fix_time.millis())
        .filter(|gap| *gap <= ONLINE_GAP_MS)
        .sum();
    let mut cases = BTreeMap::new();
    for rule in case_rules {
        *cases.entry(rule.clone()).or_insert(0) += 1;
    }
    DaySummary {
        vehicle,
        day,
        metres: trips.iter().map(|t| t.distance_m).sum::<f64>().round() as i64,
        online_secs: online_ms / 1000,
        points: points.len() as i64,
        trips: trips.len() as i64,
        cases,
    }
}

/// The figures of a run of days summaries: km of all cars, the share of cars online (cars with a point
/// that day over the cars summarised that day, averaged over the days), trips and cases by rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DaysFigures {
    /// Days summarised.
    pub days: u64,
    /// Cars with a point that day over the cars summarised that day, averaged over the days, percent.
    pub online_share: f64,
    /// Km driven by all cars.
    pub km: f64,
    /// Trips of all cars.
    pub trips: u64,
    /// Cases opened, by rule.
    pub cases: Vec<(String, u64)>,
}

/// Counts `summaries` (any order) as [`DaysFigures`].
pub fn days_figures<'a>(summaries: impl IntoIterator<Item = &'a DaySummary>) -> DaysFigures {
    let mut by_day: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let (mut metres, mut trips) = (0i64, 0u64);
    let mut cases: BTreeMap<String, u64> = BTreeMap::new();
    for s in summaries {
        let d = by_day.entry(s.day).or_default();
        d.0 += 1;
        d.1 += u64::from(s.points > 0);
        metres += s.metres;
        trips += s.trips as u64;
        for (rule, n) in &s.cases {
            *cases.entry(rule.clone()).or_default() += *n as u64;
        }
    }
    let shares: f64 = by_day.values().map(|(cars, on)| *on as f64 / *cars as f64).sum();
    let days = by_day.len() as u64;
    DaysFigures {
        days,
        online_share: if days == 0 {
            0.0
        } else {
            (shares * 10_000.0 / days as f64).round() / 100.0
        },
        km: (metres as f64 / 100.0).round() / 10.0,
        trips,
        cases: cases.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use tianshu_model::{StatusFlags, Timestamp};

    use super::*;
    use crate::calendar::instant_of;

    const DAY: i64 = 20_454;

    fn fix(secs: i64, lon_e6: i32, speed_dkmh: u16) -> Position {
        Position {
            fix_time: Timestamp(instant_of(DAY, 0).millis() + secs * 1000),
            lat_e6: 30_000_000,
            lon_e6,
            speed_dkmh,
            status: StatusFlags(StatusFlags::ACC_ON),
            ..Default::default()
        }
    }

    #[test]
    fn a_day_counts_its_trips_km_online_time_and_cases_and_leaves_other_days_out() {
        let mut track = vec![fix(-60, 115_000_000, 400)];
        // Two drives of 60 steps of 0.001 degree east at 30 N, a 10-minute stop between them.
        track.extend((0..=60).map(|i| fix(i * 10, 115_000_000 + i as i32 * 1000, 400)));
        track.extend((61..=120).map(|i| fix(i * 10, 115_060_000, 0)));
        track.extend((121..=181).map(|i| fix(i * 10, 115_060_000 + (i as i32 - 121) * 1000, 400)));
        // An hour's silence, then one more fix: offline in between.
        track.push(fix(1810 + 3600, 115_120_000, 0));
        track.push(fix(86_400 + 10, 115_120_000, 400));
        let step =
            tianshu_model::LonLat::new(115.0, 30.0).distance_m(tianshu_model::LonLat::new(115.001, 30.0));
        let s = summarise_day(
            VehicleId(7),
            DAY,
            &track,
            &["overspeed".into(), "overspeed".into(), "off_hours".into()],
        );
        assert_eq!(s.points, 61 + 60 + 61 + 1);
        assert_eq!(s.trips, 2);
        assert!(
            (s.metres as f64 - 120.0 * step).abs() < 2.0,
            "{} vs {}",
            s.metres,
            120.0 * step
        );
        assert_eq!(s.online_secs, 1810);
        assert_eq!(s.cases.get("overspeed"), Some(&2));
        assert_eq!(s.cases.get("off_hours"), Some(&1));
        let idle = summarise_day(VehicleId(8), DAY, &[], &[]);
        assert_eq!((idle.points, idle.metres, idle.trips), (0, 0, 0));
        let f = days_figures(&[
            s.clone(),
            idle,
            DaySummary {
                day: DAY + 1,
                points: 3,
                ..s
            },
        ]);
        assert_eq!((f.days, f.online_share, f.trips), (2, 75.0, 4));
        assert_eq!(
            f.cases,
            [("off_hours".to_string(), 2), ("overspeed".to_string(), 4)]
        );
    }
}

//! When a pool trip settles by itself, and the thresholds it is settled against (`[rules.carpool]`).
//!
//! A trip is due once the car is back home after it (in a depot of its unit, or near the pickup when the
//! unit has none) and either the window is over or every destination was reached; or, wherever the car
//! is, once the window ended longer ago than a return may be late: then a car still out is itself a
//! difference. The runtime asks this of every assigned trip over its committed track; the store settles
//! a trip once (the request's state moves under its row lock), so a pass repeated after a restart
//! settles nothing twice.

use serde::{Deserialize, Serialize};
use tianshu_model::carpool::{RequestFields, Settlement};
use tianshu_model::{LonLat, Position, Timestamp, UnitId};

use crate::Reference;
use crate::carpool::{Thresholds, settle};

/// The car pool's settlement (`[rules.carpool]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CarpoolConfig {
    /// Whether assigned trips are settled by themselves when due. Default true.
    pub auto_settle: bool,
    /// How often the assigned trips are looked at. Seconds. Default 60.
    pub settle_check_secs: u64,
    /// How near a destination the car must come to have reached it (and near the pickup to be home when
    /// its unit has no depot). Metres. Default 300.
    pub destination_radius_m: f64,
    /// The half-width of the corridor around the trip's legs. Metres. Default 3000.
    pub corridor_m: f64,
    /// Roads are longer than straight legs: the legs' length times this is what the trip needs. Default 1.3.
    pub detour_factor: f64,
    /// Driving more than this percentage over what the trip needs is a difference. Default 30.
    pub extra_km_percent: f64,
    /// Being back more than this many hours after the window is a difference (and the trip is then
    /// settled wherever the car is). Default 2.
    pub late_return_hours: f64,
}

impl Default for CarpoolConfig {
    fn default() -> Self {
        let t = Thresholds::default();
        CarpoolConfig {
            auto_settle: true,
            settle_check_secs: 60,
            destination_radius_m: t.reach_m,
            corridor_m: t.corridor_m,
            detour_factor: t.detour_factor,
            extra_km_percent: t.extra_km_percent,
            late_return_hours: t.late_return_ms as f64 / 3_600_000.0,
        }
    }
}

impl CarpoolConfig {
    /// What is wrong with the table, its key named.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("destination_radius_m", self.destination_radius_m),
            ("corridor_m", self.corridor_m),
            ("detour_factor", self.detour_factor),
        ];
        if let Some((k, v)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(format!("rules.carpool.{k} = {v} must be a positive number"));
        }
        let not_negative = [
            ("extra_km_percent", self.extra_km_percent),
            ("late_return_hours", self.late_return_hours),
        ];
        if let Some((k, v)) = not_negative.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return Err(format!("rules.carpool.{k} = {v} must be 0 or more"));
        }
        if self.late_return_hours > 24.0 * 7.0 {
            return Err("rules.carpool.late_return_hours is at most a week (168)".into());
        }
        if self.settle_check_secs == 0 {
            return Err("rules.carpool.settle_check_secs must be at least 1".into());
        }
        Ok(())
    }

    /// The thresholds a settlement measures against.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            reach_m: self.destination_radius_m,
            corridor_m: self.corridor_m,
            detour_factor: self.detour_factor,
            extra_km_percent: self.extra_km_percent,
            late_return_ms: (self.late_return_hours * 3_600_000.0).round() as i64,
        }
    }
}

/// Why a trip is settled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The car is back home after the trip.
    Back,
    /// The window ended longer ago than a return may be late, and the car is not home.
    Overdue,
}

/// Whether the trip of `request`, over its committed `track` (fix-time order), is due at `now`; `home`
/// says whether a position is in the car's depot (or near the pickup).
pub fn settlement_due(
    request: &RequestFields,
    track: &[Position],
    now: Timestamp,
    t: &Thresholds,
    home: impl Fn(LonLat) -> bool,
) -> Option<Due> {
    let in_window: Vec<&Position> = track.iter().filter(|p| p.fix_time >= request.start).collect();
    let at_home = in_window.last().is_some_and(|p| home(p.lonlat()));
    let moved = in_window.iter().any(|p| !home(p.lonlat()));
    let reached_all = request.destinations.iter().all(|d| {
        in_window
            .iter()
            .any(|p| p.lonlat().distance_m(d.at()) <= t.reach_m)
    });
    if at_home && (now >= request.end || (moved && reached_all)) {
        return Some(Due::Back);
    }
    (now.millis() - request.end.millis() > t.late_return_ms).then_some(Due::Overdue)
}

/// The settlement of a trip found due (`tianshu_rules::carpool::settle`), with the car not yet back
/// named as a difference when it is overdue.
pub fn settle_due(
    request: &RequestFields,
    track: &[Position],
    t: &Thresholds,
    due: Due,
    now: Timestamp,
) -> Settlement {
    let mut s = settle(request, track, t);
    if due == Due::Overdue {
        let hours = (now.millis() - request.end.millis()) as f64 / 3_600_000.0;
        s.differences.push(format!(
            "not back at its depot {hours:.1} h after the window ended"
        ));
    }
    s
}

/// Whether `p` is home for a car whose unit has no depot: within the destination radius of the pickup.
pub fn near_pickup(request: &RequestFields, t: &Thresholds, p: LonLat) -> bool {
    p.distance_m(request.from.at()) <= t.reach_m
}

/// Whether `p` is home for a car of `unit` on the trip of `request`: in one of the unit's depots (the
/// destination radius around it allowed for GPS jitter), or near the pickup when the unit has none.
pub fn at_home(
    reference: &Reference,
    unit: UnitId,
    request: &RequestFields,
    t: &Thresholds,
    p: LonLat,
) -> bool {
    if reference.has_depot(unit) {
        reference.in_depot(unit, p, t.reach_m)
    } else {
        near_pickup(request, t, p)
    }
}

#[cfg(test)]
mod tests {
    use tianshu_model::carpool::{Place, ServiceKind};

    use super::*;

    fn request(end_h: i64) -> RequestFields {
        let place = |name: &str, lon: f64| Place {
            name: name.into(),
            lon,
            lat: 30.2,
        };
        RequestFields {
            unit: None,
            start: Timestamp::from_secs(10 * 3600),
            end: Timestamp::from_secs(end_h * 3600),
            from: place("车场", 115.0),
            destinations: vec![place("东站", 115.02)],
            passengers: 1,
            purpose: "检查".into(),
            kind: ServiceKind::Regular,
            class: None,
        }
    }

    /// Out to 115.02 and, when `back`, home again; a fix a minute from 10:00.
    fn track(back: bool) -> Vec<Position> {
        let mut lons: Vec<i32> = (0..=20).map(|i| 115_000_000 + i * 1_000).collect();
        if back {
            lons.extend((0..=20).rev().map(|i| 115_000_000 + i * 1_000));
        }
        lons.iter()
            .enumerate()
            .map(|(i, lon)| Position {
                fix_time: Timestamp::from_secs(10 * 3600 + 60 * i as i64),
                lon_e6: *lon,
                lat_e6: 30_200_000,
                speed_dkmh: 300,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn a_trip_is_due_when_back_home_or_once_a_late_return_is_beyond_the_threshold() {
        let t = CarpoolConfig::default().thresholds();
        let r = request(14);
        let home = |p: LonLat| near_pickup(&r, &t, p);
        let at = |h: f64| Timestamp::from_secs((h * 3600.0) as i64);
        // Back with the destination reached: due before the window ends.
        assert_eq!(
            settlement_due(&r, &track(true), at(11.0), &t, home),
            Some(Due::Back)
        );
        // Still out: not due within the window, nor within the late-return allowance after it.
        assert_eq!(settlement_due(&r, &track(false), at(11.0), &t, home), None);
        assert_eq!(settlement_due(&r, &track(false), at(15.9), &t, home), None);
        let due = settlement_due(&r, &track(false), at(16.1), &t, home);
        assert_eq!(due, Some(Due::Overdue));
        let s = settle_due(&r, &track(false), &t, Due::Overdue, at(16.1));
        assert!(
            s.differences
                .iter()
                .any(|d| d.starts_with("not back at its depot 2.1 h")),
            "{:?}",
            s.differences
        );
        // Never left: home, and due only once the window is over.
        let parked: Vec<Position> = track(true)
            .into_iter()
            .map(|p| Position {
                lon_e6: 115_000_000,
                ..p
            })
            .collect();
        assert_eq!(settlement_due(&r, &parked, at(11.0), &t, home), None);
        assert_eq!(settlement_due(&r, &parked, at(14.0), &t, home), Some(Due::Back));
        // No track at all: due once overdue.
        assert_eq!(settlement_due(&r, &[], at(15.0), &t, home), None);
        assert_eq!(settlement_due(&r, &[], at(16.5), &t, home), Some(Due::Overdue));
    }

    #[test]
    fn the_table_is_checked_key_by_key_and_gives_the_thresholds() {
        let c: CarpoolConfig = toml::from_str("extra_km_percent = 50\nlate_return_hours = 0.5").unwrap();
        assert_eq!(c.thresholds().late_return_ms, 1_800_000);
        assert_eq!(c.thresholds().extra_km_percent, 50.0);
        assert_eq!(CarpoolConfig::default().thresholds(), Thresholds::default());
        for (text, key) in [
            ("detour_factor = 0", "rules.carpool.detour_factor"),
            ("late_return_hours = -1", "rules.carpool.late_return_hours"),
            ("settle_check_secs = 0", "rules.carpool.settle_check_secs"),
        ] {
            let c: CarpoolConfig = toml::from_str(text).unwrap();
            assert!(c.validate().unwrap_err().starts_with(key), "{text}");
        }
        assert!(toml::from_str::<CarpoolConfig>("radius = 3").is_err());
    }
}

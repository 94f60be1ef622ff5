//! A simulated year of driving: every car of the world drives its day plans ([`crate::plan`]) through
//! one China calendar year, its terminal recording a point every `interval_secs` with the ignition on (and
//! at each bend), every `parked_interval_secs` while parked and hourly once asleep; with the reform's fleet fields
//! (terminals installed, exempt or missing, cars disposed of during the year), whole days a terminal stays
//! off, and the misuse the plans script ([`crate::expect`]). The points are produced day by day, so a
//! caller writes them straight into a store in bulk instead of driving a year over TCP.
//!
//! [`year_totals`] counts what the office's yearly figures must show for that year, from the world
//! itself: trips (split from the points by `tianshu_rules::track`, the summaries' own code), km driven
//! (the length of the motion the plans drive, against which the track's km are measured), cars kept,
//! disposed of, installed and exempt, the share of cars online each day, and the violations scripted by
//! rule (those that must be raised, and those that may be besides).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tianshu_model::carpool::{DisposalHow, FleetFields, MarkingStatus, Ownership, TerminalStatus};
use tianshu_model::{Position, PositionSource, StatusFlags, Timestamp, VehicleId};
use tianshu_rules::track::trips_and_stops;

use crate::expect::{Scripted, scripted_for};
use crate::files::{WriteError, write_records_and_totals};
use crate::plan::{DayPlan, day_plan, local_ms, night_away};
use crate::scenario::TerminalScenarios;
use crate::world::{World, mix_seed};

/// File name of the simulated year's totals inside a world directory.
pub const YEAR_TOTALS_FILE: &str = "year_totals.json";
/// File name of the simulated year's scripted misuse (of the days its terminals report) inside a world
/// directory, one [`Scripted`] a line.
pub const YEAR_SCRIPTED_FILE: &str = "year_scripted.jsonl";

/// Words of a unit's path whose cars are exempt from a terminal (public security, procuratorate,
/// discipline inspection, state security), as the office's report exempts them.
const EXEMPT_UNITS: [&str; 4] = ["公安", "检察", "纪委", "国家安全"];

/// Share of a kept, installed car's days on which its terminal stays off all day.
const OFFLINE_DAY_RATE: f64 = 0.03;

/// How the year is driven (see [`day_points`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YearConfig {
    /// The China calendar year.
    pub year: i32,
    /// How many of the world's cars (its first N; 0 = all).
    pub cars: usize,
    /// Seconds between points with the ignition on.
    pub interval_secs: u32,
    /// Seconds between points while parked (never below `interval_secs`).
    pub parked_interval_secs: u32,
}

impl YearConfig {
    /// The cars driven: the world's first `cars`, or all of them.
    pub fn car_count(&self, world: &World) -> usize {
        match self.cars {
            0 => world.vehicles.len(),
            n => n.min(world.vehicles.len()),
        }
    }

    /// The year's days, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        let year = self.year;
        NaiveDate::from_ymd_opt(year, 1, 1)
            .into_iter()
            .flat_map(|d| d.iter_days())
            .take_while(move |d| d.year() == year)
    }
}

/// A car's fleet fields in the simulated year: exempt from a terminal when it is a special-class car
/// (law enforcement, confidential...) of the exempt units, a terminal
/// missing on every 17th car, every 11th car disposed of on a drawn day of the year; marked, or exempt
/// from marking with its terminal.
pub fn fleet_fields(world: &World, vehicle: usize, year: i32) -> FleetFields {
    let v = &world.vehicles[vehicle];
    let path = &world.units[v.unit].path;
    let exempt =
        v.class != tianshu_model::VehicleClass::General && EXEMPT_UNITS.iter().any(|w| path.contains(w));
    let mut f = FleetFields {
        ownership: Ownership::Unit,
        marking_status: MarkingStatus::Marked,
        terminal_status: TerminalStatus::Installed,
        ..FleetFields::default()
    };
    if exempt {
        f.terminal_status = TerminalStatus::Exempt;
        f.terminal_exempt_reason = Some("执法执勤用车（公安、检察、纪检监察、国家安全）".into());
        f.marking_status = MarkingStatus::Exempt;
        f.marking_exempt_reason = Some("执法执勤用车".into());
    } else if vehicle % 17 == 16 {
        f.terminal_status = TerminalStatus::Missing;
    }
    if vehicle % 11 == 10 {
        let mut rng = StdRng::seed_from_u64(mix_seed(&[world.config.seed, 11, vehicle as u64, year as u64]));
        let day = NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(rng.gen_range(30..330))));
        f.disposed_on = day.map(|d| d.format("%Y-%m-%d").to_string());
        f.disposal = Some(
            [
                DisposalHow::Auctioned,
                DisposalHow::Transferred,
                DisposalHow::Scrapped,
            ][rng.gen_range(0..3)],
        );
    }
    f
}

/// Whether the car's terminal reports on `date`: installed, not yet disposed of (the disposal day
/// reports nothing), and not one of its drawn days off (never a day next to a night away, whose night
/// spans two days).
pub fn reports_on(world: &World, vehicle: usize, date: NaiveDate, fleet: &FleetFields) -> bool {
    if fleet.terminal_status != TerminalStatus::Installed {
        return false;
    }
    let disposed = fleet
        .disposed_on
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    if disposed.is_some_and(|d| date >= d) {
        return false;
    }
    let away = |d: Option<NaiveDate>| d.is_some_and(|d| night_away(world, vehicle, d).is_some());
    if away(Some(date)) || away(date.pred_opt()) {
        return true;
    }
    let mut rng = StdRng::seed_from_u64(mix_seed(&[
        world.config.seed,
        12,
        vehicle as u64,
        date.num_days_from_ce() as u64,
    ]));
    !rng.gen_bool(OFFLINE_DAY_RATE)
}

/// With the ignition off this long, the terminal sleeps: longer than any stop inside a trip, so a stop
/// is reported as often as the rules' gap guards (`max_gap_secs`) need.
const SLEEP_AFTER_MS: i64 = 3 * 3600 * 1000;
/// A sleeping terminal's reporting interval (the terminal parameter 0x0027).
const SLEEP_INTERVAL_MS: i64 = 3600 * 1000;
/// A moving terminal also reports where its course turns by this much (拐点补传, parameter 0x0030).
pub const CORNER_DEG: f64 = 30.0;

/// The next whole second at or after `t_ms`: fix times have no finer resolution.
fn whole_second(t_ms: i64) -> i64 {
    (t_ms + 999).div_euclid(1000) * 1000
}

/// The points the car's terminal records over its plan's day (vehicle id left 0 for the caller to
/// bind), received a second after each fix as live points are: every `interval_secs` with the ignition
/// on and where the course turns by [`CORNER_DEG`], every `parked_interval_secs` with it off, hourly once
/// it has been off for three hours (asleep), and at once when the ignition goes on.
pub fn day_points(world: &World, vehicle: usize, plan: &DayPlan, config: &YearConfig) -> Vec<Position> {
    let phone = world.vehicles[vehicle].phone;
    let (start, end) = (local_ms(plan.date, 0), local_ms(plan.date, 0) + 86_400_000);
    let moving_ms = i64::from(config.interval_secs.max(1)) * 1000;
    let parked_ms = i64::from(config.parked_interval_secs.max(config.interval_secs).max(1)) * 1000;
    let mut out = Vec::new();
    // Parked since the evening before: asleep at midnight.
    let mut off_since = start - SLEEP_AFTER_MS;
    let mut t = start;
    while t < end {
        let s = plan.state_at(t);
        let mut status = StatusFlags::GPS | StatusFlags::BEIDOU | StatusFlags::FIXED;
        if s.acc_on {
            status |= StatusFlags::ACC_ON;
        }
        out.push(Position {
            vehicle: VehicleId(0),
            phone,
            fix_time: Timestamp(t),
            recv_time: Timestamp(t + 1000),
            lat_e6: s.pos.lat_e6(),
            lon_e6: s.pos.lon_e6(),
            altitude_m: 30,
            speed_dkmh: (s.speed_kmh * 10.0).round() as u16,
            course_deg: (s.course_deg.round() as u16) % 360,
            status: StatusFlags(status),
            satellites: Some(if s.speed_kmh > 0.0 { 11 } else { 9 }),
            rssi: Some(24),
            source: PositionSource::Live,
            ..Position::default()
        });
        let next = if s.acc_on {
            off_since = i64::MAX;
            corner_after(plan, t).map_or(t + moving_ms, |c| c.min(t + moving_ms))
        } else {
            off_since = off_since.min(t);
            let step = if t - off_since >= SLEEP_AFTER_MS {
                SLEEP_INTERVAL_MS
            } else {
                parked_ms
            };
            ignition_after(plan, t).map_or(t + step, |d| d.min(t + step))
        };
        t = whole_second(next);
    }
    out
}

/// Where the course next turns by [`CORNER_DEG`] or more after `t`, inside the trip `t` is in.
fn corner_after(plan: &DayPlan, t: i64) -> Option<i64> {
    let trip = plan
        .trips
        .iter()
        .find(|trip| trip.depart_ms() <= t && t < trip.end_ms())?;
    trip.segments
        .windows(2)
        .filter(|w| w[1].t0_ms > t && w[0].from != w[0].to && w[1].from != w[1].to)
        .find(|w| {
            let turn = (w[0].from.bearing_deg(w[0].to) - w[1].from.bearing_deg(w[1].to)).abs() % 360.0;
            turn.min(360.0 - turn) >= CORNER_DEG
        })
        .map(|w| w[1].t0_ms)
}

/// When the ignition next goes on after `t`: the end of the engine-off stand `t` is in (a long stop
/// inside a trip), else the next departure.
fn ignition_after(plan: &DayPlan, t: i64) -> Option<i64> {
    plan.trips
        .iter()
        .flat_map(|trip| &trip.segments)
        .find(|s| !s.engine_on && s.from == s.to && s.t0_ms <= t && t < s.t1_ms)
        .map(|s| s.t1_ms)
        .or_else(|| plan.trips.iter().map(|trip| trip.depart_ms()).find(|d| *d > t))
}

/// Metres the plan drives (the length of its moving segments).
pub fn planned_metres(plan: &DayPlan) -> f64 {
    plan.trips
        .iter()
        .flat_map(|t| &t.segments)
        .filter(|s| s.from != s.to)
        .map(|s| s.from.distance_m(s.to))
        .sum()
}

/// One car's year.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarYear {
    /// Its plate.
    pub plate: String,
    /// Trips split from its points by `tianshu_rules::track`.
    pub trips: u64,
    /// Km its plans drove on the days its terminal reported.
    pub km: f64,
    /// Days its terminal reported.
    pub days_online: u64,
}

/// A rule's scripted violations: those that must be raised, and those that may be besides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounts {
    /// Must be raised.
    pub must: u64,
    /// May be raised besides.
    pub may: u64,
}

/// What the office's yearly figures must show for the simulated year.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct YearTotals {
    /// The China calendar year.
    pub year: i32,
    /// Cars registered.
    pub cars: u64,
    /// Days of the year.
    pub days: u64,
    /// Cars kept at the year's end.
    pub kept: u64,
    /// Cars disposed of in the year.
    pub disposed: u64,
    /// Kept cars with a terminal installed.
    pub installed: u64,
    /// Kept cars exempt from a terminal.
    pub exempt: u64,
    /// Installed over the kept cars not exempt, percent (two decimals).
    pub install_rate: f64,
    /// Trips of all cars.
    pub trips: u64,
    /// Km of all cars (one decimal).
    pub km: f64,
    /// Cars with a point each day (over `cars`), by day.
    pub online_by_day: Vec<(String, u64)>,
    /// The daily share of cars online averaged over the year, percent (two decimals).
    pub online_share: f64,
    /// Scripted violations by rule.
    pub violations: BTreeMap<String, RuleCounts>,
    /// Each car's year.
    pub per_car: Vec<CarYear>,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

/// Counts the year's reform figures from the cars' fleet fields into `totals`.
fn count_fleet(world: &World, config: &YearConfig, totals: &mut YearTotals) {
    for vehicle in 0..config.car_count(world) {
        let f = fleet_fields(world, vehicle, config.year);
        if f.disposed_on.is_some() {
            totals.disposed += 1;
            continue;
        }
        totals.kept += 1;
        match f.terminal_status {
            TerminalStatus::Installed => totals.installed += 1,
            TerminalStatus::Exempt => totals.exempt += 1,
            TerminalStatus::Missing => {}
        }
    }
    totals.install_rate = percent(totals.installed, totals.kept - totals.exempt);
}

/// Counts one car's reporting day: its trips, km and the misuse its plan scripts (kept in `scripted`).
fn count_day(
    world: &World,
    vehicle: usize,
    plan: &DayPlan,
    config: &YearConfig,
    totals: &mut YearTotals,
    scripted: &mut Vec<Scripted>,
) {
    let points = day_points(world, vehicle, plan, config);
    let (trips, _) = trips_and_stops(&points);
    let car = &mut totals.per_car[vehicle];
    car.trips += trips.len() as u64;
    car.km += planned_metres(plan) / 1000.0;
    car.days_online += 1;
    let none = TerminalScenarios::none();
    for s in scripted_for(world, vehicle, plan.date, plan, &none, false) {
        for (rules, must) in [(&s.rules, true), (&s.may, false)] {
            for rule in rules {
                let e = totals.violations.entry(rule.clone()).or_default();
                if must {
                    e.must += 1;
                } else {
                    e.may += 1;
                }
            }
        }
        scripted.push(s);
    }
}

/// The totals of the simulated year `config` describes, and the misuse scripted on the days its
/// terminals report.
pub fn year_totals(world: &World, config: &YearConfig) -> (YearTotals, Vec<Scripted>) {
    let mut scripted = Vec::new();
    let n = config.car_count(world);
    let mut totals = YearTotals {
        year: config.year,
        cars: n as u64,
        per_car: world.vehicles[..n]
            .iter()
            .map(|v| CarYear {
                plate: v.plate.clone(),
                ..CarYear::default()
            })
            .collect(),
        ..YearTotals::default()
    };
    count_fleet(world, config, &mut totals);
    let fleets: Vec<FleetFields> = (0..n).map(|v| fleet_fields(world, v, config.year)).collect();
    let mut shares = 0.0;
    for date in config.days() {
        let mut online = 0;
        for (vehicle, fleet) in fleets.iter().enumerate() {
            if !reports_on(world, vehicle, date, fleet) {
                continue;
            }
            online += 1;
            let plan = day_plan(world, vehicle, date);
            count_day(world, vehicle, &plan, config, &mut totals, &mut scripted);
        }
        totals.days += 1;
        shares += if n == 0 { 0.0 } else { online as f64 / n as f64 };
        totals.online_by_day.push((date.to_string(), online));
    }
    for car in &mut totals.per_car {
        car.km = (car.km * 10.0).round() / 10.0;
    }
    totals.trips = totals.per_car.iter().map(|c| c.trips).sum();
    totals.km = (totals.per_car.iter().map(|c| c.km).sum::<f64>() * 10.0).round() / 10.0;
    totals.online_share = if totals.days == 0 {
        0.0
    } else {
        (shares * 10_000.0 / totals.days as f64).round() / 100.0
    };
    (totals, scripted)
}

/// Writes the year's totals and scripted misuse into `dir` ([`YEAR_TOTALS_FILE`],
/// [`YEAR_SCRIPTED_FILE`]); their paths.
pub fn write_year_totals(world: &World, config: &YearConfig, dir: &Path) -> Result<[PathBuf; 2], WriteError> {
    let (totals, scripted) = year_totals(world, config);
    let [scripted_path, totals_path] =
        write_records_and_totals(dir, (YEAR_SCRIPTED_FILE, &scripted), (YEAR_TOTALS_FILE, &totals))?;
    Ok([totals_path, scripted_path])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    fn world(cars: usize) -> World {
        World::generate(&WorldConfig {
            vehicles: cars,
            start_date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            days: 365,
            ..WorldConfig::default()
        })
    }

    #[test]
    fn a_year_counts_every_day_and_the_track_drives_the_plans_km() {
        let w = world(24);
        let config = YearConfig {
            year: 2025,
            cars: 0,
            interval_secs: 60,
            parked_interval_secs: 300,
        };
        let (t, scripted) = year_totals(&w, &config);
        assert!(!scripted.is_empty());
        assert_eq!((t.days, t.cars), (365, 24));
        assert_eq!(t.kept + t.disposed, 24);
        assert!(t.disposed >= 1 && t.exempt >= 1, "{t:?}");
        assert!(
            t.online_share > 50.0 && t.online_share < 100.0,
            "{}",
            t.online_share
        );
        assert!(
            t.trips > 1000 && t.km > 10_000.0,
            "{} trips, {} km",
            t.trips,
            t.km
        );
        // The track's km (what the summaries count) stay within 1% of the km the plans drove.
        let mut track_m = 0.0;
        for date in config.days().take(60) {
            for v in 0..24 {
                let f = fleet_fields(&w, v, 2025);
                if reports_on(&w, v, date, &f) {
                    let plan = day_plan(&w, v, date);
                    let (trips, _) = trips_and_stops(&day_points(&w, v, &plan, &config));
                    track_m += trips.iter().map(|t| t.distance_m).sum::<f64>();
                }
            }
        }
        let planned: f64 = config
            .days()
            .take(60)
            .flat_map(|date| {
                let w = &w;
                (0..24).filter_map(move |v| {
                    let f = fleet_fields(w, v, 2025);
                    reports_on(w, v, date, &f).then(|| planned_metres(&day_plan(w, v, date)))
                })
            })
            .sum();
        assert!(
            (track_m - planned).abs() / planned < 0.01,
            "track {track_m} m vs planned {planned} m"
        );
    }
}

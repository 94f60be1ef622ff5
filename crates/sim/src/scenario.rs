//! Terminal-level scenarios: tamper alarms, going silent, blind-area periods, retransmission.
//!
//! Like day plans, the events of a terminal on a day are a pure function of (seed, vehicle, date,
//! rates), so a test can predict what a terminal will do and a run can be replayed.

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tianshu_model::AlarmBit;

use crate::plan::{DayPlan, local_ms};
use crate::world::mix_seed;

/// Rates and switches of the terminal-level scenarios; a rate of 0 switches one off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalScenarios {
    /// Per terminal and day: a period with the GNSS antenna cut (alarm bit 5, no valid fix) or main
    /// power lost (alarm bit 8), 10-60 simulated minutes.
    #[serde(default = "default_alarm_rate")]
    pub alarm_rate: f64,
    /// Per terminal and day: the terminal goes silent (no connection, nothing recorded) for 1-4
    /// simulated hours.
    #[serde(default = "default_silent_rate")]
    pub silent_rate: f64,
    /// Per terminal and day: a blind-area period of 5-30 simulated minutes during a trip. The terminal
    /// loses the network, keeps recording fixes, and uploads them as 0x0704 type 1 when back.
    #[serde(default = "default_blind_area_rate")]
    pub blind_area_rate: f64,
    /// Retransmit a message the platform did not acknowledge (T(n+1) = T(n) x (n+1)); when off, an
    /// unacknowledged report is given up after the first timeout.
    #[serde(default = "default_retransmit")]
    pub retransmit: bool,
}

const fn default_alarm_rate() -> f64 {
    0.02
}
const fn default_silent_rate() -> f64 {
    0.01
}
const fn default_blind_area_rate() -> f64 {
    0.05
}
const fn default_retransmit() -> bool {
    true
}

impl Default for TerminalScenarios {
    fn default() -> Self {
        TerminalScenarios {
            alarm_rate: default_alarm_rate(),
            silent_rate: default_silent_rate(),
            blind_area_rate: default_blind_area_rate(),
            retransmit: default_retransmit(),
        }
    }
}

impl TerminalScenarios {
    /// No alarms, no silence, no blind areas; retransmission stays on (it is the standard's behaviour).
    pub fn none() -> Self {
        TerminalScenarios {
            alarm_rate: 0.0,
            silent_rate: 0.0,
            blind_area_rate: 0.0,
            retransmit: true,
        }
    }
}

/// What happens to a terminal during a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Alarm bit set (antenna cut or power lost).
    Alarm(#[serde(with = "alarm_bit_serde")] AlarmBit),
    /// Offline, recording nothing.
    Silent,
    /// Offline, recording fixes for a later 0x0704 type 1 upload.
    BlindArea,
}

mod alarm_bit_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use tianshu_model::AlarmBit;

    pub fn serialize<S: Serializer>(b: &AlarmBit, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(b.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AlarmBit, D::Error> {
        let s = String::deserialize(d)?;
        AlarmBit::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| serde::de::Error::custom("unknown alarm bit"))
    }
}

/// A scenario period in simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// What happens.
    pub kind: EventKind,
    /// Start, UTC ms (inclusive).
    pub start_ms: i64,
    /// End, UTC ms (exclusive).
    pub end_ms: i64,
}

impl Event {
    /// Whether `t_ms` falls in the period.
    pub fn contains(&self, t_ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&t_ms)
    }
}

/// The scenario events of terminal `vehicle` on `date`, given its day plan.
pub fn events_for(
    seed: u64,
    vehicle: usize,
    date: NaiveDate,
    plan: &DayPlan,
    rates: &TerminalScenarios,
) -> Vec<Event> {
    use chrono::Datelike;
    let mut rng = StdRng::seed_from_u64(mix_seed(&[
        seed,
        4,
        vehicle as u64,
        date.num_days_from_ce() as u64,
    ]));
    let mut out = Vec::new();
    let min = 60_000i64;
    let day_start = local_ms(date, 0);
    // Draw every decision, used or not, so switching one scenario off leaves the others unchanged.
    let blind = rng.gen_bool(rates.blind_area_rate.clamp(0.0, 1.0));
    let blind_trip = rng.gen_range(0..plan.trips.len().max(1));
    let blind_len = rng.gen_range(5..=30) * min;
    let blind_frac: f64 = rng.gen_range(0.1..0.6);
    let silent = rng.gen_bool(rates.silent_rate.clamp(0.0, 1.0));
    let silent_start = day_start + rng.gen_range(7 * 60..20 * 60) * min;
    let silent_len = rng.gen_range(60..=240) * min;
    let alarm = rng.gen_bool(rates.alarm_rate.clamp(0.0, 1.0));
    let alarm_start = day_start + rng.gen_range(8 * 60..18 * 60) * min;
    let alarm_len = rng.gen_range(10..=60) * min;
    let alarm_bit = if rng.gen_bool(0.5) {
        AlarmBit::GnssAntennaCut
    } else {
        AlarmBit::PowerLost
    };
    if let Some(t) = plan.trips.get(blind_trip).filter(|_| blind) {
        {
            // Blind areas are met on the road, so the period starts inside a trip.
            let start = t.depart_ms() + ((t.end_ms() - t.depart_ms()) as f64 * blind_frac) as i64;
            out.push(Event {
                kind: EventKind::BlindArea,
                start_ms: start,
                end_ms: start + blind_len,
            });
        }
    }
    if silent {
        let end = (silent_start + silent_len).min(day_start + 24 * 60 * min - 1);
        out.push(Event {
            kind: EventKind::Silent,
            start_ms: silent_start,
            end_ms: end,
        });
    }
    if alarm {
        out.push(Event {
            kind: EventKind::Alarm(alarm_bit),
            start_ms: alarm_start,
            end_ms: alarm_start + alarm_len,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::day_plan;
    use crate::world::{World, WorldConfig};

    #[test]
    fn rates_switch_events_on_and_off() {
        let w = World::generate(&WorldConfig {
            vehicles: 200,
            days: 1,
            ..Default::default()
        });
        let date = w.config.start_date;
        let plans: Vec<_> = (0..200).map(|v| day_plan(&w, v, date)).collect();
        let all = TerminalScenarios {
            alarm_rate: 0.5,
            silent_rate: 0.5,
            blind_area_rate: 0.5,
            retransmit: true,
        };
        let count = |rates: &TerminalScenarios, pred: fn(&EventKind) -> bool| -> usize {
            (0..200)
                .map(|v| {
                    events_for(w.config.seed, v, date, &plans[v], rates)
                        .iter()
                        .filter(|e| pred(&e.kind))
                        .count()
                })
                .sum()
        };
        assert!(count(&all, |k| matches!(k, EventKind::BlindArea)) > 20);
        assert!(count(&all, |k| matches!(k, EventKind::Silent)) > 50);
        assert!(count(&all, |k| matches!(k, EventKind::Alarm(_))) > 50);
        let none = TerminalScenarios::none();
        assert_eq!(count(&none, |_| true), 0);
        // Switching blind areas off leaves the alarms where they were.
        let no_blind = TerminalScenarios {
            blind_area_rate: 0.0,
            ..all.clone()
        };
        for (v, plan) in plans.iter().enumerate() {
            let a: Vec<_> = events_for(w.config.seed, v, date, plan, &all)
                .into_iter()
                .filter(|e| !matches!(e.kind, EventKind::BlindArea))
                .collect();
            let b = events_for(w.config.seed, v, date, plan, &no_blind);
            assert_eq!(a, b);
        }
        // Blind areas start on the road.
        for (v, plan) in plans.iter().enumerate() {
            for e in events_for(w.config.seed, v, date, plan, &all) {
                if e.kind == EventKind::BlindArea {
                    assert!(
                        plan.trips
                            .iter()
                            .any(|t| (t.depart_ms()..t.end_ms()).contains(&e.start_ms))
                    );
                }
            }
        }
    }
}

/// The scenario names `--scenarios` accepts, each optionally followed by `=RATE`.
pub const SCENARIO_NAMES: &[&str] = &[
    "off_hours",
    "holiday",
    "holiday_filing",
    "unordered",
    "off_route",
    "region_exit",
    "night_away",
    "prohibited_stop",
    "alarms",
    "silent",
    "blind_area",
    "retransmit",
];

/// Why a scenario list is not understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioSpecError {
    /// A name not in [`SCENARIO_NAMES`].
    #[error("unknown scenario {name:?}; known: none, default, {known}", name = .0, known = SCENARIO_NAMES.join(", "))]
    Unknown(String),
    /// A rate that is not a number in 0..=1.
    #[error("scenario {name}: rate {rate:?} is not a number between 0 and 1")]
    BadRate {
        /// The scenario.
        name: String,
        /// The text after `=`.
        rate: String,
    },
}

/// Applies a comma-separated scenario list: `default` keeps every default rate, `none` switches every
/// scenario off, and `name` or `name=RATE` switches one on (at its default rate, or RATE). A list that
/// does not start with `default` starts from `none`, so `--scenarios blind_area` means only blind areas.
/// Retransmission is the standard's behaviour and stays on unless `retransmit=0`.
pub fn apply_scenarios(
    spec: &str,
    plan: &mut crate::plan::PlanScenarios,
    terminal: &mut TerminalScenarios,
) -> Result<(), ScenarioSpecError> {
    let defaults_plan = crate::plan::PlanScenarios::default();
    let defaults_terminal = TerminalScenarios::default();
    let items: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if items.first() != Some(&"default") {
        *plan = crate::plan::PlanScenarios::none();
        *terminal = TerminalScenarios::none();
    }
    for item in items {
        let (name, rate) = match item.split_once('=') {
            Some((n, r)) => (n.trim(), Some(r.trim())),
            None => (item, None),
        };
        let parse = |default: f64| -> Result<f64, ScenarioSpecError> {
            match rate {
                None => Ok(default),
                Some(r) => match r {
                    "on" => Ok(default),
                    "off" => Ok(0.0),
                    _ => r
                        .parse::<f64>()
                        .ok()
                        .filter(|v| (0.0..=1.0).contains(v))
                        .ok_or_else(|| ScenarioSpecError::BadRate {
                            name: name.to_string(),
                            rate: r.to_string(),
                        }),
                },
            }
        };
        match name {
            "default" => {
                *plan = defaults_plan.clone();
                *terminal = defaults_terminal.clone();
            }
            "none" => {
                *plan = crate::plan::PlanScenarios::none();
                *terminal = TerminalScenarios::none();
            }
            "off_hours" => plan.off_hours_rate = parse(defaults_plan.off_hours_rate)?,
            "holiday" => plan.holiday_rate = parse(defaults_plan.holiday_rate)?,
            "holiday_filing" => plan.holiday_filing_rate = parse(defaults_plan.holiday_filing_rate)?,
            "unordered" => plan.order_rate = 1.0 - parse(1.0 - defaults_plan.order_rate)?,
            "off_route" => plan.off_route_rate = parse(defaults_plan.off_route_rate)?,
            "region_exit" => plan.region_exit_rate = parse(defaults_plan.region_exit_rate)?,
            "night_away" => plan.night_away_rate = parse(defaults_plan.night_away_rate)?,
            "prohibited_stop" => plan.prohibited_stop_rate = parse(defaults_plan.prohibited_stop_rate)?,
            "alarms" => terminal.alarm_rate = parse(defaults_terminal.alarm_rate)?,
            "silent" => terminal.silent_rate = parse(defaults_terminal.silent_rate)?,
            "blind_area" => terminal.blind_area_rate = parse(defaults_terminal.blind_area_rate)?,
            "retransmit" => terminal.retransmit = parse(1.0)? > 0.0,
            other => return Err(ScenarioSpecError::Unknown(other.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod spec_tests {
    use super::*;
    use crate::plan::PlanScenarios;

    #[test]
    fn lists_switch_scenarios() {
        let (mut p, mut t) = (PlanScenarios::default(), TerminalScenarios::default());
        apply_scenarios("blind_area,off_route=0.5", &mut p, &mut t).unwrap();
        assert_eq!(t.blind_area_rate, TerminalScenarios::default().blind_area_rate);
        assert_eq!((t.alarm_rate, t.silent_rate), (0.0, 0.0));
        assert_eq!(p.off_route_rate, 0.5);
        assert_eq!((p.holiday_rate, p.order_rate), (0.0, 1.0));
        assert!(t.retransmit);
        apply_scenarios("default,retransmit=off,unordered=0.2", &mut p, &mut t).unwrap();
        assert!(!t.retransmit);
        assert!((p.order_rate - 0.8).abs() < 1e-9);
        assert_eq!(p.night_away_rate, PlanScenarios::default().night_away_rate);
        assert!(matches!(
            apply_scenarios("teleport", &mut p, &mut t),
            Err(ScenarioSpecError::Unknown(_))
        ));
        assert!(matches!(
            apply_scenarios("alarms=2", &mut p, &mut t),
            Err(ScenarioSpecError::BadRate { .. })
        ));
    }
}

//! What a run is told to do on purpose: the rates of the trip-level scenarios (in the day plans) and of
//! the terminal-level ones (alarms, silence, blind areas, retransmission), and the `--scenarios` list
//! that sets them.
//!
//! Rates only: what a rate makes happen on a given day is drawn with the day plans and the terminal
//! events, from the seed, so switching one scenario off leaves the others where they were.

use serde::{Deserialize, Serialize};

/// Rates of the trip-level scenarios; 0 switches one off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanScenarios {
    /// Share of ordinary trips that carry an approved dispatch order (the rest are 无单出车).
    pub order_rate: f64,
    /// Per car and working day: an extra evening trip outside working hours, without an order.
    pub off_hours_rate: f64,
    /// Per general car and day off: a trip without a filing.
    pub holiday_rate: f64,
    /// Per general car and day off: a trip covered by a holiday filing (报备), which is not a violation.
    pub holiday_filing_rate: f64,
    /// Per ordered trip: the driver detours well outside the approved route's corridor.
    pub off_route_rate: f64,
    /// Per trip: the destination lies outside the permitted region.
    pub region_exit_rate: f64,
    /// Per car and day: the car is driven home in the evening and spends the night away from its depot.
    pub night_away_rate: f64,
    /// Per trip: one stop is at a prohibited place (KTV, club, scenic spot) for an hour or more.
    pub prohibited_stop_rate: f64,
}

impl Default for PlanScenarios {
    fn default() -> Self {
        PlanScenarios {
            order_rate: 0.92,
            off_hours_rate: 0.03,
            holiday_rate: 0.04,
            holiday_filing_rate: 0.03,
            off_route_rate: 0.08,
            region_exit_rate: 0.01,
            night_away_rate: 0.02,
            prohibited_stop_rate: 0.02,
        }
    }
}

impl PlanScenarios {
    /// Every violation scenario off; every ordinary trip carries an order.
    pub fn none() -> Self {
        PlanScenarios {
            order_rate: 1.0,
            off_hours_rate: 0.0,
            holiday_rate: 0.0,
            holiday_filing_rate: 0.0,
            off_route_rate: 0.0,
            region_exit_rate: 0.0,
            night_away_rate: 0.0,
            prohibited_stop_rate: 0.0,
        }
    }
}

/// Rates and switches of the terminal-level scenarios; a rate of 0 switches one off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalScenarios {
    /// Per terminal and day: a period with the GNSS antenna cut (alarm bit 5, no valid fix) or main
    /// power lost (alarm bit 8), 10-60 simulated minutes.
    pub alarm_rate: f64,
    /// Per terminal and day: the terminal goes silent (no connection, nothing recorded) for 1-4
    /// simulated hours.
    pub silent_rate: f64,
    /// Per terminal and day: a blind-area period of 5-30 simulated minutes during a trip. The terminal
    /// loses the network, keeps recording fixes, and uploads them as 0x0704 type 1 when back.
    pub blind_area_rate: f64,
    /// Retransmit a message the platform did not acknowledge (T(n+1) = T(n) x (n+1)); when off, an
    /// unacknowledged report is given up after the first timeout.
    pub retransmit: bool,
}

impl Default for TerminalScenarios {
    fn default() -> Self {
        TerminalScenarios {
            alarm_rate: 0.02,
            silent_rate: 0.01,
            blind_area_rate: 0.05,
            retransmit: true,
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
    plan: &mut PlanScenarios,
    terminal: &mut TerminalScenarios,
) -> Result<(), ScenarioSpecError> {
    let defaults_plan = PlanScenarios::default();
    let defaults_terminal = TerminalScenarios::default();
    let items: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if items.first() != Some(&"default") {
        *plan = PlanScenarios::none();
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
                *plan = PlanScenarios::none();
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
    use PlanScenarios;

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

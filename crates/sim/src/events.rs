//! Terminal-level events: tamper alarms, going silent, blind-area periods.
//!
//! Like day plans, the events of a terminal on a day are a pure function of (seed, vehicle, date,
//! rates), so a test can predict what a terminal will do and a run can be replayed.

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tianshu_model::AlarmBit;

use crate::plan::{DayPlan, local_ms};
use crate::scenario::TerminalScenarios;
use crate::world::mix_seed;

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

//! Rebuilding a car's rule state from its stored track, at its first point since start or, for a car
//! that has not reported since, from the timer. A car with a usable saved state is restored from it
//! instead, and fed only the points received since (see `saved`); what follows is the fallback.
//!
//! An episode in progress when the process stopped thus continues as the same case instead of opening a
//! second one, and episodes in points stored while nothing evaluated them are raised now. The replay goes
//! back `resume_hours`, and further to just before the start of any case of the car that is still
//! open-ended. Episodes the replay finds are recorded like live ones: the store keys cases on (vehicle,
//! rule, start), so a case already recorded is updated, never duplicated. The replayed points count as
//! taken, so that the follower handing one of them over again is recognised as a repeat.

use tianshu_model::{Timestamp, VehicleId};
use tianshu_rules::{RuleEvent, VehicleRules};
use tianshu_store::rules::CaseFilter;
use tracing::{debug, warn};

use std::sync::atomic::Ordering;

use super::evaluator::{Car, Evaluator};
use super::support::{metrics, read_track};

/// How far back open-ended cases are looked for when resuming a car's rule state.
const RESUME_OPEN_CASE_LIMIT_MS: i64 = 7 * 86_400_000;
/// Replay starts this long before an open case's start, so its de-bounce restarts from idle.
const RESUME_MARGIN_MS: i64 = 3_600_000;
/// Quiet cars resumed per tick.
const QUIET_RESUMES_PER_TICK: usize = 50;

impl Evaluator {
    /// Rebuilds the rule state of `vehicle` from its stored track up to `before` (exclusive).
    pub(super) async fn resume(
        &mut self,
        vehicle: VehicleId,
        before: Timestamp,
        events: &mut Vec<RuleEvent>,
    ) {
        let Some(v) = self.routing.vehicle(vehicle).cloned() else {
            return;
        };
        let window_ms = (self.config.resume_hours.max(0.0) * 3_600_000.0) as i64;
        if window_ms > 0
            && let Some(car) = self
                .restore(&v, before.add_millis(-window_ms), before, events)
                .await
        {
            self.cars.insert(vehicle, car);
            return;
        }
        let mut car = Car::new(VehicleRules::new(&v));
        if window_ms > 0 {
            let from = self
                .replay_from(vehicle, before, before.add_millis(-window_ms))
                .await;
            match read_track(&self.store, vehicle, from, before).await {
                Ok(points) => {
                    for p in &points {
                        car.feed(&self.reference, p, events);
                    }
                    metrics().resumed_points.inc_by(points.len() as u64);
                    self.progress
                        .replayed
                        .fetch_add(points.len() as u64, Ordering::Relaxed);
                    debug!(vehicle = %vehicle, points = points.len(), from = %from, "rule state resumed from the stored track");
                }
                Err(e) => {
                    warn!(vehicle = %vehicle, error = %e, "reading the track to resume rule state failed; starting afresh")
                }
            }
        }
        self.cars.insert(vehicle, car);
    }

    /// Where the replay of `vehicle` starts: `from`, or earlier, before the start of a case of the car
    /// still open-ended at `before` (its de-bounce then restarts from idle).
    async fn replay_from(&self, vehicle: VehicleId, before: Timestamp, mut from: Timestamp) -> Timestamp {
        let open = CaseFilter {
            vehicle: Some(vehicle),
            from: Some(before.add_millis(-RESUME_OPEN_CASE_LIMIT_MS)),
            limit: 1000,
            ..Default::default()
        };
        match self.store.cases().cases(&open).await {
            Ok(cases) => {
                for c in cases.iter().filter(|c| c.end.is_none() && c.start < before) {
                    from = from.min(c.start.add_millis(-RESUME_MARGIN_MS));
                }
            }
            Err(e) => {
                warn!(vehicle = %vehicle, error = %e, "reading open cases to resume rule state failed")
            }
        }
        from
    }

    /// Resumes the cars that have not reported since start but were seen within `resume_hours`, a few
    /// per tick, so that time-based rules (silence, the nightly depot check) cover them too.
    pub(super) async fn resume_quiet(&mut self, events: &mut Vec<RuleEvent>) {
        if self.config.resume_hours <= 0.0 {
            return;
        }
        // The cars to resume are read once; a car that reported meanwhile was resumed by its point.
        let todo = match &mut self.quiet_todo {
            Some(todo) => todo,
            None => {
                let latest = match self.store.latest_positions().await {
                    Ok(l) => l,
                    Err(e) => {
                        warn!(error = %e, "reading latest positions to resume rule state failed; retrying at the next tick");
                        return;
                    }
                };
                let horizon = Timestamp::now().add_millis(-((self.config.resume_hours * 3_600_000.0) as i64));
                self.quiet_todo.insert(
                    latest
                        .iter()
                        .filter(|p| p.recv_time >= horizon && self.owned.owns(p.vehicle))
                        .map(|p| (p.vehicle, p.fix_time))
                        .collect(),
                )
            }
        };
        let batch: Vec<(VehicleId, Timestamp)> =
            todo.drain(..todo.len().min(QUIET_RESUMES_PER_TICK)).collect();
        for (vehicle, last_fix) in batch {
            if !self.cars.contains_key(&vehicle) {
                self.resume(vehicle, last_fix.add_millis(1), events).await;
            }
        }
    }
}

//! Saved rule state: each car's rules and the keys of the points they took, written to the store every
//! `state_save_secs` and at a clean stop, with the latest receive time they cover (the cursor).
//!
//! At start the saved states are read once. A car's first point (or the timer, for a quiet car) then
//! restores its state instead of replaying its track, and feeds only the points of the replay window
//! received after the cursor, which the store filters by receive time without sending the rest: the
//! points committed between the save and the stop, or while nothing ran. They come in fix-time order,
//! so a point older than the restored state's last one goes to its late lane, as it would have live. A
//! state the rules refuse (another format, another rules configuration) or that cannot be read is
//! dropped and the track replayed, as without one.
//!
//! The cursor is a receive time, and receive times are stamped before the commit, so points of one car
//! could commit in a slightly different order than they were received. The read starts
//! [`RECEIVED_MARGIN_MS`] before the cursor; the points taken already within it are recognised by the
//! restored keys ([`Taken`](super::repeats::Taken)) and not fed twice.

use std::sync::atomic::Ordering;

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tianshu_model::{Position, Timestamp, Vehicle};
use tianshu_rules::{RuleEvent, VehicleRules};
use tianshu_store::rule_states::SavedRuleState;
use tracing::{debug, info, warn};

use super::evaluator::{Car, Evaluator};
use super::repeats::Taken;
use super::support::metrics;

/// How far before a saved state's cursor the points received are read again (and sifted).
const RECEIVED_MARGIN_MS: i64 = 5_000;
/// The keys of the last points taken a saved state keeps: enough for the few points one car has
/// received within [`RECEIVED_MARGIN_MS`] (a blind-area batch shares one receive time), without a
/// saved state growing by the whole memory of [`Taken`].
const SAVED_KEYS: usize = 32;

/// One car's saved state, as written.
#[derive(Serialize)]
struct SavedCar<'a> {
    /// The rules' snapshot (it carries its own format version and configuration fingerprint), as is.
    rules: &'a RawValue,
    taken: Taken,
}

/// One car's saved state, as read back.
#[derive(Deserialize)]
struct ReadCar<'a> {
    #[serde(borrow)]
    rules: &'a RawValue,
    taken: Taken,
}

impl Evaluator {
    /// The car `v` restored from its saved state, fed the points with `from <= fix_time < before`
    /// received after the state's cursor; `None` when it has no usable saved state.
    pub(super) async fn restore(
        &mut self,
        v: &Vehicle,
        from: Timestamp,
        before: Timestamp,
        events: &mut Vec<RuleEvent>,
    ) -> Option<Car> {
        let saved = self.saved.remove(&v.id)?;
        let restored = serde_json::from_str::<ReadCar>(&saved.state)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                VehicleRules::restore(s.rules.get(), &self.rules)
                    .map(|rules| (rules, s.taken))
                    .map_err(|e| e.to_string())
            });
        let (mut rules, taken) = match restored {
            Ok(r) => r,
            Err(e) => {
                debug!(vehicle = %v.id, reason = %e, "saved rule state not used; replaying the track");
                return None;
            }
        };
        rules.set_vehicle(v);
        let mut car = Car {
            taken,
            received_up_to: saved.received_up_to,
            ..Car::new(rules)
        };
        let after = saved.received_up_to.add_millis(-RECEIVED_MARGIN_MS);
        let read = async {
            let stream = self.store.track_received_after(v.id, from, before, after).await?;
            stream.try_collect::<Vec<Position>>().await
        };
        let points = match read.await {
            Ok(points) => points,
            Err(e) => {
                warn!(vehicle = %v.id, error = %e, "reading the points since the saved rule state failed; replaying the track");
                return None;
            }
        };
        let order: Vec<&Position> = points.iter().collect();
        let fresh = car.taken.sift(&order);
        for p in &fresh {
            car.feed(&self.reference, p, events);
        }
        metrics().resumed_points.inc_by(fresh.len() as u64);
        metrics().restored_states.inc();
        self.progress
            .replayed
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        self.progress.restored.fetch_add(1, Ordering::Relaxed);
        debug!(vehicle = %v.id, points = fresh.len(), "rule state restored from its saved state");
        Some(car)
    }

    /// Saves the state of every car that changed since its last save, in one transaction. A failure is
    /// logged and the cars stay marked for the next save: a state lost costs a replay, never a case.
    pub(super) async fn save_states(&mut self) {
        if self.config.state_save_secs == 0 {
            return;
        }
        let t = Timestamp::now();
        let mut vehicles = Vec::new();
        let mut states = Vec::new();
        for (vehicle, car) in self.cars.iter().filter(|(_, c)| c.dirty) {
            let Ok(rules) = RawValue::from_string(car.rules.snapshot(&self.rules)) else {
                continue;
            };
            let saved = SavedCar {
                rules: &rules,
                taken: car.taken.last(SAVED_KEYS),
            };
            let Ok(state) = serde_json::to_string(&saved) else {
                continue;
            };
            vehicles.push(*vehicle);
            states.push(SavedRuleState {
                vehicle: *vehicle,
                state,
                received_up_to: car.received_up_to,
                saved_at: t,
            });
        }
        if states.is_empty() {
            return;
        }
        match self.store.rule_states().save(states).await {
            Ok(()) => {
                for v in &vehicles {
                    if let Some(car) = self.cars.get_mut(v) {
                        car.dirty = false;
                    }
                }
                debug!(cars = vehicles.len(), "rule states saved");
            }
            Err(e) => {
                warn!(error = %e, cars = vehicles.len(), "saving rule states failed; retrying at the next save")
            }
        }
    }

    /// Reads the states an earlier run saved, once at start; none when saving is switched off or the
    /// read fails (every car's track is then replayed).
    pub(super) async fn load_saved(&mut self) {
        if self.config.state_save_secs == 0 || self.config.resume_hours <= 0.0 {
            return;
        }
        match self.store.rule_states().load().await {
            Ok(states) => {
                info!(cars = states.len(), "saved rule states read");
                self.saved = states.into_iter().map(|s| (s.vehicle, s)).collect();
            }
            Err(e) => warn!(error = %e, "reading saved rule states failed; replaying the tracks instead"),
        }
    }
}

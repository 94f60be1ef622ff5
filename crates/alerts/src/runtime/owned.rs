//! Which cars this runtime evaluates when several rules instances share the cars (roles over a bus).
//!
//! Each instance owns some of the partitions of the committed stream (leases, decided and kept
//! elsewhere) and evaluates only the cars of those. When what it owns changes, it saves the rule state of
//! the cars it lost (their new owner restores it) and forgets them, and looks again for quiet cars it now
//! owns, so the time-based rules cover a dead instance's cars too. A case is keyed on (vehicle, rule,
//! start), so two instances briefly evaluating one car (a lease taken over while its old owner still ran)
//! update one case, never open two.

use std::sync::Arc;

use tianshu_model::VehicleId;
use tracing::info;

use super::evaluator::Evaluator;

/// The cars an instance owns now.
pub trait Ownership: Send + Sync {
    /// Whether `vehicle`'s points are this instance's to evaluate.
    fn owns(&self, vehicle: VehicleId) -> bool;
    /// A number that changes whenever what is owned changes.
    fn generation(&self) -> u64;
}

/// The owned cars as the evaluator sees them: everything without an [`Ownership`].
#[derive(Clone, Default)]
pub(super) struct Owned {
    ownership: Option<Arc<dyn Ownership>>,
    /// The generation the evaluator last acted on.
    seen: u64,
}

impl Owned {
    pub(super) fn new(ownership: Option<Arc<dyn Ownership>>) -> Self {
        let seen = ownership.as_ref().map_or(0, |o| o.generation());
        Owned { ownership, seen }
    }

    /// Whether `vehicle` is evaluated here.
    pub(super) fn owns(&self, vehicle: VehicleId) -> bool {
        self.ownership.as_ref().is_none_or(|o| o.owns(vehicle))
    }

    /// Whether what is owned changed since the last call.
    fn changed(&mut self) -> bool {
        let now = self.ownership.as_ref().map_or(0, |o| o.generation());
        std::mem::replace(&mut self.seen, now) != now
    }
}

impl Evaluator {
    /// When what this instance owns changed: the lost cars' states saved and forgotten, the saved
    /// states read again (the gained cars' earlier owner saved theirs), the quiet cars looked for again.
    pub(super) async fn follow_ownership(&mut self) {
        if !self.owned.changed() {
            return;
        }
        self.save_states().await;
        let owned = self.owned.clone();
        let before = self.cars.len();
        self.cars.retain(|v, _| owned.owns(*v));
        self.silences.retain(|v, _| owned.owns(*v));
        self.silence_recheck.retain(|v, _| owned.owns(*v));
        self.quiet_todo = None;
        // The states the cars' earlier owners saved, for the cars gained.
        self.load_saved().await;
        info!(
            forgotten = before - self.cars.len(),
            kept = self.cars.len(),
            "the cars this rules instance owns changed"
        );
    }
}

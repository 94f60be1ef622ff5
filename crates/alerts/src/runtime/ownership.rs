//! Which cars an instance owns when several rules instances share the cars: the [`Ownership`] a bus
//! provides and the evaluator's view of it, [`Owned`]. What the evaluator does when it changes is in
//! `owned.rs`.

use std::sync::Arc;

use tianshu_model::VehicleId;

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
    pub(super) fn changed(&mut self) -> bool {
        let now = self.ownership.as_ref().map_or(0, |o| o.generation());
        std::mem::replace(&mut self.seen, now) != now
    }
}

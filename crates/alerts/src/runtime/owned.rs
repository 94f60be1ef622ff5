//! Which cars this runtime evaluates when several rules instances share the cars (roles over a bus).
//!
//! Each instance owns some of the partitions of the committed stream (leases, decided and kept
//! elsewhere) and evaluates only the cars of those. When what it owns changes, it saves the rule state of
//! the cars it lost (their new owner restores it) and forgets them, and looks again for quiet cars it now
//! owns, so the time-based rules cover a dead instance's cars too. A case is keyed on (vehicle, rule,
//! start), so two instances briefly evaluating one car (a lease taken over while its old owner still ran)
//! update one case, never open two.

use tracing::info;

use super::evaluator::Evaluator;

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

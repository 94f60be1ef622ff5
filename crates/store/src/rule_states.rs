//! The alert rules' saved per-vehicle state, written once over [`crate::sql::Tx`].
//!
//! The store keeps each state as the opaque text the rules wrote (their snapshot carries its own format
//! version and configuration fingerprint) with the cursor it covers: the latest receive time of the
//! points that built it. A restart reads the states back and feeds only the points received after each
//! cursor ([`crate::Backend::track_received_after`]). A state is a cache of what replaying the track
//! would rebuild: losing one costs a replay, never a case.

use tianshu_model::{Timestamp, VehicleId};

use crate::db::Db;
use crate::sql::{Row, Tx, params, tx};
use crate::{Result, Store};

/// One vehicle's saved rule state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRuleState {
    /// The vehicle.
    pub vehicle: VehicleId,
    /// The rules' snapshot, as they wrote it.
    pub state: String,
    /// The latest receive time of the points the state covers.
    pub received_up_to: Timestamp,
    /// When it was saved.
    pub saved_at: Timestamp,
}

fn to_state(r: &Row) -> Result<SavedRuleState> {
    Ok(SavedRuleState {
        vehicle: VehicleId(r.int(0)?),
        state: r.text(1)?,
        received_up_to: Timestamp(r.int(2)?),
        saved_at: Timestamp(r.int(3)?),
    })
}

async fn save(tx: &mut dyn Tx, states: &[SavedRuleState]) -> Result<()> {
    for s in states {
        tx.execute(
            "INSERT INTO rule_states (vehicle_id, state, received_up_to, saved_ms) \
             SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS BIGINT) WHERE EXISTS (SELECT 1 FROM vehicles WHERE id = $1) \
             ON CONFLICT (vehicle_id) DO UPDATE SET state = excluded.state, \
             received_up_to = excluded.received_up_to, saved_ms = excluded.saved_ms",
            params![s.vehicle.0, &s.state, s.received_up_to, s.saved_at],
        )
        .await?;
    }
    Ok(())
}

/// The saved rule states in a store; reached through [`Store::rule_states`].
#[derive(Clone, Copy)]
pub struct RuleStates<'a> {
    db: &'a Db,
}

impl RuleStates<'_> {
    /// Saves `states` in one transaction, each replacing the vehicle's previous one. A state of a
    /// vehicle no longer registered is skipped.
    pub async fn save(&self, states: Vec<SavedRuleState>) -> Result<()> {
        self.db.write(tx!(|tx| save(tx, &states))).await
    }

    /// Every saved state, by vehicle.
    pub async fn load(&self) -> Result<Vec<SavedRuleState>> {
        self.db
            .rows(
                "SELECT vehicle_id, state, received_up_to, saved_ms FROM rule_states ORDER BY vehicle_id"
                    .into(),
                Vec::new(),
                to_state,
            )
            .await
    }

    /// Forgets every saved state (a restart then replays the tracks); how many there were.
    pub async fn clear(&self) -> Result<u64> {
        self.db.execute("DELETE FROM rule_states", Vec::new()).await
    }
}

impl Store {
    /// The alert rules' saved states in this store.
    pub fn rule_states(&self) -> RuleStates<'_> {
        RuleStates { db: self.db() }
    }
}

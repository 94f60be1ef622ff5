//! The reference stamp: a number every write of reference data (registry, calendars, geofences, orders,
//! working hours) moves, so the rules runtime sees that its reference data changed and reloads it.
//!
//! A write takes the stamp past `now` and past every earlier write's. The update locks the one stamp row
//! until the transaction ends (the embedded store has one writer anyway), so stamps are handed out in
//! commit order: a reader that has seen stamp S has seen every write stamped S or lower. Orders take the
//! stamp as their `updated_ms`, so `orders_updated_after(S)` misses no order written after a reader saw
//! S, even within the same millisecond.

use tianshu_model::Timestamp;

use crate::Result;
use crate::sql::{Tx, params};

/// Moves the stamp inside `tx` (the write's transaction) and returns the new value.
pub(crate) async fn next_stamp(tx: &mut dyn Tx, now: Timestamp) -> Result<i64> {
    let row = tx
        .opt(
            "UPDATE rules_reference_changes \
             SET stamp_ms = CASE WHEN stamp_ms + 1 > $1 THEN stamp_ms + 1 ELSE $1 END \
             WHERE id = 1 RETURNING stamp_ms",
            params![now],
        )
        .await?;
    match row {
        Some(r) => r.int(0),
        None => Err(crate::Error::Corrupt("the reference stamp row is missing".into())),
    }
}

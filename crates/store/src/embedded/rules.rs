//! The reference stamp as the embedded registry writes still take it, on a rusqlite transaction; the
//! reference data itself is written once over the seam (`crate::reference`), with
//! `crate::stamp::next_stamp`. This goes when the registry moves onto the seam too.

use tianshu_model::Timestamp;

use super::db_error;
use crate::Result;

/// Moves the reference stamp past `now` and past every earlier write's (see `crate::stamp`).
pub(super) fn next_stamp(tx: &rusqlite::Transaction<'_>, now: Timestamp) -> Result<i64> {
    tx.query_row(
        "UPDATE rules_reference_changes SET stamp_ms = MAX(stamp_ms + 1, ?1) WHERE id = 1 RETURNING stamp_ms",
        [now.0],
        |r| r.get(0),
    )
    .map_err(db_error)
}

//! The reference stamp as the PostgreSQL registry writes still take it, on a deadpool transaction; the
//! reference data itself is written once over the seam (`crate::reference`), with
//! `crate::stamp::next_stamp`. This goes when the registry moves onto the seam too.

use tianshu_model::Timestamp;

use crate::{Error, Result};

/// Moves the reference stamp past `now` and past every earlier write's, locking its row until the
/// transaction ends (see `crate::stamp`).
pub(super) async fn next_stamp(tx: &deadpool_postgres::Transaction<'_>, now: Timestamp) -> Result<i64> {
    let row = tx
        .query_one(
            "UPDATE rules_reference_changes SET stamp_ms = GREATEST(stamp_ms + 1, $1) WHERE id = 1 \
             RETURNING stamp_ms",
            &[&now.0],
        )
        .await
        .map_err(|e| Error::Unavailable(format!("postgres: {e}")))?;
    Ok(row.get(0))
}

//! The durable forwarding position of each upper platform (JT/T 809), written once over
//! [`crate::sql::Tx`]: the latest receive time of the points sent to it. A link that comes back (or a
//! restart) sends the points received after it, read with [`crate::Backend::track_received_after`].

use tianshu_model::Timestamp;

use crate::db::Db;
use crate::sql::{Tx, params, tx};
use crate::{Result, Store};

/// Upserts how far upper platform `upper` has been sent something, in `table`'s `column` (keyed by
/// `upper`, with `saved_ms`): the positions of points here, of alarm cases in [`crate::jt809_alarms`].
pub(crate) async fn save_position(
    tx: &mut dyn Tx,
    table: &'static str,
    column: &'static str,
    upper: &str,
    up_to: i64,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO {table} (upper, {column}, saved_ms) \
             VALUES (CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS BIGINT)) \
             ON CONFLICT (upper) DO UPDATE SET {column} = excluded.{column}, saved_ms = excluded.saved_ms"
        ),
        params![upper, up_to, now],
    )
    .await?;
    Ok(())
}

/// The forwarding positions in a store; reached through [`Store::forwarding`].
#[derive(Clone, Copy)]
pub struct Forwarding<'a> {
    db: &'a Db,
}

impl Forwarding<'_> {
    /// The latest receive time of the points sent to `upper`; `None` before its first.
    pub async fn position(&self, upper: &str) -> Result<Option<Timestamp>> {
        let rows = self
            .db
            .rows(
                "SELECT received_up_to FROM jt809_forwarding WHERE upper = $1".into(),
                params![upper].to_vec(),
                |r| Ok(Timestamp(r.int(0)?)),
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    /// Records that every point received up to `received_up_to` has been sent to `upper`.
    pub async fn save(&self, upper: &str, received_up_to: Timestamp, now: Timestamp) -> Result<()> {
        let upper = upper.to_string();
        self.db
            .write(tx!(|tx| save_position(
                tx,
                "jt809_forwarding",
                "received_up_to",
                &upper,
                received_up_to.0,
                now
            )))
            .await
    }
}

impl Store {
    /// The upper platforms' forwarding positions in this store.
    pub fn forwarding(&self) -> Forwarding<'_> {
        Forwarding { db: self.db() }
    }
}

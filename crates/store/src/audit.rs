//! The audit record of a change, appended to the hash chain inside the change's own transaction.
//!
//! Apart from the rest of [`crate::access`] so that the transaction plumbing ([`crate::db`]) can attach a
//! record to a change without depending on the users and sessions that need it.

use tianshu_model::Timestamp;
use tianshu_model::access::{AuditEntry, AuditRecord, GENESIS_HASH};

use crate::Result;
use crate::sql::{Tx, params};

pub(crate) const AUDIT_COLS: &str =
    "seq, time_ms, actor, role, action, vehicle_id, from_ms, to_ms, remote, rows, detail, prev_hash, hash";

/// The advisory-lock key that serialises audit-chain appends on PostgreSQL ("tsaudit" in ASCII), so
/// concurrent API instances chain one after another and the chain never forks.
const AUDIT_LOCK_KEY: i64 = 0x0074_7361_7564_6974;

/// Chains and stores one audit entry inside `tx`, serialised against every other writer of the chain.
pub(crate) async fn append_audit(
    tx: &mut dyn Tx,
    time: Timestamp,
    entry: &AuditEntry,
) -> Result<AuditRecord> {
    tx.lock(AUDIT_LOCK_KEY).await?;
    let last = tx
        .opt(
            "SELECT seq, hash FROM access_audit ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    let (seq, prev_hash) = match last {
        Some(r) => (r.int(0)? + 1, r.text(1)?),
        None => (1, GENESIS_HASH.to_string()),
    };
    let hash = AuditRecord::compute_hash(seq, time, entry, &prev_hash);
    tx.execute(
        &format!(
            "INSERT INTO access_audit ({AUDIT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
        ),
        params![
            seq,
            time,
            &entry.actor,
            &entry.role,
            &entry.action,
            entry.vehicle.map(|v| v.0),
            entry.from,
            entry.to,
            &entry.remote,
            i64::try_from(entry.rows).unwrap_or(i64::MAX),
            &entry.detail,
            &prev_hash,
            &hash,
        ],
    )
    .await?;
    Ok(AuditRecord {
        seq,
        time,
        entry: entry.clone(),
        prev_hash,
        hash,
    })
}

/// The audit record of a change, written in the change's own transaction: if either fails, neither is
/// stored, so no change escapes the log and no record describes a change that did not happen.
///
/// `entry` is what the caller knows before the change (who, from where, which action); `describe`
/// completes it from the change's result (the id a create assigned, the vehicle it touched). A write
/// that returns a [`crate::Change`] is audited when given `Some` through [`crate::Change::audited`]; the
/// command line's imports are not audited.
pub struct Audit<R> {
    /// When the change is made.
    pub time: Timestamp,
    /// The record as known before the change.
    pub entry: AuditEntry,
    /// Completes the record from the change's result.
    pub describe: fn(&R, &mut AuditEntry),
}

impl<R> Audit<R> {
    /// Appends the record of `result` inside `tx` (the change's transaction).
    pub(crate) async fn append(self, tx: &mut dyn Tx, result: &R) -> Result<AuditRecord> {
        let mut entry = self.entry;
        (self.describe)(result, &mut entry);
        append_audit(tx, self.time, &entry).await
    }
}

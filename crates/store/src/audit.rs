//! The audit record of a change, appended to the chain inside the change's own transaction.
//!
//! Apart from the rest of [`crate::access`] so that the transaction plumbing ([`crate::db`]) can attach a
//! record to a change without depending on the users and sessions that need it. Records are keyed when
//! the store holds the audit key ([`crate::Store::with_audit_key`]); which scheme the next record takes
//! is the model's ([`next_scheme`]).

use tianshu_model::Timestamp;
use tianshu_model::access::{AuditEntry, AuditKey, AuditRecord, ChainScheme, GENESIS_HASH, next_scheme};

use crate::sql::{Tx, params};
use crate::{Error, Result};

pub(crate) const AUDIT_COLS: &str = "seq, time_ms, actor, role, action, vehicle_id, from_ms, to_ms, remote, rows, detail, prev_hash, hash, scheme";

/// The advisory-lock key that serialises audit-chain appends on PostgreSQL ("tsaudit" in ASCII), so
/// concurrent API instances chain one after another and the chain never forks.
const AUDIT_LOCK_KEY: i64 = 0x0074_7361_7564_6974;

/// The newest record's (sequence number, hash, scheme), if any.
pub(crate) async fn head(tx: &mut dyn Tx) -> Result<Option<(i64, String, ChainScheme)>> {
    let sql = "SELECT seq, hash, scheme FROM access_audit ORDER BY seq DESC LIMIT 1";
    match tx.opt(sql, &[]).await? {
        None => Ok(None),
        Some(r) => Ok(Some((r.int(0)?, r.text(1)?, scheme(&r.text(2)?)?))),
    }
}

pub(crate) fn scheme(s: &str) -> Result<ChainScheme> {
    ChainScheme::parse(s).ok_or_else(|| Error::Corrupt(format!("audit scheme {s:?}")))
}

/// Chains and stores one audit entry inside `tx`, serialised against every other writer of the chain;
/// keyed with `key`. Without a key, a keyed chain is [`Error::Conflict`]: it never goes back.
pub(crate) async fn append_audit(
    tx: &mut dyn Tx,
    key: Option<&AuditKey>,
    time: Timestamp,
    entry: &AuditEntry,
) -> Result<AuditRecord> {
    tx.lock(AUDIT_LOCK_KEY).await?;
    let last = head(tx).await?;
    next_scheme(last.as_ref().map(|h| h.2), key.is_some()).map_err(Error::Conflict)?;
    let (seq, prev) = last.map_or((1, GENESIS_HASH.to_string()), |(seq, hash, _)| (seq + 1, hash));
    let r = AuditRecord::chained(seq, time, entry.clone(), prev, key);
    let e = &r.entry;
    tx.execute(
        &format!(
            "INSERT INTO access_audit ({AUDIT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
        ),
        params![
            seq,
            time,
            &e.actor,
            &e.role,
            &e.action,
            e.vehicle.map(|v| v.0),
            e.from,
            e.to,
            &e.remote,
            i64::try_from(e.rows).unwrap_or(i64::MAX),
            &e.detail,
            &r.prev_hash,
            &r.hash,
            r.scheme.as_str(),
        ],
    )
    .await?;
    Ok(r)
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
    /// Appends the record of `result` inside `tx` (the change's transaction), keyed with `key`.
    pub(crate) async fn append(
        self,
        tx: &mut dyn Tx,
        key: Option<&AuditKey>,
        result: &R,
    ) -> Result<AuditRecord> {
        let mut entry = self.entry;
        (self.describe)(result, &mut entry);
        append_audit(tx, key, self.time, &entry).await
    }
}

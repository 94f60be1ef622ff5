//! Appending to the audit chain inside a transaction: a change's own ([`crate::db`] commits an
//! [`tianshu_model::audit::Audit`] with its change) or one of its own.
//!
//! Apart from the rest of [`crate::access`] so that the transaction plumbing can attach a record to a
//! change without depending on the users and sessions that need it. Records are keyed when
//! the store holds the audit key ([`crate::Store::with_audit_key`]); which scheme the next record takes
//! is the model's ([`next_scheme`]).

use tianshu_model::Timestamp;
use tianshu_model::access::{AuditEntry, AuditKey, AuditRecord, ChainScheme, GENESIS_HASH, next_scheme};

use crate::sql::{Row, Tx, params};
use crate::{Error, Result};

pub(crate) const AUDIT_COLS: &str = "seq, time_ms, actor, role, action, vehicle_id, from_ms, to_ms, remote, rows, detail, prev_hash, hash, scheme";

/// The advisory-lock key that serialises audit-chain appends on PostgreSQL ("tsaudit" in ASCII), so
/// concurrent API instances chain one after another and the chain never forks.
const AUDIT_LOCK_KEY: i64 = 0x0074_7361_7564_6974;

/// The newest record.
const HEAD_SQL: &str = "SELECT seq, hash, scheme FROM access_audit ORDER BY seq DESC LIMIT 1";

/// The newest record's (sequence number, hash, scheme), if any.
pub(crate) async fn head(tx: &mut dyn Tx) -> Result<Option<(i64, String, ChainScheme)>> {
    head_of(tx.opt(HEAD_SQL, &[]).await?)
}

fn head_of(row: Option<Row>) -> Result<Option<(i64, String, ChainScheme)>> {
    match row {
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
    key: Option<AuditKey>,
    time: Timestamp,
    entry: AuditEntry,
) -> Result<AuditRecord> {
    let last = head_of(
        tx.lock_then_query(AUDIT_LOCK_KEY, HEAD_SQL, &[])
            .await?
            .into_iter()
            .next(),
    )?;
    next_scheme(last.as_ref().map(|h| h.2), key.is_some()).map_err(Error::Conflict)?;
    let (seq, prev) = last.map_or((1, GENESIS_HASH.to_string()), |(seq, hash, _)| (seq + 1, hash));
    let r = AuditRecord::chained(seq, time, entry, prev, key.as_ref());
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

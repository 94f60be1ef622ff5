//! The audit log's chain: every record is linked to the one before it, and the chain's head is anchored
//! outside the database.
//!
//! A link is a hash over the previous record's hash and the record's own fields, so editing, deleting or
//! reordering a stored record breaks the chain from that record on. Two schemes ([`ChainScheme`]):
//! `sha256`, the first one, which anyone who can write the database can recompute after an edit; and
//! `hmac-sha256`, keyed with an [`AuditKey`] kept outside the database, which nobody without the key can
//! forge. Each record names its scheme, and once a record is keyed every later one must be
//! ([`next_scheme`], checked again by [`ChainVerifier`]): a keyed record cannot be passed off as an
//! unkeyed one without breaking the chain where the keyed part begins.
//!
//! What a link cannot show is the newest records cut off, or the whole keyed part rewritten from its
//! first record. [`Anchor`]s can: the head (sequence number and hash) written periodically where the
//! database cannot change it. A chain that still holds every anchored head with the anchored hash was
//! neither cut nor rewritten up to the last anchor.

use std::collections::BTreeMap;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Timestamp, VehicleId};

/// The hash a chain starts from (the "previous hash" of the first record).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a record is linked to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ChainScheme {
    /// SHA-256 over the previous hash and the fields: records written before the log was keyed.
    #[default]
    #[serde(rename = "sha256")]
    Sha256,
    /// HMAC-SHA256 with the audit key over the same: cannot be recomputed without the key.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

impl ChainScheme {
    /// The name stored with each record.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChainScheme::Sha256 => "sha256",
            ChainScheme::HmacSha256 => "hmac-sha256",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [ChainScheme::Sha256, ChainScheme::HmacSha256]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// The secret that keys the chain. It never reaches the database; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey(Arc<[u8]>);

impl AuditKey {
    /// The fewest bytes a key may have (`openssl rand -hex 32` gives 64).
    pub const MIN_LEN: usize = 32;

    /// The key whose text is `text` (surrounding white space ignored): its UTF-8 bytes as they are.
    pub fn from_text(text: &str) -> Result<AuditKey, String> {
        let text = text.trim();
        if text.len() < Self::MIN_LEN {
            return Err(format!(
                "the audit key has {} characters; it needs at least {} (e.g. `openssl rand -hex 32`)",
                text.len(),
                Self::MIN_LEN
            ));
        }
        Ok(AuditKey(text.as_bytes().into()))
    }

    fn mac(&self, message: &[&[u8]]) -> String {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        for part in message {
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

/// The scheme of the record after `head` (the newest record's scheme; `None` for an empty chain),
/// written by a process that holds a key (`keyed`) or not: keyed whenever there is a key; unkeyed only
/// while no record is keyed, since a keyed chain never goes back.
pub fn next_scheme(head: Option<ChainScheme>, keyed: bool) -> Result<ChainScheme, String> {
    match (head, keyed) {
        (_, true) => Ok(ChainScheme::HmacSha256),
        (Some(ChainScheme::HmacSha256), false) => Err(
            "the audit log is keyed (hmac-sha256) and this process has no audit key: set \
             TIANSHU__AUDIT__KEY or [audit] key_file"
                .into(),
        ),
        (_, false) => Ok(ChainScheme::Sha256),
    }
}

/// One thing somebody did, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who (username; `-` for anonymous attempts such as a failed login).
    pub actor: String,
    /// Their role at the time (empty when unknown).
    pub role: String,
    /// What: `replay`, `export.geojson`, `login`, `user.create`...
    pub action: String,
    /// Which vehicle, when the action concerns one.
    pub vehicle: Option<VehicleId>,
    /// Start of the time range looked at.
    pub from: Option<Timestamp>,
    /// End of the time range looked at.
    pub to: Option<Timestamp>,
    /// From where: the client's address.
    pub remote: String,
    /// How many rows (points, records) were handed out.
    pub rows: u64,
    /// Anything else worth keeping (format, target username, outcome).
    pub detail: String,
}

/// The audit record of a change, written in the change's own transaction: if either fails, neither is
/// stored, so no change escapes the log and no record describes a change that did not happen.
///
/// `entry` is what the caller knows before the change (who, from where, which action); `describe`
/// completes it from the change's result (the id a create assigned, the vehicle it touched). A store
/// write is audited when given one (`Change::audited`); the command line's imports are not audited.
pub struct Audit<R> {
    /// When the change is made.
    pub time: Timestamp,
    /// The record as known before the change.
    pub entry: AuditEntry,
    /// Completes the record from the change's result.
    pub describe: fn(&R, &mut AuditEntry),
}

impl<R> Audit<R> {
    /// The record of `result`: its time, and `entry` completed by `describe`.
    pub fn complete(self, result: &R) -> (Timestamp, AuditEntry) {
        let mut entry = self.entry;
        (self.describe)(result, &mut entry);
        (self.time, entry)
    }
}

/// A stored, chained audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it was written.
    pub time: Timestamp,
    /// What was done.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// The link (hex) over `prev_hash` and this record's fields, by `scheme`.
    pub hash: String,
    /// How `hash` is computed.
    #[serde(default)]
    pub scheme: ChainScheme,
}

impl AuditRecord {
    /// The record `entry` chained after `prev_hash` as number `seq`: keyed when `key` is given.
    pub fn chained(
        seq: i64,
        time: Timestamp,
        entry: AuditEntry,
        prev_hash: String,
        key: Option<&AuditKey>,
    ) -> AuditRecord {
        let mut r = AuditRecord {
            seq,
            time,
            entry,
            prev_hash,
            hash: String::new(),
            scheme: key.map_or(ChainScheme::Sha256, |_| ChainScheme::HmacSha256),
        };
        r.hash = r.link(key).unwrap_or_default();
        r
    }

    /// The unkeyed (`sha256`) link of a record with these fields after `prev_hash`.
    pub fn compute_hash(seq: i64, time: Timestamp, entry: &AuditEntry, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(Self::fields(seq, time, entry).as_bytes());
        hex::encode(h.finalize())
    }

    /// The hash this record should carry by its own scheme; `None` for a keyed record without a key.
    pub fn link(&self, key: Option<&AuditKey>) -> Option<String> {
        match self.scheme {
            ChainScheme::Sha256 => Some(Self::compute_hash(
                self.seq,
                self.time,
                &self.entry,
                &self.prev_hash,
            )),
            ChainScheme::HmacSha256 => {
                let fields = Self::fields(self.seq, self.time, &self.entry);
                let scheme = self.scheme.as_str().as_bytes();
                key.map(|k| k.mac(&[scheme, b"\n", self.prev_hash.as_bytes(), b"\n", fields.as_bytes()]))
            }
        }
    }

    /// Every field JSON-encoded: no value can imitate a delimiter.
    fn fields(seq: i64, time: Timestamp, entry: &AuditEntry) -> String {
        serde_json::json!([
            seq,
            time.millis(),
            entry.actor,
            entry.role,
            entry.action,
            entry.vehicle.map(|v| v.0),
            entry.from.map(Timestamp::millis),
            entry.to.map(Timestamp::millis),
            entry.remote,
            entry.rows,
            entry.detail,
        ])
        .to_string()
    }
}

/// A chain head written where the database cannot change it (one JSON object per line of the anchor
/// file, and a log line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// When the head was read.
    pub anchored: Timestamp,
    /// The newest record's sequence number then.
    pub seq: i64,
    /// Its hash then.
    pub hash: String,
}

impl Anchor {
    /// The anchor as one line of the anchor file, newline included.
    pub fn line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// The anchors of an anchor file's text. A last line without its newline is a write cut short by a
/// crash and is skipped; any other line that is not an anchor is an error naming it.
pub fn parse_anchors(text: &str) -> Result<Vec<Anchor>, String> {
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    let mut anchors = Vec::new();
    for (i, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let a: Anchor = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        anchors.push(a);
    }
    Ok(anchors)
}

/// Where and why an audit chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    /// The sequence number of the first record that does not fit.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
    /// Not a break found but one that cannot be ruled out: the record is keyed and no key was given.
    #[serde(default)]
    pub missing_key: bool,
}

impl ChainBreak {
    fn at(seq: i64, reason: impl Into<String>) -> ChainBreak {
        ChainBreak {
            seq,
            reason: reason.into(),
            missing_key: false,
        }
    }
}

/// What a verified chain holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChainSummary {
    /// Records checked.
    pub records: u64,
    /// The first keyed record, when there is one (every later one is keyed too).
    pub keyed_from: Option<i64>,
    /// Anchors checked (each found in the chain with its anchored hash).
    pub anchors: u64,
}

/// Checks records one by one, in `seq` order, as they are read (a chain may not fit in memory), then
/// the anchors not met ([`ChainVerifier::finish`]).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    /// The hash the next record must link to.
    prev_hash: String,
    /// The sequence number the next record must carry.
    next_seq: i64,
    /// The key keyed records are checked with.
    key: Option<AuditKey>,
    /// What has been found so far.
    summary: ChainSummary,
    /// Anchored heads by sequence number, removed as they are met.
    anchors: BTreeMap<i64, Vec<Anchor>>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new(None)
    }
}

impl ChainVerifier {
    /// A verifier of a whole chain that checks keyed records with `key`.
    pub fn new(key: Option<AuditKey>) -> Self {
        ChainVerifier {
            prev_hash: GENESIS_HASH.to_string(),
            next_seq: 1,
            key,
            summary: ChainSummary::default(),
            anchors: BTreeMap::new(),
        }
    }

    /// Also checks that every anchored head is in the chain with its anchored hash.
    pub fn with_anchors(mut self, anchors: impl IntoIterator<Item = Anchor>) -> Self {
        for a in anchors {
            self.anchors.entry(a.seq).or_default().push(a);
        }
        self
    }

    /// Checks the next record.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        if r.seq != self.next_seq {
            return Err(ChainBreak::at(
                r.seq,
                format!(
                    "expected record {} here: records missing or reordered",
                    self.next_seq
                ),
            ));
        }
        if r.prev_hash != self.prev_hash {
            return Err(ChainBreak::at(r.seq, "previous-hash link does not match"));
        }
        match (r.scheme, self.summary.keyed_from) {
            (ChainScheme::HmacSha256, None) => self.summary.keyed_from = Some(r.seq),
            (ChainScheme::Sha256, Some(first)) => {
                return Err(ChainBreak::at(
                    r.seq,
                    format!("unkeyed (sha256) after keyed records from {first} on: downgraded"),
                ));
            }
            _ => {}
        }
        match r.link(self.key.as_ref()) {
            Some(h) if h == r.hash => {}
            Some(_) if r.scheme == ChainScheme::HmacSha256 => {
                return Err(ChainBreak::at(
                    r.seq,
                    "content does not match its keyed hash (edited, or another key)",
                ));
            }
            Some(_) => return Err(ChainBreak::at(r.seq, "content does not match its hash")),
            None => {
                return Err(ChainBreak {
                    missing_key: true,
                    ..ChainBreak::at(
                        r.seq,
                        "keyed (hmac-sha256) and no audit key was given to check it: set \
                         TIANSHU__AUDIT__KEY or TIANSHU__AUDIT__KEY_FILE",
                    )
                });
            }
        }
        for a in self.anchors.remove(&r.seq).unwrap_or_default() {
            if a.hash != r.hash {
                return Err(ChainBreak::at(
                    r.seq,
                    format!(
                        "anchored at {} with hash {}, now {}: the chain was rewritten up to here",
                        a.anchored, a.hash, r.hash
                    ),
                ));
            }
            self.summary.anchors += 1;
        }
        self.prev_hash.clone_from(&r.hash);
        self.next_seq += 1;
        self.summary.records += 1;
        Ok(())
    }

    /// How many records have been checked.
    pub fn checked(&self) -> u64 {
        self.summary.records
    }

    /// Ends the walk: an anchored head the chain no longer reaches means records were cut off.
    pub fn finish(self) -> Result<ChainSummary, ChainBreak> {
        match self.anchors.into_iter().find(|(seq, _)| *seq >= 1) {
            Some((seq, anchors)) => Err(ChainBreak::at(
                seq,
                format!(
                    "anchored at {} but missing: the chain ends at record {}, cut short",
                    anchors[0].anchored,
                    self.next_seq - 1
                ),
            )),
            None => Ok(self.summary),
        }
    }
}

/// Checks a chain read in `seq` order, unkeyed records only and no anchors; `Ok(n)` is the number of
/// records checked.
pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::default();
    for r in records {
        v.push(r)?;
    }
    Ok(v.finish()?.records)
}

#[cfg(test)]
mod tests;

//! Who may look, and the record of every look: roles, users, sessions and the audit records' hash
//! chain.
//!
//! Audit records form a hash chain: each record's `hash` is SHA-256 over the previous record's hash
//! and the record's own fields, so editing, deleting or reordering a stored record breaks the chain
//! from that record on, and [`verify_chain`] names the first record that no longer fits. Storing them
//! is the store's (`tianshu_store::access`); everything here is plain data and pure functions.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Timestamp, UnitId, VehicleId};

/// The hash a chain starts from (the "previous hash" of the first record).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a person may do; scope (which vehicles) follows from the role and the user's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, units, vehicles, terminals, geofences and calendars; sees everything.
    Administrator,
    /// Watches the live map of every vehicle and handles orders.
    Dispatcher,
    /// Discipline inspection: replays and reports of any vehicle, read-only, every look audited.
    Inspector,
    /// A unit's supervisor: only the vehicles of their unit and its sub-units, and their alert cases.
    Supervisor,
}

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 4] = [
        Role::Administrator,
        Role::Dispatcher,
        Role::Inspector,
        Role::Supervisor,
    ];

    /// The snake_case name used in the CLI, the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Dispatcher => "dispatcher",
            Role::Inspector => "inspector",
            Role::Supervisor => "supervisor",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected administrator, dispatcher, inspector or supervisor")]
pub struct ParseRoleError(pub String);

impl std::str::FromStr for Role {
    type Err = ParseRoleError;
    fn from_str(s: &str) -> Result<Self, ParseRoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| ParseRoleError(s.to_string()))
    }
}

/// A person who may log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Registry id.
    pub id: i64,
    /// Login name, unique.
    pub username: String,
    /// What they may do.
    pub role: Role,
    /// Their unit: required for supervisors (it bounds what they see), informative for the others.
    pub unit: Option<UnitId>,
    /// The argon2 PHC string; never the password, never sent to a client.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// When the user was created.
    pub created: Timestamp,
    /// A disabled user cannot log in and has no sessions.
    #[serde(default)]
    pub disabled: bool,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name, unique.
    pub username: String,
    /// What they may do.
    pub role: Role,
    /// Their unit (required for supervisors).
    pub unit: Option<UnitId>,
    /// The argon2 PHC string of their password.
    pub password_hash: String,
}

/// A login session to store. The token itself never reaches the store, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Hex SHA-256 of the session token ([`session_token_hash`]).
    pub token_hash: String,
    /// Whose session.
    pub user_id: i64,
    /// When it was created.
    pub created: Timestamp,
    /// When it ends unless used again.
    pub expires: Timestamp,
    /// Where the login came from.
    pub remote: String,
}

/// A live session with its user as stored now (role and unit changes apply to open sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The user.
    pub user: User,
    /// When the session ends unless used again.
    pub expires: Timestamp,
}

/// The hash under which a session token is stored: hex SHA-256 of the token's text.
pub fn session_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
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
    /// SHA-256 (hex) over `prev_hash` and this record's fields.
    pub hash: String,
}

impl AuditRecord {
    /// The hash this record should carry given the previous record's hash.
    pub fn compute_hash(seq: i64, time: Timestamp, entry: &AuditEntry, prev_hash: &str) -> String {
        // Every field JSON-encoded and newline-separated: no value can imitate a delimiter.
        let fields = serde_json::json!([
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
        ]);
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(fields.to_string().as_bytes());
        hex::encode(h.finalize())
    }
}

/// Where and why an audit chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    /// The sequence number of the first record that does not fit.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks records one by one, in `seq` order, as they are read (a chain may not fit in memory).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    /// The hash the next record must link to.
    prev_hash: String,
    /// The sequence number the next record must carry.
    next_seq: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            prev_hash: GENESIS_HASH.to_string(),
            next_seq: 1,
        }
    }
}

impl ChainVerifier {
    /// Checks the next record.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        if r.seq != self.next_seq {
            return Err(ChainBreak {
                seq: r.seq,
                reason: format!(
                    "expected record {} here: records missing or reordered",
                    self.next_seq
                ),
            });
        }
        if r.prev_hash != self.prev_hash {
            return Err(ChainBreak {
                seq: r.seq,
                reason: "previous-hash link does not match".into(),
            });
        }
        if AuditRecord::compute_hash(r.seq, r.time, &r.entry, &r.prev_hash) != r.hash {
            return Err(ChainBreak {
                seq: r.seq,
                reason: "content does not match its hash".into(),
            });
        }
        self.prev_hash.clone_from(&r.hash);
        self.next_seq += 1;
        Ok(())
    }

    /// How many records have been checked.
    pub fn checked(&self) -> u64 {
        (self.next_seq - 1).max(0) as u64
    }
}

/// Checks a chain read in `seq` order; `Ok(n)` is the number of records checked.
pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::default();
    for r in records {
        v.push(r)?;
    }
    Ok(v.checked())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry {
                    actor: "li".into(),
                    action: "replay".into(),
                    rows: seq as u64,
                    ..Default::default()
                };
                let time = Timestamp::from_secs(1_800_000_000 + seq);
                let hash = AuditRecord::compute_hash(seq, time, &entry, &prev);
                let r = AuditRecord {
                    seq,
                    time,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
    }

    #[test]
    fn edited_record_is_named() {
        let mut c = chain(5);
        c[2].entry.rows = 999;
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
    }

    #[test]
    fn deleted_record_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
    }

    #[test]
    fn rehashed_record_breaks_the_next_link() {
        let mut c = chain(5);
        c[1].entry.actor = "mallory".into();
        c[1].hash = AuditRecord::compute_hash(2, c[1].time, &c[1].entry, &c[1].prev_hash);
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
    }
}

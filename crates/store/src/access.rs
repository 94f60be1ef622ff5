//! Who may look, and a record of every look: users, roles and the tamper-evident audit log.
//!
//! The web API authenticates people against [`Access::user_by_name`] and writes one
//! [`AuditEntry`] for every replay, export and administrative change. Audit records form a hash
//! chain: each record's `hash` is SHA-256 over the previous record's hash and the record's own
//! fields, so editing, deleting or reordering a stored record breaks the chain from that record on,
//! and [`verify_chain`] names the first record that no longer fits.
//!
//! Schema: migrations 0200-0299 of both backends; written once over [`crate::sql::Tx`]; reached
//! through [`crate::Store::access`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tianshu_model::{Timestamp, UnitId, VehicleId};

use crate::db::{Change, Db};
use crate::sql::{Row, Tx, params, work};
use crate::{Error, Result, Store};

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

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| Error::Invalid {
                line: None,
                reason: format!(
                    "unknown role {s:?}; expected administrator, dispatcher, inspector or supervisor"
                ),
            })
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

const USER_COLS: &str = "id, username, role, unit_id, password_hash, created_ms, disabled";
const AUDIT_COLS: &str =
    "seq, time_ms, actor, role, action, vehicle_id, from_ms, to_ms, remote, rows, detail, prev_hash, hash";

/// The advisory-lock key that serialises audit-chain appends on PostgreSQL ("tsaudit" in ASCII), so
/// concurrent API instances chain one after another and the chain never forks.
const AUDIT_LOCK_KEY: i64 = 0x0074_7361_7564_6974;

fn to_user(r: &Row) -> Result<User> {
    let role = r.text(2)?;
    Ok(User {
        id: r.int(0)?,
        username: r.text(1)?,
        role: role
            .parse()
            .map_err(|_| Error::Corrupt(format!("stored role {role:?}")))?,
        unit: r.opt_int(3)?.map(UnitId),
        password_hash: r.text(4)?,
        created: Timestamp(r.int(5)?),
        disabled: r.bool(6)?,
    })
}

fn to_audit(r: &Row) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.int(0)?,
        time: Timestamp(r.int(1)?),
        entry: AuditEntry {
            actor: r.text(2)?,
            role: r.text(3)?,
            action: r.text(4)?,
            vehicle: r.opt_int(5)?.map(VehicleId),
            from: r.opt_int(6)?.map(Timestamp),
            to: r.opt_int(7)?.map(Timestamp),
            remote: r.text(8)?,
            rows: r.int(9)?.max(0) as u64,
            detail: r.text(10)?,
        },
        prev_hash: r.text(11)?,
        hash: r.text(12)?,
    })
}

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

/// Ends every session of `username` inside `tx`.
async fn end_sessions_of(tx: &mut dyn Tx, username: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM access_sessions WHERE user_id IN (SELECT id FROM access_users WHERE username = $1)",
        params![username],
    )
    .await
    .map(drop)
}

/// Users, login sessions and the audit log of a store; reached through [`Store::access`].
#[derive(Clone, Copy)]
pub struct Access<'a> {
    db: &'a Db,
}

impl<'a> Access<'a> {
    /// Creates a user; a taken username is [`Error::Invalid`].
    pub fn create_user(&self, user: &NewUser) -> Change<'a, User> {
        let user = user.clone();
        Change::new(
            self.db,
            work(move |tx| {
                Box::pin(async move {
                    let created = Timestamp(chrono::Utc::now().timestamp_millis());
                    let row = tx
                        .opt(
                            &format!(
                                "INSERT INTO access_users (username, role, unit_id, password_hash, created_ms) \
                                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING {USER_COLS}"
                            ),
                            params![
                                &user.username,
                                user.role.as_str(),
                                user.unit.map(|u| u.0),
                                &user.password_hash,
                                created
                            ],
                        )
                        .await?;
                    match row {
                        Some(r) => to_user(&r),
                        None => Err(Error::Invalid {
                            line: None,
                            reason: format!("user {:?} already exists", user.username),
                        }),
                    }
                })
            }),
        )
    }

    /// A user by login name.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM access_users WHERE username = $1");
        self.db.row(sql, vec![username.into()], to_user).await
    }

    /// All users, by id.
    pub async fn users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM access_users ORDER BY id");
        self.db.rows(sql, Vec::new(), to_user).await
    }

    /// Deletes a user and every session of theirs; [`Error::NotFound`] when there is none.
    pub fn delete_user(&self, username: &str) -> Change<'a, ()> {
        let username = username.to_string();
        Change::new(
            self.db,
            work(move |tx| {
                Box::pin(async move {
                    end_sessions_of(tx, &username).await?;
                    let n = tx
                        .execute("DELETE FROM access_users WHERE username = $1", params![&username])
                        .await?;
                    match n {
                        0 => Err(Error::NotFound(format!("user {username}"))),
                        _ => Ok(()),
                    }
                })
            }),
        )
    }

    /// Disables (or enables again) a user and returns it; disabling ends every session of theirs.
    /// [`Error::NotFound`] when there is no such user.
    pub fn set_user_disabled(&self, username: &str, disabled: bool) -> Change<'a, User> {
        let username = username.to_string();
        Change::new(
            self.db,
            work(move |tx| {
                Box::pin(async move {
                    let sql = format!(
                        "UPDATE access_users SET disabled = $2 WHERE username = $1 RETURNING {USER_COLS}"
                    );
                    let Some(row) = tx.opt(&sql, params![&username, disabled]).await? else {
                        return Err(Error::NotFound(format!("user {username}")));
                    };
                    if disabled {
                        end_sessions_of(tx, &username).await?;
                    }
                    to_user(&row)
                })
            }),
        )
    }

    /// Stores a new session, dropping expired ones on the way.
    pub async fn create_session(&self, session: &NewSession) -> Result<()> {
        let s = session.clone();
        self.db
            .write(work(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "DELETE FROM access_sessions WHERE expires_ms <= $1",
                        params![s.created],
                    )
                    .await?;
                    tx.execute(
                        "INSERT INTO access_sessions (token_hash, user_id, created_ms, expires_ms, remote) \
                         VALUES ($1, $2, $3, $4, $5)",
                        params![&s.token_hash, s.user_id, s.created, s.expires, &s.remote],
                    )
                    .await
                    .map(drop)
                })
            }))
            .await
    }

    /// The session stored under `token_hash`, if it has not expired at `now` and its user exists and
    /// is not disabled.
    pub async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<SessionUser>> {
        let token_hash = token_hash.to_string();
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let cols = USER_COLS
                        .split(", ")
                        .map(|col| format!("u.{col}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "SELECT {cols}, s.expires_ms FROM access_sessions s JOIN access_users u ON u.id = s.user_id \
                         WHERE s.token_hash = $1 AND s.expires_ms > $2 AND NOT u.disabled"
                    );
                    match tx.opt(&sql, params![token_hash, now]).await? {
                        None => Ok(None),
                        Some(r) => Ok(Some(SessionUser {
                            user: to_user(&r)?,
                            expires: Timestamp(r.int(7)?),
                        })),
                    }
                })
            }))
            .await
    }

    /// Moves a session's expiry forward (it was used); never backward.
    pub async fn touch_session(&self, token_hash: &str, expires: Timestamp) -> Result<()> {
        let token_hash = token_hash.to_string();
        self.db
            .write(work(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "UPDATE access_sessions SET expires_ms = CASE WHEN expires_ms < $2 THEN $2 ELSE expires_ms END \
                         WHERE token_hash = $1",
                        params![token_hash, expires],
                    )
                    .await
                    .map(drop)
                })
            }))
            .await
    }

    /// Ends a session; false when there was none.
    pub async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let token_hash = token_hash.to_string();
        self.db
            .write(work(move |tx| {
                Box::pin(async move {
                    let sql = "DELETE FROM access_sessions WHERE token_hash = $1";
                    Ok(tx.execute(sql, params![token_hash]).await? > 0)
                })
            }))
            .await
    }

    /// Chains and stores one audit entry, serialised against every other writer of the chain.
    pub async fn append_audit(&self, time: Timestamp, entry: &AuditEntry) -> Result<AuditRecord> {
        let entry = entry.clone();
        self.db
            .write(work(move |tx| {
                Box::pin(async move { append_audit(tx, time, &entry).await })
            }))
            .await
    }

    /// Up to `limit` records with `seq > after`, in `seq` order.
    pub async fn audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let sql =
                        format!("SELECT {AUDIT_COLS} FROM access_audit WHERE seq > $1 ORDER BY seq LIMIT $2");
                    tx.query(&sql, params![after, limit])
                        .await?
                        .iter()
                        .map(to_audit)
                        .collect()
                })
            }))
            .await
    }
}

/// Checks the whole stored chain page by page; `Ok(Ok(n))` when intact.
pub async fn verify_stored_chain(store: Access<'_>) -> Result<Result<u64, ChainBreak>> {
    const PAGE: u32 = 10_000;
    let mut v = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit(after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(Ok(v.checked()));
        };
        after = last.seq;
        for r in &page {
            if let Err(b) = v.push(r) {
                return Ok(Err(b));
            }
        }
    }
}

impl Store {
    /// Users, sessions and the audit log of this store.
    pub fn access(&self) -> Access<'_> {
        Access { db: self.db() }
    }
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

#[cfg(test)]
mod embedded_tests {
    use crate::access::{AuditEntry, NewUser, Role, verify_stored_chain};
    use crate::{Error, Store};
    use tianshu_model::{Timestamp, UnitId};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_and_a_chained_audit_log() {
        let dir = std::env::temp_dir().join(format!("tianshu-store-access-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&format!("sqlite:{}", dir.join("t.db").display()))
            .await
            .unwrap();
        let a = store.access();
        let nu = NewUser {
            username: "wang".into(),
            role: Role::Supervisor,
            unit: Some(UnitId(3)),
            password_hash: "x".into(),
        };
        let u = a.create_user(&nu).await.unwrap();
        assert_eq!(u.role, Role::Supervisor);
        assert!(a.create_user(&nu).await.is_err(), "usernames are unique");
        assert_eq!(
            a.user_by_name("wang").await.unwrap().unwrap().unit,
            Some(UnitId(3))
        );
        for i in 0..5 {
            let e = AuditEntry {
                actor: "wang".into(),
                action: "replay".into(),
                rows: i,
                ..Default::default()
            };
            let r = a
                .append_audit(Timestamp::from_secs(1_800_000_000 + i as i64), &e)
                .await
                .unwrap();
            assert_eq!(r.seq, i as i64 + 1);
        }
        assert_eq!(verify_stored_chain(a).await.unwrap(), Ok(5));
        a.delete_user("wang").await.unwrap();
        assert!(matches!(a.delete_user("wang").await, Err(Error::NotFound(_))));
        assert!(a.users().await.unwrap().is_empty());
    }
}

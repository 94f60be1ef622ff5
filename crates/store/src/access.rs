//! Who may look, and a record of every look: users, roles and the tamper-evident audit log.
//!
//! The web API authenticates people against [`Access::user_by_name`] and writes one
//! [`AuditEntry`] for every replay, export and administrative change. Audit records form a chain,
//! keyed when the store holds the audit key (see `tianshu_model::audit`), so editing, deleting or
//! reordering a stored record breaks the chain from that record on, and [`Access::verify`] names the
//! first record that no longer fits, or the anchored head the chain no longer holds.
//!
//! Schema: migrations 0200-0299 of both backends; written once over [`crate::sql::Tx`]; reached
//! through [`crate::Store::access`].

use tianshu_model::{Timestamp, UnitId, VehicleId};

use crate::audit::{AUDIT_COLS, append_audit, head, scheme};
use crate::db::{Change, Db};
use crate::sql::{Row, Tx, params, tx, work};
use crate::{Error, Result, Store};
pub use tianshu_model::access::{
    Anchor, ApiToken, Audit, AuditEntry, AuditKey, AuditRecord, ChainBreak, ChainScheme, ChainSummary,
    ChainVerifier, GENESIS_HASH, NewApiToken, NewSession, NewUser, ParseRoleError, Role, SessionUser, User,
    parse_anchors, session_token_hash, verify_chain,
};

const USER_COLS: &str = "id, username, role, unit_id, password_hash, created_ms, disabled";

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
        scheme: scheme(&r.text(13)?)?,
    })
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

async fn create_user(tx: &mut dyn Tx, user: NewUser) -> Result<User> {
    let created = Timestamp(chrono::Utc::now().timestamp_millis());
    let sql = format!(
        "INSERT INTO access_users (username, role, unit_id, password_hash, created_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING {USER_COLS}"
    );
    let (role, unit) = (user.role.as_str(), user.unit.map(|u| u.0));
    match tx
        .opt(
            &sql,
            params![&user.username, role, unit, &user.password_hash, created],
        )
        .await?
    {
        Some(r) => to_user(&r),
        None => Err(Error::invalid(format!("user {:?} already exists", user.username))),
    }
}

async fn delete_user(tx: &mut dyn Tx, username: String) -> Result<()> {
    end_sessions_of(tx, &username).await?;
    let sql = "DELETE FROM access_tokens WHERE user_id IN (SELECT id FROM access_users WHERE username = $1)";
    tx.execute(sql, params![&username]).await?;
    let sql = "DELETE FROM access_users WHERE username = $1";
    match tx.execute(sql, params![&username]).await? {
        0 => Err(Error::NotFound(format!("user {username}"))),
        _ => Ok(()),
    }
}

async fn set_user_disabled(tx: &mut dyn Tx, username: String, disabled: bool) -> Result<User> {
    let sql = format!("UPDATE access_users SET disabled = $2 WHERE username = $1 RETURNING {USER_COLS}");
    let Some(row) = tx.opt(&sql, params![&username, disabled]).await? else {
        return Err(Error::NotFound(format!("user {username}")));
    };
    if disabled {
        end_sessions_of(tx, &username).await?;
    }
    to_user(&row)
}

async fn create_session(tx: &mut dyn Tx, s: NewSession) -> Result<()> {
    let sql = "DELETE FROM access_sessions WHERE expires_ms <= $1";
    tx.execute(sql, params![s.created]).await?;
    let sql = "INSERT INTO access_sessions (token_hash, user_id, created_ms, expires_ms, remote) \
               VALUES ($1, $2, $3, $4, $5)";
    let params = params![&s.token_hash, s.user_id, s.created, s.expires, &s.remote];
    tx.execute(sql, params).await.map(drop)
}

async fn session(tx: &mut dyn Tx, token_hash: String, now: Timestamp) -> Result<Option<SessionUser>> {
    let cols: Vec<String> = USER_COLS.split(", ").map(|col| format!("u.{col}")).collect();
    let sql = format!(
        "SELECT {}, s.expires_ms FROM access_sessions s JOIN access_users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_ms > $2 AND NOT u.disabled",
        cols.join(", ")
    );
    match tx.opt(&sql, params![token_hash, now]).await? {
        None => Ok(None),
        Some(r) => Ok(Some(SessionUser {
            user: to_user(&r)?,
            expires: Timestamp(r.int(7)?),
        })),
    }
}

const TOKEN_COLS: &str = "id, user_id, name, created_ms, revoked_ms";

fn to_token(r: &Row) -> Result<ApiToken> {
    Ok(ApiToken {
        id: r.int(0)?,
        user_id: r.int(1)?,
        name: r.text(2)?,
        created: Timestamp(r.int(3)?),
        revoked: r.opt_int(4)?.map(Timestamp),
    })
}

async fn create_token(tx: &mut dyn Tx, t: NewApiToken) -> Result<ApiToken> {
    let sql = format!(
        "INSERT INTO access_tokens (token_hash, user_id, name, created_ms) VALUES ($1, $2, $3, $4) \
         RETURNING {TOKEN_COLS}"
    );
    let row = tx
        .opt(&sql, params![&t.token_hash, t.user_id, &t.name, t.created])
        .await?;
    row.as_ref()
        .map(to_token)
        .unwrap_or_else(|| Err(Error::Corrupt("a created token was not returned".into())))
}

async fn revoke_token(tx: &mut dyn Tx, user_id: i64, id: i64, now: Timestamp) -> Result<ApiToken> {
    let sql = format!(
        "UPDATE access_tokens SET revoked_ms = $3 WHERE id = $1 AND user_id = $2 AND revoked_ms IS NULL \
         RETURNING {TOKEN_COLS}"
    );
    match tx.opt(&sql, params![id, user_id, now]).await? {
        Some(r) => to_token(&r),
        None => Err(Error::NotFound(format!("token {id}"))),
    }
}

async fn token_user(tx: &mut dyn Tx, token_hash: String) -> Result<Option<(i64, User)>> {
    let cols: Vec<String> = USER_COLS.split(", ").map(|col| format!("u.{col}")).collect();
    let sql = format!(
        "SELECT {}, t.id FROM access_tokens t JOIN access_users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_ms IS NULL AND NOT u.disabled",
        cols.join(", ")
    );
    match tx.opt(&sql, params![token_hash]).await? {
        None => Ok(None),
        Some(r) => Ok(Some((r.int(7)?, to_user(&r)?))),
    }
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
        Change::new(self.db, tx!(|tx| create_user(tx, user)))
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
        Change::new(self.db, tx!(|tx| delete_user(tx, username)))
    }

    /// Disables (or enables again) a user and returns it; disabling ends every session of theirs.
    /// [`Error::NotFound`] when there is no such user.
    pub fn set_user_disabled(&self, username: &str, disabled: bool) -> Change<'a, User> {
        let username = username.to_string();
        Change::new(self.db, tx!(|tx| set_user_disabled(tx, username, disabled)))
    }

    /// Stores a new session, dropping expired ones on the way.
    pub async fn create_session(&self, session: &NewSession) -> Result<()> {
        let s = session.clone();
        self.db.write(tx!(|tx| create_session(tx, s))).await
    }

    /// The session stored under `token_hash`, if it has not expired at `now` and its user exists and
    /// is not disabled.
    pub async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<SessionUser>> {
        let token_hash = token_hash.to_string();
        self.db.read(tx!(|tx| session(tx, token_hash, now))).await
    }

    /// Moves a session's expiry forward (it was used); never backward.
    pub async fn touch_session(&self, token_hash: &str, expires: Timestamp) -> Result<()> {
        let sql = "UPDATE access_sessions SET expires_ms = CASE WHEN expires_ms < $2 THEN $2 ELSE expires_ms END \
                   WHERE token_hash = $1";
        self.db
            .execute(sql, vec![token_hash.into(), expires.into()])
            .await
            .map(drop)
    }

    /// Ends a session; false when there was none.
    pub async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let sql = "DELETE FROM access_sessions WHERE token_hash = $1";
        Ok(self.db.execute(sql, vec![token_hash.into()]).await? > 0)
    }

    /// Stores a new personal API token of a user.
    pub fn create_token(&self, token: &NewApiToken) -> Change<'a, ApiToken> {
        let t = token.clone();
        Change::new(self.db, work(move |tx| Box::pin(create_token(tx, t))))
    }

    /// Revokes `user_id`'s live token `id` at `now`; [`Error::NotFound`] when they have no such live
    /// token (another user's token is not theirs to revoke).
    pub fn revoke_token(&self, user_id: i64, id: i64, now: Timestamp) -> Change<'a, ApiToken> {
        Change::new(
            self.db,
            work(move |tx| Box::pin(revoke_token(tx, user_id, id, now))),
        )
    }

    /// A user's tokens, live and revoked, by id.
    pub async fn tokens_of(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLS} FROM access_tokens WHERE user_id = $1 ORDER BY id");
        self.db.rows(sql, vec![user_id.into()], to_token).await
    }

    /// The live token stored under `token_hash` (its id) and its user, as stored now, unless the user
    /// is disabled.
    pub async fn token_user(&self, token_hash: &str) -> Result<Option<(i64, User)>> {
        let token_hash = token_hash.to_string();
        self.db
            .read(work(move |tx| Box::pin(token_user(tx, token_hash))))
            .await
    }

    /// Chains and stores one audit entry, serialised against every other writer of the chain.
    pub async fn append_audit(&self, time: Timestamp, entry: &AuditEntry) -> Result<AuditRecord> {
        let (entry, key) = (entry.clone(), self.db.1.clone());
        self.db.write(tx!(|tx| append_audit(tx, key, time, entry))).await
    }

    /// The newest record's (sequence number, hash, scheme): what an anchor records.
    pub async fn audit_head(&self) -> Result<Option<(i64, String, ChainScheme)>> {
        self.db.read(work(|tx| Box::pin(head(tx)))).await
    }

    /// Up to `limit` records with `seq > after`, in `seq` order.
    pub async fn audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        let sql = format!("SELECT {AUDIT_COLS} FROM access_audit WHERE seq > $1 ORDER BY seq LIMIT $2");
        self.db
            .rows(sql, vec![after.into(), limit.into()], to_audit)
            .await
    }

    /// The newest `limit` records, oldest first (what a reader of the log looks at first).
    pub async fn audit_newest(&self, limit: u32) -> Result<Vec<AuditRecord>> {
        let sql = format!("SELECT {AUDIT_COLS} FROM access_audit ORDER BY seq DESC LIMIT $1");
        let mut rows = self.db.rows(sql, vec![limit.into()], to_audit).await?;
        rows.reverse();
        Ok(rows)
    }

    /// Walks the whole stored chain page by page through `v` (its key, its anchors).
    pub async fn verify(&self, mut v: ChainVerifier) -> Result<Result<ChainSummary, ChainBreak>> {
        const PAGE: u32 = 10_000;
        let mut after = 0;
        loop {
            let page = self.audit(after, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(v.finish());
            };
            after = last.seq;
            if let Some(b) = page.iter().find_map(|r| v.push(r).err()) {
                return Ok(Err(b));
            }
        }
    }
}

/// Checks the whole stored chain with the store's own key and no anchors; `Ok(Ok(n))` when intact.
pub async fn verify_stored_chain(store: Access<'_>) -> Result<Result<u64, ChainBreak>> {
    let v = ChainVerifier::new(store.db.1.clone());
    Ok(store.verify(v).await?.map(|s| s.records))
}

impl Store {
    /// Users, sessions and the audit log of this store.
    pub fn access(&self) -> Access<'_> {
        Access { db: self.db() }
    }
}

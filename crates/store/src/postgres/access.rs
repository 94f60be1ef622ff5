//! Users and the audit log in PostgreSQL. Audit appends take a transaction-scoped advisory lock, so
//! concurrent API instances chain one after another and the chain never forks.

use async_trait::async_trait;
use tianshu_model::{Timestamp, UnitId, VehicleId};

use super::PostgresBackend;
use crate::access::{
    AccessStore, AuditEntry, AuditRecord, GENESIS_HASH, NewSession, NewUser, SessionUser, User,
};
use crate::{Error, Result};

/// The advisory-lock key that serialises audit-chain appends ("tsaudit" in ASCII).
const AUDIT_LOCK_KEY: i64 = 0x0074_7361_7564_6974;

const USER_COLS: &str = "id, username, role, unit_id, password_hash, created_ms, disabled";
const AUDIT_COLS: &str =
    "seq, time_ms, actor, role, action, vehicle_id, from_ms, to_ms, remote, rows, detail, prev_hash, hash";

fn db_err(e: tokio_postgres::Error) -> Error {
    Error::Unavailable(format!("postgres: {e}"))
}

fn to_user(r: &tokio_postgres::Row) -> Result<User> {
    let role: String = r.get(2);
    Ok(User {
        id: r.get(0),
        username: r.get(1),
        role: role
            .parse()
            .map_err(|_| Error::Corrupt(format!("stored role {role:?}")))?,
        unit: r.get::<_, Option<i64>>(3).map(UnitId),
        password_hash: r.get(4),
        created: Timestamp(r.get(5)),
        disabled: r.get(6),
    })
}

fn to_audit(r: &tokio_postgres::Row) -> AuditRecord {
    AuditRecord {
        seq: r.get(0),
        time: Timestamp(r.get(1)),
        entry: AuditEntry {
            actor: r.get(2),
            role: r.get(3),
            action: r.get(4),
            vehicle: r.get::<_, Option<i64>>(5).map(VehicleId),
            from: r.get::<_, Option<i64>>(6).map(Timestamp),
            to: r.get::<_, Option<i64>>(7).map(Timestamp),
            remote: r.get(8),
            rows: r.get::<_, i64>(9).max(0) as u64,
            detail: r.get(10),
        },
        prev_hash: r.get(11),
        hash: r.get(12),
    }
}

#[async_trait]
impl AccessStore for PostgresBackend {
    async fn create_user(&self, user: &NewUser) -> Result<User> {
        let client = self.client().await?;
        let created = chrono::Utc::now().timestamp_millis();
        let row = client
            .query_opt(
                &format!(
                    "INSERT INTO access_users (username, role, unit_id, password_hash, created_ms)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING {USER_COLS}"
                ),
                &[
                    &user.username,
                    &user.role.as_str(),
                    &user.unit.map(|u| u.0),
                    &user.password_hash,
                    &created,
                ],
            )
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => to_user(&r),
            None => Err(Error::Invalid {
                line: None,
                reason: format!("user {:?} already exists", user.username),
            }),
        }
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {USER_COLS} FROM access_users WHERE username = $1"),
                &[&username],
            )
            .await
            .map_err(db_err)?
            .as_ref()
            .map(to_user)
            .transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {USER_COLS} FROM access_users ORDER BY id"), &[])
            .await
            .map_err(db_err)?;
        rows.iter().map(to_user).collect()
    }

    async fn delete_user(&self, username: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute(
            "DELETE FROM access_sessions WHERE user_id IN (SELECT id FROM access_users WHERE username = $1)",
            &[&username],
        )
        .await
        .map_err(db_err)?;
        let n = tx
            .execute("DELETE FROM access_users WHERE username = $1", &[&username])
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let n = tx
            .execute(
                "UPDATE access_users SET disabled = $2 WHERE username = $1",
                &[&username, &disabled],
            )
            .await
            .map_err(db_err)?;
        if disabled {
            tx.execute(
                "DELETE FROM access_sessions WHERE user_id IN (SELECT id FROM access_users WHERE username = $1)",
                &[&username],
            )
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn create_session(&self, session: &NewSession) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute(
            "DELETE FROM access_sessions WHERE expires_ms <= $1",
            &[&session.created.millis()],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "INSERT INTO access_sessions (token_hash, user_id, created_ms, expires_ms, remote) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &session.token_hash,
                &session.user_id,
                &session.created.millis(),
                &session.expires.millis(),
                &session.remote,
            ],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<SessionUser>> {
        let client = self.client().await?;
        let cols = USER_COLS
            .split(", ")
            .map(|col| format!("u.{col}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = client
            .query_opt(
                &format!(
                    "SELECT {cols}, s.expires_ms FROM access_sessions s JOIN access_users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.expires_ms > $2 AND NOT u.disabled"
                ),
                &[&token_hash, &now.millis()],
            )
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(SessionUser {
                user: to_user(&r)?,
                expires: Timestamp(r.get(7)),
            })
        })
        .transpose()
    }

    async fn touch_session(&self, token_hash: &str, expires: Timestamp) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE access_sessions SET expires_ms = GREATEST(expires_ms, $2) WHERE token_hash = $1",
                &[&token_hash, &expires.millis()],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "DELETE FROM access_sessions WHERE token_hash = $1",
                &[&token_hash],
            )
            .await
            .map_err(db_err)?
            > 0)
    }

    async fn append_audit(&self, time: Timestamp, entry: &AuditEntry) -> Result<AuditRecord> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK_KEY])
            .await
            .map_err(db_err)?;
        let last = tx
            .query_opt(
                "SELECT seq, hash FROM access_audit ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .await
            .map_err(db_err)?;
        let (seq, prev_hash) = match last {
            Some(r) => (r.get::<_, i64>(0) + 1, r.get::<_, String>(1)),
            None => (1, GENESIS_HASH.to_string()),
        };
        let hash = AuditRecord::compute_hash(seq, time, entry, &prev_hash);
        tx.execute(
            &format!(
                "INSERT INTO access_audit ({AUDIT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
            ),
            &[
                &seq,
                &time.millis(),
                &entry.actor,
                &entry.role,
                &entry.action,
                &entry.vehicle.map(|v| v.0),
                &entry.from.map(Timestamp::millis),
                &entry.to.map(Timestamp::millis),
                &entry.remote,
                &i64::try_from(entry.rows).unwrap_or(i64::MAX),
                &entry.detail,
                &prev_hash,
                &hash,
            ],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(AuditRecord {
            seq,
            time,
            entry: entry.clone(),
            prev_hash,
            hash,
        })
    }

    async fn audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {AUDIT_COLS} FROM access_audit WHERE seq > $1 ORDER BY seq LIMIT $2"),
                &[&after, &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(to_audit).collect())
    }
}

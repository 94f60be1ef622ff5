//! Users and the audit log in the embedded store. Audit appends run on the writer thread inside an
//! immediate transaction, so the chain has exactly one writer even across processes.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use tianshu_model::{Timestamp, UnitId, VehicleId};

use super::{EmbeddedBackend, db_error};
use crate::access::{
    AccessStore, AuditEntry, AuditRecord, GENESIS_HASH, NewSession, NewUser, SessionUser, User,
};
use crate::{Error, Result};

const USER_COLS: &str = "id, username, role, unit_id, password_hash, created_ms, disabled";
const AUDIT_COLS: &str =
    "seq, time_ms, actor, role, action, vehicle_id, from_ms, to_ms, remote, rows, detail, prev_hash, hash";

type UserRow = (i64, String, String, Option<i64>, String, i64, bool);

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn to_user(row: UserRow) -> Result<User> {
    let (id, username, role, unit, password_hash, created, disabled) = row;
    Ok(User {
        id,
        username,
        role: role
            .parse()
            .map_err(|_| Error::Corrupt(format!("stored role {role:?}")))?,
        unit: unit.map(UnitId),
        password_hash,
        created: Timestamp(created),
        disabled,
    })
}

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        time: Timestamp(r.get(1)?),
        entry: AuditEntry {
            actor: r.get(2)?,
            role: r.get(3)?,
            action: r.get(4)?,
            vehicle: r.get::<_, Option<i64>>(5)?.map(VehicleId),
            from: r.get::<_, Option<i64>>(6)?.map(Timestamp),
            to: r.get::<_, Option<i64>>(7)?.map(Timestamp),
            remote: r.get(8)?,
            rows: r.get::<_, i64>(9)?.max(0) as u64,
            detail: r.get(10)?,
        },
        prev_hash: r.get(11)?,
        hash: r.get(12)?,
    })
}

#[async_trait]
impl AccessStore for EmbeddedBackend {
    async fn create_user(&self, user: &NewUser) -> Result<User> {
        let user = user.clone();
        self.write(move |c| {
            let created = chrono::Utc::now().timestamp_millis();
            let row = c
                .query_row(
                    &format!(
                        "INSERT INTO access_users (username, role, unit_id, password_hash, created_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (username) DO NOTHING RETURNING {USER_COLS}"
                    ),
                    params![
                        user.username,
                        user.role.as_str(),
                        user.unit.map(|u| u.0),
                        user.password_hash,
                        created
                    ],
                    user_row,
                )
                .optional()
                .map_err(db_error)?;
            match row {
                Some(r) => to_user(r),
                None => Err(Error::Invalid {
                    line: None,
                    reason: format!("user {:?} already exists", user.username),
                }),
            }
        })
        .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let username = username.to_string();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {USER_COLS} FROM access_users WHERE username = ?1"),
                [username],
                user_row,
            )
            .optional()
            .map_err(db_error)?
            .map(to_user)
            .transpose()
        })
        .await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.read(|c| {
            let mut st = c
                .prepare(&format!("SELECT {USER_COLS} FROM access_users ORDER BY id"))
                .map_err(db_error)?;
            let rows = st.query_map([], user_row).map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(to_user)).collect()
        })
        .await
    }

    async fn delete_user(&self, username: &str) -> Result<bool> {
        let username = username.to_string();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            tx.execute(
                "DELETE FROM access_sessions WHERE user_id IN (SELECT id FROM access_users WHERE username = ?1)",
                [&username],
            )
            .map_err(db_error)?;
            let n = tx
                .execute("DELETE FROM access_users WHERE username = ?1", [&username])
                .map_err(db_error)?;
            tx.commit().map_err(db_error)?;
            Ok(n > 0)
        })
        .await
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<bool> {
        let username = username.to_string();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let n = tx
                .execute(
                    "UPDATE access_users SET disabled = ?2 WHERE username = ?1",
                    params![username, disabled],
                )
                .map_err(db_error)?;
            if disabled {
                tx.execute(
                    "DELETE FROM access_sessions WHERE user_id IN (SELECT id FROM access_users WHERE username = ?1)",
                    [&username],
                )
                .map_err(db_error)?;
            }
            tx.commit().map_err(db_error)?;
            Ok(n > 0)
        })
        .await
    }

    async fn create_session(&self, session: &NewSession) -> Result<()> {
        let s = session.clone();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            tx.execute(
                "DELETE FROM access_sessions WHERE expires_ms <= ?1",
                [s.created.millis()],
            )
            .map_err(db_error)?;
            tx.execute(
                "INSERT INTO access_sessions (token_hash, user_id, created_ms, expires_ms, remote) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    s.token_hash,
                    s.user_id,
                    s.created.millis(),
                    s.expires.millis(),
                    s.remote
                ],
            )
            .map_err(db_error)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<SessionUser>> {
        let token_hash = token_hash.to_string();
        self.read(move |c| {
            let cols = USER_COLS
                .split(", ")
                .map(|col| format!("u.{col}"))
                .collect::<Vec<_>>()
                .join(", ");
            c.query_row(
                &format!(
                    "SELECT {cols}, s.expires_ms FROM access_sessions s JOIN access_users u ON u.id = s.user_id \
                     WHERE s.token_hash = ?1 AND s.expires_ms > ?2 AND u.disabled = 0"
                ),
                params![token_hash, now.millis()],
                |r| Ok((user_row(r)?, r.get::<_, i64>(7)?)),
            )
            .optional()
            .map_err(db_error)?
            .map(|(u, expires)| {
                Ok(SessionUser {
                    user: to_user(u)?,
                    expires: Timestamp(expires),
                })
            })
            .transpose()
        })
        .await
    }

    async fn touch_session(&self, token_hash: &str, expires: Timestamp) -> Result<()> {
        let token_hash = token_hash.to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE access_sessions SET expires_ms = MAX(expires_ms, ?2) WHERE token_hash = ?1",
                params![token_hash, expires.millis()],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let token_hash = token_hash.to_string();
        self.write(move |c| {
            Ok(
                c.execute("DELETE FROM access_sessions WHERE token_hash = ?1", [token_hash])
                    .map_err(db_error)?
                    > 0,
            )
        })
        .await
    }

    async fn append_audit(&self, time: Timestamp, entry: &AuditEntry) -> Result<AuditRecord> {
        let entry = entry.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let last: Option<(i64, String)> = tx
                .query_row("SELECT seq, hash FROM access_audit ORDER BY seq DESC LIMIT 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(db_error)?;
            let (seq, prev_hash) = match last {
                Some((s, h)) => (s + 1, h),
                None => (1, GENESIS_HASH.to_string()),
            };
            let hash = AuditRecord::compute_hash(seq, time, &entry, &prev_hash);
            tx.execute(
                &format!("INSERT INTO access_audit ({AUDIT_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"),
                params![
                    seq,
                    time.millis(),
                    entry.actor,
                    entry.role,
                    entry.action,
                    entry.vehicle.map(|v| v.0),
                    entry.from.map(Timestamp::millis),
                    entry.to.map(Timestamp::millis),
                    entry.remote,
                    i64::try_from(entry.rows).unwrap_or(i64::MAX),
                    entry.detail,
                    prev_hash,
                    hash,
                ],
            )
            .map_err(db_error)?;
            tx.commit().map_err(db_error)?;
            Ok(AuditRecord { seq, time, entry, prev_hash, hash })
        })
        .await
    }

    async fn audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {AUDIT_COLS} FROM access_audit WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                ))
                .map_err(db_error)?;
            let rows = st.query_map(params![after, limit], audit_row).map_err(db_error)?;
            rows.map(|r| r.map_err(db_error)).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use crate::access::{AuditEntry, NewUser, Role, verify_stored_chain};
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
        assert!(a.delete_user("wang").await.unwrap());
        assert!(a.users().await.unwrap().is_empty());
    }
}

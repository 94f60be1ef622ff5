//! Versioned schema migrations.
//!
//! Each backend has its own list, discovered at build time from `migrations/<backend>/NNNN_name.sql`
//! (see `build.rs`). A backend applies, at open and in version order, every migration whose version is
//! not yet in its `schema_migrations` table, each in its own transaction together with its row in
//! that table; re-running is therefore a no-op, and a failed migration leaves the last good version.

use std::future::Future;

use crate::sql::{Tx, TxWork, params, work};
use crate::{Error, Result};

/// Serialises migrations among processes opening the same database at once ("tianshu" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0074_6961_6e73_6875;

/// One schema migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The version number (the file name's prefix); unique per backend, applied in ascending order.
    pub version: u32,
    /// The rest of the file name, for the `schema_migrations` table and logs.
    pub name: &'static str,
    /// The SQL, as one batch of statements.
    pub sql: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Applies every migration of `migrations` not yet in `schema_migrations` (made first with `create`), each
/// in its own transaction run by `run`, under a lock so that two processes opening at once apply each once.
pub(crate) async fn apply_all<F, Fut>(
    create: &'static str,
    migrations: &'static [Migration],
    mut run: F,
) -> Result<()>
where
    F: FnMut(TxWork<bool>) -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let failed = |version: u32| {
        move |e: Error| Error::Migration {
            version,
            reason: e.to_string(),
        }
    };
    run(work(move |tx| {
        Box::pin(async move {
            tx.lock(MIGRATION_LOCK_KEY).await?;
            tx.batch(create).await.map(|()| true)
        })
    }))
    .await
    .map_err(failed(0))?;
    for m in migrations {
        let applied = run(work(move |tx| Box::pin(apply(tx, m)))).await;
        if applied.map_err(failed(m.version))? {
            tracing::info!(version = m.version, name = m.name, "store migrated");
        }
    }
    Ok(())
}

/// Applies `m` inside `tx` unless `schema_migrations` holds it; whether it did.
async fn apply(tx: &mut dyn Tx, m: &Migration) -> Result<bool> {
    tx.lock(MIGRATION_LOCK_KEY).await?;
    let sql = "SELECT 1 FROM schema_migrations WHERE version = $1";
    if tx.opt(sql, params![m.version]).await?.is_some() {
        return Ok(false);
    }
    tx.batch(m.sql).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let sql = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)";
    tx.execute(sql, params![m.version, m.name, now]).await?;
    Ok(true)
}

/// The applied migration versions, ascending.
pub(crate) async fn applied(tx: &mut dyn Tx) -> Result<Vec<u32>> {
    let rows = tx
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await?;
    rows.iter()
        .map(|r| u32::try_from(r.int(0)?).map_err(|e| Error::Corrupt(format!("migration version: {e}"))))
        .collect()
}

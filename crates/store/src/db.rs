//! The handle areas run their transactions through, whichever backend is behind it.

use tianshu_model::access::{Audit, AuditKey};

use crate::audit::append_audit;
use crate::sql::{Row, TxWork, Value, work};
use crate::{BackendKind, Result};

/// The database of a store, for the areas written over [`crate::sql::Tx`], and the key its audit
/// records are chained with.
#[derive(Clone)]
pub(crate) struct Db(pub(crate) BackendKind, pub(crate) Option<AuditKey>);

impl Db {
    /// Runs `work` in one write transaction.
    pub(crate) async fn write<R: Send + 'static>(&self, work: TxWork<R>) -> Result<R> {
        match &self.0 {
            BackendKind::Embedded(b) => b.write_tx(work).await,
            BackendKind::Postgres(b) => b.write_tx(work).await,
        }
    }

    /// Runs `work` on a read connection.
    pub(crate) async fn read<R: Send + 'static>(&self, work: TxWork<R>) -> Result<R> {
        match &self.0 {
            BackendKind::Embedded(b) => b.read_tx(work).await,
            BackendKind::Postgres(b) => b.read_tx(work).await,
        }
    }

    /// Every row `sql` returns with `params`, decoded: the one shape of an area's list reads.
    pub(crate) async fn rows<T: Send + 'static>(
        &self,
        sql: String,
        params: Vec<Value>,
        decode: fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.read(work(move |tx| {
            Box::pin(async move { tx.query(&sql, &params).await?.iter().map(decode).collect() })
        }))
        .await
    }

    /// The first row `sql` returns with `params`, decoded; `None` when there is none (for lookups by
    /// a key: every row is read and decoded).
    pub(crate) async fn row<T: Send + 'static>(
        &self,
        sql: String,
        params: Vec<Value>,
        decode: fn(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.rows(sql, params, decode).await?.into_iter().next())
    }

    /// Runs one statement in its own write transaction; how many rows it changed.
    pub(crate) async fn execute(&self, sql: &'static str, params: Vec<Value>) -> Result<u64> {
        self.write(work(move |tx| {
            Box::pin(async move { tx.execute(sql, &params).await })
        }))
        .await
    }

    /// Runs a change and, when `audit` is given, appends its audit record in the same transaction.
    pub(crate) async fn change<R: Send + Sync + 'static>(
        &self,
        audit: Option<Audit<R>>,
        change: TxWork<R>,
    ) -> Result<R> {
        let key = self.1.clone();
        self.write(work(move |tx| {
            Box::pin(async move {
                let result = change(tx).await?;
                if let Some(audit) = audit {
                    let (time, entry) = audit.complete(&result);
                    append_audit(tx, key, time, entry).await?;
                }
                Ok(result)
            })
        }))
        .await
    }
}

/// A write of an area, not yet run. Awaiting it runs it in one transaction; [`Change::audited`] first
/// makes its audit record part of that transaction, so the change and its record commit together or
/// not at all (the API audits every administrative change; the command line's imports do not).
#[must_use = "a change does nothing until it is awaited"]
pub struct Change<'a, R> {
    db: &'a Db,
    work: TxWork<R>,
    audit: Option<Audit<R>>,
}

impl<'a, R: Send + Sync + 'static> Change<'a, R> {
    /// The change `work` on `db`, not audited.
    pub(crate) fn new(db: &'a Db, work: TxWork<R>) -> Self {
        Change {
            db,
            work,
            audit: None,
        }
    }

    /// Commits `audit` (completed from the change's result) with the change; `None` leaves it unaudited.
    pub fn audited(self, audit: Option<Audit<R>>) -> Self {
        Change { audit, ..self }
    }
}

impl<'a, R: Send + Sync + 'static> std::future::IntoFuture for Change<'a, R> {
    type Output = Result<R>;
    type IntoFuture = futures::future::BoxFuture<'a, Result<R>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.db.change(self.audit, self.work))
    }
}

//! The handle areas run their transactions through, whichever backend is behind it, and the audited
//! change: a change and its audit record commit in one transaction or not at all.

use tianshu_model::Timestamp;

use crate::access::{AuditEntry, append_audit};
use crate::sql::{TxWork, work};
use crate::{BackendKind, Result};

/// The database of a store, for the areas written over [`crate::sql::Tx`].
#[derive(Clone)]
pub(crate) struct Db(pub(crate) BackendKind);

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

    /// Runs `change` and appends its audit record in the same transaction: a change nobody can see in
    /// the audit log cannot happen, and a failed audit write undoes the change.
    pub(crate) async fn write_audited<R: Send + Sync + 'static>(
        &self,
        audit: Audit<R>,
        change: TxWork<R>,
    ) -> Result<R> {
        self.write(work(move |tx| {
            Box::pin(async move {
                let result = change(&mut *tx).await?;
                let entry = (audit.entry)(&result);
                append_audit(tx, audit.time, &entry).await?;
                Ok(result)
            })
        }))
        .await
    }
}

/// What an administrative change writes to the audit log, made from the change's result (a created
/// record's id, say) when it is known.
pub struct Audit<R> {
    /// When the change was made.
    time: Timestamp,
    /// The entry, from the change's result.
    entry: Box<dyn FnOnce(&R) -> AuditEntry + Send>,
}

impl<R> Audit<R> {
    /// An audit entry made from the change's result.
    pub fn new(time: Timestamp, entry: impl FnOnce(&R) -> AuditEntry + Send + 'static) -> Self {
        Audit {
            time,
            entry: Box::new(entry),
        }
    }

    /// An audit entry known before the change.
    pub fn fixed(time: Timestamp, entry: AuditEntry) -> Self {
        Audit::new(time, move |_| entry)
    }
}

//! The handle areas run their transactions through, whichever backend is behind it.

use crate::access::Audit;
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

    /// Runs a change and, when `audit` is given, appends its audit record in the same transaction.
    pub(crate) async fn change<R: Send + Sync + 'static>(
        &self,
        audit: Option<Audit<R>>,
        change: TxWork<R>,
    ) -> Result<R> {
        self.write(work(move |tx| {
            Box::pin(async move {
                let result = change(tx).await?;
                if let Some(audit) = audit {
                    audit.append(tx, &result).await?;
                }
                Ok(result)
            })
        }))
        .await
    }
}

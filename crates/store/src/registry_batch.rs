//! A reconnect storm's registry calls, coalesced: after a restart every terminal registers and
//! authenticates within seconds, and one query per lookup and one durable commit per registration would
//! serialise them on the database.
//!
//! Each kind of call ([`Store::terminal`](crate::Store::terminal) lookups, registration writes) goes on a
//! queue served by one task: it takes the first waiting call and every call already waiting behind it (up to
//! a cap), runs them together — one `WHERE phone IN (...)` query, or one transaction — and answers each
//! caller with its own result. Nothing waits for company: an idle store runs a lone call at once, and calls
//! gather only while earlier batches are running.
//!
//! Invariants: each caller gets its own answer (its terminal or none; its own `NotFound`); a write batch whose
//! transaction fails for a permanent reason is retried one call per transaction, so one bad write fails alone;
//! writes run one batch at a time, in the order they were asked.

use std::future::Future;
use std::sync::Arc;

use tianshu_model::{Phone, Terminal};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::Db;
use crate::metrics::metrics;
use crate::registry::{Registration, save_registrations, terminals_of};
use crate::sql::tx;
use crate::{Error, Result};

/// Calls of one kind waiting to run together.
struct Batcher<Q, R> {
    queue: mpsc::Sender<(Q, oneshot::Sender<Result<R>>)>,
}

impl<Q: Send + 'static, R: Send + 'static> Batcher<Q, R> {
    /// Starts the task that runs up to `max` waiting calls at once with `run` (which answers each, in
    /// order), `in_flight` batches at a time; it ends when the batcher is dropped.
    fn spawn<F, Fut>(max: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<Q>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Result<R>>> + Send + 'static,
    {
        let (queue, mut rx) = mpsc::channel::<(Q, oneshot::Sender<Result<R>>)>(4_096);
        let (run, permits) = (Arc::new(run), Arc::new(Semaphore::new(in_flight)));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Calls that arrive while the earlier batches run join the next one.
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let mut batch = vec![first];
                while batch.len() < max
                    && let Ok(next) = rx.try_recv()
                {
                    batch.push(next);
                }
                let run = run.clone();
                tokio::spawn(async move {
                    let (calls, replies): (Vec<Q>, Vec<_>) = batch.into_iter().unzip();
                    metrics().registry_batches.inc();
                    metrics().registry_calls.inc_by(calls.len() as u64);
                    for (reply, result) in replies.into_iter().zip(run(calls).await) {
                        // A caller that stopped waiting is no error.
                        let _ = reply.send(result);
                    }
                    drop(permit);
                });
            }
        });
        Batcher { queue }
    }

    /// Runs `call` with whatever calls are waiting with it; its own result.
    async fn call(&self, call: Q) -> Result<R> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((call, reply)).await.map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

/// The registry's coalesced calls of one store.
pub(crate) struct RegistryBatch {
    lookups: Batcher<Phone, Option<Terminal>>,
    writes: Batcher<Registration, ()>,
}

/// Calls per query or transaction: far below both databases' limits on parameters.
const MAX_BATCH: usize = 1_000;

impl RegistryBatch {
    /// Starts the tasks serving `db`.
    pub(crate) fn spawn(db: &Db) -> Self {
        let read = db.clone();
        let lookups = Batcher::spawn(MAX_BATCH, 2, move |phones: Vec<Phone>| {
            let db = read.clone();
            async move {
                let n = phones.len();
                let found = db.read(tx!(|tx| terminals_of(tx, &phones))).await;
                found.unwrap_or_else(|e| vec![Err(e); n])
            }
        });
        let write = db.clone();
        let writes = Batcher::spawn(MAX_BATCH, 1, move |regs: Vec<Registration>| {
            let db = write.clone();
            async move { write_all(&db, regs).await }
        });
        RegistryBatch { lookups, writes }
    }

    /// The terminal with `phone`.
    pub(crate) async fn terminal(&self, phone: Phone) -> Result<Option<Terminal>> {
        self.lookups.call(phone).await
    }

    /// Records a registration (see [`crate::Store::save_registration`]).
    pub(crate) async fn save(&self, r: Registration) -> Result<()> {
        self.writes.call(r).await
    }
}

/// Writes `regs` in one transaction; when it fails for a permanent reason, each in its own, so that the
/// others do not fail with the one that cannot be written.
async fn write_all(db: &Db, regs: Vec<Registration>) -> Vec<Result<()>> {
    let n = regs.len();
    let all = regs.clone();
    let together = db.write(tx!(|tx| save_registrations(tx, &all))).await;
    match together {
        Ok(done) => done,
        Err(e) if n == 1 || e.is_transient() => vec![Err(e); n],
        Err(_) => {
            let mut done = Vec::with_capacity(n);
            for r in regs {
                let one = db.write(tx!(|tx| save_registrations(tx, &[r]))).await;
                done.push(one.and_then(|mut d| d.pop().unwrap_or(Err(Error::Closed))));
            }
            done
        }
    }
}

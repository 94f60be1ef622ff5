//! How the pool makes its connections, so that each one ends cleanly: with the protocol's Terminate message,
//! never cut while the server may still be writing to it.
//!
//! deadpool aborts a connection's task when its pooled client is dropped; a task aborted mid-write, or a
//! runtime shut down under it, leaves the server writing to a closed socket ("could not send data to
//! client"; counted in `pg_stat_database.sessions_abandoned`). Here the task that drives a connection is
//! its own: the pool holds a stand-in, so dropping the client only ends the client's side, and the
//! connection's task then says Terminate and closes. Every such task is counted while it runs, and
//! [`connections_ended`] waits for the count to reach zero, so a process can let them finish before its
//! runtime stops.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deadpool_postgres::Connect;
use futures::future::BoxFuture;
use tokio_postgres::NoTls;

/// Connection tasks running now, in the whole process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Told each time a connection task ends.
fn ended() -> &'static tokio::sync::Notify {
    static ENDED: OnceLock<tokio::sync::Notify> = OnceLock::new();
    ENDED.get_or_init(tokio::sync::Notify::new)
}

/// Counts a connection task from its start until it ends, however it ends (finished, or dropped with its
/// runtime).
struct Running;

impl Running {
    fn start() -> Running {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        ended().notify_waiters();
    }
}

/// Connects without TLS and drives each connection in a task of its own (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub(super) struct CleanEnd;

impl Connect for CleanEnd {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>>
    {
        let pg_config = pg_config.clone();
        Box::pin(async move {
            let (client, connection) = pg_config.connect(NoTls).await?;
            let running = Running::start();
            let driver = tokio::spawn(async move {
                let _running = running;
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "postgres connection ended with an error");
                }
            });
            // What the pool aborts when it drops the client: only this stand-in, which ends with the
            // connection (awaiting a task's handle does not tie the task's life to the awaiting one).
            let stand_in = tokio::spawn(async move {
                let _ = driver.await;
            });
            Ok((client, stand_in))
        })
    }
}

/// Waits, up to `limit`, until every PostgreSQL connection this process opened has ended (its pool closed or
/// dropped, its Terminate sent); returns whether they all did. Call it last, before the runtime stops.
pub async fn connections_ended(limit: Duration) -> bool {
    let all_ended = async {
        loop {
            let notified = ended().notified();
            if RUNNING.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    };
    tokio::time::timeout(limit, all_ended).await.is_ok()
}

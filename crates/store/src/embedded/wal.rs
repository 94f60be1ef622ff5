//! Keeping the embedded store's WAL small: its size bound, the scheduled checkpoints and the last one at
//! shutdown.
//!
//! SQLite appends every commit to the WAL and copies it back into the database file at a checkpoint. The
//! writer's own (automatic, passive) checkpoint runs on the commit that takes the WAL to `wal_limit_kib`,
//! and the file is trimmed to that size after it; but a passive checkpoint never shrinks the file below
//! it, and cannot restart the WAL while a reader is on an older snapshot. So a connection of its own, on a
//! thread of its own, checkpoints every `checkpoint_secs`: first passively (copying the WAL back without
//! the writer's lock), then truncating (copying what was committed meanwhile and cutting the WAL to zero
//! bytes). The truncating step holds the writer's lock while it waits for readers on older snapshots, so it
//! waits at most `checkpoint_wait_ms` and otherwise leaves it to the next one. At shutdown the writer
//! thread runs the same truncating checkpoint after its last job ([`super::EmbeddedBackend::close`]), so a
//! clean stop leaves no WAL behind.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::{EmbeddedConfig, open_connection, unavailable};
use crate::Result;
use crate::metrics::metrics;

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpointed {
    /// Cut short: a reader on an older snapshot (or the writer, or another checkpoint) was in the way.
    pub(crate) busy: bool,
    /// Frames left in the WAL (0 once truncated).
    pub(crate) frames: i64,
}

/// Runs `PRAGMA wal_checkpoint(mode)` on `conn`.
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<Checkpointed> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(Checkpointed {
            busy: r.get::<_, i64>(0)? != 0,
            frames: r.get(1)?,
        })
    })
}

/// A passive checkpoint, then a truncating one (see the module docs); counted.
pub(crate) fn truncate(conn: &Connection) -> rusqlite::Result<Checkpointed> {
    checkpoint(conn, "PASSIVE")?;
    let done = checkpoint(conn, "TRUNCATE")?;
    if done.busy {
        metrics().wal_checkpoints_busy.inc();
    } else {
        metrics().wal_checkpoints.inc();
    }
    Ok(done)
}

/// Sets the writer connection's WAL bound: the automatic checkpoint at `wal_limit_kib`, and the file
/// trimmed to that size after each checkpoint that restarts the WAL.
pub(crate) fn bound(conn: &Connection, config: &EmbeddedConfig) -> rusqlite::Result<()> {
    let page_size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let limit = config.wal_limit_kib.max(1).saturating_mul(1024);
    let pages = (limit / page_size.max(1)).max(1);
    conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint={pages}; PRAGMA journal_size_limit={limit};"
    ))
}

/// The thread that checkpoints on a schedule; it ends when [`Checkpointer::stop`] is called or the
/// handle is dropped.
pub(crate) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every `checkpoint_secs`; `None` when that is 0.
    pub(crate) fn start(path: &Path, config: &EmbeddedConfig) -> Result<Option<Checkpointer>> {
        if config.checkpoint_secs == 0 {
            return Ok(None);
        }
        let conn = open_connection(path, config)?;
        conn.busy_timeout(Duration::from_millis(config.checkpoint_wait_ms))
            .map_err(|e| unavailable(path, e))?;
        let every = Duration::from_secs(config.checkpoint_secs);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tianshu-store-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    match truncate(&conn) {
                        Ok(c) if c.busy => tracing::debug!(
                            frames_left = c.frames,
                            "WAL checkpoint cut short by a reader or the writer; the next one retries"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries"),
                    }
                }
            })
            .map_err(|e| crate::Error::Unavailable(format!("starting the checkpoint thread: {e}")))?;
        Ok(Some(Checkpointer { stop, thread }))
    }

    /// Stops the thread, waiting for a checkpoint under way to end.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

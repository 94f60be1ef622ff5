//! The embedded backend: one SQLite file, nothing to install.
//!
//! Durability is real: WAL with `synchronous=FULL`, so a committed transaction survives `kill -9`
//! (and power loss, as far as the disk honours fsync). SQLite's work is blocking, so it never runs on
//! the async runtime's workers: every write runs on one dedicated writer thread that owns the only
//! write connection (SQLite allows one writer at a time anyway), and reads run on the blocking pool
//! with their own connections, which WAL lets proceed alongside the writer.
//!
//! Points live in two tables. SQLite's WAL writes whole pages, and a commit from a whole fleet (one
//! point per vehicle) would dirty one page per vehicle in a table clustered by vehicle; so commits go
//! to `points_recent`, clustered by fix time (a commit dirties a few pages at its end), and the writer
//! thread moves them into `points`, clustered by (vehicle, fix time) for replay, every
//! `compact_every_ms` or `compact_at_points`, many points per vehicle page at a time. A point is in
//! exactly one table at any snapshot; a replay reads both in one read transaction and merges them;
//! a point newer than everything stored for its vehicle (every live point) needs no duplicate probe
//! into `points`.
//!
//! The WAL is kept small by scheduled checkpoints and a last one at shutdown (see `wal.rs`). Memory is
//! bounded by the page caches: `writer_cache_kib` for the writer, `reader_cache_kib` for each read
//! connection. A read connection goes back to the pool only outside a transaction: one left inside would
//! keep its snapshot, and with it every WAL frame after it, for as long as it sat idle.
//!
//! Areas add their own `impl Trait for EmbeddedBackend` in a file of this module, using
//! [`EmbeddedBackend::read`] and [`EmbeddedBackend::write`].

mod points;
mod sql;
mod wal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::migrate;
use crate::{Error, Result};

/// Settings of the embedded backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// How long a statement waits for a lock held by another process before failing.
    pub busy_timeout_ms: u64,
    /// Read connections kept open for reuse; more are opened on demand and closed after use.
    pub max_idle_readers: usize,
    /// New points are moved from the time-clustered `points_recent` into the vehicle-clustered
    /// `points` once this many have gathered...
    pub compact_at_points: u64,
    /// ...or this long after the last move, whichever comes first.
    pub compact_every_ms: u64,
    /// Size of the writer connection's page cache, in KiB.
    pub writer_cache_kib: u64,
    /// Size of each read connection's page cache, in KiB.
    pub reader_cache_kib: u64,
    /// The WAL is checkpointed (copied back into the database) by the commit that takes it to this size,
    /// in KiB, and trimmed to it afterwards.
    pub wal_limit_kib: u64,
    /// Seconds between checkpoints that copy the WAL back and truncate it to zero bytes, run beside the
    /// writer on a connection of their own; 0 for none (the one at shutdown still runs).
    pub checkpoint_secs: u64,
    /// How long such a checkpoint waits for readers on older snapshots (and the writer's transaction),
    /// holding up commits meanwhile, before it leaves the WAL to the next one.
    pub checkpoint_wait_ms: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            busy_timeout_ms: 5_000,
            max_idle_readers: 4,
            compact_at_points: 100_000,
            compact_every_ms: 2_000,
            writer_cache_kib: 65_536,
            reader_cache_kib: 2_048,
            wal_limit_kib: 65_536,
            checkpoint_secs: 30,
            checkpoint_wait_ms: 1_000,
        }
    }
}

/// Work for the writer thread.
type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// What the writer thread is given: a job, or its last job before it closes the write connection.
enum Work {
    Job(WriteJob),
    Last(WriteJob),
}

/// The embedded (SQLite) backend.
pub struct EmbeddedBackend {
    /// The database file.
    path: PathBuf,
    /// Jobs for the writer thread, which owns the write connection; the thread ends when this is dropped
    /// (taken by [`EmbeddedBackend::close`]).
    jobs: Mutex<Option<std::sync::mpsc::Sender<Work>>>,
    /// The scheduled checkpoints, until closed.
    checkpointer: Mutex<Option<wal::Checkpointer>>,
    /// Idle read connections.
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Settings.
    config: EmbeddedConfig,
    /// Points in `points_recent`, waiting to be moved into `points`.
    pub(super) recent_points: Arc<AtomicU64>,
    /// The newest fix time stored per vehicle (as in `latest_positions`), kept by the writer thread
    /// so that a live point skips the duplicate probe into `points`. Only the writer thread locks it.
    pub(super) stored_up_to: Arc<Mutex<HashMap<i64, i64>>>,
}

impl EmbeddedBackend {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path, config: &EmbeddedConfig) -> Result<EmbeddedBackend> {
        let path = path.to_path_buf();
        let cfg = config.clone();
        let open_path = path.clone();
        type Opened = (Connection, u64, HashMap<i64, i64>, Option<wal::Checkpointer>);
        let (conn, recent, stored_up_to, checkpointer) =
            tokio::task::spawn_blocking(move || -> Result<Opened> {
                if let Some(dir) = open_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::Unavailable(format!("creating {}: {e}", dir.display())))?;
                }
                let mut conn = open_connection(&open_path, &cfg)?;
                // WAL and FULL sync: a committed transaction is on disk before commit returns.
                let mode: String = conn
                    .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                    .map_err(|e| unavailable(&open_path, e))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(Error::Unavailable(format!(
                        "{}: cannot enable WAL (got {mode})",
                        open_path.display()
                    )));
                }
                let create = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, \
                              name TEXT NOT NULL, applied_at INTEGER NOT NULL)";
                let run = |w| std::future::ready(sql::write_tx(&mut conn, w));
                // Every step completes at once (each transaction is driven to its end by `write_tx`).
                let migrated = migrate::apply_all(create, migrate::SQLITE, run).now_or_never();
                migrated.unwrap_or_else(|| Err(Error::Unavailable("migrations did not complete".into())))?;
                let (recent, stored_up_to) =
                    writer_settings(&conn, &cfg).map_err(|e| unavailable(&open_path, e))?;
                let checkpointer = wal::Checkpointer::start(&open_path, &cfg)?;
                Ok((conn, recent, stored_up_to, checkpointer))
            })
            .await
            .map_err(|e| Error::Unavailable(format!("open task failed: {e}")))??;

        let (jobs, rx) = std::sync::mpsc::channel::<Work>();
        let recent_points = Arc::new(AtomicU64::new(recent));
        let compactor = Compactor {
            recent_points: recent_points.clone(),
            at_points: config.compact_at_points.max(1),
            every: Duration::from_millis(config.compact_every_ms.max(1)),
            last: Instant::now(),
        };
        std::thread::Builder::new()
            .name("tianshu-store-writer".into())
            .spawn(move || writer_thread(conn, rx, compactor))
            .map_err(|e| Error::Unavailable(format!("starting the writer thread: {e}")))?;
        Ok(EmbeddedBackend {
            path,
            jobs: Mutex::new(Some(jobs)),
            checkpointer: Mutex::new(checkpointer),
            readers: Arc::new(Mutex::new(Vec::new())),
            config: config.clone(),
            recent_points,
            stored_up_to: Arc::new(Mutex::new(stored_up_to)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer thread with the write connection. `f` manages its own transaction.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs
            .lock()
            .map_err(|_| Error::Unavailable("writer queue poisoned".into()))?
            .as_ref()
            .ok_or(Error::Closed)?
            .send(Work::Job(job))
            .map_err(|_| Error::Closed)?;
        rx.await
            .map_err(|_| Error::Unavailable("the writer thread stopped".into()))?
    }

    /// Closes the store at a clean stop: the scheduled checkpoints stop, the writer thread finishes the
    /// jobs queued before this one, truncates the WAL with a last checkpoint and closes the write
    /// connection, and the idle read connections are closed. Writes after it fail with [`Error::Closed`].
    /// Fails (the WAL stays, and is used at the next open) when a reader on an older snapshot keeps the
    /// WAL for longer than `checkpoint_wait_ms`.
    pub async fn close(&self) -> Result<()> {
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some(c) = checkpointer {
            tokio::task::spawn_blocking(move || c.stop())
                .await
                .map_err(|e| Error::Unavailable(format!("stopping the checkpoints: {e}")))?;
        }
        let (tx, rx) = oneshot::channel();
        let wait = Duration::from_millis(self.config.checkpoint_wait_ms);
        let last: WriteJob = Box::new(move |conn| {
            let done = conn.busy_timeout(wait).and_then(|()| wal::truncate(conn));
            let _ = tx.send(done);
        });
        // Taken out, so that no job can follow the last one.
        let jobs = self
            .jobs
            .lock()
            .map_err(|_| Error::Unavailable("writer queue poisoned".into()))?
            .take()
            .ok_or(Error::Closed)?;
        jobs.send(Work::Last(last)).map_err(|_| Error::Closed)?;
        drop(jobs);
        if let Ok(mut idle) = self.readers.lock() {
            idle.clear();
        }
        match rx.await {
            Ok(Ok(c)) if !c.busy => Ok(()),
            Ok(Ok(c)) => Err(Error::Unavailable(format!(
                "{}: the WAL was not truncated at close ({} frames left): a reader held an older snapshot",
                self.path.display(),
                c.frames
            ))),
            Ok(Err(e)) => Err(unavailable(&self.path, e)),
            Err(_) => Err(Error::Unavailable("the writer thread stopped".into())),
        }
    }

    /// Runs `f` on the blocking pool with a read connection.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        self.read_owned(move |conn| f(conn)).await
    }

    /// Like [`EmbeddedBackend::read`], with the connection borrowed mutably (statement caching).
    pub(crate) async fn read_owned<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let mut conn = self.reader()?;
        let readers = self.readers.clone();
        let max_idle = self.config.max_idle_readers;
        tokio::task::spawn_blocking(move || {
            let result = f(&mut conn);
            give_back(&readers, conn, max_idle);
            result
        })
        .await
        .map_err(|e| Error::Unavailable(format!("read task failed: {e}")))?
    }

    /// An idle read connection, or a new one.
    fn reader(&self) -> Result<Connection> {
        let idle = self
            .readers
            .lock()
            .map_err(|_| Error::Unavailable("reader pool poisoned".into()))?
            .pop();
        match idle {
            Some(c) => Ok(c),
            None => open_connection(&self.path, &self.config),
        }
    }
}

/// Sets up the writer connection once migrated; returns the points in `points_recent` and the newest fix
/// time stored per vehicle.
fn writer_settings(conn: &Connection, cfg: &EmbeddedConfig) -> rusqlite::Result<(u64, HashMap<i64, i64>)> {
    // The writer keeps the pages it dirties in memory; checkpoints copy the WAL back in larger steps than
    // the default 1000 pages, and the WAL file is trimmed afterwards. Temporary data (the sort of a move
    // into `points`) stays in memory.
    let cache = cfg.writer_cache_kib;
    conn.execute_batch(&format!("PRAGMA cache_size=-{cache}; PRAGMA temp_store=MEMORY;"))?;
    wal::bound(conn, cfg)?;
    // What the migrations wrote, or a killed process left, is folded back now; without waiting, so that
    // another process using the database is not held up (a later checkpoint does it).
    conn.busy_timeout(Duration::ZERO)?;
    wal::truncate(conn)?;
    conn.busy_timeout(Duration::from_millis(cfg.busy_timeout_ms))?;
    let recent: i64 = conn.query_row("SELECT count(*) FROM points_recent", [], |r| r.get(0))?;
    let mut st = conn.prepare("SELECT vehicle, fix_time FROM latest_positions")?;
    let stored_up_to = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((recent.max(0) as u64, stored_up_to))
}

/// When and how to move `points_recent` into `points`.
struct Compactor {
    recent_points: Arc<AtomicU64>,
    at_points: u64,
    every: Duration,
    last: Instant,
}

impl Compactor {
    fn due(&self) -> bool {
        let n = self.recent_points.load(Ordering::Relaxed);
        n >= self.at_points || (n > 0 && self.last.elapsed() >= self.every)
    }

    /// Moves every recent point into `points` in one transaction, in vehicle order so that each
    /// vehicle's page is written once for all its new points.
    fn run(&mut self, conn: &mut Connection) {
        self.last = Instant::now();
        let moved = move_recent(conn);
        match moved {
            Ok(n) => {
                self.recent_points.store(0, Ordering::Relaxed);
                tracing::debug!(
                    points = n,
                    elapsed_ms = self.last.elapsed().as_millis() as u64,
                    "recent points compacted"
                );
            }
            // Nothing is lost: the points stay in `points_recent`, where reads find them; retried later.
            Err(e) => tracing::warn!(error = %e, "moving recent points failed; will retry"),
        }
    }
}

/// Moves every recent point into `points` in one transaction; returns how many.
fn move_recent(conn: &mut Connection) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // OR IGNORE, not ON CONFLICT: no statement journal (see `commit_points_blocking`).
    let moved = tx.execute(
        "INSERT OR IGNORE INTO points (vehicle, fix_time, block_hash, rec) \
         SELECT vehicle, fix_time, block_hash, rec FROM points_recent ORDER BY vehicle, fix_time, block_hash",
        [],
    )?;
    tx.execute("DELETE FROM points_recent", [])?;
    tx.commit()?;
    Ok(moved)
}

/// The writer thread: runs jobs in order, and compacts between them or when idle; ends after the last
/// job, or when every sender is gone.
fn writer_thread(mut conn: Connection, jobs: std::sync::mpsc::Receiver<Work>, mut compactor: Compactor) {
    loop {
        match jobs.recv_timeout(compactor.every) {
            Ok(Work::Job(job)) => job(&mut conn),
            Ok(Work::Last(job)) => {
                job(&mut conn);
                break;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !conn.is_autocommit() {
            // A job that left its transaction open would hold the write lock for every later one.
            tracing::error!("a write left its transaction open; rolled back");
            let _ = conn.execute_batch("ROLLBACK");
        }
        if compactor.due() {
            compactor.run(&mut conn);
        }
    }
}

/// Pools `conn` again for reuse, unless the pool is full or `conn` is inside a transaction (its snapshot
/// would keep the WAL from being checkpointed for as long as it sat idle): then it is closed, which
/// rolls the transaction back.
fn give_back(readers: &Mutex<Vec<Connection>>, conn: Connection, max_idle: usize) {
    if !conn.is_autocommit() {
        tracing::warn!("a read left its transaction open; its connection is closed, not pooled");
        return;
    }
    if let Ok(mut idle) = readers.lock()
        && idle.len() < max_idle
    {
        idle.push(conn);
    }
}

/// A connection to `path` with the settings of a read connection (the writer sets its own cache after).
fn open_connection(path: &Path, config: &EmbeddedConfig) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| unavailable(path, e))?;
    conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms))
        .map_err(|e| unavailable(path, e))?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-{};",
        config.reader_cache_kib.max(1)
    ))
    .map_err(|e| unavailable(path, e))?;
    Ok(conn)
}

fn unavailable(path: &Path, e: rusqlite::Error) -> Error {
    Error::Unavailable(format!("{}: {e}", path.display()))
}

/// Any SQLite error on an open database.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Unavailable(format!("sqlite: {e}"))
    }
}

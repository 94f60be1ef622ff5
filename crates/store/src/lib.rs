//! Tianshu's storage: track points, latest positions, and the registry (units, vehicles, terminals).
//!
//! One interface, [`Backend`], and two real implementations selected by URL ([`Store::open`]):
//! an embedded store (a file path or `sqlite:PATH`; the default, nothing to install) and
//! PostgreSQL/TimescaleDB (`postgres://...`). The rest of Tianshu holds a [`Store`] and never knows
//! which one it has.
//!
//! Invariants every backend keeps:
//! - [`Store::append_points`] resolves only when the points are durable (they survive `kill -9` of the
//!   process). Appends from every caller go through one group-commit writer per store ([`writer`]):
//!   many appends, one transaction, then every waiter is woken with its own [`AppendSummary`].
//! - Points are idempotent on (vehicle, fix time, [`Position::block_hash`]): a retransmission, a 0x0704
//!   backfill of a stored point or an MQTT redelivery is stored once.
//! - The latest position of a vehicle only moves forward in fix time.
//! - Committed points (newly inserted ones only) are fanned out to [`Store::subscribe`]rs, which may
//!   lose some when they fall behind, and to [`Store::follow`]ers, which see every one at least once.
//! - Schema changes are versioned migrations applied at open; re-running them is a no-op.
//!
//! # Layout, and how to add an area
//! Each area of the schema (points, registry, rules, access...) has:
//! - its migrations as files, `migrations/sqlite/NNNN_name.sql` and `migrations/postgres/NNNN_name.sql`.
//!   `build.rs` discovers them and embeds them with `include_str!`; nothing else lists them. Version
//!   ranges: 0001-0099 tracks and registry, 0100-0199 rules and alerts, 0200-0299 users and audit.
//! - its code, written once over the transaction seam in `src/sql.rs` (`async fn(tx: &mut dyn Tx, ...)`:
//!   validation, conflict messages, state checks), behind a small handle with an accessor on [`Store`]
//!   (`src/access.rs`: [`Store::access`]; `src/cases.rs`: [`Store::cases`]; `src/registry.rs` and
//!   `src/registry_admin.rs`: [`Store::units`]... and [`Store::registry_admin`]; `src/reference/`:
//!   [`Store::rules`]). A write that may be audited returns a [`Change`], which commits the audit record
//!   in the write's transaction. The backends only translate: `src/embedded/sql.rs` and
//!   `src/postgres/sql.rs` bind values and decode rows. Track points stay per backend on purpose: their
//!   layouts really differ.
#![deny(missing_docs)]

pub mod access;
mod audit;
pub mod blocks;
pub mod carpool;
mod carpool_notices;
pub mod carpool_trips;
pub mod cases;
pub mod casework;
pub mod channels;
mod db;
pub mod drivers;
pub mod embedded;
pub mod follow;
pub mod forwarding;
pub mod fuel;
pub mod fuel_check;
pub mod fuel_report;
pub mod jt809_alarms;
pub mod jt809_requests;
mod metrics;
pub mod migrate;
pub mod postgres;
mod record;
pub mod reference;
mod registry;
pub mod registry_admin;
mod registry_batch;
mod registry_file;
pub mod rule_states;
pub mod rules;
mod sql;
mod stamp;
pub mod summaries;
pub mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tianshu_model::{Phone, Position, Timestamp, VehicleId};

pub use blocks::{BlocksConfig, CompactSummary, DamagedBlock, LayerStats};
pub use db::Change;
pub use follow::{Cursor, Followed};
pub use migrate::Migration;
pub use postgres::timescale_plan::{JobHealth, PolicyKind};
pub use registry::{DriverEvent, ImportSummary, RegistryRecord};
pub use registry_file::{parse_registry_csv, parse_registry_json};
pub use tianshu_model::record::{FIX_TIME_RANGE_MS, accepts_fix_time};
pub use tianshu_model::{Reregistered, Reregistration};
pub use writer::{Subscription, WriterConfig};

/// Points newly stored by one commit, in the order they were appended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommittedBatch {
    /// The points; duplicates of stored points are not here.
    pub points: Vec<Position>,
}

/// What can go wrong in the store.
///
/// Each kind is either **transient** (the same call may succeed later: [`Error::Unavailable`],
/// [`Error::Closed`], [`Error::PartlyCommitted`]) or **permanent** (the same call with the same input fails
/// again: [`Error::Invalid`], [`Error::NotFound`], [`Error::Conflict`], [`Error::Forbidden`],
/// [`Error::Corrupt`], [`Error::BadUrl`], [`Error::Migration`]). [`Error::is_transient`] says which, so a
/// caller retries only what a retry can mend.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The database cannot be reached or refused the operation; nothing was committed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store URL does not name a backend.
    #[error("bad store URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it is not usable.
        reason: String,
    },
    /// An input record is invalid; `line` is 1-based when the input came from a file.
    #[error("{}{reason}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Invalid {
        /// The line of the offending record in the input file, when known.
        line: Option<usize>,
        /// What is wrong with it.
        reason: String,
    },
    /// A referenced record does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The change clashes with what is stored (a plate or phone taken, a unit that still has vehicles).
    #[error("{0}")]
    Conflict(String),
    /// The change is not this person's to make alone (separation of duties: approving one's own order).
    #[error("{0}")]
    Forbidden(String),
    /// A migration failed; the schema is left at the last good version.
    #[error("migration {version} failed: {reason}")]
    Migration {
        /// The migration's version number.
        version: u32,
        /// The database's message.
        reason: String,
    },
    /// The writer was shut down before the append was committed.
    #[error("the store writer has shut down")]
    Closed,
    /// Stored data could not be read back (a corrupt or foreign row).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A batch committed as several transactions (PostgreSQL splits large ones) was committed only in
    /// part: the points flagged in `inserted` are durable and were new; the others are not stored.
    /// Nothing of the batch is acknowledged; a retry finds the committed points already stored.
    #[error("store commit partly failed: {cause}")]
    PartlyCommitted {
        /// Per point of the batch: stored by a part that committed, and new.
        inserted: Vec<bool>,
        /// Why the other part failed.
        cause: String,
    },
}

impl Error {
    /// [`Error::Invalid`] without a line.
    pub fn invalid(reason: impl Into<String>) -> Error {
        Error::Invalid {
            line: None,
            reason: reason.into(),
        }
    }

    /// Whether retrying the same call may succeed (the database was unreachable, the writer was shutting
    /// down, a commit failed part way); `false` when the input or the stored data is at fault and a retry
    /// fails again.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unavailable(_) | Error::Closed | Error::PartlyCommitted { .. } => true,
            Error::BadUrl { .. }
            | Error::Invalid { .. }
            | Error::NotFound(_)
            | Error::Conflict(_)
            | Error::Forbidden(_)
            | Error::Migration { .. }
            | Error::Corrupt(_) => false,
        }
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppendSummary {
    /// Points newly stored.
    pub inserted: u64,
    /// Points that were already there (retransmission, overlapping backfill, redelivery).
    pub duplicates: u64,
}

/// A stream of track points in fix-time order.
pub type TrackStream = BoxStream<'static, Result<Position>>;

/// What a track read asks for: one vehicle's points with `from <= fix_time < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackQuery {
    /// The vehicle.
    pub vehicle: VehicleId,
    /// The first fix time included.
    pub from: Timestamp,
    /// The first fix time excluded.
    pub to: Timestamp,
    /// When given, only the points received after it (a later receive time). The filter runs in the
    /// database over the packed records, so reading what arrived after a consumer's cursor costs little
    /// more than the index scan when almost nothing did (the alert rules resuming saved state). Receive
    /// times before the Unix epoch do not occur; a negative one counts as the epoch.
    pub received_after: Option<Timestamp>,
    /// When given, only the points received at or before it: with `received_after`, a window of receive
    /// time (a JT/T 809 link catching up an outage a window at a time). Filtered where `received_after`
    /// is, so the points after the window are not read.
    pub received_upto: Option<Timestamp>,
}

impl TrackQuery {
    /// The receive-time bounds given, each as the SQL comparison a point's receive time must pass
    /// (`> received_after`, `<= received_upto`): what each backend translates into its own condition.
    pub(crate) fn receive_bounds(&self) -> impl Iterator<Item = (&'static str, Timestamp)> {
        [(">", self.received_after), ("<=", self.received_upto)]
            .into_iter()
            .filter_map(|(op, bound)| Some((op, bound?)))
    }
}

/// The storage interface. Implemented by the embedded and PostgreSQL backends.
///
/// Appends do not go through this trait directly: callers use [`Store::append_points`], which hands
/// the points to the store's group-commit writer, which calls [`Backend::commit_points`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Commits one batch in one transaction and returns, for each point, whether it was newly
    /// stored (false for a duplicate, including a repeat within the batch). Also moves the latest
    /// positions forward (the PostgreSQL backend writes them behind the commit, see [`Backend::flush`];
    /// its reads include them at once). Resolves only when the transaction is durable. Called by the
    /// writer.
    async fn commit_points(&self, points: &[Position]) -> Result<Vec<bool>>;

    /// Writes what the backend holds behind its commits (the PostgreSQL backend's latest positions);
    /// called at shutdown (by [`Backend::close`]) so that another process reading the database finds
    /// them at once. Nothing acknowledged depends on it: what it would write is rebuilt from the stored
    /// points at open.
    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Ends the backend's background work and leaves the database tidy for the next start: the embedded
    /// store truncates its WAL, PostgreSQL writes what it holds behind its commits (as [`Backend::flush`]).
    /// Called last at a clean stop, once the writer has answered its last append; writes after it fail.
    async fn close(&self) -> Result<()> {
        self.flush().await
    }

    /// The latest position of every vehicle that has one, in one query.
    async fn latest_positions(&self) -> Result<Vec<Position>>;

    /// The latest position of one vehicle.
    async fn latest_position(&self, vehicle: VehicleId) -> Result<Option<Position>>;

    /// The points a [`TrackQuery`] asks for, in fix-time order, streamed: the one track read each
    /// backend writes; [`Backend::track`] and [`Backend::track_received_after`] name its two uses.
    async fn read_track(&self, q: TrackQuery) -> Result<TrackStream>;

    /// The points of one vehicle with `from <= fix_time < to`, in fix-time order, streamed.
    async fn track(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<TrackStream> {
        self.read_track(TrackQuery {
            vehicle,
            from,
            to,
            received_after: None,
            received_upto: None,
        })
        .await
    }

    /// The points of one vehicle with `from <= fix_time < to` received after `received_after` (a later
    /// receive time), in fix-time order, streamed (see [`TrackQuery::received_after`]).
    async fn track_received_after(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
        received_after: Timestamp,
    ) -> Result<TrackStream> {
        self.read_track(TrackQuery {
            vehicle,
            from,
            to,
            received_after: Some(received_after),
            received_upto: None,
        })
        .await
    }

    /// The points of `vehicles` with `from <= fix_time` received in `(after, upto]`, in no particular
    /// order: what a consumer of arrivals over many cars reads from its cursor every poll (a JT/T 809
    /// link's forwarding position, a window at a time when it is behind). The same points as
    /// [`Backend::track_received_after`] over each vehicle, up to `upto`; a backend answers it in one
    /// round trip where a query per car costs (PostgreSQL plans and runs each), and reads car by car where
    /// that is cheap (the embedded store, in process). Either way both ends bound the read itself
    /// ([`TrackQuery::received_upto`]), so a window does not read the arrivals after it.
    async fn received_between(
        &self,
        vehicles: &[VehicleId],
        from: Timestamp,
        (after, upto): (Timestamp, Timestamp),
    ) -> Result<Vec<Position>> {
        received_between_by_vehicle(self, vehicles, from, (after, upto)).await
    }

    /// How many points [`Backend::track`] would hand out now for the same range, counted without
    /// reading them: a download states its size (and is audited with it) before its first byte.
    async fn track_count(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<u64>;

    /// Moves the rows of every vehicle-day up to China day `through_day` into blocks ([`blocks`]), one
    /// vehicle at a time, each in one transaction with deleting its rows.
    async fn compact_blocks(&self, through_day: i64) -> Result<CompactSummary>;

    /// Every stored block that does not decode.
    async fn damaged_blocks(&self) -> Result<Vec<DamagedBlock>>;

    /// Points and bytes on disk of the track store's layers (rows, blocks, indexes), then of the blocks
    /// per month.
    async fn layer_stats(&self) -> Result<Vec<LayerStats>>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// The versions of the migrations applied, ascending.
    async fn applied_migrations(&self) -> Result<Vec<u32>>;
}

/// [`Backend::received_between`] read car by car, each car's track bounded by the receive window.
pub(crate) async fn received_between_by_vehicle<B: Backend + ?Sized>(
    backend: &B,
    vehicles: &[VehicleId],
    from: Timestamp,
    (after, upto): (Timestamp, Timestamp),
) -> Result<Vec<Position>> {
    use futures::TryStreamExt;
    use tianshu_model::record::FIX_TIME_RANGE_MS;
    let mut out = Vec::new();
    for &vehicle in vehicles {
        let q = TrackQuery {
            vehicle,
            from,
            to: Timestamp(FIX_TIME_RANGE_MS.end),
            received_after: Some(after),
            received_upto: Some(upto),
        };
        let mut track = backend.read_track(q).await?;
        while let Some(p) = track.try_next().await? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Settings of a store, whichever backend it opens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The group-commit writer.
    pub writer: WriterConfig,
    /// The embedded backend.
    pub embedded: embedded::EmbeddedConfig,
    /// The PostgreSQL backend.
    pub postgres: postgres::PostgresConfig,
    /// Track blocks, on every backend.
    pub blocks: BlocksConfig,
}

/// The concrete backend behind a [`Store`], for areas that add their own traits.
#[derive(Clone)]
pub enum BackendKind {
    /// The embedded (SQLite) store.
    Embedded(Arc<embedded::EmbeddedBackend>),
    /// PostgreSQL / TimescaleDB.
    Postgres(Arc<postgres::PostgresBackend>),
}

/// A handle to the store; cheap to clone. Every clone shares one group-commit writer.
#[derive(Clone)]
pub struct Store {
    /// The backend, as the shared trait.
    backend: Arc<dyn Backend>,
    /// The backend, as its concrete type.
    kind: BackendKind,
    /// The database, for the areas written once over [`sql::Tx`].
    db: db::Db,
    /// The writer's queue and fan-out.
    writer: writer::WriterHandle,
    /// The registry's coalesced lookups and registration writes.
    registry_batch: Arc<registry_batch::RegistryBatch>,
    /// When points are packed into blocks.
    blocks: BlocksConfig,
}

/// The default embedded store path when `--store` is omitted (relative to the working directory).
pub const DEFAULT_STORE_PATH: &str = "tianshu-data/tianshu.db";

impl Store {
    /// Opens the store named by `url` with default settings: a file path or `sqlite:PATH` opens the
    /// embedded store, `postgres://` (or `postgresql://`) PostgreSQL. Applies pending migrations.
    /// Must be called within a Tokio runtime (it starts the writer task).
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, &StoreConfig::default()).await
    }

    /// Opens the store named by `url` with `config`.
    pub async fn open_with(url: &str, config: &StoreConfig) -> Result<Store> {
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            BackendKind::Postgres(Arc::new(
                postgres::PostgresBackend::open(url, &config.postgres).await?,
            ))
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            if path.is_empty() {
                return Err(Error::BadUrl {
                    url: url.to_string(),
                    reason: "empty path".into(),
                });
            }
            if path.contains("://") {
                return Err(Error::BadUrl {
                    url: url.to_string(),
                    reason: "expected a file path, sqlite:PATH or postgres://user@host:port/db".into(),
                });
            }
            BackendKind::Embedded(Arc::new(
                embedded::EmbeddedBackend::open(path.as_ref(), &config.embedded).await?,
            ))
        };
        let backend: Arc<dyn Backend> = match &kind {
            BackendKind::Embedded(b) => b.clone(),
            BackendKind::Postgres(b) => b.clone(),
        };
        let writer = writer::spawn(backend.clone(), &config.writer);
        let db = db::Db(kind.clone(), None);
        Ok(Store {
            backend,
            registry_batch: Arc::new(registry_batch::RegistryBatch::spawn(&db)),
            db,
            kind,
            writer,
            blocks: config.blocks.clone(),
        })
    }

    /// This store with audit records chained with `key` (HMAC-SHA256) from now on; without a key they
    /// are chained unkeyed, which a store whose chain is already keyed refuses.
    pub fn with_audit_key(mut self, key: Option<tianshu_model::access::AuditKey>) -> Store {
        self.db.1 = key;
        self
    }

    /// Stores a batch through the group-commit writer; resolves when it is durable, with what it did.
    /// Waits when the writer's queue is full.
    /// A point whose fix time is before 1970 or from year 3000 on is refused with [`Error::Invalid`]
    /// before it reaches the writer, so that it cannot fail the commit of other callers' points.
    pub async fn append_points(&self, points: &[Position]) -> Result<AppendSummary> {
        check_fix_times(points)?;
        self.writer.append(points.to_vec()).await
    }

    /// Like [`Store::append_points`], without copying the batch.
    pub async fn append_points_owned(&self, points: Vec<Position>) -> Result<AppendSummary> {
        check_fix_times(&points)?;
        self.writer.append(points).await
    }

    /// Packs every vehicle-day older than the configured `keep_days` (at `now`) into blocks.
    pub async fn compact_blocks_at(&self, now: Timestamp) -> Result<CompactSummary> {
        let through = tianshu_model::block::last_blocked_day(now, self.blocks.keep_days);
        let started = std::time::Instant::now();
        let mut done = self.backend.compact_blocks(through).await?;
        if let Some(days) = self.blocks.retain_days {
            done.expired = blocks::expire_blocks(&self.db, blocks::first_retained_day(now, days)).await?;
        }
        tracing::info!(
            expired = done.expired,
            through_day = %tianshu_model::block::china_day_start(through).to_rfc3339(),
            blocks = done.blocks,
            points = done.points,
            damaged = done.damaged,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "track blocks compacted"
        );
        Ok(done)
    }

    /// Every stored block that does not decode.
    pub async fn damaged_blocks(&self) -> Result<Vec<DamagedBlock>> {
        self.backend.damaged_blocks().await
    }

    /// Runs [`Store::compact_blocks_at`] every `compact_every_secs` (first after one period) until the
    /// returned task is dropped or aborted; a failed run is logged and retried at the next period.
    pub fn spawn_block_compaction(&self) -> Option<tokio::task::JoinHandle<()>> {
        let every = self.blocks.compact_every_secs;
        if every == 0 {
            return None;
        }
        let store = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = Timestamp::from_datetime(&chrono::Utc::now());
                if let Err(e) = store.compact_blocks_at(now).await {
                    tracing::warn!(error = %e, "track block compaction failed; will retry");
                }
            }
        }))
    }

    /// Writes what the backend holds behind its commits (see [`Backend::flush`]).
    pub async fn flush(&self) -> Result<()> {
        self.backend().flush().await
    }

    /// Shuts the store down, last at a clean stop: the writer stops taking appends (later ones fail with
    /// [`Error::Closed`]), commits and answers those already queued and ends its followers' feeds, then
    /// the backend closes ([`Backend::close`]; the embedded store leaves an empty WAL).
    pub async fn close(&self) -> Result<()> {
        self.writer.close().await;
        self.backend.close().await
    }

    /// Whether the group-commit writer's queue is full (appends are waiting for commits): the database
    /// is not keeping up. `/readyz` reports it.
    pub fn writer_saturated(&self) -> bool {
        self.writer.saturated()
    }

    /// The health of TimescaleDB's policy jobs on `points` as last read (about once a minute; empty on
    /// other layouts): `/readyz` lists it.
    pub fn timescale_jobs(&self) -> Vec<JobHealth> {
        match &self.kind {
            BackendKind::Postgres(pg) => pg.job_health(),
            BackendKind::Embedded(_) => Vec::new(),
        }
    }

    /// Whether the writer's last commit failed (cleared by the next one that succeeds): nothing is being
    /// acknowledged, whatever a ping says (a full disk still answers queries).
    pub fn writer_failing(&self) -> bool {
        self.writer.failing()
    }

    /// Makes committed points reach subscribers and followers only through [`Store::deliver_committed`]:
    /// for a process fed by a bus, where other processes' writers commit too and each committed point
    /// arrives once, from the bus.
    pub fn fan_out_externally(&self) {
        self.writer.fan_out_externally();
    }

    /// Hands points committed elsewhere (and read back from a bus) to subscribers and followers.
    pub fn deliver_committed(&self, points: Vec<Position>) {
        self.writer.deliver(points);
    }

    /// Hands points committed elsewhere to followers only (the rules, when their cars are shared out).
    pub fn deliver_committed_to_followers(&self, points: Vec<Position>) {
        self.writer.deliver_to_followers(points);
    }

    /// Hands points committed elsewhere to subscribers only (the live map, fed every point).
    pub fn deliver_committed_to_subscribers(&self, points: Vec<Position>) {
        self.writer.deliver_to_subscribers(points);
    }

    /// Subscribes to committed points (newly inserted only, in commit order). A subscriber that
    /// falls behind loses the oldest batches; the loss is counted.
    pub fn subscribe(&self) -> Subscription {
        self.writer.subscribe()
    }

    /// Follows committed points from now on (newly inserted only): every one is handed over at least
    /// once; what a lagging follower's queue could not hold is read back from the store ([`follow`]).
    /// For consumers that must not miss a point, such as the alert rules.
    pub fn follow(&self) -> Cursor {
        self.writer.follow(self.backend.clone())
    }

    /// The backend, as the shared trait.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The database, for the areas written over [`sql::Tx`].
    pub(crate) fn db(&self) -> &db::Db {
        &self.db
    }

    /// The registry's coalesced calls.
    pub(crate) fn registry_batch(&self) -> &registry_batch::RegistryBatch {
        &self.registry_batch
    }

    /// The concrete backend, for areas that implement their own traits on it.
    pub fn kind(&self) -> &BackendKind {
        &self.kind
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

/// Refuses a batch holding a point whose fix time the store does not take ([`accepts_fix_time`]), before
/// it reaches a writer: here, and on a gateway that publishes to a bus instead (a point acknowledged there
/// must be one a writer can commit).
pub fn check_fix_times(points: &[Position]) -> Result<()> {
    match points.iter().position(|p| !accepts_fix_time(p.fix_time)) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(format!(
            "point {i} has fix time {} ms, outside 1970..3000",
            points[i].fix_time.0
        ))),
    }
}

/// Parses a stored phone number.
pub(crate) fn parse_stored_phone(s: &str) -> Result<Phone> {
    Phone::parse(s).map_err(|e| Error::Corrupt(format!("stored phone {s:?}: {e}")))
}

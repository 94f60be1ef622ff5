//! The group-commit writer: one task per store that turns many appends into one transaction.
//!
//! Sessions never write to the database themselves. [`Store::append_points`](crate::Store::append_points)
//! puts the batch and a reply channel on a bounded queue (when it is full, the caller waits: terminals,
//! unanswered, retransmit). The writer takes the first waiting append, then gathers more for at most
//! `max_batch_delay_ms` or until `max_batch_points`, commits everything in one transaction
//! ([`Backend::commit_points`]), and only then answers every waiter of that batch with its own
//! [`AppendSummary`], or with the error: nothing is acknowledged that was not committed.
//!
//! After a commit, and before its appends are answered, the newly inserted points go to subscribers
//! and followers (so a resolved append's points are already on every feed); the spine is never slowed
//! by a slow reader. Subscribers ([`Subscription`], for the live map: a newer position supersedes a
//! lost one) share a bounded broadcast: one that falls behind loses the oldest batches, counted in
//! `tianshu_store_fanout_lagged_batches_total` and on the [`Subscription`]. Followers
//! ([`Cursor`](crate::Cursor), for the alert rules) must see every point: one that falls behind catches
//! up from the store (see [`follow`](crate::follow)).
//!
//! At a clean stop [`Store::close`](crate::Store::close) closes the queue: appends already queued are
//! committed and answered, later ones fail with [`Error::Closed`], and the followers' feeds end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tianshu_model::Position;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::follow::{Capacity, Cursor, Followers};
use crate::metrics::metrics;
use crate::{AppendSummary, Backend, CommittedBatch, Error, Result};

/// Settings of the group-commit writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriterConfig {
    /// A batch is committed once it holds this many points, without waiting for the delay.
    pub max_batch_points: usize,
    /// How long the writer waits for more appends after the first one of a batch. A few milliseconds
    /// share one commit among many sessions at little cost in latency.
    pub max_batch_delay_ms: u64,
    /// Appends (not points) that may wait for the writer; when full, callers wait.
    pub queue_capacity_appends: usize,
    /// Committed batches buffered for each subscriber and each follower. A subscriber further behind
    /// loses the oldest; a follower further behind catches up from the store.
    pub fanout_capacity_batches: usize,
    /// Committed points buffered for each follower, whatever the batches' sizes: a follower further
    /// behind (the rules, slower than ingest for a while) catches up from the store instead of holding
    /// every point in memory.
    pub follower_capacity_points: usize,
    /// Batches being committed at once. Two let a PostgreSQL commit overlap the next batch's COPY;
    /// answers and fan-out still follow batch order.
    pub max_commits_in_flight: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch_points: 5_000,
            max_batch_delay_ms: 5,
            queue_capacity_appends: 4_096,
            fanout_capacity_batches: 1_024,
            follower_capacity_points: 50_000,
            max_commits_in_flight: 2,
        }
    }
}

/// One append waiting for the writer.
struct Request {
    points: Vec<Position>,
    reply: oneshot::Sender<Result<AppendSummary>>,
}

/// Where committed points go: the lossy broadcast to subscribers, and every follower.
#[derive(Clone)]
struct Fanout {
    live: broadcast::Sender<Arc<CommittedBatch>>,
    followers: Followers,
    /// Each follower's queue.
    follower_capacity: Capacity,
    /// Whether the last commit failed (cleared by the next one that succeeds): for `/readyz`.
    failing: Arc<std::sync::atomic::AtomicBool>,
    /// Set when committed points come from elsewhere (a bus, where several writers commit): this
    /// writer's commits then reach subscribers and followers only through [`WriterHandle::deliver`].
    external: Arc<std::sync::atomic::AtomicBool>,
}

/// The store's side of the writer: its queue and its fan-out.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    queue: mpsc::Sender<Request>,
    fanout: Fanout,
    /// Set to ask the writer to stop taking appends and finish what it holds.
    close: Arc<watch::Sender<bool>>,
    /// Becomes true once the writer has answered its last append.
    stopped: watch::Receiver<bool>,
}

impl WriterHandle {
    /// Queues an append (waiting while the queue is full) and waits for its commit.
    pub(crate) async fn append(&self, points: Vec<Position>) -> Result<AppendSummary> {
        if points.is_empty() {
            return Ok(AppendSummary::default());
        }
        let (reply, answer) = oneshot::channel();
        let n = points.len() as i64;
        metrics().queue_points.add(n);
        if self.queue.send(Request { points, reply }).await.is_err() {
            metrics().queue_points.sub(n);
            return Err(Error::Closed);
        }
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Whether the queue is full: every further append waits until a commit frees a place. For
    /// `/readyz`: a saturated writer means the database is not keeping up.
    pub(crate) fn saturated(&self) -> bool {
        self.queue.capacity() == 0
    }

    /// Whether the last commit failed: while commits fail (database down, disk full) nothing is
    /// acknowledged, so the process should not be called ready.
    pub(crate) fn failing(&self) -> bool {
        self.fanout.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops taking appends (later ones fail with [`Error::Closed`]), commits and answers every append
    /// already queued, and returns once the writer has ended (its followers then see the end).
    pub(crate) async fn close(&self) {
        self.close.send_replace(true);
        let mut stopped = self.stopped.clone();
        // An error means the writer task is gone: stopped as well.
        let _ = stopped.wait_for(|s| *s).await;
    }

    /// From now on, subscribers and followers see only what [`WriterHandle::deliver`] hands them, not
    /// this writer's own commits.
    pub(crate) fn fan_out_externally(&self) {
        self.fanout
            .external
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Hands points committed elsewhere to subscribers and followers, as if this writer had committed them.
    pub(crate) fn deliver(&self, points: Vec<Position>) {
        if !points.is_empty() {
            deliver_batch(Arc::new(CommittedBatch { points }), &self.fanout);
        }
    }

    /// Hands points committed elsewhere to the followers only (the live subscribers are fed apart).
    pub(crate) fn deliver_to_followers(&self, points: Vec<Position>) {
        if !points.is_empty() {
            self.fanout
                .followers
                .deliver(&Arc::new(CommittedBatch { points }));
        }
    }

    /// Hands points committed elsewhere to the live subscribers only (the followers are fed apart).
    pub(crate) fn deliver_to_subscribers(&self, points: Vec<Position>) {
        if !points.is_empty() {
            let _ = self.fanout.live.send(Arc::new(CommittedBatch { points }));
        }
    }

    /// A new subscription to committed points.
    pub(crate) fn subscribe(&self) -> Subscription {
        Subscription {
            inner: self.fanout.live.subscribe(),
            missed_batches: 0,
        }
    }

    /// A new follower of committed points; it catches up through `backend` when it falls behind.
    pub(crate) fn follow(&self, backend: Arc<dyn Backend>) -> Cursor {
        self.fanout
            .followers
            .follow(backend, self.fanout.follower_capacity)
    }
}

/// A subscriber's view of committed points.
pub struct Subscription {
    inner: broadcast::Receiver<Arc<CommittedBatch>>,
    missed_batches: u64,
}

impl Subscription {
    /// The next committed batch; `None` once the store is closed. Batches lost because this
    /// subscriber fell behind are skipped and counted.
    pub async fn recv(&mut self) -> Option<Arc<CommittedBatch>> {
        loop {
            match self.inner.recv().await {
                Ok(batch) => return Some(batch),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.missed_batches += n;
                    metrics().fanout_lagged_batches.inc_by(n);
                    tracing::warn!(missed_batches = n, "store subscriber fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Batches this subscriber has lost by falling behind.
    pub fn missed_batches(&self) -> u64 {
        self.missed_batches
    }
}

/// Starts the writer task for `backend`; it ends when every handle is dropped.
pub(crate) fn spawn(backend: Arc<dyn Backend>, config: &WriterConfig) -> WriterHandle {
    let (queue, rx) = mpsc::channel(config.queue_capacity_appends.max(1));
    let fanout = Fanout {
        live: broadcast::channel(config.fanout_capacity_batches.max(1)).0,
        followers: Followers::default(),
        follower_capacity: Capacity {
            batches: config.fanout_capacity_batches.max(1),
            points: config.follower_capacity_points.max(1),
        },
        failing: Arc::default(),
        external: Arc::default(),
    };
    let (close, close_rx) = watch::channel(false);
    let (stopped_tx, stopped) = watch::channel(false);
    let handle = WriterHandle {
        queue,
        fanout: fanout.clone(),
        close: Arc::new(close),
        stopped,
    };
    let limits = Limits {
        max_points: config.max_batch_points.max(1),
        delay: Duration::from_millis(config.max_batch_delay_ms),
        max_in_flight: config.max_commits_in_flight.max(1),
    };
    tokio::spawn(async move {
        run(backend, rx, close_rx, fanout, limits).await;
        stopped_tx.send_replace(true);
    });
    handle
}

/// How the writer cuts and overlaps batches.
struct Limits {
    max_points: usize,
    delay: Duration,
    max_in_flight: usize,
}

/// A commit that has finished, with the appends it answers.
struct Outcome {
    batch: Vec<Request>,
    points: Vec<Position>,
    result: Result<Vec<bool>>,
}

async fn run(
    backend: Arc<dyn Backend>,
    mut rx: mpsc::Receiver<Request>,
    mut close: watch::Receiver<bool>,
    fanout: Fanout,
    limits: Limits,
) {
    use futures::StreamExt;
    let m = metrics();
    // Commits run as their own tasks (a PostgreSQL commit overlaps the next batch's gathering and
    // COPY); they are answered and fanned out strictly in the order their batches were cut, so a
    // subscriber sees each vehicle's points in the order they were appended.
    let mut in_flight = futures::stream::FuturesOrdered::new();
    let mut open = true;
    let mut closing = false;
    while open || !in_flight.is_empty() {
        tokio::select! {
            biased;
            // Closing: no append is taken any more; those already queued are still received below.
            // (The only change is to `true`; an error means every handle is gone.)
            _ = close.changed(), if !closing => {
                closing = true;
                rx.close();
            }
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let done: Result<Outcome, tokio::task::JoinError> = done;
                match done {
                    Ok(outcome) => finish(outcome, &fanout),
                    // The commit task panicked: its waiters' reply channels are dropped with it,
                    // so they see `Error::Closed`; nothing is acknowledged.
                    Err(e) => tracing::error!(error = %e, "store commit task failed"),
                }
            }
            first = rx.recv(), if open && in_flight.len() < limits.max_in_flight => {
                let Some(first) = first else {
                    open = false;
                    continue;
                };
                let mut batch = vec![first];
                let mut n_points = batch[0].points.len();
                let deadline = tokio::time::Instant::now() + limits.delay;
                while n_points < limits.max_points {
                    // Take what is already queued without waiting, then wait for the rest of the window.
                    let next = match rx.try_recv() {
                        Ok(r) => Some(r),
                        Err(mpsc::error::TryRecvError::Empty) => {
                            tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten()
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => None,
                    };
                    let Some(r) = next else { break };
                    n_points += r.points.len();
                    batch.push(r);
                }
                m.queue_points.sub(n_points as i64);
                let backend = backend.clone();
                in_flight.push_back(tokio::spawn(async move {
                    let mut points = Vec::with_capacity(n_points);
                    for r in &batch {
                        points.extend_from_slice(&r.points);
                    }
                    let started = Instant::now();
                    let result = backend.commit_points(&points).await;
                    m.commit_seconds.observe(started.elapsed().as_secs_f64());
                    m.batch_points.observe(n_points as f64);
                    Outcome { batch, points, result }
                }));
            }
        }
    }
    fanout.followers.close();
    tracing::debug!("store writer stopped");
}

/// Answers every append of a finished commit and fans out what was new.
fn finish(outcome: Outcome, fanout: &Fanout) {
    let m = metrics();
    let Outcome {
        batch,
        points,
        result,
    } = outcome;
    let n_points = points.len();
    let result = match result {
        Ok(inserted) if inserted.len() != n_points => {
            let e = Error::Corrupt(format!(
                "backend answered {} flags for {n_points} points",
                inserted.len()
            ));
            tracing::error!(error = %e, points = n_points, "store commit answered wrongly");
            Err(e)
        }
        other => other,
    };
    fanout
        .failing
        .store(result.is_err(), std::sync::atomic::Ordering::Relaxed);
    match result {
        Ok(inserted) => {
            // Fan out first, then answer: once an append has resolved, its new points are already
            // on every subscriber's feed (the live map never trails an acknowledgement).
            let stored = fan_out_new(&points, &inserted, fanout);
            m.points_duplicate.inc_by((n_points - stored) as u64);
            let mut offset = 0;
            for r in batch {
                let flags = &inserted[offset..offset + r.points.len()];
                let new = flags.iter().filter(|f| **f).count() as u64;
                let summary = AppendSummary {
                    inserted: new,
                    duplicates: flags.len() as u64 - new,
                };
                offset += r.points.len();
                // A caller that stopped waiting (its session closed) is no error: the data is stored.
                let _ = r.reply.send(Ok(summary));
            }
        }
        Err(e) => {
            m.commit_errors.inc();
            match &e {
                // What did commit is durable and new: it goes to subscribers (a retry will find it stored
                // and report it as a duplicate, which is not fanned out). Nothing is acknowledged.
                Error::PartlyCommitted { inserted, cause } if inserted.len() == n_points => {
                    let stored = fan_out_new(&points, inserted, fanout);
                    tracing::warn!(error = %cause, points = n_points, committed = stored, appends = batch.len(), "store commit partly failed; nothing acknowledged");
                }
                _ => {
                    tracing::warn!(error = %e, points = n_points, appends = batch.len(), "store commit failed; nothing acknowledged")
                }
            }
            for r in batch {
                let _ = r.reply.send(Err(e.clone()));
            }
        }
    }
}

/// Sends the newly stored points of a commit (`inserted[i]` for `points[i]`) to subscribers and
/// counts them; returns how many there were.
fn fan_out_new(points: &[Position], inserted: &[bool], fanout: &Fanout) -> usize {
    let fresh: Vec<Position> = points
        .iter()
        .zip(inserted)
        .filter(|(_, new)| **new)
        .map(|(p, _)| *p)
        .collect();
    let n = fresh.len();
    metrics().points_stored.inc_by(n as u64);
    if n > 0 && !fanout.external.load(std::sync::atomic::Ordering::Relaxed) {
        deliver_batch(Arc::new(CommittedBatch { points: fresh }), fanout);
    }
    n
}

/// Puts a committed batch on every follower's queue and the subscribers' broadcast.
fn deliver_batch(batch: Arc<CommittedBatch>, fanout: &Fanout) {
    fanout.followers.deliver(&batch);
    // No subscriber is not an error either.
    let _ = fanout.live.send(batch);
}

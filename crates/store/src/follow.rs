//! Followers: consumers that must see every committed point (the alert rules), beside the lossy
//! subscribers of [`Store::subscribe`](crate::Store::subscribe) (the live map, which the next position
//! supersedes).
//!
//! The writer never waits on a follower. Each follower ([`Store::follow`](crate::Store::follow)) has a
//! bounded queue of committed batches: at most `fanout_capacity_batches` batches and
//! `follower_capacity_points` points (a batch holds up to `max_batch_points`, so a bound in batches alone
//! would let a lagging follower hold millions of points). When a batch does not fit, the writer folds it
//! into a per-vehicle summary instead: the earliest and the latest fix time of the points not delivered.
//! The summary is bounded by the number of vehicles, not of points. Once a summary exists, every later
//! batch is folded into it too (nothing newer overtakes what is behind), until the follower takes it.
//!
//! The follower ([`Cursor::recv`]) drains its queue first; then, finding a summary, it takes it (the
//! writer queues again from here) and catches up from the store: for each summarised vehicle it reads the
//! committed track over that fix-time range and yields it as one batch in fix-time order, marked
//! [`Followed::caught_up`]. Every point that was not delivered is in one of these ranges, so none is
//! missed. The ranges can also hold points that were delivered before (an out-of-order point spanning
//! delivered ones) and points committed after the summary was taken (yielded again by the queue): a
//! follower sees every committed point at least once, and must tolerate seeing one again (the alert
//! runtime recognises a repeat by its key). A failed read is retried after a pause; the range stays
//! pending, so a store outage delays a catch-up but does not lose it.
//!
//! [`Cursor::recv`] is cancel-safe (it can be a `tokio::select!` branch): a read under way is kept in
//! the cursor and resumed by the next call, and a range leaves the pending list only when its points are
//! returned.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use tianshu_model::{Position, Timestamp, VehicleId};
use tokio::sync::Notify;

use crate::metrics::metrics;
use crate::{Backend, CommittedBatch, Result};

/// Pause before a failed catch-up read is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The earliest and the latest fix time of a vehicle's points not delivered to a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    first: Timestamp,
    last: Timestamp,
}

/// What the writer and a follower share.
#[derive(Default)]
struct Inbox {
    queue: VecDeque<Arc<CommittedBatch>>,
    /// The points in `queue`.
    queued_points: usize,
    /// Points not delivered, summarised per vehicle; non-empty only once the queue has overflowed.
    behind: HashMap<VehicleId, Span>,
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    ready: Notify,
    capacity: Capacity,
}

/// How much a follower's queue holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capacity {
    /// Committed batches.
    pub(crate) batches: usize,
    /// Points, over all those batches.
    pub(crate) points: usize,
}

impl Shared {
    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        // The critical sections cannot panic; a poisoned lock still holds consistent data.
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `batch`, or folds it into the summary when the queue is full or a summary is pending.
    fn offer(&self, batch: &Arc<CommittedBatch>) {
        {
            let mut inbox = self.inbox();
            let fits = inbox.queue.len() < self.capacity.batches
                && inbox.queued_points + batch.points.len() <= self.capacity.points;
            if inbox.behind.is_empty() && fits {
                inbox.queue.push_back(batch.clone());
                inbox.queued_points += batch.points.len();
            } else {
                fold(&mut inbox.behind, &batch.points);
                metrics().follow_deferred_points.inc_by(batch.points.len() as u64);
            }
        }
        self.ready.notify_one();
    }
}

/// Adds `points` to the per-vehicle summary of what was not delivered.
fn fold(behind: &mut HashMap<VehicleId, Span>, points: &[Position]) {
    for p in points {
        behind
            .entry(p.vehicle)
            .and_modify(|s| {
                s.first = s.first.min(p.fix_time);
                s.last = s.last.max(p.fix_time);
            })
            .or_insert(Span {
                first: p.fix_time,
                last: p.fix_time,
            });
    }
}

/// The writer's side: every live follower.
#[derive(Clone, Default)]
pub(crate) struct Followers {
    list: Arc<Mutex<Vec<Weak<Shared>>>>,
}

impl Followers {
    /// A new follower, seeing what is committed from now on.
    pub(crate) fn follow(&self, backend: Arc<dyn Backend>, capacity: Capacity) -> Cursor {
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox::default()),
            ready: Notify::new(),
            capacity,
        });
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(&shared));
        Cursor {
            shared,
            backend,
            pending: Vec::new(),
            read: None,
            catch_ups: 0,
            caught_up_points: 0,
        }
    }

    /// Hands a committed batch to every follower; forgets the dropped ones.
    pub(crate) fn deliver(&self, batch: &Arc<CommittedBatch>) {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|f| match f.upgrade() {
            Some(shared) => {
                shared.offer(batch);
                true
            }
            None => false,
        });
    }

    /// Tells every follower that nothing more will be committed.
    pub(crate) fn close(&self) {
        for f in self.list.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            if let Some(shared) = f.upgrade() {
                shared.inbox().closed = true;
                shared.ready.notify_one();
            }
        }
    }
}

/// Committed points handed to a follower.
#[derive(Debug, Clone)]
pub struct Followed {
    /// The points: a committed batch in append order, or one vehicle's caught-up range in fix-time order.
    pub batch: Arc<CommittedBatch>,
    /// Whether the points were read back from the store to catch up (some may have been handed over
    /// before).
    pub caught_up: bool,
}

impl std::ops::Deref for Followed {
    type Target = CommittedBatch;
    fn deref(&self) -> &CommittedBatch {
        &self.batch
    }
}

/// A follower's position over committed points: it sees every one at least once (see the module docs).
pub struct Cursor {
    shared: Arc<Shared>,
    backend: Arc<dyn Backend>,
    /// The ranges of the summary being caught up, the next one last.
    pending: Vec<(VehicleId, Span)>,
    /// The read of the last pending range, kept across cancelled calls.
    read: Option<BoxFuture<'static, Vec<Position>>>,
    catch_ups: u64,
    caught_up_points: u64,
}

impl Cursor {
    /// The next committed points; `None` once the store is closed and everything has been handed over.
    pub async fn recv(&mut self) -> Option<Followed> {
        loop {
            if let Some(item) = self.next_caught_up().await {
                return Some(item);
            }
            let notified = self.shared.ready.notified();
            {
                let mut inbox = self.shared.inbox();
                if let Some(batch) = inbox.queue.pop_front() {
                    inbox.queued_points -= batch.points.len();
                    return Some(Followed {
                        batch,
                        caught_up: false,
                    });
                }
                if !inbox.behind.is_empty() {
                    let mut pending: Vec<(VehicleId, Span)> = inbox.behind.drain().collect();
                    drop(inbox);
                    pending.sort_unstable_by_key(|(v, _)| std::cmp::Reverse(*v));
                    self.pending = pending;
                    self.catch_ups += 1;
                    metrics().follow_catch_ups.inc();
                    continue;
                }
                if inbox.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Reads the next pending range back from the store; `None` when no catch-up is under way.
    async fn next_caught_up(&mut self) -> Option<Followed> {
        while let Some(&(vehicle, span)) = self.pending.last() {
            let backend = &self.backend;
            let read = self
                .read
                .get_or_insert_with(|| Box::pin(read_range(backend.clone(), vehicle, span)));
            let points = read.await;
            self.read = None;
            self.pending.pop();
            if points.is_empty() {
                continue;
            }
            self.caught_up_points += points.len() as u64;
            metrics().follow_caught_up_points.inc_by(points.len() as u64);
            return Some(Followed {
                batch: Arc::new(CommittedBatch { points }),
                caught_up: true,
            });
        }
        None
    }

    /// Whether points were not delivered through the queue and wait to be read back from the store.
    pub fn behind(&self) -> bool {
        !self.pending.is_empty() || !self.shared.inbox().behind.is_empty()
    }

    /// Committed points waiting in this follower's queue (those folded into the summary are not held).
    pub fn queued_points(&self) -> usize {
        self.shared.inbox().queued_points
    }

    /// Whether nothing committed waits to be handed over.
    pub fn is_drained(&self) -> bool {
        let inbox = self.shared.inbox();
        self.pending.is_empty() && inbox.queue.is_empty() && inbox.behind.is_empty()
    }

    /// How many times this follower fell behind and caught up from the store.
    pub fn catch_ups(&self) -> u64 {
        self.catch_ups
    }

    /// Points this follower read back from the store to catch up.
    pub fn caught_up_points(&self) -> u64 {
        self.caught_up_points
    }
}

/// The committed points of `vehicle` over `span`, both ends included, in fix-time order; retried until
/// the store answers.
async fn read_range(backend: Arc<dyn Backend>, vehicle: VehicleId, span: Span) -> Vec<Position> {
    loop {
        let read = async {
            let stream = backend
                .track(vehicle, span.first, span.last.add_millis(1))
                .await?;
            stream.try_collect::<Vec<Position>>().await
        };
        let result: Result<Vec<Position>> = read.await;
        match result {
            Ok(points) => return points,
            Err(e) => {
                metrics().follow_read_errors.inc();
                tracing::warn!(vehicle = %vehicle, error = %e, "reading committed points back to catch up failed; retrying");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

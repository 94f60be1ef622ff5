//! Where sessions hand their points, and how they learn the points are durable.
//!
//! A session never writes to the database itself: it gives a batch (the points of one frame) to a
//! [`PointSink`] and gets back a future that resolves once the batch is durable. Only then does the session
//! send 0x8001. The production sink is the store's group-commit writer, which gathers the batches of all
//! sessions into one transaction; [`StoreSink`] calls the store directly (one append per frame) and
//! [`DurableAtOnce`] is the stand-in used to measure the network path alone. The gateway's own alert cases
//! (re-registrations) go to a [`CaseSink`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use tianshu_model::Position;
use tianshu_model::case::NewCase;
use tianshu_store::{AppendSummary, Store};

/// Records the gateway's alert cases; the alert runtime sets one on the gateway so that they are routed
/// and notified like the rules' cases.
pub trait CaseSink: Send + Sync + 'static {
    /// Records `case` (or updates the case with its vehicle, rule and start) with its notifications; its id.
    fn record(&self, case: NewCase) -> BoxFuture<'static, tianshu_store::Result<i64>>;
}

/// Takes batches of points and says when they are durable.
pub trait PointSink: Send + Sync + 'static {
    /// Hands over one frame's points; the future resolves when they are durable (or failed: nothing of the
    /// batch may then be acknowledged). It must not borrow the sink, so sessions can keep many in flight.
    fn append(&self, points: Vec<Position>) -> BoxFuture<'static, tianshu_store::Result<AppendSummary>>;
}

/// Appends straight to the store, one append per frame.
#[derive(Clone)]
pub struct StoreSink(pub Store);

impl PointSink for StoreSink {
    fn append(&self, points: Vec<Position>) -> BoxFuture<'static, tianshu_store::Result<AppendSummary>> {
        let store = self.0.clone();
        async move { store.append_points_owned(points).await }.boxed()
    }
}

/// A stand-in that declares every batch durable at once, so a benchmark measures the network path alone.
/// It counts what it was given, for the benchmark to check.
#[derive(Debug, Default, Clone)]
pub struct DurableAtOnce {
    /// Points accepted so far.
    pub points: Arc<AtomicU64>,
}

impl PointSink for DurableAtOnce {
    fn append(&self, points: Vec<Position>) -> BoxFuture<'static, tianshu_store::Result<AppendSummary>> {
        let n = points.len() as u64;
        self.points.fetch_add(n, Ordering::Relaxed);
        futures::future::ready(Ok(AppendSummary {
            inserted: n,
            duplicates: 0,
        }))
        .boxed()
    }
}

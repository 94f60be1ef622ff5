//! The car pool's notices queued in the alert outbox.
//!
//! The store does not route: whoever asks for an assignment or a settlement passes a [`NoticeRoute`]
//! (the alerts' routing, loaded by the caller), which turns the notices written in the transaction into
//! outbox rows in that same transaction; without one, the notices are recorded with the request only.

use std::sync::Arc;

use tianshu_model::Timestamp;
use tianshu_model::carpool::CarRequest;
use tianshu_model::case::NewCase;

use crate::Result;
use crate::rules::NewDelivery;
use crate::sql::{Tx, params};

/// How the car pool's notices reach the channels (the alerts' routing), applied in the transaction that
/// writes them.
pub trait NoticeRoute: Send + Sync {
    /// The outbox rows of an assignment's notices (recipient `requester:<username>` or
    /// `driver:<phone>`, and text) about `request`, as assigned.
    fn assignment(&self, request: &CarRequest, notices: &[(String, String)]) -> Vec<NewDelivery>;

    /// The outbox rows of the case a settlement opens, its id written as `CASE_ID_TOKEN`.
    fn case(&self, case: &NewCase) -> Vec<NewDelivery>;
}

/// A route, when the caller has one.
pub type Route = Option<Arc<dyn NoticeRoute>>;

/// Where a caller gets the route at a time (the channels as they are then); an error when it cannot.
pub type Router = Arc<
    dyn Fn(
            Timestamp,
        ) -> futures::future::BoxFuture<'static, std::result::Result<Arc<dyn NoticeRoute>, String>>
        + Send
        + Sync,
>;

/// Queues `ds` about request `id` in the outbox.
pub(crate) async fn queue(tx: &mut dyn Tx, id: i64, ds: &[NewDelivery], now: Timestamp) -> Result<()> {
    for d in ds {
        tx.execute(
            "INSERT INTO alert_outbox (carpool_request_id, channel, recipient, payload, state, attempts, \
             next_attempt_ms, created_ms) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            params![id, &d.channel, &d.recipient, &d.payload, now],
        )
        .await?;
    }
    Ok(())
}

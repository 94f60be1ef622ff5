//! A pool trip after its assignment: the track it is settled from, the assigned trips a settlement pass
//! looks at, the requester's rating, and the deliveries of its notices (queued as `carpool_notices.rs`
//! says).

use futures::TryStreamExt;
use tianshu_model::carpool::{CarRequest, Rating, RequestState};
use tianshu_model::{Position, Timestamp};
use tianshu_rules::carpool::settlement_span;

use crate::carpool::{Carpool, REQUEST_COLS, REQUEST_FROM, request_locked, to_request};
pub use crate::carpool_notices::{NoticeRoute, Route, Router};
use crate::cases::{DELIVERY_COLS, to_delivery};
use crate::db::Change;
use crate::rules::Delivery;
use crate::sql::{Tx, params, tx};
use crate::{Error, Result};

async fn rate(tx: &mut dyn Tx, id: i64, rating: Rating) -> Result<CarRequest> {
    let rating = rating.checked().map_err(Error::invalid)?;
    let mut request = request_locked(tx, id).await?;
    if request.state != RequestState::Settled {
        return Err(Error::Conflict(format!(
            "request {id} is {}: only a settled trip is rated",
            request.state.as_str()
        )));
    }
    let body = serde_json::to_string(&rating).map_err(|e| Error::Corrupt(e.to_string()))?;
    tx.execute(
        "UPDATE carpool_requests SET rating = $1 WHERE id = $2",
        params![body, id],
    )
    .await?;
    request.rating = Some(rating);
    Ok(request)
}

impl<'a> Carpool<'a> {
    /// The assigned trips whose window started by `now`, earliest end first: what a settlement pass
    /// looks at.
    pub async fn assigned_started(&self, now: Timestamp) -> Result<Vec<CarRequest>> {
        let sql = format!(
            "SELECT {REQUEST_COLS} FROM {REQUEST_FROM} WHERE r.state = $1 AND r.start_ms <= $2 \
             ORDER BY r.end_ms, r.id"
        );
        let args = vec![RequestState::Assigned.as_str().into(), now.into()];
        self.db.rows(sql, args, to_request).await
    }

    /// The committed track an assigned trip is settled from, up to `until` when given: from an hour
    /// before its window to six hours after it, cut at the start of the car's next order
    /// (`tianshu_rules::carpool::settlement_span`). Empty for a request never assigned.
    pub async fn trip_track(&self, request: &CarRequest, until: Option<Timestamp>) -> Result<Vec<Position>> {
        let Some(a) = &request.assignment else {
            return Ok(Vec::new());
        };
        let sql = "SELECT MIN(start_ms) FROM rules_orders WHERE plate = $1 AND id <> $2 AND start_ms >= $3 \
                   AND state <> 'cancelled'"
            .to_string();
        let args = vec![
            a.plate.as_str().into(),
            a.order.as_str().into(),
            request.fields.end.into(),
        ];
        let next = self
            .db
            .row(sql, args, |r| Ok(r.opt_int(0)?.map(Timestamp)))
            .await?
            .flatten();
        let (from, to) = settlement_span(&request.fields, next);
        let to = until.map_or(to, |u| to.min(u));
        if to <= from {
            return Ok(Vec::new());
        }
        self.store.track(a.vehicle, from, to).await?.try_collect().await
    }

    /// The requester's rating of a settled trip (who may rate is `CarRequest::may_rate`'s): only once
    /// settled ([`Error::Conflict`]); a later rating replaces it.
    pub fn rate(&self, id: i64, rating: &Rating) -> Change<'a, CarRequest> {
        let rating = rating.clone();
        Change::new(self.db, tx!(|tx| rate(tx, id, rating)))
    }

    /// The notifications queued about a request (its assignment's), in order.
    pub async fn deliveries(&self, id: i64) -> Result<Vec<Delivery>> {
        let sql =
            format!("SELECT {DELIVERY_COLS} FROM alert_outbox WHERE carpool_request_id = $1 ORDER BY id");
        self.db.rows(sql, vec![id.into()], to_delivery).await
    }
}

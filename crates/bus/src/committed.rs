//! Committed points from the bus, fed to this process's rules and live map.
//!
//! With a bus, several writers commit, each only part of the points; what this process's alert rules
//! (`Store::follow`) and live map (`Store::subscribe`) see must be every committed point, so the store's own
//! fan-out is switched off ([`Store::fan_out_externally`]) and [`run`] hands them what the committed stream
//! holds, read through an ordered consumer from the moment the process starts. A point may arrive twice
//! (a writer that died before acknowledging commits its batch again); the rules recognise a repeat.

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use tianshu_store::Store;

use crate::metrics::METRICS;
use crate::wire::decode_points;
use crate::{Bus, BusError};

/// Switches `store`'s fan-out to the committed stream and feeds it until `stop` resolves.
pub async fn run(
    bus: Bus,
    store: Store,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), BusError> {
    let name = bus.config.committed_stream.clone();
    let stream_error = |reason: String| BusError::Stream {
        name: name.clone(),
        reason,
    };
    let stream = bus
        .js
        .get_stream(&name)
        .await
        .map_err(|e| stream_error(e.to_string()))?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: "tianshu.committed.*".into(),
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|e| stream_error(e.to_string()))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| stream_error(e.to_string()))?;
    store.fan_out_externally();
    let mut stop = std::pin::pin!(stop);
    loop {
        let next = tokio::select! {
            _ = &mut stop => break,
            next = messages.next() => next,
        };
        match next {
            Some(Ok(message)) => match decode_points(&message.payload) {
                Ok(points) => {
                    METRICS.committed_received.inc_by(points.len() as u64);
                    store.deliver_committed(points);
                }
                Err(e) => {
                    METRICS.dead_letters.inc();
                    tracing::warn!(subject = %message.subject, error = %e, "committed message does not decode; skipped");
                }
            },
            Some(Err(e)) => {
                tracing::warn!(error = %e, "reading committed points failed; the consumer resumes")
            }
            None => break,
        }
    }
    Ok(())
}

//! Committed points from the bus, fed to this process's rules and live map.
//!
//! With a bus, several writers commit, each only part of the points; what this process's alert rules
//! (`Store::follow`) and live map (`Store::subscribe`) see must be every committed point, so the store's own
//! fan-out is switched off ([`Store::fan_out_externally`]) and a [`Feed`] hands them what the committed stream
//! holds, read through an ordered consumer from the moment the process starts. A point may arrive twice
//! (a writer that died before acknowledging commits its batch again); the rules recognise a repeat.

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use tianshu_store::Store;

use crate::metrics::METRICS;
use crate::wire::decode_points;
use crate::{Bus, BusError};

/// The committed stream, read from the moment it was opened into one store's fan-out.
pub struct Feed {
    messages: async_nats::jetstream::consumer::pull::Ordered,
    store: Store,
    /// Whether the store's followers (the rules) are fed too, or only its subscribers (the live map: the
    /// rules then read the partitions they hold, see [`crate::lease`]).
    followers: bool,
}

impl Feed {
    /// Opens an ordered consumer of everything committed from now on and switches `store`'s fan-out to
    /// it: from here on its followers and subscribers see what every writer commits, once [`Feed::run`]
    /// runs. Opened before the process takes any point, so nothing committed after the start is missed.
    /// `followers`: whether the store's followers are fed as well as its subscribers.
    pub async fn open(bus: &Bus, store: Store, followers: bool) -> Result<Feed, BusError> {
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
        let messages = consumer
            .messages()
            .await
            .map_err(|e| stream_error(e.to_string()))?;
        store.fan_out_externally();
        Ok(Feed {
            messages,
            store,
            followers,
        })
    }

    /// Hands committed points to the store's followers and subscribers until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        loop {
            let next = tokio::select! {
                _ = &mut stop => break,
                next = self.messages.next() => next,
            };
            match next {
                Some(Ok(message)) => match decode_points(&message.payload) {
                    Ok(points) => {
                        METRICS.committed_received.inc_by(points.len() as u64);
                        match self.followers {
                            true => self.store.deliver_committed(points),
                            false => self.store.deliver_committed_to_subscribers(points),
                        }
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
    }
}

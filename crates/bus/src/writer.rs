//! The writer role: what the points stream holds, committed to the store, then acknowledged.
//!
//! Every writer process pulls from one durable consumer (`tianshu-writers`, explicit acknowledgement), so
//! any number of writers share the partitions' messages. A writer takes the first message, gathers more
//! for a few milliseconds or up to `writer_batch_messages`, commits all their points with the store's
//! idempotent append (the group-commit writer), publishes them to `tianshu.committed.<partition>` and waits
//! for that stream's PubAck, and only then acknowledges the messages. A writer that dies before the
//! acknowledgement leaves its messages to be delivered again after `ack_wait_secs` (to another writer, or
//! itself restarted): the store's key stores them once, and the committed stream gets them again, which
//! its readers tolerate (the rules recognise a point they have seen).
//!
//! A failed commit (the database down or failing over) acknowledges nothing and asks for redelivery a
//! little later; meanwhile the stream buffers. A message that does not decode is moved to
//! [`DEAD_LETTER_SUBJECT`], counted and terminated, and the batch goes on; a message the store refuses
//! for good (a point it can never take) is moved there as well, alone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use tianshu_model::Position;
use tianshu_store::Store;

use crate::config::{DEAD_LETTER_SUBJECT, committed_subject};
use crate::metrics::METRICS;
use crate::wire::{decode_points, encode_points, partition_of};
use crate::{Bus, BusError};

/// The durable consumer every writer shares.
pub const WRITERS_CONSUMER: &str = "tianshu-writers";
/// How long a writer gathers messages for one batch after the first.
const GATHER: Duration = Duration::from_millis(5);
/// How long a failed batch's messages wait before they are delivered again.
const REDELIVER_AFTER: Duration = Duration::from_secs(1);
/// How often the consumer's lag is read for the metrics.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// Runs the writer role until `stop` resolves; returns an error only when the consumer cannot be set up.
pub async fn run(
    bus: Bus,
    store: Store,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), BusError> {
    let c = &bus.config;
    let stream_error = |reason: String| BusError::Stream {
        name: format!("{}/{WRITERS_CONSUMER}", c.points_stream),
        reason,
    };
    let stream = bus
        .js
        .get_stream(&c.points_stream)
        .await
        .map_err(|e| stream_error(e.to_string()))?;
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            WRITERS_CONSUMER,
            pull::Config {
                durable_name: Some(WRITERS_CONSUMER.into()),
                filter_subject: "tianshu.points.*".into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(c.ack_wait_secs.max(1)),
                max_ack_pending: 100_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| stream_error(e.to_string()))?;
    let max = c.writer_batch_messages.max(1);
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(max)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .map_err(|e| stream_error(e.to_string()))?;
    tracing::info!(stream = %c.points_stream, consumer = WRITERS_CONSUMER, "bus writer started");
    let mut stop = std::pin::pin!(stop);
    let mut lag_read = tokio::time::Instant::now();
    loop {
        let first = tokio::select! {
            _ = &mut stop => break,
            next = messages.next() => next,
        };
        let first = match first {
            Some(Ok(m)) => m,
            Some(Err(e)) if e.kind() == MessagesErrorKind::MissingHeartbeat => {
                // Nothing came for a while (or the bus is away): the stream pulls again.
                tracing::debug!(error = %e, "bus writer: no heartbeat");
                continue;
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "bus writer: pulling messages failed");
                continue;
            }
            None => break,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + GATHER;
        while batch.len() < max {
            match tokio::time::timeout_at(deadline, messages.next()).await {
                Ok(Some(Ok(m))) => batch.push(m),
                _ => break,
            }
        }
        commit_batch(&bus, &store, batch).await;
        if lag_read.elapsed() >= LAG_EVERY {
            lag_read = tokio::time::Instant::now();
            if let Ok(info) = stream.consumer_info(WRITERS_CONSUMER).await {
                METRICS
                    .consumer_pending
                    .with_label_values(&[&c.points_stream])
                    .set(info.num_pending as i64);
            }
        }
    }
    tracing::info!("bus writer stopped");
    Ok(())
}

/// Commits one batch of messages and acknowledges them, or asks for their redelivery.
async fn commit_batch(bus: &Bus, store: &Store, batch: Vec<Message>) {
    let mut good = Vec::with_capacity(batch.len());
    let mut points = Vec::new();
    for message in batch {
        match decode_points(&message.payload) {
            Ok(p) => {
                points.extend_from_slice(&p);
                good.push((message, p.len()));
            }
            Err(e) => dead_letter(bus, message, &e.to_string()).await,
        }
    }
    if good.is_empty() {
        return;
    }
    match store.append_points(&points).await {
        Ok(_) => {
            observe_commit_lag(&good);
            if let Err(e) = publish_committed(bus, &points).await {
                tracing::warn!(error = %e, "bus writer: publishing committed points failed; redelivery will publish them again");
                redeliver(good).await;
                return;
            }
            METRICS.points_committed.inc_by(points.len() as u64);
            METRICS.messages_committed.inc_by(good.len() as u64);
            for (message, _) in good {
                if let Err(e) = message.ack().await {
                    tracing::warn!(error = %e, "bus writer: acknowledging a committed message failed; it will be stored once again");
                }
            }
        }
        Err(e) if !e.is_transient() && good.len() > 1 => {
            // One message's point the store can never take: commit the messages one by one, so only that
            // one is set aside.
            tracing::warn!(error = %e, messages = good.len(), "bus writer: the store refused a batch; committing its messages one by one");
            for (message, _) in good {
                Box::pin(commit_batch(bus, store, vec![message])).await;
            }
        }
        Err(e) if !e.is_transient() => {
            for (message, _) in good {
                dead_letter(bus, message, &e.to_string()).await;
            }
        }
        Err(e) => {
            METRICS.commit_failures.inc();
            tracing::warn!(error = %e, points = points.len(), "bus writer: commit failed; messages left for redelivery");
            redeliver(good).await;
        }
    }
}

/// The time from each message's PubAck (the stream's own record of when it stored the message) to now,
/// its points just committed.
fn observe_commit_lag(committed: &[(Message, usize)]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    for (message, _) in committed {
        if let Ok(info) = message.info() {
            let lag_ns = (now - info.published.unix_timestamp_nanos()).max(0);
            METRICS.commit_lag_seconds.observe(lag_ns as f64 / 1e9);
        }
    }
}

/// Publishes committed points to their partitions' committed subjects and waits for every PubAck.
async fn publish_committed(bus: &Bus, points: &[Position]) -> Result<(), String> {
    let mut by_partition: BTreeMap<u16, Vec<Position>> = BTreeMap::new();
    for p in points {
        by_partition
            .entry(partition_of(p.vehicle, bus.config.partitions))
            .or_default()
            .push(*p);
    }
    let mut acks = Vec::with_capacity(by_partition.len());
    for (partition, points) in by_partition {
        let mut payload = Vec::with_capacity(points.len() * 80);
        encode_points(&points, &mut payload);
        let ack = bus
            .js
            .publish(committed_subject(partition), payload.into())
            .await
            .map_err(|e| e.to_string())?;
        acks.push(ack);
    }
    for ack in acks {
        ack.await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Asks for a later redelivery of messages whose commit failed.
async fn redeliver(messages: Vec<(Message, usize)>) {
    for (message, _) in messages {
        let _ = message.ack_with(AckKind::Nak(Some(REDELIVER_AFTER))).await;
    }
}

/// Moves a message to the dead-letter subject (with its subject and the reason in headers), counts it and
/// terminates it on the stream, so its partition goes on.
async fn dead_letter(bus: &Bus, message: Message, reason: &str) {
    METRICS.dead_letters.inc();
    tracing::warn!(subject = %message.subject, reason, "bus writer: message moved to the dead letters");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Tianshu-Subject", message.subject.as_str());
    headers.insert("Tianshu-Reason", reason);
    if let Err(e) = bus
        .client
        .publish_with_headers(DEAD_LETTER_SUBJECT, headers, message.payload.clone())
        .await
    {
        tracing::warn!(error = %e, "bus writer: publishing a dead letter failed");
    }
    let _ = message.ack_with(AckKind::Term).await;
}

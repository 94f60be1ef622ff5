//! The gateway's side: points published to the stream in groups, acknowledged only after the PubAck.
//!
//! [`BusSink`] is what sessions (JT/T 808 and MQTT) hand their points to when a bus is configured. Like
//! the store's group-commit writer, one task takes the first waiting batch, gathers more for `flush_ms` or
//! until `max_group_points`, splits them by partition, and publishes one message per partition (many
//! sessions' points in each, in arrival order: a vehicle's points keep their order). The batches are
//! answered when every message holding their points has its PubAck, or with the error: a point the
//! stream did not take is never acknowledged, the terminal retransmits, and the store's key stores a
//! retransmission once. Messages are sent in order on the one connection; their PubAcks are awaited by a
//! task of their own, so the next group gathers meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use futures::FutureExt;
use futures::future::BoxFuture;
use tianshu_ingest::PointSink;
use tianshu_model::Position;
use tianshu_store::{AppendSummary, Error};
use tokio::sync::{mpsc, oneshot};

use crate::Bus;
use crate::config::points_subject;
use crate::metrics::METRICS;
use crate::wire::{encode_points, message_id, partition_of};

/// Batches waiting for the publishing task; when full, sessions wait.
const QUEUE_BATCHES: usize = 4_096;

/// One frame's points waiting to be published.
struct Pending {
    points: Vec<Position>,
    reply: oneshot::Sender<tianshu_store::Result<AppendSummary>>,
}

/// Publishes sessions' points to the points stream and says when the stream holds them.
#[derive(Clone)]
pub struct BusSink {
    queue: mpsc::Sender<Pending>,
}

impl BusSink {
    /// Starts the publishing task on `bus`; it ends when every clone of the sink is dropped.
    pub fn spawn(bus: &Bus) -> BusSink {
        let (queue, rx) = mpsc::channel(QUEUE_BATCHES);
        tokio::spawn(run(bus.clone(), rx));
        tokio::spawn(watch_horizon(bus.clone(), queue.downgrade()));
        BusSink { queue }
    }
}

impl PointSink for BusSink {
    fn append(&self, points: Vec<Position>) -> BoxFuture<'static, tianshu_store::Result<AppendSummary>> {
        let queue = self.queue.clone();
        async move {
            if points.is_empty() {
                return Ok(AppendSummary::default());
            }
            tianshu_store::check_fix_times(&points)?;
            let (reply, answer) = oneshot::channel();
            queue
                .send(Pending { points, reply })
                .await
                .map_err(|_| Error::Closed)?;
            answer.await.map_err(|_| Error::Closed)?
        }
        .boxed()
    }
}

/// Gathers, publishes, and hands each group's PubAcks to a task that answers its batches.
async fn run(bus: Bus, mut rx: mpsc::Receiver<Pending>) {
    let flush = Duration::from_millis(bus.config.flush_ms);
    let max_points = bus.config.max_group_points.max(1);
    while let Some(first) = rx.recv().await {
        let mut n_points = first.points.len();
        let mut group = vec![first];
        let deadline = tokio::time::Instant::now() + flush;
        while n_points < max_points {
            let next = match rx.try_recv() {
                Ok(p) => Some(p),
                Err(mpsc::error::TryRecvError::Empty) => {
                    tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten()
                }
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            let Some(p) = next else { break };
            n_points += p.points.len();
            group.push(p);
        }
        let sent = send_group(&bus, &group).await;
        tokio::spawn(answer(group, sent));
    }
}

/// A message sent to the stream, with the batches (by index in the group) whose points it holds.
struct Sent {
    ack: Result<PublishAckFuture, String>,
    batches: Vec<usize>,
    points: usize,
    bytes: usize,
    started: Instant,
}

/// Splits a group by partition and sends one message per partition, in partition order.
async fn send_group(bus: &Bus, group: &[Pending]) -> Vec<Sent> {
    let partitions = bus.config.partitions;
    let mut by_partition: BTreeMap<u16, (Vec<Position>, Vec<usize>)> = BTreeMap::new();
    for (i, pending) in group.iter().enumerate() {
        for p in &pending.points {
            let (points, batches) = by_partition
                .entry(partition_of(p.vehicle, partitions))
                .or_default();
            points.push(*p);
            if batches.last() != Some(&i) {
                batches.push(i);
            }
        }
    }
    let mut sent = Vec::with_capacity(by_partition.len());
    for (partition, (points, batches)) in by_partition {
        let mut payload = Vec::with_capacity(points.len() * 80);
        encode_points(&points, &mut payload);
        let bytes = payload.len();
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(message_id(&points));
        let started = Instant::now();
        let ack = bus
            .js
            .send_publish(points_subject(partition), message)
            .await
            .map_err(|e| e.to_string());
        sent.push(Sent {
            ack,
            batches,
            points: points.len(),
            bytes,
            started,
        });
    }
    sent
}

/// Awaits every message's PubAck and answers each batch: Ok only when all of its messages were taken.
async fn answer(group: Vec<Pending>, sent: Vec<Sent>) {
    let mut failed: Vec<Option<String>> = vec![None; group.len()];
    for message in sent {
        let outcome = match message.ack {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                METRICS
                    .publish_seconds
                    .observe(message.started.elapsed().as_secs_f64());
                METRICS.points_published.inc_by(message.points as u64);
                METRICS.bytes_published.inc_by(message.bytes as u64);
            }
            Err(reason) => {
                METRICS
                    .publish_failures
                    .with_label_values(&[failure_kind(&reason)])
                    .inc();
                tracing::warn!(points = message.points, error = %reason, "bus did not take a group of points; not acknowledged");
                for i in message.batches {
                    failed[i] = Some(reason.clone());
                }
            }
        }
    }
    for (pending, failure) in group.into_iter().zip(failed) {
        let result = match failure {
            None => Ok(AppendSummary {
                inserted: pending.points.len() as u64,
                duplicates: 0,
            }),
            Some(reason) => Err(Error::Unavailable(format!("bus: {reason}"))),
        };
        // A session that stopped waiting is no error: the stream holds its points.
        let _ = pending.reply.send(result);
    }
}

/// The metric label of a publication's failure: the stream full, a timeout, or anything else.
fn failure_kind(reason: &str) -> &'static str {
    let reason = reason.to_ascii_lowercase();
    if reason.contains("maximum bytes") || reason.contains("resources exceeded") || reason.contains("full") {
        "stream_full"
    } else if reason.contains("timed out") || reason.contains("timeout") {
        "timeout"
    } else {
        "other"
    }
}

/// How often the buffer horizon is worked out.
const HORIZON_EVERY: Duration = Duration::from_secs(10);

/// Every [`HORIZON_EVERY`], the points stream's buffer horizon ([`horizon_secs`]) from its own state: the
/// messages every gateway added since the last look (its last sequence), at the bytes a message holds on
/// it (this gateway's published messages when the stream is empty). Ends with the sink.
async fn watch_horizon(bus: Bus, sink: mpsc::WeakSender<Pending>) {
    let config = &bus.config;
    let mut last: Option<(Instant, u64)> = None;
    loop {
        tokio::time::sleep(HORIZON_EVERY).await;
        if sink.upgrade().is_none() {
            return;
        }
        let info = async {
            bus.js
                .get_stream(&config.points_stream)
                .await
                .ok()?
                .get_info()
                .await
                .ok()
        };
        let Some(info) = info.await else {
            continue;
        };
        let state = info.state;
        let now = Instant::now();
        if let Some((then, sequence)) = last {
            let messages_per_sec =
                state.last_sequence.saturating_sub(sequence) as f64 / (now - then).as_secs_f64().max(1e-3);
            let bytes_per_message = if state.messages > 0 {
                state.bytes as f64 / state.messages as f64
            } else {
                METRICS.bytes_published.get() as f64
                    / METRICS.publish_seconds.get_sample_count().max(1) as f64
            };
            let free = u64::try_from(config.points_max_bytes)
                .unwrap_or(0)
                .saturating_sub(state.bytes);
            METRICS.buffer_horizon_seconds.set(horizon_secs(
                free,
                messages_per_sec * bytes_per_message,
                config.points_max_age_secs,
            ));
        }
        last = Some((now, state.last_sequence));
    }
}

/// How long a stream with `free` bytes left could take `bytes_per_sec` with nothing taken off it before it
/// is full, and never longer than it keeps a message (`max_age_secs`): what a writers' outage may last
/// before terminals are refused or points dropped.
pub fn horizon_secs(free: u64, bytes_per_sec: f64, max_age_secs: u64) -> f64 {
    let max_age = max_age_secs as f64;
    if bytes_per_sec <= 0.0 {
        return max_age;
    }
    (free as f64 / bytes_per_sec).min(max_age)
}

#[cfg(test)]
mod tests {
    use super::horizon_secs;

    #[test]
    fn the_horizon_is_the_free_bytes_at_the_rate_and_never_past_the_age_bound() {
        // 10 GiB free at 616 kB/s (7,000 points/s of 88 bytes): 4.8 hours.
        let h = horizon_secs(10 * 1024 * 1024 * 1024, 7_000.0 * 88.0, 7 * 86_400);
        assert!((h - 17_431.0).abs() < 1.0, "{h}");
        // A city's 5 points/s would fill it in 282 days: the 7 days the stream keeps a message bound it.
        assert_eq!(
            horizon_secs(10 * 1024 * 1024 * 1024, 5.0 * 88.0, 7 * 86_400),
            604_800.0
        );
        // Nothing arriving, or a full stream.
        assert_eq!(horizon_secs(1_000, 0.0, 3_600), 3_600.0);
        assert_eq!(horizon_secs(0, 100.0, 3_600), 0.0);
    }
}

//! MQTT ingest: messages in, durable points, PUBACK out.
//!
//! Two tasks. The connection task polls the event loop without ever blocking on the store (rumqttc needs
//! continuous polling for keep-alives), subscribes after every connection acknowledgement, and reconnects
//! with exponential backoff. The processing task turns each message into points, hands them to the store's
//! group-commit writer, and acknowledges messages *in the order they arrived* (MQTT 3.1.1 §4.6) once each
//! one's points are durable. Many messages are in flight at once, so one commit serves hundreds of them.
//!
//! Invariants:
//! - A PUBACK is sent only after the message's points are committed, or after the message was refused
//!   (a refused message is counted, logged with its topic, and acknowledged so it does not loop).
//! - Store failures: a transient one ([`tianshu_store::Error::is_transient`]: the database unreachable, a
//!   commit failed part way) is retried with backoff while the messages stay unacknowledged. A permanent
//!   one (the store refuses the points and would refuse them again) is never retried: the group's messages
//!   are appended one by one, and the one the store refuses is refused as `store_refused` (counted and
//!   acknowledged), so one poison message neither loops nor holds back the acknowledgements behind it.
//!   Points reach the store already checked by the uplink, so this is the last line, not the usual path.
//! - Acknowledgements for messages of an earlier connection are not sent: the broker redelivers those
//!   messages, and the store's idempotence stores the redelivery once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tianshu_store::Store;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::client::{self, Client, Event, EventLoop};
use crate::config::{MqttConfig, Subscription};
use crate::metrics::METRICS;
use crate::process::{Finished, GROUP_MAX_MESSAGES, Outcome, Processor, Received};
use crate::topic::TopicRoutes;

/// The ingest connection's state, for `/readyz`.
#[derive(Debug, Default)]
pub struct MqttStatus {
    connected: AtomicBool,
}

impl MqttStatus {
    /// Whether the ingest connection to the broker is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
        METRICS.connected.set(i64::from(up));
    }
}

/// Runs MQTT ingest until `shutdown` resolves: connects to the broker in `config`, subscribes, stores what
/// arrives and acknowledges it after commit. Returns when shut down (after acknowledging what was committed).
pub async fn run(
    config: MqttConfig,
    password: Option<String>,
    store: Store,
    status: Arc<MqttStatus>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), client::ClientError> {
    let sink = Arc::new(tianshu_ingest::StoreSink(store.clone()));
    run_into(config, password, store, sink, status, shutdown).await
}

/// [`run`], with the points handed to `sink` (a bus) instead of the store's writer: each PUBACK is sent
/// once the sink says the message's points are durable. The registry is still read from `store`.
pub async fn run_into(
    config: MqttConfig,
    password: Option<String>,
    store: Store,
    sink: Arc<dyn tianshu_ingest::PointSink>,
    status: Arc<MqttStatus>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), client::ClientError> {
    let routes = Arc::new(TopicRoutes::new(&config.subscriptions));
    let (client, eventloop) = client::connect(&config, &config.client_id, password.as_deref(), true)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let generation = Arc::new(AtomicU64::new(0));
    // Unbounded on purpose: the connection task must never wait on processing, or the event loop stops
    // being polled, acknowledgements stop being sent, and the broker stops delivering: a deadlock. What
    // arrives is bounded by the broker's in-flight window (MQTT 5 receive maximum, or the broker's own
    // limit); processing takes at most `max_inflight_messages` at once, the rest waits here.
    let (tx, rx) = mpsc::unbounded_channel::<Received>();
    let connection = Connection {
        client: client.clone(),
        generation: generation.clone(),
        status: status.clone(),
        subscriptions: config.subscriptions.clone(),
        min_backoff: Duration::from_millis(config.reconnect_min_backoff_ms.max(1)),
        max_backoff: Duration::from_millis(config.reconnect_max_backoff_ms.max(1)),
        url: tianshu_model::redact_url(&config.url),
    };
    let conn = tokio::spawn(connection.run(eventloop, tx, stop_rx.clone()));
    let processing = Processing {
        processor: Arc::new(
            Processor::new(store, config.uplink, config.max_packet_bytes, stop_rx).with_sink(sink),
        ),
        routes,
        client: client.clone(),
        generation,
        max_inflight: usize::from(config.max_inflight_messages).max(1),
    };
    processing.run(rx, shutdown).await;
    let _ = stop_tx.send(true);
    client.disconnect().await;
    // Give the event loop a moment to flush the acknowledgements and the DISCONNECT.
    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
    status.set(false);
    METRICS.inflight.set(0);
    Ok(())
}

/// The connection task: polls the event loop, never waiting on the store.
struct Connection {
    /// For subscribing after each connection acknowledgement.
    client: Client,
    /// Incremented at each connection acknowledgement.
    generation: Arc<AtomicU64>,
    /// Up or down, for `/readyz`.
    status: Arc<MqttStatus>,
    /// What to subscribe to.
    subscriptions: Vec<Subscription>,
    /// The first reconnection delay.
    min_backoff: Duration,
    /// The longest reconnection delay.
    max_backoff: Duration,
    /// The broker, for logs.
    url: String,
}

impl Connection {
    /// Hands every message to `tx` with its connection generation, until `stop` turns true.
    async fn run(
        self,
        mut eventloop: EventLoop,
        tx: mpsc::UnboundedSender<Received>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut backoff = self.min_backoff;
        loop {
            let event = tokio::select! {
                e = eventloop.poll() => e,
                _ = stop.changed() => break,
            };
            match event {
                Ok(Event::Connected { session_present }) => {
                    backoff = self.min_backoff;
                    self.connected(session_present);
                }
                Ok(Event::Message(m)) => {
                    let g = self.generation.load(Ordering::SeqCst);
                    METRICS.inflight.inc();
                    if tx.send((g, *m, std::time::Instant::now())).is_err() {
                        break;
                    }
                }
                Ok(Event::Other) => {}
                Err(e) => {
                    if self.status.is_connected() {
                        error!(broker = %self.url, error = %e, "mqtt: connection lost; reconnecting");
                    } else {
                        warn!(broker = %self.url, error = %e, retry_in_ms = backoff.as_millis() as u64, "mqtt: cannot connect");
                    }
                    self.status.set(false);
                    METRICS.connection_errors.with_label_values(&["ingest"]).inc();
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => break,
                    }
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
        self.status.set(false);
    }

    /// A connection acknowledgement: a new generation, and the subscriptions sent (from a task of their own,
    /// so the event loop keeps being polled while they go out).
    fn connected(&self, session_present: bool) {
        let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.status.set(true);
        info!(broker = %self.url, session_present, generation = g, "mqtt: connected");
        let client = self.client.clone();
        let subscriptions = self.subscriptions.clone();
        tokio::spawn(async move {
            for s in &subscriptions {
                if client.subscribe(&s.filter, 1).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The processing side: takes messages in groups, processes several groups at once, acknowledges in order.
struct Processing {
    /// Turns groups into durable points.
    processor: Arc<Processor>,
    /// Which subscription a topic belongs to.
    routes: Arc<TopicRoutes>,
    /// For the acknowledgements.
    client: Client,
    /// The current connection's generation.
    generation: Arc<AtomicU64>,
    /// Most messages taken from the channel and not yet acknowledged.
    max_inflight: usize,
}

impl Processing {
    /// Processes what `rx` delivers until `shutdown` resolves, then lets what is in flight finish briefly.
    async fn run(
        &self,
        mut rx: mpsc::UnboundedReceiver<Received>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let mut pending: FuturesOrdered<BoxFuture<'static, Vec<Finished>>> = FuturesOrdered::new();
        // Messages taken from the channel and not yet acknowledged.
        let mut in_process = 0usize;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(done) = pending.next(), if !pending.is_empty() => {
                    in_process -= done.len();
                    self.ack_all(done).await;
                }
                received = rx.recv(), if in_process < self.max_inflight => {
                    let Some(first) = received else { return };
                    let mut group = vec![first];
                    while group.len() < GROUP_MAX_MESSAGES && in_process + group.len() < self.max_inflight {
                        match rx.try_recv() {
                            Ok(m) => group.push(m),
                            Err(_) => break,
                        }
                    }
                    in_process += group.len();
                    let (processor, routes) = (self.processor.clone(), self.routes.clone());
                    pending.push_back(Box::pin(async move { processor.process_group(&routes, group).await }));
                }
            }
        }
        // Let in-flight appends finish and be acknowledged, briefly; then stop retrying.
        let drain = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(drain);
        loop {
            tokio::select! {
                done = pending.next() => match done {
                    Some(done) => self.ack_all(done).await,
                    None => break,
                },
                _ = &mut drain => break,
            }
        }
    }

    async fn ack_all(&self, done: Vec<Finished>) {
        for d in done {
            ack(&self.client, &self.generation, d).await;
        }
    }
}

/// Acknowledges a finished message, if it belongs to the current connection.
async fn ack(client: &Client, generation: &AtomicU64, (g, message, at, outcome): Finished) {
    METRICS.inflight.dec();
    let send = match outcome {
        Ok(Outcome::Stored) => {
            METRICS.ack_latency_seconds.observe(at.elapsed().as_secs_f64());
            true
        }
        Ok(Outcome::Abandoned) => false,
        Err(r) => {
            METRICS.messages_rejected.with_label_values(&[r.reason]).inc();
            warn!(topic = %message.topic(), reason = r.reason, detail = %r.detail, "mqtt: message rejected");
            true
        }
    };
    if !send {
        return;
    }
    if g != generation.load(Ordering::SeqCst) {
        // The connection it came on is gone; the broker will redeliver it and the store will keep one copy.
        debug!(topic = %message.topic(), "mqtt: not acknowledging a message of an earlier connection");
        return;
    }
    if client.ack(&message).await.is_err() {
        debug!(topic = %message.topic(), "mqtt: client closed before the acknowledgement");
    }
}

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

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tianshu_ingest::uplink::{Binding, Refusal as Rejection, Uplink};
use tianshu_model::{Phone, Position, Timestamp, VehicleId};
use tianshu_store::Store;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::client::{self, Client, Event, Message};
use crate::config::{MqttConfig, PayloadKind};
use crate::metrics::METRICS;
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

/// Known terminals, so that a message does not cost a registry query. Entries expire, so a terminal
/// provisioned while Tianshu runs is accepted soon after.
struct TerminalCache {
    entries: Mutex<HashMap<Phone, (Option<VehicleId>, Instant)>>,
}

/// A known terminal is looked up again after this long (its binding may change).
const KNOWN_TTL: Duration = Duration::from_secs(60);
/// An unknown terminal is looked up again after this long (it may have just been provisioned).
const UNKNOWN_TTL: Duration = Duration::from_secs(5);

impl TerminalCache {
    fn get(&self, phone: Phone) -> Option<Option<VehicleId>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (vehicle, at) = entries.get(&phone)?;
        let ttl = if vehicle.is_some() { KNOWN_TTL } else { UNKNOWN_TTL };
        (at.elapsed() < ttl).then_some(*vehicle)
    }

    fn put(&self, phone: Phone, vehicle: Option<VehicleId>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a flood of made-up phone numbers must not grow memory without end.
        if entries.len() >= 200_000 {
            entries.retain(|_, (v, _)| v.is_some());
            if entries.len() >= 200_000 {
                entries.clear();
            }
        }
        entries.insert(phone, (vehicle, Instant::now()));
    }
}

/// Shared by the processing futures.
struct Shared {
    store: Store,
    terminals: TerminalCache,
    lookup: tokio::sync::Mutex<()>,
    shutdown: watch::Receiver<bool>,
}

/// What became of one message.
enum Outcome {
    /// Its points are durable (or it had none to store).
    Stored,
    /// Shutdown came before the points were durable: do not acknowledge.
    Abandoned,
}

fn now() -> Timestamp {
    Timestamp::from_datetime(&chrono::Utc::now())
}

impl Shared {
    /// The vehicle of `phone` (`Some(None)`: not provisioned or not bound), from the cache or the registry;
    /// retries while the store is unreachable. `None` when shutdown came first.
    async fn vehicle_of(&self, phone: Phone) -> Option<Option<VehicleId>> {
        if let Some(v) = self.terminals.get(phone) {
            return Some(v);
        }
        // One lookup at a time: after a restart hundreds of redelivered messages of one terminal would
        // otherwise each query the registry (and take every pooled connection from the writer).
        let _one_at_a_time = self.lookup.lock().await;
        if let Some(v) = self.terminals.get(phone) {
            return Some(v);
        }
        let mut delay = Duration::from_millis(100);
        loop {
            match self.store.backend().terminal(phone).await {
                Ok(t) => {
                    let vehicle = t.and_then(|t| t.vehicle);
                    self.terminals.put(phone, vehicle);
                    return Some(vehicle);
                }
                Err(e) => {
                    error!(%phone, error = %e, "mqtt: registry lookup failed; retrying");
                    if !self.pause(&mut delay).await {
                        return None;
                    }
                }
            }
        }
    }

    /// Sleeps with backoff; false when shutdown began.
    async fn pause(&self, delay: &mut Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(*delay) => {}
            _ = shutdown.changed() => return false,
        }
        *delay = (*delay * 2).min(Duration::from_secs(5));
        true
    }

    /// Appends until durable, retrying transient failures: `Ok(true)` durable, `Ok(false)` shutdown came
    /// first, `Err` the store refused the points (a permanent error: the same append would fail again).
    async fn append(&self, points: &[Position]) -> Result<bool, tianshu_store::Error> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.store.append_points(points).await {
                Ok(summary) => {
                    METRICS.points_stored.inc_by(summary.inserted);
                    METRICS.points_duplicate.inc_by(summary.duplicates);
                    return Ok(true);
                }
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => {
                    METRICS.store_retries.inc();
                    error!(points = points.len(), error = %e, "mqtt: append failed; message left unacknowledged, retrying");
                    if !self.pause(&mut delay).await {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Stores a group's points with one append, `spans[i]` being the range of `points` that message `i`
    /// carried. Per message: `Ok(true)` durable, `Ok(false)` shutdown came first, `Err` refused by the store.
    /// When the store refuses the group's append, the messages are appended one by one, so only the one it
    /// refuses is refused.
    async fn store_group(&self, points: &[Position], spans: &[Range<usize>]) -> Vec<Result<bool, Rejection>> {
        let refused = |e: tianshu_store::Error| Rejection::new("store_refused", e.to_string());
        match self.append(points).await {
            Ok(durable) => vec![Ok(durable); spans.len()],
            Err(e) if spans.len() == 1 => vec![Err(refused(e))],
            Err(e) => {
                warn!(messages = spans.len(), error = %e, "mqtt: the store refused a group; appending its messages one by one");
                let mut outcomes = Vec::with_capacity(spans.len());
                for span in spans {
                    outcomes.push(self.append(&points[span.clone()]).await.map_err(refused));
                }
                outcomes
            }
        }
    }

    /// Decodes one message and binds its points to the terminal's vehicle. `Ok(None)`: shutdown came first.
    async fn decode(
        &self,
        kind: PayloadKind,
        topic_phone: Phone,
        message: &Message,
        recv: Timestamp,
    ) -> Result<Option<Vec<Position>>, Rejection> {
        let mut scratch = Vec::new();
        let (phone, payload) = Payload::parse(kind, message.payload(), &mut scratch)?;
        if phone != topic_phone {
            return Err(Rejection::new(
                "terminal_mismatch",
                format!("payload names terminal {phone}, topic names {topic_phone}"),
            ));
        }
        let vehicle = match self.vehicle_of(phone).await {
            None => return Ok(None),
            Some(Some(v)) => v,
            Some(None) => {
                return Err(Rejection::new(
                    "unknown_terminal",
                    format!("terminal {phone} is not provisioned"),
                ));
            }
        };
        let binding = Binding {
            phone,
            vehicle,
            recv_time: recv,
        };
        payload.points(binding).map(Some)
    }

    /// Processes a group of messages that arrived together: each is decoded on its own (a bad one is
    /// refused alone), and the points of all the good ones go to the store in one append, which costs the
    /// writer one queue entry instead of one per message.
    async fn process_group(&self, routes: &TopicRoutes, group: Vec<Received>) -> Vec<Finished> {
        let recv = now();
        let mut outcomes: Vec<Result<Outcome, Rejection>> = Vec::with_capacity(group.len());
        let mut points = Vec::with_capacity(group.len());
        // (message index, its range of `points`), for the messages that carried points.
        let mut spans: Vec<(usize, Range<usize>)> = Vec::new();
        for (i, (_, message, _)) in group.iter().enumerate() {
            let outcome = match routes.route(message.topic()) {
                Err(r) => Err(r),
                Ok((kind, phone)) => {
                    received_counter(kind).inc();
                    match self.decode(kind, phone, message, recv).await {
                        Ok(Some(p)) => {
                            if !p.is_empty() {
                                spans.push((i, points.len()..points.len() + p.len()));
                                points.extend(p);
                            }
                            Ok(Outcome::Stored)
                        }
                        Ok(None) => Ok(Outcome::Abandoned),
                        Err(r) => Err(r),
                    }
                }
            };
            outcomes.push(outcome);
        }
        if !spans.is_empty() {
            let ranges: Vec<Range<usize>> = spans.iter().map(|(_, r)| r.clone()).collect();
            let stored = self.store_group(&points, &ranges).await;
            for ((i, _), result) in spans.into_iter().zip(stored) {
                outcomes[i] = match result {
                    Ok(true) => Ok(Outcome::Stored),
                    Ok(false) => Ok(Outcome::Abandoned),
                    Err(r) => Err(r),
                };
            }
        }
        group
            .into_iter()
            .zip(outcomes)
            .map(|((g, m, at), o)| (g, m, at, o))
            .collect()
    }
}

/// A message's payload once validated, before its terminal's vehicle is known.
enum Payload<'a> {
    /// A JSON position.
    Json(crate::json::JsonPosition),
    /// A JT/T 808 message (its body borrowed from the unescaped frame).
    Frame(tianshu_jt808::Message<'a>),
}

impl<'a> Payload<'a> {
    /// Validates a payload of `kind` (a frame is unescaped into `scratch`): the terminal it names and what
    /// it holds.
    fn parse(
        kind: PayloadKind,
        payload: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<(Phone, Self), Rejection> {
        match kind {
            PayloadKind::Json => {
                let p =
                    crate::json::parse_position(payload).map_err(|e| Rejection::new(e.reason, e.detail))?;
                Ok((p.phone, Payload::Json(p)))
            }
            PayloadKind::Jt808 => {
                let (phone, message) = crate::frame::decode(payload, scratch)?;
                Ok((phone, Payload::Frame(message)))
            }
        }
    }

    /// The points for `binding`, through the one uplink TCP uses too. Each refused point is counted; a message
    /// that carried points and kept none is refused: a frame as `bad_frame`, a JSON position with the reason
    /// its point was refused.
    fn points(self, binding: Binding) -> Result<Vec<Position>, Rejection> {
        let (uplink, whole) = match self {
            Payload::Json(p) => (Uplink::from_points([p.point], binding), None),
            Payload::Frame(m) => (crate::frame::points(&m, binding), Some("bad_frame")),
        };
        for r in &uplink.refused {
            METRICS.points_rejected.with_label_values(&[r.reason]).inc();
            debug!(phone = %binding.phone, reason = r.reason, detail = %r.detail, "mqtt: point refused");
        }
        if uplink.all_refused() {
            let first = &uplink.refused[0];
            return Err(Rejection::new(
                whole.unwrap_or(first.reason),
                first.detail.clone(),
            ));
        }
        Ok(uplink.points)
    }
}

/// A message as received: connection generation, the message, when it arrived.
type Received = (u64, Message, Instant);
/// A processed message, ready to be acknowledged (or not).
type Finished = (u64, Message, Instant, Result<Outcome, Rejection>);

/// Most messages processed as one group (one append).
const GROUP_MAX_MESSAGES: usize = 512;

/// Runs MQTT ingest until `shutdown` resolves: connects to the broker in `config`, subscribes, stores what
/// arrives and acknowledges it after commit. Returns when shut down (after acknowledging what was committed).
pub async fn run(
    config: MqttConfig,
    password: Option<String>,
    store: Store,
    status: Arc<MqttStatus>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), client::ClientError> {
    let routes = Arc::new(TopicRoutes::new(&config.subscriptions));
    let (client, mut eventloop) = client::connect(&config, &config.client_id, password.as_deref(), true)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let generation = Arc::new(AtomicU64::new(0));
    let max_inflight = usize::from(config.max_inflight_messages).max(1);
    // Unbounded on purpose: the connection task must never wait on processing, or the event loop stops
    // being polled, acknowledgements stop being sent, and the broker stops delivering: a deadlock. What
    // arrives is bounded by the broker's in-flight window (MQTT 5 receive maximum, or the broker's own
    // limit); processing takes at most `max_inflight_messages` at once, the rest waits here.
    let (tx, mut rx) = mpsc::unbounded_channel::<Received>();

    // The connection task: never waits on the store.
    let conn = {
        let client = client.clone();
        let generation = generation.clone();
        let status = status.clone();
        let subscriptions = config.subscriptions.clone();
        let min_backoff = Duration::from_millis(config.reconnect_min_backoff_ms.max(1));
        let max_backoff = Duration::from_millis(config.reconnect_max_backoff_ms.max(1));
        let url = config.url.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut backoff = min_backoff;
            loop {
                let event = tokio::select! {
                    e = eventloop.poll() => e,
                    _ = stop.changed() => break,
                };
                match event {
                    Ok(Event::Connected { session_present }) => {
                        let g = generation.fetch_add(1, Ordering::SeqCst) + 1;
                        status.set(true);
                        backoff = min_backoff;
                        info!(broker = %url, session_present, generation = g, "mqtt: connected");
                        let client = client.clone();
                        let subscriptions = subscriptions.clone();
                        tokio::spawn(async move {
                            for s in &subscriptions {
                                if client.subscribe(&s.filter, 1).await.is_err() {
                                    return;
                                }
                            }
                        });
                    }
                    Ok(Event::Message(m)) => {
                        let g = generation.load(Ordering::SeqCst);
                        METRICS.inflight.inc();
                        if tx.send((g, *m, Instant::now())).is_err() {
                            break;
                        }
                    }
                    Ok(Event::Other) => {}
                    Err(e) => {
                        if status.is_connected() {
                            error!(broker = %url, error = %e, "mqtt: connection lost; reconnecting");
                        } else {
                            warn!(broker = %url, error = %e, retry_in_ms = backoff.as_millis() as u64, "mqtt: cannot connect");
                        }
                        status.set(false);
                        METRICS.connection_errors.with_label_values(&["ingest"]).inc();
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stop.changed() => break,
                        }
                        backoff = (backoff * 2).min(max_backoff);
                    }
                }
            }
            status.set(false);
        })
    };

    let shared = Arc::new(Shared {
        store,
        terminals: TerminalCache {
            entries: Mutex::new(HashMap::new()),
        },
        lookup: tokio::sync::Mutex::new(()),
        shutdown: stop_rx.clone(),
    });
    let mut pending: FuturesOrdered<futures::future::BoxFuture<'static, Vec<Finished>>> =
        FuturesOrdered::new();
    // Messages taken from the channel and not yet acknowledged.
    let mut in_process = 0usize;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                // Let in-flight appends finish and be acknowledged, briefly; then stop retrying.
                let drain = tokio::time::sleep(Duration::from_secs(5));
                tokio::pin!(drain);
                loop {
                    tokio::select! {
                        done = pending.next() => match done {
                            Some(done) => {
                                for d in done {
                                    ack(&client, &generation, d).await;
                                }
                            }
                            None => break,
                        },
                        _ = &mut drain => break,
                    }
                }
                break;
            }
            Some(done) = pending.next(), if !pending.is_empty() => {
                let done: Vec<Finished> = done;
                in_process -= done.len();
                for d in done {
                    ack(&client, &generation, d).await;
                }
            }
            received = rx.recv(), if in_process < max_inflight => {
                let Some(first) = received else { break };
                let mut group = vec![first];
                while group.len() < GROUP_MAX_MESSAGES && in_process + group.len() < max_inflight {
                    match rx.try_recv() {
                        Ok(m) => group.push(m),
                        Err(_) => break,
                    }
                }
                in_process += group.len();
                let (shared, routes) = (shared.clone(), routes.clone());
                pending.push_back(Box::pin(async move { shared.process_group(&routes, group).await }));
            }
        }
    }
    let _ = stop_tx.send(true);
    client.disconnect().await;
    // Give the event loop a moment to flush the acknowledgements and the DISCONNECT.
    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
    status.set(false);
    METRICS.inflight.set(0);
    Ok(())
}

/// The received-messages counter of a payload kind, looked up once (no label hashing per message).
fn received_counter(kind: PayloadKind) -> &'static prometheus::IntCounter {
    static JSON: std::sync::LazyLock<prometheus::IntCounter> =
        std::sync::LazyLock::new(|| METRICS.messages_received.with_label_values(&["json"]));
    static JT808: std::sync::LazyLock<prometheus::IntCounter> =
        std::sync::LazyLock::new(|| METRICS.messages_received.with_label_values(&["jt808"]));
    match kind {
        PayloadKind::Json => &JSON,
        PayloadKind::Jt808 => &JT808,
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

#[cfg(test)]
mod tests {
    use tianshu_model::{Timestamp, VehicleId};

    use super::*;

    /// A group whose append the store refuses for one message's point: the others are stored, only that
    /// message is refused (and so acknowledged), and nothing is retried forever.
    #[tokio::test]
    async fn a_point_the_store_refuses_costs_only_its_message() {
        let dir = std::env::temp_dir().join(format!("tianshu-mqtt-refusal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.join("refusal.db").display()))
            .await
            .unwrap();
        let (_stop, shutdown) = watch::channel(false);
        let shared = Shared {
            store: store.clone(),
            terminals: TerminalCache {
                entries: Mutex::new(HashMap::new()),
            },
            lookup: tokio::sync::Mutex::new(()),
            shutdown,
        };
        let t0 = Timestamp::from_secs(1_795_737_600);
        let point = |fix_time: Timestamp| Position {
            vehicle: VehicleId(1),
            fix_time,
            ..Default::default()
        };
        // Built by hand: the uplink would have refused the middle one before it reached the store.
        let points = [
            point(t0),
            point(Timestamp::from_millis(-1_000)),
            point(Timestamp::from_secs(t0.secs() + 1)),
        ];
        let spans = [0..1, 1..2, 2..3];
        let outcomes = tokio::time::timeout(Duration::from_secs(30), shared.store_group(&points, &spans))
            .await
            .expect("a refusal of the store is not retried forever");
        assert_eq!(outcomes[0], Ok(true));
        assert_eq!(outcomes[1].as_ref().map_err(|r| r.reason), Err("store_refused"));
        assert_eq!(outcomes[2], Ok(true));
        let stored: Vec<Position> = futures::TryStreamExt::try_collect(
            store
                .track(VehicleId(1), t0, Timestamp::from_secs(t0.secs() + 10))
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(stored.len(), 2, "the other messages' points are stored");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Turning groups of received messages into durable points.
//!
//! Each message of a group is routed by its topic and decoded on its own (a bad one is refused alone); its
//! terminal's vehicle comes from a small cache in front of the registry. The points of all the good messages
//! go to the store in one append, which costs the group-commit writer one queue entry instead of one per
//! message. Transient store failures are retried (the messages stay unacknowledged meanwhile); a refusal is
//! resolved message by message, so only the culprit is refused (see the `ingest` module's invariants).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tianshu_ingest::uplink::{Binding, Refusal as Rejection, UplinkConfig};
use tianshu_model::{Phone, Position, Timestamp, VehicleId};
use tianshu_store::Store;
use tokio::sync::watch;
use tracing::{error, warn};

use crate::client::Message;
use crate::config::PayloadKind;
use crate::metrics::METRICS;
use crate::payload::Payload;
use crate::topic::TopicRoutes;

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

/// What turns groups of messages into durable points; shared by the processing futures.
pub(crate) struct Processor {
    store: Store,
    terminals: TerminalCache,
    lookup: tokio::sync::Mutex<()>,
    shutdown: watch::Receiver<bool>,
    /// What fix times are taken.
    uplink: UplinkConfig,
    /// The largest payload accepted.
    max_payload_bytes: usize,
}

/// What became of one message.
pub(crate) enum Outcome {
    /// Its points are durable (or it had none to store).
    Stored,
    /// Shutdown came before the points were durable: do not acknowledge.
    Abandoned,
}

fn now() -> Timestamp {
    Timestamp::from_datetime(&chrono::Utc::now())
}

impl Processor {
    /// A processor over `store` that stops retrying once `shutdown` turns true.
    pub(crate) fn new(
        store: Store,
        uplink: UplinkConfig,
        max_payload_bytes: usize,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Processor {
            uplink,
            max_payload_bytes,
            store,
            terminals: TerminalCache {
                entries: Mutex::new(HashMap::new()),
            },
            lookup: tokio::sync::Mutex::new(()),
            shutdown,
        }
    }

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
            match self.store.terminal(phone).await {
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
            config: self.uplink,
        };
        payload.points(binding).map(Some)
    }

    /// Processes a group of messages that arrived together: each is decoded on its own (a bad one is
    /// refused alone), and the points of all the good ones go to the store in one append, which costs the
    /// writer one queue entry instead of one per message.
    pub(crate) async fn process_group(&self, routes: &TopicRoutes, group: Vec<Received>) -> Vec<Finished> {
        let recv = now();
        let mut outcomes: Vec<Result<Outcome, Rejection>> = Vec::with_capacity(group.len());
        let mut points = Vec::with_capacity(group.len());
        // (message index, its range of `points`), for the messages that carried points.
        let mut spans: Vec<(usize, Range<usize>)> = Vec::new();
        for (i, (_, message, _)) in group.iter().enumerate() {
            let size = message.payload().len();
            let outcome = match routes.route(message.topic()) {
                Err(r) => Err(r),
                // Refused before decoding: a message too large to take is acknowledged and counted, never
                // left to be redelivered (which would hold every later acknowledgement behind it).
                Ok(_) if size > self.max_payload_bytes => Err(Rejection::new(
                    "too_large",
                    format!("{size} bytes; at most {} taken", self.max_payload_bytes),
                )),
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

/// A message as received: connection generation, the message, when it arrived.
pub(crate) type Received = (u64, Message, Instant);
/// A processed message, ready to be acknowledged (or not).
pub(crate) type Finished = (u64, Message, Instant, Result<Outcome, Rejection>);

/// Most messages processed as one group (one append).
pub(crate) const GROUP_MAX_MESSAGES: usize = 512;

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

#[cfg(test)]
mod tests {
    use tianshu_model::{Timestamp, VehicleId};

    use super::*;

    /// A fresh embedded store in its own directory (removed by the caller).
    async fn scratch_store(name: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("tianshu-mqtt-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.join("t.db").display()))
            .await
            .unwrap();
        (store, dir)
    }

    /// A group whose append the store refuses for one message's point: the others are stored, only that
    /// message is refused (and so acknowledged), and nothing is retried forever.
    #[tokio::test]
    async fn a_point_the_store_refuses_costs_only_its_message() {
        let (store, dir) = scratch_store("refusal").await;
        let (_stop, shutdown) = watch::channel(false);
        let shared = Processor::new(store.clone(), UplinkConfig::default(), 256 * 1024, shutdown);
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

    /// A message larger than the accepted payload is refused alone as `too_large` (and so acknowledged,
    /// never redelivered); the good message that arrived with it is stored.
    #[tokio::test]
    async fn a_message_too_large_is_refused_alone() {
        let (store, dir) = scratch_store("too-large").await;
        let phone = tianshu_model::Phone(13_800_138_000);
        store
            .import_registry(&[tianshu_store::RegistryRecord {
                unit: "黄石市".into(),
                plate: "鄂B00001".into(),
                phone,
                terminal_id: "T1".into(),
                vehicle_class: tianshu_model::VehicleClass::General,
            }])
            .await
            .unwrap();
        let (_stop, shutdown) = watch::channel(false);
        let shared = Processor::new(store.clone(), UplinkConfig::default(), 4096, shutdown);
        let routes = TopicRoutes::new(&crate::config::default_subscriptions());
        let topic = "tianshu/v1/in/json/013800138000";
        let json = |secs: u32, pad: usize| {
            format!(
                r#"{{"terminal":"013800138000","time":"2026-11-27T08:00:{secs:02}Z","lat":30.2,"lon":115.04,"speed_kmh":40.5,"course_deg":90,"status":3{}}}"#,
                " ".repeat(pad)
            )
            .into_bytes()
        };
        let now = std::time::Instant::now();
        let group = vec![
            (1, Message::delivered(topic, json(0, 300 * 1024)), now),
            (1, Message::delivered(topic, json(1, 0)), now),
        ];
        let done = shared.process_group(&routes, group).await;
        let reasons: Vec<_> = done
            .iter()
            .map(|(_, _, _, o)| o.as_ref().map(|_| "stored").map_err(|r| r.reason))
            .collect();
        assert_eq!(reasons, vec![Err("too_large"), Ok("stored")]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

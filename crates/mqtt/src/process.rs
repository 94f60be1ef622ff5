//! Turning groups of received messages into durable points.
//!
//! Each message of a group is routed by its topic and decoded on its own (a bad one is refused alone); its
//! terminal's vehicle comes from a small cache in front of the registry. The points of all the good messages
//! go to the store in one append, which costs the group-commit writer one queue entry instead of one per
//! message. Transient store failures are retried (the messages stay unacknowledged meanwhile); a refusal is
//! resolved message by message, so only the culprit is refused (see the `ingest` module's invariants).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tianshu_ingest::clock::TerminalClock;
use tianshu_ingest::uplink::{Binding, Refusal as Rejection, Uplink, UplinkConfig};
use tianshu_ingest::{PointSink, StoreSink};
use tianshu_model::{Phone, Position, Terminal, Timestamp, VehicleId};
use tianshu_store::Store;
use tokio::sync::watch;
use tracing::{error, warn};

use crate::client::Message;
use crate::config::PayloadKind;
use crate::metrics::METRICS;
use crate::payload::Payload;
use crate::topic::TopicRoutes;

/// Known terminals, so that a message does not cost a registry query. Entries expire, so a terminal
/// provisioned while Tianshu runs is accepted soon after, and a changed binding or clock offset applies
/// within [`KNOWN_TTL`]; a terminal's clock watch outlives the refresh of its entry.
struct TerminalCache {
    entries: Mutex<HashMap<Phone, Known>>,
}

/// What the cache knows of one terminal.
struct Known {
    /// Its vehicle (`None`: not provisioned or not bound).
    vehicle: Option<VehicleId>,
    /// Its clock: the offset set and the watch over its live fixes.
    clock: TerminalClock,
    /// When the registry was read.
    at: Instant,
}

/// A known terminal is looked up again after this long (its binding may change).
const KNOWN_TTL: Duration = Duration::from_secs(60);
/// An unknown terminal is looked up again after this long (it may have just been provisioned).
const UNKNOWN_TTL: Duration = Duration::from_secs(5);

impl TerminalCache {
    /// The vehicle and clock offset of `phone`, while its entry is fresh.
    fn get(&self, phone: Phone) -> Option<Option<(VehicleId, i32)>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let known = entries.get(&phone)?;
        let ttl = if known.vehicle.is_some() {
            KNOWN_TTL
        } else {
            UNKNOWN_TTL
        };
        (known.at.elapsed() < ttl).then(|| known.vehicle.map(|v| (v, known.clock.offset_secs())))
    }

    fn put(&self, phone: Phone, terminal: Option<&Terminal>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a flood of made-up phone numbers must not grow memory without end.
        if entries.len() >= 200_000 && !entries.contains_key(&phone) {
            entries.retain(|_, k| k.vehicle.is_some());
            if entries.len() >= 200_000 {
                entries.clear();
            }
        }
        let vehicle = terminal.and_then(|t| t.vehicle);
        let offset = terminal.map_or(0, |t| t.clock_offset_secs);
        let at = Instant::now();
        entries
            .entry(phone)
            .and_modify(|k| {
                (k.vehicle, k.at) = (vehicle, at);
                k.clock.set_offset(offset);
            })
            .or_insert_with(|| Known {
                vehicle,
                clock: terminal.map(TerminalClock::of).unwrap_or_default(),
                at,
            });
    }

    /// Watches the clock of `phone` in what the uplink made of one of its messages; an offset newly found.
    fn watch(&self, phone: Phone, uplink: &Uplink, recv: Timestamp) -> Option<i32> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get_mut(&phone)?.clock.observe(phone, uplink, recv)
    }
}

/// What turns groups of messages into durable points; shared by the processing futures.
pub(crate) struct Processor {
    store: Store,
    /// Where the points go: the store's writer, or a bus.
    sink: Arc<dyn PointSink>,
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
            sink: Arc::new(StoreSink(store.clone())),
            store,
            terminals: TerminalCache {
                entries: Mutex::new(HashMap::new()),
            },
            lookup: tokio::sync::Mutex::new(()),
            shutdown,
        }
    }

    /// The same processor handing its points to `sink` instead of the store's writer.
    pub(crate) fn with_sink(mut self, sink: Arc<dyn PointSink>) -> Self {
        self.sink = sink;
        self
    }

    /// The vehicle and clock offset of `phone` (`Some(None)`: not provisioned or not bound), from the cache
    /// or the registry; retries while the store is unreachable. `None` when shutdown came first.
    async fn vehicle_of(&self, phone: Phone) -> Option<Option<(VehicleId, i32)>> {
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
                    self.terminals.put(phone, t.as_ref());
                    let offset = t.as_ref().map_or(0, |t| t.clock_offset_secs);
                    return Some(t.and_then(|t| t.vehicle).map(|v| (v, offset)));
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
            match self.sink.append(points.to_vec()).await {
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
        let (vehicle, clock_offset_secs) = match self.vehicle_of(phone).await {
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
            clock_offset_secs,
            config: self.uplink,
        };
        let watch = |uplink: &Uplink| {
            let Some(found) = self.terminals.watch(phone, uplink, recv) else {
                return;
            };
            // Rare (once per terminal and window of fixes); nothing waits on it.
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.save_clock_found(phone, found, recv).await {
                    warn!(%phone, error = %e, "mqtt: storing the clock offset found failed");
                }
            });
        };
        payload.points(binding, watch).map(Some)
    }

    /// Processes a group of messages that arrived together: each is decoded on its own (a bad one is
    /// refused alone), and the points of all the good ones go to the store in one append, which costs the
    /// writer one queue entry instead of one per message.
    pub(crate) async fn process_group(&self, routes: &TopicRoutes, group: Vec<Received>) -> Vec<Finished> {
        let recv = Timestamp::now();
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
    use tianshu_testkit::{Scratch, registry_record};

    use super::*;

    /// The terminal the tests' JSON positions come from.
    const PHONE: tianshu_model::Phone = tianshu_model::Phone(13_800_138_000);

    /// A fresh embedded store (removed when the first value drops).
    async fn scratch_store(name: &str) -> (Scratch, Store) {
        let scratch = Scratch::embedded(&format!("mqtt-{name}"));
        let store = scratch.open(&tianshu_store::StoreConfig::default()).await;
        (scratch, store)
    }

    /// A fresh embedded store with [`PHONE`]'s terminal fitted to a car.
    async fn provisioned_store(name: &str) -> (Scratch, Store) {
        let (scratch, store) = scratch_store(name).await;
        let record = registry_record("黄石市", "鄂B00001", PHONE.0, "T1");
        store.import_registry(&[record]).await.unwrap();
        (scratch, store)
    }

    /// A group whose append the store refuses for one message's point: the others are stored, only that
    /// message is refused (and so acknowledged), and nothing is retried forever.
    #[tokio::test]
    async fn a_point_the_store_refuses_costs_only_its_message() {
        let (_scratch, store) = scratch_store("refusal").await;
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
    }

    /// A message larger than the accepted payload is refused alone as `too_large` (and so acknowledged,
    /// never redelivered); the good message that arrived with it is stored.
    #[tokio::test]
    async fn a_message_too_large_is_refused_alone() {
        let (_scratch, store) = provisioned_store("too-large").await;
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
    }

    /// The one uplink TCP uses: a JSON position's fix time is corrected by its terminal's clock offset, and
    /// a steady offset in a terminal's fixes is found and stored, so the API shows it.
    #[tokio::test]
    async fn a_clock_eight_hours_off_is_found_and_the_offset_set_corrects_it() {
        let (_scratch, store) = provisioned_store("clock").await;
        let routes = TopicRoutes::new(&crate::config::default_subscriptions());
        let topic = "tianshu/v1/in/json/013800138000";
        // UTC sent as China time: the fix eight hours before now.
        let utc_as_china = |secs: i64| {
            let t = chrono::Utc::now() - chrono::Duration::hours(8) + chrono::Duration::seconds(secs);
            let time = t.format("%Y-%m-%dT%H:%M:%SZ");
            let json = format!(
                r#"{{"terminal":"013800138000","time":"{time}","lat":30.2,"lon":115.04,"speed_kmh":40.5,"course_deg":90,"status":3}}"#
            );
            (
                1,
                Message::delivered(topic, json.into_bytes()),
                std::time::Instant::now(),
            )
        };
        let stored = |store: Store| async move {
            let v = store.vehicle_by_plate("鄂B00001").await.unwrap().unwrap().id;
            let track = store.track(v, Timestamp(0), Timestamp(i64::MAX)).await.unwrap();
            futures::TryStreamExt::try_collect::<Vec<Position>>(track)
                .await
                .unwrap()
        };

        let (_stop, shutdown) = watch::channel(false);
        let shared = Processor::new(store.clone(), UplinkConfig::default(), 4096, shutdown.clone());
        let group = (0..9).map(|i| utc_as_china(i - 20)).collect();
        shared.process_group(&routes, group).await;
        let lag_hours = |p: &Position| (p.recv_time.0 - p.fix_time.0) as f64 / 3_600_000.0;
        let points = stored(store.clone()).await;
        assert_eq!(points.len(), 9);
        assert!(
            points.iter().all(|p| (lag_hours(p) - 8.0).abs() < 0.1),
            "{points:?}"
        );
        let found = async {
            loop {
                let t = store.terminal(PHONE).await.unwrap().unwrap();
                if let Some((secs, _)) = t.clock_found {
                    return secs;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let found = tokio::time::timeout(Duration::from_secs(10), found).await;
        assert_eq!(found.expect("the offset found is stored"), 28_800);

        // The administrator sets the offset; once the cache reads the registry again (a new processor
        // here, within a minute in service), the terminal's fixes are stored corrected.
        let change = tianshu_store::registry_admin::TerminalChange {
            clock_offset_secs: Some(28_800),
            ..Default::default()
        };
        store
            .registry_admin()
            .update_terminal(PHONE, &change)
            .await
            .unwrap();
        let shared = Processor::new(store.clone(), UplinkConfig::default(), 4096, shutdown);
        shared.process_group(&routes, vec![utc_as_china(0)]).await;
        let points = stored(store.clone()).await;
        assert_eq!(points.len(), 10);
        let newest = points.into_iter().max_by_key(|p| p.fix_time).unwrap();
        assert!(lag_hours(&newest).abs() < 0.1, "corrected: {newest:?}");
    }
}

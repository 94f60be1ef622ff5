//! Publishing: every stored position and every alert event as JSON, for dashboards and other platforms.
//!
//! Positions come from the store's committed-points subscription, so only durable points go out, each once.
//! Everything to publish goes through one bounded queue; when it is full the message is dropped and counted
//! (`tianshu_mqtt_publish_dropped_total`), so a slow or absent broker never slows ingest. Publishing uses
//! its own connection (client id `<client_id>-pub`, clean session), so its traffic never queues behind, or
//! in front of, the acknowledgements of the ingest connection.
//!
//! Topics: `<positions_topic_prefix>/<unit id>/<vehicle id>` and `<alerts_topic_prefix>/<unit id>/<vehicle id>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tianshu_model::{Position, PositionSource, UnitId, VehicleId};
use tianshu_store::Store;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::client::{self, Event};
use crate::config::MqttConfig;
use crate::metrics::METRICS;

/// An alert event to publish: which vehicle, and the event as the alerts crate describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// The vehicle's unit (the topic's second-to-last level).
    pub unit: UnitId,
    /// The vehicle (the topic's last level).
    pub vehicle: VehicleId,
    /// The event, published as is.
    pub payload: serde_json::Value,
}

/// One message waiting to be published.
struct Outgoing {
    topic: String,
    payload: Bytes,
    retain: bool,
    kind: &'static str,
}

/// A published position (`protocols/mqtt/README.md`).
#[derive(Debug, Serialize)]
pub struct PositionMessage {
    /// Vehicle id.
    pub vehicle: i64,
    /// Unit id.
    pub unit: Option<i64>,
    /// The terminal's phone number.
    pub terminal: String,
    /// Fix time, RFC 3339 UTC.
    pub time: String,
    /// When Tianshu received it, RFC 3339 UTC.
    pub recv_time: String,
    /// Latitude, degrees WGS-84.
    pub lat: f64,
    /// Longitude, degrees WGS-84.
    pub lon: f64,
    /// Speed, km/h.
    pub speed_kmh: f64,
    /// Course, degrees from north.
    pub course_deg: u16,
    /// Altitude, metres.
    pub altitude_m: i32,
    /// JT/T 808 alarm word.
    pub alarm: u32,
    /// JT/T 808 status word.
    pub status: u32,
    /// Odometer, km.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mileage_km: Option<f64>,
    /// Fuel, litres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel_l: Option<f64>,
    /// Satellites in view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satellites: Option<u8>,
    /// Signal strength.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rssi: Option<u8>,
    /// `live`, `backfill` or `json`.
    pub source: PositionSource,
}

impl PositionMessage {
    /// The message for `p` of a vehicle in `unit`.
    pub fn new(p: &Position, unit: Option<UnitId>) -> Self {
        let rfc3339 =
            |t: tianshu_model::Timestamp| t.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        PositionMessage {
            vehicle: p.vehicle.0,
            unit: unit.map(|u| u.0),
            terminal: p.phone.to_string(),
            time: rfc3339(p.fix_time),
            recv_time: rfc3339(p.recv_time),
            lat: p.lat(),
            lon: p.lon(),
            speed_kmh: p.speed_kmh(),
            course_deg: p.course_deg,
            altitude_m: p.altitude_m,
            alarm: p.alarm.0,
            status: p.status.0,
            mileage_km: p.mileage_dkm.map(|v| f64::from(v) / 10.0),
            fuel_l: p.fuel_dl.map(|v| f64::from(v) / 10.0),
            satellites: p.satellites,
            rssi: p.rssi,
            source: p.source,
        }
    }
}

/// The publishing side; cheap to clone. Dropping every clone and calling [`Publisher::shutdown`] stops it.
#[derive(Clone)]
pub struct Publisher {
    queue: mpsc::Sender<Outgoing>,
    config: Arc<crate::config::PublishConfig>,
    stop: Arc<watch::Sender<bool>>,
}

impl Publisher {
    /// Starts publishing as `config.publish` says: a connection to the broker and, when positions are
    /// published, a subscription to the store's committed points.
    pub fn spawn(
        config: &MqttConfig,
        password: Option<&str>,
        store: Store,
    ) -> Result<Publisher, client::ClientError> {
        let client_id = format!("{}-pub", config.client_id);
        let mut pub_config = config.clone();
        pub_config.clean_session = true;
        let (client, mut eventloop) = client::connect(&pub_config, &client_id, password, false)?;
        let (queue, mut rx) = mpsc::channel::<Outgoing>(config.publish.queue_capacity.max(1));
        let (stop, stop_rx) = watch::channel(false);
        let publisher = Publisher {
            queue,
            config: Arc::new(config.publish.clone()),
            stop: Arc::new(stop),
        };

        // The event loop: keeps the connection, reconnects with backoff.
        let min_backoff = Duration::from_millis(config.reconnect_min_backoff_ms.max(1));
        let max_backoff = Duration::from_millis(config.reconnect_max_backoff_ms.max(1));
        let url = tianshu_model::redact_url(&config.url);
        let mut stop1 = stop_rx.clone();
        tokio::spawn(async move {
            let mut backoff = min_backoff;
            loop {
                let event = tokio::select! {
                    e = eventloop.poll() => e,
                    _ = stop1.changed() => break,
                };
                match event {
                    Ok(Event::Connected { .. }) => {
                        backoff = min_backoff;
                        info!(broker = %url, "mqtt: publishing connection up");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        METRICS.connection_errors.with_label_values(&["publish"]).inc();
                        warn!(broker = %url, error = %e, "mqtt: publishing connection down; reconnecting");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stop1.changed() => break,
                        }
                        backoff = (backoff * 2).min(max_backoff);
                    }
                }
            }
        });

        // The sender: drains the queue into the client.
        let qos = config.publish.qos;
        let mut stop2 = stop_rx.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    m = rx.recv() => m,
                    _ = stop2.changed() => None,
                };
                let Some(m) = next else { break };
                METRICS.publish_queue.dec();
                if client.publish(m.topic, qos, m.retain, m.payload).await.is_err() {
                    break;
                }
                METRICS.published.with_label_values(&[m.kind]).inc();
            }
            client.disconnect().await;
        });

        if config.publish.positions {
            let publisher = publisher.clone();
            let mut stop3 = stop_rx;
            let mut committed = store.subscribe();
            tokio::spawn(async move {
                let mut units = UnitMap::default();
                loop {
                    let batch = tokio::select! {
                        b = committed.recv() => b,
                        _ = stop3.changed() => None,
                    };
                    let Some(batch) = batch else { break };
                    for p in &batch.points {
                        let unit = units.unit_of(&store, p.vehicle).await;
                        publisher.publish_position(p, unit);
                    }
                }
            });
        }
        Ok(publisher)
    }

    fn enqueue(&self, m: Outgoing) {
        let kind = m.kind;
        match self.queue.try_send(m) {
            Ok(()) => METRICS.publish_queue.inc(),
            Err(_) => METRICS.publish_dropped.with_label_values(&[kind]).inc(),
        }
    }

    /// Queues a stored position; dropped (and counted) when the queue is full.
    pub fn publish_position(&self, p: &Position, unit: Option<UnitId>) {
        let Ok(payload) = serde_json::to_vec(&PositionMessage::new(p, unit)) else {
            return;
        };
        let unit_level = unit.map_or_else(|| "unknown".to_string(), |u| u.0.to_string());
        self.enqueue(Outgoing {
            topic: format!(
                "{}/{unit_level}/{}",
                self.config.positions_topic_prefix, p.vehicle.0
            ),
            payload: Bytes::from(payload),
            retain: self.config.retain_positions,
            kind: "position",
        });
    }

    /// Queues an alert event when alerts are published; dropped (and counted) when the queue is full.
    pub fn publish_alert(&self, event: &AlertEvent) {
        if !self.config.alerts {
            return;
        }
        let Ok(payload) = serde_json::to_vec(&event.payload) else {
            return;
        };
        self.enqueue(Outgoing {
            topic: format!(
                "{}/{}/{}",
                self.config.alerts_topic_prefix, event.unit.0, event.vehicle.0
            ),
            payload: Bytes::from(payload),
            retain: self.config.retain_alerts,
            kind: "alert",
        });
    }

    /// Stops the publishing tasks.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

/// Vehicle -> unit, reloaded from the registry when a vehicle is missing (at most every 10 s).
#[derive(Default)]
struct UnitMap {
    units: HashMap<VehicleId, UnitId>,
    loaded_at: Option<Instant>,
}

impl UnitMap {
    async fn unit_of(&mut self, store: &Store, vehicle: VehicleId) -> Option<UnitId> {
        if let Some(u) = self.units.get(&vehicle) {
            return Some(*u);
        }
        if self
            .loaded_at
            .is_none_or(|t| t.elapsed() > Duration::from_secs(10))
        {
            self.loaded_at = Some(Instant::now());
            match store.vehicles().await {
                Ok(vehicles) => self.units = vehicles.into_iter().map(|v| (v.id, v.unit)).collect(),
                Err(e) => warn!(error = %e, "mqtt: cannot load vehicles for publishing topics"),
            }
        }
        self.units.get(&vehicle).copied()
    }
}

//! The `[mqtt]` section of the configuration.
//!
//! Every field is documented here, with its unit in its name and its default in the `Default` impl (the
//! one place a missing key takes its value from); `deploy/tianshu.example.toml` repeats them. The broker password is not a field: it is a secret, read by
//! the binary from `TIANSHU__MQTT__PASSWORD` or from the file named by `password_file`.

use serde::{Deserialize, Serialize};

/// The MQTT protocol version spoken to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1, understood by every broker.
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.
    #[serde(rename = "5")]
    V5,
}

/// What the messages on a topic filter carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// One JSON position per message (`protocols/mqtt/position.schema.json`).
    Json,
    /// One raw JT/T 808 frame per message, `0x7e ... 0x7e`, escaped as on TCP.
    Jt808,
}

/// One subscription: a topic filter and the kind of payload its messages carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// MQTT topic filter whose last level is the terminal's phone number (`+` matches it). Prefix it with
    /// `$share/<group>/` so that several Tianshu instances split one feed.
    pub filter: String,
    /// `json` or `jt808`.
    pub payload: PayloadKind,
}

/// The `[mqtt]` section: ingest from and, optionally, publishing to an MQTT broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker URL, `mqtt://HOST:PORT` or `mqtts://HOST:PORT` (TLS). Empty: MQTT is off.
    pub url: String,
    /// Protocol version: `"3.1.1"` or `"5"`.
    pub protocol: ProtocolVersion,
    /// Client id. Keep it stable: the broker keys the persistent session (and the QoS 1 messages queued
    /// while Tianshu is down) on it. Two instances must not share one.
    pub client_id: String,
    /// Start with a clean session. Off by default, so messages published while Tianshu is down are
    /// delivered when it returns.
    pub clean_session: bool,
    /// MQTT 5 only: how long the broker keeps the session after a disconnect, in seconds (0: until the
    /// session ends; ignored with a clean session). The default is a week.
    pub session_expiry_secs: u32,
    /// Keep-alive interval in seconds; the broker drops the connection after 1.5x without traffic.
    pub keep_alive_secs: u64,
    /// User name for the broker; empty for none. The password comes from `TIANSHU__MQTT__PASSWORD` or
    /// `password_file`.
    pub username: String,
    /// File holding the broker password (first line); empty for none.
    pub password_file: String,
    /// PEM file of the certificate authorities trusted for `mqtts://`; empty: the system's roots.
    pub ca_file: String,
    /// First delay before reconnecting after the connection drops, in milliseconds; doubled after every
    /// failed attempt up to `reconnect_max_backoff_ms`.
    pub reconnect_min_backoff_ms: u64,
    /// Longest delay between reconnection attempts, in milliseconds.
    pub reconnect_max_backoff_ms: u64,
    /// QoS 1 messages received and not yet acknowledged (awaiting commit) at most. MQTT 5 announces it as
    /// the receive maximum; the broker's own in-flight limit (`max_inflight_messages` in Mosquitto) also
    /// applies.
    pub max_inflight_messages: u16,
    /// Largest message payload accepted, in bytes; a larger one is refused (counted as `too_large`) and
    /// acknowledged, so it is not redelivered.
    pub max_packet_bytes: usize,
    /// Largest MQTT packet the client reads at all, in bytes (also announced to an MQTT 5 broker as the
    /// maximum packet size). A message between `max_packet_bytes` and this is read only to be refused; one
    /// larger than this cannot be read, the connection drops and the broker redelivers it for ever, so the
    /// broker must refuse such messages at publish time: set its `message_size_limit` below this (the
    /// shipped deploy/mosquitto/mosquitto.conf does).
    pub max_read_packet_bytes: usize,
    /// Topic filters subscribed to with QoS 1, each with its payload kind.
    pub subscriptions: Vec<Subscription>,
    /// Publishing stored positions and alert events.
    pub publish: PublishConfig,
    /// What fix times are taken: not read from this section but set from `[uplink]`, which the JT/T 808
    /// gateway shares.
    #[serde(skip)]
    pub uplink: tianshu_ingest::uplink::UplinkConfig,
}

/// The `[mqtt.publish]` section: a feed of positions and alerts for other systems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublishConfig {
    /// Publish each stored position to `<positions_topic_prefix>/<unit>/<vehicle>`.
    pub positions: bool,
    /// Publish each alert event to `<alerts_topic_prefix>/<unit>/<vehicle>`.
    pub alerts: bool,
    /// Topic prefix for positions.
    pub positions_topic_prefix: String,
    /// Topic prefix for alert events.
    pub alerts_topic_prefix: String,
    /// QoS for published messages: 0 or 1.
    pub qos: u8,
    /// Retain the latest position per vehicle on the broker, so a new subscriber sees every car at once.
    pub retain_positions: bool,
    /// Retain the latest alert event per vehicle.
    pub retain_alerts: bool,
    /// Messages waiting to be published at most; when full, new messages are dropped and counted
    /// (`tianshu_mqtt_publish_dropped_total`), never slowing ingest.
    pub queue_capacity: usize,
}

/// The default topic filters: JSON positions and raw JT/T 808 frames, the last level being the phone.
pub fn default_subscriptions() -> Vec<Subscription> {
    vec![
        Subscription {
            filter: "tianshu/v1/in/json/+".to_string(),
            payload: PayloadKind::Json,
        },
        Subscription {
            filter: "tianshu/v1/in/jt808/+".to_string(),
            payload: PayloadKind::Jt808,
        },
    ]
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: String::new(),
            protocol: ProtocolVersion::default(),
            client_id: "tianshu".to_string(),
            clean_session: false,
            session_expiry_secs: 7 * 24 * 3600,
            keep_alive_secs: 30,
            username: String::new(),
            password_file: String::new(),
            ca_file: String::new(),
            reconnect_min_backoff_ms: 500,
            reconnect_max_backoff_ms: 30_000,
            max_inflight_messages: 1000,
            max_packet_bytes: 256 * 1024,
            max_read_packet_bytes: 1024 * 1024,
            subscriptions: default_subscriptions(),
            publish: PublishConfig::default(),
            uplink: tianshu_ingest::uplink::UplinkConfig::default(),
        }
    }
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            positions: false,
            alerts: false,
            positions_topic_prefix: "tianshu/v1/positions".to_string(),
            alerts_topic_prefix: "tianshu/v1/alerts".to_string(),
            qos: 0,
            retain_positions: true,
            retain_alerts: false,
            queue_capacity: 65_536,
        }
    }
}

impl MqttConfig {
    /// The largest packet the client reads: never below what is accepted.
    pub fn read_limit(&self) -> usize {
        self.max_read_packet_bytes.max(self.max_packet_bytes)
    }

    /// Whether MQTT is configured at all.
    pub fn enabled(&self) -> bool {
        !self.url.is_empty()
    }

    /// Checks what serde cannot: the URL scheme, QoS range, backoff order, non-empty filters.
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled() {
            crate::config::BrokerAddress::parse(&self.url)?;
        }
        if self.client_id.is_empty() {
            return Err("client_id must not be empty".into());
        }
        if self.publish.qos > 1 {
            return Err(format!(
                "publish.qos is {}; only 0 and 1 are supported",
                self.publish.qos
            ));
        }
        if self.reconnect_min_backoff_ms == 0 || self.reconnect_min_backoff_ms > self.reconnect_max_backoff_ms
        {
            return Err("reconnect_min_backoff_ms must be > 0 and <= reconnect_max_backoff_ms".into());
        }
        if self.max_inflight_messages == 0 {
            return Err("max_inflight_messages must be > 0".into());
        }
        if self.publish.queue_capacity == 0 {
            return Err("publish.queue_capacity must be > 0".into());
        }
        for s in &self.subscriptions {
            if s.filter.is_empty() {
                return Err("a subscription filter is empty".into());
            }
        }
        Ok(())
    }
}

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `mqtts://`: TLS.
    pub tls: bool,
}

impl BrokerAddress {
    /// Parses `mqtt://HOST[:PORT]` (port 1883) or `mqtts://HOST[:PORT]` (port 8883).
    pub fn parse(url: &str) -> Result<Self, String> {
        // Errors show the URL without its password, should one have been put there.
        let shown = tianshu_model::redact_url(url);
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://"))
        {
            (false, r)
        } else if let Some(r) = url
            .strip_prefix("mqtts://")
            .or_else(|| url.strip_prefix("ssl://"))
        {
            (true, r)
        } else {
            return Err(format!(
                "broker URL {shown:?} must start with mqtt:// or mqtts://"
            ));
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(format!(
                "broker URL {shown:?} must be mqtt://HOST:PORT (credentials go in username/password)"
            ));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(h) = rest.strip_prefix('[') {
            // [::1]:1883
            let (h, p) = h
                .split_once(']')
                .ok_or_else(|| format!("broker URL {shown:?}: unclosed '['"))?;
            let port = match p.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("broker URL {shown:?}: bad port"))?,
                None => default_port,
            };
            (h.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("broker URL {shown:?}: bad port"))?,
                ),
                None => (rest.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(format!("broker URL {shown:?} has no host"));
        }
        Ok(BrokerAddress { host, port, tls })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            BrokerAddress::parse("mqtt://127.0.0.1:1883").unwrap(),
            BrokerAddress {
                host: "127.0.0.1".into(),
                port: 1883,
                tls: false
            }
        );
        assert_eq!(BrokerAddress::parse("mqtts://broker.example").unwrap().port, 8883);
        assert_eq!(BrokerAddress::parse("mqtt://[::1]:1884").unwrap().host, "::1");
        assert!(BrokerAddress::parse("http://x").is_err());
        assert!(BrokerAddress::parse("mqtt://u:p@x:1883").is_err());
        assert!(BrokerAddress::parse("mqtt://x:port").is_err());
    }

    #[test]
    fn defaults_validate() {
        let mut c = MqttConfig::default();
        assert!(!c.enabled());
        assert!(c.validate().is_ok());
        c.publish.qos = 2;
        assert!(c.validate().is_err());
    }
}

//! One face for rumqttc's MQTT 3.1.1 and MQTT 5 clients.
//!
//! The rest of the crate sees [`Client`] (subscribe, publish, acknowledge) and [`EventLoop`] (the next
//! connection acknowledgement or message), whichever protocol version the configuration names. Incoming
//! QoS 1 messages are acknowledged manually, by [`Client::ack`], once their points are durable.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{TlsConfiguration, Transport};
use tokio_rustls::rustls;

use crate::config::{BrokerAddress, MqttConfig, ProtocolVersion};

/// What can go wrong setting up a connection.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configuration is not usable.
    #[error("mqtt configuration: {0}")]
    Config(String),
    /// TLS could not be set up.
    #[error("mqtt TLS: {0}")]
    Tls(String),
    /// The event loop is gone.
    #[error("mqtt client closed")]
    Closed,
}

/// A received message, with what is needed to acknowledge it. Topic and payload are borrowed from the
/// packet itself: nothing is copied per message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The packet, which is also the token to acknowledge it with.
    token: AckToken,
}

impl Message {
    /// The topic it was published to (empty when an MQTT 5 topic is not UTF-8: no filter matches it).
    pub fn topic(&self) -> &str {
        match &self.token {
            AckToken::V3(p) => &p.topic,
            AckToken::V5(p) => std::str::from_utf8(&p.topic).unwrap_or_default(),
        }
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        match &self.token {
            AckToken::V3(p) => &p.payload,
            AckToken::V5(p) => &p.payload,
        }
    }

    /// A QoS 1 message as an MQTT 3.1.1 broker delivers it (for tests of the processing).
    #[cfg(test)]
    pub(crate) fn delivered(topic: &str, payload: Vec<u8>) -> Message {
        Message {
            token: AckToken::V3(rumqttc::Publish::new(topic, rumqttc::QoS::AtLeastOnce, payload)),
        }
    }

    /// The broker marked it as a redelivery.
    pub fn dup(&self) -> bool {
        match &self.token {
            AckToken::V3(p) => p.dup,
            AckToken::V5(p) => p.dup,
        }
    }
}

#[derive(Debug, Clone)]
enum AckToken {
    V3(rumqttc::Publish),
    V5(rumqttc::v5::mqttbytes::v5::Publish),
}

/// What the event loop produced.
#[derive(Debug)]
pub enum Event {
    /// Connected (or reconnected); whether the broker kept the session.
    Connected {
        /// The broker resumed a stored session.
        session_present: bool,
    },
    /// A message arrived.
    Message(Box<Message>),
    /// Anything else (pings, acknowledgements of our own packets).
    Other,
}

/// The sending half.
#[derive(Clone)]
pub enum Client {
    /// MQTT 3.1.1.
    V3(rumqttc::AsyncClient),
    /// MQTT 5.
    V5(rumqttc::v5::AsyncClient),
}

/// The receiving half; it must be polled continuously, it drives the connection and reconnects.
pub enum EventLoop {
    /// MQTT 3.1.1.
    V3(Box<rumqttc::EventLoop>),
    /// MQTT 5.
    V5(Box<rumqttc::v5::EventLoop>),
}

/// QoS 0 or 1 from the configuration's number.
fn qos3(qos: u8) -> rumqttc::QoS {
    if qos == 0 {
        rumqttc::QoS::AtMostOnce
    } else {
        rumqttc::QoS::AtLeastOnce
    }
}

fn qos5(qos: u8) -> rumqttc::v5::mqttbytes::QoS {
    if qos == 0 {
        rumqttc::v5::mqttbytes::QoS::AtMostOnce
    } else {
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce
    }
}

impl Client {
    /// Subscribes to `filter` with `qos`.
    pub async fn subscribe(&self, filter: &str, qos: u8) -> Result<(), ClientError> {
        match self {
            Client::V3(c) => c
                .subscribe(filter, qos3(qos))
                .await
                .map_err(|_| ClientError::Closed),
            Client::V5(c) => c
                .subscribe(filter, qos5(qos))
                .await
                .map_err(|_| ClientError::Closed),
        }
    }

    /// Publishes; waits while the request channel is full.
    pub async fn publish(
        &self,
        topic: String,
        qos: u8,
        retain: bool,
        payload: Bytes,
    ) -> Result<(), ClientError> {
        match self {
            Client::V3(c) => c
                .publish_bytes(topic, qos3(qos), retain, payload)
                .await
                .map_err(|_| ClientError::Closed),
            Client::V5(c) => c
                .publish(topic, qos5(qos), retain, payload)
                .await
                .map_err(|_| ClientError::Closed),
        }
    }

    /// Sends the PUBACK of `message`.
    pub async fn ack(&self, message: &Message) -> Result<(), ClientError> {
        match (self, &message.token) {
            (Client::V3(c), AckToken::V3(p)) => c.ack(p).await.map_err(|_| ClientError::Closed),
            (Client::V5(c), AckToken::V5(p)) => c.ack(p).await.map_err(|_| ClientError::Closed),
            _ => Err(ClientError::Closed),
        }
    }

    /// Asks the broker to end the connection cleanly.
    pub async fn disconnect(&self) {
        let _ = match self {
            Client::V3(c) => c.disconnect().await.map_err(|_| ()),
            Client::V5(c) => c.disconnect().await.map_err(|_| ()),
        };
    }
}

impl EventLoop {
    /// The next event; an error means the connection dropped (polling again reconnects).
    pub async fn poll(&mut self) -> Result<Event, String> {
        match self {
            EventLoop::V3(e) => match e.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(c))) => Ok(Event::Connected {
                    session_present: c.session_present,
                }),
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    Ok(Event::Message(Box::new(Message {
                        token: AckToken::V3(p),
                    })))
                }
                Ok(_) => Ok(Event::Other),
                Err(e) => Err(e.to_string()),
            },
            EventLoop::V5(e) => match e.poll().await {
                Ok(rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::ConnAck(c))) => {
                    Ok(Event::Connected {
                        session_present: c.session_present,
                    })
                }
                Ok(rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::Publish(p))) => {
                    Ok(Event::Message(Box::new(Message {
                        token: AckToken::V5(p),
                    })))
                }
                Ok(_) => Ok(Event::Other),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}

/// Builds the rustls configuration: the CA file's roots, or the system's; ring as the provider.
fn tls_config(ca_file: &str) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    if ca_file.is_empty() {
        let loaded = rustls_native_certs::load_native_certs();
        for cert in loaded.certs {
            // A system root rustls cannot parse is skipped, as browsers do.
            let _ = roots.add(cert);
        }
    } else {
        let pem =
            std::fs::read(ca_file).map_err(|e| ClientError::Tls(format!("cannot read {ca_file}: {e}")))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| ClientError::Tls(format!("{ca_file}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| ClientError::Tls(format!("{ca_file}: {e}")))?;
        }
    }
    if roots.is_empty() {
        return Err(ClientError::Tls("no trusted certificate authorities".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Creates a client and its event loop for `client_id`. Nothing connects until the loop is polled.
/// `manual_acks`: incoming QoS 1 messages are acknowledged only by [`Client::ack`].
pub fn connect(
    config: &MqttConfig,
    client_id: &str,
    password: Option<&str>,
    manual_acks: bool,
) -> Result<(Client, EventLoop), ClientError> {
    let addr = BrokerAddress::parse(&config.url).map_err(ClientError::Config)?;
    let transport = if addr.tls {
        Some(Transport::tls_with_config(TlsConfiguration::Rustls(tls_config(
            &config.ca_file,
        )?)))
    } else {
        None
    };
    let keep_alive = Duration::from_secs(config.keep_alive_secs.max(5));
    // Room for acknowledgements and publishes without waiting on the event loop.
    let channel_capacity = usize::from(config.max_inflight_messages).max(64) * 2;
    match config.protocol {
        ProtocolVersion::V311 => {
            let mut o = rumqttc::MqttOptions::new(client_id, addr.host, addr.port);
            o.set_keep_alive(keep_alive)
                .set_clean_session(config.clean_session)
                .set_manual_acks(manual_acks)
                .set_inflight(config.max_inflight_messages)
                .set_max_packet_size(config.read_limit(), config.read_limit());
            if !config.username.is_empty() {
                o.set_credentials(config.username.clone(), password.unwrap_or_default());
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            let (client, eventloop) = rumqttc::AsyncClient::new(o, channel_capacity);
            Ok((Client::V3(client), EventLoop::V3(Box::new(eventloop))))
        }
        ProtocolVersion::V5 => {
            let mut o = rumqttc::v5::MqttOptions::new(client_id, addr.host, addr.port);
            o.set_keep_alive(keep_alive)
                .set_clean_start(config.clean_session)
                .set_manual_acks(manual_acks)
                .set_receive_maximum(Some(config.max_inflight_messages))
                .set_outgoing_inflight_upper_limit(config.max_inflight_messages)
                .set_max_packet_size(Some(u32::try_from(config.read_limit()).unwrap_or(u32::MAX)));
            if !config.clean_session {
                o.set_session_expiry_interval(Some(if config.session_expiry_secs == 0 {
                    u32::MAX
                } else {
                    config.session_expiry_secs
                }));
            }
            if !config.username.is_empty() {
                o.set_credentials(config.username.clone(), password.unwrap_or_default());
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            let (client, eventloop) = rumqttc::v5::AsyncClient::new(o, channel_capacity);
            Ok((Client::V5(client), EventLoop::V5(Box::new(eventloop))))
        }
    }
}

//! MQTT for Tianshu.
//!
//! Ingest: terminals and protocol gateways publish raw JT/T 808 frames or JSON positions to a broker;
//! Tianshu subscribes with QoS 1 and sends each PUBACK only once the message's points are durable, so a
//! crash between receipt and commit makes the broker redeliver, and the store's idempotence stores the
//! redelivery once. Publish: stored positions and alert events go out as JSON through a bounded queue
//! that never slows ingest.
#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod frame;
pub mod ingest;
pub mod json;
pub mod metrics;
mod payload;
mod process;
pub mod publish;
pub mod topic;

pub use config::{MqttConfig, PayloadKind, ProtocolVersion, PublishConfig, Subscription};
pub use ingest::{MqttStatus, run, run_into};
pub use publish::{AlertEvent, Publisher};

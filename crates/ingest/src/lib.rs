//! Tianshu's terminal gateway: JT/T 808 over TCP.
//!
//! The data path reads top to bottom: bytes -> [`codec`] frames -> the connection's state machine
//! (`machine`: frames in, actions out, time passed in; `session` is the I/O loop around it, `login` decides
//! registrations against the registry, `reregister` what a terminal registering again costs) -> position messages turned into points by [`uplink`] (the one place
//! MQTT ingest shares) -> the store's writer ([`sink`]) -> durable -> 0x8001. A position is acknowledged only
//! once it is durable; if the store cannot take it, the terminal gets no answer and retransmits, as the
//! standard expects.
//!
//! Limits keep one connection from hurting another: a connection permit taken before `accept`, a per-IP cap,
//! a pre-authentication deadline, an idle timeout of three heartbeats, a frame size cap and a per-connection
//! error budget. The [`downlink`] sends platform commands to online terminals and matches their answers.
#![deny(missing_docs)]

pub mod auth;
pub mod clock;
pub mod codec;
pub mod config;
pub mod downlink;
pub mod gateway;
pub mod limits;
mod login;
mod machine;
pub mod metrics;
pub mod parameters;
mod read;
mod reregister;
pub mod server;
mod session;
pub mod sink;
mod text;
pub mod uplink;

pub use config::GatewayConfig;
pub use downlink::{Command, Downlink, DownlinkError, Online, Reply};
pub use gateway::Gateway;
pub use parameters::ParameterValue;
pub use server::run;
pub use sink::CaseSink;
pub use sink::{DurableAtOnce, PointSink, StoreSink};
pub use tianshu_model::Attributes;

//! Tianshu's roles over NATS JetStream.
//!
//! Without a bus one process does everything. With one, the same binary runs as roles that may sit on
//! different machines, and the spine becomes:
//!
//! ```text
//! gateway --publish(group per partition)--> tianshu.points.<p>  --PubAck--> 0x8001 / PUBACK
//! writer  --pull, commit (idempotent append)--> store --publish--> tianshu.committed.<p> --ack--> stream
//! rules, live map <-- tianshu.committed.* (only committed points go downstream)
//! ```
//!
//! [`publish::BusSink`] is the gateway's [`PointSink`](tianshu_ingest::PointSink): a terminal is answered
//! only once the stream holds its points (on a quorum of the replicas' disks when the stream is R3).
//! [`writer`] commits what the stream holds and acknowledges it only after the commit; [`committed`] feeds
//! the committed points to this process's store followers and subscribers. [`wire`] is the messages' byte
//! layout and the partitioning (pure). With several rules instances, each holds some partitions through
//! [`lease`]s, which partitions being [`assign`]'s decision (pure). [`route`] carries downlink commands
//! to the gateway holding the terminal.
#![deny(missing_docs)]

pub mod assign;
mod bucket;
pub mod committed;
pub mod config;
pub mod lease;
pub mod metrics;
pub mod publish;
pub mod route;
pub mod wire;
pub mod writer;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
pub use config::BusConfig;

/// What can go wrong with the bus.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BusError {
    /// None of the servers could be reached (or they refused the credentials).
    #[error("bus unreachable at {servers}: {reason}")]
    Unreachable {
        /// The servers tried, as configured.
        servers: String,
        /// Why.
        reason: String,
    },
    /// A credentials, nkey or CA file could not be read.
    #[error("bus credentials {path}: {reason}")]
    Credentials {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A stream or consumer could not be created or read.
    #[error("bus stream {name}: {reason}")]
    Stream {
        /// The stream or consumer.
        name: String,
        /// Why.
        reason: String,
    },
}

/// A connection to the bus, with its JetStream context. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    /// The NATS connection (it reconnects by itself).
    client: async_nats::Client,
    /// JetStream over that connection.
    js: jetstream::Context,
    /// The settings it was opened with.
    config: BusConfig,
}

impl Bus {
    /// Connects to the configured servers and makes sure both streams exist. A bus that cannot be reached
    /// is an error naming the servers: a process with a bus configured does not start without it.
    pub async fn connect(config: &BusConfig) -> Result<Bus, BusError> {
        let servers = config.servers.join(",");
        let unreachable = |reason: String| BusError::Unreachable {
            servers: servers.clone(),
            reason,
        };
        let addrs = config
            .servers
            .iter()
            .map(|s| {
                s.parse::<async_nats::ServerAddr>()
                    .map_err(|e| unreachable(format!("{s}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client = options(config)
            .await?
            .connect(addrs)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(config.timeout_secs.max(1)));
        let bus = Bus {
            client,
            js,
            config: config.clone(),
        };
        bus.ensure_streams().await?;
        metrics::METRICS.connected.set(1);
        Ok(bus)
    }

    /// Whether the connection is up now: `/readyz` of a gateway says false otherwise.
    pub fn connected(&self) -> bool {
        let up = self.client.connection_state() == async_nats::connection::State::Connected;
        metrics::METRICS.connected.set(i64::from(up));
        up
    }

    /// The settings.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The points stream: a work queue (a message leaves once a writer acknowledged it), bounded in bytes
    /// and age, refusing new messages when full (the gateways then acknowledge nothing). The committed
    /// stream keeps what was committed for a while, for the rules and the live map.
    async fn ensure_streams(&self) -> Result<(), BusError> {
        let c = &self.config;
        let points = stream::Config {
            name: c.points_stream.clone(),
            subjects: vec!["tianshu.points.*".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            discard: stream::DiscardPolicy::New,
            storage: stream::StorageType::File,
            num_replicas: c.replicas.max(1),
            max_bytes: c.points_max_bytes,
            max_age: Duration::from_secs(c.points_max_age_secs),
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let committed = stream::Config {
            name: c.committed_stream.clone(),
            subjects: vec!["tianshu.committed.*".into()],
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            storage: stream::StorageType::File,
            num_replicas: c.replicas.max(1),
            max_age: Duration::from_secs(c.committed_max_age_secs),
            ..Default::default()
        };
        for config in [points, committed] {
            let name = config.name.clone();
            self.js
                .get_or_create_stream(config)
                .await
                .map_err(|e| BusError::Stream {
                    name,
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }
}

/// The connection options from the settings: credentials, nkey, TLS, timeouts.
async fn options(config: &BusConfig) -> Result<async_nats::ConnectOptions, BusError> {
    let credentials = |path: &std::path::Path, reason: String| BusError::Credentials {
        path: path.display().to_string(),
        reason,
    };
    let mut options = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(config.timeout_secs.max(1)))
        .name("tianshu")
        .require_tls(config.require_tls);
    if let Some(path) = &config.credentials_file {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| credentials(path, e.to_string()))?;
    }
    if let Some(path) = &config.nkey_file {
        let seed = std::fs::read_to_string(path).map_err(|e| credentials(path, e.to_string()))?;
        options = options.nkey(seed.trim().to_string());
    }
    if let Some(path) = &config.ca_file {
        options = options.add_root_certificates(path.clone());
    }
    Ok(options)
}

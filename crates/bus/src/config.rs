//! The `[bus]` section: where the NATS servers are and how the streams are laid out.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Settings of the bus. Without servers there is no bus: one process does everything, as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// NATS servers, `nats://HOST:PORT` (or `tls://HOST:PORT`); any one of them is enough to connect, the
    /// client learns the rest of the cluster from it. Empty: no bus.
    pub servers: Vec<String>,
    /// A NATS credentials file (JWT and nkey seed), when the servers ask for one.
    pub credentials_file: Option<PathBuf>,
    /// A file holding an nkey seed (`SU...`), when the servers authenticate by nkey.
    pub nkey_file: Option<PathBuf>,
    /// Whether the connection must use TLS (as `tls://` URLs do).
    pub require_tls: bool,
    /// Extra CA certificates (PEM) to trust for the servers' TLS certificates.
    pub ca_file: Option<PathBuf>,
    /// The stream of points not yet committed: subjects `tianshu.points.<partition>`.
    pub points_stream: String,
    /// The stream of committed points: subjects `tianshu.committed.<partition>`.
    pub committed_stream: String,
    /// Partitions of both streams; a vehicle's points always go through the same one. Every process of a
    /// deployment must agree on it.
    pub partitions: u16,
    /// Copies of each stream on distinct servers: 3 in production (an acknowledged point is then on a
    /// quorum of two servers' disks), 1 on a single server.
    pub replicas: usize,
    /// The points stream's size bound: when full, gateways acknowledge nothing (terminals retransmit).
    pub points_max_bytes: i64,
    /// How long an uncommitted point may wait in the stream (writers down) before the stream drops it.
    pub points_max_age_secs: u64,
    /// How long committed points stay on the committed stream for rules and live map to read.
    pub committed_max_age_secs: u64,
    /// How long a gateway gathers points before publishing them, one message per partition. Every flush
    /// sends up to `partitions` messages whatever the load, so this bounds the messages the servers
    /// replicate each second: at 3 ms, 10,000 points/s went up as 1.6 points a message and the three NATS
    /// servers spent 95 µs of CPU a point; at 20 ms, 3.3 points a message and 45 µs, and 30,000 points/s
    /// held with a p99 acknowledgement of 71-111 ms (BENCHMARKS.md, "Bus"). It adds at most this to an
    /// acknowledgement.
    pub flush_ms: u64,
    /// A partition's group is published at once when it holds this many points.
    pub max_group_points: usize,
    /// Messages a writer takes in one batch (one store commit, acknowledged together).
    pub writer_batch_messages: usize,
    /// How long the bus waits for a writer's acknowledgement before delivering a message again.
    pub ack_wait_secs: u64,
    /// How long to wait for a server when connecting, publishing or asking the stream something.
    pub timeout_secs: u64,
    /// The key-value bucket of the rules instances' partition leases.
    pub leases_bucket: String,
    /// How long a rules instance's lease lasts unless renewed (renewed every third of it): a dead
    /// instance's partitions are taken over within this and a third of it.
    pub lease_secs: u64,
    /// This process's id among the rules instances and the gateways; empty: the host name and the
    /// process id.
    pub instance: String,
    /// The key-value bucket of which gateway holds each terminal (phone -> gateway id).
    pub terminals_bucket: String,
    /// How long a terminal's gateway entry lasts unless renewed (renewed every third of it).
    pub route_secs: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            servers: Vec::new(),
            credentials_file: None,
            nkey_file: None,
            require_tls: false,
            ca_file: None,
            points_stream: "TIANSHU_POINTS".into(),
            committed_stream: "TIANSHU_COMMITTED".into(),
            partitions: 64,
            replicas: 1,
            points_max_bytes: 10 * 1024 * 1024 * 1024,
            points_max_age_secs: 7 * 24 * 3600,
            committed_max_age_secs: 3600,
            flush_ms: 20,
            max_group_points: 2_000,
            writer_batch_messages: 500,
            ack_wait_secs: 30,
            timeout_secs: 5,
            leases_bucket: "TIANSHU_LEASES".into(),
            lease_secs: 10,
            instance: String::new(),
            terminals_bucket: "TIANSHU_TERMINALS".into(),
            route_secs: 60,
        }
    }
}

impl BusConfig {
    /// Whether a bus is configured.
    pub fn enabled(&self) -> bool {
        !self.servers.is_empty()
    }

    /// How long a lease lasts unless renewed (at least 3 s).
    pub fn lease_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs.max(3))
    }

    /// How long a terminal's gateway entry lasts unless renewed (at least 3 s).
    pub fn route_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.route_secs.max(3))
    }

    /// This process's id in the leases bucket: `instance`, else the host name and the process id, with
    /// every character a bucket key cannot hold replaced.
    pub fn instance_id(&self) -> String {
        let raw = match self.instance.trim() {
            "" => {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                format!("{}-{}", host.trim(), std::process::id())
            }
            set => set.to_string(),
        };
        raw.chars()
            .map(|c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '_',
            })
            .collect()
    }

    /// The servers from a `--bus` flag: URLs separated by commas.
    pub fn servers_from_flag(flag: &str) -> Vec<String> {
        flag.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// The subject of a partition's uncommitted points.
pub fn points_subject(partition: u16) -> String {
    format!("tianshu.points.{partition}")
}

/// The subject of a partition's committed points.
pub fn committed_subject(partition: u16) -> String {
    format!("tianshu.committed.{partition}")
}

/// Where messages that do not decode are moved, outside both streams' subjects.
pub const DEAD_LETTER_SUBJECT: &str = "tianshu.dead.points";

//! The fleet: one tokio task per terminal, a shared clock, ledger and counters, and a handle to stop it.
//!
//! Thousands of terminals per process stay cheap: a terminal is a task with a socket, a small read
//! buffer and its backlog; no thread per terminal, and the world (roads, plans) is shared read-only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tianshu_model::{Phone, Timestamp};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::SimClock;
use crate::ledger::{Ledger, LedgerError};
use crate::scenario::TerminalScenarios;
use crate::terminal::Terminal;
use crate::world::{World, mix_seed};

/// How the fleet runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// The platform's JT/T 808 TCP address.
    #[serde(default = "default_target")]
    pub target: SocketAddr,
    /// How many terminals to run: the world's first N vehicles (0 or more than the world has = all).
    #[serde(default)]
    pub terminals: usize,
    /// Explicit vehicle indices (into the world's vehicles) to run instead of the first `terminals`.
    #[serde(default)]
    pub vehicles: Vec<usize>,
    /// Reporting interval while the ignition is on, in simulated seconds (whole seconds; at least 1).
    #[serde(default = "default_interval_secs")]
    pub interval_secs: f64,
    /// Reporting interval while parked (ignition off), in simulated seconds; never shorter than
    /// `interval_secs`.
    #[serde(default = "default_parked_interval_secs")]
    pub parked_interval_secs: f64,
    /// How much faster than real time simulated time runs (60 = an hour a minute).
    #[serde(default = "default_speedup")]
    pub speedup: f64,
    /// Simulated time at start (UTC ms); `None` = the wall clock at spawn.
    #[serde(default)]
    pub start_ms: Option<i64>,
    /// Real seconds of silence after which a heartbeat (0x0002) is sent.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: f64,
    /// Real seconds to wait for an answer before the first retransmission (T1 of the standard).
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: f64,
    /// Retransmissions of an unanswered message before the link is taken as broken.
    #[serde(default = "default_max_retransmissions")]
    pub max_retransmissions: u32,
    /// Real seconds to wait before reconnecting (multiplied by the failures in a row, up to 6).
    #[serde(default = "default_reconnect_secs")]
    pub reconnect_secs: f64,
    /// Real seconds over which the terminals' first connections are spread.
    #[serde(default = "default_connect_spread_secs")]
    pub connect_spread_secs: f64,
    /// Reports awaiting their answer per terminal; beyond it new points wait in the backlog.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Points per 0x0704 backfill frame (20 keeps the body under the 1023-byte limit).
    #[serde(default = "default_batch_max_points")]
    pub batch_max_points: usize,
    /// Points a terminal keeps while offline; when full the oldest are dropped and counted.
    #[serde(default = "default_max_backlog_points")]
    pub max_backlog_points: usize,
    /// Terminal-level scenarios.
    #[serde(default)]
    pub scenarios: TerminalScenarios,
    /// Local addresses the terminals' connections come from, in turn (empty = the system's choice). Many
    /// loopback addresses (127.0.0.1-127.0.0.20) let one process stay under a per-address connection cap.
    #[serde(default)]
    pub bind_ips: Vec<std::net::IpAddr>,
    /// Where to write the ledger as JSON Lines, if anywhere.
    #[serde(default)]
    pub ledger_path: Option<PathBuf>,
    /// Acknowledged points kept in memory for [`FleetHandle::ledger`]; later ones are only counted
    /// (and written to the file).
    #[serde(default = "default_ledger_memory_points")]
    pub ledger_memory_points: usize,
}

fn default_target() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8808))
}
const fn default_interval_secs() -> f64 {
    10.0
}
const fn default_parked_interval_secs() -> f64 {
    300.0
}
const fn default_speedup() -> f64 {
    1.0
}
const fn default_heartbeat_secs() -> f64 {
    30.0
}
const fn default_ack_timeout_secs() -> f64 {
    10.0
}
const fn default_max_retransmissions() -> u32 {
    3
}
const fn default_reconnect_secs() -> f64 {
    5.0
}
const fn default_connect_spread_secs() -> f64 {
    2.0
}
const fn default_max_in_flight() -> usize {
    64
}
const fn default_batch_max_points() -> usize {
    20
}
const fn default_max_backlog_points() -> usize {
    50_000
}
const fn default_ledger_memory_points() -> usize {
    1_000_000
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            target: default_target(),
            terminals: 0,
            vehicles: Vec::new(),
            interval_secs: default_interval_secs(),
            parked_interval_secs: default_parked_interval_secs(),
            speedup: default_speedup(),
            start_ms: None,
            heartbeat_secs: default_heartbeat_secs(),
            ack_timeout_secs: default_ack_timeout_secs(),
            max_retransmissions: default_max_retransmissions(),
            reconnect_secs: default_reconnect_secs(),
            connect_spread_secs: default_connect_spread_secs(),
            max_in_flight: default_max_in_flight(),
            batch_max_points: default_batch_max_points(),
            max_backlog_points: default_max_backlog_points(),
            scenarios: TerminalScenarios::default(),
            bind_ips: Vec::new(),
            ledger_path: None,
            ledger_memory_points: default_ledger_memory_points(),
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.001, 1e9))
}

impl FleetConfig {
    pub(crate) fn ack_timeout(&self) -> Duration {
        secs(self.ack_timeout_secs)
    }
    pub(crate) fn heartbeat(&self) -> Duration {
        secs(self.heartbeat_secs)
    }
    pub(crate) fn reconnect(&self) -> Duration {
        secs(self.reconnect_secs)
    }
}

/// A counter shared by every terminal.
#[derive(Debug, Default)]
pub struct Counter(AtomicI64);

impl Counter {
    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n as i64, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the fleet has done so far.
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Terminals online (authenticated connection) now.
    pub online: Counter,
    /// TCP connections opened.
    pub connects: Counter,
    /// Connections or logins that failed (refused, timed out, registration or authentication refused).
    pub login_failures: Counter,
    /// Successful registrations (0x8100 result 0).
    pub registrations: Counter,
    /// Registrations refused.
    pub register_refusals: Counter,
    /// Successful authentications.
    pub authentications: Counter,
    /// Authentications refused.
    pub auth_refusals: Counter,
    /// 0x0200 frames sent (first transmissions).
    pub reports_sent: Counter,
    /// Frames sent again for want of an answer.
    pub retransmissions: Counter,
    /// 0x0002 heartbeats sent.
    pub heartbeats_sent: Counter,
    /// 0x0704 type 1 frames sent (first transmissions).
    pub backfill_batches_sent: Counter,
    /// Points acknowledged (live and backfill).
    pub points_acked: Counter,
    /// Of which backfilled.
    pub backfill_points_acked: Counter,
    /// Points recorded into the backlog (offline, blind area, catch-up, window full).
    pub points_buffered: Counter,
    /// Backlog points dropped because the backlog was full.
    pub backlog_dropped: Counter,
    /// Points given up after a timeout with retransmission switched off.
    pub points_abandoned: Counter,
    /// 0x8001 answers with a failure result.
    pub acks_refused: Counter,
}

/// A plain copy of [`FleetStats`] for printing and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // each field mirrors the FleetStats field of the same name
pub struct StatsSnapshot {
    pub online: i64,
    pub connects: i64,
    pub login_failures: i64,
    pub registrations: i64,
    pub register_refusals: i64,
    pub authentications: i64,
    pub auth_refusals: i64,
    pub reports_sent: i64,
    pub retransmissions: i64,
    pub heartbeats_sent: i64,
    pub backfill_batches_sent: i64,
    pub points_acked: i64,
    pub backfill_points_acked: i64,
    pub points_buffered: i64,
    pub backlog_dropped: i64,
    pub points_abandoned: i64,
    pub acks_refused: i64,
}

impl FleetStats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            online: self.online.get(),
            connects: self.connects.get(),
            login_failures: self.login_failures.get(),
            registrations: self.registrations.get(),
            register_refusals: self.register_refusals.get(),
            authentications: self.authentications.get(),
            auth_refusals: self.auth_refusals.get(),
            reports_sent: self.reports_sent.get(),
            retransmissions: self.retransmissions.get(),
            heartbeats_sent: self.heartbeats_sent.get(),
            backfill_batches_sent: self.backfill_batches_sent.get(),
            points_acked: self.points_acked.get(),
            backfill_points_acked: self.backfill_points_acked.get(),
            points_buffered: self.points_buffered.get(),
            backlog_dropped: self.backlog_dropped.get(),
            points_abandoned: self.points_abandoned.get(),
            acks_refused: self.acks_refused.get(),
        }
    }
}

/// What every terminal task shares.
pub(crate) struct Shared {
    pub(crate) world: Arc<World>,
    pub(crate) config: Arc<FleetConfig>,
    pub(crate) clock: SimClock,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) stats: Arc<FleetStats>,
    auth_codes: Mutex<HashMap<Phone, Vec<u8>>>,
}

impl Shared {
    pub(crate) fn auth_code(&self, phone: Phone) -> Option<Vec<u8>> {
        self.auth_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&phone)
            .cloned()
    }
    pub(crate) fn set_auth_code(&self, phone: Phone, code: Vec<u8>) {
        self.auth_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(phone, code);
    }
    pub(crate) fn forget_auth_code(&self, phone: Phone) {
        self.auth_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&phone);
    }
}

/// Parses a list of IPv4/IPv6 addresses and IPv4 ranges: `127.0.0.1,127.0.0.5-127.0.0.9`.
pub fn parse_ip_list(s: &str) -> Result<Vec<std::net::IpAddr>, String> {
    use std::net::{IpAddr, Ipv4Addr};
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        match item.split_once('-') {
            Some((a, b)) => {
                let a: Ipv4Addr = a
                    .trim()
                    .parse()
                    .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
                let b: Ipv4Addr = b
                    .trim()
                    .parse()
                    .map_err(|_| format!("{b:?} is not an IPv4 address"))?;
                let (a, b) = (u32::from(a), u32::from(b));
                if b < a || b - a >= 65_536 {
                    return Err(format!("range {item:?} is empty or longer than 65536 addresses"));
                }
                out.extend((a..=b).map(|x| IpAddr::V4(Ipv4Addr::from(x))));
            }
            None => out.push(
                item.parse()
                    .map_err(|_| format!("{item:?} is not an IP address"))?,
            ),
        }
    }
    Ok(out)
}

/// Why the fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The ledger file could not be created.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Starts fleets.
pub struct Fleet;

impl Fleet {
    /// Spawns one task per terminal on the current tokio runtime and returns at once.
    pub fn spawn(config: FleetConfig, world: Arc<World>) -> Result<FleetHandle, FleetError> {
        let ledger = Arc::new(Ledger::new(
            config.ledger_memory_points,
            config.ledger_path.as_deref(),
        )?);
        let start_ms = config
            .start_ms
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let clock = SimClock::new(start_ms, config.speedup);
        let chosen: Vec<usize> = if config.vehicles.is_empty() {
            let n = match config.terminals {
                0 => world.vehicles.len(),
                n => n.min(world.vehicles.len()),
            };
            (0..n).collect()
        } else {
            config
                .vehicles
                .iter()
                .copied()
                .filter(|&v| v < world.vehicles.len())
                .collect()
        };
        let n = chosen.len();
        let stats = Arc::new(FleetStats::default());
        let config = Arc::new(config);
        let shared = Arc::new(Shared {
            world: world.clone(),
            config: config.clone(),
            clock,
            ledger: ledger.clone(),
            stats: stats.clone(),
            auth_codes: Mutex::new(HashMap::new()),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let interval_ms = ((config.interval_secs * 1000.0).round() as i64).max(1000);
        for v in chosen {
            // Spread first fixes over one interval and first connections over the spread window, so the
            // platform sees a steady stream rather than a wall of simultaneous frames.
            let h = mix_seed(&[world.config.seed, 5, v as u64]);
            let first_fix_ms =
                (start_ms.div_euclid(1000) * 1000) + (h % interval_ms as u64) as i64 / 1000 * 1000;
            let delay = Duration::from_secs_f64(
                config.connect_spread_secs.max(0.0) * ((h >> 20) % 1000) as f64 / 1000.0,
            );
            let bind_ip = (!config.bind_ips.is_empty()).then(|| config.bind_ips[v % config.bind_ips.len()]);
            let t = Terminal::new(shared.clone(), v, first_fix_ms, bind_ip);
            tasks.spawn(t.run(stop_rx.clone(), delay));
        }
        tracing::info!(terminals = n, target = %config.target, speedup = config.speedup, "fleet started");
        Ok(FleetHandle {
            ledger,
            stats,
            stop: stop_tx,
            tasks,
            clock,
            terminals: n,
        })
    }
}

/// A running fleet.
pub struct FleetHandle {
    ledger: Arc<Ledger>,
    stats: Arc<FleetStats>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    clock: SimClock,
    terminals: usize,
}

impl FleetHandle {
    /// The acknowledged points.
    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }

    /// The fleet's counters.
    pub fn stats(&self) -> Arc<FleetStats> {
        self.stats.clone()
    }

    /// The simulated time now.
    pub fn sim_now(&self) -> Timestamp {
        Timestamp(self.clock.now_ms())
    }

    /// How many terminals run.
    pub fn terminals(&self) -> usize {
        self.terminals
    }

    /// Stops every terminal (connections close, nothing more is sent), waits for the tasks and flushes
    /// the ledger file.
    pub async fn stop(mut self) -> Result<StatsSnapshot, FleetError> {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.ledger.flush()?;
        Ok(self.stats.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_lists_and_ranges() {
        let ips = parse_ip_list("127.0.0.1, 127.0.0.5-127.0.0.7,::1").unwrap();
        let text: Vec<String> = ips.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["127.0.0.1", "127.0.0.5", "127.0.0.6", "127.0.0.7", "::1"]);
        assert!(parse_ip_list("127.0.0.9-127.0.0.1").is_err());
        assert!(parse_ip_list("localhost").is_err());
    }
}

//! How the fleet runs: addresses, reporting intervals, the standard's timeouts and retransmissions,
//! backlog and window sizes, the terminal-level scenarios.
//!
//! Intervals of reporting are in simulated seconds; network timers (acknowledgement timeout, heartbeat,
//! reconnection) in real seconds, because the platform on the other end lives in real time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenario::TerminalScenarios;

/// How the fleet runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// The platform's JT/T 808 TCP address.
    pub target: SocketAddr,
    /// More of the platform's JT/T 808 addresses, as terminals configured with a main and backup servers
    /// (parameters 0x0013 and 0x0017) hold them: the terminals start spread over `target` and these (the
    /// vehicle's index decides), and a terminal whose connection or login fails tries the next one.
    pub backup_targets: Vec<SocketAddr>,
    /// How many terminals to run: the world's first N vehicles (0 or more than the world has = all).
    pub terminals: usize,
    /// Explicit vehicle indices (into the world's vehicles) to run instead of the first `terminals`.
    pub vehicles: Vec<usize>,
    /// Reporting interval while the ignition is on, in simulated seconds (whole seconds; at least 1).
    pub interval_secs: f64,
    /// Reporting interval while parked (ignition off), in simulated seconds; never shorter than
    /// `interval_secs`.
    pub parked_interval_secs: f64,
    /// How much faster than real time simulated time runs (60 = an hour a minute).
    pub speedup: f64,
    /// Simulated time at start (UTC ms); `None` = the wall clock at spawn.
    pub start_ms: Option<i64>,
    /// Real seconds of silence after which a heartbeat (0x0002) is sent.
    pub heartbeat_secs: f64,
    /// Real seconds to wait for an answer before the first retransmission (T1 of the standard).
    pub ack_timeout_secs: f64,
    /// Retransmissions of an unanswered message before the link is taken as broken.
    pub max_retransmissions: u32,
    /// Real seconds to wait before reconnecting (multiplied by the failures in a row, up to 6).
    pub reconnect_secs: f64,
    /// Real seconds over which the terminals' first connections are spread.
    pub connect_spread_secs: f64,
    /// Reports awaiting their answer per terminal; beyond it new points wait in the backlog.
    pub max_in_flight: usize,
    /// Points per 0x0704 backfill frame (20 keeps the body under the 1023-byte limit).
    pub batch_max_points: usize,
    /// Points a terminal keeps while offline; when full the oldest are dropped and counted.
    pub max_backlog_points: usize,
    /// Terminal-level scenarios.
    pub scenarios: TerminalScenarios,
    /// Local addresses the terminals' connections come from, in turn (empty = the system's choice). Many
    /// loopback addresses (127.0.0.1-127.0.0.20) let one process stay under a per-address connection cap.
    pub bind_ips: Vec<std::net::IpAddr>,
    /// Where to write the ledger as JSON Lines, if anywhere.
    pub ledger_path: Option<PathBuf>,
    /// Acknowledged points kept in memory for the running fleet's `ledger()`; later ones are only counted
    /// (and written to the file).
    pub ledger_memory_points: usize,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            target: SocketAddr::from(([127, 0, 0, 1], 8808)),
            backup_targets: Vec::new(),
            terminals: 0,
            vehicles: Vec::new(),
            interval_secs: 10.0,
            parked_interval_secs: 300.0,
            speedup: 1.0,
            start_ms: None,
            heartbeat_secs: 30.0,
            ack_timeout_secs: 10.0,
            max_retransmissions: 3,
            reconnect_secs: 5.0,
            connect_spread_secs: 2.0,
            max_in_flight: 64,
            batch_max_points: 20,
            max_backlog_points: 50_000,
            scenarios: TerminalScenarios::default(),
            bind_ips: Vec::new(),
            ledger_path: None,
            ledger_memory_points: 1_000_000,
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

    /// The `k`-th of the platform's addresses in turn: `target`, then `backup_targets`, then round again.
    pub fn server(&self, k: usize) -> SocketAddr {
        match k % (1 + self.backup_targets.len()) {
            0 => self.target,
            i => self.backup_targets[i - 1],
        }
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

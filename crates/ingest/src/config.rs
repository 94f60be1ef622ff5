//! The gateway's settings.
//!
//! This struct is the operator's documentation: every field says why it exists, carries its unit in its name
//! and has a default that suits a city fleet of a few thousand cars on one machine.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Settings of the JT/T 808 gateway (the `[jt808]` section of the configuration file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Most connections open at once; the permit is taken before `accept`, so beyond it new terminals wait in
    /// the kernel's backlog instead of costing memory here.
    pub max_connections: usize,
    /// Most connections open at once from one IP address, so one misbehaving host (or a flood) cannot take every
    /// permit. Terminals behind a carrier NAT share addresses: keep it well above the cars per NAT address.
    pub max_connections_per_ip: usize,
    /// Most connections open at once that have not authenticated yet, a quota within `max_connections`:
    /// connections that never authenticate (a flood, a scan) cannot take the permits terminals need. Beyond
    /// it a new connection is closed at once and counted.
    pub max_unauthenticated: usize,
    /// Bytes a connection that has not authenticated may send outside any frame before it is closed (noise
    /// without a 0x7e never forms a frame, so no frame error would close it).
    pub max_pre_auth_noise_bytes: u64,
    /// How long a new connection may take to authenticate before it is closed; an unauthenticated socket
    /// costs a permit and stores nothing, so it must not linger.
    pub pre_auth_timeout_secs: u64,
    /// The heartbeat interval terminals are configured with (parameter 0x0001); an authenticated connection
    /// silent for three intervals is closed, as the standard suggests.
    pub heartbeat_interval_secs: u64,
    /// Largest escaped frame accepted, delimiters included; a run of bytes longer than this without a closing
    /// 0x7e is an error, not growing memory.
    pub max_frame_bytes: usize,
    /// Accept frames whose checksum or body length is wrong (flagged and counted as leniencies). Some
    /// devices in the field compute them wrongly; a corrupted frame also passes, so keep it off unless such
    /// devices are known to be in the fleet.
    pub accept_bad_checksum: bool,
    /// Protocol errors (bad checksum, undecodable body, unexpected subpackage...) a connection may make before
    /// it is closed; a few are normal on a mobile link, a stream of them is garbage or an attack.
    pub error_budget: u32,
    /// Failed authentications allowed per phone number from one source address within
    /// `auth_failure_window_secs`; beyond it that address's further attempts for the phone are refused without
    /// checking the code, so the code cannot be guessed online. Counted per address, so a stranger's wrong
    /// codes never lock the real terminal out.
    pub auth_failures_max: u32,
    /// Failed authentications allowed per source address within `auth_failure_window_secs`, whatever phones
    /// they claim (one host guessing many phones). Terminals behind a carrier NAT share an address: keep it
    /// well above what the terminals behind one address fail in a window.
    pub auth_failures_max_per_address: u32,
    /// The window over which failed authentications are counted.
    pub auth_failure_window_secs: u64,
    /// Whether a provisioned terminal that already holds an auth code may register again (after a factory
    /// reset it has lost its code; some firmwares register on every connect). Its new code waits beside the
    /// current one, which stays valid until a terminal uses the new one and proves to be the same (the IMEI
    /// on record, the address of its live session, or an administrator's approval where its unit requires
    /// one; without proof it is allowed, counted and alerted). While it is online, a registration from
    /// another address that no IMEI on record can check is refused with result 3, so a connected car cannot
    /// be taken over. `false`: every re-registration is refused with result 3 (an administrator resets the
    /// code).
    pub reregister_when_offline: bool,
    /// How long the parts of a subpackaged message may take to arrive before the missing ones are requested
    /// with 0x8003.
    pub subpackage_timeout_secs: u64,
    /// Most parts a subpackaged message may claim; a larger claim is an error (no buffer is sized by it).
    pub subpackage_max_parts: u16,
    /// Most position reports of one connection waiting for durability at once; when reached the session stops
    /// reading (TCP back-pressure) until the store catches up.
    pub max_in_flight_per_connection: usize,
    /// How long a platform command waits for the terminal's answer by default.
    pub downlink_timeout_secs: u64,
    /// On shutdown, how long sessions may keep running to send the acknowledgements of points already handed
    /// to the store.
    pub shutdown_grace_secs: u64,
    /// Bytes of receive buffer a connection starts with; it grows for large frames. Small keeps idle
    /// connections cheap.
    pub read_buffer_bytes: usize,
    /// What fix times are taken: not read from this section but set from `[uplink]`, which MQTT shares.
    #[serde(skip)]
    pub uplink: crate::uplink::UplinkConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_connections: 20_000,
            max_connections_per_ip: 1_024,
            max_unauthenticated: 4_096,
            max_pre_auth_noise_bytes: 65_536,
            pre_auth_timeout_secs: 30,
            heartbeat_interval_secs: 60,
            // A 1023-byte body, its header (at most 21 bytes), checksum and delimiters, all escaped at worst.
            max_frame_bytes: 2 * (1023 + 21 + 1) + 2,
            accept_bad_checksum: false,
            error_budget: 16,
            auth_failures_max: 5,
            auth_failures_max_per_address: 100,
            auth_failure_window_secs: 300,
            reregister_when_offline: true,
            subpackage_timeout_secs: 30,
            subpackage_max_parts: 256,
            max_in_flight_per_connection: 64,
            downlink_timeout_secs: 30,
            shutdown_grace_secs: 10,
            read_buffer_bytes: 512,
            uplink: crate::uplink::UplinkConfig::default(),
        }
    }
}

impl GatewayConfig {
    /// How long an authenticated connection may stay silent: three heartbeat intervals.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.heartbeat_interval_secs.saturating_mul(3).max(1))
    }

    /// How long a connection may stay unauthenticated.
    pub fn pre_auth_timeout(&self) -> Duration {
        Duration::from_secs(self.pre_auth_timeout_secs.max(1))
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The subpackage timeout.
    pub fn subpackage_timeout(&self) -> Duration {
        Duration::from_secs(self.subpackage_timeout_secs.max(1))
    }

    /// The default downlink answer timeout.
    pub fn downlink_timeout(&self) -> Duration {
        Duration::from_secs(self.downlink_timeout_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_timeout_is_three_heartbeats() {
        let c = GatewayConfig {
            heartbeat_interval_secs: 20,
            ..GatewayConfig::default()
        };
        assert_eq!(c.idle_timeout(), Duration::from_secs(60));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = toml_like_json("{\"max_connection\": 3}");
        assert!(err.is_err());
        let ok: GatewayConfig = serde_json::from_str("{\"max_connections\": 3}").unwrap();
        assert_eq!(ok.max_connections, 3);
        assert_eq!(ok.error_budget, GatewayConfig::default().error_budget);
    }

    fn toml_like_json(s: &str) -> Result<GatewayConfig, serde_json::Error> {
        serde_json::from_str(s)
    }
}

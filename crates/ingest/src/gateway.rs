//! What every session of a gateway shares: the settings, the registry, the sink, the online table and the
//! limits. Sessions and the accept loop both hold it; it holds neither.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tianshu_store::Store;
use tokio::sync::Semaphore;

use crate::config::GatewayConfig;
use crate::downlink::{Downlink, Online};
use crate::limits::{AuthThrottle, PerIpLimiter};
use crate::sink::CaseSink;
use crate::sink::PointSink;

/// What every session of a gateway shares.
pub struct Gateway {
    /// The settings.
    pub config: GatewayConfig,
    /// The registry (terminals, vehicles) and driver events.
    pub store: Store,
    /// Where points go, and how their durability is learnt.
    pub sink: Arc<dyn PointSink>,
    /// Who is online here.
    pub online: Arc<Online>,
    /// Open connections per address.
    pub per_ip: PerIpLimiter,
    /// Failed authentications per address and per phone from an address.
    pub auth_throttle: AuthThrottle,
    /// Connection permits.
    pub permits: Arc<Semaphore>,
    /// Permits of connections that have not authenticated yet (a quota within `permits`).
    pub unauthenticated: Arc<Semaphore>,
    /// Where the gateway's alert cases (re-registrations) go, once the alert runtime runs; until then, or
    /// without it, they are recorded in the store unnotified.
    pub cases: OnceLock<Arc<dyn CaseSink>>,
}

impl Gateway {
    /// A gateway over `store`, handing points to `sink`.
    pub fn new(config: GatewayConfig, store: Store, sink: Arc<dyn PointSink>) -> Arc<Self> {
        let per_ip = PerIpLimiter::new(config.max_connections_per_ip);
        let auth_throttle = AuthThrottle::new(
            config.auth_failures_max,
            config.auth_failures_max_per_address,
            Duration::from_secs(config.auth_failure_window_secs),
        );
        let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let unauthenticated = Arc::new(Semaphore::new(config.max_unauthenticated.max(1)));
        Arc::new(Gateway {
            config,
            store,
            sink,
            online: Arc::default(),
            per_ip,
            auth_throttle,
            permits,
            unauthenticated,
            cases: OnceLock::new(),
        })
    }

    /// The handle for sending commands to the terminals online here.
    pub fn downlink(&self) -> Downlink {
        Downlink::new(self.online.clone(), self.config.downlink_timeout())
    }
}

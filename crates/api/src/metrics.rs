//! The web side's Prometheus metrics (no per-user or per-vehicle labels).

use std::sync::OnceLock;

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

/// The metrics, registered once in the default registry.
pub struct Metrics {
    /// WebSocket clients connected now.
    pub ws_clients: IntGauge,
    /// Snapshots re-sent because a client fell behind the committed points.
    pub live_resyncs: IntCounter,
    /// Alert events a lagging client did not get live (they stay in the inbox).
    pub live_alerts_dropped: IntCounter,
    /// Requests refused, by reason (`unauthenticated`, `forbidden`).
    pub refused: IntCounterVec,
    /// Logins refused before their password was checked, by reason.
    pub login_refused: IntCounterVec,
    /// Replays and exports served, by format.
    pub tracks_served: IntCounterVec,
    /// Downloads whose body ended with an error after their headers were sent, by action.
    pub downloads_broken: IntCounterVec,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    // Registered once per process (OnceLock below); an error here would mean a name clash with
    // another crate's metric, which must not take the API down.
    if let Err(e) = prometheus::default_registry().register(Box::new(c.clone())) {
        tracing::warn!(error = %e, "metric not registered");
    }
    c
}

/// The metrics.
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    // The names and help texts are constants prometheus accepts; construction cannot fail.
    M.get_or_init(|| Metrics {
        ws_clients: register(
            IntGauge::new("tianshu_api_ws_clients", "WebSocket live-feed clients connected")
                .expect("valid metric"),
        ),
        live_resyncs: register(
            IntCounter::new(
                "tianshu_api_live_resyncs_total",
                "Snapshots re-sent to live clients that fell behind",
            )
            .expect("valid metric"),
        ),
        live_alerts_dropped: register(
            IntCounter::new(
                "tianshu_api_live_alerts_dropped_total",
                "Alert events not delivered live to a lagging client (they stay in the inbox)",
            )
            .expect("valid metric"),
        ),
        login_refused: register(
            IntCounterVec::new(
                Opts::new(
                    "tianshu_api_login_refused_total",
                    "Logins refused before their password was checked: throttled, busy, too_long",
                ),
                &["reason"],
            )
            .expect("valid metric"),
        ),
        refused: register(
            IntCounterVec::new(
                Opts::new(
                    "tianshu_api_refused_total",
                    "Requests refused by the role gate or the scope",
                ),
                &["reason"],
            )
            .expect("valid metric"),
        ),
        tracks_served: register(
            IntCounterVec::new(
                Opts::new("tianshu_api_tracks_served_total", "Replays and exports served"),
                &["format"],
            )
            .expect("valid metric"),
        ),
        downloads_broken: register(
            IntCounterVec::new(
                Opts::new(
                    "tianshu_api_downloads_broken_total",
                    "Track downloads cut after their headers were sent (the store failed or the track changed)",
                ),
                &["action"],
            )
            .expect("valid metric"),
        ),
    })
}

//! The operational HTTP endpoints: `/metrics`, `/healthz`, `/readyz`.
//!
//! `/healthz` says the process is alive (it answers at all). `/readyz` says it should receive traffic: the
//! store answers, its writer's queue is not full and its last commit did not fail (a full disk still answers
//! pings), the JT/T 808 listener is up, the MQTT broker is
//! connected when configured, and the process is not shutting down; when not ready it answers
//! 503 with the reason in the body, so an operator reading a probe failure knows where to look. When ready,
//! the body lists TimescaleDB's policy jobs on `points` (last run, last success, consecutive failures), if
//! any. `/metrics`
//! is the Prometheus text format of the default registry, where every crate registers its metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tianshu_store::Store;

/// What `/readyz` checks.
#[derive(Clone)]
pub struct Readiness {
    /// The store, pinged on every probe.
    pub store: Store,
    /// Set once the JT/T 808 listener is bound and accepting.
    pub gateway_listening: Arc<AtomicBool>,
    /// Set when shutdown began: load balancers should stop sending terminals here.
    pub shutting_down: Arc<AtomicBool>,
    /// The MQTT ingest connection, when MQTT is configured: not ready while the broker is unreachable.
    pub mqtt: Option<Arc<tianshu_mqtt::MqttStatus>>,
    /// The bus, when there is one: not ready while it is unreachable (a gateway acknowledges nothing).
    pub bus: Option<tianshu_bus::Bus>,
}

/// How long a store ping may take before the probe calls the store unavailable.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The router of the operational endpoints.
pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn metrics() -> Response {
    use prometheus::Encoder;
    let encoder = prometheus::TextEncoder::new();
    let families = prometheus::default_registry().gather();
    let mut body = Vec::with_capacity(16 * 1024);
    match encoder.encode(&families, &mut body) {
        Ok(()) => ([(header::CONTENT_TYPE, encoder.format_type().to_string())], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(r): State<Readiness>) -> Response {
    if r.shutting_down.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down\n").into_response();
    }
    if !r.gateway_listening.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the JT/T 808 listener is not up\n",
        )
            .into_response();
    }
    if r.mqtt.as_ref().is_some_and(|m| !m.is_connected()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the MQTT broker is not connected\n",
        )
            .into_response();
    }
    if r.bus.as_ref().is_some_and(|b| !b.connected()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the bus is not connected (nothing is being acknowledged)\n",
        )
            .into_response();
    }
    if r.store.writer_saturated() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the store writer's queue is full (the database is not keeping up)\n",
        )
            .into_response();
    }
    if r.store.writer_failing() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the store's last commit failed (nothing is being acknowledged)\n",
        )
            .into_response();
    }
    match tokio::time::timeout(STORE_PING_TIMEOUT, r.store.ping()).await {
        Ok(Ok(())) => {
            // Policy jobs that fail do not stop ingest, so they do not make the process unready; the
            // detail says how they are doing.
            let mut body = "ready\n".to_string();
            for job in r.store.timescale_jobs() {
                body.push_str(&job.describe());
                body.push('\n');
            }
            body.into_response()
        }
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: store: {e}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: store did not answer within {STORE_PING_TIMEOUT:?}\n"),
        )
            .into_response(),
    }
}

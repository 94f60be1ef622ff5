//! The HTTP listener's accept loop: a connection cap of its own and a deadline for every request's headers.
//!
//! Without them, idle or slow HTTP connections (a slowloris, or tabs left open) could hold every descriptor
//! the process has, and the JT/T 808 gateway, in the same process, would stop accepting terminals. So:
//! - at most `max_connections` HTTP connections are open at once; beyond it new ones wait in the kernel's
//!   backlog, and the gateway's descriptors are untouched;
//! - a connection that does not send a request's headers within `header_timeout` (the first request's,
//!   or the next one's on a kept-alive connection) is closed;
//! - the peer address reaches the handlers as axum's `ConnectInfo`, as with `axum::serve`.
//!
//! A WebSocket leaves the HTTP connection once upgraded (it needs a login) and no longer counts.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::{debug, warn};

/// How the HTTP listener bounds its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Most HTTP connections open at once.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, or stay idle between requests.
    pub header_timeout: Duration,
    /// How long shutdown waits for requests in progress.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `shutdown`, then lets requests in progress finish within the grace.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted: try again shortly
                    // rather than spin.
                    warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // The peer reaches handlers as `ConnectInfo`, inserted per request (as `axum::serve` does), not by
        // layering the router anew for every connection.
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request)
            });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stop.cancelled() => {
                    // Finish the request in progress, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection gives its permit back when it ends: all of them back means all requests finished.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        debug!("HTTP requests still in progress at the end of the grace period were cut");
    }
    Ok(())
}

/// The process's open-file limit (soft), from `/proc/self/limits`, when it can be read.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&limits)
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text; `None` when absent or unlimited.
fn parse_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Descriptors kept for the store, log files, the MQTT connection and the like, beyond the two listeners'
/// connections.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// The JT/T 808 connection cap that fits the open-file limit `nofile` beside `http_connections` HTTP
/// connections and [`RESERVED_DESCRIPTORS`]: the configured `gateway_connections`, lowered when it does not
/// fit, so that neither listener can run the process out of descriptors.
pub fn gateway_connections_within(
    gateway_connections: usize,
    http_connections: usize,
    nofile: Option<u64>,
) -> usize {
    let Some(nofile) = nofile else {
        return gateway_connections;
    };
    let room = nofile.saturating_sub(RESERVED_DESCRIPTORS + http_connections as u64);
    gateway_connections
        .min(usize::try_from(room).unwrap_or(usize::MAX))
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_cap_is_lowered_to_fit_the_open_file_limit() {
        assert_eq!(gateway_connections_within(20_000, 1_024, Some(1_048_576)), 20_000);
        assert_eq!(
            gateway_connections_within(20_000, 1_024, Some(20_000)),
            20_000 - 1_024 - 256
        );
        assert_eq!(gateway_connections_within(20_000, 1_024, None), 20_000);
        assert_eq!(gateway_connections_within(20_000, 1_024, Some(100)), 1);
    }

    #[test]
    fn the_open_file_limit_is_read_from_proc() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            20000                524288               files     \n";
        assert_eq!(parse_open_file_limit(text), Some(20_000));
        assert_eq!(
            parse_open_file_limit("Max open files  unlimited unlimited files"),
            None
        );
        assert!(open_file_limit().is_some(), "this process has one");
    }
}

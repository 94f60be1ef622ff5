//! The accept loop and graceful shutdown.
//!
//! A connection permit is taken *before* `accept`: beyond `max_connections`, new terminals wait in the
//! kernel backlog instead of costing memory here. After accept, the per-IP cap and the quota of connections
//! that have not authenticated are checked; a connection over either is closed at once and counted. Each accepted connection runs one [`crate::session`] task.
//!
//! Shutdown: stop accepting, tell every session to stop reading and finish the acknowledgements of points
//! already handed to the store, wait up to the grace period, then end the sessions that are still running.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::gateway::Gateway;
use crate::metrics::METRICS;
use crate::session::Stop;

/// Accepts terminals on `listener` until `shutdown` is cancelled, then shuts down gracefully. Returns when
/// every session has ended.
pub async fn run(listener: TcpListener, gateway: Arc<Gateway>, shutdown: CancellationToken) {
    let local = listener.local_addr().ok();
    info!(addr = ?local, "JT/T 808 gateway accepting");
    let stop = Stop {
        drain: shutdown.child_token(),
        abort: CancellationToken::new(),
    };
    let sessions = TaskTracker::new();
    let mut accept_errors: u32 = 0;
    loop {
        // Take the permit before accepting.
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            permit = gateway.permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // the semaphore is never closed; treat as shutdown
            },
        };
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(a) => {
                accept_errors = 0;
                a
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning, keep serving.
                accept_errors = accept_errors.saturating_add(1);
                let backoff = Duration::from_millis(10u64 << accept_errors.min(6));
                warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept failed");
                drop(permit);
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        METRICS.connections_accepted.inc();
        // The per-address cap, then the quota of connections that have not authenticated.
        let admitted = match gateway.per_ip.try_acquire(peer.ip()) {
            None => Err("per_ip_cap"),
            Some(slot) => match gateway.unauthenticated.clone().try_acquire_owned() {
                Ok(quota) => Ok((slot, quota)),
                Err(_) => Err("unauthenticated_cap"),
            },
        };
        let (ip_slot, unauthenticated) = match admitted {
            Ok(admitted) => admitted,
            Err(reason) => {
                METRICS.connections_refused.with_label_values(&[reason]).inc();
                debug!(%peer, reason, "connection refused");
                drop(socket);
                continue;
            }
        };
        let gateway = gateway.clone();
        let stop = stop.clone();
        // No span for the connection's life (an idle connection would hold it in the log subscriber): the
        // session opens one per wake-up.
        sessions.spawn(async move {
            METRICS.connections_open.inc();
            let reason = serve_connection(socket, peer, &gateway, stop, unauthenticated).await;
            METRICS.connections_open.dec();
            METRICS.connections_closed.with_label_values(&[reason]).inc();
            drop(ip_slot);
            drop(permit);
        });
    }
    drop(listener);
    sessions.close();
    let open = sessions.len();
    info!(
        open_sessions = open,
        grace_secs = gateway.config.shutdown_grace_secs,
        "JT/T 808 gateway draining"
    );
    stop.drain.cancel();
    let started = Instant::now();
    if tokio::time::timeout(gateway.config.shutdown_grace(), sessions.wait())
        .await
        .is_err()
    {
        warn!(
            still_open = sessions.len(),
            "grace period over; closing the remaining sessions"
        );
        stop.abort.cancel();
        sessions.wait().await;
    }
    info!(
        drain_ms = started.elapsed().as_millis() as u64,
        "JT/T 808 gateway stopped"
    );
}

async fn serve_connection(
    socket: TcpStream,
    peer: SocketAddr,
    gateway: &Gateway,
    stop: Stop,
    unauthenticated: OwnedSemaphorePermit,
) -> &'static str {
    // Acknowledgements are small and latency matters more than packing them.
    let _ = socket.set_nodelay(true);
    crate::session::run(socket, peer, gateway, stop, unauthenticated).await
}

//! The live feed: `GET /api/live` upgrades to a WebSocket that sends a snapshot of the vehicles the
//! user may see, then position and alert deltas as they are committed.
//!
//! Positions come from the store writer's committed-points fan-out ([`tianshu_store::Store::subscribe`]),
//! so a car appears on the map only once its point is durable: the same moment the terminal is
//! acknowledged. A client that falls behind loses batches (counted by the store's subscription) and is
//! sent a fresh snapshot, so it never shows a stale picture for long. Reconnecting is simply a new
//! snapshot: the page needs no resume token.
//!
//! Messages (JSON text frames), positions in the API's one shape ([`WirePosition`], phones masked for every
//! role but administrators):
//! - `{"type":"snapshot","vehicles":[...],"positions":[...]}`
//! - `{"type":"positions","points":[...]}`
//! - `{"type":"alert","alert":{...}}`
//!
//! The feed checks its session again whenever a session ends or a user changes through this server, and
//! every `[web] live_recheck_secs` besides (a change made elsewhere, an expiry): a session that ended, or
//! a user disabled, deleted or given another role or unit, closes the feed (code
//! [`CLOSE_SESSION_ENDED`]); vehicles that came into or left the user's scope get a fresh snapshot.
//!
//! `GET /api/positions/latest` answers the snapshot's positions once, without the socket.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use tianshu_model::VehicleId;
use tokio::sync::{broadcast, watch};

use crate::ApiState;
use crate::auth::{Credential, Principal, credential, principal_of};
use crate::error::{ApiError, ApiResult};
use crate::headers::check_origin;
use crate::position::{Identity, WirePosition, wire_positions};
use crate::scope::Scoped;

/// An alert as pushed to the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// The vehicle (the scope filter reads it).
    pub vehicle: VehicleId,
    /// `warning` or `severe` (the page plays a sound for severe ones).
    pub severity: String,
    /// Everything else (rule, case id, time, text).
    #[serde(flatten)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// Alert events for WebSocket clients; the alerts engine publishes into it.
#[derive(Clone)]
pub struct LiveHub {
    /// Bounded; a lagging client loses the oldest alerts (they stay in the inbox).
    alerts: broadcast::Sender<Arc<AlertEvent>>,
    /// Moved on every logout and every change of a user: each open feed checks its session again.
    sessions: Arc<watch::Sender<u64>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    /// A hub with room for 1024 undelivered alerts per client.
    pub fn new() -> Self {
        LiveHub {
            alerts: broadcast::channel(1024).0,
            sessions: Arc::new(watch::channel(0).0),
        }
    }

    /// Tells every open feed that a session ended or a user changed, so that each checks its own at once.
    pub fn sessions_changed(&self) {
        self.sessions.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Pushes an alert to every connected client allowed to see its vehicle.
    pub fn publish_alert(&self, alert: AlertEvent) {
        // No receivers is normal (nobody has the page open).
        let _ = self.alerts.send(Arc::new(alert));
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outgoing<'a> {
    Snapshot {
        vehicles: &'a [tianshu_model::Vehicle],
        positions: Vec<WirePosition>,
    },
    Positions {
        points: Vec<WirePosition>,
    },
    Alert {
        alert: &'a AlertEvent,
    },
}

/// `GET /api/positions/latest`: the latest position of every vehicle in scope.
pub async fn latest(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<WirePosition>>> {
    let points = Scoped::new(&state, &who).await?.latest_positions().await?;
    Ok(Json(wire_positions(&points, Identity::for_role(who.role))))
}

/// `GET /api/live`: the WebSocket upgrade, from the server's own origin or an allowed one (else 403).
pub async fn live(
    State(state): State<ApiState>,
    who: Principal,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    check_origin(&headers, state.config())?;
    let ws = ws.map_err(|e| ApiError::Status(e.status(), e.body_text()))?;
    let credential = credential(&headers).ok_or(ApiError::Unauthenticated)?;
    let scoped = Scoped::new(&state, &who).await?;
    let session = Session { credential, who };
    Ok(ws.on_upgrade(move |socket| async move {
        crate::metrics::metrics().ws_clients.inc();
        if let Err(e) = feed(state, session, scoped, socket).await {
            tracing::debug!(error = %e, "live feed ended");
        }
        crate::metrics::metrics().ws_clients.dec();
    }))
}

async fn snapshot(scoped: &Scoped) -> ApiResult<String> {
    let vehicles = scoped.vehicles().await?;
    let identity = Identity::for_role(scoped.who().role);
    let positions = wire_positions(&scoped.latest_positions().await?, identity);
    Ok(serde_json::to_string(&Outgoing::Snapshot {
        vehicles: &vehicles,
        positions,
    })
    .unwrap_or_default())
}

/// The session (or API token) a feed was opened with.
struct Session {
    credential: Credential,
    who: Principal,
}

/// The close code of a feed whose session ended or whose user changed (a private-use code): the page
/// reconnects, and a reconnect without a session is refused.
pub const CLOSE_SESSION_ENDED: u16 = 4401;

/// What a feed does after checking its session again.
enum Recheck {
    /// Same user, same vehicles.
    Same,
    /// Same user, other vehicles: a fresh snapshot in the new scope.
    Rescoped(Box<Scoped>, Option<HashSet<VehicleId>>),
    /// The session ended, or the user is disabled or changed: close.
    Ended,
}

async fn recheck(
    state: &ApiState,
    session: &Session,
    visible: &Option<HashSet<VehicleId>>,
) -> ApiResult<Recheck> {
    let now = principal_of(state, &session.credential).await?.map(|(p, _)| p);
    if now.as_ref() != Some(&session.who) {
        return Ok(Recheck::Ended);
    }
    let scoped = Scoped::new(state, &session.who).await?;
    let ids = scoped.vehicle_ids().await?;
    Ok(if &ids == visible {
        Recheck::Same
    } else {
        Recheck::Rescoped(Box::new(scoped), ids)
    })
}

async fn feed(
    state: ApiState,
    session: Session,
    mut scoped: Scoped,
    mut socket: WebSocket,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Subscribe before the snapshot: a point committed in between is sent twice, never lost.
    let mut points = state.store().subscribe();
    let mut alerts = state.live().alerts.subscribe();
    let mut sessions = state.live().sessions.subscribe();
    let mut visible: Option<HashSet<VehicleId>> = scoped.vehicle_ids().await?;
    socket
        .send(Message::Text(snapshot(&scoped).await?.into()))
        .await?;
    let mut missed = points.missed_batches();
    let every = std::time::Duration::from_secs(state.config().live_recheck_secs.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = async {
                tokio::select! {
                    c = sessions.changed() => c.is_ok(),
                    _ = tick.tick() => true,
                }
            } => {
                if !changed {
                    // The hub is gone: check on the timer only.
                    sessions = watch::channel(0).1;
                }
                match recheck(&state, &session, &visible).await? {
                    Recheck::Same => {}
                    Recheck::Rescoped(s, ids) => {
                        (scoped, visible) = (*s, ids);
                        socket.send(Message::Text(snapshot(&scoped).await?.into())).await?;
                    }
                    Recheck::Ended => {
                        let frame = CloseFrame { code: CLOSE_SESSION_ENDED, reason: "session ended".into() };
                        // The peer may be gone already; the feed ends either way.
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        return Ok(());
                    }
                }
            }
            batch = points.recv() => {
                let Some(batch) = batch else { return Ok(()) };
                if points.missed_batches() != missed {
                    missed = points.missed_batches();
                    crate::metrics::metrics().live_resyncs.inc();
                    socket.send(Message::Text(snapshot(&scoped).await?.into())).await?;
                    continue;
                }
                let identity = Identity::for_role(session.who.role);
                let pts: Vec<WirePosition> = batch
                    .points
                    .iter()
                    .filter(|p| visible.as_ref().is_none_or(|s| s.contains(&p.vehicle)))
                    .map(|p| WirePosition(*p, identity))
                    .collect();
                if !pts.is_empty() {
                    let text = serde_json::to_string(&Outgoing::Positions { points: pts })?;
                    socket.send(Message::Text(text.into())).await?;
                }
            }
            alert = alerts.recv() => {
                match alert {
                    Ok(a) => {
                        if visible.as_ref().is_none_or(|s| s.contains(&a.vehicle)) {
                            let text = serde_json::to_string(&Outgoing::Alert { alert: &a })?;
                            socket.send(Message::Text(text.into())).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        crate::metrics::metrics().live_alerts_dropped.inc_by(n);
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                    // Pings are answered by axum; the page sends nothing else that matters.
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

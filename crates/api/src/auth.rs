//! Login, sessions and the role gate.
//!
//! Passwords are stored as argon2 PHC strings. A successful `POST /api/session` creates a random
//! 256-bit session token, kept only in memory here and in an HttpOnly, SameSite=Strict cookie in the
//! browser; a restart logs everybody out, which is the safe direction. The gate in front of every
//! protected route resolves the cookie to a [`Principal`] and checks the route's roles.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tianshu_model::{Timestamp, UnitId};
use tianshu_store::access::{AuditEntry, Role};

use crate::ApiState;
use crate::error::{ApiError, ApiResult};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "tianshu_session";

/// Who is calling: resolved from the session cookie by the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The user's id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Unit (bounds a supervisor's scope).
    pub unit: Option<UnitId>,
}

/// Hashes a password with argon2 (random salt), for storing.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches a stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A PHC string of a password nobody knows, verified against on an unknown username so that the
/// answer takes as long as for a known one.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&hex::encode(random_bytes())).unwrap_or_default())
}

fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// The live sessions.
pub(crate) struct Sessions {
    /// Token -> (who, last seen).
    map: Mutex<HashMap<String, (Principal, Instant)>>,
    /// Idle lifetime.
    ttl: Duration,
}

impl Sessions {
    pub(crate) fn new(ttl_secs: u64) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            ttl: Duration::from_secs(ttl_secs.max(60)),
        }
    }

    fn create(&self, who: Principal) -> String {
        let token = hex::encode(random_bytes());
        if let Ok(mut m) = self.map.lock() {
            let now = Instant::now();
            m.retain(|_, (_, seen)| now.duration_since(*seen) < self.ttl);
            m.insert(token.clone(), (who, now));
        }
        token
    }

    fn get(&self, token: &str) -> Option<Principal> {
        let mut m = self.map.lock().ok()?;
        let now = Instant::now();
        match m.get_mut(token) {
            Some((who, seen)) if now.duration_since(*seen) < self.ttl => {
                *seen = now;
                Some(who.clone())
            }
            Some(_) => {
                m.remove(token);
                None
            }
            None => None,
        }
    }

    fn remove(&self, token: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(token);
        }
    }

    /// Ends every session of a user (deleted or demoted).
    pub(crate) fn remove_user(&self, username: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, (p, _)| p.username != username);
        }
    }
}

fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v)
}

/// The caller's network address, for the audit log: the socket peer, or the first
/// `X-Forwarded-For` hop when a reverse proxy sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.to_string());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|s| s.trim().to_string());
        let remote = match (peer, forwarded) {
            (Some(p), Some(f)) => format!("{f} via {p}"),
            (Some(p), None) => p,
            (None, Some(f)) => f,
            (None, None) => "-".to_string(),
        };
        Ok(Client(remote))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthenticated)
    }
}

/// The roles a route admits; the gate's state.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) state: ApiState,
    pub(crate) roles: &'static [Role],
}

/// Resolves the session and checks the role before the handler runs.
pub(crate) async fn gate(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let Some(who) = session_token(req.headers()).and_then(|t| gate.state.sessions().get(t)) else {
        return ApiError::Unauthenticated.into_response();
    };
    if !gate.roles.contains(&who.role) {
        return ApiError::Forbidden.into_response();
    }
    req.extensions_mut().insert(who);
    next.run(req).await
}

/// `POST /api/session` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Writes one audit record; a failure is logged loudly but does not fail the request that caused
/// it only for actions that hand out no data (login, logout).
pub(crate) async fn audit(state: &ApiState, entry: AuditEntry) -> ApiResult<()> {
    state
        .store()
        .access()
        .append_audit(
            Timestamp::from_millis(chrono::Utc::now().timestamp_millis()),
            &entry,
        )
        .await?;
    Ok(())
}

/// `POST /api/session`: checks the password and sets the session cookie.
pub async fn login(State(state): State<ApiState>, client: Client, Json(req): Json<LoginRequest>) -> Response {
    let user = match state.store().access().user_by_name(&req.username).await {
        Ok(u) => u,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let password = req.password;
    let phc = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    // argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    let entry = AuditEntry {
        actor: req.username.clone(),
        role: user.as_ref().map(|u| u.role.to_string()).unwrap_or_default(),
        action: if ok && user.is_some() {
            "login".into()
        } else {
            "login.failed".into()
        },
        remote: client.0,
        ..Default::default()
    };
    if let Err(e) = audit(&state, entry).await {
        tracing::error!(error = %e, "audit record for a login could not be written");
        return e.into_response();
    }
    let Some(user) = user.filter(|_| ok) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "wrong username or password"})),
        )
            .into_response();
    };
    let who = Principal {
        user_id: user.id,
        username: user.username,
        role: user.role,
        unit: user.unit,
    };
    let token = state.sessions().create(who.clone());
    let secure = if state.config().cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let mut resp = Json(who).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    resp
}

/// `DELETE /api/session`: ends the session and clears the cookie.
pub async fn logout(State(state): State<ApiState>, client: Client, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        if let Some(who) = state.sessions().get(token) {
            let entry = AuditEntry {
                actor: who.username.clone(),
                role: who.role.to_string(),
                action: "logout".into(),
                remote: client.0,
                ..Default::default()
            };
            if let Err(e) = audit(&state, entry).await {
                tracing::error!(error = %e, "audit record for a logout could not be written");
            }
        }
        state.sessions().remove(token);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("tianshu_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    resp
}

/// `GET /api/me`: who the session belongs to.
pub async fn me(who: Principal) -> Json<Principal> {
    Json(who)
}

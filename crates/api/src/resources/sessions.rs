//! Logging in and out, and who is logged in: `POST`/`DELETE /api/session`, `GET /api/me`.
//!
//! A wrong password, an unknown user and a disabled user are told the same (401) and take as long
//! (an unknown name is checked against a password nobody knows). Every attempt is audited; a login
//! fails when its audit record cannot be written, a logout does not (it hands out nothing).

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tianshu_store::access::{AuditEntry, session_token_hash};

use crate::ApiState;
use crate::audit;
use crate::auth::{
    COOKIE_NAME, Client, Peer, Principal, create_session, dummy_hash, session_principal, session_token,
    verify_password_reusing,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use crate::login::Refusal;
use crate::resources::users::MAX_USERNAME_BYTES;

/// `POST /api/session` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// `POST /api/session`: checks the password and sets the session cookie.
///
/// Before any password is checked or audit record written: a username longer than any user may have
/// is refused (400), and so is an address or a username in its wait after failed logins, or a login
/// when too many checks run and wait (429 with `Retry-After`; see [`crate::login`]). The body is
/// bounded by `[web.login] max_body_bytes` (413).
pub async fn login(
    State(state): State<ApiState>,
    client: Client,
    Peer(peer): Peer,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Response> {
    if req.username.len() > MAX_USERNAME_BYTES {
        login_refused("too_long");
        return Err(ApiError::BadRequest(format!(
            "username: longer than {MAX_USERNAME_BYTES} bytes"
        )));
    }
    let guard = state.login_guard();
    guard.check(peer, &req.username).map_err(refusal)?;
    let user = state.store().access().user_by_name(&req.username).await?;
    let password = req.password;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    // argon2 is deliberately slow and large: keep it off the async workers, a bounded few at a time.
    let ok = guard
        .hash(move || match &phc {
            Some(phc) => verify_password_reusing(&password, phc),
            None => verify_password_reusing(&password, dummy_hash()),
        })
        .await
        .map_err(refusal)?;
    let disabled = user.as_ref().is_some_and(|u| u.disabled);
    let entry = AuditEntry {
        actor: req.username.clone(),
        role: user.as_ref().map(|u| u.role.to_string()).unwrap_or_default(),
        action: match (ok && user.is_some(), disabled) {
            (true, false) => "login".into(),
            (true, true) => "login.disabled".into(),
            (false, _) => "login.failed".into(),
        },
        remote: client.0.clone(),
        ..Default::default()
    };
    if let Err(e) = audit::record(&state, entry).await {
        tracing::error!(error = %e, "audit record for a login could not be written");
        return Err(e);
    }
    // A disabled user is told what anybody with a wrong password is told.
    let Some(user) = user.filter(|u| ok && !u.disabled) else {
        guard.failed(peer, &req.username);
        return Err(ApiError::WrongLogin);
    };
    guard.succeeded(&req.username);
    let who = Principal {
        user_id: user.id,
        username: user.username,
        role: user.role,
        unit: user.unit,
    };
    let token = create_session(&state, who.user_id, &client.0).await?;
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
    Ok(resp)
}

/// A login refused before its password was checked: 429, counted by reason.
fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::Throttled(wait) => {
            login_refused("throttled");
            ApiError::TooMany(
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                "too many failed logins: try again later".into(),
            )
        }
        Refusal::Busy => {
            login_refused("busy");
            ApiError::TooMany(1, "too many logins at once: try again in a moment".into())
        }
    }
}

fn login_refused(reason: &str) {
    crate::metrics::metrics()
        .login_refused
        .with_label_values(&[reason])
        .inc();
}

/// `DELETE /api/session`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<ApiState>,
    client: Client,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(token) = session_token(&headers) {
        if let Ok(Some(who)) = session_principal(&state, token).await
            && let Err(e) = audit::record(&state, audit::entry(&who, client, "logout")).await
        {
            tracing::error!(error = %e, "audit record for a logout could not be written");
        }
        if let Err(e) = state
            .store()
            .access()
            .delete_session(&session_token_hash(token))
            .await
        {
            tracing::error!(error = %e, "a session could not be deleted at logout");
            return Err(e.into());
        }
        state.live().sessions_changed();
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let cleared = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&cleared) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(resp)
}

/// `GET /api/me`: who the session belongs to.
pub async fn me(who: Principal) -> Json<Principal> {
    Json(who)
}

//! Sessions and the role gate (the login and logout routes are `resources::sessions`).
//!
//! Passwords are stored as argon2 PHC strings. A successful `POST /api/session` creates a random
//! 256-bit session token, sent only in an HttpOnly, SameSite=Strict cookie; the store keeps its SHA-256
//! (never the token) with an idle expiry, so sessions survive a restart of the server and a stolen
//! copy of the table lets nobody in. Logout deletes the session; deleting or disabling a user ends
//! theirs. The gate in front of every protected route resolves the cookie to a [`Principal`] from the
//! user as stored now (a changed role or unit applies at once) and checks the route's roles.
//!
//! A machine client sends a personal API token instead (`Authorization: Bearer <token>`, created by its
//! user through `resources::tokens`): it acts as that user, with their role and unit scope as stored
//! now, until revoked; like a session token only its SHA-256 is stored. An unknown or revoked token is
//! refused (401) like a missing session.

use std::net::SocketAddr;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::Serialize;
use tianshu_model::{Timestamp, UnitId};
use tianshu_store::access::{NewSession, Role, session_token_hash};

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

/// Like [`verify_password`], computing in memory this thread keeps from one check to the next (about
/// 19 MiB with the default parameters), so that a stream of checks on a few threads allocates nothing
/// after the first and the allocator does not end up holding many freed copies.
pub(crate) fn verify_password_reusing(password: &str, phc: &str) -> bool {
    thread_local! {
        static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    MEMORY.with(|m| verify_password_in(password, phc, &mut m.borrow_mut()))
}

fn verify_password_in(password: &str, phc: &str, memory: &mut Vec<argon2::Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(&parsed),
        argon2::Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    memory.resize(params.block_count(), argon2::Block::default());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_ok()
        // `Output`'s equality is constant-time.
        && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// A PHC string of a password nobody knows, verified against on an unknown username so that the
/// answer takes as long as for a known one.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&hex::encode(random_bytes())).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_check_in_kept_memory_agrees_with_the_plain_one() {
        let phc = super::hash_password("correct horse").expect("hashing");
        let mut memory = Vec::new();
        for (password, ok) in [("correct horse", true), ("wrong", false), ("correct horse", true)] {
            assert_eq!(super::verify_password(password, &phc), ok);
            assert_eq!(super::verify_password_in(password, &phc, &mut memory), ok);
        }
        assert!(!super::verify_password_in("x", "not a phc", &mut memory));
        assert!(super::verify_password_reusing("correct horse", &phc));
    }
}

fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// Creates a session for `user` and returns the token for the cookie.
pub(crate) async fn create_session(state: &ApiState, user_id: i64, remote: &str) -> ApiResult<String> {
    let token = hex::encode(random_bytes());
    let now = Timestamp::now();
    state
        .store()
        .access()
        .create_session(&NewSession {
            token_hash: session_token_hash(&token),
            user_id,
            created: now,
            expires: now.add_millis(ttl_ms(state)),
            remote: remote.to_string(),
        })
        .await?;
    Ok(token)
}

/// The idle lifetime of a session, from the configuration (at least a minute).
fn ttl_ms(state: &ApiState) -> i64 {
    i64::try_from(state.config().session_ttl_secs.max(60))
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

/// The caller behind a session token, if the session is alive; moves its expiry forward once half its
/// idle lifetime has passed (so a busy page writes once per half-lifetime, not once per request).
pub(crate) async fn session_principal(state: &ApiState, token: &str) -> ApiResult<Option<Principal>> {
    let hash = session_token_hash(token);
    let now = Timestamp::now();
    let Some(s) = state.store().access().session(&hash, now).await? else {
        return Ok(None);
    };
    let ttl = ttl_ms(state);
    if s.expires.millis() - now.millis() < ttl / 2 {
        state
            .store()
            .access()
            .touch_session(&hash, now.add_millis(ttl))
            .await?;
    }
    Ok(Some(Principal {
        user_id: s.user.id,
        username: s.user.username,
        role: s.user.role,
        unit: s.user.unit,
    }))
}

/// The prefix of every personal API token (what a secret scanner or a reader of a log recognises).
pub const TOKEN_PREFIX: &str = "tsk_";

/// A new personal API token's secret: the prefix and 256 random bits in hex.
pub(crate) fn new_api_token() -> String {
    format!("{TOKEN_PREFIX}{}", hex::encode(random_bytes()))
}

/// What a request authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The session cookie's token.
    Session(String),
    /// A personal API token (`Authorization: Bearer`).
    Token(String),
}

/// How the caller of a request was authenticated (put beside the [`Principal`] by the gate): token
/// management needs a login session, so that a token cannot make or unmake tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A login session.
    Session,
    /// The personal API token of this id.
    Token(i64),
}

/// The request's credential: the session cookie when there is one, else a bearer token.
pub(crate) fn credential(headers: &HeaderMap) -> Option<Credential> {
    if let Some(t) = session_token(headers) {
        return Some(Credential::Session(t.to_string()));
    }
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| Credential::Token(token.trim().to_string()))
}

/// The caller behind a credential as stored now, with how they were authenticated; `None` when the
/// session ended or the token is unknown or revoked, or its user disabled.
pub(crate) async fn principal_of(
    state: &ApiState,
    credential: &Credential,
) -> ApiResult<Option<(Principal, AuthMethod)>> {
    match credential {
        Credential::Session(t) => Ok(session_principal(state, t)
            .await?
            .map(|p| (p, AuthMethod::Session))),
        Credential::Token(t) => {
            let found = state.store().access().token_user(&session_token_hash(t)).await?;
            Ok(found.map(|(id, u)| {
                let who = Principal {
                    user_id: u.id,
                    username: u.username,
                    role: u.role,
                    unit: u.unit,
                };
                (who, AuthMethod::Token(id))
            }))
        }
    }
}

pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
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

/// The socket peer's IP address (never a header a client could set): what failed logins are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
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

/// What an audited handler starts from: the API's state, who is asking ([`Principal`]) and from where
/// ([`Client`]), extracted in that order (an unauthenticated request is refused before the rest).
pub struct Caller {
    /// The API's state.
    pub state: ApiState,
    /// Who is asking.
    pub who: Principal,
    /// From where.
    pub client: Client,
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let who = Principal::from_request_parts(parts, state).await?;
        let Ok(client) = Client::from_request_parts(parts, state).await;
        Ok(Caller {
            state: state.clone(),
            who,
            client,
        })
    }
}

/// The roles a route admits; the gate's state.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) state: ApiState,
    pub(crate) roles: &'static [Role],
}

/// Resolves the session or the API token and checks the role before the handler runs.
pub(crate) async fn gate(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let who = match credential(req.headers()) {
        Some(c) => match principal_of(&gate.state, &c).await {
            Ok(who) => who,
            Err(e) => return e.into_response(),
        },
        None => None,
    };
    let Some((who, method)) = who else {
        return ApiError::Unauthenticated.into_response();
    };
    if !gate.roles.contains(&who.role) {
        return ApiError::Forbidden.into_response();
    }
    req.extensions_mut().insert(who);
    req.extensions_mut().insert(method);
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for AuthMethod {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthMethod>()
            .copied()
            .ok_or(ApiError::Unauthenticated)
    }
}

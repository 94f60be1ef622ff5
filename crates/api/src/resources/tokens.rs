//! Personal API tokens: `GET`/`POST /api/tokens`, `DELETE /api/tokens/{id}`; every role, each user their
//! own tokens only.
//!
//! A token is for a machine client: `Authorization: Bearer <token>` acts as its user, with the role and
//! unit scope the user has now (see `auth`), until revoked. Its secret is in the answer to the create
//! and nowhere else: the store keeps only its SHA-256. Creating and revoking are audited with the
//! change; both need a login session (a token cannot make or revoke tokens). Revoking tells open live
//! feeds to check their credential again, so a feed opened with the token closes.

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tianshu_model::Timestamp;
use tianshu_store::access::{ApiToken, AuditEntry, NewApiToken, session_token_hash};

use crate::auth::{AuthMethod, Caller, new_api_token};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};

/// The longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// `POST /api/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the owner calls it (the client that uses it): 1-64 characters.
    pub name: String,
}

/// The answer to `POST /api/tokens`: the token as stored, and its secret, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedToken {
    /// The token as stored.
    #[serde(flatten)]
    pub stored: ApiToken,
    /// The secret to send as `Authorization: Bearer <token>`; not shown again.
    pub token: String,
}

fn session_only(method: AuthMethod) -> ApiResult<()> {
    match method {
        AuthMethod::Session => Ok(()),
        AuthMethod::Token(_) => Err(ApiError::Forbidden),
    }
}

/// `GET /api/tokens`: the caller's tokens, live and revoked (never their secrets).
pub async fn list(caller: Caller) -> ApiResult<Json<Vec<ApiToken>>> {
    let tokens = caller
        .state
        .store()
        .access()
        .tokens_of(caller.who.user_id)
        .await?;
    Ok(Json(tokens))
}

/// `POST /api/tokens`: a new token of the caller's (audited `token.create`).
pub async fn create(
    caller: Caller,
    method: AuthMethod,
    Body(req): Body<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    session_only(method)?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "name: 1-{MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    let secret = new_api_token();
    let new = NewApiToken {
        token_hash: session_token_hash(&secret),
        user_id: caller.who.user_id,
        name: name.clone(),
        created: Timestamp::now(),
    };
    let state = caller.state.clone();
    let access = state.store().access();
    let stored = caller
        .commit("token.create", None, name, describe, access.create_token(&new))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            stored,
            token: secret,
        }),
    ))
}

/// `DELETE /api/tokens/{id}`: revokes one of the caller's live tokens (audited `token.revoke`); 404
/// when the caller has no such live token.
pub async fn revoke(caller: Caller, method: AuthMethod, Path(id): Path<i64>) -> ApiResult<Json<ApiToken>> {
    session_only(method)?;
    let state = caller.state.clone();
    let access = state.store().access();
    let change = access.revoke_token(caller.who.user_id, id, Timestamp::now());
    let token = caller
        .commit("token.revoke", None, format!("token {id}"), describe, change)
        .await?;
    state.live().sessions_changed();
    Ok(Json(token))
}

/// The audit record names the token by id and name (never its secret).
fn describe(t: &ApiToken, e: &mut AuditEntry) {
    e.detail = format!("token {} {:?}", t.id, t.name);
}

//! Users: `GET`/`POST /api/users`, `PATCH`/`DELETE /api/users/{username}`; administrators only.
//!
//! A new user's fields are checked by [`validate_new_user`], which `tianshu user add` shares. Deleting
//! or disabling a user ends their sessions; an administrator cannot disable their own login.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tianshu_model::UnitId;
use tianshu_store::access::{AuditEntry, NewUser, Role, User};

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, hash_password};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};

/// `GET /api/users`
pub async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(state.store().access().users().await?))
}

/// `POST /api/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// Password (at least 8 characters).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Unit id (required for supervisors).
    pub unit: Option<i64>,
}

/// The longest username, in bytes; a login with a longer one is refused before anything else.
pub const MAX_USERNAME_BYTES: usize = 64;

/// Checks a new user's fields; shared with `tianshu user add`. `Err` names the field first.
pub fn validate_new_user(
    username: &str,
    password: &str,
    role: Role,
    unit: Option<UnitId>,
) -> Result<(), String> {
    if username.trim().is_empty()
        || username.len() > MAX_USERNAME_BYTES
        || username.chars().any(char::is_whitespace)
    {
        return Err("username: must be 1-64 characters without spaces".into());
    }
    if password.chars().count() < 8 {
        return Err("password: must have at least 8 characters".into());
    }
    if role.scoped_to_unit() && unit.is_none() {
        return Err(format!("unit: a {role} needs a unit"));
    }
    Ok(())
}

/// `POST /api/users`: an administrator creates a user.
pub async fn create(
    Caller { state, who, client }: Caller,
    Body(req): Body<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let unit = req.unit.map(UnitId);
    validate_new_user(&req.username, &req.password, req.role, unit).map_err(ApiError::BadRequest)?;
    if let Some(u) = unit
        && !state.store().units().await?.iter().any(|x| x.id == u)
    {
        return Err(ApiError::BadRequest(format!("unit: there is no unit {u}")));
    }
    let password = req.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(ApiError::Unavailable)?;
    let audit = audit::with_change(audit::entry(&who, client, "user.create"), |u: &User, e| {
        e.detail = format!("{} as {}", u.username, u.role);
    });
    let user = state
        .store()
        .access()
        .create_user(&NewUser {
            username: req.username,
            role: req.role,
            unit,
            password_hash,
        })
        .audited(audit)
        .await
        .map_err(|e| match e {
            tianshu_store::Error::Invalid { reason, .. } => ApiError::Conflict(reason),
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `DELETE /api/users/{username}`
pub async fn delete(
    Caller { state, who, client }: Caller,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    let entry = AuditEntry {
        detail: username.clone(),
        ..audit::entry(&who, client, "user.delete")
    };
    let audit = audit::with_change(entry, |_, _| {});
    state
        .store()
        .access()
        .delete_user(&username)
        .audited(audit)
        .await?;
    state.live().sessions_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /api/users/{username}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Disable (true) or enable (false) the login; disabling ends its sessions.
    pub disabled: bool,
}

/// `PATCH /api/users/{username}`: disables or enables a user.
pub async fn update(
    caller: Caller,
    Path(username): Path<String>,
    Body(req): Body<UserPatch>,
) -> ApiResult<Json<User>> {
    if req.disabled && username == caller.who.username {
        return Err(ApiError::Conflict(
            "an administrator cannot disable their own login".into(),
        ));
    }
    let action = if req.disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    let state = caller.state.clone();
    let access = state.store().access();
    let set = access.set_user_disabled(&username, req.disabled);
    let user = caller
        .commit(action, None, username.clone(), audit::as_is, set)
        .await?;
    state.live().sessions_changed();
    Ok(Json(user))
}

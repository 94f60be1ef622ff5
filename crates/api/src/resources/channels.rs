//! Alert channels: `GET`/`POST /api/channels`, `PUT`/`DELETE /api/channels/{id}`, the administrators'.
//!
//! A listing shows the stored channels (their URLs with their tokens: administrators only) and, read-only,
//! the configured ones (`[alerts.notifications]`; a URL read from the environment shown by its variable's
//! name only). The fields are checked by `tianshu_rules::channels` (a bad one is 400 naming it), a name
//! another channel holds, configured or stored, is 409, and each write commits with its audit record.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tianshu_rules::channels::ConfiguredChannel;
use tianshu_store::access::AuditEntry;
use tianshu_store::channels::{Channel, ChannelFields};

use crate::ApiState;
use crate::auth::{Caller, Principal};
use crate::error::ApiResult;
use crate::extract::{Body, Path};

/// `GET /api/channels`.
#[derive(Debug, Serialize)]
pub struct ChannelList {
    /// Channels added by administrators, editable.
    pub stored: Vec<Channel>,
    /// Channels of the server's configuration, read-only.
    pub configured: Vec<ConfiguredChannel>,
}

/// `GET /api/channels`: the stored channels and the configured ones.
pub async fn list(State(state): State<ApiState>, _who: Principal) -> ApiResult<Json<ChannelList>> {
    Ok(Json(ChannelList {
        stored: state.store().channels().list().await?,
        configured: state.configured_channels().to_vec(),
    }))
}

/// The names of the configured webhooks, which no stored channel takes.
fn reserved(state: &ApiState) -> Vec<String> {
    state
        .configured_channels()
        .iter()
        .filter(|c| c.kind == tianshu_store::channels::ChannelKind::Webhook)
        .map(|c| c.name.clone())
        .collect()
}

/// The audit detail of a channel as written (never its URL: it carries the robot's token).
fn describe(c: &Channel, e: &mut AuditEntry) {
    let f = &c.fields;
    e.detail = format!(
        "channel {} {:?} {}{} units {:?} from {} {}",
        c.id,
        f.name,
        f.kind.as_str(),
        f.address.as_deref().map(|a| format!(" {a}")).unwrap_or_default(),
        f.units.iter().map(|u| u.0).collect::<Vec<_>>(),
        f.min_severity.as_str(),
        if f.enabled { "enabled" } else { "disabled" }
    );
}

/// `POST /api/channels`: name, kind, url and format or address, units, min_severity, enabled.
pub async fn create(
    caller: Caller,
    Body(req): Body<ChannelFields>,
) -> ApiResult<(StatusCode, Json<Channel>)> {
    let reserved = reserved(&caller.state);
    let channels = caller.state.store().channels();
    let create = channels.create(&req, &reserved);
    let c = caller
        .commit("channel.create", None, String::new(), describe, create)
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// `PUT /api/channels/{id}`: replaces every field.
pub async fn replace(
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<ChannelFields>,
) -> ApiResult<Json<Channel>> {
    let reserved = reserved(&caller.state);
    let channels = caller.state.store().channels();
    let replace = channels.replace(id, &req, &reserved);
    let c = caller
        .commit("channel.replace", None, String::new(), describe, replace)
        .await?;
    Ok(Json(c))
}

/// `DELETE /api/channels/{id}`
pub async fn delete(caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let channels = caller.state.store().channels();
    let delete = channels.delete(id);
    caller
        .commit("channel.delete", None, String::new(), describe, delete)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

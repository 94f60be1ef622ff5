//! Downlink commands: `POST /api/vehicles/{id}/commands` sends a command to the vehicle's terminal
//! through the gateway ([`Downlink`]) and answers with what became of it ([`CommandOutcome`]).
//!
//! The terminal's answer, a refusal included, is 200; no terminal connected is 409 and no answer in
//! time 504, both in the error contract with the outcome next to the message; a command the wire cannot
//! carry (a text GBK cannot encode) is 400; no gateway in this process is 503. Every command is audited with its outcome.

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tianshu_model::VehicleId;
use tianshu_store::access::AuditEntry;

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, retagged};
use crate::position::WirePosition;
use crate::scope::Scoped;

/// Downlink commands an operator may send to a terminal from the page: `{"kind":"text","text":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TerminalCommand {
    /// 0x8201: ask for the current position now.
    QueryPosition,
    /// 0x8202: report every `interval_secs` for `duration_secs`.
    TemporaryTracking {
        /// Seconds between reports.
        interval_secs: u16,
        /// How long to keep tracking, in seconds.
        duration_secs: u32,
    },
    /// 0x8300: show (and speak) a text to the driver.
    Text {
        /// The text, UTF-8 (sent as GBK).
        text: String,
    },
}

/// [`TerminalCommand`] externally tagged, so that a bad field is named (see [`retagged`]).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum TerminalCommandTwin {
    QueryPosition {},
    TemporaryTracking { interval_secs: u16, duration_secs: u32 },
    Text { text: String },
}

impl<'de> Deserialize<'de> for TerminalCommand {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match retagged::<TerminalCommandTwin, D>(d, "kind")? {
            TerminalCommandTwin::QueryPosition {} => TerminalCommand::QueryPosition,
            TerminalCommandTwin::TemporaryTracking {
                interval_secs,
                duration_secs,
            } => TerminalCommand::TemporaryTracking {
                interval_secs,
                duration_secs,
            },
            TerminalCommandTwin::Text { text } => TerminalCommand::Text { text },
        })
    }
}

/// What became of a downlink command: the terminal's answer, or why there is none. The page shows it as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The terminal carried the command out: 0x0001 with result 0, or 0x0201 with its position.
    Answered {
        /// The position a 0x0201 carried (query position only), in the API's one position shape.
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<WirePosition>,
    },
    /// The terminal answered 0x0001 with a non-zero result: 1 failed, 2 bad message, 3 unsupported.
    Refused {
        /// The result byte of the 0x0001.
        result: u8,
    },
    /// The vehicle has no terminal connected to this gateway.
    NotConnected,
    /// The terminal did not answer within the gateway's downlink timeout.
    TimedOut,
}

impl CommandOutcome {
    /// The outcome's name, as the audit record and the page give it.
    fn name(&self) -> &'static str {
        match self {
            CommandOutcome::Answered { .. } => "answered",
            CommandOutcome::Refused { .. } => "refused",
            CommandOutcome::NotConnected => "not_connected",
            CommandOutcome::TimedOut => "timed_out",
        }
    }
}

/// Sends downlink commands to connected terminals; the gateway implements it.
#[async_trait::async_trait]
pub trait Downlink: Send + Sync + 'static {
    /// Sends `command` to the terminal bound to `vehicle` and waits for its answer. `Err` is a failure
    /// of the platform (store, full queue, a text that cannot be encoded), not of the terminal.
    async fn send(&self, vehicle: VehicleId, command: &TerminalCommand) -> Result<CommandOutcome, String>;

    /// Why `command` cannot be sent whatever the terminal (a text the wire's encoding cannot carry),
    /// checked before sending: the request is refused (400), not the platform failed.
    fn check(&self, command: &TerminalCommand) -> Result<(), String> {
        let _ = command;
        Ok(())
    }
}

/// `POST /api/vehicles/{id}/commands`: a downlink command to the vehicle's terminal, audited; answers
/// with what the terminal answered.
pub async fn send(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Body(cmd): Body<TerminalCommand>,
) -> ApiResult<Json<CommandOutcome>> {
    let scoped = Scoped::new(&state, &who).await?;
    let v = scoped.vehicle(VehicleId(id)).await?;
    if matches!(&cmd, TerminalCommand::Text { text } if text.trim().is_empty()) {
        return Err(ApiError::BadRequest(
            "text: the text to the driver is empty".into(),
        ));
    }
    let Some(downlink) = state.downlink() else {
        return Err(ApiError::Unavailable("no gateway runs in this process".into()));
    };
    downlink.check(&cmd).map_err(ApiError::BadRequest)?;
    let outcome = downlink.send(v.id, &cmd).await.map_err(ApiError::Unavailable)?;
    let entry = AuditEntry {
        vehicle: Some(v.id),
        detail: format!(
            "{} outcome={}",
            serde_json::to_string(&cmd).unwrap_or_default(),
            outcome.name()
        ),
        ..audit::entry(&who, client, "command")
    };
    audit::record(&state, entry).await?;
    let (status, message) = match outcome {
        CommandOutcome::Answered { .. } | CommandOutcome::Refused { .. } => return Ok(Json(outcome)),
        CommandOutcome::NotConnected => (StatusCode::CONFLICT, "the vehicle's terminal is not connected"),
        CommandOutcome::TimedOut => (StatusCode::GATEWAY_TIMEOUT, "the terminal did not answer in time"),
    };
    let fields = match serde_json::to_value(&outcome) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    Err(ApiError::WithFields(status, message.into(), fields))
}

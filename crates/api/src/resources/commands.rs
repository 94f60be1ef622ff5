//! Downlink commands: `POST /api/vehicles/{id}/commands` sends a command to the vehicle's terminal
//! through the gateway ([`Downlink`]) and answers with what became of it ([`CommandOutcome`]).
//!
//! The terminal's answer, a refusal included, is 200; no terminal connected is 409 and no answer in
//! time 504, both in the error contract with the outcome next to the message; a command the wire cannot
//! carry (a text GBK cannot encode, a number for a text parameter) is 400; no gateway in this process is
//! 503. Setting parameters (which can point a terminal at another server) is for administrators only.
//! Every command is audited with its outcome, without the values of password parameters.

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tianshu_model::VehicleId;
use tianshu_store::access::{AuditEntry, Role};

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, retagged};
use crate::position::{Identity, WirePosition};
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
    /// 0x8104 (every parameter) or, with `ids`, 0x8106 (those parameters): answered with their values.
    QueryParameters {
        /// The parameter ids to ask for; absent asks for all.
        #[serde(skip_serializing_if = "Option::is_none")]
        ids: Option<Vec<u32>>,
    },
    /// 0x8103: set parameters (administrators only).
    SetParameters {
        /// The parameters and their new values.
        parameters: Vec<ParameterEntry>,
    },
    /// 0x8107: the terminal's attributes (maker, model, ICCID, versions).
    QueryAttributes,
}

/// One terminal parameter: `{"id":1,"value":30}`, `{"id":19,"value":"gw.example.cn:6808"}`, or
/// `{"id":50,"hex":"16320a1e"}` for a parameter the standard gives no number or text form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterEntry {
    /// The parameter id (0x0001 heartbeat interval, 0x0013 main server address, 0x0055 maximum speed...).
    pub id: u32,
    /// The value: a number for a BYTE, WORD or DWORD parameter, a string for a STRING one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ParameterValue>,
    /// The value's bytes, in hex: always in an answer; in a request, instead of `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

/// A parameter's value as JSON gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParameterValue {
    /// A BYTE, WORD or DWORD.
    Number(u32),
    /// A STRING.
    Text(String),
}

/// Parameters whose values stay out of the audit log: the dial-up passwords of the main, backup and
/// (2019) slave servers.
const SECRET_PARAMETERS: [u32; 3] = [0x0012, 0x0016, 0x0025];

/// [`TerminalCommand`] externally tagged, so that a bad field is named (see [`retagged`]).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum TerminalCommandTwin {
    QueryPosition {},
    TemporaryTracking {
        interval_secs: u16,
        duration_secs: u32,
    },
    Text {
        text: String,
    },
    QueryParameters {
        #[serde(default)]
        ids: Option<Vec<u32>>,
    },
    SetParameters {
        parameters: Vec<ParameterEntry>,
    },
    QueryAttributes {},
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
            TerminalCommandTwin::QueryParameters { ids } => TerminalCommand::QueryParameters { ids },
            TerminalCommandTwin::SetParameters { parameters } => {
                TerminalCommand::SetParameters { parameters }
            }
            TerminalCommandTwin::QueryAttributes {} => TerminalCommand::QueryAttributes,
        })
    }
}

/// What became of a downlink command: the terminal's answer, or why there is none. The page shows it as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The terminal carried the command out: 0x0001 with result 0, 0x0201 with its position, 0x0104 with
    /// its parameters or 0x0107 with its attributes.
    Answered {
        /// The position a 0x0201 carried (query position only), in the API's one position shape.
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<WirePosition>,
        /// The parameters a 0x0104 carried (query parameters only), in the terminal's order.
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<Vec<ParameterEntry>>,
        /// The attributes a 0x0107 carried (query attributes only).
        #[serde(skip_serializing_if = "Option::is_none")]
        attributes: Option<Box<tianshu_model::Attributes>>,
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
    /// The terminal carried the command out, and its answer held nothing more than that.
    pub const DONE: CommandOutcome = CommandOutcome::Answered {
        position: None,
        parameters: None,
        attributes: None,
    };

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

    /// The registry record of the terminal `phone` changed (its clock offset): a session of it online
    /// here reads the record again.
    fn terminal_changed(&self, phone: tianshu_model::Phone) {
        let _ = phone;
    }
}

/// `POST /api/vehicles/{id}/commands`: a downlink command to the vehicle's terminal, audited; answers
/// with what the terminal answered.
pub async fn send(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Body(cmd): Body<TerminalCommand>,
) -> ApiResult<Json<CommandOutcome>> {
    if matches!(cmd, TerminalCommand::SetParameters { .. }) && who.role != Role::Administrator {
        return Err(ApiError::Forbidden);
    }
    let scoped = Scoped::new(&state, &who).await?;
    let v = scoped.vehicle(VehicleId(id)).await?;
    check(&cmd).map_err(ApiError::BadRequest)?;
    let Some(downlink) = state.downlink() else {
        return Err(ApiError::Unavailable("no gateway runs in this process".into()));
    };
    downlink.check(&cmd).map_err(ApiError::BadRequest)?;
    let mut outcome = downlink.send(v.id, &cmd).await.map_err(ApiError::Unavailable)?;
    // The terminal's identity in its answer is shown as the caller may see it.
    if let CommandOutcome::Answered {
        position, attributes, ..
    } = &mut outcome
    {
        let identity = Identity::for_role(who.role);
        if let Some(p) = position {
            p.1 = identity;
        }
        if let Some(a) = attributes {
            a.terminal_id = identity.terminal_id(&a.terminal_id);
        }
    }
    let entry = AuditEntry {
        vehicle: Some(v.id),
        detail: format!(
            "{} outcome={}",
            serde_json::to_string(&audited(cmd)).unwrap_or_default(),
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

/// Why a command is malformed whatever the terminal: an empty text, an empty or overlong id list, a
/// parameter with neither or both of `value` and `hex`, hex that is not hex.
fn check(cmd: &TerminalCommand) -> Result<(), String> {
    match cmd {
        TerminalCommand::Text { text } if text.trim().is_empty() => {
            Err("text: the text to the driver is empty".into())
        }
        TerminalCommand::QueryParameters { ids: Some(ids) } if ids.is_empty() || ids.len() > 255 => {
            Err(format!(
                "ids: {} ids; give 1 to 255, or leave ids out to ask for all",
                ids.len()
            ))
        }
        TerminalCommand::SetParameters { parameters } if parameters.is_empty() || parameters.len() > 255 => {
            Err(format!(
                "parameters: {} given; 1 to 255 fit one message",
                parameters.len()
            ))
        }
        TerminalCommand::SetParameters { parameters } => {
            parameters.iter().try_for_each(|p| match (&p.value, &p.hex) {
                (Some(_), None) => Ok(()),
                (None, Some(h)) => hex::decode(h)
                    .map(drop)
                    .map_err(|e| format!("parameters: {:#06x}: hex: {e}", p.id)),
                _ => Err(format!("parameters: {:#06x}: give either value or hex", p.id)),
            })
        }
        _ => Ok(()),
    }
}

/// The command as the audit log keeps it: password parameters' values masked.
fn audited(mut cmd: TerminalCommand) -> TerminalCommand {
    if let TerminalCommand::SetParameters { parameters } = &mut cmd {
        for p in parameters
            .iter_mut()
            .filter(|p| SECRET_PARAMETERS.contains(&p.id))
        {
            p.value = Some(ParameterValue::Text("***".into()));
            p.hex = None;
        }
    }
    cmd
}

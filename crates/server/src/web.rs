//! The web API wired to the running services: the gateway's downlink for the page's commands, the alerts
//! engine's cases for the inbox, and case events for the live feed (and MQTT, when publishing is on).
//! `tianshu serve` and `tianshu demo` both use it, so the page
//! behaves the same whichever started it.

use std::sync::{Arc, OnceLock};

use tianshu_api::cases::{CaseError, CaseView};
use tianshu_api::live::AlertEvent;
use tianshu_api::{
    ApiConfig, ApiState, CaseBook, CommandOutcome, LiveHub, ParameterEntry, ParameterValue, TerminalCommand,
};
use tianshu_ingest::{DownlinkError, Reply};
use tianshu_model::VehicleId;
use tianshu_store::Store;

use crate::serve::{ExtraRoutes, Services};

/// The gateway's alert cases (a terminal registering again), recorded by the alert runtime like the rules'
/// cases: routed to the car's unit, notified and on the live feed.
struct GatewayCases(tianshu_alerts::CaseRecorder);

impl tianshu_ingest::CaseSink for GatewayCases {
    fn record(
        &self,
        case: tianshu_store::rules::NewCase,
    ) -> futures::future::BoxFuture<'static, tianshu_store::Result<i64>> {
        let recorder = self.0.clone();
        Box::pin(async move {
            recorder.record(&case).await.map_err(|e| match e {
                tianshu_alerts::Error::Store(e) => e,
                other => tianshu_store::Error::Invalid {
                    line: None,
                    reason: other.to_string(),
                },
            })
        })
    }
}

/// Sends the page's downlink commands through the gateway to the vehicle's terminal.
pub struct GatewayDownlink {
    /// The gateway's downlink.
    pub downlink: tianshu_ingest::Downlink,
    /// To find the vehicle's terminal.
    pub store: Store,
    /// With a bus: the gateway holding a terminal not held here.
    pub routes: Option<tianshu_bus::route::Routes>,
}

#[async_trait::async_trait]
impl tianshu_api::Downlink for GatewayDownlink {
    fn check(&self, command: &TerminalCommand) -> Result<(), String> {
        match command {
            TerminalCommand::Text { text } => {
                let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
                // 0x8300's body: the flags, the text type (2019), then the text.
                let room = tianshu_jt808::MAX_BODY_LEN - 2;
                if unmappable {
                    Err("text: has characters GBK cannot encode".into())
                } else if gbk.len() > room {
                    Err(format!(
                        "text: {} bytes in GBK, at most {room} fit one message",
                        gbk.len()
                    ))
                } else {
                    Ok(())
                }
            }
            TerminalCommand::SetParameters { parameters } => {
                let list = parameter_list(parameters).map_err(|e| format!("parameters: {e}"))?;
                // 0x8103's body: the count, then id, length and value of each.
                let len = 1 + list.iter().map(|(_, v)| 5 + v.len()).sum::<usize>();
                if len > tianshu_jt808::MAX_BODY_LEN {
                    return Err(format!(
                        "parameters: {len} bytes, at most {} fit one message",
                        tianshu_jt808::MAX_BODY_LEN
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn terminal_changed(&self, phone: tianshu_model::Phone) {
        self.downlink.online().terminal_changed(phone);
    }

    async fn send(&self, vehicle: VehicleId, command: &TerminalCommand) -> Result<CommandOutcome, String> {
        let terminals = self.store.terminals().await.map_err(|e| e.to_string())?;
        let Some(phone) = terminals
            .into_iter()
            .find(|t| t.vehicle == Some(vehicle))
            .map(|t| t.phone)
        else {
            return Ok(CommandOutcome::NotConnected);
        };
        let command = match command {
            TerminalCommand::QueryPosition => tianshu_ingest::Command::QueryPosition,
            TerminalCommand::TemporaryTracking {
                interval_secs,
                duration_secs,
            } => tianshu_ingest::Command::TemporaryTracking {
                interval_secs: *interval_secs,
                validity_secs: *duration_secs,
            },
            // 0x04 display + 0x08 TTS.
            TerminalCommand::Text { text } => tianshu_ingest::Command::Text {
                flags: 0x0C,
                text: text.clone(),
            },
            TerminalCommand::QueryParameters { ids: None } => tianshu_ingest::Command::QueryParameters,
            TerminalCommand::QueryParameters { ids: Some(ids) } => {
                tianshu_ingest::Command::QueryParameterIds(ids.clone())
            }
            TerminalCommand::SetParameters { parameters } => {
                tianshu_ingest::Command::SetParameters(parameter_list(parameters)?)
            }
            TerminalCommand::QueryAttributes => tianshu_ingest::Command::QueryAttributes,
        };
        let result = match self.downlink.send(phone, command.clone(), None).await {
            Err(DownlinkError::Offline(_)) => match &self.routes {
                Some(routes) => routes.send(phone, command, self.downlink.default_timeout()).await,
                None => Err(DownlinkError::Offline(phone)),
            },
            result => result,
        };
        match result {
            Ok(Reply::General { result: 0 }) => Ok(CommandOutcome::DONE),
            Ok(Reply::General { result }) => Ok(CommandOutcome::Refused { result }),
            Ok(Reply::Position(p)) => Ok(CommandOutcome::Answered {
                position: Some((&p).into()),
                parameters: None,
                attributes: None,
            }),
            Ok(Reply::Parameters(list)) => Ok(CommandOutcome::Answered {
                position: None,
                parameters: Some(list.iter().map(|(id, raw)| parameter_entry(*id, raw)).collect()),
                attributes: None,
            }),
            Ok(Reply::Attributes(a)) => Ok(CommandOutcome::Answered {
                position: None,
                parameters: None,
                attributes: Some(a),
            }),
            // A connection that closed before answering is no longer connected.
            Err(DownlinkError::Offline(_) | DownlinkError::Closed(_)) => Ok(CommandOutcome::NotConnected),
            Err(DownlinkError::Timeout(..)) => Ok(CommandOutcome::TimedOut),
            Err(e @ (DownlinkError::Busy(_) | DownlinkError::Encode(_))) => Err(e.to_string()),
        }
    }
}

/// The (id, bytes) a 0x8103 carries for the API's parameters, or why one cannot be written.
fn parameter_list(parameters: &[ParameterEntry]) -> Result<Vec<(u32, Vec<u8>)>, String> {
    use tianshu_ingest::ParameterValue as V;
    parameters
        .iter()
        .map(|p| {
            let value = match (&p.value, &p.hex) {
                (Some(ParameterValue::Number(n)), _) => V::Number(*n),
                (Some(ParameterValue::Text(t)), _) => V::Text(t.clone()),
                (None, Some(h)) => V::Raw(hex::decode(h).map_err(|e| format!("{:#06x}: hex: {e}", p.id))?),
                (None, None) => return Err(format!("{:#06x}: give either value or hex", p.id)),
            };
            Ok((p.id, value.write(p.id)?))
        })
        .collect()
}

/// A parameter of a 0x0104 as the API shows it: its value read by its id's kind, and its bytes.
fn parameter_entry(id: u32, raw: &[u8]) -> ParameterEntry {
    let value = match tianshu_ingest::ParameterValue::read(id, raw) {
        tianshu_ingest::ParameterValue::Number(n) => Some(ParameterValue::Number(n)),
        tianshu_ingest::ParameterValue::Text(t) => Some(ParameterValue::Text(t)),
        tianshu_ingest::ParameterValue::Raw(_) => None,
    };
    ParameterEntry {
        id,
        value,
        hex: Some(hex::encode(raw)),
    }
}

/// The alerts engine's cases as the web API lists, shows and moves them.
pub struct AlertCases {
    /// Where the cases live.
    pub store: Store,
    /// The alerts settings (escalation notifies through them).
    pub config: tianshu_alerts::AlertsConfig,
}

fn case_view(
    case: &tianshu_store::rules::AlertCase,
    events: Option<&[tianshu_store::rules::CaseEvent]>,
) -> CaseView {
    let mut detail = serde_json::Map::new();
    detail.insert("rule".into(), case.rule.clone().into());
    detail.insert("severity".into(), case.severity.clone().into());
    detail.insert("start".into(), case.start.to_rfc3339().into());
    if let Some(end) = case.end {
        detail.insert("end".into(), end.to_rfc3339().into());
    }
    detail.insert("late".into(), case.late.into());
    detail.insert(
        "reasoning".into(),
        vec![case.reasoning_zh.clone(), case.reasoning.clone()].into(),
    );
    detail.insert("episode".into(), case.episode.clone());
    if let Some(rule) = tianshu_rules::RuleId::parse(&case.rule) {
        detail.insert("title_zh".into(), rule.title_zh().into());
        detail.insert("title_en".into(), rule.title_en().into());
    }
    // One case's page (with its history, not a list's row): the episode's subject and evidence as a
    // person reads them, degrees, km/h, RFC 3339 times.
    let episode =
        events.and_then(|_| <tianshu_rules::Episode as serde::Deserialize>::deserialize(&case.episode).ok());
    if let Some(ep) = episode {
        if let Some(subject) = ep.subject {
            detail.insert("subject".into(), subject.into());
        }
        let evidence: Vec<serde_json::Value> = ep
            .evidence
            .iter()
            .map(|e| {
                serde_json::json!({
                    "fix_time": e.fix_time.to_rfc3339(),
                    "latitude": e.lat(),
                    "longitude": e.lon(),
                    "speed_kmh": e.speed_kmh(),
                    "acc_on": e.acc_on,
                    "alarm": e.alarm,
                })
            })
            .collect();
        detail.insert("evidence".into(), evidence.into());
    }
    detail.insert("created".into(), case.created.to_rfc3339().into());
    if let Some(at) = case.escalate_at {
        detail.insert("escalate_at".into(), at.to_rfc3339().into());
    }
    if let Some(events) = events {
        let history: Vec<serde_json::Value> = events
            .iter()
            .map(
                |e| serde_json::json!({"time": e.time, "actor": e.actor, "action": e.action, "note": e.note}),
            )
            .collect();
        detail.insert("history".into(), history.into());
    }
    CaseView {
        id: case.id.to_string(),
        vehicle: case.vehicle,
        state: case.state.as_str().to_string(),
        detail,
    }
}

/// A step the case's state does not allow is refused input (409), whether the workflow saw it first or
/// the store's compare-and-set did (a concurrent step moved the case in between); an unknown case is
/// not found; only a failure of the store is unavailable (503).
fn case_error(e: tianshu_alerts::Error) -> CaseError {
    use tianshu_store::Error as StoreError;
    match e {
        tianshu_alerts::Error::Invalid(msgs) => CaseError::InvalidTransition(msgs.join("; ")),
        tianshu_alerts::Error::Store(e @ (StoreError::Invalid { .. } | StoreError::Conflict(_))) => {
            CaseError::InvalidTransition(e.to_string())
        }
        tianshu_alerts::Error::Store(StoreError::NotFound(what)) => {
            CaseError::NotFound(what.strip_prefix("case ").unwrap_or(&what).to_string())
        }
        e => CaseError::Unavailable(e.to_string()),
    }
}

#[async_trait::async_trait]
impl CaseBook for AlertCases {
    async fn list(&self, f: &tianshu_api::cases::CaseFilter) -> Result<Vec<CaseView>, CaseError> {
        let filter = tianshu_store::rules::CaseFilter {
            states: f
                .state
                .as_deref()
                .and_then(tianshu_store::rules::CaseState::parse)
                .into_iter()
                .collect(),
            units: f.units.clone(),
            vehicle: f.vehicle,
            limit: u32::try_from(f.limit).unwrap_or(u32::MAX),
            ..Default::default()
        };
        if f.state.is_some() && filter.states.is_empty() {
            return Ok(Vec::new());
        }
        let cases = tianshu_alerts::list_cases(&self.store, &filter)
            .await
            .map_err(case_error)?;
        Ok(cases.iter().map(|c| case_view(c, None)).collect())
    }

    async fn get(&self, id: &str) -> Result<Option<CaseView>, CaseError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let detail = tianshu_alerts::case_detail(&self.store, id)
            .await
            .map_err(case_error)?;
        Ok(detail.map(|d| case_view(&d.case, Some(&d.events))))
    }

    async fn apply(
        &self,
        id: &str,
        action: &tianshu_api::cases::CaseAction,
        actor: &str,
        audit: &mut Option<tianshu_store::access::Audit<tianshu_store::rules::TransitionedCase>>,
    ) -> Result<CaseView, CaseError> {
        let num: i64 = id.parse().map_err(|_| CaseError::NotFound(id.to_string()))?;
        let (action, note) = action.step();
        let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        let step = tianshu_alerts::Step {
            id: num,
            action,
            actor,
            note,
        };
        // The step and its audit record commit in one transaction.
        tianshu_alerts::apply_audited_action(&self.store, &self.config, step, now, audit.take())
            .await
            .map_err(case_error)?;
        self.get(id)
            .await?
            .ok_or_else(|| CaseError::NotFound(id.to_string()))
    }
}

/// Forwards the alerts engine's case events to the live feed (bounded: a lagging pump skips notices,
/// counted by the hub's receivers; the inbox stays the source of truth).
pub fn pump_alerts(notices: tokio::sync::broadcast::Receiver<tianshu_alerts::Notice>, hub: LiveHub) {
    forward_notices(notices, "live alert pump", move |n| {
        let severity = if n.severity == "high" { "severe" } else { "warning" };
        let mut detail = match serde_json::to_value(&n) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        detail.insert("case".into(), n.case_id.to_string().into());
        let title = if n.title_zh.is_empty() {
            n.title.clone()
        } else {
            n.title_zh.clone()
        };
        detail.insert("title".into(), title.into());
        hub.publish_alert(AlertEvent {
            vehicle: n.vehicle,
            severity: severity.into(),
            detail,
        });
    });
}

/// Hands every case event to `forward` in a task of its own, until the alerts engine stops. A lagging
/// reader skips the oldest events, with a warning naming `reader` and how many: every case is still
/// in the inbox.
fn forward_notices(
    mut notices: tokio::sync::broadcast::Receiver<tianshu_alerts::Notice>,
    reader: &'static str,
    mut forward: impl FnMut(tianshu_alerts::Notice) + Send + 'static,
) {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(n) => forward(n),
                Err(RecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, reader, "case events skipped; the inbox has every case");
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// What tells a unit's supervisors about a complaint forwarded to it: routed through the alert channels.
pub fn complaint_notifier(
    store: tianshu_store::Store,
    alerts: tianshu_alerts::AlertsConfig,
) -> tianshu_api::ComplaintNotifier {
    let alerts = Arc::new(alerts);
    Arc::new(move |complaint, event| {
        let (store, alerts) = (store.clone(), alerts.clone());
        Box::pin(async move {
            tianshu_alerts::complaint_deliveries(&store, &alerts, &complaint, event)
                .await
                .map_err(|e| e.to_string())
        })
    })
}

/// What tells a unit's supervisors about a new fuel case: routed through the alert channels.
pub fn fuel_notifier(
    store: tianshu_store::Store,
    alerts: tianshu_alerts::AlertsConfig,
) -> tianshu_api::FuelNotifier {
    let alerts = Arc::new(alerts);
    Arc::new(move |cases| {
        let (store, alerts) = (store.clone(), alerts.clone());
        Box::pin(async move {
            let now = tianshu_model::Timestamp::now();
            tianshu_alerts::new_case_deliveries(&store, &alerts, &cases, now)
                .await
                .map_err(|e| e.to_string())
        })
    })
}

/// The web API as extra routes of `serve`, over the running services; the built state is left in
/// `slot` for the caller (to publish alerts and geofences into it).
pub fn api_routes(
    config: ApiConfig,
    alerts: tianshu_alerts::AlertsConfig,
    rules: &tianshu_rules::RulesConfig,
    hub: LiveHub,
    slot: Arc<OnceLock<ApiState>>,
    reporter_key: Option<tianshu_api::reporter::ReporterKey>,
) -> ExtraRoutes {
    let timetables = tianshu_api::ConfiguredTimetables::from_rules(rules);
    let fuel = rules.fuel.clone();
    let carpool = rules.carpool.clone();
    let channels = alerts.listed_channels();
    let pmtiles = &config.basemap.pmtiles;
    if !pmtiles.is_empty()
        && let Err(e) = std::fs::File::open(pmtiles)
    {
        // Served anyway: the page says that the map's tiles fail, and a file dropped later is served.
        tracing::warn!(path = %pmtiles, error = %e, "the basemap file ([web.basemap] pmtiles) cannot be read");
    }
    Box::new(move |services: &Services| {
        let notifier = complaint_notifier(services.store.clone(), alerts.clone());
        let carpool_router = tianshu_alerts::carpool::router(services.store.clone(), alerts.clone());
        let fuel_notices = fuel_notifier(services.store.clone(), alerts.clone());
        let cases: Arc<dyn CaseBook> = Arc::new(AlertCases {
            store: services.store.clone(),
            config: alerts,
        });
        let downlink = GatewayDownlink {
            downlink: services.downlink.clone(),
            store: services.store.clone(),
            routes: services.routes.clone(),
        };
        let state = ApiState::with_parts(
            services.store.clone(),
            config,
            hub,
            cases,
            Some(Arc::new(downlink)),
        );
        state.set_configured_timetables(timetables);
        state.set_configured_channels(channels);
        state.set_complaint_notifier(notifier);
        state.set_fuel_config(fuel);
        state.set_carpool_config(carpool);
        state.set_carpool_router(carpool_router);
        state.set_fuel_notifier(fuel_notices);
        if let Some(key) = reporter_key {
            state.set_reporter_key(key);
        }
        let _ = slot.set(state.clone());
        tianshu_api::router(state)
    })
}

/// The cars of the partitions this rules instance holds leases on, as the alerts runtime asks.
struct HeldCars(Arc<tianshu_bus::lease::Held>);

impl tianshu_alerts::Ownership for HeldCars {
    fn owns(&self, vehicle: tianshu_model::VehicleId) -> bool {
        self.0.owns(vehicle)
    }

    fn generation(&self) -> u64 {
        self.0.generation()
    }
}

/// Starts the rules and the alerts engine over the points `committed` follows (every one of them, however
/// far the rules fall behind), and wires what the web side shows of them: case events to the live feed
/// (and to MQTT when publishing is on). The basemap's outlines are read from the store by
/// `GET /api/geofences` on each request, so edits show at once.
/// The caller shuts the returned handle down before the store closes.
/// With `held` (a bus), only the cars of the partitions this instance holds are evaluated.
pub async fn start_alerts(
    services: &Services,
    committed: tianshu_store::Cursor,
    rules: tianshu_rules::RulesConfig,
    alerts: tianshu_alerts::AlertsConfig,
    hub: LiveHub,
    held: Option<Arc<tianshu_bus::lease::Held>>,
) -> anyhow::Result<tianshu_alerts::AlertsHandle> {
    use anyhow::Context;
    let ownership = held.map(|h| Arc::new(HeldCars(h)) as Arc<dyn tianshu_alerts::Ownership>);
    let handle = tianshu_alerts::start_owned(services.store.clone(), committed, rules, alerts, ownership)
        .await
        .context("starting the alerts runtime")?;
    let recorder = GatewayCases(handle.case_recorder());
    if services.gateway.cases.set(Arc::new(recorder)).is_err() {
        tracing::warn!("the gateway's cases already go elsewhere; the alert runtime does not take them");
    }
    pump_alerts(handle.subscribe(), hub);
    if let Some(publisher) = services.mqtt_publisher.clone() {
        forward_notices(
            handle.subscribe(),
            "MQTT alert publishing",
            move |n| match serde_json::to_value(&n) {
                Ok(payload) => publisher.publish_alert(&tianshu_mqtt::AlertEvent {
                    unit: n.unit,
                    vehicle: n.vehicle,
                    payload,
                }),
                Err(e) => tracing::warn!(error = %e, "alert event not serialisable for MQTT"),
            },
        );
    }
    Ok(handle)
}

/// How often forwarded complaints past their deadline are looked for.
const COMPLAINT_ESCALATION_SECS: u64 = 60;

/// Escalates, once and by itself, every forwarded complaint whose deadline passed without an answer
/// (each with an event in its history and its notifications to the unit's channels, one audit record
/// per pass), until `stop`.
pub fn escalate_overdue_complaints(
    store: tianshu_store::Store,
    alerts: tianshu_alerts::AlertsConfig,
    stop: tokio_util::sync::CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
            match tianshu_alerts::escalate_overdue_complaints(&store, &alerts, now).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(count = ids.len(), "overdue complaints escalated")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "escalating overdue complaints"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(COMPLAINT_ESCALATION_SECS)) => {}
            }
        }
    });
}

/// Checks again, every `recheck_minutes` until `stop`, the fuel fills that track data arriving late may
/// change (a finding it clears withdraws its case, one it raises opens one); the first pass looks back
/// one interval before the start.
pub fn recheck_fuel_late(
    store: tianshu_store::Store,
    fuel: tianshu_rules::fuel::FuelConfig,
    notifier: tianshu_api::FuelNotifier,
    stop: tokio_util::sync::CancellationToken,
) {
    if fuel.recheck_minutes == 0 {
        return;
    }
    let every = std::time::Duration::from_secs(u64::from(fuel.recheck_minutes) * 60);
    tokio::spawn(async move {
        let mut since = tianshu_model::Timestamp::now().add_millis(-(every.as_millis() as i64));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let now = tianshu_model::Timestamp::now();
            let notifier = Some(notifier.clone());
            match tianshu_api::fuel::recheck_late(&store, &fuel, since, notifier, now).await {
                Ok(done) if !done.is_empty() => {
                    let withdrawn = done.iter().filter(|c| c.withdrawn).count();
                    let opened = done.iter().filter(|c| c.opened).count();
                    tracing::info!(
                        checked = done.len(),
                        opened,
                        withdrawn,
                        "fuel fills re-checked after late track data"
                    );
                    since = now;
                }
                Ok(_) => since = now,
                Err(e) => tracing::warn!(error = %e, "re-checking fuel fills after late track data"),
            }
        }
    });
}

//! `tianshu demo`: Tianshu with a simulated fleet, on the embedded store, in one process.
//!
//! Generates the demo world around Huangshi (units, ~700 cars with terminals, region, depots, prohibited
//! places, orders), provisions it, starts the gateway with the web API, and drives every car with a real
//! JT/T 808 client over loopback TCP, so what the page shows went through the same path as a real
//! terminal's report: frame, session, group commit, acknowledgement, live feed. Demo logins are created
//! with fresh random passwords on every start and printed with the URL.
//!
//! Simulated time starts at a working morning (China time) so that cars are on the road whatever the
//! hour the demo is started, and runs `--speedup` times faster than the wall clock.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use chrono::{Datelike, Duration as ChronoDuration, NaiveDate, TimeZone, Timelike};
use rand::Rng;
use rand::distributions::Alphanumeric;
use tianshu_api::cases::{CaseError, CaseView};
use tianshu_api::live::AlertEvent;
use tianshu_api::{ApiConfig, ApiState, CaseBook, LiveHub, TerminalCommand};
use tianshu_model::{VehicleId, china_offset};
use tianshu_sim::{Fleet, FleetConfig, World, WorldConfig};
use tianshu_store::Store;
use tianshu_store::access::{NewUser, Role};
use tokio_util::sync::CancellationToken;

use crate::serve::{self, ExtraRoutes, ServeOptions, Services};

/// Arguments of `tianshu demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The embedded store of the demo (created when missing, reused on later runs).
    #[arg(long, default_value = "tianshu-data/demo.db")]
    pub store: String,
    /// Where the page and the API are served.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Where terminals connect (the simulated ones, and a real one if you point it here); port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub jt808: SocketAddr,
    /// How many simulated cars.
    #[arg(long, default_value_t = 700)]
    pub vehicles: usize,
    /// How many times faster than real time simulated time runs.
    #[arg(long, default_value_t = 4.0)]
    pub speedup: f64,
    /// Seed of the generated world (the same seed gives the same world).
    #[arg(long, default_value_t = 808)]
    pub seed: u64,
}

/// Sends the page's downlink commands through the gateway to the vehicle's terminal.
pub struct GatewayDownlink {
    /// The gateway's downlink.
    pub downlink: tianshu_ingest::Downlink,
    /// To find the vehicle's terminal.
    pub store: Store,
}

#[async_trait::async_trait]
impl tianshu_api::Downlink for GatewayDownlink {
    async fn send(&self, vehicle: VehicleId, command: &TerminalCommand) -> Result<bool, String> {
        let terminals = self.store.terminals().await.map_err(|e| e.to_string())?;
        let Some(phone) = terminals
            .into_iter()
            .find(|t| t.vehicle == Some(vehicle))
            .map(|t| t.phone)
        else {
            return Ok(false);
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
        };
        match self.downlink.send(phone, command, None).await {
            Ok(_) => Ok(true),
            Err(tianshu_ingest::DownlinkError::Offline(_)) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
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

fn case_error(e: tianshu_alerts::Error) -> CaseError {
    match e {
        tianshu_alerts::Error::Invalid(msgs) => CaseError::InvalidTransition(msgs.join("; ")),
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
    ) -> Result<CaseView, CaseError> {
        use tianshu_api::cases::CaseAction as A;
        let num: i64 = id.parse().map_err(|_| CaseError::NotFound(id.to_string()))?;
        let (step, note) = match action {
            A::Acknowledge => (tianshu_alerts::CaseAction::Acknowledge, String::new()),
            A::Explain { text } => (tianshu_alerts::CaseAction::Explain, text.clone()),
            A::Close { note } => (
                tianshu_alerts::CaseAction::Close,
                note.clone().unwrap_or_default(),
            ),
            A::Escalate { note } => (
                tianshu_alerts::CaseAction::Escalate,
                note.clone().unwrap_or_default(),
            ),
        };
        let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        tianshu_alerts::apply_action(&self.store, &self.config, num, step, actor, &note, now)
            .await
            .map_err(case_error)?;
        self.get(id)
            .await?
            .ok_or_else(|| CaseError::NotFound(id.to_string()))
    }
}

/// Forwards the alerts engine's case events to the live feed (bounded: a lagging pump skips notices,
/// counted by the hub's receivers; the inbox stays the source of truth).
pub fn pump_alerts(mut notices: tokio::sync::broadcast::Receiver<tianshu_alerts::Notice>, hub: LiveHub) {
    tokio::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(n) => {
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
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        skipped = n,
                        "live alert pump fell behind; the inbox has every case"
                    );
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// The web API as extra routes of `serve`, over the running services; the built state is left in
/// `slot` for the caller (to publish alerts and geofences into it).
pub fn api_routes(
    config: ApiConfig,
    alerts: tianshu_alerts::AlertsConfig,
    hub: LiveHub,
    slot: Arc<OnceLock<ApiState>>,
) -> ExtraRoutes {
    Box::new(move |services: &Services| {
        let cases: Arc<dyn CaseBook> = Arc::new(AlertCases {
            store: services.store.clone(),
            config: alerts,
        });
        let downlink = GatewayDownlink {
            downlink: services.downlink.clone(),
            store: services.store.clone(),
        };
        let state = ApiState::with_parts(
            services.store.clone(),
            config,
            hub,
            cases,
            Some(Arc::new(downlink)),
        );
        let _ = slot.set(state.clone());
        tianshu_api::router(state)
    })
}

/// When simulated time starts: now, if it is working hours on a working day in China; otherwise 09:30 of
/// today (before 09:30) or of the most recent working day, when the first trips of the day are on the road.
fn sim_start(calendar: &tianshu_sim::calendar::Calendar) -> (NaiveDate, i64) {
    let now = chrono::Utc::now().with_timezone(&china_offset());
    let today = now.date_naive();
    let minutes = now.hour() * 60 + now.minute();
    let working_hours = (9 * 60 + 30..16 * 60).contains(&minutes);
    if working_hours && !calendar.is_day_off(today) {
        return (today, now.timestamp_millis());
    }
    let mut date = if minutes < 9 * 60 + 30 {
        today - ChronoDuration::days(1)
    } else {
        today
    };
    while calendar.is_day_off(date) {
        date -= ChronoDuration::days(1);
    }
    let start = china_offset()
        .with_ymd_and_hms(date.year(), date.month(), date.day(), 9, 30, 0)
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| now.timestamp_millis());
    (date, start)
}

fn password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(14)
        .map(char::from)
        .collect()
}

/// Runs `tianshu demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // The demo prints what a newcomer needs; routine per-terminal logs would bury it.
    crate::logging::init(&crate::logging::LogConfig {
        level: "warn".into(),
        ..Default::default()
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let calendar = tianshu_sim::calendar::Calendar::default();
    let (date, start_ms) = sim_start(&calendar);
    let world = World::generate(&WorldConfig {
        seed: args.seed,
        vehicles: args.vehicles,
        start_date: date - ChronoDuration::days(1),
        days: 4,
        calendar,
        ..WorldConfig::default()
    });
    eprintln!(
        "generated the demo world: {} units, {} cars",
        world.units.len(),
        world.vehicles.len()
    );

    // Provision the registry and the demo logins, then let `serve` open the store for itself.
    let logins = {
        let store = Store::open(&args.store)
            .await
            .with_context(|| format!("opening {}", args.store))?;
        let records = tianshu_store::parse_registry_csv(&tianshu_sim::world::files::registry_csv(&world))?;
        store
            .import_registry(&records)
            .await
            .context("importing the demo registry")?;
        // Geofences and orders as an administrator would import them; the shipped calendars cover the days.
        let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        let geojson = tianshu_sim::world::files::geofences_geojson(&world);
        tianshu_alerts::reference::import_geofences(&store, &geojson, now)
            .await
            .context("importing the demo geofences")?;
        let orders = tianshu_sim::world::files::orders_jsonl(&world);
        let imported = tianshu_alerts::reference::import_orders(&store, &orders, now)
            .await
            .context("importing the demo orders")?;
        eprintln!(
            "imported the demo registry, geofences and {} orders and filings",
            imported.created + imported.updated + imported.unchanged
        );
        let units = store.units().await?;
        // The supervisor gets the department (below the city) with the most cars.
        let mut per_unit = std::collections::HashMap::<&str, usize>::new();
        for v in &world.vehicles {
            let path = world.units[v.unit].path.as_str();
            let dept = path.match_indices('/').nth(1).map_or(path, |(i, _)| &path[..i]);
            if dept.contains('/') {
                *per_unit.entry(dept).or_default() += 1;
            }
        }
        let dept = per_unit
            .into_iter()
            .max_by_key(|(p, n)| (*n, std::cmp::Reverse(*p)))
            .map(|(p, _)| p.to_string());
        let supervisor_unit = match dept {
            Some(p) => crate::cmd::user::resolve_unit(&store, &p).await.ok(),
            None => None,
        };
        let mut logins = Vec::new();
        for (username, role) in [
            ("admin", Role::Administrator),
            ("dispatcher", Role::Dispatcher),
            ("inspector", Role::Inspector),
            ("supervisor", Role::Supervisor),
        ] {
            let pw = password();
            let hash = tianshu_api::hash_password(&pw).map_err(anyhow::Error::msg)?;
            store.access().delete_user(username).await?;
            let unit = if role == Role::Supervisor {
                supervisor_unit
            } else {
                None
            };
            store
                .access()
                .create_user(&NewUser {
                    username: username.into(),
                    role,
                    unit,
                    password_hash: hash,
                })
                .await?;
            let unit_name = unit
                .and_then(|u| units.iter().find(|x| x.id == u))
                .map(|u| u.name.clone());
            logins.push((role, username, pw, unit_name));
        }
        logins
    };

    let shutdown = CancellationToken::new();
    let slot = Arc::new(OnceLock::new());
    let hub = LiveHub::new();
    let opts = ServeOptions {
        store_url: args.store.clone(),
        store: Default::default(),
        jt808_addr: args.jt808,
        http_addr: args.http,
        gateway: Default::default(),
        mqtt: Default::default(),
        mqtt_password: None,
    };
    let started = serve::start(
        opts,
        Some(api_routes(
            ApiConfig::default(),
            tianshu_alerts::AlertsConfig::default(),
            hub.clone(),
            slot.clone(),
        )),
        shutdown.clone(),
    )
    .await
    .context("starting the server (is the HTTP port taken? try --http 127.0.0.1:8081)")?;
    if let Some(state) = slot.get() {
        let fences: serde_json::Value =
            serde_json::from_str(&tianshu_sim::world::files::geofences_geojson(&world)).unwrap_or_default();
        state.set_geofences(fences);
    }
    // The rules watch committed points from here on; their case events go to the live feed.
    let mut rules = tianshu_rules::RulesConfig::default();
    if chrono::Utc::now().timestamp_millis() - start_ms > 10 * 60 * 1000 {
        // Simulated time runs behind the wall clock here, and silence is judged against the wall
        // clock: every car would look silent.
        rules.silence.enabled = false;
    }
    let alerts = tianshu_alerts::start(
        started.services.store.clone(),
        rules,
        tianshu_alerts::AlertsConfig::default(),
    )
    .await
    .context("starting the alerts runtime")?;
    pump_alerts(alerts.subscribe(), hub.clone());
    let world = Arc::new(world);
    let fleet = Fleet::spawn(
        FleetConfig {
            target: started.jt808_addr,
            speedup: args.speedup,
            start_ms: Some(start_ms),
            ..FleetConfig::default()
        },
        world.clone(),
    )?;

    let url = format!("http://{}/", started.http_addr);
    println!();
    println!(
        "Tianshu demo: {} simulated cars in {} units around Huangshi (黄石).",
        world.vehicles.len(),
        world.units.len()
    );
    println!(
        "Simulated time starts {} (China time) and runs x{}.",
        chrono::DateTime::from_timestamp_millis(start_ms)
            .map(|t| t
                .with_timezone(&china_offset())
                .format("%Y-%m-%d %H:%M")
                .to_string())
            .unwrap_or_default(),
        args.speedup
    );
    println!();
    println!("Open {url}");
    println!();
    println!("Logins (new passwords on every start):");
    for (role, username, pw, unit) in &logins {
        println!(
            "  {:<14} {:<11} {}{}",
            role.as_str(),
            username,
            pw,
            unit.as_ref().map(|u| format!("   ({u})")).unwrap_or_default()
        );
    }
    println!();
    println!(
        "JT/T 808 terminals connect to {}. Stop with Ctrl-C.",
        started.jt808_addr
    );

    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    eprintln!("stopping the fleet and the server");
    let stats = fleet.stop().await?;
    tracing::info!(?stats, "fleet stopped");
    alerts.shutdown().await;
    shutdown.cancel();
    started.wait().await?;
    Ok(ExitCode::SUCCESS)
}

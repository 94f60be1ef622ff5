//! `tianshu serve`: run the gateway, the store writer, the rules and alert cases, MQTT when configured, and
//! the HTTP endpoints with the web API and the page, until SIGINT or SIGTERM.
//!
//! Flags override the configuration file (and its `TIANSHU__*` environment overrides). Once both listeners
//! are bound, one line `listening jt808=ADDR http=ADDR` goes to standard output, so a script (or a test that
//! asked for port 0) learns the real addresses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config;
use crate::roles::Role;
use crate::serve::{self, ServeOptions};

/// Arguments of `tianshu serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The store: a file path (embedded, the default `tianshu-data/tianshu.db`) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Where terminals connect with JT/T 808 over TCP (default from the configuration, `0.0.0.0:6808`).
    #[arg(long, value_name = "ADDR")]
    pub jt808: Option<SocketAddr>,
    /// Where `/metrics`, `/healthz`, `/readyz` and the web API are served (default `0.0.0.0:8080`).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// MQTT broker to take positions from, `mqtt://HOST:PORT` or `mqtts://HOST:PORT` (sets `mqtt.url`).
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// Log format: `text` (human-readable) or `json` (one object per line); sets `log.format`.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<crate::logging::LogFormat>,
    /// The roles this process runs, separated by commas: `gateway`, `mqtt`, `writer`, `rules`, `api`
    /// (default: all of them). Without a bus a process runs them all.
    #[arg(long, value_name = "ROLES", default_value = "gateway,mqtt,writer,rules,api")]
    pub roles: crate::roles::Roles,
    /// NATS servers of the bus, `nats://HOST:PORT` separated by commas (sets `bus.servers`).
    #[arg(long, value_name = "URL,URL")]
    pub bus: Option<String>,
    /// The configuration file (TOML); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Runs `tianshu serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let loaded =
        config::load(args.config.as_deref(), &config::process_env()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut log = loaded.config.log.clone();
    if let Some(format) = args.log_format {
        log.format = format;
    }
    crate::logging::init(&log);
    let cfg = &loaded.config;
    let opts = serve_options(args, &loaded)?;
    let roles = opts.roles;
    let reporter_key = loaded
        .secrets
        .reporter_key
        .as_ref()
        .map(|k| tianshu_api::reporter::ReporterKey::parse(k.expose()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("web.casework.reporter_key: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let stop_escalation = shutdown.clone();
        // The web API and the page, over the same store and the gateway's downlink.
        let hub = tianshu_api::LiveHub::new();
        let slot = std::sync::Arc::new(std::sync::OnceLock::new());
        let web = roles.has(Role::Api).then(|| {
            crate::web::api_routes(
                cfg.web.clone(),
                cfg.alerts.clone(),
                &cfg.rules,
                hub.clone(),
                slot.clone(),
                reporter_key,
            )
        });
        let mut started = serve::start(opts, web, shutdown.clone()).await?;
        if let Some(api) = slot.get() {
            api.set_jt809_lower_peers(cfg.jt809.lower.iter().map(|p| p.name.clone()).collect());
        }
        // The rules and alert cases over committed points; case events reach the page and MQTT.
        let alerts = match roles.has(Role::Rules) {
            true => Some(
                crate::web::start_alerts(
                    &started.services.clone(),
                    started.committed(),
                    cfg.rules.clone(),
                    cfg.alerts.clone(),
                    hub,
                    started.rules_held.clone(),
                )
                .await?,
            ),
            false => None,
        };
        let jt808 = started
            .jt808_addr
            .map_or_else(|| "off".to_string(), |a| a.to_string());
        println!("listening jt808={jt808} http={}", started.http_addr);
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("shutdown requested");
            shutdown.cancel();
        });
        let store = started.services.store.clone();
        if roles.has(Role::Rules) {
            office_passes(&store, cfg, &stop_escalation);
        }
        let served = started.wait().await;
        if let Some(alerts) = alerts {
            alerts.shutdown().await;
        }
        serve::close_store(&store).await;
        super::connections_end().await;
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What `serve` runs: the configuration with the command line's flags over it.
fn serve_options(args: ServeArgs, loaded: &config::Loaded) -> anyhow::Result<ServeOptions> {
    let cfg = &loaded.config;
    let (jt809, upper) = loaded.platform_links();
    let store_url = match args.store {
        Some(url) => url,
        None => cfg
            .store
            .url_with_password(loaded.secrets.store_password.as_ref()),
    };
    let jt808_addr = match args.jt808 {
        Some(a) => a,
        None => cfg
            .listen
            .jt808
            .parse()
            .with_context(|| format!("listen.jt808 = {:?}", cfg.listen.jt808))?,
    };
    let http_addr = match args.http {
        Some(a) => a,
        None => cfg
            .listen
            .http
            .parse()
            .with_context(|| format!("listen.http = {:?}", cfg.listen.http))?,
    };
    let mut bus = cfg.bus.clone();
    if let Some(flag) = &args.bus {
        bus.servers = tianshu_bus::BusConfig::servers_from_flag(flag);
    }
    if !bus.enabled() && args.roles != crate::roles::Roles::ALL {
        anyhow::bail!(
            "--roles {}: a process runs only some roles with a bus (--bus or [bus] servers)",
            args.roles
        );
    }
    Ok(ServeOptions {
        roles: args.roles,
        bus,
        store_url,
        store: cfg.store_config(),
        jt808_addr,
        http_addr,
        gateway: tianshu_ingest::GatewayConfig {
            uplink: cfg.uplink,
            ..cfg.jt808.clone()
        },
        mqtt: {
            let mut mqtt = cfg.mqtt.clone();
            mqtt.uplink = cfg.uplink;
            if let Some(url) = args.mqtt {
                tianshu_mqtt::config::BrokerAddress::parse(&url)
                    .map_err(|e| anyhow::anyhow!("--mqtt: {e}"))?;
                mqtt.url = url;
            }
            mqtt
        },
        http: cfg.listen.http_limits(),
        jt809,
        upper,
        mqtt_password: loaded
            .secrets
            .mqtt_password
            .as_ref()
            .map(|s| s.expose().to_string()),
        audit: cfg
            .audit
            .options(loaded.secrets.audit_key.as_ref().map(|k| k.expose()))?,
    })
}
/// The office's own passes over the store, beside the rules: pool trips settled when due, overdue
/// complaints escalated, fuel fills re-checked after late track data, past days summarised. They end
/// with `stop`.
fn office_passes(store: &tianshu_store::Store, cfg: &config::Config, stop: &CancellationToken) {
    crate::carpool::settle_due_trips(store.clone(), cfg.alerts.clone(), cfg.rules.clone(), stop.clone());
    crate::web::escalate_overdue_complaints(store.clone(), cfg.alerts.clone(), stop.clone());
    let fuel_notices = crate::web::fuel_notifier(store.clone(), cfg.alerts.clone());
    crate::web::recheck_fuel_late(store.clone(), cfg.rules.fuel.clone(), fuel_notices, stop.clone());
    crate::summaries::summarise_past_days(store.clone(), stop.clone());
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

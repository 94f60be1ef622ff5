//! Running Tianshu: the store, the JT/T 808 gateway and the HTTP endpoints, wired together.
//!
//! This is a library function so that `tianshu serve`, `tianshu demo` and tests run the same thing:
//! [`start`] opens the store, binds both listeners and returns their real addresses (bind to port 0 in tests)
//! with the [`Services`] the web API needs; [`Started::wait`] runs until `shutdown` is cancelled, then lets the
//! gateway finish its in-flight acknowledgements (the grace period) before it returns. The store is closed
//! last ([`close_store`]), once whatever else writes to it (the alert rules) has stopped too.
// `Services`, `run` and the extra routes are the entry points `tianshu demo` and the web API build on.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use axum::Router;
use tianshu_bus::Bus;
use tianshu_ingest::{Downlink, Gateway, GatewayConfig, Online, PointSink, StoreSink};
use tianshu_model::redact_url;

use crate::audit::{Anchoring, AuditOptions};
use crate::http_accept::{self, HttpLimits};
use tianshu_store::{Cursor, Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::http;
use crate::roles::{Role, Roles};

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The store URL: a file path (embedded) or `postgres://...`.
    pub store_url: String,
    /// Store settings (writer batching, backend tuning).
    pub store: StoreConfig,
    /// Where terminals connect (JT/T 808 over TCP).
    pub jt808_addr: SocketAddr,
    /// Where `/metrics`, `/healthz`, `/readyz` and the web API are served.
    pub http_addr: SocketAddr,
    /// Gateway limits and timeouts.
    pub gateway: GatewayConfig,
    /// MQTT ingest and publishing; off when its URL is empty.
    pub mqtt: tianshu_mqtt::MqttConfig,
    /// The MQTT broker password, when there is one.
    pub mqtt_password: Option<String>,
    /// The HTTP listener's connection cap and header deadline.
    pub http: HttpLimits,
    /// The audit log's key and anchors.
    pub audit: AuditOptions,
    /// Lower platforms logging in over JT/T 809; off when its `listen` is empty.
    pub jt809: tianshu_platform::Jt809Config,
    /// Upper platforms the committed positions of the covered cars are forwarded to over JT/T 809.
    pub upper: Vec<tianshu_platform::UpperPlatform>,
    /// NATS JetStream, when Tianshu runs as roles over a bus; no servers: no bus.
    pub bus: tianshu_bus::BusConfig,
    /// The roles this process runs (all by default).
    pub roles: Roles,
}

/// The running parts other areas build on (the web API gets these to build its routes).
#[derive(Clone)]
pub struct Services {
    /// The store (registry, tracks, and `subscribe()` for committed points).
    pub store: Store,
    /// Platform commands to online terminals.
    pub downlink: Downlink,
    /// Who is online on this gateway.
    pub online: Arc<Online>,
    /// The gateway, for the alert runtime to take its cases.
    pub gateway: Arc<Gateway>,
    /// Publishing positions and alert events to MQTT, when configured.
    pub mqtt_publisher: Option<tianshu_mqtt::Publisher>,
    /// With a bus: which gateway holds a terminal, for downlink commands it does not hold here.
    pub routes: Option<tianshu_bus::route::Routes>,
}

/// Builds extra HTTP routes (the web API) from the running services; merged with the operational ones.
pub type ExtraRoutes = Box<dyn FnOnce(&Services) -> Router + Send>;

/// A started server.
pub struct Started {
    /// The JT/T 808 address actually bound; none without the gateway role.
    pub jt808_addr: Option<SocketAddr>,
    /// The HTTP address actually bound.
    pub http_addr: SocketAddr,
    /// The JT/T 809 address actually bound, when lower platforms are accepted.
    pub jt809_addr: Option<SocketAddr>,
    /// The running services.
    pub services: Services,
    /// The gateway task, with the gateway role; ends after shutdown and the grace period.
    gateway: Option<JoinHandle<()>>,
    /// The bus roles' tasks (writer, committed feed); they end at shutdown.
    bus_tasks: Vec<JoinHandle<()>>,
    /// The HTTP task.
    http: JoinHandle<std::io::Result<()>>,
    /// The MQTT ingest task, when configured; ends after shutdown, once committed messages are acknowledged.
    mqtt: Option<JoinHandle<()>>,
    /// The JT/T 809 upper platform, when configured; ends after shutdown, once its links closed.
    jt809: Option<JoinHandle<()>>,
    /// A follower of committed points opened with the store, until taken ([`Started::committed`]).
    committed: Option<Cursor>,
    /// With a bus and the rules role: the partitions whose cars this instance's rules evaluate.
    pub rules_held: Option<Arc<tianshu_bus::lease::Held>>,
    /// Anchors the audit chain's head; the last anchor once HTTP has stopped.
    anchoring: Anchoring,
}

/// Opens the store, binds the listeners and starts serving; returns once both listeners are bound.
pub async fn start(
    opts: ServeOptions,
    extra_routes: Option<ExtraRoutes>,
    shutdown: CancellationToken,
) -> anyhow::Result<Started> {
    let store = open_store(&opts, &shutdown).await?;
    // Before anything is ingested: the alert rules start from here, whenever they start.
    let committed = store.follow();
    let bus = match opts.bus.enabled() {
        true => Some(Bus::connect(&opts.bus).await?),
        false => None,
    };
    let (mut bus_tasks, mut rules_held) = (Vec::new(), None);
    if let Some(bus) = &bus {
        (bus_tasks, rules_held) = spawn_bus_roles(bus, &store, opts.roles, &shutdown).await?;
    }
    let jt808 = match opts.roles.has(Role::Gateway) {
        true => Some(
            TcpListener::bind(opts.jt808_addr)
                .await
                .with_context(|| format!("binding the JT/T 808 listener on {}", opts.jt808_addr))?,
        ),
        false => None,
    };
    let http_listener = TcpListener::bind(opts.http_addr)
        .await
        .with_context(|| format!("binding the HTTP listener on {}", opts.http_addr))?;
    let jt808_addr = jt808.as_ref().map(TcpListener::local_addr).transpose()?;
    let http_addr = http_listener.local_addr()?;
    // With a bus, sessions' points (JT/T 808, MQTT, JT/T 809 lower platforms) go to the points stream
    // and are acknowledged once it holds them.
    let sink: Arc<dyn PointSink> = match &bus {
        Some(bus) => Arc::new(tianshu_bus::publish::BusSink::spawn(bus)),
        None => Arc::new(StoreSink(store.clone())),
    };
    let (jt809_addr, jt809_task) = spawn_jt809(&opts, &store, sink.clone(), &shutdown).await?;
    spawn_upper_links(&opts, &store, &shutdown);
    let gateway_config = gateway_config_fitting(&opts);
    let gateway = Gateway::new(gateway_config, store.clone(), sink.clone());
    let mqtt_publisher = if opts.mqtt.enabled() && (opts.mqtt.publish.positions || opts.mqtt.publish.alerts) {
        Some(
            tianshu_mqtt::Publisher::spawn(&opts.mqtt, opts.mqtt_password.as_deref(), store.clone())
                .context("starting MQTT publishing")?,
        )
    } else {
        None
    };
    let routes = spawn_routes(bus.as_ref(), opts.roles, &gateway, &shutdown).await?;
    let services = Services {
        routes,
        store: store.clone(),
        downlink: gateway.downlink(),
        online: gateway.online.clone(),
        gateway: gateway.clone(),
        mqtt_publisher: mqtt_publisher.clone(),
    };
    let mqtt_status = (opts.mqtt.enabled() && opts.roles.has(Role::Mqtt))
        .then(|| Arc::new(tianshu_mqtt::MqttStatus::default()));

    let gateway_listening = Arc::new(AtomicBool::new(true));
    let shutting_down = Arc::new(AtomicBool::new(false));
    let mut router = http::router(http::Readiness {
        store: store.clone(),
        gateway_listening: gateway_listening.clone(),
        shutting_down: shutting_down.clone(),
        mqtt: mqtt_status.clone(),
        bus: bus.clone(),
    });
    if let Some(extra) = extra_routes {
        router = router.merge(extra(&services));
    }

    let gateway_task = jt808.map(|jt808| {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tianshu_ingest::run(jt808, gateway, shutdown).await;
            gateway_listening.store(false, Ordering::Relaxed);
        })
    });
    let http_task = spawn_http(http_listener, router, opts.http, shutdown.clone(), shutting_down);
    let mqtt_task =
        mqtt_status.map(|status| spawn_mqtt(&opts, store.clone(), sink, status, mqtt_publisher, shutdown));
    let jt808_shown = jt808_addr.map_or_else(|| "off".to_string(), |a| a.to_string());
    info!(jt808_addr = %jt808_shown, %http_addr, store = %redact_url(&opts.store_url), mqtt = %redact_url(&opts.mqtt.url), roles = %opts.roles, bus = %opts.bus.servers.join(","), "tianshu serving");
    Ok(Started {
        jt808_addr,
        http_addr,
        jt809_addr,
        services,
        gateway: gateway_task,
        bus_tasks,
        http: http_task,
        mqtt: mqtt_task,
        jt809: jt809_task,
        committed: Some(committed),
        rules_held,
        anchoring: Anchoring::spawn(store, &opts.audit),
    })
}

/// Opens the store (its audit key checked) and starts packing old days into track blocks in the
/// background until `shutdown`.
async fn open_store(opts: &ServeOptions, shutdown: &CancellationToken) -> anyhow::Result<Store> {
    let store = Store::open_with(&opts.store_url, &opts.store)
        .await
        .with_context(|| format!("opening the store {}", redact_url(&opts.store_url)))?
        .with_audit_key(opts.audit.key.clone());
    crate::audit::check_key(&store, opts.audit.key.as_ref()).await?;
    if let Some(compaction) = store.spawn_block_compaction() {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            compaction.abort();
        });
    }
    Ok(store)
}

/// Starts forwarding to each configured JT/T 809 upper platform.
fn spawn_upper_links(opts: &ServeOptions, store: &Store, shutdown: &CancellationToken) {
    for upper in &opts.upper {
        info!(upper = %upper.name, address = %upper.address, "forwarding to a JT/T 809 upper platform");
        tokio::spawn(tianshu_platform::lower::forward(
            upper.clone(),
            store.clone(),
            shutdown.clone(),
        ));
    }
}

/// Serves HTTP until `shutdown`, `shutting_down` set as soon as it is asked for (`/readyz` says so).
fn spawn_http(
    listener: TcpListener,
    router: axum::Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
    shutting_down: Arc<AtomicBool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        let stop = CancellationToken::new();
        let flag = {
            let stop = stop.clone();
            async move {
                shutdown.cancelled().await;
                shutting_down.store(true, Ordering::Relaxed);
                stop.cancel();
            }
        };
        tokio::spawn(flag);
        http_accept::serve(listener, router, limits, stop).await
    })
}

/// The gateway's settings, its connection cap lowered when it does not fit the open-file limit beside the
/// HTTP connections (see [`http_accept::gateway_connections_within`]).
fn gateway_config_fitting(opts: &ServeOptions) -> GatewayConfig {
    let mut gateway_config = opts.gateway.clone();
    let open_file_limit = http_accept::open_file_limit();
    let fitting = http_accept::gateway_connections_within(
        gateway_config.max_connections,
        opts.http.max_connections,
        open_file_limit,
    );
    if fitting < gateway_config.max_connections {
        tracing::warn!(
            configured = gateway_config.max_connections,
            lowered_to = fitting,
            open_file_limit,
            http_max_connections = opts.http.max_connections,
            "jt808.max_connections does not fit the open-file limit beside the HTTP connections; lowered (raise LimitNOFILE)"
        );
        gateway_config.max_connections = fitting;
    }
    gateway_config
}

/// Binds the JT/T 809 listener and starts accepting lower platforms, when `[jt809] listen` is set; their
/// positions go to `sink`.
async fn spawn_jt809(
    opts: &ServeOptions,
    store: &Store,
    sink: Arc<dyn PointSink>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Option<SocketAddr>, Option<JoinHandle<()>>)> {
    if !opts.jt809.enabled() {
        return Ok((None, None));
    }
    let listener = TcpListener::bind(opts.jt809.listen.trim())
        .await
        .with_context(|| format!("binding the JT/T 809 listener on {}", opts.jt809.listen))?;
    let addr = listener.local_addr()?;
    let upper =
        tianshu_platform::Upper::with_sink(opts.jt809.clone(), store.clone(), opts.gateway.uplink, sink);
    let task = tokio::spawn(tianshu_platform::run(listener, upper, shutdown.clone()));
    info!(%addr, lower_platforms = opts.jt809.lower.len(), "accepting JT/T 809 lower platforms");
    Ok((Some(addr), Some(task)))
}

/// Starts the bus roles this process runs: the writer (the points stream committed to the store), the
/// rules' leases and their partitions' readers (the partitions held, returned), and for the live map the
/// committed feed (opened here, before any point is taken; it feeds the rules too when they do not hold
/// partitions of their own, which with a bus they always do).
async fn spawn_bus_roles(
    bus: &Bus,
    store: &Store,
    roles: Roles,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Vec<JoinHandle<()>>, Option<Arc<tianshu_bus::lease::Held>>)> {
    let mut tasks = Vec::new();
    let mut held = None;
    if roles.has(Role::Rules) {
        store.fan_out_externally();
        let leases = tianshu_bus::lease::Leases::open(bus).await?;
        held = Some(leases.held());
        tasks.push(tokio::spawn(
            leases.run(store.clone(), shutdown.clone().cancelled_owned()),
        ));
    }
    if roles.has(Role::Api) {
        let feed = tianshu_bus::committed::Feed::open(bus, store.clone(), held.is_none()).await?;
        tasks.push(tokio::spawn(feed.run(shutdown.clone().cancelled_owned())));
    }
    if roles.has(Role::Writer) {
        let (bus, store, stop) = (bus.clone(), store.clone(), shutdown.clone().cancelled_owned());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = tianshu_bus::writer::run(bus, store, stop).await {
                tracing::error!(error = %e, "the bus writer could not start; nothing is committed from the bus");
            }
        }));
    }
    Ok((tasks, held))
}

/// With a bus, the terminals' gateways: a gateway writes its terminals and answers downlink requests
/// for them from other instances.
async fn spawn_routes(
    bus: Option<&Bus>,
    roles: Roles,
    gateway: &Arc<Gateway>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<tianshu_bus::route::Routes>> {
    let Some(bus) = bus else {
        return Ok(None);
    };
    let routes = tianshu_bus::route::Routes::open(bus).await?;
    if roles.has(Role::Gateway) {
        let serving = routes.clone().serve(
            bus.config().instance_id(),
            gateway.downlink(),
            shutdown.clone().cancelled_owned(),
        );
        tokio::spawn(serving);
    }
    Ok(Some(routes))
}

/// Starts MQTT ingest, its points handed to `sink`; the publisher, when there is one, stops with it.
fn spawn_mqtt(
    opts: &ServeOptions,
    store: Store,
    sink: Arc<dyn PointSink>,
    status: Arc<tianshu_mqtt::MqttStatus>,
    publisher: Option<tianshu_mqtt::Publisher>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let (config, password) = (opts.mqtt.clone(), opts.mqtt_password.clone());
    tokio::spawn(async move {
        let stopped = async move { shutdown.cancelled().await };
        if let Err(e) = tianshu_mqtt::run_into(config, password, store, sink, status, stopped).await {
            tracing::error!(error = %e, "MQTT ingest could not start");
        }
        if let Some(p) = publisher {
            p.shutdown();
        }
    })
}

impl Started {
    /// Every point committed since the store opened, for the alert rules; a second call follows from
    /// the call on.
    pub fn committed(&mut self) -> Cursor {
        self.committed
            .take()
            .unwrap_or_else(|| self.services.store.follow())
    }

    /// Waits until shutdown completed: the gateway drained (within its grace period) and HTTP stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        if let Some(gateway) = self.gateway {
            gateway.await.context("the gateway task failed")?;
        }
        for task in self.bus_tasks {
            task.await.context("a bus task failed")?;
        }
        if let Some(mqtt) = self.mqtt {
            mqtt.await.context("the MQTT task failed")?;
        }
        if let Some(jt809) = self.jt809 {
            jt809.await.context("the JT/T 809 task failed")?;
        }
        self.http
            .await
            .context("the HTTP task failed")?
            .context("the HTTP server failed")?;
        self.anchoring.finish().await;
        Ok(())
    }
}

/// Closes the store, last at a clean stop ([`Store::close`]): the writer's queue committed, then what the
/// backend holds behind its commits written (PostgreSQL's latest positions, so that another process
/// reading the database finds them now rather than after the next start's repair) and the embedded
/// store's WAL checkpointed and truncated.
pub async fn close_store(store: &Store) {
    if let Err(e) = store.close().await {
        tracing::warn!(error = %e, "closing the store at shutdown failed");
    }
}

/// Runs until `shutdown` is cancelled.
pub async fn run(
    opts: ServeOptions,
    extra_routes: Option<ExtraRoutes>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let started = start(opts, extra_routes, shutdown).await?;
    let store = started.services.store.clone();
    let served = started.wait().await;
    close_store(&store).await;
    served
}

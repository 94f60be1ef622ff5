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
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use chrono::{Datelike, Duration as ChronoDuration, NaiveDate, TimeZone, Timelike};
use rand::Rng;
use rand::distributions::Alphanumeric;
use tianshu_api::{ApiConfig, LiveHub};
use tianshu_model::china_offset;
use tianshu_sim::{Fleet, FleetConfig, World, WorldConfig};
use tianshu_store::Store;
use tianshu_store::access::{NewUser, Role};
use tokio_util::sync::CancellationToken;

use crate::audit::AuditOptions;
use crate::serve::{self, ServeOptions};
use crate::web::{api_routes, start_alerts};

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

/// When simulated time starts: now, if it is working hours on a working day in China; otherwise 09:30 of
/// today (before 09:30) or of the most recent working day, when the first trips of the day are on the road.
fn sim_start(config: &WorldConfig) -> (NaiveDate, i64) {
    let now = chrono::Utc::now().with_timezone(&china_offset());
    let today = now.date_naive();
    let minutes = now.hour() * 60 + now.minute();
    let working_hours = (9 * 60 + 30..16 * 60).contains(&minutes);
    if working_hours && !config.is_day_off(today) {
        return (today, now.timestamp_millis());
    }
    let mut date = if minutes < 9 * 60 + 30 {
        today - ChronoDuration::days(1)
    } else {
        today
    };
    while config.is_day_off(date) {
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
    let (world, start_ms) = demo_world(&args);
    let (audit, key_file) = demo_audit(Path::new(&args.store))?;
    let basemap = demo_basemap(Path::new(&args.store), &world)?;
    let reporter_key = demo_reporter_key(Path::new(&args.store))?;
    // Provision the registry and the demo logins, then let `serve` open the store for itself.
    let logins = {
        let store = Store::open(&args.store)
            .await
            .with_context(|| format!("opening {}", args.store))?
            .with_audit_key(audit.key.clone());
        import_world(&store, &world).await?;
        create_logins(&store, &world).await?
    };

    let shutdown = CancellationToken::new();
    let hub = LiveHub::new();
    let mut rules = tianshu_rules::RulesConfig::default();
    if chrono::Utc::now().timestamp_millis() - start_ms > 10 * 60 * 1000 {
        // Simulated time runs behind the wall clock here, and silence is judged against the wall
        // clock: every car would look silent.
        rules.silence.enabled = false;
    }
    let mut started = serve::start(
        demo_serve_options(&args, &audit),
        Some(api_routes(
            ApiConfig {
                basemap: tianshu_api::config::BasemapConfig {
                    pmtiles: basemap.to_string_lossy().into_owned(),
                    ..Default::default()
                },
                ..ApiConfig::default()
            },
            tianshu_alerts::AlertsConfig::default(),
            &rules,
            hub.clone(),
            Arc::new(OnceLock::new()),
            Some(reporter_key),
        )),
        shutdown.clone(),
    )
    .await
    .context("starting the server (is the HTTP port taken? try --http 127.0.0.1:8081)")?;
    // The rules watch committed points from here on; their case events go to the live feed.
    let committed = started.committed();
    let alerts = start_alerts(
        &started.services,
        committed,
        rules,
        tianshu_alerts::AlertsConfig::default(),
        hub.clone(),
        None,
    )
    .await?;
    let world = Arc::new(world);
    let jt808_addr = started
        .jt808_addr
        .context("the demo runs every role, the gateway too")?;
    let fleet = Fleet::spawn(
        FleetConfig {
            target: jt808_addr,
            speedup: args.speedup,
            start_ms: Some(start_ms),
            ..FleetConfig::default()
        },
        world.clone(),
    )?;
    print_welcome(&world, &args, start_ms, &started, &logins);
    print_audit(&args.store, &key_file, &audit);
    println!();
    println!("JT/T 808 terminals connect to {jt808_addr}. Stop with Ctrl-C.");

    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    eprintln!("stopping the fleet and the server");
    let stats = fleet.stop().await?;
    tracing::info!(?stats, "fleet stopped");
    alerts.shutdown().await;
    shutdown.cancel();
    let store = started.services.store.clone();
    started.wait().await?;
    serve::close_store(&store).await;
    Ok(ExitCode::SUCCESS)
}

/// What `serve` is started with in the demo: every role on the demo's store and addresses.
fn demo_serve_options(args: &DemoArgs, audit: &AuditOptions) -> ServeOptions {
    ServeOptions {
        store_url: args.store.clone(),
        store: Default::default(),
        jt808_addr: args.jt808,
        http_addr: args.http,
        gateway: tianshu_ingest::GatewayConfig {
            // Simulated time runs `--speedup` times faster than the wall clock, so the fleet's fixes
            // soon lie ahead of their receive time: the demo takes them.
            uplink: tianshu_ingest::uplink::UplinkConfig {
                max_fix_ahead_secs: 366 * 86_400,
                ..Default::default()
            },
            ..Default::default()
        },
        mqtt: Default::default(),
        mqtt_password: None,
        http: crate::config::ListenConfig::default().http_limits(),
        audit: audit.clone(),
        jt809: Default::default(),
        upper: Vec::new(),
        bus: Default::default(),
        roles: Default::default(),
    }
}

/// The demo's basemap, beside its store (`demo.db` has `demo.basemap.pmtiles`): the roads, towns and
/// depots of its world as vector tiles, written on the first run and again only when the world changes.
fn demo_basemap(store: &Path, world: &World) -> anyhow::Result<PathBuf> {
    let path = beside(store, "basemap.pmtiles");
    tianshu_sim::basemap::write_basemap(world, &path)
        .with_context(|| format!("writing the demo's basemap {}", path.display()))?;
    Ok(path)
}

/// The demo's audit key and anchor file, beside its store (`demo.db` has `demo.audit-key` and
/// `demo.audit-anchors.jsonl`): the key is generated on the first run, readable by its owner only, and
/// kept, so the chain verifies across runs. Returns the options and the key file.
fn demo_audit(store: &Path) -> anyhow::Result<(AuditOptions, PathBuf)> {
    let key_file = beside(store, "audit-key");
    let text = key_file_text(&key_file, || {
        rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(48)
            .map(char::from)
            .collect()
    })?;
    let key = tianshu_store::access::AuditKey::from_text(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))?;
    let options = AuditOptions {
        key: Some(key),
        anchor_file: Some(beside(store, "audit-anchors.jsonl")),
        anchor_interval: std::time::Duration::from_secs(60),
    };
    Ok((options, key_file))
}

/// The key that seals complainants' phone numbers in the demo's store (`demo.reporter-key`, 32 random
/// bytes as hex), made on the first start, so that complaints can be entered with a number.
fn demo_reporter_key(store: &Path) -> anyhow::Result<tianshu_api::reporter::ReporterKey> {
    let key_file = beside(store, "reporter-key");
    let text = key_file_text(&key_file, || {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })?;
    tianshu_api::reporter::ReporterKey::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))
}

/// A file beside the demo's store: `demo.db` has `demo.SUFFIX`.
fn beside(store: &Path, suffix: &str) -> PathBuf {
    let stem = store.file_stem().map(|s| s.to_string_lossy().into_owned());
    store.with_file_name(format!("{}.{suffix}", stem.as_deref().unwrap_or("tianshu")))
}

/// The first line of a key file, written first (owner-only) from `make` when it is not there.
fn key_file_text(key_file: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if !key_file.exists() {
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        std::io::Write::write_all(&mut open.open(key_file)?, format!("{}\n", make()).as_bytes())
            .with_context(|| format!("writing {}", key_file.display()))?;
    }
    let text =
        std::fs::read_to_string(key_file).with_context(|| format!("reading {}", key_file.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Where the demo's audit key and anchors are, and how to check the chain against them.
fn print_audit(store: &str, key_file: &Path, audit: &AuditOptions) {
    let anchors = audit.anchor_file.as_deref().unwrap_or(Path::new("-")).display();
    let key_file = key_file.display();
    println!("The audit log is keyed with {key_file} and anchored in {anchors}; check it with");
    println!("  TIANSHU__AUDIT__KEY_FILE={key_file} tianshu audit verify --store {store} --anchor {anchors}");
}

/// The demo world, over the day before the simulated start to two days after, and the simulated start.
fn demo_world(args: &DemoArgs) -> (World, i64) {
    let mut config = WorldConfig {
        seed: args.seed,
        vehicles: args.vehicles,
        days: 4,
        ..WorldConfig::default()
    };
    let (date, start_ms) = sim_start(&config);
    config.start_date = date - ChronoDuration::days(1);
    let world = World::generate(&config);
    eprintln!(
        "generated the demo world: {} units, {} cars",
        world.units.len(),
        world.vehicles.len()
    );
    (world, start_ms)
}

/// Imports the world's registry, geofences and orders, as an administrator would; the shipped calendars
/// cover the days.
async fn import_world(store: &Store, world: &World) -> anyhow::Result<()> {
    let records = tianshu_store::parse_registry_csv(&tianshu_sim::files::registry_csv(world))?;
    store
        .import_registry(&records)
        .await
        .context("importing the demo registry")?;
    let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let geojson = tianshu_sim::files::geofences_geojson(world);
    store
        .rules()
        .import_geofences(&geojson, now)
        .await
        .context("importing the demo geofences")?;
    let orders = tianshu_sim::files::orders_jsonl(world);
    let imported = store
        .rules()
        .import_orders(&orders, now)
        .await
        .context("importing the demo orders")?;
    // Each car's driver in the drivers' registry, with a certificate number of the demo's own.
    let units: std::collections::HashMap<String, tianshu_model::UnitId> = store
        .vehicles()
        .await?
        .into_iter()
        .map(|v| (v.plate, v.unit))
        .collect();
    for (i, v) in world.vehicles.iter().enumerate() {
        let Some(&unit) = units.get(&v.plate) else {
            continue;
        };
        let fields = tianshu_store::drivers::DriverFields {
            name: v.driver.clone(),
            certificate: format!("DEMO-{:05}", i + 1),
            phone: None,
            unit,
            licence: Some(tianshu_model::carpool::LicenceClass::C1),
            active: true,
        };
        store
            .drivers()
            .create(&fields)
            .await
            .context("registering the demo drivers")?;
    }
    eprintln!(
        "imported the demo registry, drivers, geofences and {} orders and filings",
        imported.created + imported.updated + imported.unchanged
    );
    Ok(())
}

/// A demo login, printed once.
struct Login {
    role: Role,
    username: &'static str,
    password: String,
    /// The supervisor's unit, by name.
    unit: Option<String>,
}

/// Creates the demo logins afresh with new passwords: one per role, the supervisor over the department
/// (below the city) with the most cars.
async fn create_logins(store: &Store, world: &World) -> anyhow::Result<Vec<Login>> {
    let units = store.units().await?;
    let supervisor_unit = match busiest_department(world) {
        Some(p) => crate::cmd::user::resolve_unit(store, &p).await.ok(),
        None => None,
    };
    let mut logins = Vec::new();
    for (username, role) in [
        ("admin", Role::Administrator),
        ("dispatcher", Role::Dispatcher),
        ("inspector", Role::Inspector),
        ("supervisor", Role::Supervisor),
        ("requester", Role::Requester),
    ] {
        let pw = password();
        let hash = tianshu_api::hash_password(&pw).map_err(anyhow::Error::msg)?;
        match store.access().delete_user(username).await {
            Ok(()) | Err(tianshu_store::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let unit = if role.scoped_to_unit() {
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
        logins.push(Login {
            role,
            username,
            password: pw,
            unit: unit
                .and_then(|u| units.iter().find(|x| x.id == u))
                .map(|u| u.name.clone()),
        });
    }
    Ok(logins)
}

/// The path of the department (second level below the city) with the most cars.
fn busiest_department(world: &World) -> Option<String> {
    let mut per_unit = std::collections::HashMap::<&str, usize>::new();
    for v in &world.vehicles {
        let path = world.units[v.unit].path.as_str();
        let dept = path.match_indices('/').nth(1).map_or(path, |(i, _)| &path[..i]);
        if dept.contains('/') {
            *per_unit.entry(dept).or_default() += 1;
        }
    }
    per_unit
        .into_iter()
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(*p)))
        .map(|(p, _)| p.to_string())
}

/// What a newcomer needs: where to look and how to log in (where terminals connect is printed last).
fn print_welcome(world: &World, args: &DemoArgs, start_ms: i64, started: &serve::Started, logins: &[Login]) {
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
    for l in logins {
        println!(
            "  {:<14} {:<11} {}{}",
            l.role.as_str(),
            l.username,
            l.password,
            l.unit.as_ref().map(|u| format!("   ({u})")).unwrap_or_default()
        );
    }
}

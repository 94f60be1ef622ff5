//! `tianshu simulate`: a fleet of virtual JT/T 808 terminals against a running platform, and the demo
//! world's files.
//!
//! `--write-world DIR` writes `registry.csv`, `geofences.geojson` and `orders.jsonl` for
//! `tianshu registry import`, `tianshu geofence import` and `tianshu order import`, what the fleet does
//! on purpose (`scripted.jsonl`), and a planted year of casework before the start date
//! (`casework.jsonl` for `tianshu casework import`, its totals in `casework_totals.json`); `--target ADDR` runs
//! the fleet. With both, the files are written first, and they describe exactly the fleet that runs
//! (same seed, same vehicle count, same start date). Run separately, the two invocations must agree on
//! `--seed`, `--vehicles` (or `--terminals`), `--start` (its date) and `--scenarios` for the orders to
//! describe the trips the cars actually drive.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tianshu_model::Timestamp;
use tianshu_sim::plan::local_date;
use tianshu_sim::scenario::{SCENARIO_NAMES, apply_scenarios};
use tianshu_sim::year::{YearConfig, write_year_totals};
use tianshu_sim::{Fleet, FleetConfig, World, WorldConfig};

/// Arguments of `tianshu simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The platform's JT/T 808 address (`127.0.0.1:PORT`); without it only `--write-world` runs. Several,
    /// comma-separated (`127.0.0.1:8808,127.0.0.1:8809`), are the terminals' main and backup servers: the
    /// terminals start spread over them and one whose connection or login fails tries the next.
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<SocketAddr>,
    /// How many terminals to run (the world's first N cars; 0 = every car of the world).
    #[arg(long, default_value_t = 0)]
    pub terminals: usize,
    /// Cars in the generated world; raised to `--terminals` when that is larger. Use the same value
    /// when writing the world and when running the fleet.
    #[arg(long, default_value_t = 700)]
    pub vehicles: usize,
    /// Reporting interval with the ignition on, in simulated seconds.
    #[arg(long, default_value_t = 10.0)]
    pub interval_secs: f64,
    /// Reporting interval while parked, in simulated seconds (never below `--interval-secs`).
    #[arg(long, default_value_t = 300.0)]
    pub parked_interval_secs: f64,
    /// Simulated time runs this many times faster than real time (60: a day in 24 minutes).
    #[arg(long, default_value_t = 1.0)]
    pub speedup: f64,
    /// Scenarios, comma-separated: `default`, `none`, or names with an optional `=RATE` (a list not starting
    /// with `default` switches everything else off). Names: off_hours, holiday, holiday_filing, unordered,
    /// off_route, region_exit, night_away, prohibited_stop, alarms, silent, blind_area, retransmit.
    #[arg(long, default_value = "default")]
    pub scenarios: String,
    /// Write every acknowledged point (phone, fix time, block hash) to this file as JSON Lines.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Stop after this many real seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// Write the world's registry CSV, geofence GeoJSON and orders JSONL into this directory.
    #[arg(long)]
    pub write_world: Option<PathBuf>,
    /// Seed of the world and of every scenario draw.
    #[arg(long, default_value_t = 808)]
    pub seed: u64,
    /// Simulated start time, RFC 3339 (default: now). Orders are written from its date (China time) on.
    #[arg(long)]
    pub start: Option<String>,
    /// Days of orders and filings to write, from the start date.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Real seconds to wait for a platform answer before retransmitting (T1 of the standard).
    #[arg(long, default_value_t = 10.0)]
    pub ack_timeout_secs: f64,
    /// Retransmissions before a link is taken as broken.
    #[arg(long, default_value_t = 3)]
    pub max_retransmissions: u32,
    /// Local addresses to connect from, in turn: a list with IPv4 ranges (`127.0.0.1-127.0.0.20`), to
    /// stay under the gateway's per-address connection cap when thousands of terminals run.
    #[arg(long)]
    pub bind_ips: Option<String>,
    /// Real seconds over which the first connections are spread.
    #[arg(long, default_value_t = 2.0)]
    pub connect_spread_secs: f64,
    /// A China calendar year of driving (2000 to 2100): with `--write-world`, the world's orders cover
    /// the year and what its yearly figures must show is written (`year_totals.json`); with `--store`,
    /// the world's cars (the first `--terminals`, or all) drive the year straight into the store, a point
    /// every `--interval-secs` with the ignition on and every `--parked-interval-secs` parked, the rules
    /// following (import the world's registry, geofences and orders first).
    #[arg(long, conflicts_with_all = ["target", "start", "days"])]
    pub year: Option<i32>,
    /// With `--year`: the store the year is written into (a file path, `sqlite:PATH` or `postgres://...`).
    #[arg(long, requires = "year")]
    pub store: Option<String>,
    /// With `--write-world`: the platform requires an order for every trip of every unit
    /// (`rules.order_required_units`), so `scripted.jsonl` expects `no_order` for uncovered trips in
    /// working hours.
    #[arg(long)]
    pub orders_required: bool,
}

/// Runs `tianshu simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init(&crate::logging::LogConfig::default());
    if args.target.is_empty() && args.write_world.is_none() && args.store.is_none() {
        anyhow::bail!(
            "nothing to do: give --target ADDR to run the fleet and/or --write-world DIR to write its files \
             (or --year Y --store URL to drive a year into a store)"
        );
    }
    if let Some(y) = args.year {
        anyhow::ensure!((2000..=2100).contains(&y), "--year: {y} is not 2000 to 2100");
    }
    anyhow::ensure!(
        args.interval_secs >= 1.0,
        "--interval-secs must be at least 1 (fix times have whole seconds)"
    );
    anyhow::ensure!(args.speedup > 0.0, "--speedup must be positive");
    let (world_config, mut fleet_config) = configs(&args)?;
    let world = World::generate(&world_config);
    tracing::info!(
        units = world.units.len(),
        vehicles = world.vehicles.len(),
        seed = args.seed,
        "world generated"
    );
    if let Some(dir) = &args.write_world {
        write_world(&args, &world, &fleet_config, dir)?;
    }
    if let (Some(year), Some(url)) = (year_config(&args), &args.store) {
        return crate::cmd::simulate_year::run(&world, year, url);
    }
    let Some((&target, backups)) = args.target.split_first() else {
        return Ok(ExitCode::SUCCESS);
    };
    fleet_config.target = target;
    fleet_config.backup_targets = backups.to_vec();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run_fleet(fleet_config, world, args.duration_secs))
}

/// The world and the fleet the arguments describe.
fn configs(args: &SimulateArgs) -> anyhow::Result<(WorldConfig, FleetConfig)> {
    let start_ms = match &args.start {
        Some(s) => Timestamp::parse_rfc3339(s)
            .with_context(|| format!("--start {s:?} is not RFC 3339"))?
            .millis(),
        None => chrono::Utc::now().timestamp_millis(),
    };
    let mut world_config = WorldConfig {
        seed: args.seed,
        vehicles: args.vehicles.max(args.terminals),
        start_date: local_date(start_ms),
        // Orders are only written, never used by the terminals: no days of them when no files are asked for.
        days: if args.write_world.is_some() { args.days } else { 0 },
        ..WorldConfig::default()
    };
    if let Some(year) = year_config(args) {
        // The year's world: its orders and scripted misuse cover the year's days.
        world_config.start_date = year.days().next().unwrap_or(world_config.start_date);
        world_config.days = year.days().count() as u32;
    }
    let mut fleet_config = FleetConfig {
        terminals: args.terminals,
        interval_secs: args.interval_secs,
        parked_interval_secs: args.parked_interval_secs,
        speedup: args.speedup,
        start_ms: Some(start_ms),
        ack_timeout_secs: args.ack_timeout_secs,
        max_retransmissions: args.max_retransmissions,
        connect_spread_secs: args.connect_spread_secs,
        ledger_path: args.ledger.clone(),
        bind_ips: match &args.bind_ips {
            Some(list) => tianshu_sim::parse_ip_list(list)
                .map_err(anyhow::Error::msg)
                .context("--bind-ips")?,
            None => Vec::new(),
        },
        ..FleetConfig::default()
    };
    apply_scenarios(
        &args.scenarios,
        &mut world_config.scenarios,
        &mut fleet_config.scenarios,
    )
    .with_context(|| format!("--scenarios (known: {})", SCENARIO_NAMES.join(", ")))?;
    Ok((world_config, fleet_config))
}

/// The simulated year the arguments ask for.
fn year_config(args: &SimulateArgs) -> Option<YearConfig> {
    Some(YearConfig {
        year: args.year?,
        cars: args.terminals,
        interval_secs: args.interval_secs.round() as u32,
        parked_interval_secs: args.parked_interval_secs.round() as u32,
    })
}

/// Writes the world's files into `dir`, `scripted.jsonl` (what the fleet will do on purpose, for
/// comparing the platform's cases with), the planted year of casework and the planted year of fuel-card
/// statements. Prints each path.
fn write_world(
    args: &SimulateArgs,
    world: &World,
    fleet_config: &FleetConfig,
    dir: &Path,
) -> anyhow::Result<()> {
    for p in &tianshu_sim::files::write_all(world, dir)? {
        println!("{}", p.display());
    }
    let days = match year_config(args) {
        Some(year) => year.days().count() as u32,
        None => args.days.max(1),
    };
    let scripted = tianshu_sim::expect::scripted(
        world,
        args.terminals,
        world.config.start_date,
        days,
        &fleet_config.scenarios,
        args.orders_required,
    );
    let path = dir.join("scripted.jsonl");
    let mut text = String::new();
    for r in &scripted {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("{}", path.display());
    for p in &tianshu_sim::casework::write_planted_year(world, dir)? {
        println!("{}", p.display());
    }
    for p in &tianshu_sim::fuel::write_planted_fuel(world, dir)? {
        println!("{}", p.display());
    }
    if let Some(year) = year_config(args) {
        for p in &write_year_totals(world, &year, dir)? {
            println!("{}", p.display());
        }
    }
    Ok(())
}

/// Runs the fleet until Ctrl-C or `duration_secs` real seconds, logging its counters every ten seconds,
/// and prints the final counters as JSON.
async fn run_fleet(
    config: FleetConfig,
    world: World,
    duration_secs: Option<f64>,
) -> anyhow::Result<ExitCode> {
    let fleet = Fleet::spawn(config, Arc::new(world))?;
    let stats = fleet.stats();
    let ledger = fleet.ledger();
    let deadline = duration_secs.map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = until_deadline => break,
            _ = tick.tick() => {
                let s = stats.snapshot();
                tracing::info!(
                    online = s.online,
                    reports = s.reports_sent,
                    acked = s.points_acked,
                    backfilled = s.backfill_points_acked,
                    retransmissions = s.retransmissions,
                    sim_time = %fleet.sim_now(),
                    "fleet"
                );
                if let Err(e) = ledger.flush() {
                    tracing::error!(error = %e, "ledger file flush failed");
                }
            }
        }
    }
    let snapshot = fleet.stop().await?;
    println!("{}", serde_json::to_string(&snapshot)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn args(extra: &[&str]) -> SimulateArgs {
        let mut argv = vec!["simulate"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn write_world_writes_the_same_files_for_the_same_seed() {
        let base = std::env::temp_dir().join(format!("tianshu-simulate-cli-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        for dir in [&a, &b] {
            let d = dir.to_str().unwrap();
            let common = [
                "--seed",
                "7",
                "--vehicles",
                "120",
                "--days",
                "2",
                "--start",
                "2026-11-27T01:30:00Z",
            ];
            let mut argv = vec!["--write-world", d];
            argv.extend_from_slice(&common);
            assert_eq!(run(args(&argv)).unwrap(), ExitCode::SUCCESS);
        }
        for file in ["registry.csv", "geofences.geojson", "orders.jsonl"] {
            let x = std::fs::read(a.join(file)).unwrap();
            assert!(!x.is_empty());
            assert_eq!(
                x,
                std::fs::read(b.join(file)).unwrap(),
                "{file} differs between runs"
            );
        }
        let csv = std::fs::read_to_string(a.join("registry.csv")).unwrap();
        assert_eq!(
            csv.lines().next(),
            Some("unit,plate,phone,terminal_id,vehicle_class")
        );
        assert_eq!(csv.lines().count(), 121);
        std::fs::remove_dir_all(&base).ok();
    }

    #[test]
    fn a_year_out_of_range_or_a_store_without_a_year_is_refused() {
        let e = run(args(&["--year", "1999", "--store", "unused.db"])).unwrap_err();
        assert!(
            format!("{e:#}").contains("--year: 1999 is not 2000 to 2100"),
            "{e:#}"
        );
        let mut cli = vec!["simulate", "--store", "unused.db"];
        assert!(Cli::try_parse_from(&cli).is_err(), "--store needs --year");
        cli.extend(["--year", "2025", "--target", "127.0.0.1:1"]);
        assert!(
            Cli::try_parse_from(&cli).is_err(),
            "--year drives no fleet over TCP"
        );
    }

    #[test]
    fn nothing_to_do_and_bad_scenarios_are_errors() {
        assert!(run(args(&[])).is_err());
        let dir = std::env::temp_dir().join(format!("tianshu-simulate-bad-{}", std::process::id()));
        let d = dir.to_str().unwrap();
        let e = run(args(&["--write-world", d, "--scenarios", "teleport"])).unwrap_err();
        assert!(format!("{e:#}").contains("unknown scenario"), "{e:#}");
        assert!(
            run(args(&[
                "--write-world",
                d,
                "--bind-ips",
                "not-an-ip",
                "--target",
                "127.0.0.1:1"
            ]))
            .is_err()
        );
    }
}

//! The subcommands. Each variant delegates to its own module; add new ones here.
//!
//! `demo` and `simulate` exist only with the `demo` cargo feature (on by default): a production build
//! (`--no-default-features`) carries no simulated fleet.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use tianshu_model::Timestamp;
use tianshu_store::access::AuditKey;
use tianshu_store::{DEFAULT_STORE_PATH, Store};

mod audit;
mod calendar;
mod casework;
mod config;
mod decode;
#[cfg(feature = "demo")]
mod demo;
mod drivers;
mod export;
mod fuel;
mod geofence;
mod order;
mod registry;
mod report;
mod rules;
mod serve;
#[cfg(feature = "demo")]
mod simulate;
#[cfg(feature = "demo")]
mod simulate_year;
mod store;
pub(crate) mod user;

/// `--store URL`, declared once for every command that opens a store (flattened into its arguments).
/// `serve` reads its store from the configuration, which `--store` only overrides, and `demo` keeps its
/// own demo database: neither takes this one.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArg {
    /// The store: a file path or `sqlite:PATH` (embedded), or `postgres://user@host:port/db`.
    #[arg(long, env = "TIANSHU_STORE", default_value = DEFAULT_STORE_PATH)]
    pub store: String,
}

impl StoreArg {
    /// Opens the store; an error names it.
    pub async fn open(&self) -> anyhow::Result<Store> {
        Store::open(&self.store)
            .await
            .with_context(|| format!("opening the store {}", self.store))
    }

    /// Opens the store with the audit key of `config` and the environment (`TIANSHU__AUDIT__KEY`, or the
    /// file `[audit] key_file` or `TIANSHU__AUDIT__KEY_FILE` names), for commands that write or check
    /// audit records; returns the key too.
    pub async fn open_audited(&self, config: Option<&Path>) -> anyhow::Result<(Store, Option<AuditKey>)> {
        let loaded =
            crate::config::load(config, &crate::config::process_env()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = crate::audit::key(loaded.secrets.audit_key.as_ref().map(|k| k.expose()))?;
        Ok((self.open().await?.with_audit_key(key.clone()), key))
    }
}

/// `--store`, `--plate`, `--from` and `--to`: one vehicle's stored track over a range (`export`, `rules
/// evaluate`).
#[derive(Debug, Clone, clap::Args)]
pub struct TrackArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The vehicle's licence plate, as registered (e.g. 鄂B12345).
    #[arg(long)]
    pub plate: String,
    /// Start of the range, inclusive, ISO-8601 with an offset (`2026-11-27T00:00:00Z`, `...+08:00`).
    #[arg(long)]
    pub from: String,
    /// End of the range, exclusive, ISO-8601 with an offset.
    #[arg(long)]
    pub to: String,
}

impl TrackArgs {
    /// The range `from..to`; an error names the flag that is not an instant, or says the range is empty.
    pub fn range(&self) -> anyhow::Result<(Timestamp, Timestamp)> {
        range(&self.from, &self.to)
    }
}

/// The range `--from`..`--to`; an error names the flag that is not an instant, or says the range is empty.
pub fn range(from_arg: &str, to_arg: &str) -> anyhow::Result<(Timestamp, Timestamp)> {
    let instant = |flag: &str, s: &str| {
        Timestamp::parse_rfc3339(s.trim()).with_context(|| {
            format!("--{flag} {s:?} is not ISO-8601 with an offset, e.g. 2026-11-27T08:00:00Z")
        })
    };
    let (from, to) = (instant("from", from_arg)?, instant("to", to_arg)?);
    if from >= to {
        bail!("--from {from_arg} is not before --to {to_arg}");
    }
    Ok((from, to))
}

/// The arguments of the reference-data imports (`calendar import`, `calendar timetable`, `geofence
/// import`, `order import`): a store and one file, whose format is the command's.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The file to import.
    pub file: PathBuf,
}

impl ImportArgs {
    /// Reads the file, imports its text through the store's reference area with the wall clock as the
    /// stamp, and prints what `done` says of the result. A refused file (which changes nothing) or a
    /// failed store is told on stderr as `error: FILE: ...`, one line per problem, with exit code 1; an
    /// unreadable file or store is an error.
    pub fn run<T>(
        self,
        import: impl AsyncFnOnce(&Store, &str, Timestamp) -> tianshu_store::Result<T>,
        done: impl FnOnce(T) -> String,
    ) -> anyhow::Result<ExitCode> {
        let text = std::fs::read_to_string(&self.file)
            .with_context(|| format!("reading {}", self.file.display()))?;
        block_on(async move {
            let store = self.store.open().await?;
            match import(&store, &text, Timestamp::now()).await {
                Ok(imported) => {
                    println!("{}", done(imported));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    for problem in e.to_string().lines() {
                        eprintln!("error: {}: {problem}", self.file.display());
                    }
                    Ok(ExitCode::FAILURE)
                }
            }
        })
    }
}

/// Runs a command's future on a small runtime (the commands that work on a store share it), then lets its
/// database connections end cleanly ([`connections_end`]).
pub(crate) fn block_on<F: Future<Output = anyhow::Result<ExitCode>>>(f: F) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(async move {
            let done = f.await;
            connections_end().await;
            done
        })
}

/// Waits, once a command's stores are dropped or closed, for their PostgreSQL connections to say Terminate
/// before the runtime stops (a runtime stopped under them cuts them, and the server logs "could not send
/// data to client"); a few seconds at most.
pub(crate) async fn connections_end() {
    if !tianshu_store::postgres::connections_ended(std::time::Duration::from_secs(5)).await {
        tracing::debug!("PostgreSQL connections still open at exit");
    }
}

/// Every subcommand of `tianshu`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version and the compiled-in backends.
    Version,
    /// Check a configuration file or print the documented defaults.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Run the JT/T 808 gateway, the store writer and the HTTP endpoints until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Provision units, vehicles and terminals (`registry import --store URL FILE.csv`).
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Create, list and delete users (`user add --store URL --username U --role ROLE [--unit UNIT] --password-stdin`).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Check the tamper-evident audit log (`audit verify --store URL [--anchor FILE]`) or print it.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run Tianshu with a simulated fleet of ~700 cars, the web page and the embedded store.
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Run virtual JT/T 808 terminals against a platform and/or write the demo world's files
    /// (`--target ADDR --terminals N --interval-secs S [--speedup X] [--write-world DIR]`).
    #[cfg(feature = "demo")]
    Simulate(simulate::SimulateArgs),
    /// Import the official holiday calendar of a year (`calendar import --store URL FILE.toml`) or units'
    /// office hours (`calendar timetable --store URL FILE.toml`).
    #[command(subcommand)]
    Calendar(calendar::CalendarCommand),
    /// The office's casework: its figures (`casework summary --store URL --from D --to D [--unit U]
    /// [--format csv|json] [--lang zh|en]`) and a casework file loaded (`casework import --store URL FILE`).
    #[command(subcommand)]
    Casework(casework::CaseworkCommand),
    /// The drivers' registry: a driver file loaded (`drivers import --store URL FILE.csv`).
    #[command(subcommand)]
    Drivers(drivers::DriversCommand),
    /// Fuel cards, stations and issuers' statements (`fuel cards import`, `fuel stations import`,
    /// `fuel import --store URL FILE`, `fuel check --from T --to T`).
    #[command(subcommand)]
    Fuel(fuel::FuelCommand),
    /// The office's yearly figures (`report yearly --store URL --year Y [--unit U] [--format csv|json]`).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Import regions, depots, prohibited places and speed zones (`geofence import --store URL FILE.geojson`).
    #[command(subcommand)]
    Geofence(geofence::GeofenceCommand),
    /// Import dispatch orders and holiday filings (`order import --store URL FILE.jsonl`).
    #[command(subcommand)]
    Order(order::OrderCommand),
    /// Re-run the rules over a stored track, one JSON line per episode
    /// (`rules evaluate --store URL --plate P --from T --to T`).
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// The track store's upkeep: pack old days into blocks (`store compact --store URL`), or print its
    /// size per layer and month (`store stats --store URL [--format text|json]`).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Write one vehicle's track to stdout (`--plate P --from T --to T --format csv|geojson|gpx`).
    Export(export::ExportArgs),
    /// Decode JT/T 808 (or JT/T 809) frames given in hex (arguments, or one per line on stdin) to JSON,
    /// one object per frame; exits non-zero unless every frame decoded
    /// (`decode [--lenient] [HEX...]`, `decode --protocol jt809 [--key M1,IA1,IC1] [--edition E] [HEX...]`).
    Decode(decode::DecodeArgs),
}

/// Runs one subcommand and returns the process exit code.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Config(c) => config::run(c),
        Command::Serve(args) => serve::run(args),
        Command::Registry(c) => registry::run(c),
        Command::Export(args) => export::run(args),
        Command::Store(c) => store::run(c),
        Command::Decode(args) => decode::run(args),
        Command::Calendar(c) => calendar::run(c),
        Command::Casework(c) => casework::run(c),
        Command::Drivers(c) => drivers::run(c),
        Command::Fuel(c) => fuel::run(c),
        Command::Report(c) => report::run(c),
        Command::Geofence(c) => geofence::run(c),
        Command::Order(c) => order::run(c),
        Command::Rules(c) => rules::run(c),
        Command::User(c) => user::run(c),
        Command::Audit(c) => audit::run(c),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args),
        #[cfg(feature = "demo")]
        Command::Simulate(args) => simulate::run(args),
        Command::Version => {
            println!("tianshu {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Subcommand;

    use super::*;

    /// Every command that opens a store takes the same `--store`: one help text, one default, one
    /// environment variable (`serve` and `demo` have their own, see [`StoreArg`], and so has `simulate
    /// --year`).
    #[test]
    fn every_store_flag_is_the_shared_one() {
        fn walk(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Arg)>) {
            if let Some(a) = cmd.get_arguments().find(|a| a.get_long() == Some("store")) {
                out.push((path.clone(), a.clone()));
            }
            for sub in cmd.get_subcommands() {
                walk(sub, format!("{path} {}", sub.get_name()), out);
            }
        }
        let root = Command::augment_subcommands(clap::Command::new("tianshu"));
        let mut flags = Vec::new();
        walk(&root, "tianshu".into(), &mut flags);
        let shared = <StoreArg as clap::Args>::augment_args(clap::Command::new("x"));
        let shared = shared
            .get_arguments()
            .find(|a| a.get_long() == Some("store"))
            .expect("StoreArg declares --store");
        // `simulate --store` is the store a simulated year is driven into: only with `--year`, with no
        // default and no environment variable, so that a year is never written into a store by accident.
        let own = ["tianshu serve", "tianshu demo", "tianshu simulate"];
        let mut checked = 0;
        for (path, arg) in &flags {
            if own.contains(&path.as_str()) {
                continue;
            }
            checked += 1;
            assert_eq!(
                arg.get_help().map(ToString::to_string),
                shared.get_help().map(ToString::to_string),
                "{path}"
            );
            assert_eq!(arg.get_default_values(), [DEFAULT_STORE_PATH], "{path}");
            assert_eq!(
                arg.get_env(),
                Some(std::ffi::OsStr::new("TIANSHU_STORE")),
                "{path}"
            );
        }
        assert!(checked >= 12, "{checked} commands take --store: {flags:?}");
    }
}

//! The subcommands. Each variant delegates to its own module; add new ones here.
//!
//! `demo` and `simulate` exist only with the `demo` cargo feature (on by default): a production build
//! (`--no-default-features`) carries no simulated fleet.

use std::process::ExitCode;

mod audit;
mod calendar;
mod config;
mod decode;
#[cfg(feature = "demo")]
mod demo;
mod export;
mod geofence;
mod order;
mod registry;
mod rules;
mod serve;
#[cfg(feature = "demo")]
mod simulate;
pub(crate) mod user;

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
    /// Check the tamper-evident audit log (`audit verify --store URL`) or print it.
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
    /// Write one vehicle's track to stdout (`--plate P --from T --to T --format csv|geojson|gpx`).
    Export(export::ExportArgs),
    /// Decode JT/T 808 frames given in hex (arguments, or one per line on stdin) to JSON, one object per
    /// frame; exits non-zero unless every frame decoded (`decode [--lenient] [HEX...]`).
    Decode(decode::DecodeArgs),
}

/// Runs one subcommand and returns the process exit code.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Config(c) => config::run(c),
        Command::Serve(args) => serve::run(args),
        Command::Registry(c) => registry::run(c),
        Command::Export(args) => export::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Calendar(c) => calendar::run(c),
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

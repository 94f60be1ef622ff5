//! The subcommands. Each variant delegates to its own module; add new ones here.

use std::process::ExitCode;

mod config;
mod export;
mod registry;
mod serve;

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
    /// Write one vehicle's track to stdout (`--plate P --from T --to T --format csv|geojson|gpx`).
    Export(export::ExportArgs),
}

/// Runs one subcommand and returns the process exit code.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Config(c) => config::run(c),
        Command::Serve(args) => serve::run(args),
        Command::Registry(c) => registry::run(c),
        Command::Export(args) => export::run(args),
        Command::Version => {
            println!("tianshu {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

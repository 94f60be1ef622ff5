//! The subcommands. Each variant delegates to its own module; add new ones here.

use std::process::ExitCode;

mod export;
mod registry;

/// Every subcommand of `tianshu`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version and the compiled-in backends.
    Version,
    /// Provision units, vehicles and terminals (`registry import --store URL FILE.csv`).
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Write one vehicle's track to stdout (`--plate P --from T --to T --format csv|geojson|gpx`).
    Export(export::ExportArgs),
}

/// Runs one subcommand and returns the process exit code.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Registry(c) => registry::run(c),
        Command::Export(args) => export::run(args),
        Command::Version => {
            println!("tianshu {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

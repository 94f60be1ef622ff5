//! The subcommands. Each variant delegates to its own module; add new ones here.

use std::process::ExitCode;

/// Every subcommand of `tianshu`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version and the compiled-in backends.
    Version,
}

/// Runs one subcommand and returns the process exit code.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Version => {
            println!("tianshu {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

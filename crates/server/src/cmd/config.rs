//! `tianshu config`: check a configuration file, print the documented defaults.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config;

/// The documented defaults: every key, with its meaning and default value.
pub const EXAMPLE: &str = include_str!("../../../../deploy/tianshu.example.toml");

/// What to do with configuration.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate FILE (and the TIANSHU__* environment overrides); names the offending key and line.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
    /// Print every key with its documentation and default value (a complete configuration file).
    Default,
    /// Print the configuration Tianshu would run with: defaults, FILE and the TIANSHU__* environment
    /// overrides, as TOML. Secrets are never printed.
    Show {
        /// The configuration file; without it, the defaults and the environment.
        file: Option<PathBuf>,
    },
}

/// Runs `tianshu config ...`.
pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Check { file } => match config::load(Some(&file), &config::process_env()) {
            Ok(_) => {
                println!("{}: ok", file.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                let e = if e.file.is_none() {
                    config::ConfigError {
                        file: Some(file),
                        ..e
                    }
                } else {
                    e
                };
                eprintln!("error: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
        ConfigCommand::Show { file } => {
            let loaded =
                config::load(file.as_deref(), &config::process_env()).map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("{}", toml::to_string_pretty(&loaded.config)?);
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Default => {
            print!("{EXAMPLE}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

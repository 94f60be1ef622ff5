//! `tianshu calendar`: the official holiday and adjusted-working-day calendar.
//!
//! `tianshu calendar import --store URL FILE.toml` validates one year's file (the format is documented
//! in `tianshu_rules::calendar`; the shipped 2025 and 2026 files are examples) and stores it, replacing
//! an earlier import of the same year. The running platform picks it up within its reload interval.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tianshu_store::{DEFAULT_STORE_PATH, Store};

/// `tianshu calendar ...`
#[derive(Debug, clap::Subcommand)]
pub enum CalendarCommand {
    /// Import one year's calendar (TOML); all or nothing, errors name their line.
    Import(ImportArgs),
}

/// Arguments of `tianshu calendar import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store: a file path or `sqlite:PATH` (embedded), or `postgres://user@host:port/db`.
    #[arg(long, env = "TIANSHU_STORE", default_value = DEFAULT_STORE_PATH)]
    pub store: String,
    /// The calendar file (one year).
    pub file: PathBuf,
}

/// Runs `tianshu calendar ...`.
pub fn run(command: CalendarCommand) -> anyhow::Result<ExitCode> {
    let CalendarCommand::Import(args) = command;
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    super::rules::block_on(async move {
        let store = Store::open(&args.store)
            .await
            .with_context(|| format!("opening the store {}", args.store))?;
        match tianshu_alerts::reference::import_calendar(&store, &text, super::rules::now()).await {
            Ok((year, replaced)) => {
                println!(
                    "calendar {year} imported{}",
                    if replaced {
                        " (replaced the earlier import)"
                    } else {
                        ""
                    }
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {}: {e}", args.file.display());
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

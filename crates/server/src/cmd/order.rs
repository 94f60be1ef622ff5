//! `tianshu order`: dispatch orders (派车单) and holiday filings (报备).
//!
//! `tianshu order import --store URL FILE.jsonl` validates every line (JSON Lines, the shared order
//! format; every plate must be registered) and stores them in one transaction; an id already stored is
//! updated. That is how an order approved after the fact arrives: the running platform re-evaluates the
//! cases it covers and withdraws those that no longer hold.

use std::path::PathBuf;
use std::process::ExitCode;

use super::StoreArg;

/// `tianshu order ...`
#[derive(Debug, clap::Subcommand)]
pub enum OrderCommand {
    /// Import orders and filings (JSON Lines); all or nothing, every bad line is named.
    Import(ImportArgs),
}

/// Arguments of `tianshu order import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The JSON Lines file.
    pub file: PathBuf,
}

/// Runs `tianshu order ...`.
pub fn run(command: OrderCommand) -> anyhow::Result<ExitCode> {
    let OrderCommand::Import(args) = command;
    super::rules::import_file(
        &args.store,
        &args.file,
        async |store, text, now| store.rules().import_orders(text, now).await,
        |s| {
            format!(
                "orders imported: {} created, {} updated, {} unchanged",
                s.created, s.updated, s.unchanged
            )
        },
    )
}

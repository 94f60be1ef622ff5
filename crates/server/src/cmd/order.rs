//! `tianshu order`: dispatch orders (派车单) and holiday filings (报备).
//!
//! `tianshu order import --store URL FILE.jsonl` validates every line (JSON Lines, the shared order
//! format; every plate must be registered) and stores them in one transaction; an id already stored is
//! updated. That is how an order approved after the fact arrives: the running platform re-evaluates the
//! cases it covers and withdraws those that no longer hold.

use std::process::ExitCode;

use super::ImportArgs;

/// `tianshu order ...`
#[derive(Debug, clap::Subcommand)]
pub enum OrderCommand {
    /// Import orders and filings (JSON Lines); all or nothing, every bad line is named.
    Import(ImportArgs),
}

/// Runs `tianshu order ...`.
pub fn run(command: OrderCommand) -> anyhow::Result<ExitCode> {
    let OrderCommand::Import(args) = command;
    args.run(
        async |store, text, now| store.rules().import_orders(text, now).await,
        |s| {
            format!(
                "orders imported: {} created, {} updated, {} unchanged",
                s.created, s.updated, s.unchanged
            )
        },
    )
}

//! `tianshu order`: dispatch orders (派车单) and holiday filings (报备).
//!
//! `tianshu order import --store URL FILE.jsonl [--config FILE]` validates every line (JSON Lines, the
//! shared order format; every plate must be registered) and stores them in one transaction; an id
//! already stored is updated. That is how an order approved after the fact arrives: the running
//! platform re-evaluates the cases it covers and withdraws those that no longer hold, and the import
//! checks again the fuel-card fills each approved order or filing it created or changed may explain
//! (`tianshu_api::fuel::recheck_orders`, as the API's approval does), with the thresholds of the
//! configuration's `[rules.fuel]`.

use std::path::PathBuf;
use std::process::ExitCode;

use tianshu_model::Timestamp;

use super::ImportArgs;

/// `tianshu order ...`
#[derive(Debug, clap::Subcommand)]
pub enum OrderCommand {
    /// Import orders and filings (JSON Lines); all or nothing, every bad line is named.
    Import(OrderImportArgs),
}

/// Arguments of `tianshu order import`.
#[derive(Debug, clap::Args)]
pub struct OrderImportArgs {
    /// The store and the file.
    #[command(flatten)]
    pub import: ImportArgs,
    /// A configuration file whose `[rules.fuel]` sets the thresholds of the fuel re-checks.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `tianshu order ...`.
pub fn run(command: OrderCommand) -> anyhow::Result<ExitCode> {
    let OrderCommand::Import(args) = command;
    let fuel = super::rules::rules_config(args.config.as_ref())?.fuel;
    args.import.run(
        async move |store, text, now| {
            let summary = store.rules().import_orders(text, now).await?;
            let checked =
                tianshu_api::fuel::recheck_orders(store, &fuel, &summary.changed_ids, None, Timestamp::now())
                    .await?;
            Ok((summary, checked))
        },
        |(s, checked)| {
            let mut line = format!(
                "orders imported: {} created, {} updated, {} unchanged",
                s.created, s.updated, s.unchanged
            );
            if !checked.is_empty() {
                let withdrawn = checked.iter().filter(|c| c.withdrawn).count();
                line += &format!(
                    "; fuel fills checked again: {}, cases withdrawn: {withdrawn}",
                    checked.len()
                );
            }
            line
        },
    )
}

//! `tianshu drivers`: the drivers' registry (驾驶员).
//!
//! `tianshu drivers import --store URL FILE.csv` reads a driver file (`name,certificate,phone,licence,unit,
//! active`; the certificate is the driver's code) and stores it in one transaction: a driver whose
//! certificate is on record is updated, so importing the same file again changes nothing. A bad row is
//! named by its line and column and nothing is kept.

use std::process::ExitCode;

use tianshu_model::driver::parse_drivers_csv;

use super::ImportArgs;

/// `tianshu drivers ...`
#[derive(Debug, clap::Subcommand)]
pub enum DriversCommand {
    /// Import drivers from a CSV; all or nothing, idempotent.
    Import(ImportArgs),
}

/// Runs `tianshu drivers ...`.
pub fn run(command: DriversCommand) -> anyhow::Result<ExitCode> {
    let DriversCommand::Import(args) = command;
    args.run(
        async |store, text, _now| {
            let records = parse_drivers_csv(text).map_err(tianshu_store::Error::from)?;
            store.drivers().import(&records).await
        },
        |s| {
            format!(
                "drivers imported: {} created, {} updated, {} unchanged",
                s.created, s.updated, s.unchanged
            )
        },
    )
}

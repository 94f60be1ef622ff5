//! `tianshu geofence`: permitted regions, depots, prohibited places and speed zones.
//!
//! `tianshu geofence import --store URL FILE.geojson` validates a GeoJSON FeatureCollection (every
//! feature: a Polygon or MultiPolygon with `name` and `kind`, a depot's `unit`, a speed zone's
//! `speed_limit_kmh`) and stores it in one transaction; a feature with the kind and name of a stored one
//! replaces it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::StoreArg;

/// `tianshu geofence ...`
#[derive(Debug, clap::Subcommand)]
pub enum GeofenceCommand {
    /// Import a GeoJSON FeatureCollection; all or nothing, errors name the feature and its line.
    Import(ImportArgs),
}

/// Arguments of `tianshu geofence import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The GeoJSON file.
    pub file: PathBuf,
}

/// Runs `tianshu geofence ...`.
pub fn run(command: GeofenceCommand) -> anyhow::Result<ExitCode> {
    let GeofenceCommand::Import(args) = command;
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    super::rules::block_on(async move {
        let store = args.store.open().await?;
        match tianshu_alerts::reference::import_geofences(&store, &text, super::rules::now()).await {
            Ok((created, replaced)) => {
                println!("geofences imported: {created} created, {replaced} replaced");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {}: {e}", args.file.display());
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

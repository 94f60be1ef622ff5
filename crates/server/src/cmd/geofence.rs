//! `tianshu geofence`: permitted regions, depots, prohibited places and speed zones.
//!
//! `tianshu geofence import --store URL FILE.geojson` validates a GeoJSON FeatureCollection (every
//! feature: a Polygon or MultiPolygon with `name` and `kind`, a depot's `unit`, a speed zone's
//! `speed_limit_kmh`) and stores it in one transaction; a feature with the kind and name of a stored one
//! replaces it.

use std::process::ExitCode;

use super::ImportArgs;

/// `tianshu geofence ...`
#[derive(Debug, clap::Subcommand)]
pub enum GeofenceCommand {
    /// Import a GeoJSON FeatureCollection; all or nothing, errors name the feature and its line.
    Import(ImportArgs),
}

/// Runs `tianshu geofence ...`.
pub fn run(command: GeofenceCommand) -> anyhow::Result<ExitCode> {
    let GeofenceCommand::Import(args) = command;
    args.run(
        async |store, text, now| store.rules().import_geofences(text, now).await,
        |(created, replaced)| format!("geofences imported: {created} created, {replaced} replaced"),
    )
}

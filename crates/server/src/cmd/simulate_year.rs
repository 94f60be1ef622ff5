//! `tianshu simulate --year Y --store URL`: a year of the world's driving written straight into a store.
//!
//! The world's cars (imported beforehand from its `registry.csv`, with its geofences and orders) get
//! their fleet fields for the year (terminals installed, exempt or missing, cars disposed of), as an
//! administrator records them, then drive every day of the year (`tianshu_sim::year`): each day's points
//! of all cars go through the store's group-commit writer in one batch, and the platform's rules follow
//! the committed points as `serve`'s do, raising the year's cases. The rules' clock-driven checks
//! (silence, the nightly depot check) are judged on the wall clock, which is not the simulated year's: they
//! do not run here. `--write-world DIR --year Y` writes what the year's figures must show
//! (`year_totals.json`).

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use tianshu_alerts::AlertsConfig;
use tianshu_model::VehicleId;
use tianshu_rules::RulesConfig;
use tianshu_sim::World;
use tianshu_sim::plan::day_plan;
use tianshu_sim::year::{YearConfig, day_points, fleet_fields, reports_on};
use tianshu_store::Store;

/// How long the rules may take to catch up with the last day written.
const CATCH_UP: Duration = Duration::from_secs(600);

/// The ids of the world's first `n` cars in `store`, by plate; a car not registered is an error.
async fn car_ids(store: &Store, world: &World, n: usize) -> anyhow::Result<Vec<VehicleId>> {
    let registered: HashMap<String, VehicleId> = store
        .vehicles()
        .await?
        .into_iter()
        .map(|v| (v.plate, v.id))
        .collect();
    world.vehicles[..n]
        .iter()
        .map(|v| {
            registered.get(&v.plate).copied().with_context(|| {
                format!(
                    "car {} of the world is not registered: import the world's registry.csv first",
                    v.plate
                )
            })
        })
        .collect()
}

/// Writes every day of the year into `store`, the rules following; the points written.
async fn drive(store: &Store, world: &World, config: &YearConfig, ids: &[VehicleId]) -> anyhow::Result<u64> {
    let fleets: Vec<_> = (0..ids.len())
        .map(|v| fleet_fields(world, v, config.year))
        .collect();
    for (id, f) in ids.iter().zip(&fleets) {
        store.carpool().put_fleet(*id, f).await?;
    }
    let mut written = 0u64;
    for date in config.days() {
        let mut batch = Vec::new();
        for (vehicle, (id, fleet)) in ids.iter().zip(&fleets).enumerate() {
            if !reports_on(world, vehicle, date, fleet) {
                continue;
            }
            let plan = day_plan(world, vehicle, date);
            batch.extend(
                day_points(world, vehicle, &plan, config)
                    .into_iter()
                    .map(|mut p| {
                        p.vehicle = *id;
                        p
                    }),
            );
        }
        written += batch.len() as u64;
        store
            .append_points_owned(batch)
            .await
            .with_context(|| format!("writing the points of {date}"))?;
    }
    Ok(written)
}

/// Drives the year into the store at `url` and prints what was written as JSON.
pub(super) fn run(world: &World, config: YearConfig, url: &str) -> anyhow::Result<ExitCode> {
    super::block_on(async move {
        let store = Store::open(url)
            .await
            .with_context(|| format!("opening the store {url}"))?;
        let ids = car_ids(&store, world, config.car_count(world)).await?;
        let alerts = AlertsConfig {
            // The clock-driven checks follow the wall clock, not the simulated year.
            tick_secs: 365 * 86_400,
            ..AlertsConfig::default()
        };
        let rules = tianshu_alerts::start(store.clone(), RulesConfig::default(), alerts).await?;
        let started = Instant::now();
        let written = drive(&store, world, &config, &ids).await?;
        store.flush().await?;
        while rules.progress().evaluated_points < written {
            anyhow::ensure!(
                started.elapsed() < CATCH_UP,
                "the rules took {} of {written} points in {CATCH_UP:?}",
                rules.progress().evaluated_points
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rules.shutdown().await;
        store.close().await?;
        let out = serde_json::json!({
            "year": config.year,
            "cars": ids.len(),
            "points": written,
            "secs": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        });
        println!("{out}");
        Ok(ExitCode::SUCCESS)
    })
}

//! `tianshu store`: the track store's upkeep.
//!
//! `tianshu store compact --store URL [--keep-days N]` packs every vehicle-day older than the days kept
//! as rows into track blocks now (a serving process does it every `[store.blocks] compact_every_secs`);
//! safe to run beside a serving process and to interrupt: each vehicle's move is one transaction.
//!
//! `tianshu store stats --store URL [--format text|json]` prints the points, the bytes on disk and the
//! bytes per point of each layer of the track store (rows, blocks, indexes), then of the blocks per
//! month, and the blocks that do not decode (exit code 1 when there is one).

use std::process::ExitCode;
use tianshu_model::Timestamp;

use tianshu_store::{DamagedBlock, LayerStats};

use super::{StoreArg, block_on};

/// `tianshu store ...`
#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Pack every vehicle-day older than the days kept as rows into track blocks now.
    Compact(CompactArgs),
    /// Points, bytes and bytes per point per layer and per month; damaged blocks.
    Stats(StatsArgs),
}

/// `tianshu store compact`
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// Whole China days kept as rows, today included (1, the least: every day before today is packed).
    #[arg(long, default_value_t = 1)]
    pub keep_days: u32,
}

/// `tianshu store stats`
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// `text` (a table) or `json` (one object).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Runs `tianshu store ...`.
pub fn run(command: StoreCommand) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Compact(args) => block_on(async move {
            let mut config = tianshu_store::StoreConfig::default();
            config.blocks.keep_days = args.keep_days;
            let store = tianshu_store::Store::open_with(&args.store.store, &config).await?;
            let started = std::time::Instant::now();
            let done = store.compact_blocks_at(Timestamp::now()).await?;
            store.close().await?;
            println!(
                "compacted {} vehicle-days ({} points) in {:.1} s; {} left as rows beside a damaged block",
                done.blocks,
                done.points,
                started.elapsed().as_secs_f64(),
                done.damaged
            );
            Ok(ExitCode::SUCCESS)
        }),
        StoreCommand::Stats(args) => block_on(async move {
            let store = args.store.open().await?;
            let layers = store.layer_stats().await?;
            let damaged = store.damaged_blocks().await?;
            if args.format == "json" {
                println!(
                    "{}",
                    serde_json::json!({ "layers": layers, "damaged_blocks": damaged })
                );
            } else {
                print!("{}", stats_table(&layers, &damaged));
            }
            Ok(if damaged.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }),
    }
}

/// The text form of `store stats`: one line per layer, the bytes per point of all points last.
fn stats_table(layers: &[LayerStats], damaged: &[DamagedBlock]) -> String {
    let per_point = |bytes: u64, points: u64| {
        if points == 0 {
            "-".to_string()
        } else {
            format!("{:.1}", bytes as f64 / points as f64)
        }
    };
    let mut out = format!(
        "{:<16} {:>14} {:>16} {:>12}\n",
        "layer", "points", "bytes", "bytes/point"
    );
    let main = |name: &str| layers.iter().find(|l| l.layer == name);
    let points: u64 = ["rows", "blocks"]
        .iter()
        .filter_map(|n| main(n))
        .map(|l| l.points)
        .sum();
    for l in layers {
        // Indexes hold no points of their own: their bytes are per stored point.
        let of = if l.layer == "indexes" { points } else { l.points };
        out.push_str(&format!(
            "{:<16} {:>14} {:>16} {:>12}\n",
            l.layer,
            l.points,
            l.bytes,
            per_point(l.bytes, of)
        ));
    }
    let bytes: u64 = ["rows", "blocks", "indexes"]
        .iter()
        .filter_map(|n| main(n))
        .map(|l| l.bytes)
        .sum();
    out.push_str(&format!(
        "{:<16} {:>14} {:>16} {:>12}\n",
        "all",
        points,
        bytes,
        per_point(bytes, points)
    ));
    for d in damaged {
        out.push_str(&format!(
            "damaged block: vehicle {} day {}: {}\n",
            d.vehicle,
            tianshu_model::block::china_day_start(d.day)
                .to_china()
                .format("%Y-%m-%d"),
            d.reason
        ));
    }
    out
}

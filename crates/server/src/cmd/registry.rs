//! `tianshu registry`: provisioning units, vehicles and terminals from a file.
//!
//! `tianshu registry import --store URL FILE.csv` (or `.json`) reads every record, checks them all
//! (a bad row is named by its line), and imports them in one transaction: all or nothing, and
//! re-importing the same file changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tianshu_store::{parse_registry_csv, parse_registry_json};

use super::StoreArg;

/// `tianshu registry ...`
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Provision units, vehicles and terminals from a CSV (`unit,plate,phone,terminal_id,vehicle_class`)
    /// or a JSON array of objects with the same keys; all or nothing, idempotent.
    Import(ImportArgs),
    /// Print every vehicle with its unit path and terminals, as JSON lines.
    List(ListArgs),
}

/// Which parser reads the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Arguments of `tianshu registry import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The file format; by default taken from the file's extension (`.json` is JSON, anything else CSV).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// The registry file.
    pub file: PathBuf,
}

/// Arguments of `tianshu registry list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
}

/// Runs `tianshu registry ...`.
pub fn run(command: RegistryCommand) -> anyhow::Result<ExitCode> {
    super::block_on(async move {
        match command {
            RegistryCommand::Import(args) => import(args).await,
            RegistryCommand::List(args) => list(args).await,
        }
    })
}

async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let format = args.format.unwrap_or_else(|| {
        let json = args
            .file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json { FileFormat::Json } else { FileFormat::Csv }
    });
    let records = match format {
        FileFormat::Csv => parse_registry_csv(&text),
        FileFormat::Json => parse_registry_json(&text),
    }
    .with_context(|| format!("{}: nothing imported", args.file.display()))?;
    let store = args.store.open().await?;
    let summary = store
        .import_registry(&records)
        .await
        .with_context(|| format!("{}: nothing imported", args.file.display()))?;
    println!(
        "imported {} records from {}: {} units created, {} vehicles and {} terminals created or updated",
        records.len(),
        args.file.display(),
        summary.units_created,
        summary.vehicles_upserted,
        summary.terminals_upserted
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open().await?;
    let units = store.units().await?;
    let terminals = store.terminals().await?;
    let path_of = |mut id| {
        let mut names = Vec::new();
        while let Some(u) = units.iter().find(|u| u.id == id) {
            names.push(u.name.as_str());
            match u.parent {
                Some(p) if names.len() <= units.len() => id = p,
                _ => break,
            }
        }
        names.reverse();
        names.join("/")
    };
    for v in store.vehicles().await? {
        let phones: Vec<serde_json::Value> = terminals
            .iter()
            .filter(|t| t.vehicle == Some(v.id))
            .map(|t| serde_json::json!({ "phone": t.phone, "terminal_id": t.terminal_id, "edition": t.edition }))
            .collect();
        let line = serde_json::json!({
            "id": v.id,
            "plate": v.plate,
            "unit": path_of(v.unit),
            "vehicle_class": v.class,
            "terminals": phones,
        });
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

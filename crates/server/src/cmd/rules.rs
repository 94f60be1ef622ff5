//! `tianshu rules`: re-run the rules over a stored track without raising cases.
//!
//! `tianshu rules evaluate --store URL --plate PLATE --from T --to T` prints one JSON line per episode
//! (`rule`, `plate`, `start`, `end`, `severity`, `late`, `reasoning`, `reasoning_zh`, `subject`, and the
//! evidence points): the tool an inspector uses to check a complaint, or an administrator to tune a
//! rule with `--config FILE` (its `[rules]` table). What the rules could not judge (a year with no
//! calendar data, a unit without a depot) is reported on stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use futures::StreamExt;
use tianshu_model::Timestamp;
use tianshu_rules::{Episode, RuleEvent, RuleId, RulesConfig, VehicleRules};
use tianshu_store::Store;

use super::StoreArg;

/// `tianshu rules ...`
#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Re-run the rules over one car's stored track and print each episode as a JSON line.
    Evaluate(EvaluateArgs),
}

/// Arguments of `tianshu rules evaluate`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The car's licence plate, as registered.
    #[arg(long)]
    pub plate: String,
    /// Start of the range, inclusive, ISO-8601 with an offset.
    #[arg(long)]
    pub from: String,
    /// End of the range, exclusive, ISO-8601 with an offset.
    #[arg(long)]
    pub to: String,
    /// A configuration file whose `[rules]` table replaces the defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs a future on a small runtime (the import commands share it).
pub(crate) fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f)
}

/// The wall clock, for import stamps.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// Runs one import of a reference-data file (calendar, timetables, geofences, orders) through the
/// store's reference area: prints `done`'s line when it is stored, and each problem of a refused file on
/// its own `error: FILE: ...` line (a refused file changes nothing).
pub(crate) fn import_file<T>(
    store: &StoreArg,
    file: &Path,
    import: impl AsyncFnOnce(&Store, &str, Timestamp) -> tianshu_store::Result<T>,
    done: impl FnOnce(T) -> String,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    block_on(async move {
        let store = store.open().await?;
        match import(&store, &text, now()).await {
            Ok(result) => {
                println!("{}", done(result));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                for line in e.to_string().lines() {
                    eprintln!("error: {}: {line}", file.display());
                }
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

fn rules_config(path: Option<&PathBuf>) -> anyhow::Result<RulesConfig> {
    let Some(path) = path else {
        return Ok(RulesConfig::default());
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    match doc.remove("rules") {
        Some(v) => v
            .try_into()
            .with_context(|| format!("{}: [rules]", path.display())),
        None => Ok(RulesConfig::default()),
    }
}

fn parse_instant(flag: &str, s: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse_rfc3339(s.trim())
        .with_context(|| format!("--{flag} {s:?} is not ISO-8601 with an offset, e.g. 2026-11-27T08:00:00Z"))
}

/// Runs `tianshu rules ...`.
pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    let RulesCommand::Evaluate(args) = command;
    let from = parse_instant("from", &args.from)?;
    let to = parse_instant("to", &args.to)?;
    if from >= to {
        bail!("--from {} is not before --to {}", args.from, args.to);
    }
    let config = rules_config(args.config.as_ref())?;
    block_on(async move {
        let store = args.store.open().await?;
        let vehicle = store
            .vehicle_by_plate(args.plate.trim())
            .await?
            .with_context(|| format!("no vehicle with plate {:?} is registered", args.plate))?;
        let (reference, warnings) = tianshu_alerts::reference::load_reference(&store, &config).await?;
        for w in tianshu_alerts::reference::summarized(&warnings, 5) {
            eprintln!("warning: {w}");
        }
        let mut rules = VehicleRules::new(&vehicle);
        let mut events: Vec<RuleEvent> = Vec::new();
        let mut latest: BTreeMap<(Timestamp, RuleId), Episode> = BTreeMap::new();
        let mut track = store.track(vehicle.id, from, to).await?;
        let mut points = 0u64;
        while let Some(p) = track.next().await {
            rules.push(&reference, &p?, &mut events);
            points += 1;
            for e in events.drain(..) {
                let ep = e.episode();
                latest.insert((ep.start, ep.rule), ep.clone());
            }
        }
        rules.finish(&reference, &mut events);
        for e in events.drain(..) {
            let ep = e.episode();
            latest.insert((ep.start, ep.rule), ep.clone());
        }
        let mut out = std::io::stdout().lock();
        for ep in latest.values() {
            let line = serde_json::json!({
                "rule": ep.rule,
                "plate": vehicle.plate,
                "start": ep.start,
                "end": ep.end,
                "severity": ep.severity,
                "late": ep.late,
                "reasoning": ep.reasoning,
                "reasoning_zh": ep.reasoning_zh,
                "subject": ep.subject,
                "evidence": ep.evidence,
            });
            writeln!(out, "{line}")?;
        }
        let d = rules.diagnostics();
        for y in &d.missing_calendar_years {
            eprintln!("warning: no calendar data for {y}: day-based rules were not evaluated for that year");
        }
        if d.no_depot {
            eprintln!("warning: the car's unit has no depot geofence: the night-parking check was skipped");
        }
        eprintln!("{points} points, {} episodes", latest.len());
        Ok(ExitCode::SUCCESS)
    })
}

//! `tianshu rules`: re-run the rules over a stored track without raising cases.
//!
//! `tianshu rules evaluate --store URL --plate PLATE --from T --to T` prints one JSON line per episode
//! (`rule`, `plate`, `start`, `end`, `severity`, `late`, `reasoning`, `reasoning_zh`, `subject`, and the
//! evidence points): the tool an inspector uses to check a complaint, or an administrator to tune a
//! rule with `--config FILE` (its `[rules]` table). What the rules could not judge (a year with no
//! calendar data, a unit without a depot) is reported on stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use futures::StreamExt;
use tianshu_model::Timestamp;
use tianshu_rules::{Episode, RuleEvent, RuleId, RulesConfig, VehicleRules};

use super::TrackArgs;

/// `tianshu rules ...`
#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Re-run the rules over one car's stored track and print each episode as a JSON line.
    Evaluate(EvaluateArgs),
}

/// Arguments of `tianshu rules evaluate`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The store, the car and the range.
    #[command(flatten)]
    pub track: TrackArgs,
    /// A configuration file whose `[rules]` table replaces the defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub(super) fn rules_config(path: Option<&PathBuf>) -> anyhow::Result<RulesConfig> {
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

/// Runs `tianshu rules ...`.
pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    let RulesCommand::Evaluate(args) = command;
    let (from, to) = args.track.range()?;
    let config = rules_config(args.config.as_ref())?;
    super::block_on(async move {
        let TrackArgs { store, plate, .. } = args.track;
        let store = store.open().await?;
        let vehicle = store
            .vehicle_by_plate(plate.trim())
            .await?
            .with_context(|| format!("no vehicle with plate {plate:?} is registered"))?;
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

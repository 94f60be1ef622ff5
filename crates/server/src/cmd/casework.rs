//! `tianshu casework summary --from --to [--unit] [--format csv|json] [--lang zh|en]`: the office's
//! figures over a period, counted as `GET /api/casework/summary` counts them
//! (`tianshu_rules::casework::summarize`): complaints received, forwarded, answered in time, overdue and
//! answered to the reporter; findings, confirmed by type, people dealt with, sanctioned, referred to the
//! judiciary, amount recovered; by unit and month, then the total.
//!
//! `tianshu casework import FILE`: a casework file (one complaint a line with its steps and finding,
//! `tianshu_rules::casework::file`; the simulator writes a year of it) loaded in one transaction.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use tianshu_model::{Lang, Timestamp, UnitId};

use super::StoreArg;

/// `tianshu casework ...`
#[derive(Debug, clap::Subcommand)]
pub enum CaseworkCommand {
    /// Print the figures of a period.
    Summary(SummaryArgs),
    /// Load a casework file: complaints with their steps and findings, all or nothing.
    Import(ImportArgs),
}

/// Arguments of `tianshu casework import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The configuration whose `[web.casework] violation_types` a confirmed finding must name (default:
    /// the built-in list).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The file, JSON Lines.
    pub file: PathBuf,
}

/// Arguments of `tianshu casework summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// First local day, `YYYY-MM-DD` (or an RFC 3339 instant).
    #[arg(long)]
    pub from: String,
    /// The local day after the last, `YYYY-MM-DD` (or an RFC 3339 instant), exclusive.
    #[arg(long)]
    pub to: String,
    /// Only this unit and the units below it: its id or its path (`黄石市/公安局`).
    #[arg(long)]
    pub unit: Option<String>,
    /// `csv` (default) or `json`.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// The CSV's titles: `zh` (default, as the page) or `en`.
    #[arg(long, default_value = "zh")]
    pub lang: String,
}

fn bound(flag: &str, s: &str) -> anyhow::Result<(Timestamp, chrono::NaiveDate)> {
    tianshu_api::resources::casework::period_bound(flag, s).map_err(|e| anyhow::anyhow!("--{e}"))
}

/// Runs `tianshu casework ...`.
pub fn run(command: CaseworkCommand) -> anyhow::Result<ExitCode> {
    match command {
        CaseworkCommand::Summary(args) => summary(args),
        CaseworkCommand::Import(args) => import(args),
    }
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(args.config.as_deref(), &crate::config::process_env())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let types = &loaded.config.web.casework.violation_types;
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let records = tianshu_rules::casework::file::parse_file(&text, types)
        .map_err(|(line, why)| anyhow::anyhow!("{}: line {line}: {why}", args.file.display()))?;
    super::block_on(async move {
        let store = args.store.open().await?;
        let done = store
            .casework()
            .import(records, "import")
            .await
            .with_context(|| format!("importing {}", args.file.display()))?;
        println!("{}", serde_json::to_string(&done)?);
        Ok(ExitCode::SUCCESS)
    })
}

fn summary(args: SummaryArgs) -> anyhow::Result<ExitCode> {
    if !matches!(args.format.as_str(), "csv" | "json") {
        bail!("--format: {:?} is not csv or json", args.format);
    }
    let lang = Lang::parse(&args.lang).with_context(|| format!("--lang: {:?} is not zh or en", args.lang))?;
    let (from, from_date) = bound("from", &args.from)?;
    let (to, to_date) = bound("to", &args.to)?;
    if to <= from {
        bail!("--to must be after --from");
    }
    super::block_on(async move {
        let store = args.store.open().await?;
        let units = store.units().await?;
        let path = |id: UnitId| {
            let mut names = Vec::new();
            let mut at = units.iter().find(|u| u.id == id);
            while let Some(u) = at {
                names.insert(0, u.name.clone());
                at = u.parent.and_then(|p| units.iter().find(|x| x.id == p));
            }
            names.join("/")
        };
        let only = match args.unit.as_deref() {
            None => None,
            Some(u) => {
                let root = units
                    .iter()
                    .find(|x| x.id.0.to_string() == u || path(x.id) == u.trim().trim_matches('/'))
                    .with_context(|| format!("--unit: no unit {u:?}"))?;
                Some(tianshu_api::scope::subtree(&units, root.id).into_iter().collect())
            }
        };
        let (complaints, findings) = store
            .casework()
            .facts((from, to), (from_date, to_date), only)
            .await?;
        let s = tianshu_rules::casework::summarize(&complaints, &findings, Timestamp::now());
        if args.format == "json" {
            println!("{}", serde_json::to_string_pretty(&s)?);
        } else {
            print!(
                "{}",
                tianshu_rules::casework::summary_csv(&s, lang, |u| u.map_or_else(|| "-".into(), path))
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

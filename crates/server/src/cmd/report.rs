//! `tianshu report yearly --store URL --year Y [--unit U] [--format csv|json]`: the office's yearly
//! figures, counted and laid out as `GET /api/report/yearly` does (`tianshu_api::resources::yearly`): CSV
//! prints each table after a line with its name.

use std::process::ExitCode;

use anyhow::bail;

use super::StoreArg;

/// `tianshu report ...`
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Print the office's figures of a year.
    Yearly(YearlyArgs),
}

/// Arguments of `tianshu report yearly`.
#[derive(Debug, clap::Args)]
pub struct YearlyArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The year (China time).
    #[arg(long)]
    pub year: i32,
    /// Only this unit and the units below it: its id or its path (`黄石市/公安局`).
    #[arg(long)]
    pub unit: Option<String>,
    /// `csv` (default) or `json`.
    #[arg(long, default_value = "csv")]
    pub format: String,
}

/// Runs `tianshu report ...`.
pub fn run(command: ReportCommand) -> anyhow::Result<ExitCode> {
    let ReportCommand::Yearly(args) = command;
    if !matches!(args.format.as_str(), "csv" | "json") {
        bail!("--format: {:?} is not csv or json", args.format);
    }
    super::block_on(async move {
        let store = args.store.open().await?;
        let only = super::user::resolve_subtree(&store, args.unit.as_deref()).await?;
        let f = tianshu_api::resources::yearly::figures(&store, args.year, only.as_deref()).await?;
        if args.format == "json" {
            println!("{}", serde_json::to_string_pretty(&f)?);
        } else {
            for t in tianshu_api::resources::yearly::tables(&f) {
                println!("{}", t.sheet);
                print!("{}", t.to_csv().trim_start_matches('\u{feff}'));
                println!();
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

//! `tianshu report yearly --store URL --year Y [--unit U] [--format csv|json]`: the office's yearly
//! figures, counted and laid out as `GET /api/report/yearly` does (`tianshu_api::resources::yearly`): CSV
//! prints each table after a line with its name. `tianshu report summarise --store URL [--from D --to D]`:
//! the cars' China days `D` (`YYYY-MM-DD`, yesterday by default) summarised again
//! (`tianshu_store::summaries`).

use std::process::ExitCode;

use anyhow::bail;

use super::StoreArg;

/// `tianshu report ...`
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Print the office's figures of a year.
    Yearly(YearlyArgs),
    /// Summarise the cars' China days again (each replacing its earlier summary).
    Summarise(SummariseArgs),
}

/// Arguments of `tianshu report summarise`.
#[derive(Debug, clap::Args)]
pub struct SummariseArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The first China day (`YYYY-MM-DD`); yesterday by default.
    #[arg(long)]
    pub from: Option<String>,
    /// The last China day (`YYYY-MM-DD`); `--from` by default.
    #[arg(long)]
    pub to: Option<String>,
}

fn day_arg(flag: &str, v: &str) -> anyhow::Result<i64> {
    match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) => Ok(tianshu_rules::calendar::day_number(d)),
        Err(_) => bail!("{flag}: {v:?} is not a date YYYY-MM-DD"),
    }
}

fn summarise(args: SummariseArgs) -> anyhow::Result<ExitCode> {
    let yesterday = tianshu_rules::calendar::local_day(tianshu_model::Timestamp::now()) - 1;
    let from = args
        .from
        .as_deref()
        .map_or(Ok(yesterday), |v| day_arg("--from", v))?;
    let to = args.to.as_deref().map_or(Ok(from), |v| day_arg("--to", v))?;
    if to < from {
        bail!("--to: {} is before --from", args.to.unwrap_or_default());
    }
    if to > yesterday {
        bail!("--to: a day not over yet is not summarised (the last is yesterday, China time)");
    }
    super::block_on(async move {
        let store = args.store.open().await?;
        for day in from..=to {
            let cars = store.summaries().summarise(day).await?;
            let date = tianshu_rules::calendar::date_of_day(day)
                .map(|d| d.to_string())
                .unwrap_or_default();
            println!("{date}\t{cars} cars");
        }
        Ok(ExitCode::SUCCESS)
    })
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
    let args = match command {
        ReportCommand::Yearly(args) => args,
        ReportCommand::Summarise(args) => return summarise(args),
    };
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

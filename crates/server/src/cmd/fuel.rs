//! `tianshu fuel`: fuel cards (公务加油卡), stations, issuers' statements and their checks.
//!
//! - `tianshu fuel cards import --store URL FILE.csv`: cards (`unit,number,issuer,plate,state,state_date,
//!   state_reason,limit_fill_yuan,limit_month_yuan`); all or nothing, a bad row named by line and column.
//! - `tianshu fuel stations import --store URL FILE.csv|FILE.geojson`: stations (`code,name,brand,lon,lat,
//!   datum`, datum `wgs84` or `gcj02`; GeoJSON points with the same properties, WGS-84 unless `datum`
//!   says `gcj02`); stored in WGS-84.
//! - `tianshu fuel import --store URL FILE [--layout L] [--encoding utf8|gbk] [--config FILE]`: an
//!   issuer's statement (CSV in UTF-8 or GBK, or XLSX). Good rows are stored in one transaction and
//!   checked; each bad row is told on stderr by line and column and stored never; the exit code is 1
//!   when any row was refused. A statement imported again stores nothing twice.
//! - `tianshu fuel check --store URL --from T --to T [--config FILE]`: checks the stored transactions
//!   of a range again (after late track data, an order or a changed card); a case whose findings are
//!   gone is withdrawn.
//! - `tianshu fuel report --store URL [--year Y] [--unit U] [--format csv|xlsx|json] [--lang zh|en]`: the
//!   year's figures by unit and month, counted and laid out as `GET /api/fuel/report` does
//!   (`tianshu_api::resources::fuel_report`); XLSX is written to standard output.

use std::path::PathBuf;
use std::process::ExitCode;
use tianshu_model::Timestamp;

use anyhow::Context;
use tianshu_api::fuel::{Reconciler, import_statement, read_statement_file};
use tianshu_model::fuel::{TextEncoding, parse_cards_csv, parse_stations_csv, parse_stations_geojson};

use super::{StoreArg, block_on};

/// `tianshu fuel ...`
#[derive(Debug, clap::Subcommand)]
pub enum FuelCommand {
    /// Cards.
    #[command(subcommand)]
    Cards(CardsCommand),
    /// Stations.
    #[command(subcommand)]
    Stations(StationsCommand),
    /// Import an issuer's statement (CSV or XLSX) and check its new transactions.
    Import(StatementArgs),
    /// Check the stored transactions of a range again.
    Check(CheckArgs),
    /// Print the year's fuel figures by unit and month.
    Report(ReportArgs),
}

/// `tianshu fuel cards ...`
#[derive(Debug, clap::Subcommand)]
pub enum CardsCommand {
    /// Import cards from a CSV; all or nothing, idempotent.
    Import(super::ImportArgs),
}

/// `tianshu fuel stations ...`
#[derive(Debug, clap::Subcommand)]
pub enum StationsCommand {
    /// Import stations from a CSV or a GeoJSON FeatureCollection; all or nothing, idempotent.
    Import(super::ImportArgs),
}

/// The text encodings `--encoding` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncodingArg {
    /// UTF-8.
    Utf8,
    /// GBK (GB18030).
    Gbk,
}

/// Arguments of `tianshu fuel import`.
#[derive(Debug, clap::Args)]
pub struct StatementArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The issuer's column layout (`tianshu`, `sinopec`, `petrochina`); detected from the header by default.
    #[arg(long)]
    pub layout: Option<String>,
    /// The text encoding of a CSV; detected (UTF-8, else GBK) by default.
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,
    /// A configuration file whose `[rules.fuel]` sets the thresholds of the checks.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The statement file.
    pub file: PathBuf,
}

/// Arguments of `tianshu fuel check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// Start of the range, inclusive, ISO-8601 with an offset.
    #[arg(long)]
    pub from: String,
    /// End of the range, exclusive.
    #[arg(long)]
    pub to: String,
    /// A configuration file whose `[rules.fuel]` sets the thresholds of the checks.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Arguments of `tianshu fuel report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// The year, China time (default: this year).
    #[arg(long)]
    pub year: Option<i32>,
    /// Only this unit and the units below it: its id or its path (`黄石市/公安局`).
    #[arg(long)]
    pub unit: Option<String>,
    /// `csv` (default), `xlsx` (the workbook's bytes on standard output) or `json`.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ReportFormatArg,
    /// The titles of a CSV or XLSX: `zh` (default) or `en`.
    #[arg(long, default_value = "zh")]
    pub lang: String,
}

/// The formats `tianshu fuel report --format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormatArg {
    /// CSV, UTF-8.
    Csv,
    /// An XLSX workbook.
    Xlsx,
    /// JSON.
    Json,
}

/// Runs `tianshu fuel ...`.
pub fn run(command: FuelCommand) -> anyhow::Result<ExitCode> {
    match command {
        FuelCommand::Cards(CardsCommand::Import(args)) => args.run(
            async |store, text, now| {
                let records = parse_cards_csv(text).map_err(tianshu_store::Error::from)?;
                store.fuel().import_cards(&records, now).await
            },
            |c| format!("cards imported: {} created, {} updated", c.created, c.updated),
        ),
        FuelCommand::Stations(StationsCommand::Import(args)) => {
            let geojson = args
                .file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("geojson") || e.eq_ignore_ascii_case("json"));
            args.run(
                async move |store, text, now| {
                    let stations = if geojson {
                        parse_stations_geojson(text)
                    } else {
                        parse_stations_csv(text)
                    }
                    .map_err(tianshu_store::Error::from)?;
                    store.fuel().import_stations(&stations, now).await
                },
                |n| format!("stations imported: {n} (positions stored in WGS-84)"),
            )
        }
        FuelCommand::Import(args) => statement(args),
        FuelCommand::Check(args) => check(args),
        FuelCommand::Report(args) => report(args),
    }
}

fn statement(args: StatementArgs) -> anyhow::Result<ExitCode> {
    let cfg = super::rules::rules_config(args.config.as_ref())?.fuel;
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let name = args.file.display().to_string();
    let encoding = args.encoding.map(|e| match e {
        EncodingArg::Utf8 => TextEncoding::Utf8,
        EncodingArg::Gbk => TextEncoding::Gbk,
    });
    let (parsed, encoding) = match read_statement_file(&bytes, &name, args.layout.as_deref(), encoding) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {name}: {e}; nothing imported");
            return Ok(ExitCode::FAILURE);
        }
    };
    block_on(async move {
        let store = args.store.open().await?;
        let report = import_statement(&store, &cfg, parsed, encoding, &name, None, Timestamp::now())
            .await
            .with_context(|| format!("{name}: nothing imported"))?;
        for e in &report.errors {
            eprintln!("error: {name}: {e}");
        }
        println!(
            "{name}: {} format, {} transactions stored, {} already stored, {} rows refused; {} findings, {} cases opened",
            report.format,
            report.stored,
            report.duplicates,
            report.errors.len(),
            report.findings,
            report.cases_opened
        );
        Ok(if report.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let cfg = super::rules::rules_config(args.config.as_ref())?.fuel;
    let (from, to) = super::range(&args.from, &args.to)?;
    block_on(async move {
        let store = args.store.open().await?;
        let txns = store.fuel().transactions(None, from, to).await?;
        let r = Reconciler::load(&store, &cfg).await?;
        let (mut findings, mut opened, mut withdrawn) = (0, 0, 0);
        let now = Timestamp::now();
        let ids: Vec<i64> = txns.iter().map(|t| t.id).collect();
        for c in r.check_many(&ids, now).await? {
            findings += c.findings;
            opened += usize::from(c.opened);
            withdrawn += usize::from(c.withdrawn);
        }
        println!(
            "{} transactions checked: {findings} findings, {opened} cases opened, {withdrawn} withdrawn",
            txns.len()
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    use tianshu_api::resources::fuel_report;
    let lang = tianshu_model::Lang::parse(&args.lang)
        .with_context(|| format!("--lang: {:?} is not zh or en", args.lang))?;
    let year = args
        .year
        .unwrap_or_else(|| chrono::Datelike::year(&Timestamp::now().to_china()));
    fuel_report::check_year(year).map_err(|e| anyhow::anyhow!("--{e}"))?;
    block_on(async move {
        let store = args.store.open().await?;
        let only = super::user::resolve_subtree(&store, args.unit.as_deref()).await?;
        let r = fuel_report::report(&store, year, only.as_deref()).await?;
        let mut out = std::io::stdout().lock();
        match args.format {
            ReportFormatArg::Json => writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?,
            ReportFormatArg::Csv => {
                let csv = fuel_report::table(&r, lang).to_csv();
                out.write_all(csv.trim_start_matches('\u{feff}').as_bytes())?;
            }
            ReportFormatArg::Xlsx => out.write_all(&fuel_report::table(&r, lang).to_xlsx())?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

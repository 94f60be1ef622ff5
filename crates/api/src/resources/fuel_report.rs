//! The fuel cards' report: `GET /api/fuel/report?year=&unit=&format=json|csv|xlsx&lang=zh|en`, and
//! `tianshu fuel report` through [`report`] and [`table`]. Counted by `tianshu_rules::fuel::report`
//! from the year's transactions, their findings, the cards cancelled or suspended and the amounts the
//! findings of fuel cases recovered (China time), over the units in the caller's scope (and below
//! `unit` when given).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tianshu_model::{Lang, UnitId};
use tianshu_rules::calendar::year_start;
use tianshu_rules::fuel::report::{FuelReport, ReportValue, fuel_report, report_header, report_lines};
use tianshu_store::Store;

use crate::ApiState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::resources::reports::{ReportFormat, download_tables};
use crate::scope::{Scoped, subtree};
use crate::table::{Cell, Table};

/// `GET /api/fuel/report` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FuelReportQuery {
    /// The year (China time).
    pub year: i32,
    /// Only this unit and the units below it.
    pub unit: Option<i64>,
    /// `json` (default), `csv` or `xlsx`.
    #[serde(default)]
    pub format: ReportFormat,
    /// The titles of a download: `zh` (default) or `en`.
    #[serde(default)]
    pub lang: Lang,
}

/// The report of a year with its units' names.
#[derive(Debug, Clone, Serialize)]
pub struct YearReport {
    /// The year.
    pub year: i32,
    /// The figures.
    #[serde(flatten)]
    pub report: FuelReport,
    /// The path (`黄石市/公安局`) of each unit with rows, by id.
    pub unit_names: std::collections::BTreeMap<UnitId, String>,
}

/// Checks a report's year.
pub fn check_year(year: i32) -> Result<(), String> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(format!("year: {year} is not 2000 to 2100"))
    }
}

/// The report of `year` over the units `units` (all when `None`).
pub async fn report(store: &Store, year: i32, units: Option<&[UnitId]>) -> tianshu_store::Result<YearReport> {
    let mut facts = store
        .fuel()
        .report_facts(year_start(year), year_start(year + 1))
        .await?;
    if let Some(units) = units {
        facts.retain_units(units);
    }
    let report = fuel_report(&facts.fills, &facts.findings, &facts.cards, &facts.recoveries);
    let mut paths = tianshu_rules::unit_paths(&store.units().await?);
    let unit_names = report
        .rows
        .iter()
        .filter_map(|row| Some((row.unit, paths.remove(&row.unit)?)))
        .collect();
    Ok(YearReport {
        year,
        report,
        unit_names,
    })
}

/// A value of the report's lines as a cell (hundredths as a number with two decimals).
pub fn report_cell(v: ReportValue) -> Cell {
    match v {
        ReportValue::Text(s) => Cell::Text(s),
        ReportValue::Count(n) => Cell::Number(n as f64),
        ReportValue::Hundredths(h) => Cell::Number(h as f64 / 100.0),
    }
}

/// The report as one table titled in `lang`: a line per unit and month, then the total.
pub fn table(r: &YearReport, lang: Lang) -> Table {
    let name = |u: UnitId| r.unit_names.get(&u).cloned().unwrap_or_else(|| u.to_string());
    let rows = report_lines(&r.report, lang, name)
        .into_iter()
        .map(|line| line.into_iter().map(report_cell).collect())
        .collect();
    Table {
        sheet: lang.pick("加油卡", "Fuel cards").into(),
        header: report_header(lang),
        rows,
    }
}

/// `GET /api/fuel/report?year=&unit=&format=&lang=`: the year's fuel figures by unit and month as JSON,
/// CSV or XLSX.
pub async fn fuel_report_route(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<FuelReportQuery>,
) -> ApiResult<Response> {
    check_year(q.year).map_err(ApiError::BadRequest)?;
    let scoped = Scoped::new(&state, &who).await?;
    let units: Option<Vec<UnitId>> = match q.unit.map(UnitId) {
        Some(u) => {
            scoped.unit(u).await?;
            Some(
                subtree(&state.store().units().await?, u)
                    .into_iter()
                    .filter(|u| scoped.sees_unit(*u))
                    .collect(),
            )
        }
        None => scoped.unit_ids(),
    };
    let r = report(state.store(), q.year, units.as_deref()).await?;
    if q.format == ReportFormat::Json {
        return Ok(Json(r).into_response());
    }
    download_tables(q.format, &[table(&r, q.lang)], &format!("fuel-{}", q.year))
}

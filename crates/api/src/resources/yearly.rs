//! The office's yearly figures: `GET /api/report/yearly?year=&unit=&format=`, and `tianshu report yearly`
//! through [`figures`] and [`tables`]. Counted by `tianshu_rules::yearly` from the registry, the cars'
//! fleet fields, the pool's settled trips and the alert cases raised in the year (China time), over the
//! units in the caller's scope (and below `unit` when given).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tianshu_model::{Lang, Timestamp, UnitId};
use tianshu_rules::calendar::{local_day, year_start};
use tianshu_rules::casework::{Summary, summary_header, summary_lines};
use tianshu_rules::fuel::report::{FuelReport, report_header, report_lines};
use tianshu_rules::yearly::{YearCar, YearlyFigures, yearly};
use tianshu_store::Store;

use crate::ApiState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::resources::fuel_report::report_cell;
use crate::resources::reports::{ReportFormat, download_tables};
use crate::scope::{Scoped, subtree};
use crate::table::{Cell, Table};

/// `GET /api/report/yearly` query.
#[derive(Debug, Deserialize)]
pub struct YearlyQuery {
    /// The year (China time).
    pub year: i32,
    /// Only this unit and the units below it.
    pub unit: Option<i64>,
    /// `json` (default), `csv` or `xlsx`.
    #[serde(default)]
    pub format: ReportFormat,
}

/// The figures of `year` over the units `units` (all when `None`).
pub async fn figures(
    store: &Store,
    year: i32,
    units: Option<&[UnitId]>,
) -> tianshu_store::Result<YearlyFigures> {
    let all_units = store.units().await?;
    let paths = tianshu_rules::unit_paths(&all_units);
    let path = |u: UnitId| paths.get(&u).cloned().unwrap_or_else(|| u.to_string());
    let wanted = |u: UnitId| units.is_none_or(|s| s.contains(&u));
    let fleets = store.carpool().fleets().await?;
    let vehicles = store.vehicles().await?;
    let unit_of: HashMap<_, _> = vehicles.iter().map(|v| (v.id, v.unit)).collect();
    let cars: Vec<YearCar> = vehicles
        .iter()
        .filter(|v| wanted(v.unit))
        .map(|v| YearCar {
            unit: path(v.unit),
            class: v.class,
            fleet: fleets.get(&v.id).cloned().unwrap_or_default(),
        })
        .collect();
    let requests: Vec<_> = store
        .carpool()
        .requests()
        .await?
        .into_iter()
        .filter(|r| wanted(r.unit))
        .map(|r| (path(r.unit), r))
        .collect();
    let rules: Vec<String> = store
        .carpool()
        .case_rules(year_start(year), year_start(year + 1))
        .await?
        .into_iter()
        .filter(|(v, _)| unit_of.get(v).is_some_and(|u| wanted(*u)))
        .map(|(_, rule)| rule)
        .collect();
    let (first, last) = (local_day(year_start(year)), local_day(year_start(year + 1)) - 1);
    let summaries: Vec<_> = store
        .summaries()
        .between(first, last)
        .await?
        .into_iter()
        .filter(|s| unit_of.get(&s.vehicle).is_some_and(|u| wanted(*u)))
        .collect();
    let (complaints, findings) = store
        .casework()
        .facts(
            (year_start(year), year_start(year + 1)),
            (first_date(year), first_date(year + 1)),
            units.map(<[UnitId]>::to_vec),
        )
        .await?;
    let casework = tianshu_rules::casework::summarize(&complaints, &findings, Timestamp::now()).total;
    let fuel = crate::resources::fuel_report::report(store, year, units)
        .await?
        .report
        .total;
    Ok(yearly(year, &cars, &requests, &rules, &summaries).with_office(casework, fuel))
}

/// January 1st of `year`.
fn first_date(year: i32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default()
}

/// The year's complaints and findings, and its fuel cards, as the office's report lays them out: an
/// item and its value, titled as the casework summary and the fuel report title their columns.
fn office_tables(f: &YearlyFigures) -> [Table; 2] {
    let casework = Summary {
        total: f.casework.clone(),
        rows: Vec::new(),
    };
    let line = summary_lines(&casework, Lang::Zh, |_| String::new()).remove(0);
    let mut values: Vec<Cell> = line.counts.iter().map(|n| Cell::from(*n as f64)).collect();
    values.push(Cell::from(line.recovered_fen as f64 / 100.0));
    values.push(Cell::from(line.by_type.as_str()));
    let items = |header: Vec<String>, values: Vec<Cell>| -> Vec<Vec<Cell>> {
        // The first two columns of either report are the unit and the month.
        header
            .into_iter()
            .skip(2)
            .zip(values)
            .map(|(h, v)| vec![Cell::Text(h), v])
            .collect()
    };
    let fuel = FuelReport {
        total: f.fuel.clone(),
        rows: Vec::new(),
    };
    let fuel_values = report_lines(&fuel, Lang::Zh, |_| String::new())
        .remove(0)
        .into_iter()
        .skip(2)
        .map(report_cell)
        .collect();
    let header = || vec!["指标".to_string(), "数值".to_string()];
    [
        Table {
            sheet: "投诉与查处".into(),
            header: header(),
            rows: items(summary_header(Lang::Zh), values),
        },
        Table {
            sheet: "加油卡".into(),
            header: header(),
            rows: items(report_header(Lang::Zh), fuel_values),
        },
    ]
}

/// The figures as the office's report lays them out: one table per sheet.
pub fn tables(f: &YearlyFigures) -> Vec<Table> {
    let r = &f.reform;
    let text = |s: &str| Cell::from(s);
    vec![
        Table {
            sheet: "车辆（按单位、类别）".into(),
            header: vec!["单位".into(), "类别".into(), "保留".into(), "本年处置".into()],
            rows: f
                .cars
                .iter()
                .map(|c| {
                    vec![
                        text(&c.unit),
                        text(c.class.as_str()),
                        Cell::from(c.kept as f64),
                        Cell::from(c.disposed as f64),
                    ]
                })
                .collect(),
        },
        Table {
            sheet: "改革".into(),
            header: vec!["指标".into(), "数值".into()],
            rows: [
                ("保留车辆", r.kept as f64),
                ("本年处置", r.disposed as f64),
                ("压减率（%）", r.reduction_rate),
                ("已装终端", r.installed as f64),
                ("免装终端", r.exempt as f64),
                ("安装率（%，免装除外）", r.install_rate),
                ("已标识", r.marked as f64),
                ("免标识", r.marking_exempt as f64),
            ]
            .into_iter()
            .map(|(k, v)| vec![text(k), Cell::from(v)])
            .collect(),
        },
        Table {
            sheet: "用车保障".into(),
            header: vec![
                "类别".into(),
                "服务单位".into(),
                "车次".into(),
                "里程（公里）".into(),
            ],
            rows: f
                .service
                .iter()
                .map(|s| {
                    vec![
                        text(s.kind),
                        text(&s.unit),
                        Cell::from(s.trips as f64),
                        Cell::from((s.km * 10.0).round() / 10.0),
                    ]
                })
                .collect(),
        },
        Table {
            sheet: "违规（按规则）".into(),
            header: vec!["规则".into(), "告警数".into()],
            rows: f
                .violations
                .iter()
                .map(|(rule, n)| vec![text(rule), Cell::from(*n as f64)])
                .collect(),
        },
        days_table(f),
    ]
    .into_iter()
    .chain(office_tables(f))
    .collect()
}

/// The cars' days of the year, from their daily summaries.
fn days_table(f: &YearlyFigures) -> Table {
    let text = |s: &str| Cell::from(s);
    Table {
        sheet: "车辆运行（日汇总）".into(),
        header: vec!["指标".into(), "数值".into()],
        rows: [
            ("汇总天数", f.days.days as f64),
            ("日均在线率（%）", f.days.online_share),
            ("行驶里程（公里）", f.days.km),
            ("出行次数", f.days.trips as f64),
        ]
        .into_iter()
        .map(|(k, v)| vec![text(k), Cell::from(v)])
        .chain(
            f.days
                .cases
                .iter()
                .map(|(rule, n)| vec![text(&format!("告警：{rule}")), Cell::from(*n as f64)]),
        )
        .collect(),
    }
}

/// `GET /api/report/yearly?year=&unit=&format=`: the year's figures as JSON, CSV or XLSX (one sheet per
/// table).
pub async fn yearly_report(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<YearlyQuery>,
) -> ApiResult<Response> {
    if !(2000..=2100).contains(&q.year) {
        return Err(ApiError::BadRequest(format!(
            "year: {} is not 2000 to 2100",
            q.year
        )));
    }
    let scoped = Scoped::new(&state, &who).await?;
    let units: Option<Vec<UnitId>> = match q.unit.map(UnitId) {
        Some(u) => {
            scoped.unit(u).await?;
            Some(subtree(&state.store().units().await?, u).into_iter().collect())
        }
        None => scoped.unit_ids(),
    };
    let f = figures(state.store(), q.year, units.as_deref()).await?;
    if q.format == ReportFormat::Json {
        return Ok(Json(f).into_response());
    }
    download_tables(q.format, &tables(&f), &format!("yearly-{}", q.year))
}

//! The figures a unit discloses, for one month (China time): `GET /api/vehicles/{id}/report` for one
//! car (mileage, trips, time in use, days used, violations by rule, cases by state) and
//! `GET /api/units/{id}/report` for every car of a unit and its sub-units, with the unit's totals.
//! Both answer in JSON, or as a download with `format=csv|xlsx` (titles in `lang=zh|en`).
//!
//! A report reads each car's month of track like a replay: scoped, and audited (one record per car,
//! action `report`) before the figures leave.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use tianshu_model::{Position, Timestamp, Unit, UnitId, Vehicle, VehicleId};

use crate::ApiState;
use crate::auth::{Caller, Client};
use crate::cases::CaseFilter;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::resources::tracks::look_at_track;
use crate::scope::{Scoped, subtree};
use crate::table::{Cell, Table};
use tianshu_rules::track::{Trip, trips_and_stops};

/// How a report is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// JSON (the default).
    #[default]
    Json,
    /// A CSV download.
    Csv,
    /// An XLSX download.
    Xlsx,
}

pub use tianshu_model::Lang;

/// The query of both reports.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// The month, `YYYY-MM`, in China time (the month a unit discloses).
    pub month: String,
    /// `json` (default), `csv` or `xlsx`.
    #[serde(default)]
    pub format: ReportFormat,
    /// The titles of a download: `zh` (default) or `en`.
    #[serde(default)]
    pub lang: Lang,
}

/// One car's figures for a month.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Points stored.
    pub points: usize,
    /// Trips.
    pub trips: usize,
    /// Distance driven from the fixes, km (to 0.1).
    pub distance_km: f64,
    /// Distance from the odometer (last minus first reading), km, when the terminal reports it.
    pub odometer_km: Option<f64>,
    /// Time in use (sum of trip durations), hours (to 0.01).
    pub hours_in_use: f64,
    /// Days with at least one trip.
    pub days_used: usize,
    /// Alert cases that started in the month, by rule.
    pub violations: BTreeMap<String, usize>,
    /// The same cases, by their state now.
    pub cases_by_state: BTreeMap<String, usize>,
    /// The days with trips (a trip counts on the day it started, China time), in order.
    pub per_day: Vec<Day>,
}

/// One day's driving.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`, China time.
    pub date: String,
    /// Trips started that day.
    pub trips: usize,
    /// Their distance, km (to 0.1).
    pub distance_km: f64,
    /// Their duration, hours (to 0.01).
    pub hours_in_use: f64,
}

/// The trips' figures per day they started on (China time).
fn per_day(trips: &[Trip]) -> Vec<Day> {
    let mut days: BTreeMap<String, (usize, f64, f64)> = BTreeMap::new();
    for t in trips {
        let d = days
            .entry(t.from.to_china().format("%Y-%m-%d").to_string())
            .or_default();
        d.0 += 1;
        d.1 += t.distance_m / 1000.0;
        d.2 += (t.to.millis() - t.from.millis()) as f64 / 3_600_000.0;
    }
    days.into_iter()
        .map(|(date, (trips, km, h))| Day {
            date,
            trips,
            distance_km: round_to(km, 10.0),
            hours_in_use: round_to(h, 100.0),
        })
        .collect()
}

/// The figures a unit discloses for one car and one month.
#[derive(Debug, Serialize)]
pub struct MonthlyReport {
    /// The vehicle.
    pub vehicle: Vehicle,
    /// `YYYY-MM`.
    pub month: String,
    /// Month start (China midnight), UTC.
    pub from: Timestamp,
    /// Next month's start, UTC.
    pub to: Timestamp,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// The name of each rule in `violations`, in Chinese and English.
    pub rule_titles: BTreeMap<String, Titles>,
}

/// One car's line in a unit's report.
#[derive(Debug, Serialize)]
pub struct CarLine {
    /// The vehicle.
    pub vehicle: Vehicle,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of every car of a unit and its sub-units (in the caller's scope) for one month.
#[derive(Debug, Serialize)]
pub struct UnitReport {
    /// The unit.
    pub unit: Unit,
    /// `YYYY-MM`.
    pub month: String,
    /// Month start (China midnight), UTC.
    pub from: Timestamp,
    /// Next month's start, UTC.
    pub to: Timestamp,
    /// Cars counted.
    pub vehicles: usize,
    /// The unit's totals (`days_used`: car-days; `odometer_km`: the cars that report one).
    pub totals: Figures,
    /// Each car, by plate.
    pub cars: Vec<CarLine>,
    /// The name of each rule in `violations`, in Chinese and English.
    pub rule_titles: BTreeMap<String, Titles>,
}

/// A name in both languages.
#[derive(Debug, Clone, Serialize)]
pub struct Titles {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

/// A `YYYY-MM` month as its canonical text and its range from China midnight to China midnight.
fn month_range(month: &str) -> ApiResult<(String, Timestamp, Timestamp)> {
    let bad = || ApiError::BadRequest(format!("month: {month:?}: expected YYYY-MM"));
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    }
    .ok_or_else(bad)?;
    let at_midnight = |d: NaiveDate| {
        tianshu_model::china_offset()
            .with_ymd_and_hms(d.year(), d.month(), d.day(), 0, 0, 0)
            .single()
            .map(|t| Timestamp::from_datetime(&t))
            .ok_or_else(bad)
    };
    Ok((format!("{y:04}-{m:02}"), at_midnight(first)?, at_midnight(next)?))
}

/// The odometer distance: last reading minus first, when both are there and it did not run back.
fn odometer_km(points: &[Position]) -> Option<f64> {
    let first = points.iter().find_map(|p| p.mileage_dkm);
    let last = points.iter().rev().find_map(|p| p.mileage_dkm);
    match (first, last) {
        (Some(a), Some(b)) if b >= a => Some(f64::from(b - a) / 10.0),
        _ => None,
    }
}

/// Hours in use: the trips' durations, to two decimals.
fn hours_in_use(trips: &[Trip]) -> f64 {
    let ms: f64 = trips
        .iter()
        .map(|t| (t.to.millis() - t.from.millis()) as f64)
        .sum();
    round_to(ms / 3_600_000.0, 100.0)
}

fn round_to(x: f64, per: f64) -> f64 {
    (x * per).round() / per
}

/// One car's month: its track read (scoped, audited) and its cases that started in the month.
async fn figures(
    state: &ApiState,
    scoped: &Scoped,
    client: Client,
    vehicle: VehicleId,
    (from, to): (Timestamp, Timestamp),
) -> ApiResult<Figures> {
    let pts = look_at_track(state, scoped, client, "report", vehicle, (from, to)).await?;
    let (trips, _) = trips_and_stops(&pts);
    let days_used: BTreeSet<_> = trips.iter().map(|t| t.from.to_china().date_naive()).collect();
    let filter = CaseFilter {
        vehicle: Some(vehicle),
        limit: 2000,
        ..Default::default()
    };
    let mut violations = BTreeMap::new();
    let mut cases_by_state = BTreeMap::new();
    for c in scoped.cases(filter).await? {
        let start = c
            .detail
            .get("start")
            .and_then(|v| v.as_str())
            .and_then(|s| Timestamp::parse_rfc3339(s).ok());
        if start.is_some_and(|s| s >= from && s < to) {
            let rule = c.detail.get("rule").and_then(|v| v.as_str()).unwrap_or("other");
            *violations.entry(rule.to_string()).or_insert(0) += 1;
            *cases_by_state.entry(c.state.clone()).or_insert(0) += 1;
        }
    }
    Ok(Figures {
        points: pts.len(),
        trips: trips.len(),
        distance_km: round_to(trips.iter().map(|t| t.distance_m).sum::<f64>() / 1000.0, 10.0),
        odometer_km: odometer_km(&pts),
        hours_in_use: hours_in_use(&trips),
        days_used: days_used.len(),
        violations,
        cases_by_state,
        per_day: per_day(&trips),
    })
}

/// The sum of several cars' figures.
fn totals<'a>(all: impl IntoIterator<Item = &'a Figures>) -> Figures {
    let mut t = Figures::default();
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    for f in all {
        for d in &f.per_day {
            let sum = days.entry(d.date.clone()).or_insert_with(|| Day {
                date: d.date.clone(),
                ..Day::default()
            });
            sum.trips += d.trips;
            sum.distance_km = round_to(sum.distance_km + d.distance_km, 10.0);
            sum.hours_in_use = round_to(sum.hours_in_use + d.hours_in_use, 100.0);
        }
        t.points += f.points;
        t.trips += f.trips;
        t.distance_km += f.distance_km;
        t.hours_in_use += f.hours_in_use;
        t.days_used += f.days_used;
        if let Some(km) = f.odometer_km {
            t.odometer_km = Some(t.odometer_km.unwrap_or(0.0) + km);
        }
        for (k, n) in &f.violations {
            *t.violations.entry(k.clone()).or_insert(0) += n;
        }
        for (k, n) in &f.cases_by_state {
            *t.cases_by_state.entry(k.clone()).or_insert(0) += n;
        }
    }
    t.distance_km = round_to(t.distance_km, 10.0);
    t.hours_in_use = round_to(t.hours_in_use, 100.0);
    t.odometer_km = t.odometer_km.map(|km| round_to(km, 10.0));
    t.per_day = days.into_values().collect();
    t
}

/// The names of the rules `figures` counts violations of.
fn rule_titles<'a>(figures: impl IntoIterator<Item = &'a Figures>) -> BTreeMap<String, Titles> {
    figures
        .into_iter()
        .flat_map(|f| f.violations.keys())
        .map(|rule| {
            let (en, zh) = tianshu_rules::terminal_case::case_titles(rule).unwrap_or((rule, rule));
            (
                rule.clone(),
                Titles {
                    zh: zh.into(),
                    en: en.into(),
                },
            )
        })
        .collect()
}

/// `GET /api/vehicles/{id}/report?month=YYYY-MM[&format=csv|xlsx][&lang=zh|en]`: one car's month;
/// audited like a replay.
pub async fn monthly(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let (month, from, to) = month_range(&q.month)?;
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = scoped.vehicle(VehicleId(id)).await?;
    let figures = figures(&state, &scoped, client, vehicle.id, (from, to)).await?;
    let report = MonthlyReport {
        rule_titles: rule_titles([&figures]),
        month,
        from,
        to,
        figures,
        vehicle,
    };
    if q.format == ReportFormat::Json {
        return Ok(Json(report).into_response());
    }
    let units = scoped.units().await?;
    let unit_name = unit_name(&units, report.vehicle.unit);
    let rows = [(report.vehicle.plate.as_str(), unit_name.as_str(), &report.figures)];
    let table = report_table(
        q.lang,
        &format!("{} {}", report.vehicle.plate, report.month),
        &report.month,
        &rows,
        None,
        &report.rule_titles,
    );
    download(q.format, &table, &format!("report-{id}-{}", report.month))
}

/// `GET /api/units/{id}/report?month=YYYY-MM[&format=csv|xlsx][&lang=zh|en]`: every car of a unit and
/// its sub-units in the caller's scope, one line each, and the unit's totals; each car's look audited.
pub async fn unit(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let (month, from, to) = month_range(&q.month)?;
    let scoped = Scoped::new(&state, &who).await?;
    let unit = scoped.unit(UnitId(id)).await?;
    let units = scoped.units().await?;
    let below = subtree(&units, unit.id);
    let mut vehicles: Vec<Vehicle> = scoped
        .vehicles()
        .await?
        .into_iter()
        .filter(|v| below.contains(&v.unit))
        .collect();
    vehicles.sort_by(|a, b| a.plate.cmp(&b.plate));
    let mut cars = Vec::with_capacity(vehicles.len());
    for vehicle in vehicles {
        let figures = figures(&state, &scoped, client.clone(), vehicle.id, (from, to)).await?;
        cars.push(CarLine { vehicle, figures });
    }
    let report = UnitReport {
        totals: totals(cars.iter().map(|c| &c.figures)),
        rule_titles: rule_titles(cars.iter().map(|c| &c.figures)),
        vehicles: cars.len(),
        unit,
        month,
        from,
        to,
        cars,
    };
    if q.format == ReportFormat::Json {
        return Ok(Json(report).into_response());
    }
    let names: Vec<String> = report
        .cars
        .iter()
        .map(|c| unit_name(&units, c.vehicle.unit))
        .collect();
    let rows: Vec<(&str, &str, &Figures)> = report
        .cars
        .iter()
        .zip(&names)
        .map(|(c, n)| (c.vehicle.plate.as_str(), n.as_str(), &c.figures))
        .collect();
    let table = report_table(
        q.lang,
        &format!("{} {}", report.unit.name, report.month),
        &report.month,
        &rows,
        Some(&report.totals),
        &report.rule_titles,
    );
    download(q.format, &table, &format!("unit-report-{id}-{}", report.month))
}

fn unit_name(units: &[Unit], id: UnitId) -> String {
    units
        .iter()
        .find(|u| u.id == id)
        .map_or_else(|| id.to_string(), |u| u.name.clone())
}

/// A case state's name.
fn state_title(state: &str, lang: Lang) -> String {
    let (zh, en) = match state {
        "open" => ("待处理", "Open"),
        "acknowledged" => ("已签收", "Acknowledged"),
        "explained" => ("已说明", "Explained"),
        "escalated" => ("已上报", "Escalated"),
        "closed" => ("已办结", "Closed"),
        "withdrawn" => ("已撤销", "Withdrawn"),
        other => (other, other),
    };
    match lang {
        Lang::Zh => format!("告警·{zh}"),
        Lang::En => format!("Cases {en}"),
    }
}

/// The report as a table: one line per car (and a total line for a unit): plate, unit, month, trips,
/// km, odometer km, hours, days, points, then one column per rule and per case state.
fn report_table(
    lang: Lang,
    sheet: &str,
    month: &str,
    rows: &[(&str, &str, &Figures)],
    total: Option<&Figures>,
    titles: &BTreeMap<String, Titles>,
) -> Table {
    let fixed: [(&str, &str); 9] = [
        ("车牌", "Plate"),
        ("单位", "Unit"),
        ("月份", "Month"),
        ("行程数", "Trips"),
        ("里程（公里）", "Distance (km)"),
        ("里程表（公里）", "Odometer (km)"),
        ("使用时长（小时）", "Hours in use"),
        ("使用天数", "Days used"),
        ("定位点数", "Points"),
    ];
    let rules: Vec<&String> = titles.keys().collect();
    let states: BTreeSet<&String> = rows
        .iter()
        .flat_map(|(_, _, f)| f.cases_by_state.keys())
        .collect();
    let mut header: Vec<String> = fixed
        .iter()
        .map(|(zh, en)| if lang == Lang::Zh { zh } else { en }.to_string())
        .collect();
    header.extend(rules.iter().map(|r| match lang {
        Lang::Zh => titles[*r].zh.clone(),
        Lang::En => titles[*r].en.clone(),
    }));
    header.extend(states.iter().map(|s| state_title(s, lang)));
    let line = |plate: &str, unit: &str, f: &Figures| -> Vec<Cell> {
        let mut row: Vec<Cell> = vec![
            plate.into(),
            unit.into(),
            month.into(),
            f.trips.into(),
            f.distance_km.into(),
            f.odometer_km.into(),
            f.hours_in_use.into(),
            f.days_used.into(),
            f.points.into(),
        ];
        row.extend(
            rules
                .iter()
                .map(|r| Cell::from(f.violations.get(*r).copied().unwrap_or(0))),
        );
        row.extend(
            states
                .iter()
                .map(|s| Cell::from(f.cases_by_state.get(*s).copied().unwrap_or(0))),
        );
        row
    };
    let mut lines: Vec<Vec<Cell>> = rows.iter().map(|(p, u, f)| line(p, u, f)).collect();
    if let Some(t) = total {
        lines.push(line(if lang == Lang::Zh { "合计" } else { "Total" }, "", t));
    }
    Table {
        sheet: sheet.to_string(),
        header,
        rows: lines,
    }
}

/// `table` as a download named `name` with the format's extension.
fn download(format: ReportFormat, table: &Table, name: &str) -> ApiResult<Response> {
    download_tables(format, std::slice::from_ref(table), name)
}

/// `tables` as one download named `name`: CSV, each table after a line with its sheet's name when there
/// are several; XLSX, one sheet each.
pub(crate) fn download_tables(format: ReportFormat, tables: &[Table], name: &str) -> ApiResult<Response> {
    let csv = || match tables {
        [one] => one.to_csv(),
        many => many
            .iter()
            .map(|t| format!("{}\r\n{}", t.sheet, t.to_csv().trim_start_matches('\u{feff}')))
            .fold(String::from("\u{feff}"), |all, t| all + &t + "\r\n"),
    };
    let (body, content_type, ext) = match format {
        ReportFormat::Csv => (csv().into_bytes(), "text/csv; charset=utf-8", "csv"),
        ReportFormat::Xlsx => (
            crate::table::workbook_xlsx(tables),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        ReportFormat::Json => return Err(ApiError::BadRequest("format: not a download".into())),
    };
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(h) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        resp.headers_mut().insert(CONTENT_DISPOSITION, h);
    }
    Ok(resp)
}

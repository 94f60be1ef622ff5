//! `GET /api/vehicles/{id}/report?month=YYYY-MM`: the figures a unit discloses for one car and one
//! month (China time): mileage, trips, time in use, days used and violations by rule.
//!
//! The month's track is a look at a track like a replay: scoped, and audited before the figures leave.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use chrono::{Datelike, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use tianshu_model::{Position, Timestamp, Vehicle, VehicleId};

use crate::auth::Caller;
use crate::cases::CaseFilter;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::resources::tracks::look_at_track;
use crate::scope::Scoped;
use tianshu_rules::track::{Trip, trips_and_stops};

/// `GET /api/vehicles/{id}/report` query.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// The month, `YYYY-MM`, in China time (the month a unit discloses).
    pub month: String,
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
    /// Points stored.
    pub points: usize,
    /// Trips.
    pub trips: usize,
    /// Distance driven from the fixes, km.
    pub distance_km: f64,
    /// Distance from the odometer (last minus first reading), km, when the terminal reports it.
    pub odometer_km: Option<f64>,
    /// Time in use (sum of trip durations), hours.
    pub hours_in_use: f64,
    /// Days with at least one trip.
    pub days_used: usize,
    /// Alert cases that started in the month, by rule.
    pub violations: BTreeMap<String, usize>,
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
    (ms / 36_000.0).round() / 100.0
}

/// `GET /api/vehicles/{id}/report?month=YYYY-MM`: mileage, trips, time in use and violations of one
/// car in one month; audited like a replay.
pub async fn monthly(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<MonthlyReport>> {
    let (month, from, to) = month_range(&q.month)?;
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = scoped.vehicle(VehicleId(id)).await?;
    let pts = look_at_track(&state, &scoped, client, "report", vehicle.id, (from, to)).await?;
    let (trips, _) = trips_and_stops(&pts);
    let days_used: BTreeSet<_> = trips.iter().map(|t| t.from.to_china().date_naive()).collect();
    let filter = CaseFilter {
        vehicle: Some(vehicle.id),
        limit: 2000,
        ..Default::default()
    };
    let mut violations = BTreeMap::new();
    for c in scoped.cases(filter).await? {
        let start = c
            .detail
            .get("start")
            .and_then(|v| v.as_str())
            .and_then(|s| Timestamp::parse_rfc3339(s).ok());
        if start.is_some_and(|s| s >= from && s < to) {
            let rule = c.detail.get("rule").and_then(|v| v.as_str()).unwrap_or("other");
            *violations.entry(rule.to_string()).or_insert(0) += 1;
        }
    }
    Ok(Json(MonthlyReport {
        month,
        from,
        to,
        points: pts.len(),
        trips: trips.len(),
        distance_km: (trips.iter().map(|t| t.distance_m).sum::<f64>() / 100.0).round() / 10.0,
        odometer_km: odometer_km(&pts),
        hours_in_use: hours_in_use(&trips),
        days_used: days_used.len(),
        violations,
        vehicle,
    }))
}

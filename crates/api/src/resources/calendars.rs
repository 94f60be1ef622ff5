//! When the rules consider a car in use off hours: the holiday calendars (`GET /api/calendars`,
//! `PUT /api/calendars/{year}`) and the units' working hours (`GET`/`PUT`/`DELETE
//! /api/units/{id}/timetable`).
//!
//! A calendar travels as the `tianshu calendar import` TOML file and a timetable as a configured
//! `[[rules.unit_timetables]]` entry; each is checked by the rules crate's own parser. A unit's working
//! hours resolve as the rules resolve them: at each unit up the tree a stored timetable comes before a
//! configured one, and the server's city default comes last. Writes commit with their audit record and
//! move the reference stamp, so the running rules reload them at their next tick.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tianshu_model::{Timestamp, Unit, UnitId};
use tianshu_rules::calendar::{Calendar, YearCalendar};
use tianshu_rules::timetable::UnitTimetableBody;
use tianshu_store::reference::StoredUnitTimetable;

use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Text};
use crate::scope::Scoped;
use crate::{ApiState, ConfiguredTimetables};

/// One year of the official calendar as the rules use it (its `year` is the calendar's own).
#[derive(Debug, Serialize)]
pub struct CalendarYear {
    /// `stored` (imported or put through the API) or `builtin` (shipped with Tianshu).
    pub source: &'static str,
    /// When it was stored (stored years only).
    pub updated: Option<Timestamp>,
    /// The notice, holidays and adjusted working days.
    #[serde(flatten)]
    pub calendar: YearCalendar,
}

/// `GET /api/calendars`: every year the rules know, the shipped ones overlaid by stored ones, with
/// their holidays and adjusted working days.
pub async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<CalendarYear>>> {
    let builtin = Calendar::builtin().map_err(|e| ApiError::Unavailable(format!("shipped calendar: {e}")))?;
    let mut out: Vec<CalendarYear> = Vec::new();
    for c in state.store().rules().calendars().await? {
        if let Ok(y) = YearCalendar::parse_toml(&c.source) {
            out.push(CalendarYear {
                source: "stored",
                updated: Some(c.updated),
                calendar: y,
            });
        }
    }
    for year in builtin.years() {
        if !out.iter().any(|c| c.calendar.year == year)
            && let Some(y) = builtin.year(year)
        {
            out.push(CalendarYear {
                source: "builtin",
                updated: None,
                calendar: y.clone(),
            });
        }
    }
    out.sort_by_key(|c| c.calendar.year);
    Ok(Json(out))
}

/// What a `PUT` answers: 201 when it created the resource, 200 when it replaced one.
fn put_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// `PUT /api/calendars/{year}`: the year's file in the `tianshu calendar import` format (TOML text).
pub async fn put(caller: Caller, Path(year): Path<String>, Text(text): Text) -> ApiResult<Response> {
    let year: i32 = year
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("year: {year:?} is not a year")))?;
    let parsed = YearCalendar::parse_toml(&text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if parsed.year != year {
        return Err(ApiError::BadRequest(format!(
            "year: the file is for {}, the path says {year}",
            parsed.year
        )));
    }
    let detail = format!("calendar {year}: {} holidays", parsed.holidays.len());
    let rules = caller.state.store().rules();
    let put = rules.put_calendar(&text, Timestamp::now());
    let stored = caller
        .commit("calendar.put", None, detail, audit::as_is, put)
        .await?;
    let status = put_status(!stored.replaced);
    let view = CalendarYear {
        source: "stored",
        updated: Some(stored.updated),
        calendar: stored.calendar,
    };
    Ok((status, Json(view)).into_response())
}

/// `GET /api/units/{id}/timetable`: where a unit's office hours come from.
#[derive(Debug, Serialize)]
pub struct UnitTimetableView {
    /// The unit asked about.
    pub unit: UnitId,
    /// `own` (stored for this unit), `inherited` (stored for the nearest ancestor that has one) or
    /// `configuration` (the server's `[rules] unit_timetables` entry of the nearest unit that has one,
    /// or else its city default `[rules.timetable]`). At each unit up the tree a stored timetable comes
    /// before a configured one, as the rules resolve them.
    pub source: &'static str,
    /// The unit whose timetable applies (absent for the city default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_unit: Option<UnitId>,
    /// Its path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// The office hours that apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timetable: Option<UnitTimetableBody>,
    /// When it was last written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<Timestamp>,
}

/// The working hours that apply to `unit`: up the tree from the unit itself, a stored timetable before
/// a configured one at each unit, the city default last.
fn resolve(
    unit: UnitId,
    units: &[Unit],
    stored: &[StoredUnitTimetable],
    configured: &ConfiguredTimetables,
) -> ApiResult<UnitTimetableView> {
    let paths = tianshu_rules::unit_paths(units);
    let mut cur = Some(unit);
    let mut hops = 0;
    while let Some(at) = cur {
        if let Some(t) = stored.iter().find(|t| t.unit == at) {
            let timetable: UnitTimetableBody = serde_json::from_value(t.body.clone())
                .map_err(|e| ApiError::Unavailable(format!("stored timetable of unit {at}: {e}")))?;
            return Ok(UnitTimetableView {
                unit,
                source: if at == unit { "own" } else { "inherited" },
                from_unit: Some(at),
                from_path: paths.get(&at).cloned(),
                timetable: Some(timetable),
                updated: Some(t.updated),
            });
        }
        let path = paths.get(&at).cloned();
        if let Some((_, t)) = configured.units.iter().find(|(p, _)| Some(p) == path.as_ref()) {
            return Ok(UnitTimetableView {
                unit,
                source: "configuration",
                from_unit: Some(at),
                from_path: path,
                timetable: Some(t.clone()),
                updated: None,
            });
        }
        hops += 1;
        cur = units
            .iter()
            .find(|u| u.id == at)
            .and_then(|u| u.parent)
            .filter(|_| hops <= 64);
    }
    Ok(UnitTimetableView {
        unit,
        source: "configuration",
        from_unit: None,
        from_path: None,
        timetable: Some(configured.city.clone()),
        updated: None,
    })
}

/// `GET /api/units/{id}/timetable`: the unit's own stored timetable, else the nearest ancestor's.
pub async fn unit_timetable(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<UnitTimetableView>> {
    let unit = Scoped::new(&state, &who).await?.unit(UnitId(id)).await?;
    // Ancestors outside the caller's scope still lend their hours: all units are read for the walk.
    let units = state.store().units().await?;
    let stored = state.store().rules().unit_timetables().await?;
    let view = resolve(unit.id, &units, &stored, &state.configured_timetables())?;
    Ok(Json(view))
}

/// `PUT /api/units/{id}/timetable`: replaces the unit's own office hours (`periods`, optional
/// `seasons`), checked as a configured unit timetable is.
pub async fn put_unit_timetable(
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<UnitTimetableBody>,
) -> ApiResult<Response> {
    body.validate().map_err(ApiError::BadRequest)?;
    let state = &caller.state;
    let unit = Scoped::new(state, &caller.who).await?.unit(UnitId(id)).await?;
    let periods: Vec<String> = body.periods.iter().map(ToString::to_string).collect();
    let detail = format!(
        "unit {} {:?}: {} ({} seasons)",
        unit.id,
        unit.name,
        periods.join(", "),
        body.seasons.len()
    );
    let rules = caller.state.store().rules();
    let put = rules.put_unit_timetable(unit.id, &body, Timestamp::now());
    let stored = caller
        .commit("unit_timetable.put", None, detail, audit::as_is, put)
        .await?;
    let status = put_status(stored.created);
    let paths = tianshu_rules::unit_paths(&state.store().units().await?);
    let view = UnitTimetableView {
        unit: unit.id,
        source: "own",
        from_unit: Some(unit.id),
        from_path: paths.get(&unit.id).cloned(),
        timetable: Some(body),
        updated: Some(stored.timetable.updated),
    };
    Ok((status, Json(view)).into_response())
}

/// `DELETE /api/units/{id}/timetable`: the unit falls back to its ancestors' or the configured hours.
pub async fn delete_unit_timetable(caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let unit = Scoped::new(&caller.state, &caller.who)
        .await?
        .unit(UnitId(id))
        .await?;
    let detail = format!("unit {} {:?}", unit.id, unit.name);
    let rules = caller.state.store().rules();
    let delete = rules.delete_unit_timetable(unit.id, Timestamp::now());
    caller
        .commit("unit_timetable.delete", None, detail, audit::as_is, delete)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

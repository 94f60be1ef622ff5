//! The REST handlers. Each reads data only through [`Scoped`] and audits every look at a track.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tianshu_model::{Phone, Position, Timestamp, UnitId, Vehicle, VehicleId};
use tianshu_rules::track::{Stop, Trip, simplify_track, trips_and_stops};
use tianshu_store::access::{AuditEntry, AuditRecord, NewUser, Role, User};

use crate::auth::{Client, Principal, audit, hash_password};
use crate::cases::{CaseAction, CaseError, CaseFilter, CaseView};
use crate::error::{ApiError, ApiResult};
use crate::export::{self, Format};
use crate::live::LivePoint;
use crate::scope::Scoped;
use crate::{ApiState, CommandOutcome, TerminalCommand};

/// A time range in the query string (ISO-8601 / RFC 3339, UTC or with an offset).
#[derive(Debug, Clone, Deserialize)]
pub struct RangeQuery {
    /// Start, inclusive.
    pub from: String,
    /// End, exclusive.
    pub to: String,
}

pub(crate) fn parse_range(state: &ApiState, q: &RangeQuery) -> ApiResult<(Timestamp, Timestamp)> {
    let from = Timestamp::parse_rfc3339(&q.from).map_err(|e| ApiError::BadRequest(format!("from: {e}")))?;
    let to = Timestamp::parse_rfc3339(&q.to).map_err(|e| ApiError::BadRequest(format!("to: {e}")))?;
    if to <= from {
        return Err(ApiError::BadRequest("`to` must be after `from`".into()));
    }
    let max_ms = i64::from(state.config().max_range_days) * 86_400_000;
    if to.millis() - from.millis() > max_ms {
        return Err(ApiError::BadRequest(format!(
            "range longer than {} days",
            state.config().max_range_days
        )));
    }
    Ok((from, to))
}

pub(crate) fn track_audit(
    who: &Principal,
    client: Client,
    action: String,
    v: VehicleId,
    from: Timestamp,
    to: Timestamp,
    rows: usize,
) -> AuditEntry {
    AuditEntry {
        actor: who.username.clone(),
        role: who.role.to_string(),
        action,
        vehicle: Some(v),
        from: Some(from),
        to: Some(to),
        remote: client.0,
        rows: rows as u64,
        detail: String::new(),
    }
}

/// `GET /api/units`
pub async fn units(
    State(state): State<ApiState>,
    who: Principal,
) -> ApiResult<Json<Vec<tianshu_model::Unit>>> {
    Ok(Json(Scoped::new(&state, &who).await?.units().await?))
}

/// `GET /api/vehicles`
pub async fn vehicles(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<Vehicle>>> {
    Ok(Json(Scoped::new(&state, &who).await?.vehicles().await?))
}

/// A vehicle with its latest position.
#[derive(Debug, Serialize)]
pub struct VehicleDetail {
    /// The registry record.
    #[serde(flatten)]
    pub vehicle: Vehicle,
    /// The latest committed position.
    pub latest: Option<LivePoint>,
    /// Who drives it: the last card sign-in of the past day, else the current order's driver.
    pub driver: Option<String>,
    /// The dispatch order or filing covering the latest fix (`id`, `purpose`, `start`, `end`...).
    pub order: Option<serde_json::Value>,
}

/// `GET /api/vehicles/{id}`
pub async fn vehicle(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<VehicleDetail>> {
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = scoped.vehicle(VehicleId(id)).await?;
    let latest_pos = state.store().latest_position(vehicle.id).await?;
    let latest = latest_pos.as_ref().map(LivePoint::from);
    let now = latest_pos.map_or_else(
        || Timestamp::from_millis(chrono::Utc::now().timestamp_millis()),
        |p| p.fix_time,
    );
    let order = state
        .store()
        .rules()
        .orders()
        .await?
        .into_iter()
        .filter(|o| o.plate == vehicle.plate && o.start <= now && now < o.end)
        .filter(|o| tianshu_rules::orders::OrderState::parse_covers(&o.state))
        .max_by_key(|o| o.start);
    let signed_in = state
        .store()
        .driver_events(vehicle.id, now.add_millis(-86_400_000), now.add_millis(1))
        .await?
        .into_iter()
        .rev()
        .find(|e| e.signed_in)
        .and_then(|e| e.name);
    let driver = signed_in.or_else(|| {
        order
            .as_ref()
            .and_then(|o| o.body.get("driver"))
            .and_then(|d| d.as_str())
            .map(str::to_string)
    });
    Ok(Json(VehicleDetail {
        vehicle,
        latest,
        driver,
        order: order.map(|o| o.body),
    }))
}

/// A terminal as listed (never its auth-code hash).
#[derive(Debug, Serialize)]
pub struct TerminalView {
    /// Phone number.
    pub phone: Phone,
    /// Terminal id.
    pub terminal_id: String,
    /// Edition last seen.
    pub edition: Option<tianshu_model::Edition>,
    /// Whether it has registered.
    pub registered: bool,
    /// Bound vehicle.
    pub vehicle: Option<VehicleId>,
}

/// `GET /api/terminals`
pub async fn terminals(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<TerminalView>>> {
    let scoped = Scoped::new(&state, &who).await?;
    let visible = scoped.vehicle_ids().await?;
    let list = state
        .store()
        .terminals()
        .await?
        .into_iter()
        .filter(|t| {
            visible
                .as_ref()
                .is_none_or(|s| t.vehicle.is_some_and(|v| s.contains(&v)))
        })
        .map(|t| TerminalView {
            phone: t.phone,
            terminal_id: t.terminal_id,
            edition: t.edition,
            registered: t.auth_code_hash.is_some(),
            vehicle: t.vehicle,
        })
        .collect();
    Ok(Json(list))
}

/// `GET /api/positions/latest`
pub async fn latest(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<LivePoint>>> {
    let pts = Scoped::new(&state, &who).await?.latest_positions().await?;
    Ok(Json(pts.iter().map(LivePoint::from).collect()))
}

/// `GET /api/positions` query: a vehicle (by plate or id) and a range.
#[derive(Debug, Deserialize)]
pub struct PositionsQuery {
    /// Licence plate.
    pub plate: Option<String>,
    /// Vehicle id.
    pub vehicle: Option<i64>,
    /// Start (ISO-8601 UTC).
    pub from: String,
    /// End (ISO-8601 UTC).
    pub to: String,
}

async fn resolve_vehicle(scoped: &Scoped, plate: Option<&str>, id: Option<i64>) -> ApiResult<Vehicle> {
    match (plate, id) {
        (Some(p), _) => scoped.vehicle_by_plate(p).await,
        (None, Some(id)) => scoped.vehicle(VehicleId(id)).await,
        (None, None) => Err(ApiError::BadRequest("give `plate` or `vehicle`".into())),
    }
}

/// `GET /api/positions?plate=&from=&to=`: every stored point of the range, audited.
pub async fn positions(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Query(q): Query<PositionsQuery>,
) -> ApiResult<Json<Vec<Position>>> {
    let (from, to) = parse_range(
        &state,
        &RangeQuery {
            from: q.from.clone(),
            to: q.to.clone(),
        },
    )?;
    let scoped = Scoped::new(&state, &who).await?;
    let v = resolve_vehicle(&scoped, q.plate.as_deref(), q.vehicle).await?;
    let pts: Vec<Position> = scoped.track(v.id, from, to).await?.try_collect().await?;
    audit(
        &state,
        track_audit(&who, client, "positions".into(), v.id, from, to, pts.len()),
    )
    .await?;
    crate::metrics::metrics()
        .tracks_served
        .with_label_values(&["json"])
        .inc();
    Ok(Json(pts))
}

/// `GET /api/vehicles/{id}/track` query.
#[derive(Debug, Deserialize)]
pub struct TrackQuery {
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
    /// `geojson` (default), `gpx`, `kml` or `csv`.
    #[serde(default)]
    pub format: Option<Format>,
}

/// `GET /api/vehicles/{id}/track?from=&to=&format=`: a full-detail export, audited.
pub async fn track_export(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Query(q): Query<TrackQuery>,
) -> ApiResult<Response> {
    let (from, to) = parse_range(
        &state,
        &RangeQuery {
            from: q.from,
            to: q.to,
        },
    )?;
    let format = q.format.unwrap_or(Format::Geojson);
    let scoped = Scoped::new(&state, &who).await?;
    let v = scoped.vehicle(VehicleId(id)).await?;
    // Format while the rows stream in; nothing leaves before the audit record is written.
    let mut writer = export::TrackWriter::new(format, &v, from, to);
    let mut rows = scoped.track(v.id, from, to).await?;
    while let Some(p) = rows.try_next().await? {
        writer.push(&p);
    }
    let entry = track_audit(
        &who,
        client,
        format!("export.{}", format.as_str()),
        v.id,
        from,
        to,
        writer.len(),
    );
    audit(&state, entry).await?;
    crate::metrics::metrics()
        .tracks_served
        .with_label_values(&[format.as_str()])
        .inc();
    let body = writer.finish();
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let disposition = format!(
        "attachment; filename=\"track-{id}-{}.{}\"",
        from.secs(),
        format.extension()
    );
    if let Ok(h) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(CONTENT_DISPOSITION, h);
    }
    Ok(resp)
}

/// `GET /api/vehicles/{id}/replay` query.
#[derive(Debug, Deserialize)]
pub struct ReplayQuery {
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
    /// Display tolerance in metres (0: every point); default from the configuration.
    #[serde(default)]
    pub tolerance_m: Option<f64>,
}

/// What the replay view draws.
#[derive(Debug, Serialize)]
pub struct Replay {
    /// The vehicle.
    pub vehicle: Vehicle,
    /// Range start.
    pub from: Timestamp,
    /// Range end.
    pub to: Timestamp,
    /// Points stored in the range.
    pub total_points: usize,
    /// Points for display: `[t_ms, lon, lat, kmh, course, acc(0/1), alarm]`.
    pub points: Vec<(i64, f64, f64, f64, u16, u8, u32)>,
    /// Stops.
    pub stops: Vec<Stop>,
    /// Trips.
    pub trips: Vec<Trip>,
    /// The vehicle's alert cases in the range (episodes on the timeline).
    pub cases: Vec<CaseView>,
}

/// `GET /api/vehicles/{id}/replay?from=&to=`: the track simplified for display, with stops, trips and
/// cases; audited.
pub async fn replay(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Query(q): Query<ReplayQuery>,
) -> ApiResult<Json<Replay>> {
    let (from, to) = parse_range(
        &state,
        &RangeQuery {
            from: q.from,
            to: q.to,
        },
    )?;
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = scoped.vehicle(VehicleId(id)).await?;
    let full: Vec<Position> = scoped.track(vehicle.id, from, to).await?.try_collect().await?;
    audit(
        &state,
        track_audit(&who, client, "replay".into(), vehicle.id, from, to, full.len()),
    )
    .await?;
    crate::metrics::metrics()
        .tracks_served
        .with_label_values(&["replay"])
        .inc();
    let tolerance_m = q
        .tolerance_m
        .unwrap_or(state.config().simplify_tolerance_m)
        .clamp(0.0, 1000.0);
    let (trips, stops) = trips_and_stops(&full);
    let shown = if tolerance_m > 0.0 {
        simplify_track(&full, tolerance_m)
    } else {
        full.clone()
    };
    let points = shown
        .iter()
        .map(|p| {
            (
                p.fix_time.millis(),
                p.lon(),
                p.lat(),
                p.speed_kmh(),
                p.course_deg,
                u8::from(p.status.acc_on()),
                p.alarm.0,
            )
        })
        .collect();
    let filter = CaseFilter {
        vehicle: Some(vehicle.id),
        limit: 500,
        ..Default::default()
    };
    let cases = state
        .cases()
        .list(&filter)
        .await
        .map_err(case_err)?
        .into_iter()
        .filter(|c| case_overlaps(c, from, to))
        .collect();
    Ok(Json(Replay {
        vehicle,
        from,
        to,
        total_points: full.len(),
        points,
        stops,
        trips,
        cases,
    }))
}

fn case_overlaps(c: &CaseView, from: Timestamp, to: Timestamp) -> bool {
    let t = |k: &str| {
        c.detail
            .get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| Timestamp::parse_rfc3339(s).ok())
    };
    match (t("start").or(t("opened")), t("end")) {
        (Some(s), Some(e)) => s < to && e >= from,
        (Some(s), None) => s < to && s >= from,
        _ => true,
    }
}

fn case_err(e: CaseError) -> ApiError {
    match e {
        CaseError::NotFound(id) => ApiError::NotFound(format!("case {id}")),
        CaseError::InvalidTransition(m) => ApiError::Conflict(m),
        CaseError::Unavailable(m) => ApiError::Unavailable(m),
    }
}

/// `GET /api/cases` query.
#[derive(Debug, Deserialize)]
pub struct CasesQuery {
    /// Only this state.
    pub state: Option<String>,
    /// Only this vehicle.
    pub vehicle: Option<i64>,
    /// At most this many (default 200).
    pub limit: Option<usize>,
}

/// `GET /api/cases`: cases in scope, newest first.
pub async fn cases(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<CasesQuery>,
) -> ApiResult<Json<Vec<CaseView>>> {
    let scoped = Scoped::new(&state, &who).await?;
    if let Some(v) = q.vehicle {
        scoped.vehicle(VehicleId(v)).await?;
    }
    let filter = CaseFilter {
        state: q.state,
        vehicle: q.vehicle.map(VehicleId),
        vehicles: scoped.vehicle_ids().await?,
        units: scoped.unit_ids(),
        limit: q.limit.unwrap_or(200).min(2000),
    };
    let mut list = state.cases().list(&filter).await.map_err(case_err)?;
    // The engine is asked to filter; the scope is enforced here regardless.
    if let Some(ids) = &filter.vehicles {
        list.retain(|c| ids.contains(&c.vehicle));
    }
    Ok(Json(list))
}

async fn scoped_case(state: &ApiState, scoped: &Scoped, id: &str) -> ApiResult<CaseView> {
    match state.cases().get(id).await.map_err(case_err)? {
        Some(c) => {
            scoped.vehicle(c.vehicle).await?;
            Ok(c)
        }
        None if !scoped.sees_all() => Err(ApiError::Forbidden),
        None => Err(ApiError::NotFound(format!("case {id}"))),
    }
}

/// `GET /api/cases/{id}`
pub async fn case(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseView>> {
    let scoped = Scoped::new(&state, &who).await?;
    Ok(Json(scoped_case(&state, &scoped, &id).await?))
}

/// `POST /api/cases/{id}/actions` with `{"action":"acknowledge"|"explain"|"close"|"escalate",...}`.
pub async fn case_action(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<String>,
    Json(action): Json<CaseAction>,
) -> ApiResult<Json<CaseView>> {
    let scoped = Scoped::new(&state, &who).await?;
    let case = scoped_case(&state, &scoped, &id).await?;
    let name = serde_json::to_value(&action)
        .ok()
        .and_then(|v| v["action"].as_str().map(str::to_string))
        .unwrap_or_default();
    let after = state
        .cases()
        .apply(&id, &action, &who.username)
        .await
        .map_err(case_err)?;
    audit(
        &state,
        AuditEntry {
            actor: who.username.clone(),
            role: who.role.to_string(),
            action: format!("case.{name}"),
            vehicle: Some(case.vehicle),
            remote: client.0,
            detail: format!("case {id}: {} -> {}", case.state, after.state),
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(after))
}

/// `POST /api/vehicles/{id}/commands`: a downlink command to the vehicle's terminal, audited; answers with
/// what the terminal answered (see [`CommandOutcome`]).
pub async fn command(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Json(cmd): Json<TerminalCommand>,
) -> ApiResult<Response> {
    let scoped = Scoped::new(&state, &who).await?;
    let v = scoped.vehicle(VehicleId(id)).await?;
    if matches!(&cmd, TerminalCommand::Text { text } if text.trim().is_empty()) {
        return Err(ApiError::BadRequest("the text to the driver is empty".into()));
    }
    let Some(downlink) = state.downlink() else {
        return Err(ApiError::Unavailable("no gateway runs in this process".into()));
    };
    let outcome = downlink.send(v.id, &cmd).await.map_err(ApiError::Unavailable)?;
    let outcome_name = match &outcome {
        CommandOutcome::Answered { .. } => "answered",
        CommandOutcome::Refused { .. } => "refused",
        CommandOutcome::NotConnected => "not_connected",
        CommandOutcome::TimedOut => "timed_out",
    };
    audit(
        &state,
        AuditEntry {
            actor: who.username.clone(),
            role: who.role.to_string(),
            action: "command".into(),
            vehicle: Some(v.id),
            remote: client.0,
            detail: format!(
                "{} outcome={outcome_name}",
                serde_json::to_string(&cmd).unwrap_or_default()
            ),
            ..Default::default()
        },
    )
    .await?;
    // The terminal's answer (a refusal included) is 200; no terminal 409; no answer in time 504.
    let status = match outcome {
        CommandOutcome::Answered { .. } | CommandOutcome::Refused { .. } => StatusCode::OK,
        CommandOutcome::NotConnected => StatusCode::CONFLICT,
        CommandOutcome::TimedOut => StatusCode::GATEWAY_TIMEOUT,
    };
    Ok((status, Json(outcome)).into_response())
}

/// `GET /api/audit` query.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Records after this sequence number (default 0).
    pub after: Option<i64>,
    /// At most this many (default 500, at most 10000).
    pub limit: Option<u32>,
}

/// `GET /api/audit`: the audit log, for administrators.
pub async fn audit_log(
    State(state): State<ApiState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    let list = state
        .store()
        .access()
        .audit(q.after.unwrap_or(0), q.limit.unwrap_or(500).min(10_000))
        .await?;
    Ok(Json(list))
}

/// `GET /api/users`
pub async fn users(State(state): State<ApiState>) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(state.store().access().users().await?))
}

/// `POST /api/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// Password (at least 8 characters).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Unit id (required for supervisors).
    pub unit: Option<i64>,
}

/// Checks a new user's fields; shared with `tianshu user add`.
pub fn validate_new_user(
    username: &str,
    password: &str,
    role: Role,
    unit: Option<UnitId>,
) -> Result<(), String> {
    if username.trim().is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
        return Err("username must be 1-64 characters without spaces".into());
    }
    if password.chars().count() < 8 {
        return Err("password must have at least 8 characters".into());
    }
    if role == Role::Supervisor && unit.is_none() {
        return Err("a supervisor needs a unit".into());
    }
    Ok(())
}

/// `POST /api/users`: an administrator creates a user.
pub async fn create_user(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Json(req): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let unit = req.unit.map(UnitId);
    validate_new_user(&req.username, &req.password, req.role, unit).map_err(ApiError::BadRequest)?;
    if let Some(u) = unit
        && !state.store().units().await?.iter().any(|x| x.id == u)
    {
        return Err(ApiError::BadRequest(format!("no unit {u}")));
    }
    let password = req.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(ApiError::Unavailable)?;
    let user = state
        .store()
        .access()
        .create_user(&NewUser {
            username: req.username,
            role: req.role,
            unit,
            password_hash,
        })
        .await
        .map_err(|e| match e {
            tianshu_store::Error::Invalid { reason, .. } => ApiError::Conflict(reason),
            e => e.into(),
        })?;
    audit(
        &state,
        AuditEntry {
            actor: who.username.clone(),
            role: who.role.to_string(),
            action: "user.create".into(),
            remote: client.0,
            detail: format!("{} as {}", user.username, user.role),
            ..Default::default()
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `DELETE /api/users/{username}`
pub async fn delete_user(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    if !state.store().access().delete_user(&username).await? {
        return Err(ApiError::NotFound(format!("user {username}")));
    }
    audit(
        &state,
        AuditEntry {
            actor: who.username.clone(),
            role: who.role.to_string(),
            action: "user.delete".into(),
            remote: client.0,
            detail: username,
            ..Default::default()
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/config`: what the page needs to draw the map.
pub async fn page_config(State(state): State<ApiState>) -> Json<crate::config::BasemapConfig> {
    Json(state.config().basemap.clone())
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the store answers.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    match state.store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// `GET /metrics`: Prometheus text format of the default registry.
pub async fn metrics() -> Response {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let enc = prometheus::TextEncoder::new();
    match enc.encode(&prometheus::default_registry().gather(), &mut buf) {
        Ok(()) => ([(CONTENT_TYPE, enc.format_type().to_string())], buf).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

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
    pub violations: std::collections::BTreeMap<String, usize>,
}

/// `GET /api/vehicles/{id}/report?month=YYYY-MM`: mileage, trips, time in use and violations of one
/// car in one month; audited like a replay.
pub async fn monthly_report(
    State(state): State<ApiState>,
    who: Principal,
    client: Client,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<MonthlyReport>> {
    use chrono::{Datelike, NaiveDate, TimeZone};
    let bad = || ApiError::BadRequest(format!("month {:?}: expected YYYY-MM", q.month));
    let (y, m) = q.month.split_once('-').ok_or_else(bad)?;
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
    let (from, to) = (at_midnight(first)?, at_midnight(next)?);
    let scoped = Scoped::new(&state, &who).await?;
    let vehicle = scoped.vehicle(VehicleId(id)).await?;
    let pts: Vec<Position> = scoped.track(vehicle.id, from, to).await?.try_collect().await?;
    audit(
        &state,
        track_audit(&who, client, "report".into(), vehicle.id, from, to, pts.len()),
    )
    .await?;
    let (trips, _) = trips_and_stops(&pts);
    let odometer_km = {
        let mut readings = pts.iter().filter_map(|p| p.mileage_dkm);
        match (readings.next(), pts.iter().rev().find_map(|p| p.mileage_dkm)) {
            (Some(a), Some(b)) if b >= a => Some(f64::from(b - a) / 10.0),
            _ => None,
        }
    };
    let days_used: std::collections::BTreeSet<_> =
        trips.iter().map(|t| t.from.to_china().date_naive()).collect();
    let filter = CaseFilter {
        vehicle: Some(vehicle.id),
        limit: 2000,
        ..Default::default()
    };
    let mut violations = std::collections::BTreeMap::new();
    for c in state.cases().list(&filter).await.map_err(case_err)? {
        let start = c
            .detail
            .get("start")
            .and_then(|v| v.as_str())
            .and_then(|s| Timestamp::parse_rfc3339(s).ok());
        if start.is_some_and(|s| s >= from && s < to) {
            let rule = c
                .detail
                .get("rule")
                .and_then(|v| v.as_str())
                .unwrap_or("other")
                .to_string();
            *violations.entry(rule).or_insert(0) += 1;
        }
    }
    Ok(Json(MonthlyReport {
        month: format!("{y:04}-{m:02}"),
        from,
        to,
        points: pts.len(),
        trips: trips.len(),
        distance_km: (trips.iter().map(|t| t.distance_m).sum::<f64>() / 100.0).round() / 10.0,
        odometer_km,
        hours_in_use: (trips
            .iter()
            .map(|t| (t.to.millis() - t.from.millis()) as f64)
            .sum::<f64>()
            / 36_000.0)
            .round()
            / 100.0,
        days_used: days_used.len(),
        violations,
        vehicle,
    }))
}

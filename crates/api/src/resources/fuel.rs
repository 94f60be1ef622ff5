//! Fuel cards: `GET /api/fuel/cards`, `PATCH /api/fuel/cards/{number}`, `GET /api/fuel/profiles`,
//! `PUT /api/fuel/profiles/{vehicle}`, `GET /api/fuel/stations`, `POST /api/fuel/statements` (an issuer's
//! statement, CSV or XLSX, as the body) and `GET /api/fuel/findings`.
//!
//! A supervisor sees the cards, profiles and findings of their units only. The checks of a card change
//! and of a profile are the model's (400 naming the field); each administrative change commits with its
//! audit record. An upload answers what was stored, what was already there, each refused row by line
//! and column, and how many findings and new cases the checks made.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tianshu_model::fuel::{Card, CardChange, FuelProfile, Station, TextEncoding};
use tianshu_model::{Timestamp, UnitId, VehicleId};
use tianshu_store::access::AuditEntry;
use tianshu_store::fuel::{FindingFilter, StoredFinding};

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};
use crate::fuel::{StatementReport, import_statement, read_statement_file};
use crate::scope::Scoped;

/// `GET /api/fuel/cards`: the cards of the units in scope.
pub async fn cards(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<Card>>> {
    let scope = Scoped::new(&state, &who).await?;
    let units = scope.unit_ids();
    Ok(Json(state.store().fuel().cards(units.as_deref()).await?))
}

fn describe_card(c: &Card, e: &mut AuditEntry) {
    e.detail = format!(
        "card {} {} vehicle {:?} limits {:?}/{:?}",
        c.number,
        c.state.as_str(),
        c.vehicle.map(|v| v.0),
        c.limit_fill_fen,
        c.limit_month_fen
    );
}

/// `PATCH /api/fuel/cards/{number}`: binding, state, state date and reason, limits.
pub async fn update_card(
    caller: Caller,
    Path(number): Path<String>,
    Body(change): Body<CardChange>,
) -> ApiResult<Json<Card>> {
    let fuel = caller.state.store().fuel();
    let card = caller
        .commit(
            "fuel.card.update",
            change.vehicle.flatten(),
            format!("card {number}"),
            describe_card,
            fuel.update_card(&number, &change, Timestamp::now()),
        )
        .await?;
    Ok(Json(card))
}

/// A car's fuel profile on the wire.
#[derive(Debug, Serialize)]
pub struct ProfileView {
    /// The car.
    pub vehicle: VehicleId,
    /// Its profile (entered, or its class's default).
    #[serde(flatten)]
    pub profile: FuelProfile,
}

/// `GET /api/fuel/profiles`: the fuel profiles of the cars in scope.
pub async fn profiles(State(state): State<ApiState>, who: Principal) -> ApiResult<Json<Vec<ProfileView>>> {
    let scope = Scoped::new(&state, &who).await?;
    let seen = scope.vehicle_ids().await?;
    let all = state.store().fuel().profiles().await?;
    Ok(Json(
        all.into_iter()
            .filter(|(v, _)| seen.as_ref().is_none_or(|s| s.contains(v)))
            .map(|(vehicle, profile)| ProfileView { vehicle, profile })
            .collect(),
    ))
}

fn describe_profile(p: &FuelProfile, e: &mut AuditEntry) {
    e.detail = format!(
        "tank {} L, {} L/100 km, {}",
        p.tank_litres,
        p.rated_l_per_100km,
        p.fuel.as_str()
    );
}

/// `PUT /api/fuel/profiles/{vehicle}`: tank_litres, rated_l_per_100km, fuel.
pub async fn set_profile(
    caller: Caller,
    Path(vehicle): Path<i64>,
    Body(profile): Body<FuelProfile>,
) -> ApiResult<Json<FuelProfile>> {
    let v = VehicleId(vehicle);
    let fuel = caller.state.store().fuel();
    let p = caller
        .commit(
            "fuel.profile.set",
            Some(v),
            String::new(),
            describe_profile,
            fuel.set_profile(v, profile),
        )
        .await?;
    Ok(Json(p))
}

/// `GET /api/fuel/stations`: every station, positions in WGS-84.
pub async fn stations(State(state): State<ApiState>, _who: Principal) -> ApiResult<Json<Vec<Station>>> {
    Ok(Json(state.store().fuel().stations().await?))
}

/// The query of an upload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name (`.xlsx` is read as a workbook).
    #[serde(default)]
    pub name: String,
    /// The issuer's column layout (`tianshu`, `sinopec`, `petrochina`); detected from the header by default.
    pub layout: Option<String>,
    /// `utf8` or `gbk`; detected by default.
    pub encoding: Option<TextEncoding>,
}

/// `POST /api/fuel/statements?name=&layout=&encoding=`: the statement file as the body. The upload is
/// audited (`fuel.statement`: who, which file, rows stored, already stored and refused) before the
/// answer leaves.
pub async fn upload(
    caller: Caller,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> ApiResult<Json<StatementReport>> {
    let (state, who) = (&caller.state, &caller.who);
    let (parsed, encoding) = read_statement_file(&body, &q.name, q.layout.as_deref(), q.encoding)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let name = if q.name.is_empty() { "upload" } else { &q.name };
    let source = format!("{name} by {}", who.username);
    let cfg = state.fuel_config();
    let notifier = state.fuel_notifier();
    let now = Timestamp::now();
    let report = import_statement(state.store(), &cfg, parsed, encoding, &source, notifier, now).await?;
    let entry = AuditEntry {
        rows: report.stored as u64,
        detail: format!(
            "statement {name:?} ({}): {} stored, {} already stored, {} refused; {} findings, {} cases opened",
            report.format,
            report.stored,
            report.duplicates,
            report.errors.len(),
            report.findings,
            report.cases_opened
        ),
        ..audit::entry(who, caller.client.clone(), "fuel.statement")
    };
    audit::record(state, entry).await?;
    Ok(Json(report))
}

/// The query of the findings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsQuery {
    /// Only this unit.
    pub unit: Option<i64>,
    /// Only this check (`not_at_station`, `over_tank`, ...).
    pub check: Option<String>,
    /// Fills at or after (RFC 3339).
    pub from: Option<Timestamp>,
    /// Fills before.
    pub to: Option<Timestamp>,
    /// At most this many (default 1000).
    #[serde(default)]
    pub limit: u32,
}

/// `GET /api/fuel/findings`: the findings of the fills of the units in scope, newest first.
pub async fn findings(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<FindingsQuery>,
) -> ApiResult<Json<Vec<StoredFinding>>> {
    let scope = Scoped::new(&state, &who).await?;
    let units = match q.unit {
        Some(u) => {
            scope.unit(UnitId(u)).await?;
            Some(vec![UnitId(u)])
        }
        None => scope.unit_ids(),
    };
    let f = FindingFilter {
        units,
        check: q.check,
        from: q.from,
        to: q.to,
        limit: q.limit,
    };
    Ok(Json(state.store().fuel().findings(&f).await?))
}

//! Findings and the office's figures: `PUT /api/cases/{id}/finding`, `GET /api/cases/{id}/finding`
//! and `GET /api/casework/summary?from&to&unit&format=json|csv|xlsx&lang=zh|en`.
//!
//! A finding's checks (what each outcome holds, the configured violation types, which case states take
//! one) and the figures' counting are the rules' (`tianshu_rules::casework`); a finding commits with its
//! audit record, and closes an explained or escalated case in the same transaction. Inspectors enter
//! findings; the unit's supervisors read them through the cases' scope.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tianshu_model::complaint::{Accountable, Finding, FindingOutcome};
use tianshu_model::{Lang, Timestamp, UnitId};
use tianshu_rules::casework::{self, FindingInput};
use tianshu_store::access::AuditEntry;
use tianshu_store::casework::FindingWrite;

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};
use crate::scope::{Scoped, subtree};
use crate::table::Cell;

/// `PUT /api/cases/{id}/finding` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingBody {
    /// `unfounded`, `explained` or `confirmed`.
    pub outcome: FindingOutcome,
    /// The violation type (confirmed only), from `[web.casework] violation_types`.
    pub violation: Option<String>,
    /// The people held to account (confirmed only).
    #[serde(default)]
    pub people: Vec<Accountable>,
    /// Amount recovered, yuan (two decimals at most).
    #[serde(default)]
    pub recovered_yuan: f64,
    /// The date decided, `YYYY-MM-DD` (default: today, local).
    pub decided: Option<String>,
    /// A note.
    #[serde(default)]
    pub note: String,
}

fn today() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::seconds(i64::from(tianshu_model::CHINA_OFFSET_SECS))).date_naive()
}

fn date(field: &str, s: &str) -> ApiResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::BadRequest(format!("{field}: {s:?} is not a date YYYY-MM-DD")))
}

/// `PUT /api/cases/{id}/finding`: records (or replaces) what a case was found to be; refused on a case
/// still open or only acknowledged.
pub async fn put_finding(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Body(b): Body<FindingBody>,
) -> ApiResult<Json<Finding>> {
    let scoped = Scoped::new(&state, &who).await?;
    let case = scoped.stored_case(id).await?;
    if !b.recovered_yuan.is_finite() || b.recovered_yuan > 1e12 {
        return Err(ApiError::BadRequest("recovered_yuan: not an amount".into()));
    }
    let fen = (b.recovered_yuan * 100.0).round();
    if (fen / 100.0 - b.recovered_yuan).abs() > 1e-6 {
        return Err(ApiError::BadRequest(
            "recovered_yuan: at most two decimals".into(),
        ));
    }
    let input = FindingInput {
        outcome: b.outcome,
        violation: b
            .violation
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
        people: b.people,
        recovered_fen: fen as i64,
    };
    casework::check_finding(&input, &state.config().casework.violation_types)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let decided = b
        .decided
        .as_deref()
        .map(|d| date("decided", d))
        .transpose()?
        .unwrap_or_else(today);
    if decided > today() {
        return Err(ApiError::BadRequest("decided: a date in the future".into()));
    }
    let write = FindingWrite {
        case_id: id,
        input,
        decided,
        note: b.note.trim().to_string(),
        actor: who.username.clone(),
    };
    let describe = |f: &Finding, e: &mut AuditEntry| {
        e.detail += &format!(
            "{}{}, {} people, {} fen",
            f.outcome,
            f.violation
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            f.people.len(),
            f.recovered_fen
        );
    };
    let audit = audit::of_change(
        &who,
        client,
        "case.finding",
        Some(case.vehicle),
        format!("case {id}: "),
        describe,
    );
    let f = state
        .store()
        .casework()
        .record_finding(&write, Timestamp::now())
        .audited(audit)
        .await?;
    Ok(Json(f))
}

/// `GET /api/cases/{id}/finding`: the finding of a case in scope (404 while it has none).
pub async fn get_finding(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Finding>> {
    Scoped::new(&state, &who).await?.stored_case(id).await?;
    match state.store().casework().finding(id).await? {
        Some(f) => Ok(Json(f)),
        None => Err(ApiError::NotFound(format!("finding of case {id}"))),
    }
}

/// `GET /api/casework/summary` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// First local day, `YYYY-MM-DD`, or an RFC 3339 instant.
    pub from: String,
    /// The local day after the last, `YYYY-MM-DD`, or an RFC 3339 instant (exclusive).
    pub to: String,
    /// Only this unit and the units below it.
    pub unit: Option<i64>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// The titles of a download: `zh` (default, as the page) or `en`.
    #[serde(default)]
    pub lang: Lang,
}

/// A bound of the period: a local date (its midnight, GMT+8) or an instant.
pub fn period_bound(field: &str, s: &str) -> ApiResult<(Timestamp, chrono::NaiveDate)> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        let day = tianshu_rules::calendar::day_number(d);
        return Ok((tianshu_rules::calendar::instant_of(day, 0), d));
    }
    let t = Timestamp::parse_rfc3339(s.trim())
        .map_err(|_| ApiError::BadRequest(format!("{field}: {s:?} is neither YYYY-MM-DD nor RFC 3339")))?;
    let d = tianshu_rules::calendar::date_of_day(tianshu_rules::calendar::local_day(t))
        .ok_or_else(|| ApiError::BadRequest(format!("{field}: out of range")))?;
    Ok((t, d))
}

/// `GET /api/casework/summary`: complaints received, forwarded, answered in time, overdue and answered
/// to the reporter; findings, confirmed by type, people dealt with, sanctioned, referred to the
/// judiciary, amount recovered; in total and by unit and month. A unit's supervisor counts their units.
pub async fn summary(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<SummaryQuery>,
) -> ApiResult<Response> {
    let (from, from_date) = period_bound("from", &q.from)?;
    let (to, to_date) = period_bound("to", &q.to)?;
    if to <= from {
        return Err(ApiError::BadRequest("`to` must be after `from`".into()));
    }
    let scoped = Scoped::new(&state, &who).await?;
    let all = state.store().units().await?;
    let units: Option<Vec<UnitId>> = match q.unit {
        Some(u) => {
            let root = scoped.unit(UnitId(u)).await?.id;
            Some(
                subtree(&all, root)
                    .into_iter()
                    .filter(|u| scoped.sees_unit(*u))
                    .collect(),
            )
        }
        None => scoped.unit_ids(),
    };
    let (complaints, findings) = state
        .store()
        .casework()
        .facts((from, to), (from_date, to_date), units)
        .await?;
    let s = casework::summarize(&complaints, &findings, Timestamp::now());
    let unit_name = |u: Option<UnitId>| {
        u.and_then(|u| all.iter().find(|x| x.id == u))
            .map_or_else(|| "-".to_string(), |u| u.name.clone())
    };
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let mut v = serde_json::to_value(&s).unwrap_or_default();
            if let Some(rows) = v.get_mut("rows").and_then(|r| r.as_array_mut()) {
                for r in rows {
                    let name = r["unit"]
                        .as_i64()
                        .and_then(|u| all.iter().find(|x| x.id.0 == u))
                        .map(|u| u.name.clone());
                    r["unit_name"] = name.into();
                }
            }
            Ok(Json(v).into_response())
        }
        "csv" => {
            let csv = casework::summary_csv(&s, q.lang, unit_name);
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"casework-summary.csv\"",
                    ),
                ],
                csv,
            )
                .into_response())
        }
        "xlsx" => {
            let lines = casework::summary_lines(&s, q.lang, unit_name);
            let table = crate::table::Table {
                sheet: "casework".into(),
                header: casework::summary_header(q.lang),
                rows: lines
                    .into_iter()
                    .map(|l| {
                        let mut row = vec![Cell::from(l.unit), Cell::from(l.month)];
                        row.extend(l.counts.iter().map(|n| Cell::Number(*n as f64)));
                        row.push(Cell::Number(l.recovered_fen as f64 / 100.0));
                        row.push(Cell::from(l.by_type));
                        row
                    })
                    .collect(),
            };
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"casework-summary.xlsx\"",
                    ),
                ],
                table.to_xlsx(),
            )
                .into_response())
        }
        other => Err(ApiError::BadRequest(format!(
            "format: {other:?} is not json, csv or xlsx"
        ))),
    }
}

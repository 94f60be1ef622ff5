//! Public complaints (举报): `POST /api/complaints`, `GET /api/complaints` (filters and paging),
//! `GET /api/complaints/{id}` (with its steps), `GET /api/complaints/{id}/evidence`,
//! `POST /api/complaints/{id}/forward`, `.../answer` (the unit's supervisors), `.../review` (accept or
//! send back: inspectors), `.../reply` (the answer to the reporter),
//! `POST /api/complaints/{id}/cases` (link a case or open one of kind `complaint`) and
//! `GET /api/complaints/{id}/reporter` (the number in clear, audited).
//!
//! The steps and their states, the deadline and the plate resolution are the rules'
//! (`tianshu_rules::casework`); every step commits with its audit record. A unit's supervisor sees only
//! the complaints forwarded to their units, and never the reporter: neither the name nor the number,
//! not even masked. The number is sealed before it is stored ([`crate::reporter`]) and shown in clear
//! only to the roles `[web.casework] unmask_roles` names, each time audited.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tianshu_model::complaint::{
    Channel, Complaint, ComplaintEvent, ComplaintFilter, ComplaintState, NewComplaint, mask_reporter_phone,
    normalise_reporter_phone,
};
use tianshu_model::{Timestamp, UnitId, VehicleId};
use tianshu_rules::calendar::{Calendar, YearCalendar};
use tianshu_rules::casework::{self, CaseworkError, ComplaintAction};
use tianshu_store::access::{AuditEntry, Role};
use tianshu_store::casework::{ComplaintCase, ComplaintStep, SteppedComplaint};

use crate::ApiState;
use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};
use crate::scope::Scoped;

fn bad(e: CaseworkError) -> ApiError {
    match e {
        CaseworkError::State { .. } => ApiError::Conflict(e.to_string()),
        CaseworkError::Invalid { .. } => ApiError::BadRequest(e.to_string()),
    }
}

fn time(field: &str, s: &str) -> ApiResult<Timestamp> {
    Timestamp::parse_rfc3339(s).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

/// A complaint as shown to the caller: the reporter masked (or left out, to a unit's supervisor),
/// whether it is overdue now.
#[derive(Debug, Serialize)]
pub struct ComplaintView {
    /// The complaint.
    #[serde(flatten)]
    pub complaint: Complaint,
    /// Whether its deadline passed without an answer.
    pub overdue: bool,
    /// Its steps (one complaint's page only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<ComplaintEvent>>,
}

/// Whether `role` is the unit's side, which never sees who complained.
fn unit_side(role: Role) -> bool {
    role.scoped_to_unit()
}

fn view(who: &Principal, mut c: Complaint, history: Option<Vec<ComplaintEvent>>) -> ComplaintView {
    if unit_side(who.role) {
        c.reporter_name = None;
        c.reporter_phone = None;
    }
    let overdue = casework::overdue(c.state, c.deadline, Timestamp::now());
    ComplaintView {
        complaint: c,
        overdue,
        history,
    }
}

/// `POST /api/complaints` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComplaintBody {
    /// When it was received (default: now).
    pub received: Option<String>,
    /// `hotline`, `12345`, `letter`, `web_form`, `in_person`, `discipline_commission`.
    pub channel: Channel,
    /// The reporter's name; absent: anonymous.
    pub reporter_name: Option<String>,
    /// The reporter's phone number.
    pub reporter_phone: Option<String>,
    /// What was reported.
    pub text: String,
    /// The place named.
    #[serde(default)]
    pub place: String,
    /// The plates named (whole, partial).
    #[serde(default)]
    pub plates: Vec<String>,
    /// Start of the time window named.
    pub window_from: Option<String>,
    /// End of the time window named.
    pub window_to: Option<String>,
}

/// `POST /api/complaints`: enters a complaint; the named cars are resolved at once, an unknown one
/// kept as written and flagged (`unresolved`).
pub async fn create(
    Caller { state, who, client }: Caller,
    Body(b): Body<NewComplaintBody>,
) -> ApiResult<(StatusCode, Json<ComplaintView>)> {
    let base = audit::entry(&who, client, "complaint.create");
    let c = enter(&state, b, &who.username, base).await?;
    Ok((StatusCode::CREATED, Json(view(&who, c, None))))
}

/// Checks a complaint as entered (by the desk or through the public form), seals the reporter's
/// number, resolves the named cars and stores it with its audit record (`base`, completed here).
pub(crate) async fn enter(
    state: &ApiState,
    b: NewComplaintBody,
    entered_by: &str,
    base: AuditEntry,
) -> ApiResult<Complaint> {
    let text = b.text.trim().to_string();
    if text.is_empty() {
        return Err(ApiError::BadRequest("text: what was reported is required".into()));
    }
    if b.plates.len() > 20 {
        return Err(ApiError::BadRequest("plates: at most 20".into()));
    }
    let received = b
        .received
        .as_deref()
        .map(|s| time("received", s))
        .transpose()?
        .unwrap_or_else(Timestamp::now);
    let window = match (b.window_from.as_deref(), b.window_to.as_deref()) {
        (None, None) => None,
        (Some(f), Some(t)) => {
            Some(casework::check_window(time("window_from", f)?, time("window_to", t)?).map_err(bad)?)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "window: give both window_from and window_to, or neither".into(),
            ));
        }
    };
    let (phone_sealed, phone_masked) = match b
        .reporter_phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => (None, None),
        Some(p) => {
            let p = normalise_reporter_phone(p)
                .map_err(|e| ApiError::BadRequest(format!("reporter_phone: {e}")))?;
            let key = state.reporter_key().ok_or_else(|| {
                ApiError::Unavailable("no reporter key is configured: a phone number cannot be stored".into())
            })?;
            (Some(key.seal(&p)), Some(mask_reporter_phone(&p)))
        }
    };
    let vehicles = state.store().vehicles().await?;
    let cars = b
        .plates
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| casework::resolve_car(p, &vehicles))
        .collect();
    let new = NewComplaint {
        received,
        channel: b.channel,
        reporter_name: b
            .reporter_name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        phone_sealed,
        phone_masked,
        text,
        place: b.place.trim().to_string(),
        window,
        cars,
        entered_by: entered_by.to_string(),
    };
    let describe = |c: &Complaint, e: &mut AuditEntry| {
        e.vehicle = c.cars.iter().find_map(|n| n.vehicle);
        e.detail = format!(
            "complaint {}: {} car(s), {} unresolved",
            c.id,
            c.cars.len(),
            c.cars.iter().filter(|n| !n.resolved()).count()
        );
    };
    let audit = audit::with_change(AuditEntry { rows: 1, ..base }, describe);
    Ok(state
        .store()
        .casework()
        .create(&new, Timestamp::now())
        .audited(audit)
        .await?)
}

/// `GET /api/complaints` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintsQuery {
    /// Only this state.
    pub state: Option<String>,
    /// Only complaints forwarded to this unit (and the units below it).
    pub unit: Option<i64>,
    /// Only this channel.
    pub channel: Option<String>,
    /// Received at or after.
    pub from: Option<String>,
    /// Received before.
    pub to: Option<String>,
    /// Only those with (or without) an unresolved car.
    pub unresolved: Option<bool>,
    /// Only those overdue now.
    pub overdue: Option<bool>,
    /// Text in what was reported, the place or the named cars.
    pub q: Option<String>,
    /// At most this many (default 50, at most 1000).
    pub limit: Option<u32>,
    /// Skip this many.
    pub offset: Option<u32>,
}

/// A page of complaints.
#[derive(Debug, Serialize)]
pub struct ComplaintPage {
    /// How many match in all.
    pub total: u64,
    /// This page, newest first.
    pub items: Vec<ComplaintView>,
}

/// `GET /api/complaints`: complaints matching the filters, newest first, a page at a time; a unit's
/// supervisor sees those forwarded to their units only.
pub async fn list(
    State(state): State<ApiState>,
    who: Principal,
    Query(q): Query<ComplaintsQuery>,
) -> ApiResult<Json<ComplaintPage>> {
    let scoped = Scoped::new(&state, &who).await?;
    let mut units = scoped.unit_ids();
    if let Some(u) = q.unit {
        let all = state.store().units().await?;
        let asked = crate::scope::subtree(&all, scoped.unit(UnitId(u)).await?.id);
        units = Some(asked.into_iter().filter(|u| scoped.sees_unit(*u)).collect());
    }
    let parse = |field: &str, s: &Option<String>| s.as_deref().map(|s| time(field, s)).transpose();
    let filter = ComplaintFilter {
        states: match q.state.as_deref() {
            None => Vec::new(),
            Some(s) => vec![
                ComplaintState::parse(s)
                    .ok_or_else(|| ApiError::BadRequest(format!("state: unknown {s:?}")))?,
            ],
        },
        units,
        channel: match q.channel.as_deref() {
            None => None,
            Some(s) => Some(
                Channel::parse(s).ok_or_else(|| ApiError::BadRequest(format!("channel: unknown {s:?}")))?,
            ),
        },
        from: parse("from", &q.from)?,
        to: parse("to", &q.to)?,
        unresolved: q.unresolved,
        overdue_at: q.overdue.filter(|o| *o).map(|_| Timestamp::now()),
        text: q.q.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
        limit: q.limit.unwrap_or(50).clamp(1, 1000),
        offset: q.offset.unwrap_or(0),
    };
    let (list, total) = state.store().casework().complaints(&filter).await?;
    Ok(Json(ComplaintPage {
        total,
        items: list.into_iter().map(|c| view(&who, c, None)).collect(),
    }))
}

/// `GET /api/complaints/{id}`: one complaint with its steps.
pub async fn one(
    State(state): State<ApiState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<ComplaintView>> {
    let c = Scoped::new(&state, &who).await?.complaint(id).await?;
    let history = state.store().casework().events(id).await?;
    Ok(Json(view(&who, c, Some(history))))
}

/// A step's body: `forward` takes `unit` (default: the first named car's), `days` or `deadline`;
/// `answer` and `reply` a `text` (`reply` also `how`: phone, letter, in person...); `review` a
/// `decision` (`accept` or `send_back`, the latter with a `text` and optionally a new `deadline`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// What was said.
    #[serde(default)]
    pub text: String,
    /// Forward: the unit.
    pub unit: Option<i64>,
    /// Forward: working days to answer (default `[web.casework] answer_days`).
    pub days: Option<u32>,
    /// Forward or send back: an explicit deadline instead, RFC 3339.
    pub deadline: Option<String>,
    /// Reply: how the reporter was answered.
    pub how: Option<String>,
    /// Review: `accept` or `send_back`.
    pub decision: Option<String>,
}

/// `POST /api/complaints/{id}/forward`: to the car's unit (or `unit`), due in `days` working days.
pub async fn forward(
    caller: Caller,
    Path(id): Path<i64>,
    Body(b): Body<StepBody>,
) -> ApiResult<Json<ComplaintView>> {
    act(caller, id, ComplaintAction::Forward, b).await
}

/// `POST /api/complaints/{id}/answer`: the unit's answer, only from a unit it was forwarded to.
pub async fn answer(
    caller: Caller,
    Path(id): Path<i64>,
    Body(b): Body<StepBody>,
) -> ApiResult<Json<ComplaintView>> {
    act(caller, id, ComplaintAction::Answer, b).await
}

/// `POST /api/complaints/{id}/review`: an inspector accepts the answer or sends it back.
pub async fn review(
    caller: Caller,
    Path(id): Path<i64>,
    Body(b): Body<StepBody>,
) -> ApiResult<Json<ComplaintView>> {
    let action = match b.decision.as_deref() {
        Some("accept") => ComplaintAction::Accept,
        Some("send_back") => ComplaintAction::SendBack,
        other => {
            return Err(ApiError::BadRequest(format!(
                "decision: {other:?} is not accept or send_back"
            )));
        }
    };
    act(caller, id, action, b).await
}

/// `POST /api/complaints/{id}/reply`: the answer to the reporter (when: now; how; what was said).
pub async fn reply(
    caller: Caller,
    Path(id): Path<i64>,
    Body(b): Body<StepBody>,
) -> ApiResult<Json<ComplaintView>> {
    act(caller, id, ComplaintAction::Reply, b).await
}

/// The holiday calendar the deadlines are counted with: the shipped years overlaid by stored ones.
async fn calendar(state: &ApiState) -> ApiResult<Calendar> {
    let mut cal = Calendar::builtin().map_err(|e| ApiError::Unavailable(format!("shipped calendar: {e}")))?;
    for c in state.store().rules().calendars().await? {
        if let Ok(y) = YearCalendar::parse_toml(&c.source) {
            cal.insert(y);
        }
    }
    Ok(cal)
}

/// One step, checked against the complaint's state under its row lock, committed with its audit record.
async fn act(
    Caller { state, who, client }: Caller,
    id: i64,
    action: ComplaintAction,
    b: StepBody,
) -> ApiResult<Json<ComplaintView>> {
    let scoped = Scoped::new(&state, &who).await?;
    let c = scoped.complaint(id).await?;
    let text = b.text.trim().to_string();
    if action.needs_note() && text.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "text: {} needs a text",
            action.as_str()
        )));
    }
    let t = Timestamp::now();
    let explicit = b.deadline.as_deref().map(|d| time("deadline", d)).transpose()?;
    let explicit = explicit
        .map(|d| casework::check_deadline(d, t))
        .transpose()
        .map_err(bad)?;
    let (mut unit, mut deadline) = (None, explicit);
    if b.decision.is_some() && !matches!(action, ComplaintAction::Accept | ComplaintAction::SendBack) {
        return Err(ApiError::BadRequest("decision: only a review takes one".into()));
    }
    if action == ComplaintAction::Forward {
        unit = match b.unit {
            Some(u) => Some(scoped.unit(UnitId(u)).await?.id),
            None => c.cars.iter().find_map(|n| n.unit),
        };
        if deadline.is_none() {
            let days = b.days.unwrap_or(state.config().casework.answer_days);
            if days == 0 || days > 60 {
                return Err(ApiError::BadRequest("days: 1 to 60 working days".into()));
            }
            deadline = Some(casework::deadline(&calendar(&state).await?, t, days));
        }
    }
    let note = match (action, b.how.as_deref().map(str::trim)) {
        (ComplaintAction::Reply, Some(how)) if !how.is_empty() => format!("[{how}] {text}"),
        _ => text,
    };
    // The unit's supervisors are told of a forward or a send-back through the alert channels, the
    // notifications queued with the step.
    let event = match action {
        ComplaintAction::Forward => Some("forwarded"),
        ComplaintAction::SendBack => Some("sent_back"),
        _ => None,
    };
    let deliveries = match (event, state.complaint_notifier()) {
        (Some(event), Some(notify)) => {
            let mut after = c.clone();
            after.state = action.to_state();
            after.unit = unit.or(after.unit);
            after.deadline = deadline.or(after.deadline);
            notify(after, event).await.map_err(ApiError::Unavailable)?
        }
        _ => Vec::new(),
    };
    let step = ComplaintStep {
        id,
        action,
        actor: who.username.clone(),
        note,
        unit,
        deadline,
        answering_units: if scoped.sees_all() {
            None
        } else {
            scoped.unit_ids()
        },
        deliveries,
    };
    let describe = |s: &SteppedComplaint, e: &mut AuditEntry| {
        e.vehicle = s.complaint.cars.iter().find_map(|n| n.vehicle);
        e.detail += &format!("{} -> {}", s.before, s.complaint.state);
    };
    let audit = audit::of_change(
        &who,
        client,
        &format!("complaint.{}", action.as_str()),
        None,
        format!("complaint {id}: "),
        describe,
    );
    let stepped = state.store().casework().step(&step, t).audited(audit).await?;
    let history = state.store().casework().events(id).await?;
    Ok(Json(view(&who, stepped.complaint, Some(history))))
}

/// `POST /api/complaints/{id}/cases` body: `{"case": 12}` links an existing case; `{"open": VEHICLE}`
/// opens a case of kind `complaint` for one of the complaint's cars.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseLinkBody {
    /// An existing case to link.
    pub case: Option<i64>,
    /// A named car to open a case of kind `complaint` for.
    pub open: Option<i64>,
}

/// `POST /api/complaints/{id}/cases`: links a case, or opens one (kind `complaint`) that goes through
/// the cases' workflow.
pub async fn link_case(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Body(b): Body<CaseLinkBody>,
) -> ApiResult<Json<ComplaintView>> {
    let scoped = Scoped::new(&state, &who).await?;
    scoped.complaint(id).await?;
    let t = Timestamp::now();
    let c = match (b.case, b.open) {
        (Some(case), None) => {
            let alert = scoped.stored_case(case).await?;
            let audit = audit::of_change(
                &who,
                client,
                "complaint.link",
                Some(alert.vehicle),
                format!("complaint {id}: case {case}"),
                audit::as_is,
            );
            state
                .store()
                .casework()
                .link(id, case, &who.username, t)
                .audited(audit)
                .await?
        }
        (None, Some(vehicle)) => {
            let v = scoped.vehicle(VehicleId(vehicle)).await?;
            let open = ComplaintCase {
                id,
                vehicle: v.id,
                unit: v.unit,
                actor: who.username.clone(),
                escalate_at: None,
            };
            let describe = |r: &(Complaint, i64), e: &mut AuditEntry| e.detail += &format!("case {}", r.1);
            let audit = audit::of_change(
                &who,
                client,
                "complaint.case_open",
                Some(v.id),
                format!("complaint {id}: "),
                describe,
            );
            state
                .store()
                .casework()
                .open_case(&open, t)
                .audited(audit)
                .await?
                .0
        }
        _ => return Err(ApiError::BadRequest("body: give either `case` or `open`".into())),
    };
    let history = state.store().casework().events(id).await?;
    Ok(Json(view(&who, c, Some(history))))
}

/// The reporter's number in clear.
#[derive(Debug, Serialize)]
pub struct Reporter {
    /// The name (absent: anonymous).
    pub name: Option<String>,
    /// The number.
    pub phone: Option<String>,
}

/// `GET /api/complaints/{id}/reporter`: the number in clear, for the roles `[web.casework]
/// unmask_roles` names (never a unit's supervisor); every look is audited before the answer leaves.
pub async fn reporter(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Reporter>> {
    if unit_side(who.role) || !state.config().casework.unmask_roles.contains(&who.role) {
        return Err(ApiError::Forbidden);
    }
    let c = Scoped::new(&state, &who).await?.complaint(id).await?;
    let phone = match state.store().casework().sealed_phone(id).await? {
        None => None,
        Some(sealed) => {
            let key = state
                .reporter_key()
                .ok_or_else(|| ApiError::Unavailable("no reporter key is configured".into()))?;
            Some(key.open(&sealed).map_err(ApiError::Unavailable)?)
        }
    };
    let entry = AuditEntry {
        rows: 1,
        detail: format!("complaint {id}: the reporter's number shown in clear"),
        ..audit::entry(&who, client, "complaint.unmask")
    };
    audit::record(&state, entry).await?;
    Ok(Json(Reporter {
        name: c.reporter_name,
        phone,
    }))
}

/// What one named car did over the complaint's window.
#[derive(Debug, Serialize)]
pub struct CarEvidence {
    /// The car.
    pub vehicle: VehicleId,
    /// Its plate.
    pub plate: String,
    /// Where it was at the window's start: the last point at or before it (or the first after).
    pub at_time: Option<crate::position::WirePosition>,
    /// Points in the window.
    pub points: usize,
    /// The track over the window, simplified as the replay draws it: `[longitude, latitude]`.
    pub line: Vec<[f64; 2]>,
    /// The replay of the window (API and page).
    pub replay: String,
    /// Orders and filings covering part of the window.
    pub orders: Vec<serde_json::Value>,
    /// Alert cases of the car that started in the window.
    pub cases: Vec<tianshu_model::case::AlertCase>,
}

/// The evidence of a complaint.
#[derive(Debug, Serialize)]
pub struct Evidence {
    /// The complaint.
    pub complaint: i64,
    /// The window looked at.
    pub from: Option<Timestamp>,
    /// Its end.
    pub to: Option<Timestamp>,
    /// Per resolved car (in the caller's scope).
    pub cars: Vec<CarEvidence>,
    /// What was named and not resolved, as written.
    pub unresolved: Vec<String>,
}

/// `GET /api/complaints/{id}/evidence`: for each named car, over the window: where it was at the named
/// time, its track (with a replay link), the orders and filings covering it and the alert cases
/// already raised. Each car's track is a look, audited before the answer leaves.
pub async fn evidence(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Evidence>> {
    let scoped = Scoped::new(&state, &who).await?;
    let c = scoped.complaint(id).await?;
    let mut out = Evidence {
        complaint: id,
        from: c.window_from,
        to: c.window_to,
        cars: Vec::new(),
        unresolved: c
            .cars
            .iter()
            .filter(|n| !n.resolved())
            .map(|n| n.text.clone())
            .collect(),
    };
    let (Some(from), Some(to)) = (c.window_from, c.window_to) else {
        return Ok(Json(out));
    };
    let max = i64::from(state.config().max_range_days) * 86_400_000;
    let to = Timestamp(to.0.min(from.0.saturating_add(max)));
    for named in &c.cars {
        let Some(vid) = named.vehicle else { continue };
        let Ok(v) = scoped.vehicle(vid).await else {
            continue;
        };
        let points = crate::resources::tracks::look_at_track(
            &state,
            &scoped,
            client.clone(),
            "complaint.evidence",
            v.id,
            (from, to),
        )
        .await?;
        // Where it was at the named time: the last fix before the window, else the first in it.
        let before: Option<tianshu_model::Position> = scoped
            .track(v.id, Timestamp(from.0 - 86_400_000), Timestamp(from.0 + 1))
            .await?
            .try_fold(None, |_, p| async move { Ok(Some(p)) })
            .await?;
        let at = before.or_else(|| points.first().cloned());
        let simplified = tianshu_rules::track::simplify_track(&points, state.config().simplify_tolerance_m);
        let orders = scoped
            .orders()
            .await?
            .into_iter()
            .filter(|o| o.plate == v.plate && o.start < to && o.end > from)
            .map(|o| serde_json::to_value(&o).unwrap_or_default())
            .collect();
        let cases = state
            .store()
            .cases()
            .cases(&tianshu_store::rules::CaseFilter {
                vehicle: Some(v.id),
                from: Some(Timestamp(from.0 - 86_400_000)),
                to: Some(to),
                limit: 200,
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|k| k.end.is_none_or(|e| e > from))
            .collect();
        out.cars.push(CarEvidence {
            vehicle: v.id,
            plate: v.plate.clone(),
            at_time: at.map(crate::position::WirePosition::from),
            points: points.len(),
            line: simplified.iter().map(|p| [p.lon(), p.lat()]).collect(),
            replay: format!(
                "/api/vehicles/{}/replay?from={}&to={}",
                v.id,
                from.to_rfc3339(),
                to.to_rfc3339()
            ),
            orders,
            cases,
        });
    }
    Ok(Json(out))
}

//! JT/T 809 platform checks (平台查岗) and supervision requests (报警督办): `GET /api/jt809/requests`,
//! `POST /api/jt809/requests/{id}/answer`, `POST /api/jt809/checks`, `POST /api/jt809/supervisions`; and
//! the alarm reports lower platforms sent here, `GET /api/jt809/alarms`.
//!
//! As a lower platform the dispatch office sees what its upper platforms asked and answers it here; the
//! link sends the answer up. As an upper platform the office asks a lower platform (one of
//! `[[jt809.lower]]`) and sees its answer come back. Texts, deadlines and results are checked by
//! `tianshu_jt809::duty` (a bad one is 400 naming it); each write commits with its audit record.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tianshu_jt809::duty::{
    MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, SupervisionResult, check_deadline, checked_text, is_late,
};
use tianshu_model::Timestamp;
use tianshu_store::access::AuditEntry;
use tianshu_store::jt809_requests::{Direction, KINDS, NewRequest, PlatformRequest};

use crate::ApiState;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};

/// `GET /api/jt809/requests` query.
#[derive(Debug, Deserialize)]
pub struct RequestsQuery {
    /// Only `check` or `supervision`.
    pub kind: Option<String>,
    /// At most this many (default 200).
    pub limit: Option<usize>,
}

/// A request as listed: the stored one, and whether it is late (answered after its deadline, or still
/// unanswered past it: shown in red).
#[derive(Debug, Serialize)]
pub struct RequestView {
    /// The request.
    #[serde(flatten)]
    pub request: PlatformRequest,
    /// Answered after the deadline, or not answered and past it.
    pub late: bool,
}

fn view(request: PlatformRequest, now: Timestamp) -> RequestView {
    RequestView {
        late: is_late(request.deadline, request.answered, now),
        request,
    }
}

/// `GET /api/jt809/requests`: newest first.
pub async fn list(
    State(state): State<ApiState>,
    _who: Principal,
    Query(q): Query<RequestsQuery>,
) -> ApiResult<Json<Vec<RequestView>>> {
    if let Some(kind) = q.kind.as_deref().filter(|k| !KINDS.contains(k)) {
        return Err(ApiError::BadRequest(format!(
            "kind {kind:?} is none of check, supervision"
        )));
    }
    let limit = q.limit.unwrap_or(200).min(2000);
    let list = state
        .store()
        .platform_requests()
        .list(q.kind.as_deref(), limit)
        .await?;
    let now = Timestamp::now();
    Ok(Json(list.into_iter().map(|r| view(r, now)).collect()))
}

/// `POST /api/jt809/requests/{id}/answer` body: a check's `text`, or a supervision's `result`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// The answer to a platform check.
    pub text: Option<String>,
    /// The result of a supervision: `handling`, `handled`, `not_handled` or `later`.
    pub result: Option<String>,
}

fn describe(r: &PlatformRequest, e: &mut AuditEntry) {
    e.detail = format!(
        "jt809 {} {} {} {} ({})",
        r.kind,
        r.id,
        r.direction.as_str(),
        r.peer,
        r.answer.as_deref().unwrap_or(&r.question)
    );
}

/// `POST /api/jt809/requests/{id}/answer`: answers a request received from an upper platform; 409
/// when it is answered already or was sent from here.
pub async fn answer(
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<AnswerBody>,
) -> ApiResult<Json<RequestView>> {
    let requests = caller.state.store().platform_requests();
    let request = requests.get(id).await?;
    let answer = match (request.kind.as_str(), body.text, body.result) {
        ("check", Some(text), None) => checked_text(&text, MAX_ANSWER_CHARS).map_err(|e| bad("text", e))?,
        ("supervision", None, Some(result)) => SupervisionResult::parse(&result)
            .map_err(|e| bad("result", e))?
            .as_str()
            .to_string(),
        (kind, ..) => {
            let wants = if kind == "check" { "text" } else { "result" };
            return Err(ApiError::BadRequest(format!(
                "a {kind} is answered with {wants} alone"
            )));
        }
    };
    let change = requests.answer(id, &answer, &caller.who.username, Timestamp::now());
    let r = caller
        .commit("jt809.answer", None, String::new(), describe, change)
        .await?;
    Ok(Json(view(r, Timestamp::now())))
}

fn bad(field: &str, reason: String) -> ApiError {
    ApiError::BadRequest(format!("{field}: {reason}"))
}

/// `POST /api/jt809/checks` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// The lower platform asked (its `[[jt809.lower]]` name).
    pub peer: String,
    /// The question.
    pub question: String,
    /// Minutes it has to answer (1 to 255; default 10).
    pub answer_minutes: Option<u8>,
}

/// `POST /api/jt809/supervisions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionBody {
    /// The lower platform asked.
    pub peer: String,
    /// The car whose alarm is supervised (taken from the alarm report when `alarm_id` is given).
    pub plate: Option<String>,
    /// WARN_TYPE of the alarm (the standard's alarm codes; from the report when `alarm_id` is given).
    pub warn_type: Option<u16>,
    /// When the alarm happened (default: now).
    pub warn_time: Option<Timestamp>,
    /// Minutes the lower platform has to handle it (1 to 255; default 10).
    pub answer_minutes: Option<u8>,
    /// The case it is about, here.
    pub case_id: Option<String>,
    /// An alarm report `peer` sent here (`GET /api/jt809/alarms`): its car, WARN_TYPE and time are
    /// supervised.
    pub alarm_id: Option<i64>,
}

/// The lower platform `peer` names, else 400 naming those there are.
fn lower_peer(state: &ApiState, peer: &str) -> ApiResult<String> {
    let peers = state.jt809_lower_peers();
    if peers.iter().any(|p| p == peer) {
        return Ok(peer.to_string());
    }
    Err(bad(
        "peer",
        format!(
            "{peer:?} is no lower platform of [[jt809.lower]] ({})",
            peers.join(", ")
        ),
    ))
}

fn minutes(m: Option<u8>) -> ApiResult<u8> {
    match m {
        Some(0) => Err(bad("answer_minutes", "must be at least 1".into())),
        Some(m) => Ok(m),
        None => Ok(0),
    }
}

/// A request to a lower platform, made here.
fn made(kind: &'static str, peer: String, question: String, answer_minutes: u8) -> NewRequest {
    let now = Timestamp::now();
    NewRequest {
        direction: Direction::Sent,
        kind,
        peer,
        ref_id: None,
        msg_sn: 0,
        object_type: 0,
        object_id: String::new(),
        plate: None,
        question,
        created: now,
        deadline: check_deadline(now, answer_minutes),
        warn_type: None,
        warn_time: None,
        case_id: None,
    }
}

async fn commit(caller: &Caller, action: &str, n: NewRequest) -> ApiResult<(StatusCode, Json<RequestView>)> {
    let change = caller.state.store().platform_requests().make(n);
    let (r, _) = caller
        .commit(action, None, String::new(), |(r, _), e| describe(r, e), change)
        .await?;
    Ok((StatusCode::CREATED, Json(view(r, Timestamp::now()))))
}

/// `POST /api/jt809/checks`: a platform check to a lower platform, sent while its link is up.
pub async fn check(
    caller: Caller,
    Body(body): Body<CheckBody>,
) -> ApiResult<(StatusCode, Json<RequestView>)> {
    let peer = lower_peer(&caller.state, &body.peer)?;
    let question = checked_text(&body.question, MAX_QUESTION_CHARS).map_err(|e| bad("question", e))?;
    let n = made("check", peer, question, minutes(body.answer_minutes)?);
    commit(&caller, "jt809.check", n).await
}

/// The car, WARN_TYPE and time a supervision names: those of alarm report `alarm_id` (which `peer` must
/// have sent), else the body's `plate` and `warn_type`.
async fn supervised_alarm(
    state: &ApiState,
    peer: &str,
    body: &SupervisionBody,
) -> ApiResult<(String, u16, Option<Timestamp>)> {
    let Some(id) = body.alarm_id else {
        let plate = body
            .plate
            .clone()
            .ok_or_else(|| bad("plate", "is required without alarm_id".into()))?;
        let warn_type = body
            .warn_type
            .ok_or_else(|| bad("warn_type", "is required without alarm_id".into()))?;
        return Ok((plate, warn_type, body.warn_time));
    };
    if body.plate.is_some() || body.warn_type.is_some() || body.warn_time.is_some() {
        return Err(bad(
            "alarm_id",
            "names the car and the alarm: leave out plate, warn_type and warn_time".into(),
        ));
    }
    let alarm = state
        .store()
        .jt809_alarms()
        .get(id)
        .await?
        .map(|a| a.alarm)
        .filter(|a| a.peer == peer)
        .ok_or_else(|| bad("alarm_id", format!("{id} is no alarm report {peer} sent here")))?;
    let warn_type = u16::try_from(alarm.warn_type).unwrap_or(0);
    Ok((alarm.plate, warn_type, Some(alarm.warn_time)))
}

/// `POST /api/jt809/supervisions`: a supervision request to a lower platform about one of its cars.
pub async fn supervise(
    caller: Caller,
    Body(body): Body<SupervisionBody>,
) -> ApiResult<(StatusCode, Json<RequestView>)> {
    let peer = lower_peer(&caller.state, &body.peer)?;
    let (plate, warn_type, warn_time) = supervised_alarm(&caller.state, &peer, &body).await?;
    let plate = checked_text(&plate, 20).map_err(|e| bad("plate", e))?;
    let mut n = made(
        "supervision",
        peer,
        format!("报警督办: {plate} 报警类型 {warn_type:#06x}"),
        minutes(body.answer_minutes)?,
    );
    n.object_id = caller.who.username.clone();
    n.plate = Some(plate);
    n.warn_type = Some(i64::from(warn_type));
    n.warn_time = Some(warn_time.unwrap_or(n.created));
    n.case_id = body.case_id;
    commit(&caller, "jt809.supervise", n).await
}

/// `GET /api/jt809/alarms` query.
#[derive(Debug, Deserialize)]
pub struct AlarmsQuery {
    /// Only this lower platform's (a `[[jt809.lower]]` name).
    pub peer: Option<String>,
    /// At most this many (default 200).
    pub limit: Option<usize>,
}

/// An alarm report as listed: the stored one and the standard's name of its WARN_TYPE.
#[derive(Debug, Serialize)]
pub struct AlarmView {
    /// The report.
    #[serde(flatten)]
    pub alarm: tianshu_store::jt809_alarms::StoredAlarm,
    /// The standard's name of WARN_TYPE (报警类型编码表), `null` for a code not in it.
    pub warn_type_name: Option<&'static str>,
}

/// `GET /api/jt809/alarms`: the alarm reports received from lower platforms, newest first.
pub async fn alarms(
    State(state): State<ApiState>,
    _who: Principal,
    Query(q): Query<AlarmsQuery>,
) -> ApiResult<Json<Vec<AlarmView>>> {
    let limit = q.limit.unwrap_or(200).min(2000);
    let list = state
        .store()
        .jt809_alarms()
        .list(q.peer.as_deref(), limit)
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|alarm| AlarmView {
                warn_type_name: u16::try_from(alarm.alarm.warn_type)
                    .ok()
                    .and_then(tianshu_jt809::alarm::warn_type_name),
                alarm,
            })
            .collect(),
    ))
}

//! The public intake of complaints, for anyone without a login, when `[web.casework] report_form` is
//! on (off by default: both routes answer 404 then): `GET /report`, a small page in Chinese or English
//! (`?lang=zh|en`) with a plain HTML form that needs no script, and `POST /api/report`, which takes
//! that form (`application/x-www-form-urlencoded`, answered with a page) or JSON (answered with JSON).
//!
//! A complaint filed here is entered like one of the desk (`complaints::enter`: the same checks, the
//! reporter's number sealed, the named cars resolved) with the channel `web_form`, by `public`, with an
//! audit record naming the address it came from. Each client address (the socket's peer, never a
//! header a client could set) may file `report_quota` complaints per `report_quota_secs`; one more is
//! refused with 429 and `Retry-After`, before anything is read or stored.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tianshu_model::complaint::Channel;
use tianshu_store::access::AuditEntry;

use crate::ApiState;
use crate::auth::{Client, Peer};
use crate::config::CaseworkConfig;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Query, parse_json};
use crate::resources::complaints::{NewComplaintBody, enter};
use crate::table::xml_escape;

/// Most addresses the quota keeps track of at once; past it, the oldest quiet ones are forgotten.
pub const MAX_TRACKED: usize = 16_384;

/// What each client address has filed within the quota's window.
pub struct IntakeQuota {
    limit: usize,
    window: Duration,
    filed: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl IntakeQuota {
    /// The quota of `config`.
    pub fn new(config: &CaseworkConfig) -> Self {
        IntakeQuota {
            limit: config.report_quota as usize,
            window: Duration::from_secs(config.report_quota_secs.max(1)),
            filed: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one complaint of `address`'s quota at `now` (the instant it was taken, to give it back if
    /// the complaint is not stored), or says how long until one is free.
    pub fn take(&self, address: IpAddr, now: Instant) -> Result<Instant, Duration> {
        let Ok(mut filed) = self.filed.lock() else {
            return Ok(now);
        };
        let window = self.window;
        let fresh = |t: &Instant| now.saturating_duration_since(*t) < window;
        if !filed.contains_key(&address) && filed.len() >= MAX_TRACKED {
            filed.retain(|_, times| times.back().is_some_and(fresh));
        }
        let times = filed.entry(address).or_default();
        while times.front().is_some_and(|t| !fresh(t)) {
            times.pop_front();
        }
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + window).saturating_duration_since(now));
        }
        times.push_back(now);
        Ok(now)
    }

    /// Gives back what [`IntakeQuota::take`] took at `at` (the complaint was refused or not stored).
    pub fn give_back(&self, address: IpAddr, at: Instant) {
        if let Ok(mut filed) = self.filed.lock()
            && let Some(times) = filed.get_mut(&address)
            && let Some(i) = times.iter().rposition(|t| *t == at)
        {
            times.remove(i);
        }
    }
}

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
}

/// Every text of the page, in one language.
struct Words {
    lang: &'static str,
    title: &'static str,
    intro: &'static str,
    name: &'static str,
    name_hint: &'static str,
    phone: &'static str,
    phone_hint: &'static str,
    plates: &'static str,
    plates_hint: &'static str,
    place: &'static str,
    from: &'static str,
    to: &'static str,
    text: &'static str,
    submit: &'static str,
    other: &'static str,
    thanks: &'static str,
    number: &'static str,
    again: &'static str,
    refused: &'static str,
    too_many: &'static str,
    back: &'static str,
}

const ZH: Words = Words {
    lang: "zh-CN",
    title: "公务用车举报",
    intro: "发现公务用车私用、节假日违规用车等问题，请在此举报。我们会转交车辆所属单位核查，并将处理结果告知您。您的电话号码加密保存，不会告知被举报单位。",
    name: "姓名",
    name_hint: "可不填（匿名举报）",
    phone: "联系电话",
    phone_hint: "用于告知处理结果，可不填",
    plates: "车牌号或车辆标识号",
    plates_hint: "可填部分号码，多辆车用逗号分隔",
    place: "地点",
    from: "开始时间",
    to: "结束时间",
    text: "举报内容",
    submit: "提交举报",
    other: "English",
    thanks: "举报已收到",
    number: "受理编号",
    again: "再提交一件",
    refused: "未能受理",
    too_many: "提交过于频繁，请稍后再试",
    back: "返回修改",
};

const EN: Words = Words {
    lang: "en",
    title: "Report the misuse of an official car",
    intro: "Seen an official car used privately, on a holiday or beyond its purpose? Report it here. We pass it to the car's unit to be checked and tell you what was done. Your phone number is stored encrypted and never given to the unit complained about.",
    name: "Name",
    name_hint: "optional (anonymous)",
    phone: "Phone",
    phone_hint: "to tell you the outcome; optional",
    plates: "Plate or marking number",
    plates_hint: "part of one is fine; separate several cars with commas",
    place: "Place",
    from: "From",
    to: "Until",
    text: "What happened",
    submit: "Send the report",
    other: "中文",
    thanks: "Your report was received",
    number: "Reference number",
    again: "Report another",
    refused: "The report was not accepted",
    too_many: "Too many reports from your address; please try again later",
    back: "Go back and correct it",
};

impl Lang {
    fn parse(s: Option<&str>) -> Self {
        match s.map(str::trim) {
            Some(l) if l.eq_ignore_ascii_case("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    fn words(self) -> &'static Words {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    fn other(self) -> &'static str {
        match self {
            Lang::Zh => "en",
            Lang::En => "zh",
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;\
color:#1f2933}h1{font-size:1.4rem}label{display:block;margin-top:.9rem;font-weight:600}\
small{font-weight:400;color:#52606d}input,textarea{width:100%;box-sizing:border-box;padding:.45rem;\
font:inherit;margin-top:.25rem}textarea{min-height:8rem}button{margin-top:1.2rem;padding:.6rem 1.4rem;\
font:inherit}.lang{float:right}.err{color:#b42318}";

fn page(lang: Lang, body: &str) -> String {
    let w = lang.words();
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
         <style>{STYLE}</style></head><body><a class=\"lang\" href=\"/report?lang={}\">{}</a>{body}</body></html>",
        w.lang,
        w.title,
        lang.other(),
        w.other
    )
}

fn form(lang: Lang) -> String {
    let w = lang.words();
    let field = |name: &str, label: &str, hint: &str, kind: &str| {
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!(" <small>{hint}</small>")
        };
        format!(
            "<label for=\"{name}\">{label}{hint}</label><input id=\"{name}\" name=\"{name}\" type=\"{kind}\">"
        )
    };
    page(
        lang,
        &format!(
            "<h1>{}</h1><p>{}</p><form method=\"post\" action=\"/api/report\">\
             <input type=\"hidden\" name=\"lang\" value=\"{}\">{}{}{}{}{}{}\
             <label for=\"text\">{}</label><textarea id=\"text\" name=\"text\" required></textarea>\
             <button type=\"submit\">{}</button></form>",
            w.title,
            w.intro,
            lang.code(),
            field("reporter_name", w.name, w.name_hint, "text"),
            field("reporter_phone", w.phone, w.phone_hint, "tel"),
            field("plates", w.plates, w.plates_hint, "text"),
            field("place", w.place, "", "text"),
            field("window_from", w.from, "", "datetime-local"),
            field("window_to", w.to, "", "datetime-local"),
            w.text,
            w.submit
        ),
    )
}

/// `GET /report` query.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// `zh` (default) or `en`.
    pub lang: Option<String>,
}

fn switched_off() -> ApiError {
    ApiError::NotFound("no route: the public report form is not switched on".into())
}

/// `GET /report`: the public form, when switched on.
pub async fn report_page(State(state): State<ApiState>, Query(q): Query<PageQuery>) -> ApiResult<Response> {
    if !state.config().casework.report_form {
        return Err(switched_off());
    }
    Ok(Html(form(Lang::parse(q.lang.as_deref()))).into_response())
}

/// The form as posted: every field text.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FormBody {
    lang: String,
    reporter_name: String,
    reporter_phone: String,
    plates: String,
    place: String,
    window_from: String,
    window_to: String,
    text: String,
}

/// `POST /api/report` as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicReport {
    /// The reporter's name; absent: anonymous.
    pub reporter_name: Option<String>,
    /// The reporter's phone number.
    pub reporter_phone: Option<String>,
    /// What was reported.
    pub text: String,
    /// The place named.
    #[serde(default)]
    pub place: String,
    /// Plates or marking numbers (whole or partial).
    #[serde(default)]
    pub plates: Vec<String>,
    /// Start of the time window named, RFC 3339.
    pub window_from: Option<String>,
    /// End of the time window named, RFC 3339.
    pub window_to: Option<String>,
}

impl From<PublicReport> for NewComplaintBody {
    fn from(r: PublicReport) -> Self {
        NewComplaintBody {
            received: None,
            channel: Channel::WebForm,
            reporter_name: r.reporter_name,
            reporter_phone: r.reporter_phone,
            text: r.text,
            place: r.place,
            plates: r.plates,
            window_from: r.window_from,
            window_to: r.window_to,
        }
    }
}

/// A time of the form (`datetime-local`: `YYYY-MM-DDTHH:MM`, the office's local time, GMT+8) as
/// RFC 3339; empty: none; anything else is passed on to be refused by name.
fn local_time(s: &str) -> Option<String> {
    let s = s.trim();
    match s.len() {
        0 => None,
        16 => Some(format!("{s}:00+08:00")),
        19 if !s.contains('+') && !s.ends_with('Z') => Some(format!("{s}+08:00")),
        _ => Some(s.to_string()),
    }
}

impl FormBody {
    fn report(self) -> PublicReport {
        let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        PublicReport {
            reporter_name: opt(self.reporter_name),
            reporter_phone: opt(self.reporter_phone),
            text: self.text,
            place: self.place,
            plates: self
                .plates
                .split([',', '，', '、', ';', '；', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            window_from: local_time(&self.window_from),
            window_to: local_time(&self.window_to),
        }
    }
}

/// What a filed complaint's reporter is told.
#[derive(Debug, serde::Serialize)]
pub struct Filed {
    /// The complaint's number, to quote when asking after it.
    pub id: i64,
    /// When it was received.
    pub received: tianshu_model::Timestamp,
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// A refusal as the form's page: the message and the way back, with the status (and `Retry-After`).
fn refused_page(lang: Lang, e: &ApiError) -> Response {
    let w = lang.words();
    let message = match e {
        ApiError::TooMany(..) => w.too_many.to_string(),
        e => e.to_string(),
    };
    let html = page(
        lang,
        &format!(
            "<h1>{}</h1><p class=\"err\">{}</p><p><a href=\"/report?lang={}\">{}</a></p>",
            w.refused,
            xml_escape(&message),
            lang.code(),
            w.back
        ),
    );
    let mut resp = (e.status(), Html(html)).into_response();
    if let ApiError::TooMany(secs, _) = e {
        resp.headers_mut().insert(RETRY_AFTER, (*secs).max(1).into());
    }
    resp
}

/// `POST /api/report`: files a complaint from the public (channel `web_form`), within the address's
/// quota; the form is answered with a page, JSON with `{"id", "received"}`.
pub async fn file(
    State(state): State<ApiState>,
    Peer(peer): Peer,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.config().casework.report_form {
        return switched_off().into_response();
    }
    if is_form(&headers) {
        let form: Result<FormBody, _> = serde_urlencoded::from_bytes(&body);
        let (lang, filed) = match form {
            Ok(f) => {
                let lang = Lang::parse(Some(&f.lang));
                (lang, file_within_quota(&state, peer, client, f.report()).await)
            }
            Err(e) => (Lang::Zh, Err(ApiError::BadRequest(format!("body: {e}")))),
        };
        return match filed {
            Ok(f) => {
                let w = lang.words();
                let html = page(
                    lang,
                    &format!(
                        "<h1>{}</h1><p>{} <strong id=\"number\">{}</strong></p><p><a href=\"/report?lang={}\">{}</a></p>",
                        w.thanks,
                        w.number,
                        f.id,
                        lang.code(),
                        w.again
                    ),
                );
                (StatusCode::CREATED, Html(html)).into_response()
            }
            Err(e) => refused_page(lang, &e),
        };
    }
    let filed = match crate::headers::require_json(&headers).and_then(|()| parse_json::<PublicReport>(&body))
    {
        Ok(r) => file_within_quota(&state, peer, client, r).await,
        Err(e) => Err(e),
    };
    match filed {
        Ok(f) => (StatusCode::CREATED, Json(f)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn file_within_quota(
    state: &ApiState,
    peer: Option<IpAddr>,
    client: Client,
    report: PublicReport,
) -> ApiResult<Filed> {
    let address = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let quota = state.intake_quota();
    let taken = quota.take(address, Instant::now()).map_err(|wait| {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::TooMany(
            secs,
            format!(
                "too many reports from your address: at most {} per {} s; try again in {secs} s",
                state.config().casework.report_quota,
                state.config().casework.report_quota_secs
            ),
        )
    })?;
    let base = AuditEntry {
        actor: "public".into(),
        role: "public".into(),
        action: "complaint.report".into(),
        remote: client.0,
        ..Default::default()
    };
    match enter(state, report.into(), "public", base).await {
        Ok(c) => Ok(Filed {
            id: c.id,
            received: c.received,
        }),
        Err(e) => {
            quota.give_back(address, taken);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_files_its_quota_then_waits_while_another_files_on() {
        let config = CaseworkConfig {
            report_quota: 2,
            report_quota_secs: 60,
            ..CaseworkConfig::default()
        };
        let q = IntakeQuota::new(&config);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        let first = q.take(a, t0).unwrap();
        q.take(a, t0 + Duration::from_secs(10)).unwrap();
        let wait = q.take(a, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40), "until the first leaves the window");
        assert!(q.take(b, t0 + Duration::from_secs(20)).is_ok(), "another address");
        q.give_back(a, first);
        assert!(q.take(a, t0 + Duration::from_secs(21)).is_ok(), "one given back");
        assert!(q.take(a, t0 + Duration::from_secs(22)).is_err());
        assert!(
            q.take(a, t0 + Duration::from_secs(71)).is_ok(),
            "the window moved on"
        );
    }

    #[test]
    fn the_form_reads_local_times_and_several_plates() {
        let f = FormBody {
            plates: "鄂B1000，B2A0、 ".into(),
            window_from: "2026-05-01T10:00".into(),
            window_to: "".into(),
            reporter_phone: " ".into(),
            ..FormBody::default()
        };
        let r = f.report();
        assert_eq!(r.plates, ["鄂B1000", "B2A0"]);
        assert_eq!(r.window_from.as_deref(), Some("2026-05-01T10:00:00+08:00"));
        assert_eq!(r.window_to, None);
        assert_eq!(r.reporter_phone, None);
        assert_eq!(
            xml_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }

    #[test]
    fn the_page_speaks_both_languages() {
        assert!(form(Lang::Zh).contains("举报内容") && form(Lang::Zh).contains("action=\"/api/report\""));
        assert!(form(Lang::En).contains("What happened") && !form(Lang::En).contains("举报内容"));
    }
}

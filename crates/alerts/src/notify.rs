//! What a notification says, who gets it, and how it is sent.
//!
//! A [`Notice`] is built once per case event (opened, escalated, withdrawn). Routing turns it into
//! outbox rows, one per channel and recipient, each with the exact body that channel will send: the
//! outbox is then a plain retry loop that never needs the case again. Webhooks are POSTed with hyper
//! (TLS by rustls with the ring provider and the system's roots); e-mail goes through lettre.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tianshu_model::complaint::Complaint;
use tianshu_model::{Timestamp, Unit, UnitId, Vehicle, VehicleId};
use tianshu_rules::Severity;
use tianshu_store::Store;
use tianshu_store::channels::{Channel, ChannelKind};
use tianshu_store::rules::{AlertCase, NewDelivery};

use crate::config::{AlertsConfig, EmailConfig, SmtpSecurity, WebhookFormat};

/// One case event, as the web feed and the generic webhook carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// `opened`, `escalated`, `withdrawn`.
    pub event: String,
    /// Case id.
    pub case_id: i64,
    /// Rule id.
    pub rule: String,
    /// English title of the rule.
    pub title: String,
    /// Chinese title of the rule.
    pub title_zh: String,
    /// `low`, `medium`, `high`.
    pub severity: String,
    /// The case's state after the event.
    pub state: String,
    /// The car.
    pub vehicle: VehicleId,
    /// Its plate.
    pub plate: String,
    /// Its unit.
    pub unit: UnitId,
    /// Its unit's path.
    pub unit_path: String,
    /// The units whose supervisors this concerns: the car's unit and the configured parent levels.
    pub units: Vec<UnitId>,
    /// Episode start.
    pub start: Timestamp,
    /// Episode end, once ended.
    pub end: Option<Timestamp>,
    /// Raised from late data.
    pub late: bool,
    /// Reasoning, English.
    pub reasoning: String,
    /// Reasoning, Chinese.
    pub reasoning_zh: String,
    /// The transition note (an escalation or withdrawal reason), if any.
    pub note: Option<String>,
}

/// The registry as routing needs it: plates, unit paths and parents, and the stored channels.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    vehicles: HashMap<VehicleId, Vehicle>,
    parents: HashMap<UnitId, Option<UnitId>>,
    paths: HashMap<UnitId, String>,
    by_path: HashMap<String, UnitId>,
    channels: Vec<Channel>,
}

/// The outbox's name of a stored channel's deliveries.
pub fn stored_channel(id: i64) -> String {
    format!("channel:{id}")
}

impl Routing {
    /// From the registry.
    pub fn new(units: &[Unit], vehicles: &[Vehicle]) -> Self {
        let paths = tianshu_rules::unit_paths(units);
        Routing {
            vehicles: vehicles.iter().map(|v| (v.id, v.clone())).collect(),
            parents: units.iter().map(|u| (u.id, u.parent)).collect(),
            by_path: paths.iter().map(|(id, p)| (p.clone(), *id)).collect(),
            paths,
            channels: Vec::new(),
        }
    }

    /// From the store: the registry and the stored channels.
    pub async fn load(store: &Store) -> Result<Self, tianshu_store::Error> {
        let routing = Routing::new(&store.units().await?, &store.vehicles().await?);
        Ok(routing.with_channels(store.channels().list().await?))
    }

    /// With `channels` as the stored channels.
    pub fn with_channels(mut self, channels: Vec<Channel>) -> Self {
        self.channels = channels;
        self
    }

    /// A vehicle.
    pub fn vehicle(&self, id: VehicleId) -> Option<&Vehicle> {
        self.vehicles.get(&id)
    }

    /// The unit and `levels` of its ancestors, nearest first.
    pub fn targets(&self, unit: UnitId, levels: u32) -> Vec<UnitId> {
        let mut out = vec![unit];
        let mut cur = unit;
        for _ in 0..levels {
            match self.parents.get(&cur).copied().flatten() {
                Some(p) if !out.contains(&p) => {
                    out.push(p);
                    cur = p;
                }
                _ => break,
            }
        }
        out
    }

    fn unit_id(&self, path: &str) -> Option<UnitId> {
        self.by_path.get(path.trim().trim_matches('/')).copied()
    }

    /// The notice for a case event.
    pub fn notice(&self, case: &AlertCase, event: &str, levels: u32, note: Option<String>) -> Notice {
        let titles = tianshu_rules::terminal_case::case_titles(&case.rule);
        Notice {
            event: event.to_string(),
            case_id: case.id,
            rule: case.rule.clone(),
            title: titles.map_or(case.rule.as_str(), |t| t.0).to_string(),
            title_zh: titles.map_or(case.rule.as_str(), |t| t.1).to_string(),
            severity: case.severity.clone(),
            state: case.state.as_str().to_string(),
            vehicle: case.vehicle,
            plate: self
                .vehicles
                .get(&case.vehicle)
                .map(|v| v.plate.clone())
                .unwrap_or_default(),
            unit: case.unit,
            unit_path: self.paths.get(&case.unit).cloned().unwrap_or_default(),
            units: self.targets(case.unit, levels),
            start: case.start,
            end: case.end,
            late: case.late,
            reasoning: case.reasoning.clone(),
            reasoning_zh: case.reasoning_zh.clone(),
            note,
        }
    }

    /// The outbox rows for a notice: every webhook whose units include one of the notice's units (or
    /// that has none), every e-mail recipient of one of them, and every stored channel so routed that is
    /// enabled and takes the notice's severity (an address once).
    pub fn deliveries(&self, notice: &Notice, config: &AlertsConfig) -> Vec<NewDelivery> {
        let severity = Severity::parse(&notice.severity).unwrap_or_default();
        let bodies = Bodies {
            webhook: &|format| Some(webhook_body(notice, format)),
            email: &|| Some(email_body(notice)),
        };
        self.route(&notice.units, severity, config, &bodies)
    }

    /// The notice of a complaint event (`forwarded`, `sent_back`, `escalated`) for the supervisors of
    /// the unit it is forwarded to and `levels` of its ancestors; `None` before it has a unit.
    pub fn complaint_notice(&self, c: &Complaint, event: &str, levels: u32) -> Option<ComplaintNotice> {
        let unit = c.unit?;
        Some(ComplaintNotice {
            kind: "complaint".into(),
            event: event.to_string(),
            complaint_id: c.id,
            channel: c.channel.as_str().to_string(),
            received: c.received,
            unit,
            unit_path: self.paths.get(&unit).cloned().unwrap_or_default(),
            units: self.targets(unit, levels),
            plates: c.cars.iter().filter_map(|n| n.plate.clone()).collect(),
            unresolved: c.cars.iter().filter(|n| !n.resolved()).count(),
            window_from: c.window_from,
            window_to: c.window_to,
            deadline: c.deadline,
        })
    }

    /// The outbox rows for a complaint's notice: routed by unit like a case's, as severe as a case can be.
    pub fn complaint_deliveries(&self, notice: &ComplaintNotice, config: &AlertsConfig) -> Vec<NewDelivery> {
        let bodies = Bodies {
            webhook: &|format| Some(complaint_webhook_body(notice, format)),
            email: &|| Some(complaint_email_body(notice)),
        };
        self.route(&notice.units, COMPLAINT_SEVERITY, config, &bodies)
    }

    /// The outbox rows for an event concerning `units` of `severity`: every configured webhook whose
    /// units include one of them (or that has none), every e-mail recipient of one of them, and every
    /// stored channel so routed that is enabled and takes the severity (an address once).
    pub(crate) fn route(
        &self,
        units: &[UnitId],
        severity: Severity,
        config: &AlertsConfig,
        bodies: &Bodies<'_>,
    ) -> Vec<NewDelivery> {
        let mut out = Vec::new();
        let matches = |paths: &[String]| {
            paths.is_empty()
                || paths
                    .iter()
                    .filter_map(|p| self.unit_id(p))
                    .any(|u| units.contains(&u))
        };
        for w in &config.notifications.webhooks {
            if let Some(payload) = (bodies.webhook)(w.format).filter(|_| matches(&w.units)) {
                out.push(NewDelivery {
                    channel: format!("webhook:{}", w.name),
                    recipient: w.name.clone(),
                    payload,
                });
            }
        }
        if let Some(email) = &config.notifications.email {
            let mut sent_to: Vec<&str> = Vec::new();
            for r in &email.recipients {
                if self.unit_id(&r.unit).is_some_and(|u| units.contains(&u))
                    && !sent_to.contains(&r.address.as_str())
                    && let Some(payload) = (bodies.email)()
                {
                    sent_to.push(&r.address);
                    out.push(NewDelivery {
                        channel: "email".into(),
                        recipient: r.address.clone(),
                        payload,
                    });
                }
            }
        }
        let mut addresses: Vec<String> = out
            .iter()
            .filter(|d| d.channel == "email")
            .map(|d| d.recipient.clone())
            .collect();
        for c in &self.channels {
            let f = &c.fields;
            let serves = f.units.is_empty() || f.units.iter().any(|u| units.contains(u));
            if !f.enabled || !serves || severity < f.min_severity {
                continue;
            }
            let (recipient, payload) = match f.kind {
                ChannelKind::Webhook => match (bodies.webhook)(f.format) {
                    Some(payload) => (f.name.clone(), payload),
                    None => continue,
                },
                ChannelKind::Email => {
                    let address = f.address.clone().unwrap_or_default();
                    let Some(payload) = (bodies.email)().filter(|_| !addresses.contains(&address)) else {
                        continue;
                    };
                    addresses.push(address.clone());
                    (address, payload)
                }
            };
            out.push(NewDelivery {
                channel: stored_channel(c.id),
                recipient,
                payload,
            });
        }
        out
    }
}

/// How one event is written for each kind of channel; `None` where that kind does not carry it.
pub(crate) struct Bodies<'a> {
    /// A webhook's body, by its format.
    pub(crate) webhook: &'a dyn Fn(WebhookFormat) -> Option<String>,
    /// An e-mail's payload.
    pub(crate) email: &'a dyn Fn() -> Option<String>,
}

/// How severe a complaint's notice is for a channel's `min_severity`: as severe as a case can be (a
/// public complaint forwarded to a unit always reaches its channels).
pub const COMPLAINT_SEVERITY: Severity = Severity::High;

/// A complaint event for the supervisors of the unit it is forwarded to, as a generic webhook carries
/// it. It holds what the office decided (the unit, the deadline, the cars resolved), never anything
/// the reporter gave: not who they are, not their number, not what they wrote (which may name them);
/// the unit reads the complaint in its inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplaintNotice {
    /// Always `complaint` (a case's notice has a `case_id` instead).
    pub kind: String,
    /// `forwarded`, `sent_back`, `escalated`.
    pub event: String,
    /// The complaint.
    pub complaint_id: i64,
    /// How it was received.
    pub channel: String,
    /// When it was received.
    pub received: Timestamp,
    /// The unit it is forwarded to.
    pub unit: UnitId,
    /// That unit's path.
    pub unit_path: String,
    /// The units whose supervisors this concerns: the unit and the configured parent levels.
    pub units: Vec<UnitId>,
    /// The plates of the cars it names that were resolved.
    pub plates: Vec<String>,
    /// How many named cars were not resolved.
    pub unresolved: usize,
    /// Start of the time window named.
    pub window_from: Option<Timestamp>,
    /// Its end.
    pub window_to: Option<Timestamp>,
    /// When the unit's answer is due.
    pub deadline: Option<Timestamp>,
}

fn complaint_event_zh(event: &str) -> &'static str {
    match event {
        "forwarded" => "举报转交办理",
        "sent_back" => "举报答复退回重办",
        "escalated" => "举报逾期未答复",
        _ => "举报更新",
    }
}

fn complaint_markdown(n: &ComplaintNotice) -> String {
    let plates = if n.plates.is_empty() {
        "（未识别）".to_string()
    } else {
        n.plates.join("、")
    };
    let mut s = format!(
        "### 【天枢】{}：举报 {}\n- 单位：{}\n- 车辆：{}\n- 受理：{}（北京时间）",
        complaint_event_zh(&n.event),
        n.complaint_id,
        n.unit_path,
        plates,
        local(n.received)
    );
    if let (Some(from), Some(to)) = (n.window_from, n.window_to) {
        s.push_str(&format!("\n- 所涉时间：{} 至 {}", local(from), local(to)));
    }
    if let Some(d) = n.deadline {
        s.push_str(&format!("\n- 答复期限：{}（北京时间）", local(d)));
    }
    s.push_str("\n\n请登录天枢查看举报内容并按期答复。");
    s
}

/// The body a webhook of `format` receives about a complaint.
pub fn complaint_webhook_body(n: &ComplaintNotice, format: WebhookFormat) -> String {
    let v = match format {
        WebhookFormat::Generic => serde_json::to_value(n).unwrap_or_default(),
        WebhookFormat::Dingtalk => serde_json::json!({
            "msgtype": "markdown",
            "markdown": {
                "title": format!("天枢：{}", complaint_event_zh(&n.event)),
                "text": complaint_markdown(n)
            }
        }),
        WebhookFormat::Wecom => {
            serde_json::json!({ "msgtype": "markdown", "markdown": { "content": complaint_markdown(n) } })
        }
    };
    v.to_string()
}

/// The outbox payload of an e-mail about a complaint.
pub fn complaint_email_body(n: &ComplaintNotice) -> String {
    let body = EmailBody {
        subject: format!(
            "【天枢】{}：举报 {}",
            complaint_event_zh(&n.event),
            n.complaint_id
        ),
        body: format!(
            "{}\n\nComplaint {} {} to {}{}.\nSign in to Tianshu to read it and answer.\n",
            complaint_markdown(n).replace("### ", ""),
            n.complaint_id,
            n.event,
            n.unit_path,
            n.deadline
                .map(|d| format!(", answer due {} (Beijing time)", local(d)))
                .unwrap_or_default()
        ),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

pub(crate) fn local(t: Timestamp) -> String {
    t.to_china().format("%Y-%m-%d %H:%M").to_string()
}

fn event_zh(event: &str) -> &'static str {
    match event {
        "opened" => "新告警",
        "escalated" => "已上报纪检监察",
        "withdrawn" => "已撤销",
        _ => "告警更新",
    }
}

fn markdown(n: &Notice) -> String {
    let mut s = format!(
        "### 【天枢】{}：{}\n- 车辆：{}\n- 单位：{}\n- 开始：{}（北京时间）\n- 等级：{}{}\n\n{}",
        event_zh(&n.event),
        n.title_zh,
        n.plate,
        n.unit_path,
        local(n.start),
        n.severity,
        if n.late { "（补传数据）" } else { "" },
        n.reasoning_zh
    );
    if let Some(note) = &n.note {
        s.push_str(&format!("\n\n> {note}"));
    }
    s.push_str(&format!("\n\n案件编号：{}", n.case_id));
    s
}

/// The body a webhook of `format` receives.
pub fn webhook_body(n: &Notice, format: WebhookFormat) -> String {
    let v = match format {
        WebhookFormat::Generic => serde_json::to_value(n).unwrap_or_default(),
        WebhookFormat::Dingtalk => serde_json::json!({
            "msgtype": "markdown",
            "markdown": { "title": format!("天枢：{}", n.title_zh), "text": markdown(n) }
        }),
        WebhookFormat::Wecom => {
            serde_json::json!({ "msgtype": "markdown", "markdown": { "content": markdown(n) } })
        }
    };
    v.to_string()
}

/// An e-mail as stored in the outbox: subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailBody {
    /// Subject line.
    pub subject: String,
    /// Plain text.
    pub body: String,
}

/// The outbox payload of an e-mail.
pub fn email_body(n: &Notice) -> String {
    let body = EmailBody {
        subject: format!("【天枢】{}：{} {}", event_zh(&n.event), n.title_zh, n.plate),
        body: format!(
            "{}\n\n{}: {} ({})\nVehicle {} of {}, from {} (Beijing time), severity {}{}.\n{}\n{}\nCase {}.\n",
            markdown(n).replace("### ", ""),
            n.event,
            n.title,
            n.rule,
            n.plate,
            n.unit_path,
            local(n.start),
            n.severity,
            if n.late { ", raised from late data" } else { "" },
            n.reasoning,
            n.note.clone().unwrap_or_default(),
            n.case_id
        ),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// Why a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

fn err(e: impl std::fmt::Display) -> SendError {
    SendError(e.to_string())
}

/// POSTs a JSON body to an `http://` or `https://` URL; a 2xx answer whose JSON body (if any) has no
/// non-zero `errcode` (as DingTalk and WeCom report errors) is success.
pub async fn post_json(url: &str, body: &str, timeout: Duration) -> Result<(), SendError> {
    tokio::time::timeout(timeout, post_json_inner(url, body))
        .await
        .map_err(|_| SendError(format!("no answer within {} s", timeout.as_secs())))?
}

async fn post_json_inner(url: &str, body: &str) -> Result<(), SendError> {
    use http_body_util::{BodyExt, Full};
    let uri: hyper::Uri = url.parse().map_err(err)?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        other => return Err(SendError(format!("unsupported scheme {other:?}"))),
    };
    let host = uri
        .host()
        .ok_or_else(|| SendError("URL has no host".into()))?
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(err)?;
    let request = hyper::Request::post(path)
        .header(
            hyper::header::HOST,
            if uri.port_u16().is_some() {
                format!("{host}:{port}")
            } else {
                host.clone()
            },
        )
        .header(hyper::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(
            hyper::header::USER_AGENT,
            concat!("tianshu/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .map_err(err)?;
    let response = if https {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(err)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone()).map_err(err)?;
        let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
            .connect(name, tcp)
            .await
            .map_err(err)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(err)?;
        tokio::spawn(conn);
        sender.send_request(request).await.map_err(err)?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(err)?;
        tokio::spawn(conn);
        sender.send_request(request).await.map_err(err)?
    };
    let status = response.status();
    let bytes = response.into_body().collect().await.map_err(err)?.to_bytes();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_string();
    if !status.is_success() {
        return Err(SendError(format!("HTTP {status}: {text}")));
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(code) = v.get("errcode").and_then(|c| c.as_i64()).filter(|c| *c != 0)
    {
        return Err(SendError(format!(
            "errcode {code}: {}",
            v.get("errmsg").and_then(|m| m.as_str()).unwrap_or("")
        )));
    }
    Ok(())
}

/// Sends one e-mail from the outbox payload.
pub async fn send_email(config: &EmailConfig, to: &str, payload: &str) -> Result<(), SendError> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let body: EmailBody = serde_json::from_str(payload).map_err(err)?;
    let message = Message::builder()
        .from(config.from.parse().map_err(err)?)
        .to(to.parse().map_err(err)?)
        .subject(body.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.body)
        .map_err(err)?;
    let mut builder = match config.security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host),
        SmtpSecurity::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.smtp_host).map_err(err)?
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.smtp_host).map_err(err)?,
    }
    .port(config.smtp_port)
    .timeout(Some(Duration::from_secs(config.timeout_secs)));
    if let Some(user) = &config.username {
        let password = config
            .password_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    builder.build().send(message).await.map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EmailRecipient, NotificationsConfig};
    use tianshu_store::channels::{ChannelFields, WebhookFormat};
    use tianshu_store::rules::{CaseState, NewCase};

    fn channel(
        id: i64,
        kind: ChannelKind,
        units: &[i64],
        min: Severity,
        enabled: bool,
        address: &str,
    ) -> Channel {
        Channel {
            id,
            fields: ChannelFields {
                name: format!("c{id}"),
                kind,
                url: (kind == ChannelKind::Webhook).then(|| "http://127.0.0.1:9/".into()),
                format: WebhookFormat::Wecom,
                address: (kind == ChannelKind::Email).then(|| address.into()),
                units: units.iter().map(|u| UnitId(*u)).collect(),
                min_severity: min,
                enabled,
            },
        }
    }

    #[test]
    fn stored_channels_take_the_cases_of_their_units_and_sub_units_when_on_and_severe_enough() {
        let units: Vec<Unit> = serde_json::from_value(serde_json::json!([
            {"id": 1, "name": "黄石市", "parent": null},
            {"id": 2, "name": "市委办公室", "parent": 1},
            {"id": 3, "name": "公安局", "parent": 1},
            {"id": 4, "name": "机要科", "parent": 2},
        ]))
        .unwrap();
        let vehicles: Vec<Vehicle> = serde_json::from_value(
            serde_json::json!([{"id": 7, "plate": "鄂B1", "unit": 4, "class": "general"}]),
        )
        .unwrap();
        let (w, e) = (ChannelKind::Webhook, ChannelKind::Email);
        let routing = Routing::new(&units, &vehicles).with_channels(vec![
            channel(1, w, &[2], Severity::Low, true, ""),
            channel(2, w, &[3], Severity::Low, true, ""),
            channel(3, w, &[2], Severity::Low, false, ""),
            channel(4, w, &[2], Severity::High, true, ""),
            channel(5, e, &[], Severity::Low, true, "chief@example.invalid"),
            channel(6, e, &[2], Severity::Low, true, "duty@example.invalid"),
        ]);
        let config = AlertsConfig {
            notifications: NotificationsConfig {
                email: Some(EmailConfig {
                    smtp_host: "127.0.0.1".into(),
                    smtp_port: 25,
                    security: SmtpSecurity::None,
                    username: None,
                    password_env: None,
                    from: "t@example.invalid".into(),
                    recipients: vec![EmailRecipient {
                        unit: "黄石市/市委办公室".into(),
                        address: "chief@example.invalid".into(),
                    }],
                    timeout_secs: 5,
                }),
                ..NotificationsConfig::default()
            },
            ..AlertsConfig::default()
        };
        let case = AlertCase {
            id: 9,
            raised: NewCase {
                vehicle: VehicleId(7),
                unit: UnitId(4),
                rule: "out_of_hours".into(),
                start: Timestamp::from_millis(0),
                end: None,
                severity: "medium".into(),
                late: false,
                reasoning: String::new(),
                reasoning_zh: String::new(),
                episode: serde_json::Value::Null,
                escalate_at: None,
            },
            state: CaseState::Open,
            created: Timestamp::from_millis(0),
            updated: Timestamp::from_millis(0),
        };
        let notice = routing.notice(&case, "opened", 1, None);
        let got: Vec<(String, String)> = routing
            .deliveries(&notice, &config)
            .into_iter()
            .map(|d| (d.channel, d.recipient))
            .collect();
        let want = [
            ("email", "chief@example.invalid"),
            ("channel:1", "c1"),
            ("channel:6", "duty@example.invalid"),
        ]
        .map(|(c, r)| (c.to_string(), r.to_string()));
        assert_eq!(
            got, want,
            "the sub-unit's case; another unit's, a disabled, a too-high and a repeated address left out"
        );
    }
}

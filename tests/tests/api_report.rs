//! The public intake of complaints over HTTP on both backends: off by default (the page and the
//! endpoint answer 404 and nothing is stored); switched on, the form page in Chinese and English, a
//! complaint filed through the form and one as JSON, each with the channel `web_form`, the named cars
//! resolved and the reporter's number sealed; and the quota per client address: a third complaint from
//! one address is refused with 429 and `Retry-After` (the form's page says so too) while another
//! address still files, and a refused bad complaint does not use up the quota.

use std::net::{IpAddr, SocketAddr};

use tianshu_api::ApiState;
use tianshu_api::config::{ApiConfig, CaseworkConfig};
use tianshu_api::reporter::ReporterKey;
use tianshu_e2e::api::{FOREIGN_PLATE, OWN_PLATE, Scratch, TestApi, contains, http, serve, stored_bytes};
use tianshu_model::complaint::{Channel, ComplaintFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const PHONE: &str = "13912345678";

/// An answer: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request from the loopback address `from` (any of 127.0.0.0/8), as a browser's form or a
/// client's JSON would come.
async fn send(addr: SocketAddr, from: &str, method: &str, path: &str, body: Option<(&str, &str)>) -> Answer {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    let local: IpAddr = from.parse().expect("an address");
    socket
        .bind(SocketAddr::new(local, 0))
        .expect("binding the client");
    let mut s = socket.connect(addr).await.expect("connecting");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let (kind, text) = body.unwrap_or(("", ""));
    if body.is_some() {
        req.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            text.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(text);
    s.write_all(req.as_bytes()).await.expect("writing");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("reading");
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

async fn count(api: &TestApi) -> u64 {
    let f = ComplaintFilter::default();
    api.store.casework().complaints(&f).await.expect("listing").1
}

async fn the_public_intake_files_within_a_quota_per_address(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let report = r#"{"text":"a car at the mall"}"#;

    // Off by default: neither the page nor the endpoint is there, and nothing is stored.
    let r = http(api.addr, "GET", "/report", None, None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = http(api.addr, "POST", "/api/report", None, Some(report)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(count(&api).await, 0);

    // Switched on, two complaints per address per hour.
    let config = ApiConfig {
        casework: CaseworkConfig {
            report_form: true,
            report_quota: 2,
            report_quota_secs: 3600,
            ..CaseworkConfig::default()
        },
        ..ApiConfig::default()
    };
    let state = ApiState::new(api.store.clone(), config);
    state.set_reporter_key(ReporterKey::parse(KEY).expect("the key"));
    let (addr, _task) = serve(state).await;

    let zh = send(addr, "127.0.0.1", "GET", "/report", None).await;
    assert_eq!(zh.status, 200, "{}", zh.body);
    assert!(
        zh.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(zh.body.contains("举报内容") && zh.body.contains(r#"action="/api/report""#));
    assert!(!zh.body.contains("<script"), "the form needs no script");
    let en = send(addr, "127.0.0.1", "GET", "/report?lang=en", None).await;
    assert_eq!(en.status, 200);
    assert!(en.body.contains("What happened") && !en.body.contains("举报内容"));

    // Through the form, from 127.0.0.1: a partial plate, a local time window.
    let partial = &OWN_PLATE[OWN_PLATE.len() - 5..];
    let form = format!(
        "lang=en&reporter_name=&reporter_phone={PHONE}&plates={partial}&place=mall&\
         window_from=2026-05-01T10%3A00&window_to=2026-05-01T12%3A00&text=parked+all+day"
    );
    let r = send(addr, "127.0.0.1", "POST", "/api/report", Some((FORM, &form))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("Your report was received"), "{}", r.body);
    let id: i64 = r
        .body
        .split("id=\"number\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .and_then(|s| s.parse().ok())
        .expect("the reference number on the page");
    let c = api
        .store
        .casework()
        .complaint(id)
        .await
        .expect("reading")
        .expect("the complaint");
    assert_eq!(c.channel, Channel::WebForm);
    assert_eq!(c.entered_by, "public");
    assert_eq!(c.reporter_name, None, "anonymous");
    assert_eq!(c.reporter_phone.as_deref(), Some("139****5678"));
    assert_eq!(c.cars[0].vehicle, Some(api.vehicles[OWN_PLATE].id), "{c:?}");
    assert_eq!(
        c.window_from.map(|t| t.to_rfc3339()),
        tianshu_model::Timestamp::parse_rfc3339("2026-05-01T10:00:00+08:00")
            .ok()
            .map(|t| t.to_rfc3339())
    );
    let sealed = api
        .store
        .casework()
        .sealed_phone(id)
        .await
        .expect("reading")
        .expect("a sealed number");
    assert!(!sealed.contains(PHONE));
    let key = ReporterKey::parse(KEY).expect("the key");
    assert_eq!(key.open(&sealed).as_deref(), Ok(PHONE));

    // As JSON from the same address: the second of its quota.
    let json = format!(r#"{{"text":"用车去钓鱼","plates":["{FOREIGN_PLATE}"],"reporter_phone":"{PHONE}"}}"#);
    let r = send(addr, "127.0.0.1", "POST", "/api/report", Some((JSON, &json))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let filed: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert!(filed["id"].as_i64() > Some(id), "{filed}");
    tianshu_e2e::openapi::assert_documented("POST", "/api/report", 201, &filed);
    assert!(
        !r.body.contains(PHONE) && !r.body.contains("5678"),
        "the answer is the number only"
    );

    // A third from that address: 429 with Retry-After, as JSON and as the form's page; nothing stored.
    let r = send(addr, "127.0.0.1", "POST", "/api/report", Some((JSON, report))).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=3600).contains(&wait), "{wait}");
    assert!(r.body.contains("too many reports"), "{}", r.body);
    let r = send(
        addr,
        "127.0.0.1",
        "POST",
        "/api/report",
        Some((FORM, "lang=zh&text=x")),
    )
    .await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(r.body.contains("提交过于频繁"), "{}", r.body);
    assert_eq!(count(&api).await, 2);

    // Another address files on; its refused bad complaint does not use up its quota.
    let reversed = r#"{"text":"x","window_from":"2026-05-02T00:00:00Z","window_to":"2026-05-01T00:00:00Z"}"#;
    let r = send(addr, "127.0.0.2", "POST", "/api/report", Some((JSON, reversed))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("window"), "{}", r.body);
    let r = send(
        addr,
        "127.0.0.2",
        "POST",
        "/api/report",
        Some((JSON, r#"{"text":"x","channel":"hotline"}"#)),
    )
    .await;
    assert_eq!(r.status, 400, "no channel to choose: {}", r.body);
    for n in 0..2 {
        let r = send(addr, "127.0.0.2", "POST", "/api/report", Some((JSON, report))).await;
        assert_eq!(r.status, 201, "complaint {n} of the other address: {}", r.body);
    }
    let r = send(addr, "127.0.0.2", "POST", "/api/report", Some((JSON, report))).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(count(&api).await, 4);

    // The desk sees them as web-form complaints; each filing audited with its address.
    let desk = api.login("dispatcher").await;
    let r = http(
        api.addr,
        "GET",
        "/api/complaints?channel=web_form",
        Some(&desk),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"], 4);
    let log = api.store.access().audit(0, 10_000).await.expect("audit log");
    let filed: Vec<&str> = log
        .iter()
        .filter(|r| r.entry.action == "complaint.report")
        .map(|r| r.entry.remote.as_str())
        .collect();
    assert_eq!(filed.len(), 4, "{filed:?}");
    assert_eq!(filed.iter().filter(|r| r.starts_with("127.0.0.2")).count(), 2);
    assert!(!serde_json::to_string(&log).unwrap_or_default().contains(PHONE));
    api.store.flush().await.expect("flush");
    let bytes = stored_bytes(&api).await;
    assert!(contains(&bytes, "用车去钓鱼"), "the grep reads the stored rows");
    assert!(
        !contains(&bytes, PHONE),
        "the number in clear in the stored database"
    );
}

tianshu_e2e::on_both_backends!(the_public_intake_files_within_a_quota_per_address);

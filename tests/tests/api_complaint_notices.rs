//! A complaint reaches the unit's supervisors through the alert channels, on both backends: forwarded
//! to a unit, its stored webhook is posted (a real HTTP listener on loopback) and another unit's is
//! not; sent back, and escalated once by itself when overdue, the same channel is told again. No
//! notification body, and no export of the figures, holds the reporter's name, number (in clear or
//! masked) or what they wrote.

use std::sync::Arc;

use serde_json::Value;
use tianshu_alerts::AlertsConfig;
use tianshu_alerts::config::{NotificationsConfig, RetryConfig};
use tianshu_e2e::api::status_json as status;
use tianshu_e2e::api::{OWN_PLATE, Resp, SUPERVISOR_UNIT, Scratch, TestApi, contains, http, stored_bytes};
use tianshu_e2e::sinks::{Received, http_receiver};
use tianshu_e2e::{WAIT, on_both_backends, wait_for};
use tianshu_model::Timestamp;
use tianshu_rules::RulesConfig;

const KEY: &str = "5f0e2d9c8b7a69584736251403f2e1d0c9b8a7968574635241302f1e0d0c0b0a";
const PHONE: &str = "13812345678";
const NAME: &str = "王某某";
const TEXT: &str = "周末公车停在万达广场";

/// A quick outbox and no replay of the seeded tracks: only what this test does is routed.
fn config() -> AlertsConfig {
    AlertsConfig {
        outbox_poll_ms: 50,
        tick_secs: 3600,
        resume_hours: 0.0,
        state_save_secs: 0,
        notifications: NotificationsConfig {
            webhooks: Vec::new(),
            email: None,
            retry: RetryConfig {
                max_attempts: 1,
                initial_backoff_secs: 1,
                max_backoff_secs: 1,
            },
        },
        ..AlertsConfig::default()
    }
}

/// Whether `body` holds anything of the reporter.
fn names_the_reporter(body: &str) -> bool {
    [PHONE, "138****5678", NAME, TEXT]
        .iter()
        .any(|s| body.contains(s))
}

on_both_backends!(
    complaints_notify_their_unit_on,
    complaints_notify_their_unit,
    "complaint_notices"
);

async fn complaints_notify_their_unit(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let config = config();
    let alerts = tianshu_alerts::start(api.store.clone(), RulesConfig::default(), config.clone())
        .await
        .expect("starting the alerts runtime");
    route_complaints(&api, &config);
    let who = Sessions::login(&api).await;
    let hooks = Hooks::registered(&api, &who).await;
    let first = forwarded_and_sent_back(&api, &who, &hooks).await;
    let second = escalated_once_when_overdue(&api, &config, &who, &hooks).await;
    only_the_units_channel_is_told(&api, &hooks, [first, second]).await;
    nothing_of_the_reporter_in_the_figures_or_the_store(&api, &who).await;
    alerts.shutdown().await;
}

/// The reporter key set, and complaint events routed to the alert channels as the binary routes them.
fn route_complaints(api: &TestApi, config: &AlertsConfig) {
    api.state
        .set_reporter_key(tianshu_api::reporter::ReporterKey::parse(KEY).expect("the key"));
    let (store, routed) = (api.store.clone(), Arc::new(config.clone()));
    api.state
        .set_complaint_notifier(Arc::new(move |complaint, event| {
            let (store, routed) = (store.clone(), routed.clone());
            Box::pin(async move {
                tianshu_alerts::complaint_deliveries(&store, &routed, &complaint, event)
                    .await
                    .map_err(|e| e.to_string())
            })
        }));
}

/// The session cookies of the four roles the steps act as.
struct Sessions {
    admin: String,
    desk: String,
    inspector: String,
    supervisor: String,
}

impl Sessions {
    async fn login(api: &TestApi) -> Self {
        Sessions {
            admin: api.login("administrator").await,
            desk: api.login("dispatcher").await,
            inspector: api.login("inspector").await,
            supervisor: api.login("supervisor").await,
        }
    }
}

/// The unit's channel and another unit's, each a real HTTP listener.
struct Hooks {
    own: Received<String>,
    other: Received<String>,
    own_unit: i64,
}

impl Hooks {
    async fn registered(api: &TestApi, who: &Sessions) -> Self {
        let (own_url, own_hook) = http_receiver().await;
        let (other_url, other_hook) = http_receiver().await;
        let own_unit = api.units[SUPERVISOR_UNIT].0;
        let other_unit = api.units["黄石市/公安局"].0;
        for (name, url, unit, format) in [
            ("市委办值班", &own_url, own_unit, "generic"),
            ("公安局值班", &other_url, other_unit, "dingtalk"),
        ] {
            let body = format!(
                r#"{{"name":"{name}","kind":"webhook","url":"{url}","format":"{format}","units":[{unit}]}}"#
            );
            status(
                &http(api.addr, "POST", "/api/channels", Some(&who.admin), Some(&body)).await,
                201,
                name,
            );
        }
        Hooks {
            own: own_hook,
            other: other_hook,
            own_unit,
        }
    }
}

/// A complaint entered with the reporter's name and number.
fn entry() -> String {
    format!(
        r#"{{"channel":"hotline","reporter_name":"{NAME}","reporter_phone":"{PHONE}","text":"{TEXT}","place":"万达广场","plates":["{OWN_PLATE}","京A99999"]}}"#
    )
}

/// A step of complaint `id`'s handling, as `who`.
async fn step(api: &TestApi, id: i64, action: &str, who: &str, body: &str) -> Resp {
    let path = format!("/api/complaints/{id}/{action}");
    http(api.addr, "POST", &path, Some(who), Some(body)).await
}

/// Entered and forwarded to the car's unit: its channel is told; sent back after the unit's answer:
/// told again. Returns the complaint.
async fn forwarded_and_sent_back(api: &TestApi, who: &Sessions, hooks: &Hooks) -> i64 {
    let c = status(
        &http(
            api.addr,
            "POST",
            "/api/complaints",
            Some(&who.desk),
            Some(&entry()),
        )
        .await,
        201,
        "entered",
    );
    let first = c["id"].as_i64().expect("id");
    let f = status(
        &step(api, first, "forward", &who.desk, "{}").await,
        200,
        "forwarded",
    );
    let posted: Value =
        serde_json::from_str(&hooks.own.wait_nth(0, "the forward's notice", WAIT).await).expect("json");
    assert_eq!(posted["kind"], "complaint", "{posted}");
    assert_eq!(posted["event"], "forwarded");
    assert_eq!(posted["complaint_id"], first);
    assert_eq!(posted["unit"], hooks.own_unit);
    assert_eq!(posted["plates"], serde_json::json!([OWN_PLATE]));
    assert_eq!(posted["unresolved"], 1);
    assert_eq!(
        posted["deadline"], f["deadline"],
        "the deadline the unit must answer by"
    );

    status(
        &step(api, first, "answer", &who.supervisor, r#"{"text":"司机已批评"}"#).await,
        200,
        "answered",
    );
    let back = r#"{"decision":"send_back","text":"请说明整改措施"}"#;
    status(
        &step(api, first, "review", &who.inspector, back).await,
        200,
        "sent back",
    );
    let posted: Value =
        serde_json::from_str(&hooks.own.wait_nth(1, "the send-back's notice", WAIT).await).expect("json");
    assert_eq!(
        (posted["event"].as_str(), posted["complaint_id"].as_i64()),
        (Some("sent_back"), Some(first))
    );
    first
}

/// A second complaint, due in two seconds and not answered: escalated once, by itself, told again.
/// Returns the complaint.
async fn escalated_once_when_overdue(
    api: &TestApi,
    config: &AlertsConfig,
    who: &Sessions,
    hooks: &Hooks,
) -> i64 {
    let second = status(
        &http(
            api.addr,
            "POST",
            "/api/complaints",
            Some(&who.desk),
            Some(&entry()),
        )
        .await,
        201,
        "entered again",
    )["id"]
        .as_i64()
        .expect("id");
    let due = Timestamp::from_millis(chrono::Utc::now().timestamp_millis() + 2_000);
    let body = format!(r#"{{"deadline":"{}"}}"#, due.to_rfc3339());
    status(
        &step(api, second, "forward", &who.desk, &body).await,
        200,
        "forwarded with a short deadline",
    );
    hooks.own.wait_nth(2, "the second forward's notice", WAIT).await;
    let escalated = wait_for("the deadline to pass and the escalation", WAIT, || {
        let (store, config) = (api.store.clone(), config.clone());
        async move {
            let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
            let ids = tianshu_alerts::escalate_overdue_complaints(&store, &config, now)
                .await
                .expect("escalating");
            (!ids.is_empty()).then_some(ids)
        }
    })
    .await;
    assert_eq!(escalated, [second], "only the overdue one");
    let posted: Value =
        serde_json::from_str(&hooks.own.wait_nth(3, "the escalation's notice", WAIT).await).expect("json");
    assert_eq!(
        (posted["event"].as_str(), posted["complaint_id"].as_i64()),
        (Some("escalated"), Some(second))
    );
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let again = tianshu_alerts::escalate_overdue_complaints(&api.store, config, now)
        .await
        .expect("escalating again");
    assert!(again.is_empty(), "escalated once");
    let path = format!("/api/complaints/{second}");
    let history = status(
        &http(api.addr, "GET", &path, Some(&who.inspector), None).await,
        200,
        "detail",
    );
    assert!(
        history["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["action"] == "escalated")),
        "{history}"
    );
    second
}

/// Every delivery sent to the unit's channel only; nothing of the reporter in any of them.
async fn only_the_units_channel_is_told(api: &TestApi, hooks: &Hooks, complaints: [i64; 2]) {
    let channel = "市委办值班";
    for id in complaints {
        let sent = wait_for("the complaint's deliveries sent", WAIT, || {
            let store = api.store.clone();
            async move {
                let ds = store.casework().deliveries(id).await.expect("deliveries");
                ds.iter().all(|d| d.state == "sent").then_some(ds)
            }
        })
        .await;
        assert!(!sent.is_empty());
        for delivery in &sent {
            assert_eq!(delivery.recipient, channel);
            assert_eq!(delivery.complaint_id, Some(id));
            assert_eq!(delivery.case_id, None);
            assert!(!names_the_reporter(&delivery.payload), "{}", delivery.payload);
        }
    }
    assert_eq!(hooks.own.len(), 4, "forwarded, sent back, forwarded, escalated");
    for n in 0..4 {
        let body = hooks.own.wait_nth(n, "a notice", WAIT).await;
        assert!(!names_the_reporter(&body), "posted: {body}");
    }
    assert_eq!(hooks.other.len(), 0, "another unit's channel is told nothing");
}

/// Nor do the office's figures, as JSON or CSV, nor the stored database, its outbox included (the
/// file, or a pg_dump).
async fn nothing_of_the_reporter_in_the_figures_or_the_store(api: &TestApi, who: &Sessions) {
    let year = chrono::Utc::now().format("%Y").to_string();
    let next = year.parse::<i32>().unwrap_or_default() + 1;
    let q = format!("/api/casework/summary?from={year}-01-01&to={next}-01-01");
    for format in ["json", "csv"] {
        let path = format!("{q}&format={format}");
        let r = http(api.addr, "GET", &path, Some(&who.inspector), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // The CSV is titled in the page's default language.
        let heading = if format == "json" {
            "received"
        } else {
            "受理举报"
        };
        assert!(r.body.contains(heading), "{format}: {}", r.body);
        assert!(!names_the_reporter(&r.body), "{format}: {}", r.body);
    }
    api.store.flush().await.expect("flush");
    let bytes = stored_bytes(api).await;
    assert!(
        contains(&bytes, r#""kind":"complaint""#),
        "the grep reads the outbox"
    );
    assert!(
        !contains(&bytes, PHONE),
        "the number in clear in the stored database"
    );
}

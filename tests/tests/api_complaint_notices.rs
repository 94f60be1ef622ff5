//! A complaint reaches the unit's supervisors through the alert channels, on both backends: forwarded
//! to a unit, its stored webhook is posted (a real HTTP listener on loopback) and another unit's is
//! not; sent back, and escalated once by itself when overdue, the same channel is told again. No
//! notification body, and no export of the figures, holds the reporter's name, number (in clear or
//! masked) or what they wrote.

use std::sync::Arc;

use serde_json::Value;
use tianshu_alerts::AlertsConfig;
use tianshu_alerts::config::{NotificationsConfig, RetryConfig};
use tianshu_e2e::api::{OWN_PLATE, Resp, SUPERVISOR_UNIT, Scratch, TestApi, contains, http, stored_bytes};
use tianshu_e2e::{WAIT, on_both_backends, sinks::http_receiver, wait_for};
use tianshu_model::Timestamp;
use tianshu_rules::RulesConfig;

const KEY: &str = "5f0e2d9c8b7a69584736251403f2e1d0c9b8a7968574635241302f1e0d0c0b0a";
const PHONE: &str = "13812345678";
const NAME: &str = "王某某";
const TEXT: &str = "周末公车停在万达广场";

#[track_caller]
fn status(r: &Resp, want: u16, what: &str) -> Value {
    assert_eq!(r.status, want, "{what}: {}", r.body);
    r.json()
}

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
    api.state
        .set_reporter_key(tianshu_api::reporter::ReporterKey::parse(KEY).expect("the key"));
    let config = config();
    let alerts = tianshu_alerts::start(api.store.clone(), RulesConfig::default(), config.clone())
        .await
        .expect("starting the alerts runtime");
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
    let admin = api.login("administrator").await;
    let desk = api.login("dispatcher").await;
    let inspector = api.login("inspector").await;
    let supervisor = api.login("supervisor").await;
    let (a, d, i, s) = (
        Some(admin.as_str()),
        Some(desk.as_str()),
        Some(inspector.as_str()),
        Some(supervisor.as_str()),
    );

    // The unit's channel, and another unit's.
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
            &http(api.addr, "POST", "/api/channels", a, Some(&body)).await,
            201,
            name,
        );
    }

    // Entered with the reporter's name and number; forwarded to the car's unit: its channel is told.
    let enter = format!(
        r#"{{"channel":"hotline","reporter_name":"{NAME}","reporter_phone":"{PHONE}","text":"{TEXT}","place":"万达广场","plates":["{OWN_PLATE}","京A99999"]}}"#
    );
    let c = status(
        &http(api.addr, "POST", "/api/complaints", d, Some(&enter)).await,
        201,
        "entered",
    );
    let first = c["id"].as_i64().expect("id");
    let step = |id: i64, action: &'static str, who: Option<&str>, body: String| {
        let (addr, who) = (api.addr, who.map(str::to_string));
        async move {
            http(
                addr,
                "POST",
                &format!("/api/complaints/{id}/{action}"),
                who.as_deref(),
                Some(&body),
            )
            .await
        }
    };
    let f = status(&step(first, "forward", d, "{}".into()).await, 200, "forwarded");
    let posted: Value =
        serde_json::from_str(&own_hook.wait_nth(0, "the forward's notice", WAIT).await).expect("json");
    assert_eq!(posted["kind"], "complaint", "{posted}");
    assert_eq!(posted["event"], "forwarded");
    assert_eq!(posted["complaint_id"], first);
    assert_eq!(posted["unit"], own_unit);
    assert_eq!(posted["plates"], serde_json::json!([OWN_PLATE]));
    assert_eq!(posted["unresolved"], 1);
    assert_eq!(
        posted["deadline"], f["deadline"],
        "the deadline the unit must answer by"
    );

    // Sent back after the unit's answer: told again.
    status(
        &step(first, "answer", s, r#"{"text":"司机已批评"}"#.into()).await,
        200,
        "answered",
    );
    status(
        &step(
            first,
            "review",
            i,
            r#"{"decision":"send_back","text":"请说明整改措施"}"#.into(),
        )
        .await,
        200,
        "sent back",
    );
    let posted: Value =
        serde_json::from_str(&own_hook.wait_nth(1, "the send-back's notice", WAIT).await).expect("json");
    assert_eq!(
        (posted["event"].as_str(), posted["complaint_id"].as_i64()),
        (Some("sent_back"), Some(first))
    );

    // A second complaint, due in two seconds and not answered: escalated once, by itself, told again.
    let second = status(
        &http(api.addr, "POST", "/api/complaints", d, Some(&enter)).await,
        201,
        "entered again",
    )["id"]
        .as_i64()
        .expect("id");
    let due = Timestamp::from_millis(chrono::Utc::now().timestamp_millis() + 2_000);
    status(
        &step(
            second,
            "forward",
            d,
            format!(r#"{{"deadline":"{}"}}"#, due.to_rfc3339()),
        )
        .await,
        200,
        "forwarded with a short deadline",
    );
    own_hook.wait_nth(2, "the second forward's notice", WAIT).await;
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
        serde_json::from_str(&own_hook.wait_nth(3, "the escalation's notice", WAIT).await).expect("json");
    assert_eq!(
        (posted["event"].as_str(), posted["complaint_id"].as_i64()),
        (Some("escalated"), Some(second))
    );
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let again = tianshu_alerts::escalate_overdue_complaints(&api.store, &config, now)
        .await
        .expect("escalating again");
    assert!(again.is_empty(), "escalated once");
    let history = status(
        &http(api.addr, "GET", &format!("/api/complaints/{second}"), i, None).await,
        200,
        "detail",
    );
    assert!(
        history["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["action"] == "escalated")),
        "{history}"
    );

    // Every delivery sent to the unit's channel only; nothing of the reporter in any of them.
    let channel = "市委办值班";
    for id in [first, second] {
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
    assert_eq!(own_hook.len(), 4, "forwarded, sent back, forwarded, escalated");
    for n in 0..4 {
        let body = own_hook.wait_nth(n, "a notice", WAIT).await;
        assert!(!names_the_reporter(&body), "posted: {body}");
    }
    assert_eq!(other_hook.len(), 0, "another unit's channel is told nothing");

    // Nor do the office's figures, as JSON or CSV.
    let year = chrono::Utc::now().format("%Y").to_string();
    let next = year.parse::<i32>().unwrap_or_default() + 1;
    let q = format!("/api/casework/summary?from={year}-01-01&to={next}-01-01");
    for format in ["json", "csv"] {
        let r = http(api.addr, "GET", &format!("{q}&format={format}"), i, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("received"), "{format}: {}", r.body);
        assert!(!names_the_reporter(&r.body), "{format}: {}", r.body);
    }
    // Nor does the stored database, its outbox included (the file, or a pg_dump).
    api.store.flush().await.expect("flush");
    let bytes = stored_bytes(&api).await;
    assert!(
        contains(&bytes, r#""kind":"complaint""#),
        "the grep reads the outbox"
    );
    assert!(
        !contains(&bytes, PHONE),
        "the number in clear in the stored database"
    );
    alerts.shutdown().await;
}

//! End to end: points committed through the store writer become cases, delivered to a real webhook
//! receiver and a real SMTP sink on 127.0.0.1; an order approved afterwards withdraws its case; an
//! unexplained case escalates by itself; a failing webhook is retried without holding up the others.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

mod support;

use std::time::Duration;

use tianshu_alerts::config::{EmailConfig, EmailRecipient, RetryConfig, WebhookConfig, WebhookFormat};
use tianshu_alerts::{AlertsConfig, CaseAction, apply_action, case_detail};
use tianshu_model::{AlarmBit, Position, Timestamp, VehicleId};
use tianshu_rules::RulesConfig;
use tianshu_store::StoreConfig;
use tianshu_store::rules::{CaseFilter, CaseState, NewCase};
use tianshu_testkit::sinks::{http_receiver, http_receiver_answering, smtp_sink};
use tianshu_testkit::{WAIT, import_cars, on_both_backends, trip};

use support::{Scratch, local, wait_for};

/// A 30-minute Saturday trip (2026-11-28 is an ordinary rest day), one fix every 30 s, then parked.
fn saturday_trip(vehicle: VehicleId, alarm: u32) -> Vec<Position> {
    trip(
        local("2026-11-28 10:00:00"),
        (30_200_000, 115_000_000),
        1000,
        true,
        80,
    )
    .into_iter()
    .map(|f| f.vehicle(vehicle.0).alarm(alarm).build())
    .collect()
}

/// Delivery to a generic webhook, a DingTalk robot that keeps failing, and the unit's supervisor by
/// e-mail; escalation after a second.
fn delivering_config(good_url: String, bad_url: String, smtp_port: u16) -> AlertsConfig {
    AlertsConfig {
        auto_escalate_after_hours: 1.0 / 3600.0,
        reference_reload_secs: 1,
        tick_secs: 1,
        outbox_poll_ms: 50,
        notifications: tianshu_alerts::config::NotificationsConfig {
            webhooks: vec![
                WebhookConfig {
                    name: "office".into(),
                    url: Some(good_url),
                    url_env: None,
                    format: WebhookFormat::Generic,
                    units: vec!["黄石市".into()],
                    timeout_secs: 5,
                },
                WebhookConfig {
                    name: "broken".into(),
                    url: Some(bad_url),
                    url_env: Some("TIANSHU_TEST_UNSET_WEBHOOK_URL".into()),
                    format: WebhookFormat::Dingtalk,
                    units: vec![],
                    timeout_secs: 5,
                },
            ],
            email: Some(EmailConfig {
                smtp_host: "127.0.0.1".into(),
                smtp_port,
                security: tianshu_alerts::config::SmtpSecurity::None,
                username: None,
                password_env: None,
                from: "tianshu@example.invalid".into(),
                recipients: vec![EmailRecipient {
                    unit: "黄石市/市委办公室".into(),
                    address: "chief@example.invalid".into(),
                }],
                timeout_secs: 10,
            }),
            retry: RetryConfig {
                max_attempts: 100,
                initial_backoff_secs: 1,
                max_backoff_secs: 2,
            },
        },
        ..AlertsConfig::default()
    }
}

on_both_backends!(
    points_become_delivered_cases_on,
    points_become_delivered_cases,
    "e2e"
);

/// The office webhook and the e-mail went out; the broken robot is still pending after a 500.
#[track_caller]
fn assert_delivered(deliveries: &[tianshu_store::rules::Delivery]) {
    let sent: Vec<(&str, &str)> = deliveries
        .iter()
        .filter(|d| d.state == "sent")
        .map(|d| (d.channel.as_str(), d.recipient.as_str()))
        .collect();
    assert!(
        sent.contains(&("email", "chief@example.invalid")),
        "{:?}",
        deliveries
    );
    assert!(
        sent.contains(&("webhook:office", "office")),
        "the outbox names the webhook, not its URL"
    );
    let broken = deliveries.iter().find(|d| d.channel == "webhook:broken").unwrap();
    assert_eq!(broken.state, "pending");
    assert!(
        broken.attempts >= 1 && broken.last_error.as_deref().unwrap_or("").contains("500"),
        "{broken:?}"
    );
}

async fn points_become_delivered_cases(scratch: Scratch) {
    let store = scratch.open(&StoreConfig::default()).await;
    let cars = [("鄂B12345", 13_800_000_001), ("鄂B00002", 13_800_000_002)];
    import_cars(&store, "黄石市/市委办公室", &cars).await;
    let car = store.vehicle_by_plate("鄂B12345").await.unwrap().unwrap();
    let other = store.vehicle_by_plate("鄂B00002").await.unwrap().unwrap();

    let (good_url, good) = http_receiver().await;
    let (bad_url, bad) = http_receiver_answering(500).await;
    let (smtp_port, mail) = smtp_sink().await;
    let config = delivering_config(format!("{good_url}?access_token=t"), bad_url, smtp_port);
    let handle = tianshu_alerts::start(store.clone(), RulesConfig::default(), config.clone())
        .await
        .unwrap();
    let mut feed = handle.subscribe();

    // The trip goes through the writer like any ingested batch.
    store.append_points(&saturday_trip(car.id, 0)).await.unwrap();

    let notice = tokio::time::timeout(Duration::from_secs(60), feed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (notice.event.as_str(), notice.rule.as_str(), notice.plate.as_str()),
        ("opened", "out_of_hours", "鄂B12345")
    );
    assert_eq!(notice.unit_path, "黄石市/市委办公室");
    assert_eq!(notice.units.len(), 2, "the car's unit and its parent");

    // Delivered: the generic webhook gets the case as JSON with its id; the unit's supervisor an e-mail.
    let body: serde_json::Value = serde_json::from_str(&good.wait_nth(0, "webhook", WAIT).await).unwrap();
    assert_eq!(body["rule"], "out_of_hours");
    assert_eq!(body["case_id"], notice.case_id);
    assert_eq!(body["start"], "2026-11-28T02:00:00Z");
    let mail = mail.wait_nth(0, "e-mail", WAIT).await.data;
    assert!(mail.contains("chief@example.invalid"), "{mail}");
    assert!(mail.to_ascii_lowercase().contains("subject:"), "{mail}");
    // The broken DingTalk robot got the markdown body, answered 500, and is being retried.
    let ding: serde_json::Value =
        serde_json::from_str(&bad.wait_nth(0, "dingtalk attempt", WAIT).await).unwrap();
    assert_eq!(ding["msgtype"], "markdown");
    assert!(ding["markdown"]["text"].as_str().unwrap().contains("鄂B12345"));
    let _second_attempt = bad.wait_nth(1, "dingtalk retry", WAIT).await;

    // Exactly one case for the episode, however many events the rule emitted.
    let cases = store
        .cases()
        .cases(&CaseFilter {
            vehicle: Some(car.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cases.len(), 1);
    let case_id = cases[0].id;
    assert_eq!(case_id, notice.case_id);

    // Unexplained, it escalates by itself (after one second in this configuration).
    let escalated = wait_for("auto-escalation", || async {
        let c = store.cases().case(case_id).await.unwrap().unwrap();
        (c.state == CaseState::Escalated).then_some(c)
    })
    .await;
    assert!(escalated.escalate_at.is_none());

    // The order approved afterwards arrives as an import; the runtime re-evaluates and withdraws.
    let order = r#"{"id":"PC-2026-000777","kind":"order","plate":"鄂B12345","purpose":"周末送文件","start":"2026-11-28T01:30:00Z","end":"2026-11-28T03:00:00Z","state":"approved"}"#;
    store
        .rules()
        .import_orders(
            order,
            Timestamp::from_millis(chrono::Utc::now().timestamp_millis()),
        )
        .await
        .unwrap();
    let detail = wait_for("withdrawal", || async {
        let d = case_detail(&store, case_id).await.unwrap().unwrap();
        (d.case.state == CaseState::Withdrawn).then_some(d)
    })
    .await;
    let actions: Vec<&str> = detail.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["opened", "escalated", "withdrawn"]);
    assert!(
        detail.events[2].note.contains("PC-2026-000777"),
        "{}",
        detail.events[2].note
    );
    assert_delivered(&detail.deliveries);

    // A tampered terminal on another car: a high-severity case of its own.
    store
        .append_points(&saturday_trip(other.id, 1 << AlarmBit::PowerLost as u8))
        .await
        .unwrap();
    let tamper = wait_for("tamper case", || async {
        let cs = store
            .cases()
            .cases(&CaseFilter {
                vehicle: Some(other.id),
                rule: Some("tamper".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        cs.into_iter().next()
    })
    .await;
    assert_eq!(tamper.severity, "high");
    assert!(tamper.reasoning.contains("power_lost"), "{}", tamper.reasoning);

    handle.shutdown().await;
    drop(store);
    drop(scratch);
}

#[tokio::test]
async fn the_case_workflow_records_who_when_what() {
    let scratch = Scratch::embedded("workflow");
    let store = scratch.open(&StoreConfig::default()).await;
    let config = AlertsConfig::default();
    let case = NewCase {
        vehicle: VehicleId(1),
        unit: tianshu_model::UnitId(1),
        rule: "out_of_hours".into(),
        start: local("2026-11-28 10:00:00"),
        end: Some(local("2026-11-28 10:30:00")),
        severity: "medium".into(),
        late: false,
        reasoning: "r".into(),
        reasoning_zh: "r".into(),
        episode: serde_json::json!({}),
        escalate_at: Some(local("2026-12-01 10:00:00")),
    };
    let (id, _) = store
        .cases()
        .record_case(&case, &[], local("2026-11-28 10:31:00"))
        .await
        .unwrap();
    let at = |s: &str| local(s);
    // One step of the workflow by `actor` with `note` at `time` (Beijing).
    let step = |action: CaseAction, actor: &'static str, note: &'static str, time: &'static str| {
        apply_action(&store, &config, id, action, actor, note, local(time))
    };

    // Close needs an explanation first; an explanation needs words.
    let e = step(CaseAction::Close, "office", "ok", "2026-11-28 11:00:00")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is open"), "{e}");
    // A step that does not fit the state is refused input (the web answers 409), not a store failure.
    assert!(matches!(e, tianshu_alerts::Error::Invalid(_)), "{e:?}");
    let e = step(CaseAction::Explain, "zhang", " ", "2026-11-28 11:00:00")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("needs a note"), "{e}");

    let c = step(CaseAction::Acknowledge, "zhang", "", "2026-11-28 11:00:00")
        .await
        .unwrap();
    assert_eq!(
        (c.state, c.escalate_at),
        (CaseState::Acknowledged, Some(at("2026-12-01 10:00:00")))
    );
    let c = step(
        CaseAction::Explain,
        "zhang",
        "加班送文件，已补单",
        "2026-11-28 12:00:00",
    )
    .await
    .unwrap();
    assert_eq!(
        (c.state, c.escalate_at),
        (CaseState::Explained, None),
        "an explanation stops the escalation clock"
    );
    let c = step(CaseAction::Close, "li", "与轨迹一致", "2026-11-29 09:00:00")
        .await
        .unwrap();
    assert_eq!(c.state, CaseState::Closed);
    let e = step(CaseAction::Escalate, "li", "x", "2026-11-29 09:00:00")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is closed"), "{e}");
    assert!(matches!(e, tianshu_alerts::Error::Invalid(_)), "{e:?}");

    let d = case_detail(&store, id).await.unwrap().unwrap();
    let history: Vec<(&str, &str, &str, Timestamp)> = d
        .events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.note.as_str(), e.time))
        .collect();
    assert_eq!(
        history,
        [
            ("opened", "system", "r", at("2026-11-28 10:31:00")),
            ("acknowledged", "zhang", "", at("2026-11-28 11:00:00")),
            (
                "explained",
                "zhang",
                "加班送文件，已补单",
                at("2026-11-28 12:00:00")
            ),
            ("closed", "li", "与轨迹一致", at("2026-11-29 09:00:00")),
        ]
    );
    drop(store);
    drop(scratch);
}

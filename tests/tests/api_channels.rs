//! Alert channels through the API: an administrator adds a webhook for a unit; a case of that unit's car
//! (and of its sub-unit's) is posted to a real HTTP listener, a case of another unit is not, and once the
//! channel is disabled, then deleted, no case is routed to it. Bad input is refused naming the field; a
//! name the configuration holds is taken; a configured URL read from the environment is not shown.

use tianshu_alerts::AlertsConfig;
use tianshu_alerts::config::{NotificationsConfig, RetryConfig, WebhookConfig, WebhookFormat};
use tianshu_e2e::api::{
    FOREIGN_PLATE, OWN_PLATE, Resp, SUB_PLATE, SUPERVISOR_UNIT, Scratch, TestApi, http, status,
};
use tianshu_e2e::{WAIT, on_both_backends, sinks::http_receiver, wait_for};
use tianshu_model::Timestamp;
use tianshu_rules::RulesConfig;
use tianshu_store::rules::NewCase;

/// Asserts a refusal with `want` whose message starts with `field`.
#[track_caller]
fn refused(r: &Resp, want: u16, field: &str, what: &str) {
    status(r, want, what);
    let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        msg.starts_with(field),
        "{what}: the message {msg:?} names {field:?} first"
    );
}

/// The runtime's settings: a configured webhook whose URL comes from the environment, a quick outbox,
/// and no replay of the seeded tracks (only the cases this test records are routed).
fn config() -> AlertsConfig {
    AlertsConfig {
        outbox_poll_ms: 50,
        tick_secs: 3600,
        resume_hours: 0.0,
        state_save_secs: 0,
        notifications: NotificationsConfig {
            webhooks: vec![WebhookConfig {
                name: "office".into(),
                url: None,
                url_env: Some("TIANSHU_TEST_UNSET_CHANNEL_URL".into()),
                format: WebhookFormat::Dingtalk,
                units: vec!["黄石市/公安局".into()],
                timeout_secs: 5,
            }],
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

on_both_backends!(
    stored_channels_route_cases_by_unit_on,
    stored_channels_route_cases_by_unit,
    "api_channels"
);

async fn stored_channels_route_cases_by_unit(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let config = config();
    api.state.set_configured_channels(config.listed_channels());
    let alerts = tianshu_alerts::start(api.store.clone(), RulesConfig::default(), config)
        .await
        .expect("starting the alerts runtime");
    let recorder = alerts.case_recorder();
    let admin = api.login("administrator").await;
    let a = Some(admin.as_str());
    let unit = api.units[SUPERVISOR_UNIT].0;
    let (url, hook) = http_receiver().await;

    // Bad input, each refused naming its field; a configured name is taken.
    let body = |name: &str, extra: &str| format!(r#"{{"name":"{name}","kind":"webhook"{extra}}}"#);
    for (json, want, field) in [
        (body("", &format!(r#","url":"{url}""#)), 400, "name: "),
        (body("h", r#","url":"ftp://127.0.0.1/x""#), 400, "url: "),
        (body("h", ""), 400, "url: "),
        (
            body("h", &format!(r#","url":"{url}","units":[999999]"#)),
            400,
            "units: ",
        ),
        (
            body("h", &format!(r#","url":"{url}","format":"telegram""#)),
            400,
            "format",
        ),
        (
            body("h", &format!(r#","url":"{url}","min_severity":"severe""#)),
            400,
            "min_severity",
        ),
        (
            r#"{"name":"m","kind":"email","address":"chief@"}"#.into(),
            400,
            "address: ",
        ),
        (r#"{"name":"m","kind":"sms"}"#.into(), 400, "kind"),
        (body("office", &format!(r#","url":"{url}""#)), 409, "name: "),
    ] {
        let r = http(api.addr, "POST", "/api/channels", a, Some(&json)).await;
        refused(&r, want, field, &json);
    }

    // The unit's webhook.
    let hook_body = |enabled: bool| {
        format!(
            r#"{{"name":"市委办值班","kind":"webhook","url":"{url}","format":"generic","units":[{unit}],"enabled":{enabled}}}"#
        )
    };
    let r = http(api.addr, "POST", "/api/channels", a, Some(&hook_body(true))).await;
    status(&r, 201, "a webhook for the unit");
    let id = r.json()["id"].as_i64().expect("channel id");
    let r = http(api.addr, "POST", "/api/channels", a, Some(&hook_body(true))).await;
    refused(&r, 409, "name: ", "the same name again");

    // Listed with its URL for the administrator; the configured one read-only, its URL not shown.
    let r = http(api.addr, "GET", "/api/channels", a, None).await;
    status(&r, 200, "the listing");
    let list = r.json();
    assert_eq!(list["stored"][0]["url"], url.as_str(), "{list}");
    assert_eq!(list["stored"][0]["units"], serde_json::json!([unit]));
    assert_eq!(list["configured"][0]["name"], "office");
    assert_eq!(list["configured"][0]["url"], serde_json::Value::Null);
    assert_eq!(list["configured"][0]["url_env"], "TIANSHU_TEST_UNSET_CHANNEL_URL");
    let supervisor = api.login("supervisor").await;
    let r = http(api.addr, "GET", "/api/channels", Some(&supervisor), None).await;
    status(&r, 403, "a supervisor asks for the channels");

    // Cases of the unit's car, its sub-unit's car and another unit's car.
    let mut starts = 0;
    let mut record = |plate: &str| {
        starts += 1;
        let v = &api.vehicles[plate];
        let case = NewCase {
            vehicle: v.id,
            unit: v.unit,
            rule: "out_of_hours".into(),
            start: Timestamp::from_millis(1_795_000_000_000 + starts * 60_000),
            end: None,
            severity: "medium".into(),
            late: false,
            reasoning: "r".into(),
            reasoning_zh: "r".into(),
            episode: serde_json::json!({}),
            escalate_at: None,
        };
        let recorder = recorder.clone();
        async move { recorder.record(&case).await.expect("recording a case") }
    };
    let channel = format!("channel:{id}");
    let routed = |case: i64| {
        let (store, channel) = (api.store.clone(), channel.clone());
        async move {
            let d = store.cases().deliveries(case).await.expect("deliveries");
            d.into_iter().find(|d| d.channel == channel)
        }
    };
    let own = record(OWN_PLATE).await;
    let sub = record(SUB_PLATE).await;
    let foreign = record(FOREIGN_PLATE).await;
    for case in [own, sub] {
        let sent = wait_for("the channel's delivery", WAIT, || async {
            routed(case).await.filter(|d| d.state == "sent")
        })
        .await;
        assert_eq!(
            sent.recipient, "市委办值班",
            "the outbox names the channel, not its URL"
        );
    }
    let mut posted: Vec<i64> = Vec::new();
    for n in 0..2 {
        let body: serde_json::Value =
            serde_json::from_str(&hook.wait_nth(n, "webhook", WAIT).await).expect("json");
        posted.push(body["case_id"].as_i64().expect("case id"));
    }
    posted.sort_unstable();
    assert_eq!(posted, [own.min(sub), own.max(sub)]);
    assert!(
        routed(foreign).await.is_none(),
        "another unit's case is not routed to the channel"
    );

    // Disabled: nothing routed to it; deleted: nothing either.
    let r = http(
        api.addr,
        "PUT",
        &format!("/api/channels/{id}"),
        a,
        Some(&hook_body(false)),
    )
    .await;
    status(&r, 200, "disabling");
    assert_eq!(r.json()["enabled"], false);
    let quiet = record(OWN_PLATE).await;
    assert!(routed(quiet).await.is_none(), "a disabled channel gets nothing");
    let r = http(
        api.addr,
        "PUT",
        &format!("/api/channels/{id}"),
        a,
        Some(&hook_body(true)),
    )
    .await;
    status(&r, 200, "enabling again");
    let r = http(api.addr, "DELETE", &format!("/api/channels/{id}"), a, None).await;
    status(&r, 204, "deleting");
    let r = http(api.addr, "DELETE", &format!("/api/channels/{id}"), a, None).await;
    status(&r, 404, "deleting again");
    let gone = record(OWN_PLATE).await;
    assert!(routed(gone).await.is_none(), "a deleted channel gets nothing");
    assert_eq!(hook.len(), 2, "the listener got the two routed cases only");

    // Every change audited, without the URL's token.
    let r = http(api.addr, "GET", "/api/audit", a, None).await;
    status(&r, 200, "the audit log");
    for action in ["channel.create", "channel.replace", "channel.delete"] {
        assert!(r.body.contains(action), "{action} audited");
    }
    assert!(
        !r.body.contains(&url),
        "the audit log does not hold the webhook's URL"
    );
    alerts.shutdown().await;
}

//! The served binary (`tianshu serve`, its gateway and its alerts engine) answering the API's small
//! refusals with the status that names them: a case step the case's state no longer allows is 409
//! however the requests race, and a text the terminal's wire cannot carry is 400, never 503.

mod api_support;
mod gateway_support;

use gateway_support::{Server, Terminal, phone, plate, provision};
use tianshu_model::Timestamp;
use tianshu_store::Store;
use tianshu_store::access::{NewUser, Role};
use tianshu_store::rules::NewCase;

/// Provisions terminal 0 with its car, an administrator, and one open case on the car; returns the
/// vehicle id and the case id.
async fn seed(url: &str) -> (i64, i64) {
    provision(url, 1).await;
    let store = Store::open(url).await.expect("opening the store");
    let v = store
        .vehicles()
        .await
        .expect("vehicles")
        .into_iter()
        .find(|v| v.plate == plate(0))
        .expect("the provisioned car");
    store
        .access()
        .create_user(&NewUser {
            username: "administrator".into(),
            role: Role::Administrator,
            unit: None,
            password_hash: tianshu_api::hash_password(api_support::PASSWORD).expect("hashing"),
        })
        .await
        .expect("creating the administrator");
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let case = NewCase {
        vehicle: v.id,
        unit: v.unit,
        rule: "out_of_hours".into(),
        start: now.add_millis(-600_000),
        end: None,
        severity: "warning".into(),
        late: false,
        reasoning: "in use off hours".into(),
        reasoning_zh: "非工作时间使用".into(),
        episode: serde_json::json!({}),
        escalate_at: None,
    };
    let (case_id, _) = store
        .cases()
        .record_case(&case, &[], now)
        .await
        .expect("recording a case");
    (v.id.0, case_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_case_steps_are_409_and_unencodable_texts_400() {
    let scratch = api_support::Scratch::embedded("hostile-served");
    let url = scratch.url();
    let (vehicle, case_id) = seed(&url).await;
    let dir = tianshu_testkit::unique_dir("hostile-served-config");
    let server = Server::start(&url, "", &dir);
    let mut terminal = Terminal::connect(server.jt808, phone(0))
        .await
        .expect("connecting the terminal");
    terminal.login(0).await;
    let body = serde_json::json!({"username": "administrator", "password": api_support::PASSWORD}).to_string();
    let r = api_support::http(server.http, "POST", "/api/session", None, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();

    // A text GBK cannot carry, and one too long for a message, to a connected terminal: the request is wrong.
    let commands = format!("/api/vehicles/{vehicle}/commands");
    for text in ["\u{1F697} 请回电", &"x".repeat(2000)] {
        let body = serde_json::json!({"kind": "text", "text": text}).to_string();
        let r = api_support::http(server.http, "POST", &commands, Some(&cookie), Some(&body)).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("text:"), "{}", r.body);
    }

    // Eight acknowledgements at once: one moves the case, the others are refused as conflicts.
    let path = format!("/api/cases/{case_id}/actions");
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let (path, cookie, http) = (path.clone(), cookie.clone(), server.http);
            tokio::spawn(async move {
                api_support::http(http, "POST", &path, Some(&cookie), Some(r#"{"action":"acknowledge"}"#))
                    .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        let r = t.await.expect("request");
        statuses.push((r.status, r.body));
    }
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|(s, _)| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    // And one the state never allowed.
    let r = api_support::http(server.http, "POST", &path, Some(&cookie), Some(r#"{"action":"close"}"#)).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = api_support::http(
        server.http,
        "POST",
        "/api/cases/99999/actions",
        Some(&cookie),
        Some(r#"{"action":"acknowledge"}"#),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

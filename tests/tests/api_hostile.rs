//! The web API against a hostile or sloppy client, over real TCP on a real store: login floods are
//! bounded and throttled, long names and bodies are refused before hashing or auditing, a live feed
//! ends with its session, a foreign Origin opens no feed, JSON must say it is JSON, every answer
//! carries the security headers, and `/api/calendars` names each key once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tianshu_api::config::LoginConfig;
use tianshu_api::{ApiConfig, ApiState, LiveHub};
use tianshu_e2e::api::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn start(name: &str) -> TestApi {
    TestApi::start(Scratch::embedded(name), Arc::new(tianshu_api::NoCases)).await
}

/// A second server over `api`'s store with other settings.
async fn serve_with(api: &TestApi, config: ApiConfig) -> SocketAddr {
    let state = ApiState::with_parts(
        api.store.clone(),
        config,
        LiveHub::new(),
        Arc::new(tianshu_api::NoCases),
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding");
    let addr = listener.local_addr().expect("local addr");
    let app = tianshu_api::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    addr
}

fn login_body(username: &str, password: &str) -> String {
    serde_json::json!({"username": username, "password": password}).to_string()
}

/// `POST /api/session` at `addr`.
async fn try_login(addr: SocketAddr, username: &str, password: &str) -> Resp {
    let body = login_body(username, password);
    http(addr, "POST", "/api/session", None, Some(&body)).await
}

async fn audit_records(api: &TestApi, admin: &str) -> Vec<serde_json::Value> {
    let r = http(api.addr, "GET", "/api/audit?limit=1000", Some(admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let list = v.get("records").cloned().unwrap_or(v);
    list.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_username_or_body_is_refused_before_hashing_or_auditing() {
    let api = start("hostile-long").await;
    let admin = api.login("administrator").await;
    let before = audit_records(&api, &admin).await.len();
    let long = "x".repeat(3000);
    let r = try_login(api.addr, &long, "nope").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("username:")),
        "{}",
        r.body
    );
    let huge = login_body(&"y".repeat(1_900_000), "nope");
    let r = http(api.addr, "POST", "/api/session", None, Some(&huge)).await;
    assert_eq!(r.status, 413, "{}", r.body);
    let after = audit_records(&api, &admin).await;
    assert_eq!(after.len(), before, "no audit record for a refused login");
    assert!(
        after.iter().all(|r| r.to_string().len() < 2000),
        "no record carries the long name"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_make_the_account_and_the_address_wait() {
    let api = start("hostile-throttle").await;
    let limit = LoginConfig::default().failures_per_account;
    for i in 0..limit {
        let r = try_login(api.addr, "inspector", "wrong").await;
        assert_eq!(r.status, 401, "failure {i}: {}", r.body);
    }
    // The next attempt waits, even with the right password; the answer says how long.
    let r = try_login(api.addr, "inspector", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(wait >= 1, "{wait}");
    // Another account is not held up by it.
    api.login("dispatcher").await;

    // One address trying many names is held up as an address.
    let config = ApiConfig {
        login: LoginConfig {
            failures_per_address: 3,
            failures_per_account: 100,
            ..LoginConfig::default()
        },
        ..ApiConfig::default()
    };
    let addr = serve_with(&api, config).await;
    for i in 0..3 {
        let r = try_login(addr, &format!("ghost{i}"), "x").await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = try_login(addr, "supervisor", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_beyond_the_queue_are_refused_at_once() {
    let api = start("hostile-busy").await;
    let config = ApiConfig {
        login: LoginConfig {
            max_concurrent_hashes: 1,
            hash_queue: 2,
            failures_per_address: 10_000,
            failures_per_account: 10_000,
            ..LoginConfig::default()
        },
        ..ApiConfig::default()
    };
    let addr = serve_with(&api, config).await;
    let attempts: Vec<_> = (0..40)
        .map(|i| {
            tokio::spawn(async move {
                let body = login_body(&format!("flood{i}"), "wrong");
                let r = http(addr, "POST", "/api/session", None, Some(&body)).await;
                (r.status, r.header("retry-after").map(str::to_string))
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for a in attempts {
        statuses.push(a.await.expect("attempt"));
    }
    let busy = statuses.iter().filter(|(s, _)| *s == 429).count();
    let wrong = statuses.iter().filter(|(s, _)| *s == 401).count();
    assert_eq!(busy + wrong, statuses.len(), "{statuses:?}");
    assert!(
        busy > 0,
        "40 logins at once against 1 check and 2 places: {statuses:?}"
    );
    assert!(wrong >= 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .filter(|(s, _)| *s == 429)
            .all(|(_, r)| r.as_deref() == Some("1")),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_must_be_sent_as_json() {
    let api = start("hostile-json").await;
    let admin = api.login("administrator").await;
    let body = login_body("inspector", PASSWORD);
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = raw(api.addr, "POST", "/api/session", None, ct, &body).await;
        assert_eq!(r.0, 415, "{ct}: {}", r.1);
    }
    let r = raw(
        api.addr,
        "POST",
        "/api/units",
        Some(&admin),
        "text/plain",
        r#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(r.0, 415, "{}", r.1);
    let r = raw(
        api.addr,
        "POST",
        "/api/session",
        None,
        "application/json; charset=utf-8",
        &body,
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
}

/// One request with the given Content-Type; the status and the raw answer.
async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connecting");
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{cookie}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("writing");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("reading");
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_the_api_carry_the_security_headers() {
    let api = start("hostile-headers").await;
    let cookie = api.login("inspector").await;
    for (path, cookie) in [
        ("/", None),
        ("/api/me", Some(cookie.as_str())),
        ("/api/nothing", None),
    ] {
        let r = http(api.addr, "GET", path, cookie, None).await;
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
}

async fn open_feed(addr: SocketAddr, cookie: &str, origin: Option<&str>) -> Result<Ws, u16> {
    let mut req = format!("ws://{addr}/api/live")
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("cookie", cookie.parse().expect("header"));
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("connecting the feed: {e}"),
    }
}

/// Reads the feed until it closes; the close code. A bound on waiting, not a timing assertion.
async fn closed(ws: &mut Ws) -> Option<u16> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("the feed closes within 30 s");
        match next {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_ends_with_its_session() {
    let api = start("hostile-feed").await;
    // A logout closes the feed it opened.
    let cookie = api.login("inspector").await;
    let mut ws = open_feed(api.addr, &cookie, None).await.expect("the feed opens");
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    let r = http(api.addr, "DELETE", "/api/session", Some(&cookie), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        closed(&mut ws).await,
        Some(tianshu_api::live::CLOSE_SESSION_ENDED)
    );

    // Disabling the user closes theirs.
    let admin = api.login("administrator").await;
    let cookie = api.login("supervisor").await;
    let mut ws = open_feed(api.addr, &cookie, None).await.expect("the feed opens");
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    let r = http(
        api.addr,
        "PATCH",
        "/api/users/supervisor",
        Some(&admin),
        Some(r#"{"disabled":true}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        closed(&mut ws).await,
        Some(tianshu_api::live::CLOSE_SESSION_ENDED)
    );
    assert_eq!(open_feed(api.addr, &cookie, None).await.err(), Some(401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_ends_when_the_session_is_deleted_behind_the_servers_back() {
    // A change the server is not told of (another process, an expiry) is found by the periodic check.
    let api = start("hostile-feed-periodic").await;
    let config = ApiConfig {
        live_recheck_secs: 1,
        ..ApiConfig::default()
    };
    let addr = serve_with(&api, config).await;
    let cookie = login_at(addr, "dispatcher").await;
    let mut ws = open_feed(addr, &cookie, None).await.expect("the feed opens");
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    let token = cookie.split_once('=').map(|(_, t)| t).expect("token");
    api.store
        .access()
        .delete_session(&tianshu_store::access::session_token_hash(token))
        .await
        .expect("deleting the session in the store");
    assert_eq!(
        closed(&mut ws).await,
        Some(tianshu_api::live::CLOSE_SESSION_ENDED)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_opens_no_feed() {
    let api = start("hostile-origin").await;
    let cookie = api.login("inspector").await;
    assert_eq!(
        open_feed(api.addr, &cookie, Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    let own = format!("http://{}", api.addr);
    assert!(open_feed(api.addr, &cookie, Some(&own)).await.is_ok());
    let config = ApiConfig {
        allowed_origins: vec!["https://map.example".into()],
        ..ApiConfig::default()
    };
    let addr = serve_with(&api, config).await;
    assert!(
        open_feed(addr, &cookie, Some("https://map.example"))
            .await
            .is_ok()
    );
    assert_eq!(
        open_feed(addr, &cookie, Some("https://evil.example")).await.err(),
        Some(403)
    );
}

/// Every key of every object of a JSON text, each object's keys checked for repeats.
fn repeated_keys(text: &str) -> Vec<String> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
    struct Walk<'a>(&'a mut Vec<String>);
    impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !seen.insert(k.clone()) {
                    self.0.push(k);
                }
                m.next_value_seed(Walk(self.0))?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
            while s.next_element_seed(Walk(self.0))?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(Walk(&mut found), &mut de).expect("JSON");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendars_name_each_key_once() {
    let api = start("hostile-calendars").await;
    let cookie = api.login("administrator").await;
    assert_eq!(
        repeated_keys(r#"{"a":1,"b":{"c":2,"c":3}}"#),
        vec!["c".to_string()]
    );
    let r = http(api.addr, "GET", "/api/calendars", Some(&cookie), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json().as_array().is_some_and(|a| !a.is_empty()), "{}", r.body);
    assert_eq!(
        repeated_keys(&r.body),
        Vec::<String>::new(),
        "{}",
        &r.body[..r.body.len().min(400)]
    );
    let year = r.json()[0]["year"].as_i64().expect("a year");
    let toml = format!("year = {year}\n");
    let put = http(
        api.addr,
        "PUT",
        &format!("/api/calendars/{year}"),
        Some(&cookie),
        Some(&toml),
    )
    .await;
    assert!(put.status == 200 || put.status == 201, "{}", put.body);
    assert_eq!(repeated_keys(&put.body), Vec::<String>::new(), "{}", put.body);
}

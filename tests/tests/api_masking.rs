//! Terminals' phones and ids are hidden from every role but administrators: whoever knows a car's phone and
//! terminal id can register as it. Every answer that carries them (terminals, latest positions, a vehicle's
//! detail, stored points, the live feed) masks them under the same field names, on both backends.

use tianshu_e2e::api::*;
use tianshu_e2e::on_both_backends;
use tianshu_model::Timestamp;
use tianshu_store::access::Role;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Every `"phone"` value anywhere in `v`.
fn phones(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("phone", Some(p)) => out.push(p.to_string()),
                    _ => phones(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| phones(x, out)),
        _ => {}
    }
}

/// The phones of `v`, checked to be all masked or all full as `role` may see them.
#[track_caller]
fn assert_shown_as(role: Role, what: &str, v: &serde_json::Value) {
    let mut found = Vec::new();
    phones(v, &mut found);
    assert!(!found.is_empty(), "{what} as {role}: no phone in {v}");
    for p in found {
        let masked = p.len() == 11 && p[..3].bytes().all(|b| b.is_ascii_digit()) && &p[3..9] == "******";
        let full = p.len() == 11 && p.bytes().all(|b| b.is_ascii_digit());
        match role {
            Role::Administrator => assert!(full, "{what}: an administrator sees {p:?}"),
            _ => assert!(masked, "{what}: {role} sees {p:?}"),
        }
    }
}

async fn get(api: &TestApi, cookie: &str, path: &str) -> serde_json::Value {
    let r = http(api.addr, "GET", path, Some(cookie), None).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.json()
}

async fn snapshot(api: &TestApi, cookie: &str) -> serde_json::Value {
    let mut req = format!("ws://{}/api/live", api.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("cookie", cookie.parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connecting the live feed");
    next_json(&mut ws).await
}

async fn identities_are_masked_for_every_role_but_administrators(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let own = api.vid(OWN_PLATE);
    let from = Timestamp::from_secs(T0_SECS).to_rfc3339();
    let to = Timestamp::from_secs(T0_SECS + 3600).to_rfc3339();
    for role in Role::ALL {
        let cookie = api.login(role.as_str()).await;
        let latest = get(&api, &cookie, "/api/positions/latest").await;
        assert_shown_as(role, "latest positions", &latest);
        let detail = get(&api, &cookie, &format!("/api/vehicles/{own}")).await;
        assert_shown_as(role, "a vehicle's detail", &detail);
        assert_shown_as(role, "the live snapshot", &snapshot(&api, &cookie).await);
        // Stored tracks are not for the dispatch office nor for a unit's car requesters.
        if !matches!(role, Role::Dispatcher | Role::Requester) {
            let path = format!("/api/positions?vehicle={own}&from={from}&to={to}");
            assert_shown_as(role, "stored points", &get(&api, &cookie, &path).await);
        }
        if matches!(role, Role::Administrator | Role::Dispatcher) {
            let terminals = get(&api, &cookie, "/api/terminals").await;
            assert_shown_as(role, "terminals", &terminals);
            let ids = texts(&terminals, "terminal_id");
            assert!(!ids.is_empty());
            for id in ids {
                let masked = id.starts_with('T') && id.contains("****");
                assert_eq!(
                    masked,
                    role != Role::Administrator,
                    "{role} sees terminal id {id:?}"
                );
            }
        }
    }
}

on_both_backends!(identities_are_masked_for_every_role_but_administrators);

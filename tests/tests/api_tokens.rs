//! Personal API tokens over real HTTP: a user creates one (its secret shown once, never listed), a
//! machine client sends it as `Authorization: Bearer` and acts as that user with their role and unit
//! scope, it cannot make or revoke tokens, nobody else can revoke it, and once revoked (or its user
//! disabled) it is refused with 401, a live feed opened with it closing; creating and revoking are
//! audited, the secret in no audit record.

use futures_util::StreamExt;
use tianshu_e2e::api::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn with_token(api: &TestApi, method: &str, path: &str, token: &str, body: Option<&str>) -> Resp {
    let bearer = format!("Bearer {token}");
    http_with(api.addr, method, path, None, body, &[("Authorization", &bearer)]).await
}

/// Creates a token named `name` for the user logged in with `cookie`: its id and secret.
async fn create(api: &TestApi, cookie: &str, name: &str) -> (i64, String) {
    let body = serde_json::json!({ "name": name }).to_string();
    let r = http(api.addr, "POST", "/api/tokens", Some(cookie), Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    assert_eq!(j["name"], name);
    assert!(j["revoked"].is_null());
    let secret = j["token"].as_str().expect("the secret").to_string();
    (j["id"].as_i64().expect("id"), secret)
}

tianshu_e2e::on_both_backends!(
    a_token_acts_as_its_user_until_revoked,
    acts_until_revoked,
    "api_tokens"
);

async fn acts_until_revoked(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let supervisor = api.login("supervisor").await;
    let (id, secret) = create(&api, &supervisor, "nightly export").await;
    assert!(secret.starts_with("tsk_") && secret.len() == 4 + 64, "{secret}");

    // Listed without its secret.
    let r = http(api.addr, "GET", "/api/tokens", Some(&supervisor), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["id"], id);
    assert!(
        !r.body.contains(&secret[4..]),
        "the list holds no secret: {}",
        r.body
    );

    // The supervisor's role and scope: their unit's car, not another unit's, no administrator route.
    let me = with_token(&api, "GET", "/api/me", &secret, None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["username"], "supervisor");
    let own = api.vid(OWN_PLATE);
    let r = with_token(
        &api,
        "GET",
        &format!("/api/vehicles/{own}/report?month=2026-11"),
        &secret,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["trips"], 1);
    let foreign = api.vid(FOREIGN_PLATE);
    let r = with_token(&api, "GET", &format!("/api/vehicles/{foreign}"), &secret, None).await;
    assert_eq!(r.status, 403, "another unit's car: {}", r.body);
    let r = with_token(&api, "GET", "/api/vehicles", &secret, None).await;
    let plates = texts(&r.json(), "plate")
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    assert!(
        plates.contains(&OWN_PLATE.to_string()) && !plates.contains(&FOREIGN_PLATE.to_string()),
        "{plates:?}"
    );
    let r = with_token(&api, "GET", "/api/users", &secret, None).await;
    assert_eq!(r.status, 403, "an administrator's route");

    // A token makes no tokens and revokes none, its own included.
    let r = with_token(&api, "POST", "/api/tokens", &secret, Some(r#"{"name":"more"}"#)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = with_token(&api, "DELETE", &format!("/api/tokens/{id}"), &secret, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Another user cannot revoke it: it is not theirs.
    let admin = api.login("administrator").await;
    let r = http(
        api.addr,
        "DELETE",
        &format!("/api/tokens/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        with_token(&api, "GET", "/api/me", &secret, None).await.status,
        200
    );

    // A live feed opened with the token.
    let mut req = format!("ws://{}/api/live", api.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {secret}").parse().expect("header"),
    );
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("the live feed");
    assert_eq!(resp.status().as_u16(), 101);
    let snapshot = next_json(&mut ws).await;
    assert_eq!(snapshot["type"], "snapshot");

    // Revoked by its owner: refused from then on, and the feed closes.
    let r = http(
        api.addr,
        "DELETE",
        &format!("/api/tokens/{id}"),
        Some(&supervisor),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["revoked"].is_string());
    let r = with_token(&api, "GET", "/api/me", &secret, None).await;
    assert_eq!(r.status, 401, "a revoked token: {}", r.body);
    assert!(r.json()["error"].is_string());
    let closed = loop {
        // A bound on waiting, not a timing assertion: a feed that stays open fails instead of hanging.
        let msg = tokio::time::timeout(std::time::Duration::from_secs(30), ws.next())
            .await
            .expect("the feed closes within 30 s");
        match msg {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            _ => break None,
        }
    };
    assert_eq!(closed, Some(tianshu_api::live::CLOSE_SESSION_ENDED));
    // Revoking it again finds no live token.
    let r = http(
        api.addr,
        "DELETE",
        &format!("/api/tokens/{id}"),
        Some(&supervisor),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    // Still listed, as revoked.
    let r = http(api.addr, "GET", "/api/tokens", Some(&supervisor), None).await;
    assert!(r.json()[0]["revoked"].is_string());

    // Unknown and malformed tokens are refused like no session.
    for bad in ["tsk_0000", "", &secret[..secret.len() - 1]] {
        let r = with_token(&api, "GET", "/api/me", bad, None).await;
        assert_eq!(r.status, 401, "{bad:?}");
    }
    let r = http_with(
        api.addr,
        "GET",
        "/api/me",
        None,
        None,
        &[("Authorization", "Basic eDp5")],
    )
    .await;
    assert_eq!(r.status, 401);

    // Audited: the creation and the revocation, by the supervisor, naming the token, never its secret.
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    let mine: Vec<_> = log
        .iter()
        .filter(|r| r.entry.action.starts_with("token."))
        .map(|r| {
            (
                r.entry.action.as_str(),
                r.entry.actor.as_str(),
                r.entry.detail.clone(),
            )
        })
        .collect();
    assert_eq!(
        mine,
        [
            (
                "token.create",
                "supervisor",
                format!("token {id} \"nightly export\"")
            ),
            (
                "token.revoke",
                "supervisor",
                format!("token {id} \"nightly export\"")
            ),
        ]
    );
    assert!(log.iter().all(|r| !r.entry.detail.contains(&secret[4..])));
    // The report read with the token is audited as the supervisor's look.
    assert!(
        log.iter()
            .any(|r| r.entry.action == "report" && r.entry.actor == "supervisor")
    );
}

tianshu_e2e::on_both_backends!(
    a_disabled_users_tokens_are_refused_and_names_are_checked,
    disabled_and_named,
    "api_tokens_disabled"
);

async fn disabled_and_named(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let inspector = api.login("inspector").await;
    for bad in [r#"{"name":""}"#, r#"{"name":"   "}"#, r#"{"nom":"x"}"#] {
        let r = http(api.addr, "POST", "/api/tokens", Some(&inspector), Some(bad)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let long = serde_json::json!({ "name": "x".repeat(65) }).to_string();
    let r = http(api.addr, "POST", "/api/tokens", Some(&inspector), Some(&long)).await;
    assert_eq!(r.status, 400);
    let (_, secret) = create(&api, &inspector, "bi").await;
    assert_eq!(
        with_token(&api, "GET", "/api/cases", &secret, None).await.status,
        200
    );
    let admin = api.login("administrator").await;
    let r = http(
        api.addr,
        "PATCH",
        "/api/users/inspector",
        Some(&admin),
        Some(r#"{"disabled":true}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        with_token(&api, "GET", "/api/cases", &secret, None).await.status,
        401
    );
    let r = http(
        api.addr,
        "PATCH",
        "/api/users/inspector",
        Some(&admin),
        Some(r#"{"disabled":false}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        with_token(&api, "GET", "/api/cases", &secret, None).await.status,
        200,
        "enabled again, the token works again"
    );
    // Deleting the user deletes their tokens.
    let r = http(api.addr, "DELETE", "/api/users/inspector", Some(&admin), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        with_token(&api, "GET", "/api/cases", &secret, None).await.status,
        401
    );
}

//! Editing an order through `PATCH /api/orders/{id}` on both backends: the change is checked and
//! written under a row lock in one transaction with its audit record, so two edits from the same
//! version never both win, an edit from a stale version (in the body or `If-Match`) is refused with
//! 409 and changes nothing, and a change whose audit record cannot be written is not stored.

use std::sync::Arc;

use tianshu_e2e::api::{OWN_PLATE, Resp, Scratch, TestApi, http, http_with, status};

fn order(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","kind":"order","plate":"{OWN_PLATE}","purpose":"会议","start":"2026-11-18T00:00:00Z","end":"2026-11-18T04:00:00Z","state":"requested"}}"#
    )
}

/// Starts the API on `scratch`, files order `id` as the administrator, and returns the API, the
/// dispatcher's cookie (a second person, who may approve it) and the order's version.
async fn with_order(scratch: Scratch, id: &str) -> (TestApi, String, i64) {
    let api = TestApi::start(scratch, Arc::new(tianshu_api::NoCases)).await;
    let admin = api.login("administrator").await;
    let cookie = api.login("dispatcher").await;
    let r = http(api.addr, "POST", "/api/orders", Some(&admin), Some(&order(id))).await;
    status(&r, 201, "an order filed");
    let version = r.json()["version"].as_i64().expect("the order's version");
    (api, cookie, version)
}

async fn stored_state(api: &TestApi, id: &str) -> (String, i64) {
    let o = api
        .store
        .rules()
        .order(id)
        .await
        .expect("reading")
        .expect("the order");
    (o.state, o.updated.0)
}

async fn two_edits_from_one_version_one_wins(scratch: Scratch) {
    let (api, cookie, version) = with_order(scratch, "PC-V1").await;
    let c = Some(cookie.as_str());
    let approve = format!(r#"{{"state":"approved","version":{version}}}"#);
    let cancel = format!(r#"{{"state":"cancelled","version":{version}}}"#);
    let (a, b) = tokio::join!(
        http(api.addr, "PATCH", "/api/orders/PC-V1", c, Some(&approve)),
        http(api.addr, "PATCH", "/api/orders/PC-V1", c, Some(&cancel)),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "one wins: {} / {}", a.body, b.body);
    let (winner, loser) = if a.status == 200 { (&a, &b) } else { (&b, &a) };
    let message = loser.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("has changed since version"), "{message}");
    let (state, stored_version) = stored_state(&api, "PC-V1").await;
    assert_eq!(
        state,
        winner.json()["state"].as_str().expect("state"),
        "the winner's state is stored"
    );
    assert_eq!(Some(stored_version), winner.json()["version"].as_i64());
    assert!(stored_version > version, "a write is a new version");
    let log = api.store.access().audit(0, 1_000).await.expect("audit log");
    let changes = log.iter().filter(|r| r.entry.action == "order.state").count();
    assert_eq!(changes, 1, "only the change that happened is audited");
}

/// PATCH `/api/orders/ID` as `cookie` with `body`, sending `If-Match: tag` when given.
async fn patch_order(api: &TestApi, id: &str, cookie: Option<&str>, body: &str, tag: Option<&str>) -> Resp {
    let path = format!("/api/orders/{id}");
    match tag {
        Some(tag) => http_with(api.addr, "PATCH", &path, cookie, Some(body), &[("If-Match", tag)]).await,
        None => http(api.addr, "PATCH", &path, cookie, Some(body)).await,
    }
}

async fn a_stale_version_is_refused(scratch: Scratch) {
    let (api, cookie, version) = with_order(scratch, "PC-V2").await;
    let c = Some(cookie.as_str());
    let approve = r#"{"state":"approved"}"#;
    let tag = format!("\"{version}\"");
    let r = patch_order(&api, "PC-V2", c, approve, Some(&tag)).await;
    status(&r, 200, "an edit from the current version (If-Match)");
    let current = r.json()["version"].as_i64().expect("the new version");
    assert!(current > version);
    let cancel = r#"{"state":"cancelled"}"#;
    let r = patch_order(&api, "PC-V2", c, cancel, Some(&tag)).await;
    status(&r, 409, "an edit from a stale version (If-Match)");
    let stale = format!(r#"{{"state":"cancelled","version":{version}}}"#);
    let r = patch_order(&api, "PC-V2", c, &stale, None).await;
    status(&r, 409, "an edit from a stale version (body)");
    assert_eq!(
        stored_state(&api, "PC-V2").await,
        ("approved".to_string(), current),
        "nothing changed"
    );
    let both = format!(r#"{{"state":"cancelled","version":{current}}}"#);
    let r = patch_order(&api, "PC-V2", c, &both, Some(&tag)).await;
    status(&r, 400, "a body and an If-Match that disagree");
    let r = patch_order(&api, "PC-V2", c, &both, Some("soon")).await;
    status(&r, 400, "an If-Match that is no version");
    let r = patch_order(&api, "PC-V2", c, &both, None).await;
    status(&r, 200, "an edit from the current version (body)");
    assert_eq!(r.json()["state"], "cancelled");
}

/// Makes every insert into the audit log fail, as a full disk or a broken constraint would.
async fn break_the_audit_log(scratch: &Scratch) {
    match scratch {
        Scratch::Postgres(_) => {
            let (client, conn) = tokio_postgres::connect(&scratch.url(), tokio_postgres::NoTls)
                .await
                .expect("connecting");
            tokio::spawn(conn);
            client
                .batch_execute(
                    "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'the audit log refuses'; END $$; \
                     CREATE TRIGGER refuse_audit BEFORE INSERT ON access_audit \
                     FOR EACH ROW EXECUTE FUNCTION refuse_audit();",
                )
                .await
                .expect("the trigger");
        }
        Scratch::Embedded(_) => {
            let path = scratch.url().trim_start_matches("sqlite:").to_string();
            let db = rusqlite::Connection::open(path).expect("opening the file");
            db.execute_batch(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON access_audit \
                 BEGIN SELECT RAISE(ABORT, 'the audit log refuses'); END;",
            )
            .expect("the trigger");
        }
    }
}

async fn a_change_whose_audit_fails_is_not_stored(scratch: Scratch) {
    let (api, cookie, version) = with_order(scratch, "PC-V3").await;
    let c = Some(cookie.as_str());
    break_the_audit_log(&api.scratch).await;
    let r = http(
        api.addr,
        "PATCH",
        "/api/orders/PC-V3",
        c,
        Some(r#"{"state":"approved"}"#),
    )
    .await;
    assert!(
        r.status >= 500,
        "the change fails with its audit record: {} {}",
        r.status,
        r.body
    );
    let requested = ("requested".to_string(), version);
    assert_eq!(
        stored_state(&api, "PC-V3").await,
        requested,
        "the change is not stored"
    );
    let r = http(api.addr, "POST", "/api/orders", c, Some(&order("PC-V4"))).await;
    assert!(
        r.status >= 500,
        "a new order fails with its audit record: {}",
        r.body
    );
    let absent = api.store.rules().order("PC-V4").await.expect("reading");
    assert!(absent.is_none(), "the new order is not stored: {absent:?}");
}

tianshu_e2e::on_both_backends!(
    two_edits_from_one_version_one_wins,
    a_stale_version_is_refused,
    a_change_whose_audit_fails_is_not_stored,
);

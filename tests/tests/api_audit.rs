//! The audit log: every replay and export is recorded with who, what, which vehicle and range, from
//! where and how many rows; the hash chain exposes an edited or deleted record, on both backends, and
//! `tianshu audit verify` names the first broken one.

use std::process::Command;

use tianshu_e2e::api::*;
use tianshu_store::access::verify_stored_chain;

const FROM: &str = "2026-11-18T00:00:00Z";
const TO: &str = "2026-11-19T00:00:00Z";

async fn replays_and_exports_are_audited(api: &TestApi) {
    let inspector = api.login("inspector").await;
    let vid = api.vid(OWN_PLATE);
    let forwarded = [("X-Forwarded-For", "10.1.2.3")];
    let r = http_with(
        api.addr,
        "GET",
        &format!("/api/vehicles/{vid}/replay?from={FROM}&to={TO}"),
        Some(&inspector),
        None,
        &forwarded,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["total_points"], 60);
    let types = [
        ("geojson", "application/geo+json"),
        ("gpx", "application/gpx+xml"),
        ("kml", "application/vnd.google-earth.kml+xml"),
        ("csv", "text/csv; charset=utf-8"),
    ];
    for (format, content_type) in types {
        let r = http(
            api.addr,
            "GET",
            &format!("/api/vehicles/{vid}/track?from={FROM}&to={TO}&format={format}"),
            Some(&inspector),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{format}: {}", r.body);
        assert_eq!(r.header("content-type"), Some(content_type), "{format}");
        assert!(
            r.header("content-disposition")
                .is_some_and(|d| d.starts_with("attachment"))
        );
        match format {
            "geojson" => {
                let j = r.json();
                assert_eq!(
                    j["features"][0]["geometry"]["coordinates"]
                        .as_array()
                        .map(Vec::len),
                    Some(60)
                );
            }
            "csv" => assert_eq!(r.body.lines().count(), 61),
            _ => assert_eq!(
                r.body
                    .matches(if format == "gpx" { "<trkpt " } else { ",30.200000," })
                    .count(),
                60
            ),
        }
    }
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    let looks: Vec<_> = log
        .iter()
        .filter(|r| r.entry.action == "replay" || r.entry.action.starts_with("export."))
        .collect();
    assert_eq!(
        looks.iter().map(|r| r.entry.action.as_str()).collect::<Vec<_>>(),
        [
            "replay",
            "export.geojson",
            "export.gpx",
            "export.kml",
            "export.csv"
        ]
    );
    for r in &looks {
        assert_eq!(r.entry.actor, "inspector");
        assert_eq!(r.entry.role, "inspector");
        assert_eq!(r.entry.vehicle.map(|v| v.0), Some(vid));
        assert_eq!(r.entry.from.map(|t| t.to_rfc3339()).as_deref(), Some(FROM));
        assert_eq!(r.entry.to.map(|t| t.to_rfc3339()).as_deref(), Some(TO));
        assert_eq!(r.entry.rows, 60);
        assert!(r.entry.remote.contains("127.0.0.1"), "{}", r.entry.remote);
    }
    assert!(
        looks[0].entry.remote.starts_with("10.1.2.3 via 127.0.0.1"),
        "{}",
        looks[0].entry.remote
    );
    // Administrators read it over HTTP; nobody else does.
    let admin = api.login("administrator").await;
    let over_http = http(api.addr, "GET", "/api/audit?limit=10000", Some(&admin), None)
        .await
        .json();
    assert_eq!(
        over_http.as_array().map(Vec::len),
        Some(log.len() + 1),
        "the admin's login is the last record"
    );
    // The newest records, oldest first: what the page shows.
    let newest = http(api.addr, "GET", "/api/audit?last=3", Some(&admin), None)
        .await
        .json();
    let seqs: Vec<i64> = newest
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["seq"].as_i64())
        .collect();
    let n = log.len() as i64 + 1;
    assert_eq!(seqs, vec![n - 2, n - 1, n], "the newest three, oldest first");
    assert_eq!(
        http(api.addr, "GET", "/api/audit", Some(&inspector), None)
            .await
            .status,
        403
    );
    assert_eq!(
        verify_stored_chain(api.store.access()).await.expect("reading"),
        Ok(log.len() as u64 + 1)
    );
}

/// `tianshu ARGS`: (success, stdout and stderr).
fn tianshu(args: &[&str]) -> (bool, String) {
    let (ok, out, err) = tianshu_e2e::run_tianshu(args, &[]);
    (ok, out + &err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_audit_chain_detects_an_edited_record() {
    let api = TestApi::seeded(Scratch::embedded("api-audit")).await;
    replays_and_exports_are_audited(&api).await;
    let url = api.scratch.url();
    let (ok, out) = tianshu(&["audit", "verify", "--store", &url]);
    assert!(ok, "{out}");
    assert!(out.contains("audit chain intact"), "{out}");
    // Someone with write access to the file lowers a row count of record 3 (an export).
    let path = url.strip_prefix("sqlite:").expect("a sqlite URL");
    let conn = rusqlite::Connection::open(path).expect("opening the file");
    conn.execute("UPDATE access_audit SET rows = 1 WHERE seq = 3", [])
        .expect("tampering");
    drop(conn);
    let broken = verify_stored_chain(api.store.access())
        .await
        .expect("reading")
        .expect_err("broken");
    assert_eq!(broken.seq, 3);
    let (ok, out) = tianshu(&["audit", "verify", "--store", &url]);
    assert!(!ok, "verify fails on a broken chain: {out}");
    assert!(out.contains("broken at record 3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_chain_detects_a_deleted_record() {
    let api = TestApi::seeded(Scratch::postgres("api_audit").await).await;
    replays_and_exports_are_audited(&api).await;
    let url = api.scratch.url();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    client
        .execute("DELETE FROM access_audit WHERE seq = 4", &[])
        .await
        .expect("tampering");
    let broken = verify_stored_chain(api.store.access())
        .await
        .expect("reading")
        .expect_err("broken");
    assert_eq!(
        broken.seq, 5,
        "the record after the gap no longer fits: {}",
        broken.reason
    );
    let (ok, out) = tianshu(&["audit", "verify", "--store", &url]);
    assert!(!ok && out.contains("broken at record 5"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_add_reads_the_password_from_stdin() {
    let api = TestApi::seeded(Scratch::embedded("api-user-add")).await;
    let url = api.scratch.url();
    let mut child = Command::new(tianshu_e2e::tianshu_bin())
        .args([
            "user",
            "add",
            "--store",
            &url,
            "--username",
            "zhang",
            "--role",
            "supervisor",
        ])
        .args(["--unit", SUPERVISOR_UNIT, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running tianshu user add");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"a long enough password\n")
            .expect("writing the password");
    }
    let out = child.wait_with_output().expect("waiting");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let user = api
        .store
        .access()
        .user_by_name("zhang")
        .await
        .expect("reading")
        .expect("created");
    assert_eq!(user.unit, Some(api.units[SUPERVISOR_UNIT]));
    assert!(
        user.password_hash.starts_with("$argon2"),
        "only the hash is stored"
    );
    // The new supervisor logs in with it and sees their unit's cars.
    let body = r#"{"username":"zhang","password":"a long enough password"}"#;
    let r = http(api.addr, "POST", "/api/session", None, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A supervisor without a unit, and a password as a flag, are refused.
    let add_li = |role: &str, more: &[&str]| {
        let mut args = vec!["user", "add", "--store", &url, "--username", "li", "--role", role];
        args.extend_from_slice(more);
        tianshu(&args)
    };
    let (ok, out) = add_li("supervisor", &["--password-stdin"]);
    assert!(!ok, "{out}");
    let (ok, _) = add_li("inspector", &[]);
    assert!(!ok);
}

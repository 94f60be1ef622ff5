//! The audit log against someone who can write the database, on both backends, with the real binary.
//!
//! `tianshu serve` keys the chain with the key of `[audit] key_file` (records written before a key existed
//! stay unkeyed and still verify) and anchors its head in `[audit] anchor_file`. Then the database is
//! tampered with as an attacker without the key would: the newest records cut off (every link still fits,
//! so a plain `audit verify` passes; `--anchor` names the anchored record that is missing), and a record
//! edited with every later link recomputed with plain SHA-256 (`audit verify` with the key names it, and
//! names the downgrade when the records are also relabelled unkeyed). A server without the key refuses a
//! keyed chain rather than break it.

use std::path::Path;

use tianshu_e2e::api::{PASSWORD, http, login_at};
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, on_both_backends};
use tianshu_store::Store;
use tianshu_store::access::{AuditRecord, NewUser, Role};

/// `tianshu audit verify --store URL ARGS` with the key in the environment: (success, output).
fn verify(url: &str, args: &[&str], key_file: Option<&Path>) -> (bool, String) {
    let mut all = vec!["audit", "verify", "--store", url];
    all.extend_from_slice(args);
    let key = key_file.map(|k| k.display().to_string()).unwrap_or_default();
    let env: &[(&str, &str)] = match key_file {
        Some(_) => &[("TIANSHU__AUDIT__KEY_FILE", &key)],
        None => &[],
    };
    let (ok, out, err) = tianshu_e2e::run_tianshu(&all, env);
    (ok, out + &err)
}

/// Runs `sql` on the store at `url` as someone with write access to the database would.
async fn tamper(url: &str, sql: &str) {
    match url.strip_prefix("sqlite:") {
        Some(path) => {
            let conn = rusqlite::Connection::open(path).expect("opening the file");
            conn.execute_batch(sql).expect("tampering");
        }
        None => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connecting");
            tokio::spawn(conn);
            client.batch_execute(sql).await.expect("tampering");
        }
    }
}

/// Logs in `n` times (each login is an audit record) at a server started with `config`, then stops it
/// with SIGTERM (which anchors the head once more).
async fn logins(url: &str, config: &str, dir: &Path, n: usize) {
    let mut server = Tianshu::start(url, config, &[], dir);
    for _ in 0..n {
        let cookie = login_at(server.http, "admin").await;
        let r = http(server.http, "GET", "/api/units", Some(&cookie), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(server.terminate().success(), "a clean stop");
}

/// The SQL that rewrites `records` (from the one edited on) with plain SHA-256 links, as relabelled
/// `scheme`.
fn rechained(mut records: Vec<AuditRecord>, scheme: &str) -> String {
    let mut sql = String::new();
    for i in 0..records.len() {
        if i > 0 {
            records[i].prev_hash = records[i - 1].hash.clone();
        }
        let r = &mut records[i];
        r.hash = AuditRecord::compute_hash(r.seq, r.time, &r.entry, &r.prev_hash);
        sql.push_str(&format!(
            "UPDATE access_audit SET detail = '{}', prev_hash = '{}', hash = '{}', scheme = '{scheme}' WHERE seq = {};\n",
            r.entry.detail, r.prev_hash, r.hash, r.seq
        ));
    }
    sql
}

async fn keyed_and_anchored(scratch: Scratch) {
    let dir = ScratchDir::new("audit-anchor");
    let url = scratch.url();
    let store = Store::open(&url).await.expect("opening the store");
    let admin = NewUser {
        username: "admin".into(),
        role: Role::Administrator,
        unit: None,
        password_hash: tianshu_api::hash_password(PASSWORD).expect("hash"),
    };
    store.access().create_user(&admin).await.expect("a user");
    let key_file = dir.path().join("audit.key");
    std::fs::write(&key_file, format!("{}\n", "k3y".repeat(16))).expect("writing the key");
    let anchors = dir.path().join("anchors.jsonl");
    let anchor_arg = anchors.display().to_string();

    // Two records before the log was keyed, then six keyed ones, anchored at shutdown.
    logins(&url, "", dir.path(), 2).await;
    let config = format!(
        "[audit]\nkey_file = {:?}\nanchor_file = {anchor_arg:?}\nanchor_interval_secs = 1\n",
        key_file.display().to_string()
    );
    logins(&url, &config, dir.path(), 6).await;
    let anchored = std::fs::read_to_string(&anchors).expect("the anchor file");
    assert!(
        anchored.lines().last().is_some_and(|l| l.contains(r#""seq":8,"#)),
        "{anchored}"
    );
    let (ok, out) = verify(&url, &["--anchor", &anchor_arg], Some(&key_file));
    assert!(ok, "a clean log passes: {out}");
    assert!(out.contains("8 records, keyed from record 3 on"), "{out}");
    // Without the key the keyed records cannot be confirmed; a server without it refuses to start.
    let (ok, out) = verify(&url, &[], None);
    assert!(!ok && out.contains("not verified from record 3"), "{out}");
    let (ok, _, err) = tianshu_e2e::run_tianshu(&tianshu_e2e::serve_args(&url), &[]);
    assert!(!ok && err.contains("keyed"), "{err}");

    // The newest two records cut off: every link still fits; the anchors of the records cut off do not
    // (record 8's, and record 7's when a periodic anchor caught it).
    tamper(&url, "DELETE FROM access_audit WHERE seq > 6").await;
    let (ok, out) = verify(&url, &[], Some(&key_file));
    assert!(ok, "links alone cannot tell: {out}");
    let (ok, out) = verify(&url, &["--anchor", &anchor_arg], Some(&key_file));
    assert!(!ok, "{out}");
    assert!(out.contains("ends at record 6, cut short"), "{out}");

    // Record 4 edited and every later link recomputed with plain SHA-256, as stored (still labelled
    // keyed), then relabelled unkeyed.
    let mut tail = store.access().audit(3, 100).await.expect("reading");
    tail[0].entry.detail = "nothing to see".into();
    tamper(&url, &rechained(tail.clone(), "hmac-sha256")).await;
    let (ok, out) = verify(&url, &[], Some(&key_file));
    assert!(
        !ok && out.contains("broken at record 4") && out.contains("keyed hash"),
        "{out}"
    );
    tamper(&url, &rechained(tail, "sha256")).await;
    let (ok, out) = verify(&url, &[], Some(&key_file));
    assert!(
        !ok && out.contains("broken at record 4") && out.contains("downgraded"),
        "{out}"
    );
}

on_both_backends!(audit_chain_keyed_and_anchored, keyed_and_anchored, "audit_anchor");

//! The served binary (`tianshu serve`, its gateway and its alerts engine) answering the API's small
//! refusals with the status that names them: a case step the case's state no longer allows is 409
//! however the requests race, and a text the terminal's wire cannot carry is 400, never 503.

use tianshu_e2e::api as api_support;
use tianshu_e2e::gateway::{Terminal, phone, plate, provision, serve};
use tianshu_model::Timestamp;
use tianshu_store::Store;
use tianshu_store::access::Role;
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
    api_support::create_user(&store, "administrator", Role::Administrator, None).await;
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
    let server = serve(&url, "", &dir);
    let mut terminal = Terminal::connect(server.jt808, phone(0))
        .await
        .expect("connecting the terminal");
    terminal.login(0).await;
    let cookie = api_support::login_at(server.http, "administrator").await;

    // Eight acknowledgements at once: one moves the case, the others are refused as conflicts.
    let path = format!("/api/cases/{case_id}/actions");
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let (path, cookie, http) = (path.clone(), cookie.clone(), server.http);
            tokio::spawn(async move {
                api_support::http(
                    http,
                    "POST",
                    &path,
                    Some(&cookie),
                    Some(r#"{"action":"acknowledge"}"#),
                )
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
    let r = api_support::http(
        server.http,
        "POST",
        &path,
        Some(&cookie),
        Some(r#"{"action":"close"}"#),
    )
    .await;
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

    // A text GBK cannot carry, and one too long for a message, to a connected terminal: the request is wrong.
    let commands = format!("/api/vehicles/{vehicle}/commands");
    for text in ["\u{1F697} 请回电", &"x".repeat(2000)] {
        let body = serde_json::json!({"kind": "text", "text": text}).to_string();
        let r = api_support::http(server.http, "POST", &commands, Some(&cookie), Some(&body)).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("text:"), "{}", r.body);
    }
}

/// The server's peak and current resident memory (VmHWM, VmRSS), in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Connect and authenticate terminal 0 with `code`; how long it took, in ms, and the 0x8001 result.
async fn auth_ms(jt808: std::net::SocketAddr, code: &str) -> (f64, Option<u8>) {
    let started = std::time::Instant::now();
    let result = match Terminal::connect(jt808, phone(0)).await {
        Ok(mut t) => t.try_authenticate(code).await,
        Err(_) => None,
    };
    (started.elapsed().as_secs_f64() * 1000.0, result)
}

/// One failing login; its status, 0 when the connection failed.
async fn failing_login(http: std::net::SocketAddr, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(http).await else {
        return 0;
    };
    let req = format!(
        "POST /api/session HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut head = [0u8; 12];
    if s.write_all(req.as_bytes()).await.is_err() || s.read_exact(&mut head).await.is_err() {
        return 0;
    }
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    String::from_utf8_lossy(&head[9..12]).parse().unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// A measurement for BENCHMARKS.md ("Web: login floods"), not a check: `LOGIN_FLOOD_LOOPS` (300) clients
/// each log in with a wrong password in a loop for `LOGIN_FLOOD_SECS` (30) against the served binary
/// (`TIANSHU_BIN`), with `LOGIN_FLOOD_TOML` appended to its configuration; meanwhile a terminal connects
/// and authenticates over and over. Prints the server's peak memory and the terminal's authentication
/// times before and during the flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md, run by hand"]
async fn login_flood_measurement() {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (loops, secs) = (env("LOGIN_FLOOD_LOOPS", 300), env("LOGIN_FLOOD_SECS", 30));
    let extra = std::env::var("LOGIN_FLOOD_TOML")
        .unwrap_or_default()
        .replace("\\n", "\n");
    let scratch = api_support::Scratch::embedded("login-flood");
    let url = scratch.url();
    seed(&url).await;
    let dir = tianshu_testkit::unique_dir("login-flood-config");
    let server = serve(&url, &extra, &dir);
    let pid = server.child.id();
    let code = {
        let mut t = Terminal::connect(server.jt808, phone(0))
            .await
            .expect("connecting");
        t.login(0).await
    };
    let mut quiet = Vec::new();
    for _ in 0..5 {
        quiet.push(auth_ms(server.jt808, &code).await.0);
    }
    let (hwm_quiet, rss_quiet) = memory_kib(pid);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let http = server.http;
    let flood: Vec<_> = (0..loops)
        .map(|i| {
            tokio::spawn(async move {
                let mut counts = std::collections::BTreeMap::<u16, u64>::new();
                let body =
                    serde_json::json!({"username": format!("flood{i}"), "password": "wrong"}).to_string();
                while tokio::time::Instant::now() < deadline {
                    *counts.entry(failing_login(http, &body).await).or_default() += 1;
                }
                counts
            })
        })
        .collect();
    let (mut during, mut refused) = (Vec::new(), 0);
    let mut pace = tokio::time::interval(std::time::Duration::from_millis(500));
    while tokio::time::Instant::now() < deadline {
        pace.tick().await;
        let (ms, result) = auth_ms(server.jt808, &code).await;
        during.push(ms);
        refused += usize::from(result != Some(0));
    }
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for f in flood {
        for (s, n) in f.await.expect("a flood loop") {
            *statuses.entry(s).or_default() += n;
        }
    }
    let (hwm, rss) = memory_kib(pid);
    println!(
        "login flood: {loops} loops x {secs} s; answers {statuses:?}\n\
         server memory: quiet VmHWM {hwm_quiet} KiB VmRSS {rss_quiet} KiB; after the flood VmHWM {hwm} KiB VmRSS {rss} KiB\n\
         terminal authentication: quiet median {:.1} ms; during the flood median {:.1} ms, max {:.1} ms over {} tries, {refused} not answered 0",
        median(quiet),
        median(during.clone()),
        during.iter().copied().fold(0.0, f64::max),
        during.len()
    );
}

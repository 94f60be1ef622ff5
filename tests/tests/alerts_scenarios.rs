//! The simulator's scenario mix, end to end: a fleet of real JT/T 808 terminals drives a working day
//! over TCP into `tianshu serve`; the rules running in the server must raise exactly the cases the
//! simulator scripted (`scripted.jsonl` from `tianshu simulate --write-world`), and every case must be
//! delivered to a webhook receiver and an SMTP sink on 127.0.0.1, the e-mail to the recipients of the
//! car's unit.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tianshu_e2e::sinks::{http_receiver, smtp_sink};
use tianshu_e2e::{spawn_listening, tianshu_bin};
use tianshu_model::Timestamp;
use tianshu_store::Store;
use tianshu_store::rules::{AlertCase, CaseFilter};

fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "tianshu-e2e-{name}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tianshu(args: &[&str]) -> String {
    let out = Command::new(tianshu_bin())
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tianshu {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A record of `scripted.jsonl`.
#[derive(Debug, serde::Deserialize)]
struct Scripted {
    plate: String,
    what: String,
    from: String,
    to: String,
    rules: Vec<String>,
    may: Vec<String>,
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// The simulated day: Monday 2026-11-23, an ordinary working day, 07:00 to midnight China time.
const START: &str = "2026-11-23T07:00:00+08:00";
const END: &str = "2026-11-24T00:00:00+08:00";
const TERMINALS: &str = "40";
/// Simulated seconds per real second: the 17 hours take about 51 s.
const SPEEDUP: f64 = 1200.0;
/// Slack around a scripted period when matching a case to it: de-bounce minimum durations, the
/// reporting interval, a stop at the end of a trip.
const SLACK_MS: i64 = 15 * 60_000;

fn registry(dir: &Path) -> Vec<(String, String)> {
    // unit,plate,phone,terminal_id,vehicle_class
    std::fs::read_to_string(dir.join("registry.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[0].to_string())
        })
        .collect()
}

fn under(path: &str, unit: &str) -> bool {
    path == unit || path.starts_with(&format!("{unit}/"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_mix_raises_exactly_the_scripted_cases_and_delivers_them() {
    let dir = scratch("scenarios");
    let world = dir.join("world");
    let db = dir.join("tianshu.db");
    let store_url = db.display().to_string();
    let mix = "off_hours=0.35,unordered=0.15,off_route=0.3,region_exit=0.1,night_away=0.15,\
               prohibited_stop=0.2,alarms=0.2,retransmit";
    let common = [
        "--terminals",
        TERMINALS,
        "--vehicles",
        TERMINALS,
        "--seed",
        "2311",
        "--start",
        START,
        "--scenarios",
        mix,
    ];

    // The world: its registry, geofences, orders, and what the fleet will do on purpose.
    let mut args = vec![
        "simulate",
        "--write-world",
        world.to_str().unwrap(),
        "--days",
        "1",
        "--orders-required",
    ];
    args.extend_from_slice(&common);
    tianshu(&args);
    for (what, file) in [
        ("registry", "registry.csv"),
        ("geofence", "geofences.geojson"),
        ("order", "orders.jsonl"),
    ] {
        let f = world.join(file);
        tianshu(&[what, "import", "--store", &store_url, f.to_str().unwrap()]);
    }
    let plates = registry(&world);
    let unit_of: HashMap<String, String> = plates.iter().cloned().collect();
    let root = plates[0].1.split('/').next().unwrap().to_string();
    let leaf = plates[0].1.clone();

    // Where notifications go.
    let (hook_url, hooks) = http_receiver().await;
    let (smtp_port, mails) = smtp_sink().await;
    let config = dir.join("tianshu.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[rules]
order_required_units = ["{root}"]

[alerts]
tick_secs = 1
reference_reload_secs = 1
outbox_poll_ms = 100
notify_parent_levels = 10

[[alerts.notifications.webhooks]]
name = "office"
url = "{hook_url}"
format = "generic"

[alerts.notifications.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
from = "tianshu@example.invalid"
recipients = [
    {{ unit = "{root}", address = "office@example.invalid" }},
    {{ unit = "{leaf}", address = "unit@example.invalid" }},
]

[alerts.notifications.retry]
initial_backoff_secs = 1
max_backoff_secs = 2
"#
        ),
    )
    .unwrap();

    let mut server = spawn_listening([
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--store",
        &store_url,
        "--jt808",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);

    // The fleet over TCP, until the simulated day is over.
    let real_secs = (ts(END).millis() - ts(START).millis()) as f64 / 1000.0 / SPEEDUP;
    let target = server.jt808.to_string();
    let duration = format!("{:.1}", real_secs + 1.0);
    let speedup = SPEEDUP.to_string();
    let mut args = vec![
        "simulate",
        "--target",
        &target,
        "--speedup",
        &speedup,
        "--duration-secs",
        &duration,
        "--connect-spread-secs",
        "0.2",
    ];
    args.extend_from_slice(&common);
    let args: Vec<String> = args.into_iter().map(String::from).collect();
    let fleet = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tianshu(&args)
    })
    .await
    .unwrap();
    let stats: serde_json::Value = serde_json::from_str(fleet.lines().last().unwrap()).unwrap();
    assert!(stats["points_acked"].as_u64().unwrap() > 10_000, "{stats}");

    // Wait until the cases stop changing and every one is delivered.
    let store = Store::open(&store_url).await.unwrap();
    let read_cases = async || -> Vec<AlertCase> {
        store
            .cases()
            .cases(&CaseFilter {
                limit: 10_000,
                ..Default::default()
            })
            .await
            .unwrap()
    };
    let mut last = (usize::MAX, 0usize);
    let mut stable = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = read_cases().await.len();
        let now = (n, hooks.len());
        stable = if now == last && n == hooks.len() {
            stable + 1
        } else {
            0
        };
        last = now;
        if stable >= 6 {
            break;
        }
    }
    let cases = read_cases().await;
    let _ = server.child.kill();
    let _ = server.child.wait();

    let plate_of: HashMap<_, _> = store
        .vehicles()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.id, v.plate))
        .collect();
    let (t0, t1) = (ts(START).millis(), ts(END).millis());
    let scripted: Vec<Scripted> = std::fs::read_to_string(world.join("scripted.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|s: &Scripted| ts(&s.from).millis() >= t0 && ts(&s.from).millis() < t1)
        .collect();
    assert!(
        scripted.iter().filter(|s| !s.rules.is_empty()).count() >= 10,
        "the mix scripts a fair number of violations: {scripted:#?}"
    );

    let overlaps = |c: &AlertCase, s: &Scripted| {
        let (a, b) = (c.start.millis(), c.end.unwrap_or(c.start).millis());
        a <= ts(&s.to).millis() + SLACK_MS && b >= ts(&s.from).millis() - SLACK_MS
    };
    // Precision: every case is something the fleet did on purpose.
    let mut unexplained = Vec::new();
    for c in &cases {
        let plate = &plate_of[&c.vehicle];
        let explained = scripted.iter().any(|s| {
            &s.plate == plate && (s.rules.contains(&c.rule) || s.may.contains(&c.rule)) && overlaps(c, s)
        });
        if !explained {
            unexplained.push(format!(
                "{plate} {} {}..{:?}: {}",
                c.rule, c.start, c.end, c.reasoning
            ));
        }
    }
    // Recall: every scripted violation raised its case.
    let mut missed = Vec::new();
    for s in &scripted {
        for rule in &s.rules {
            let caught = cases
                .iter()
                .any(|c| plate_of[&c.vehicle] == s.plate && &c.rule == rule && overlaps(c, s));
            if !caught {
                missed.push(format!(
                    "{} {} {}..{}: no {rule} case",
                    s.plate, s.what, s.from, s.to
                ));
            }
        }
    }
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *by_rule.entry(c.rule.as_str()).or_default() += 1;
    }
    eprintln!(
        "{} cases by rule {by_rule:?}; {} scripted records",
        cases.len(),
        scripted.len()
    );
    for rule in [
        "out_of_hours",
        "no_order",
        "off_route",
        "region_exit",
        "prohibited_place",
        "night_parking",
        "tamper",
    ] {
        assert!(
            by_rule.contains_key(rule),
            "the mix exercises {rule}: {by_rule:?}"
        );
    }
    assert!(
        unexplained.is_empty() && missed.is_empty(),
        "cases by rule {by_rule:?}\nnot scripted:\n{}\nmissed:\n{}",
        unexplained.join("\n"),
        missed.join("\n")
    );

    // Delivery: one webhook post per case, carrying its id; one e-mail per case to the city office and
    // one to the leaf unit's recipient for each case of its cars.
    let mut posted: Vec<i64> = hooks
        .all()
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["case_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    posted.sort_unstable();
    let mut ids: Vec<i64> = cases.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    assert_eq!(posted, ids, "one webhook post per case");
    let mails = mails.all();
    let to = |addr: &str| mails.iter().filter(|m| m.to.iter().any(|t| t == addr)).count();
    assert_eq!(
        to("office@example.invalid"),
        cases.len(),
        "the city office gets every case"
    );
    let leaf_cases = cases
        .iter()
        .filter(|c| under(&unit_of[&plate_of[&c.vehicle]], &leaf))
        .count();
    assert_eq!(
        to("unit@example.invalid"),
        leaf_cases,
        "the unit gets its own cars' cases"
    );
    assert_eq!(mails.len(), cases.len() + leaf_cases, "nobody else gets mail");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

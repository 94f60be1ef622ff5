//! The simulator's scenario mix, end to end: a fleet of real JT/T 808 terminals drives a working day
//! over TCP into `tianshu serve`; the rules running in the server must raise exactly the cases the
//! simulator scripted (`scripted.jsonl` from `tianshu simulate --write-world`), and every case must be
//! delivered to a webhook receiver and an SMTP sink on 127.0.0.1, the e-mail to the recipients of the
//! car's unit.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use tianshu_e2e::sinks::{Mail, http_receiver, smtp_sink};
use tianshu_e2e::{
    ScratchDir, drive_fleet, http_get, metric, spawn_listening, tianshu_ok as tianshu, wait_for_state,
};
use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::Store;
use tianshu_store::rules::{AlertCase, CaseFilter, CaseState};

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
/// Simulated seconds per real second: the 17 hours take about 102 s. Every real second the fleet or the
/// server is held up (a loaded machine) is this many simulated seconds without reports: at 1,200 a stall
/// of six seconds was two hours, a silence case nothing scripted.
const SPEEDUP: f64 = 600.0;
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

/// The simulator's options shared by writing the world and driving the fleet.
const COMMON: [&str; 10] = [
    "--terminals",
    TERMINALS,
    "--vehicles",
    TERMINALS,
    "--seed",
    "2311",
    "--start",
    START,
    "--scenarios",
    "off_hours=0.35,unordered=0.15,off_route=0.3,region_exit=0.1,night_away=0.15,prohibited_stop=0.2,\
     alarms=0.2,retransmit",
];

/// Writes the world (its registry, geofences, orders, and what the fleet will do on purpose) into
/// `world` and imports it into the store at `store_url`.
fn write_world(world: &Path, store_url: &str) {
    let mut args = vec![
        "simulate",
        "--write-world",
        world.to_str().unwrap(),
        "--days",
        "1",
        "--orders-required",
    ];
    args.extend_from_slice(&COMMON);
    tianshu(&args);
    for (what, file) in [
        ("registry", "registry.csv"),
        ("geofence", "geofences.geojson"),
        ("order", "orders.jsonl"),
    ] {
        let f = world.join(file);
        tianshu(&[what, "import", "--store", store_url, f.to_str().unwrap()]);
    }
}

/// The server's configuration: orders required under `root`, notifications to a webhook at `hook_url`
/// and by e-mail to the city office (`root`) and to the unit `leaf`.
fn config(root: &str, leaf: &str, hook_url: &str, smtp_port: u16) -> String {
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
    )
}

/// What the fleet did on purpose during the simulated day.
fn scripted(world: &Path) -> Vec<Scripted> {
    let (t0, t1) = (ts(START).millis(), ts(END).millis());
    std::fs::read_to_string(world.join("scripted.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|s: &Scripted| ts(&s.from).millis() >= t0 && ts(&s.from).millis() < t1)
        .collect()
}

fn overlaps(c: &AlertCase, s: &Scripted) -> bool {
    let (a, b) = (c.start.millis(), c.end.unwrap_or(c.start).millis());
    a <= ts(&s.to).millis() + SLACK_MS && b >= ts(&s.from).millis() - SLACK_MS
}

/// Recall: the scripted violations that raised no case.
fn missed(cases: &[AlertCase], scripted: &[Scripted], plate_of: &HashMap<VehicleId, String>) -> Vec<String> {
    let mut missed = Vec::new();
    for s in scripted {
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
    missed
}

/// Precision: the cases that are nothing the fleet did on purpose.
fn unexplained(
    cases: &[AlertCase],
    scripted: &[Scripted],
    plate_of: &HashMap<VehicleId, String>,
) -> Vec<String> {
    let mut unexplained = Vec::new();
    // A case the platform withdrew itself (a silence the terminal's backfill disproved) stands for nothing.
    for c in cases.iter().filter(|c| c.state != CaseState::Withdrawn) {
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
    unexplained
}

/// The e-mails a set of cases brings: one to the city office for each, one to the leaf unit for each
/// case of its cars.
fn mails_due(cases: &[AlertCase], in_leaf: impl Fn(VehicleId) -> bool) -> (usize, usize) {
    let leaf = cases.iter().filter(|c| in_leaf(c.vehicle)).count();
    (cases.len(), leaf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_mix_raises_exactly_the_scripted_cases_and_delivers_them() {
    let dir = ScratchDir::new("scenarios");
    let world = dir.path().join("world");
    let store_url = dir.path().join("tianshu.db").display().to_string();
    write_world(&world, &store_url);
    let plates = registry(&world);
    let unit_of: HashMap<String, String> = plates.iter().cloned().collect();
    let root = plates[0].1.split('/').next().unwrap().to_string();
    let leaf = plates[0].1.clone();

    // Where notifications go.
    let (hook_url, hooks) = http_receiver().await;
    let (smtp_port, mails) = smtp_sink().await;
    let config_file = dir.path().join("tianshu.toml");
    std::fs::write(&config_file, config(&root, &leaf, &hook_url, smtp_port)).unwrap();
    let serve = tianshu_e2e::serve_args(&store_url);
    let config_arg = [OsStr::new("--config"), config_file.as_os_str()];
    let mut server = spawn_listening(serve.iter().map(OsStr::new).chain(config_arg));

    let stats = drive_fleet(server.jt808, (ts(START), ts(END)), SPEEDUP, &COMMON).await;
    assert!(stats["points_acked"].as_u64().unwrap() > 10_000, "{stats}");

    let store = Store::open(&store_url).await.unwrap();
    let plate_of: HashMap<VehicleId, String> = store
        .vehicles()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.id, v.plate))
        .collect();
    let scripted = scripted(&world);
    assert!(
        scripted.iter().filter(|s| !s.rules.is_empty()).count() >= 10,
        "the mix scripts a fair number of violations: {scripted:#?}"
    );
    let in_leaf = |v: VehicleId| under(&unit_of[&plate_of[&v]], &leaf);

    // Wait until the rules have taken every stored point (the progress watermark), every scripted
    // violation has its case, and every case is delivered.
    let metrics_at = server.http;
    let (cases, metrics_text) = wait_for_state(
        "every point evaluated, every scripted case raised and delivered",
        Duration::from_secs(300),
        || async {
            let text = http_get(metrics_at, "/metrics").await.1;
            let stored = metric(&text, "tianshu_store_points_stored_total", "");
            let evaluated = metric(&text, "tianshu_alerts_points_evaluated_total", "");
            if stored == 0.0 || evaluated < stored {
                return Err(format!("{evaluated} points evaluated of {stored} stored"));
            }
            let cases = store
                .cases()
                .cases(&CaseFilter {
                    limit: 10_000,
                    ..Default::default()
                })
                .await
                .unwrap();
            let (office, unit) = mails_due(&cases, in_leaf);
            let missed = missed(&cases, &scripted, &plate_of);
            // At least: an e-mail whose sending timed out after the server took it is sent again
            // (SMTP cannot tell a resend from a new message); `assert_delivered` allows an extra one
            // only where its delivery records the retry.
            if hooks.len() == cases.len() && mails.len() >= office + unit && missed.is_empty() {
                return Ok((cases, text));
            }
            Err(format!(
                "{} cases, {} webhook posts, {} of {} e-mails; the follower caught up {} times; missed: \
                 {missed:#?}",
                cases.len(),
                hooks.len(),
                mails.len(),
                office + unit,
                metric(&text, "tianshu_store_follow_catch_ups_total", ""),
            ))
        },
    )
    .await;
    let _ = server.child.kill();
    let _ = server.child.wait();

    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *by_rule.entry(c.rule.as_str()).or_default() += 1;
    }
    let figure = |name: &str| metric(&metrics_text, name, "");
    eprintln!(
        "{} cases by rule {by_rule:?}; {} scripted records; the fleet: {stats}; the rules: {} points \
         evaluated, {} repeated, {} replayed on resume, {} cases withdrawn; the follower caught up {} \
         times ({} points)",
        cases.len(),
        scripted.len(),
        figure("tianshu_alerts_points_evaluated_total"),
        figure("tianshu_alerts_points_repeated_total"),
        figure("tianshu_alerts_points_replayed_on_resume_total"),
        figure("tianshu_alerts_cases_withdrawn_total"),
        figure("tianshu_store_follow_catch_ups_total"),
        figure("tianshu_store_follow_caught_up_points_total"),
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
    let (unexplained, missed) = (
        unexplained(&cases, &scripted, &plate_of),
        missed(&cases, &scripted, &plate_of),
    );
    assert!(
        unexplained.is_empty() && missed.is_empty(),
        "cases by rule {by_rule:?}\nnot scripted:\n{}\nmissed:\n{}",
        unexplained.join("\n"),
        missed.join("\n")
    );
    // The retries each e-mail recipient's deliveries record: every delivery ended sent.
    let mut retried: HashMap<String, usize> = HashMap::new();
    for c in &cases {
        for d in store.cases().deliveries(c.id).await.unwrap() {
            assert_eq!(d.state, "sent", "every delivery ends sent: {d:?}");
            *retried.entry(d.recipient.clone()).or_default() += d.attempts.saturating_sub(1) as usize;
        }
    }
    assert_delivered(&cases, &hooks.all(), &mails.all(), in_leaf, &retried);
    drop(store);
}

/// Delivery: one webhook post per case, carrying its id; one e-mail per case to the city office and
/// one to the leaf unit's recipient for each case of its cars (a second copy only where the delivery
/// recorded a retry, `retried` by recipient); nobody else.
fn assert_delivered(
    cases: &[AlertCase],
    hooks: &[String],
    mails: &[Mail],
    in_leaf: impl Fn(VehicleId) -> bool,
    retried: &HashMap<String, usize>,
) {
    let mut posted: Vec<i64> = hooks
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
    let to = |addr: &str| mails.iter().filter(|m| m.to.iter().any(|t| t == addr)).count();
    let (office, leaf_cases) = mails_due(cases, in_leaf);
    for (addr, due, what) in [
        (
            "office@example.invalid",
            office,
            "the city office gets every case",
        ),
        (
            "unit@example.invalid",
            leaf_cases,
            "the unit gets its own cars' cases",
        ),
    ] {
        let (got, retries) = (to(addr), retried.get(addr).copied().unwrap_or(0));
        assert!(
            due <= got && got <= due + retries,
            "{what}: {got} e-mails to {addr}, {due} due, {retries} retries recorded"
        );
        if got > due {
            eprintln!("{addr}: {} e-mails sent again after a retry", got - due);
        }
    }
    assert_eq!(
        mails.len(),
        to("office@example.invalid") + to("unit@example.invalid"),
        "nobody else gets mail"
    );
}

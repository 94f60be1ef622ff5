//! The demo world's simulated year against the office's yearly figures, on both backends: `tianshu
//! simulate --write-world DIR --year 2025` writes a small world whose orders cover 2025 and what the
//! year's figures must show (`year_totals.json`); driving it into a store without its registry is refused,
//! naming what to import; its registry, geofences and orders are imported;
//! `tianshu simulate --year 2025 --store URL` drives the year straight into the store with the rules
//! following; `tianshu report summarise` summarises every day, and `tianshu report yearly --format json`
//! shows the totals: cars kept, disposed of, installed and exempt, the install rate, the days, trips and
//! the daily online share exactly, km within 1% of what the plans drove, and the cases by rule: each
//! case one the world scripted (`year_scripted.jsonl`) as certain or possible, each misuse scripted as
//! certain raised.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;
use tianshu_e2e::{Scratch, ScratchDir, run_tianshu, tianshu_ok};
use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::Store;
use tianshu_store::rules::CaseFilter;

const YEAR: &str = "2025";
/// The world shared by every `simulate` call: cars, seed and the terminals' intervals.
const WORLD: [&str; 8] = [
    "--vehicles",
    "24",
    "--seed",
    "1818",
    "--interval-secs",
    "60",
    "--parked-interval-secs",
    "300",
];

fn import(url: &str, dir: &Path, what: &str, file: &str) {
    let path = dir.join(file);
    tianshu_ok(&[what, "import", "--store", url, path.to_str().unwrap()]);
}

fn check_reform(report: &Value, totals: &Value) {
    let reform = &report["reform"];
    for key in ["kept", "disposed", "installed", "exempt", "install_rate"] {
        assert_eq!(reform[key], totals[key], "{key}: {reform} vs {totals}");
    }
    assert!(totals["disposed"].as_u64().unwrap() > 0, "{totals}");
    assert!(totals["exempt"].as_u64().unwrap() > 0, "{totals}");
}

fn check_days(days: &Value, totals: &Value) {
    assert_eq!(days["days"], totals["days"], "{days}");
    assert_eq!(days["days"], 365, "{days}");
    assert_eq!(days["trips"], totals["trips"], "{days}");
    let (km, planned) = (days["km"].as_f64().unwrap(), totals["km"].as_f64().unwrap());
    assert!(
        planned > 1000.0 && (km - planned).abs() / planned < 0.01,
        "{km} km on the track, {planned} km driven"
    );
    let share = |v: &Value| v["online_share"].as_f64().unwrap();
    assert!(
        (share(days) - share(totals)).abs() < 0.005,
        "online share {} vs {}",
        share(days),
        share(totals)
    );
    assert!(share(totals) > 0.0 && share(totals) < 100.0);
}

/// A record of `year_scripted.jsonl`.
#[derive(Debug, serde::Deserialize)]
struct Scripted {
    plate: String,
    from: String,
    to: String,
    rules: Vec<String>,
    may: Vec<String>,
}

/// Slack around a scripted period when matching a case to it: de-bounce minimum durations, the
/// reporting interval, a stop at the end of a trip.
const SLACK_MS: i64 = 15 * 60_000;

/// The year's cases as (plate, rule, start).
async fn year_cases(url: &str) -> Vec<(String, String, Timestamp)> {
    let store = Store::open(url).await.unwrap();
    let plates: HashMap<VehicleId, String> = store
        .vehicles()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.id, v.plate))
        .collect();
    let mut out = Vec::new();
    loop {
        let page = store
            .cases()
            .cases(&CaseFilter {
                limit: 5000,
                offset: out.len() as u32,
                ..CaseFilter::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        out.extend(
            page.into_iter()
                .map(|c| (plates[&c.vehicle].clone(), c.rule.clone(), c.start)),
        );
    }
    store.close().await.unwrap();
    out
}

/// Every case matches a scripted record naming its rule (as certain or possible), every rule a record
/// names as certain is raised within it, and the report counts the cases by rule.
async fn check_violations(url: &str, dir: &Path, report: &Value, totals: &Value) {
    let scripted: Vec<Scripted> = std::fs::read_to_string(dir.join("year_scripted.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cases = year_cases(url).await;
    let window = |r: &Scripted| {
        let t = |s: &str| Timestamp::parse_rfc3339(s).unwrap().millis();
        (t(&r.from) - SLACK_MS, t(&r.to) + SLACK_MS)
    };
    let unscripted: Vec<_> = cases
        .iter()
        .filter(|(plate, rule, start)| {
            !scripted.iter().any(|r| {
                let (a, b) = window(r);
                r.plate == *plate
                    && (a..=b).contains(&start.millis())
                    && r.rules.iter().chain(&r.may).any(|x| x == rule)
            })
        })
        .collect();
    assert!(unscripted.is_empty(), "cases never scripted: {unscripted:?}");
    let mut missed = Vec::new();
    for r in &scripted {
        let (a, b) = window(r);
        for rule in &r.rules {
            let raised = cases
                .iter()
                .any(|(p, x, s)| *p == r.plate && x == rule && (a..=b).contains(&s.millis()));
            if !raised {
                missed.push((r.plate.clone(), rule.clone(), r.from.clone()));
            }
        }
    }
    assert!(missed.is_empty(), "scripted misuse not raised: {missed:?}");
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for (_, rule, _) in &cases {
        *by_rule.entry(rule.clone()).or_default() += 1;
    }
    let raised: BTreeMap<String, u64> =
        serde_json::from_value::<Vec<(String, u64)>>(report["violations"].clone())
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(raised, by_rule, "the report counts the year's cases by rule");
    assert_eq!(
        report["violations"], report["days"]["cases"],
        "the cases counted by the daily summaries are the year's"
    );
    for (rule, counts) in totals["violations"].as_object().unwrap() {
        let must = counts["must"].as_u64().unwrap();
        assert!(
            raised.get(rule).copied().unwrap_or(0) >= must,
            "{rule}: {raised:?} vs {counts}"
        );
    }
    assert!(
        raised.values().sum::<u64>() > 0,
        "the year raised nothing: {totals}"
    );
}

async fn scenario(scratch: Scratch) {
    let url = scratch.url();
    let dir = ScratchDir::new("simulated-year");
    let dir = dir.path().to_path_buf();
    let d = dir.to_str().unwrap();
    let mut args = vec!["simulate", "--write-world", d, "--year", YEAR];
    args.extend(WORLD);
    tianshu_ok(&args);
    let mut args = vec!["simulate", "--year", YEAR, "--store", &url];
    args.extend(WORLD);
    let (ok, _, err) = run_tianshu(&args, &[("RUST_LOG", "error")]);
    assert!(
        !ok && err.contains("import the world's registry.csv first"),
        "{err}"
    );
    import(&url, &dir, "registry", "registry.csv");
    import(&url, &dir, "geofence", "geofences.geojson");
    import(&url, &dir, "order", "orders.jsonl");
    let mut args = vec!["simulate", "--year", YEAR, "--store", &url];
    args.extend(WORLD);
    let driven: Value = serde_json::from_str(&tianshu_ok(&args)).unwrap();
    assert!(driven["points"].as_u64().unwrap() > 0, "{driven}");
    tianshu_ok(&[
        "report",
        "summarise",
        "--store",
        &url,
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
    ]);
    let report: Value = serde_json::from_str(&tianshu_ok(&[
        "report", "yearly", "--store", &url, "--year", YEAR, "--format", "json",
    ]))
    .unwrap();
    let totals: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("year_totals.json")).unwrap()).unwrap();
    check_reform(&report, &totals);
    check_days(&report["days"], &totals);
    check_violations(&url, &dir, &report, &totals).await;
}

tianshu_e2e::on_both_backends!(simulated_year, scenario, "simulated_year");

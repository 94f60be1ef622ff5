//! The demo world's simulated year against the office's yearly figures, on both backends: `tianshu
//! simulate --write-world DIR --year 2025` writes a small world whose orders cover 2025 and what the
//! year's figures must show (`year_totals.json`); its registry, geofences and orders are imported;
//! `tianshu simulate --year 2025 --store URL` drives the year straight into the store with the rules
//! following; `tianshu report summarise` summarises every day, and `tianshu report yearly --format json`
//! shows the totals: cars kept, disposed of, installed and exempt, the install rate, the days, trips and
//! the daily online share exactly, km within 1% of what the plans drove, and each rule's violations
//! between those the world scripts as certain and those it scripts as possible.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::Value;
use tianshu_e2e::{Scratch, ScratchDir, tianshu_ok};

const YEAR: &str = "2025";
/// The world shared by every `simulate` call: cars, seed and the terminals' intervals.
const WORLD: [&str; 8] = [
    "--vehicles",
    "24",
    "--seed",
    "1818",
    "--interval-secs",
    "15",
    "--parked-interval-secs",
    "3600",
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

/// Each rule raised is scripted, and raised between the times it must be and the times it may be.
fn check_violations(report: &Value, totals: &Value) {
    let scripted = totals["violations"].as_object().unwrap();
    let raised: Vec<(String, u64)> = serde_json::from_value(report["violations"].clone()).unwrap();
    assert_eq!(
        report["violations"], report["days"]["cases"],
        "the cases counted by the daily summaries are the year's"
    );
    let must_total: u64 = scripted.values().map(|s| s["must"].as_u64().unwrap()).sum();
    assert!(must_total > 0, "the year scripts some misuse: {totals}");
    for (rule, s) in scripted {
        let (must, may) = (s["must"].as_u64().unwrap(), s["may"].as_u64().unwrap());
        let got = raised.iter().find(|(r, _)| r == rule).map_or(0, |(_, n)| *n);
        assert!(
            must <= got && got <= must + may,
            "{rule}: {got} raised, {must} scripted as certain and {may} as possible"
        );
    }
    for (rule, n) in &raised {
        assert!(scripted.contains_key(rule), "{n} cases of {rule}, never scripted");
    }
}

async fn scenario(scratch: Scratch) {
    let url = scratch.url();
    let dir = ScratchDir::new("simulated-year");
    let dir = dir.path().to_path_buf();
    let d = dir.to_str().unwrap();
    let mut args = vec!["simulate", "--write-world", d, "--year", YEAR];
    args.extend(WORLD);
    tianshu_ok(&args);
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
    check_violations(&report, &totals);
}

tianshu_e2e::on_both_backends!(simulated_year, scenario, "simulated_year");

//! Fuel cards end to end on both backends: cards and stations imported with the command line (a bad
//! file names its line and column and stores nothing), a GBK statement imported with the command line
//! (its bad rows named by line and column, the rest stored and checked), the same statement uploaded
//! again over HTTP storing nothing twice (the upload audited), each planted misuse found with its
//! evidence and one case per transaction, a clean fill left alone, a supervisor seeing their own units'
//! findings only, a truncated XLSX refused, a corrected card or car profile withdrawing the case on
//! `tianshu fuel check`, and an approved filing and late track data each re-checking the fills they
//! explain.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::Value;
use tianshu_e2e::api::{FOREIGN_PLATE, OWN_PLATE, SUB_PLATE, Scratch, T0_SECS, TestApi, http, post_bytes};
use tianshu_e2e::fuel::{STATIONS, cards_csv, local, statement};
use tianshu_e2e::{ScratchDir, text};
use tianshu_model::case::CaseFilter;
use tianshu_model::{CaseState, Timestamp};

/// The GCJ-02 point of HS001 (as a web map shows it): stored as the same WGS-84 point.
const STATIONS_GEOJSON: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[115.010273,30.197483]},"properties":{"code":"HS003","name":"下陆加油站","brand":"中国石化","datum":"gcj02"}}]}"#;

async fn scenario(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let url = api.scratch.url();
    let dir = ScratchDir::new("fuel");
    let dir = dir.path().to_path_buf();
    let tianshu = |args: &[&str]| tianshu_e2e::run(args, Some(&dir), &[]);
    let write = |name: &str, body: &[u8]| {
        let f = dir.join(name);
        std::fs::write(&f, body).unwrap();
        f.to_str().unwrap().to_string()
    };
    let admin = api.login("administrator").await;
    let inspector = api.login("inspector").await;
    let supervisor = api.login("supervisor").await;

    // A card file with an unknown plate names the line and column and stores nothing.
    let bad = write(
        "cards-bad.csv",
        cards_csv().replace(SUB_PLATE, "鄂B00000").as_bytes(),
    );
    let out = tianshu(&["fuel", "cards", "import", "--store", &url, &bad]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 4: column plate (4): no car \"鄂B00000\""),
        "{}",
        text(&out.stderr)
    );
    let cards = http(api.addr, "GET", "/api/fuel/cards", Some(&admin), None).await;
    assert_eq!(
        cards.json(),
        serde_json::json!([]),
        "a refused file stores nothing"
    );
    let good = write("cards.csv", cards_csv().as_bytes());
    for (run, want) in [(1, "3 created, 0 updated"), (2, "0 created, 3 updated")] {
        let out = tianshu(&["fuel", "cards", "import", "--store", &url, &good]);
        assert!(
            text(&out.stdout).contains(want),
            "run {run}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let st = write("stations.csv", STATIONS.as_bytes());
    let out = tianshu(&["fuel", "stations", "import", "--store", &url, &st]);
    assert!(
        text(&out.stdout).contains("stations imported: 2"),
        "{}",
        text(&out.stderr)
    );
    let gj = write("stations.geojson", STATIONS_GEOJSON.as_bytes());
    let out = tianshu(&["fuel", "stations", "import", "--store", &url, &gj]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stations = http(api.addr, "GET", "/api/fuel/stations", Some(&inspector), None)
        .await
        .json();
    let hs003 = stations
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "HS003")
        .unwrap();
    let lon = hs003["position"]["lon"].as_f64().unwrap();
    assert!(
        (lon - 115.005).abs() < 0.0002,
        "GCJ-02 converted to WGS-84: {hs003}"
    );

    // The statement in GBK through the command line: three bad rows named, four stored and checked.
    let utf8 = statement();
    let (gbk, _, _) = encoding_rs::GBK.encode(&utf8);
    let file = write("statement.csv", &gbk);
    let out = tianshu(&["fuel", "import", "--store", &url, &file]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "a refused row is exit code 1");
    assert!(
        stdout.contains("sinopec format, 4 transactions stored, 0 already stored, 3 rows refused"),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("line 6, column 交易时间 (2):"), "{stderr}");
    assert!(
        stderr.contains("line 7, column 数量 (5):") && stderr.contains("must be positive"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 8, column card: unknown card 9999999999999999"),
        "{stderr}"
    );

    // The same statement again, uploaded in UTF-8: nothing stored twice.
    let r = post_bytes(
        api.addr,
        "/api/fuel/statements?name=statement.csv",
        Some(&inspector),
        statement().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let report = r.json();
    assert_eq!(
        (report["stored"].as_u64(), report["duplicates"].as_u64()),
        (Some(0), Some(4)),
        "{report}"
    );
    assert_eq!(report["errors"].as_array().unwrap().len(), 3);
    // The upload is audited: who, which file, what was stored and refused.
    let audit = api.store.access().audit_newest(20).await.unwrap();
    let upload = audit
        .iter()
        .find(|r| r.entry.action == "fuel.statement")
        .expect("the upload's audit record");
    assert_eq!(upload.entry.actor, "inspector");
    assert!(
        upload
            .entry
            .detail
            .contains("statement \"statement.csv\" (sinopec): 0 stored, 4 already stored, 3 refused"),
        "{}",
        upload.entry.detail
    );
    let r = post_bytes(
        api.addr,
        "/api/fuel/statements?name=statement.csv",
        Some(&supervisor),
        b"x",
    )
    .await;
    assert_eq!(r.status, 403, "a supervisor does not import statements");

    // Each planted misuse is found, with its evidence; the clean fill is not.
    let findings = http(api.addr, "GET", "/api/fuel/findings", Some(&inspector), None)
        .await
        .json();
    let mut by_txn: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for f in findings.as_array().unwrap() {
        by_txn
            .entry(f["transaction_id"].as_i64().unwrap())
            .or_default()
            .push(f["check"].as_str().unwrap().to_string());
    }
    let found: Vec<Vec<String>> = by_txn.values().cloned().collect();
    let want: Vec<Vec<&str>> = vec![
        vec!["double_fill", "not_at_station"],
        vec!["month_ratio", "over_tank"],
        vec!["card_state"],
    ];
    assert_eq!(found, want, "{findings}");
    let far = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "not_at_station")
        .unwrap();
    assert!(far["evidence"]["nearest_m"].as_f64().unwrap() > 15_000.0, "{far}");
    assert!(
        !far["evidence"]["positions"].as_array().unwrap().is_empty(),
        "{far}"
    );
    assert!(far["case_id"].is_i64());

    // One case per transaction with findings, in the workflow; a re-check opens none again.
    let fuel_cases = |state: Option<CaseState>| {
        let store = api.store.clone();
        async move {
            store
                .cases()
                .cases(&CaseFilter {
                    rule: Some("fuel".into()),
                    states: state.into_iter().collect(),
                    ..CaseFilter::default()
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(fuel_cases(Some(CaseState::Open)).await.len(), 3);
    let range = [
        "--from",
        "2026-11-01T00:00:00+08:00",
        "--to",
        "2026-12-01T00:00:00+08:00",
    ];
    let out = tianshu(&[&["fuel", "check", "--store", &url][..], &range[..]].concat());
    assert!(
        text(&out.stdout).contains("4 transactions checked: 5 findings, 0 cases opened, 0 withdrawn"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // A supervisor of 市委办公室 sees its own fills and its sub-unit's, not 公安局's.
    let own = http(api.addr, "GET", "/api/fuel/findings", Some(&supervisor), None)
        .await
        .json();
    let units: Vec<i64> = own
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["unit"].as_i64().unwrap())
        .collect();
    assert_eq!(units.len(), 3, "{own}");
    assert!(!units.contains(&api.units["黄石市/公安局"].0));
    let cards = http(api.addr, "GET", "/api/fuel/cards", Some(&supervisor), None)
        .await
        .json();
    assert_eq!(cards.as_array().unwrap().len(), 2, "{cards}");

    // A truncated workbook is refused, naming what is wrong.
    let r = post_bytes(
        api.addr,
        "/api/fuel/statements?name=march.xlsx",
        Some(&inspector),
        b"PK\x03\x04broken",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not a readable XLSX workbook"), "{}", r.body);

    // The card was reactivated and the car's tank is really 100 L (which also covers its month's
    // litres): both cases are withdrawn.
    let r = http(
        api.addr,
        "PATCH",
        "/api/fuel/cards/1000000000000003",
        Some(&admin),
        Some(r#"{"state":"active","state_date":null,"state_reason":""}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        api.addr,
        "PATCH",
        "/api/fuel/cards/1000000000000003",
        Some(&admin),
        Some(r#"{"state":"cancelled"}"#),
    )
    .await;
    assert_eq!(r.status, 400, "a cancellation needs its reason: {}", r.body);
    let foreign = api.vid(FOREIGN_PLATE);
    let body = r#"{"tank_litres":100,"rated_l_per_100km":12,"fuel":"petrol"}"#;
    let r = http(
        api.addr,
        "PUT",
        &format!("/api/fuel/profiles/{foreign}"),
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        api.addr,
        "PUT",
        &format!("/api/fuel/profiles/{foreign}"),
        Some(&admin),
        Some(r#"{"tank_litres":0,"rated_l_per_100km":12,"fuel":"petrol"}"#),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let out = tianshu(&[&["fuel", "check", "--store", &url][..], &range[..]].concat());
    assert!(
        text(&out.stdout).contains("4 transactions checked: 2 findings, 0 cases opened, 2 withdrawn"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(fuel_cases(Some(CaseState::Withdrawn)).await.len(), 2);
    assert_eq!(fuel_cases(Some(CaseState::Open)).await.len(), 1);
    let profiles = http(api.addr, "GET", "/api/fuel/profiles", Some(&admin), None)
        .await
        .json();
    let p: Vec<&Value> = profiles
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["vehicle"] == foreign)
        .collect();
    assert_eq!(p[0]["tank_litres"], 100.0, "{profiles}");

    // An evening fill far from the track: not at the station, and off hours.
    let evening = write(
        "evening.csv",
        format!(
            "卡号,交易时间,加油站,油品,数量,单价,金额\n1000000000000001,{},HS001,92#,1.00,7.50,7.50\n",
            local(6 * 3600)
        )
        .as_bytes(),
    );
    let out = tianshu(&["fuel", "import", "--store", &url, &evening]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let evening_checks = || async {
        let all = http(api.addr, "GET", "/api/fuel/findings", Some(&admin), None)
            .await
            .json();
        let t0 = Timestamp::from_secs(T0_SECS + 6 * 3600);
        let mut checks: Vec<String> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["time"] == serde_json::json!(t0))
            .map(|f| f["check"].as_str().unwrap().to_string())
            .collect();
        checks.sort();
        checks
    };
    assert_eq!(evening_checks().await, ["not_at_station", "off_hours"]);
    // A filing approved for the evening explains the hour: the fill is checked again at once.
    let filing = format!(
        r#"{{"id":"BB-1","kind":"filing","plate":"{OWN_PLATE}","purpose":"加班","start":"{}","end":"{}","state":"requested"}}"#,
        Timestamp::from_secs(T0_SECS + 5 * 3600).to_rfc3339(),
        Timestamp::from_secs(T0_SECS + 7 * 3600).to_rfc3339()
    );
    let dispatcher = api.login("dispatcher").await;
    let r = http(api.addr, "POST", "/api/orders", Some(&dispatcher), Some(&filing)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        evening_checks().await,
        ["not_at_station", "off_hours"],
        "a filing not yet approved explains nothing"
    );
    let approve = r#"{"state":"approved"}"#;
    let r = http(api.addr, "PATCH", "/api/orders/BB-1", Some(&admin), Some(approve)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(evening_checks().await, ["not_at_station"]);
    // The terminal's blind-area backfill arrives: the car was at HS001 then. The sweep over what was
    // received late clears the last finding and withdraws the case.
    let own = api.vid(OWN_PLATE);
    let late: Vec<_> = (-10..=10)
        .map(|k| tianshu_model::Position {
            vehicle: tianshu_model::VehicleId(own),
            ..tianshu_e2e::Fix::at(T0_SECS + 6 * 3600 + k * 60)
                .at_e6(30_200_000, 115_005_000)
                .received_after(7 * 3_600_000)
                .build()
        })
        .collect();
    api.store.append_points(&late).await.unwrap();
    api.store.flush().await.unwrap();
    let withdrawn_before = fuel_cases(Some(CaseState::Withdrawn)).await.len();
    let cfg = tianshu_rules::fuel::FuelConfig::default();
    let since = Timestamp::from_secs(T0_SECS + 12 * 3600);
    let day_after = Timestamp::from_secs(T0_SECS + 86_400);
    let done = tianshu_api::fuel::recheck_late(&api.store, &cfg, since, None, day_after)
        .await
        .unwrap();
    assert!(done.iter().any(|c| c.withdrawn), "{done:?}");
    assert!(evening_checks().await.is_empty());
    assert_eq!(
        fuel_cases(Some(CaseState::Withdrawn)).await.len(),
        withdrawn_before + 1
    );
    // Nothing arrived late since: the next sweep checks nothing.
    let later = Timestamp::from_secs(T0_SECS + 14 * 3600);
    let again = tianshu_api::fuel::recheck_late(&api.store, &cfg, later, None, day_after)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
}

tianshu_e2e::on_both_backends!(api_fuel, scenario, "api_fuel");

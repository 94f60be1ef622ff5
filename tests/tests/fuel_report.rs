//! The fuel cards' report on both backends: the seeded statement imported, a fuel case's finding with
//! an amount recovered, then `GET /api/fuel/report` (JSON, CSV in English, XLSX) and `tianshu fuel
//! report` give the planted figures by unit and month: fills, litres, amount, findings by check, money
//! at stake, the cancelled card, the amount recovered; a supervisor counts their own units only and a
//! bad year is refused.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use tianshu_e2e::api::{Scratch, T0_SECS, TestApi, explain_case, http, post_bytes, status, status_json};
use tianshu_e2e::fuel::{import_cards_and_stations, statement};
use tianshu_e2e::{ScratchDir, text};
use tianshu_model::Timestamp;

async fn scenario(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let url = api.scratch.url();
    let dir = ScratchDir::new("fuel-report");
    import_cards_and_stations(&url, dir.path());
    let at_stake = planted(&api).await;
    let total_line = figures(&api, at_stake).await;
    command_line(&url, dir.path(), &total_line);
}

/// The seeded statement uploaded, the cancelled card's case found confirmed with 100.50 yuan
/// recovered; the money at stake as the findings give it (per fill, its largest finding's).
async fn planted(api: &TestApi) -> i64 {
    let inspector = api.login("inspector").await;
    let r = post_bytes(
        api.addr,
        "/api/fuel/statements?name=s.csv",
        Some(&inspector),
        statement().as_bytes(),
    )
    .await;
    assert_eq!(r.json()["stored"], 4, "{}", r.body);

    // The money at stake as the findings give it: per fill, its largest finding's.
    let findings = status_json(
        &http(api.addr, "GET", "/api/fuel/findings", Some(&inspector), None).await,
        200,
        "findings",
    );
    let mut stake: BTreeMap<i64, i64> = BTreeMap::new();
    let mut case_id = None;
    for f in findings.as_array().unwrap() {
        let e = stake.entry(f["transaction_id"].as_i64().unwrap()).or_default();
        *e = (*e).max(f["at_stake_fen"].as_i64().unwrap());
        if f["check"] == "card_state" {
            case_id = f["case_id"].as_i64();
        }
    }
    let at_stake: i64 = stake.values().sum();
    assert!(at_stake > 0);
    // The cancelled card's case explained, then found confirmed with 100.50 yuan recovered.
    let case_id = case_id.expect("the cancelled card's case");
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    explain_case(&api.store, case_id, "supervisor", "人员调离后仍用卡", now).await;
    let finding = r#"{"outcome":"confirmed","violation":"公车私用","people":[{"name":"张三","post":"驾驶员","unit":"机要科","measure":"诫勉谈话"}],"recovered_yuan":100.5}"#;
    let path = format!("/api/cases/{case_id}/finding");
    status(
        &http(api.addr, "PUT", &path, Some(&inspector), Some(finding)).await,
        200,
        "finding",
    );

    at_stake
}

/// The year's figures over HTTP as an inspector and as a supervisor, and the downloads; the CSV's
/// total line.
async fn figures(api: &TestApi, at_stake: i64) -> String {
    let inspector = api.login("inspector").await;
    let supervisor = api.login("supervisor").await;
    // The year's figures: 4 fills of 168 L for 1,260 yuan on 3 cards, 3 fills flagged, the card
    // cancelled on 2026-01-01, 100.50 yuan recovered this year.
    let year = Timestamp::from_secs(T0_SECS).to_china().format("%Y").to_string();
    let month = Timestamp::from_secs(T0_SECS)
        .to_china()
        .format("%Y-%m")
        .to_string();
    let report = status_json(
        &http(
            api.addr,
            "GET",
            &format!("/api/fuel/report?year={year}"),
            Some(&inspector),
            None,
        )
        .await,
        200,
        "report",
    );
    let total = &report["total"];
    assert_eq!(
        (
            &total["fills"],
            &total["cards_used"],
            &total["litres_cl"],
            &total["amount_fen"]
        ),
        (&4.into(), &3.into(), &16_800.into(), &126_000.into()),
        "{report}"
    );
    assert_eq!(total["flagged_fills"], 3, "{report}");
    assert_eq!(total["at_stake_fen"], at_stake, "{report}");
    assert_eq!(
        (&total["cancelled"], &total["recovered_fen"]),
        (&1.into(), &10_050.into()),
        "{report}"
    );
    let by_check = serde_json::json!({"card_state": 1, "double_fill": 1, "month_ratio": 1, "not_at_station": 1, "over_tank": 1});
    assert_eq!(total["findings"], by_check, "{report}");
    let police = api.units["黄石市/公安局"].0;
    let row = |unit: i64, m: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unit"] == unit && r["month"] == m)
            .cloned()
            .unwrap_or_else(|| panic!("no row {unit} {m}: {report}"))
    };
    let p = row(police, &month);
    assert_eq!(
        (&p["fills"], &p["litres_cl"], &p["amount_fen"]),
        (&1.into(), &9_000.into(), &67_500.into())
    );
    assert_eq!(report["unit_names"][police.to_string()], "黄石市/公安局");
    let sub = api.units["黄石市/市委办公室/机要科"].0;
    assert_eq!(
        row(sub, &format!("{year}-01"))["cancelled"],
        1,
        "by the date of its state"
    );

    // A supervisor of 市委办公室 counts its fills and its sub-unit's only.
    let own = status_json(
        &http(
            api.addr,
            "GET",
            &format!("/api/fuel/report?year={year}"),
            Some(&supervisor),
            None,
        )
        .await,
        200,
        "supervisor's report",
    );
    assert_eq!(
        (&own["total"]["fills"], &own["total"]["litres_cl"]),
        (&3.into(), &7_800.into()),
        "{own}"
    );
    // The yearly figures carry the same totals, scoped the same way.
    for (who, want) in [(&inspector, total), (&supervisor, &own["total"])] {
        let path = format!("/api/report/yearly?year={year}");
        let yearly = status_json(
            &http(api.addr, "GET", &path, Some(who), None).await,
            200,
            "yearly",
        );
        assert_eq!(&yearly["fuel"], want, "the yearly figures' fuel cards: {yearly}");
    }
    let bad = http(
        api.addr,
        "GET",
        "/api/fuel/report?year=1999",
        Some(&inspector),
        None,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("year: 1999"), "{}", bad.body);

    // The downloads: the CSV titled in English ends with the total; the workbook is a zip.
    let csv = http(
        api.addr,
        "GET",
        &format!("/api/fuel/report?year={year}&format=csv&lang=en"),
        Some(&inspector),
        None,
    )
    .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .contains("Unit,Month,Cards used,Fills,Litres,Amount (yuan),Fills flagged"),
        "{}",
        csv.body
    );
    let total_line = csv.body.trim_end().lines().last().unwrap().to_string();
    assert!(total_line.starts_with("Total,,3,4,168,1260,3,"), "{total_line}");
    let xlsx = http(
        api.addr,
        "GET",
        &format!("/api/fuel/report?year={year}&format=xlsx"),
        Some(&inspector),
        None,
    )
    .await;
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.bytes.starts_with(b"PK\x03\x04"), "an XLSX workbook");

    total_line
}

/// The command line counts as the API does: its CSV's total line is the API's.
fn command_line(url: &str, dir: &std::path::Path, total_line: &str) {
    let tianshu = |args: &[&str]| tianshu_e2e::run(args, Some(dir), &[]);
    let year = Timestamp::from_secs(T0_SECS).to_china().format("%Y").to_string();
    let out = tianshu(&["fuel", "report", "--store", url, "--year", &year, "--lang", "en"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cli = text(&out.stdout);
    assert_eq!(cli.trim_end().lines().last().unwrap(), total_line, "{cli}");
    let unit = "黄石市/公安局";
    let out = tianshu(&[
        "fuel", "report", "--store", url, "--year", &year, "--unit", unit, "--format", "json",
    ]);
    let only: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(
        (&only["total"]["fills"], &only["total"]["cancelled"]),
        (&1.into(), &0.into()),
        "{only}"
    );
}

tianshu_e2e::on_both_backends!(fuel_report, scenario, "fuel_report");

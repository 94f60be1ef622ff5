//! The planted year, on both backends: `tianshu simulate --write-world` writes a year of complaints and
//! findings (`casework.jsonl`) with the totals it drew (`casework_totals.json`); `tianshu casework
//! import` loads them (a file with one record the store refuses loads nothing), and the office's figures,
//! from a running `tianshu serve` (`GET /api/casework/summary`) and from `tianshu casework summary`,
//! are exactly those totals, in total and by unit and month, with their downloads' titles in either
//! language.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};
use tianshu_e2e::api::{create_user, http, login_at};
use tianshu_e2e::{Scratch, Tianshu, run_tianshu, tianshu_ok};
use tianshu_model::UnitId;
use tianshu_store::Store;
use tianshu_store::access::Role;

const PERIOD: &str = "from=2025-01-01&to=2026-01-01";

/// Each unit's path (`黄石市/公安局`), by id.
fn paths(units: &[tianshu_model::Unit]) -> HashMap<i64, String> {
    let path = |id: UnitId| {
        let mut names = Vec::new();
        let mut at = units.iter().find(|u| u.id == id);
        while let Some(u) = at {
            names.insert(0, u.name.clone());
            at = u.parent.and_then(|p| units.iter().find(|x| x.id == p));
        }
        names.join("/")
    };
    units.iter().map(|u| (u.id.0, path(u.id))).collect()
}

/// A summary's rows with each unit named by its path (its name on the API's rows left out), in the
/// order of the planted totals' rows (unit, then month).
fn by_path(summary: &Value, paths: &HashMap<i64, String>) -> Vec<Value> {
    let mut rows: Vec<Value> = summary["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let row = r.as_object_mut().expect("a row");
            row.remove("unit_name");
            if let Some(u) = row["unit"].as_i64() {
                row.insert("unit".into(), paths[&u].clone().into());
            }
            r
        })
        .collect();
    let key = |r: &Value| (r["unit"].as_str().map(str::to_string), r["month"].to_string());
    rows.sort_by_key(key);
    rows
}

/// Writes a small world and its planted year into `dir`, and imports its registry.
fn world(dir: &Path, url: &str) {
    let d = dir.to_str().expect("a UTF-8 path");
    tianshu_ok(&[
        "simulate",
        "--write-world",
        d,
        "--vehicles",
        "40",
        "--seed",
        "1717",
        "--start",
        "2026-03-02T00:00:00Z",
        "--days",
        "1",
    ]);
    let registry = dir.join("registry.csv");
    tianshu_ok(&[
        "registry",
        "import",
        "--store",
        url,
        registry.to_str().expect("path"),
    ]);
}

/// A copy of the planted file whose third record names a car nobody knows but still carries a
/// finding: the store refuses it, and so the whole file.
fn spoiled(planted: &str) -> String {
    let mut lines: Vec<Value> = planted
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect();
    let with_finding = lines
        .iter()
        .position(|r| r.get("finding").is_some())
        .expect("a record with a finding");
    let mut bad = lines.remove(with_finding);
    bad["plate"] = json!("京A00000");
    lines.insert(2, bad);
    lines.iter().map(|r| format!("{r}\n")).collect()
}

async fn the_summary_reproduces_the_planted_year(scratch: Scratch) {
    let dir = tianshu_testkit::unique_dir("casework-year");
    let url = scratch.url();
    world(&dir, &url);
    let planted = std::fs::read_to_string(dir.join("casework.jsonl")).expect("casework.jsonl");
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("casework_totals.json")).expect("the totals"))
            .expect("JSON");
    assert!(want["total"]["confirmed"].as_u64() > Some(5), "{}", want["total"]);

    // One record the store refuses: the file is refused by that line and nothing of it is kept.
    let bad = dir.join("spoiled.jsonl");
    std::fs::write(&bad, spoiled(&planted)).expect("writing");
    let (ok, _, err) = run_tianshu(
        &["casework", "import", "--store", &url, bad.to_str().expect("path")],
        &[],
    );
    assert!(!ok, "a file with a bad record is refused");
    assert!(err.contains("line 3: ") && err.contains("no known car"), "{err}");
    let store = Store::open(&url).await.expect("the store");
    let filter = tianshu_model::complaint::ComplaintFilter::default();
    assert_eq!(store.casework().complaints(&filter).await.expect("listing").1, 0);

    let file = dir.join("casework.jsonl");
    let out = tianshu_ok(&[
        "casework",
        "import",
        "--store",
        &url,
        file.to_str().expect("path"),
    ]);
    let done: Value = serde_json::from_str(out.trim()).expect("the import's counts");
    assert_eq!(done["complaints"].as_u64(), Some(planted.lines().count() as u64));
    let paths = paths(&store.units().await.expect("units"));
    create_user(&store, "inspector", Role::Inspector, None).await;
    store.close().await.expect("closing");

    // The API of a running server.
    let server = Tianshu::start(&url, "", &[], &dir);
    let cookie = login_at(server.http, "inspector").await;
    let get = |q: String| {
        let cookie = cookie.clone();
        async move {
            http(
                server.http,
                "GET",
                &format!("/api/casework/summary?{q}"),
                Some(&cookie),
                None,
            )
            .await
        }
    };
    let r = get(PERIOD.into()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let api = r.json();
    assert_eq!(api["total"], want["total"], "the year's totals over HTTP");
    assert_eq!(
        by_path(&api, &paths),
        by_path(&want, &HashMap::new()),
        "by unit and month over HTTP"
    );

    // The yearly figures carry the year's total.
    let r = http(
        server.http,
        "GET",
        "/api/report/yearly?year=2025",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["casework"],
        want["total"],
        "the yearly figures' complaints and findings"
    );

    // The command line.
    let cli: Value = serde_json::from_str(&tianshu_ok(&[
        "casework",
        "summary",
        "--store",
        &url,
        "--from",
        "2025-01-01",
        "--to",
        "2026-01-01",
        "--format",
        "json",
    ]))
    .expect("JSON");
    assert_eq!(
        cli["total"], want["total"],
        "the year's totals on the command line"
    );
    assert_eq!(
        by_path(&cli, &paths),
        by_path(&want, &HashMap::new()),
        "by unit and month on the command line"
    );

    // The downloads' titles: Chinese by default, English when asked; the figures the same.
    let t = &want["total"];
    let fen = t["recovered_fen"].as_i64().expect("fen");
    let counts: Vec<String> = [
        "received",
        "forwarded",
        "answered_in_time",
        "overdue",
        "replied",
        "findings",
        "confirmed",
        "people",
        "sanctioned",
        "judiciary",
    ]
    .iter()
    .map(|k| t[k].to_string())
    .collect();
    let figures = format!("{},{}.{:02}", counts.join(","), fen / 100, fen % 100);
    let zh = get(format!("{PERIOD}&format=csv")).await.body;
    assert!(zh.starts_with("单位,月份,受理举报,"), "{zh}");
    assert!(zh.contains(&format!("\n合计,,{figures},")), "{zh}");
    let en = get(format!("{PERIOD}&format=csv&lang=en")).await.body;
    assert!(en.starts_with("Unit,Month,Complaints received,"), "{en}");
    assert!(en.contains(&format!("\nTotal,,{figures},")), "{en}");
    let bad_lang = get(format!("{PERIOD}&format=csv&lang=fr")).await;
    assert_eq!(bad_lang.status, 400, "{}", bad_lang.body);
    let cli_en = tianshu_ok(&[
        "casework",
        "summary",
        "--store",
        &url,
        "--from",
        "2025-01-01",
        "--to",
        "2026-01-01",
        "--lang",
        "en",
    ]);
    assert!(cli_en.starts_with("Unit,Month,Complaints received,"), "{cli_en}");
    assert!(cli_en.contains(&format!("\nTotal,,{figures},")), "{cli_en}");
    let (ok, _, err) = run_tianshu(
        &[
            "casework",
            "summary",
            "--store",
            &url,
            "--from",
            "2025-01-01",
            "--to",
            "2026-01-01",
            "--lang",
            "fr",
        ],
        &[],
    );
    assert!(!ok && err.contains("--lang"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

tianshu_e2e::on_both_backends!(the_summary_reproduces_the_planted_year);

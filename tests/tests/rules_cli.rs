//! The rules' command line, run as an administrator would: `tianshu calendar import`, `geofence import`,
//! `order import` (validated, all or nothing, errors with line numbers) and `rules evaluate` over a
//! stored track, against the embedded store and PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::process::Output;

use tianshu_e2e::{Scratch, ScratchDir, text};
use tianshu_model::{Phone, Position, Timestamp, VehicleId};
use tianshu_store::Store;

const REGISTRY_CSV: &str = "unit,plate,phone,terminal_id,vehicle_class\n\
                            黄石市/市委办公室,鄂B12345,13800138000,T000001,general\n";

const FENCES: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"市委车库","kind":"depot","unit":"黄石市/市委办公室"},"geometry":{"type":"Polygon","coordinates":[[[115.0,30.2],[115.001,30.2],[115.001,30.201],[115.0,30.201],[115.0,30.2]]]}},
{"type":"Feature","properties":{"name":"金碧辉煌KTV","kind":"prohibited","category":"entertainment"},"geometry":{"type":"Polygon","coordinates":[[[115.1,30.2],[115.101,30.2],[115.1,30.2]]]}}
]}"#;

const ORDER: &str = r#"{"id":"PC-2026-000123","kind":"order","plate":"鄂B12345","driver":"张三","purpose":"周末送文件","start":"2026-11-28T01:30:00Z","end":"2026-11-28T03:00:00Z","state":"approved"}"#;

fn tianshu(args: &[&str], cwd: &std::path::Path) -> Output {
    tianshu_e2e::run(args, Some(cwd), &[])
}

/// A Saturday trip (2026-11-28, a rest day) 10:00-10:30 Beijing time, then parked.
fn saturday_trip(vehicle: VehicleId) -> Vec<Position> {
    let t0 = Timestamp::parse_rfc3339("2026-11-28T10:00:00+08:00").unwrap();
    tianshu_e2e::trip(t0, (30_200_500, 115_000_500), 1000, true, 80)
        .into_iter()
        .map(|f| Position {
            vehicle,
            ..f.phone(Phone(13_800_138_000)).build()
        })
        .collect()
}

fn evaluate(url: &str, dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = tianshu(
        &[
            "rules",
            "evaluate",
            "--store",
            url,
            "--plate",
            "鄂B12345",
            "--from",
            "2026-11-28T00:00:00+08:00",
            "--to",
            "2026-11-29T00:00:00+08:00",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn scenario(scratch: Scratch) {
    let url = scratch.url();
    let dir = ScratchDir::new("rules-cli");
    let dir = dir.path().to_path_buf();
    // `tianshu WHAT import` of `body` written as `name`: (success, stdout trimmed, stderr).
    let import = |what: &str, name: &str, body: &str| {
        let file = dir.join(name);
        std::fs::write(&file, body).unwrap();
        let out = tianshu(&[what, "import", "--store", &url, file.to_str().unwrap()], &dir);
        (
            out.status.success(),
            text(&out.stdout).trim().to_string(),
            text(&out.stderr),
        )
    };

    let (ok, _, err) = import("registry", "registry.csv", REGISTRY_CSV);
    assert!(ok, "{err}");

    // Calendar: a bad file names its line and changes nothing; a good one imports.
    let holiday =
        "year = 2027\n[[holiday]]\nname = \"元旦\"\nfirst = \"2027-01-01\"\nlast = \"2027-01-01\"\n";
    let (ok, _, err) = import(
        "calendar",
        "2027-bad.toml",
        &format!("{holiday}working = [\"2027-01-06\"]\n"),
    );
    assert!(!ok);
    assert!(err.contains("line 6:"), "{err}");
    let (_, out, err) = import("calendar", "2027.toml", holiday);
    assert_eq!(out, "calendar 2027 imported", "{err}");

    // Geofences: one broken feature refuses the whole file.
    let (ok, _, err) = import("geofence", "fences.geojson", FENCES);
    assert!(!ok);
    assert!(err.contains("line 3: feature 2:"), "{err}");
    let fixed = FENCES.replace(
        "[115.101,30.2],[115.1,30.2]",
        "[115.101,30.2],[115.101,30.201],[115.1,30.201],[115.1,30.2]",
    );
    let (_, out, err) = import("geofence", "fences-fixed.geojson", &fixed);
    assert_eq!(out, "geofences imported: 2 created, 0 replaced", "{err}");
    let (_, out, _) = import("geofence", "fences-fixed.geojson", &fixed);
    assert_eq!(out, "geofences imported: 0 created, 2 replaced");

    // The trip is stored like any ingested track.
    {
        let store = Store::open(&url).await.unwrap();
        let car = store.vehicle_by_plate("鄂B12345").await.unwrap().unwrap();
        store.append_points(&saturday_trip(car.id)).await.unwrap();
    }
    let eps = evaluate(&url, &dir);
    assert_eq!(eps.len(), 1, "{eps:?}");
    assert_eq!(eps[0]["rule"], "out_of_hours");
    assert_eq!(eps[0]["start"], "2026-11-28T02:00:00Z");
    assert_eq!(eps[0]["end"], "2026-11-28T02:30:00Z");
    assert_eq!(eps[0]["severity"], "medium");
    assert_eq!(eps[0]["late"], false);
    assert!(eps[0]["reasoning"].as_str().unwrap().contains("a rest day"));

    // Orders: every bad line is named, nothing is stored; then the approved order clears the episode.
    let bad = format!(
        "{ORDER}\n{}\n{}\n",
        ORDER.replace("approved", "aproved"),
        ORDER.replace("000123", "000124").replace(
            "\"end\":\"2026-11-28T03:00:00Z\"",
            "\"end\":\"2026-11-28T01:00:00Z\""
        )
    );
    let (ok, _, err) = import("order", "orders-bad.jsonl", &bad);
    assert!(!ok);
    assert!(
        err.contains("line 2:") && err.contains("line 3:") && !err.contains("line 1:"),
        "{err}"
    );
    assert_eq!(evaluate(&url, &dir).len(), 1, "a refused file stores nothing");
    let unknown = ORDER.replace("鄂B12345", "鄂B99999");
    let (_, _, err) = import("order", "orders-unknown.jsonl", &unknown);
    assert!(
        err.contains("line 1: plate \"鄂B99999\" is not in the registry"),
        "{err}"
    );
    let (_, out, err) = import("order", "orders.jsonl", ORDER);
    assert_eq!(out, "orders imported: 1 created, 0 updated, 0 unchanged", "{err}");
    assert_eq!(evaluate(&url, &dir), Vec::<serde_json::Value>::new());
}

tianshu_e2e::on_both_backends!(rules_cli, scenario, "rules_cli");

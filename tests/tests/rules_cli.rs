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
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };

    let reg = write("registry.csv", REGISTRY_CSV);
    assert!(
        tianshu(&["registry", "import", "--store", &url, &reg], &dir)
            .status
            .success()
    );

    // Calendar: a bad file names its line and changes nothing; a good one imports.
    let bad = write(
        "2027-bad.toml",
        "year = 2027\n[[holiday]]\nname = \"元旦\"\nfirst = \"2027-01-01\"\nlast = \"2027-01-01\"\nworking = [\"2027-01-06\"]\n",
    );
    let out = tianshu(&["calendar", "import", "--store", &url, &bad], &dir);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("line 6:"), "{}", text(&out.stderr));
    let good = write(
        "2027.toml",
        "year = 2027\n[[holiday]]\nname = \"元旦\"\nfirst = \"2027-01-01\"\nlast = \"2027-01-01\"\n",
    );
    let out = tianshu(&["calendar", "import", "--store", &url, &good], &dir);
    assert_eq!(
        text(&out.stdout).trim(),
        "calendar 2027 imported",
        "{}",
        text(&out.stderr)
    );

    // Geofences: one broken feature refuses the whole file.
    let fences = write("fences.geojson", FENCES);
    let out = tianshu(&["geofence", "import", "--store", &url, &fences], &dir);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 3: feature 2:"),
        "{}",
        text(&out.stderr)
    );
    let fixed = write(
        "fences-fixed.geojson",
        &FENCES.replace(
            "[115.101,30.2],[115.1,30.2]",
            "[115.101,30.2],[115.101,30.201],[115.1,30.201],[115.1,30.2]",
        ),
    );
    let out = tianshu(&["geofence", "import", "--store", &url, &fixed], &dir);
    assert_eq!(
        text(&out.stdout).trim(),
        "geofences imported: 2 created, 0 replaced",
        "{}",
        text(&out.stderr)
    );
    let out = tianshu(&["geofence", "import", "--store", &url, &fixed], &dir);
    assert_eq!(
        text(&out.stdout).trim(),
        "geofences imported: 0 created, 2 replaced"
    );

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
    let bad = write(
        "orders-bad.jsonl",
        &format!(
            "{ORDER}\n{}\n{}\n",
            ORDER.replace("approved", "aproved"),
            ORDER.replace("000123", "000124").replace(
                "\"end\":\"2026-11-28T03:00:00Z\"",
                "\"end\":\"2026-11-28T01:00:00Z\""
            )
        ),
    );
    let out = tianshu(&["order", "import", "--store", &url, &bad], &dir);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("line 2:") && err.contains("line 3:") && !err.contains("line 1:"),
        "{err}"
    );
    assert_eq!(evaluate(&url, &dir).len(), 1, "a refused file stores nothing");
    let unknown = write("orders-unknown.jsonl", &ORDER.replace("鄂B12345", "鄂B99999"));
    let out = tianshu(&["order", "import", "--store", &url, &unknown], &dir);
    assert!(
        text(&out.stderr).contains("line 1: plate \"鄂B99999\" is not in the registry"),
        "{}",
        text(&out.stderr)
    );
    let orders = write("orders.jsonl", ORDER);
    let out = tianshu(&["order", "import", "--store", &url, &orders], &dir);
    assert_eq!(
        text(&out.stdout).trim(),
        "orders imported: 1 created, 0 updated, 0 unchanged",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(evaluate(&url, &dir), Vec::<serde_json::Value>::new());
}

tianshu_e2e::on_both_backends!(rules_cli, scenario, "rules_cli");

//! The store's command line, run as an operator would: `tianshu registry import` and `tianshu export`
//! against the embedded store and PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::process::Output;

use tianshu_e2e::{Scratch, ScratchDir, T0_SECS, point, text};
use tianshu_model::{AlarmFlags, Position, Timestamp};
use tianshu_store::Store;

const REGISTRY_CSV: &str = "unit,plate,phone,terminal_id,vehicle_class\n\
                            黄石市/市委办公室,鄂B12345,013800138000,T000001,general\n\
                            黄石市/公安局,鄂B0001警,13800138001,T000002,law_enforcement\n";

fn tianshu(args: &[&str], cwd: &std::path::Path) -> Output {
    tianshu_e2e::run(args, Some(cwd), &[])
}

/// Imports the registry through the CLI, appends a track for 鄂B12345 through the API (out of order,
/// with an alarm), and checks the three export formats.
async fn import_then_export(scratch: Scratch) {
    let url = &scratch.url();
    let dir = ScratchDir::new("export");
    let csv = dir.0.join("registry.csv");
    std::fs::write(&csv, REGISTRY_CSV).unwrap();
    let out = tianshu(
        &["registry", "import", "--store", url, csv.to_str().unwrap()],
        &dir.0,
    );
    assert!(out.status.success(), "import failed: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("3 units created"),
        "{}",
        text(&out.stdout)
    );

    let store = Store::open(url).await.unwrap();
    let car = store
        .vehicle_by_plate("鄂B12345")
        .await
        .unwrap()
        .expect("imported");
    let mut points: Vec<Position> = (0..30)
        .rev()
        .map(|i| Position {
            vehicle: car.id,
            ..point(0, i * 10)
        })
        .collect();
    points[5].alarm = AlarmFlags(1);
    // Another car's points and points outside the range never show up.
    points.push(Position {
        vehicle: tianshu_model::VehicleId(car.id.0 + 1),
        ..point(0, 15)
    });
    points.push(Position {
        vehicle: car.id,
        ..point(0, 3_600)
    });
    store.append_points(&points).await.unwrap();
    drop(store);

    let from = Timestamp::from_secs(T0_SECS).to_rfc3339();
    let to = Timestamp::from_secs(T0_SECS + 300).to_rfc3339();
    // `tianshu export` of a plate over a range, with more arguments.
    let run = |plate: &str, from: &str, to: &str, more: &[&str]| {
        let mut args = vec![
            "export", "--store", url, "--plate", plate, "--from", from, "--to", to,
        ];
        args.extend_from_slice(more);
        tianshu(&args, &dir.0)
    };
    let export = |format: &str, extra: &[&str]| {
        let out = run("鄂B12345", &from, &to, &[&["--format", format], extra].concat());
        assert!(
            out.status.success(),
            "export {format} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };

    let csv = export("csv", &[]);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("fix_time,"));
    let times: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    let expected: Vec<String> = (0..30)
        .map(|i| Timestamp::from_secs(T0_SECS + i * 10).to_rfc3339())
        .collect();
    assert_eq!(times, expected);
    assert!(times[0] == "2026-11-27T00:00:00Z");
    assert!(
        csv.contains("2026-11-27T00:04:00Z,2026-11-27T00:04:01Z,鄂B12345,13800000000,"),
        "{csv}"
    );

    let geojson: serde_json::Value = serde_json::from_str(&export("geojson", &[])).unwrap();
    assert_eq!(geojson["type"], "FeatureCollection");
    let features = geojson["features"].as_array().unwrap();
    assert_eq!(features.len(), 30);
    assert_eq!(features[0]["properties"]["fix_time"], "2026-11-27T00:00:00Z");
    assert_eq!(features[0]["geometry"]["coordinates"][0], 115.0);
    // points[5] was second 240.
    assert_eq!(features[24]["properties"]["alarms"][0], "sos");

    let gpx = export("gpx", &[]);
    assert!(gpx.starts_with("<?xml") && gpx.contains("<name>鄂B12345</name>"));
    assert_eq!(gpx.matches("<trkpt ").count(), 30);
    assert!(gpx.contains("<time>2026-11-27T00:04:50Z</time>"));

    // Simplified: the straight line north keeps its two ends and the alarm point.
    let simple = export("csv", &["--simplify-m", "5"]);
    let times: Vec<&str> = simple
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-11-27T00:00:00Z",
            "2026-11-27T00:04:00Z",
            "2026-11-27T00:04:50Z"
        ]
    );

    // An unknown plate and a reversed range are errors with their reason.
    let out = run("鄂A00000", &from, &to, &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("鄂A00000"), "{}", text(&out.stderr));
    let out = run("鄂B12345", &to, &from, &[]);
    assert!(!out.status.success());
}

tianshu_e2e::on_both_backends!(registry_import_and_export, import_then_export, "cli");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_is_named_and_nothing_is_imported() {
    let dir = ScratchDir::new("bad-row");
    let bad = format!("{REGISTRY_CSV}大冶市,鄂B99999,13800138009,T000009,limousine\n");
    std::fs::write(dir.0.join("bad.csv"), bad).unwrap();
    // No --store: the default embedded path under the working directory.
    let out = tianshu(&["registry", "import", "bad.csv"], &dir.0);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 4") && stderr.contains("limousine"),
        "{stderr}"
    );

    std::fs::write(dir.0.join("good.json"), serde_json::to_string_pretty(&serde_json::json!([
        {"unit": "黄石市/市委办公室", "plate": "鄂B12345", "phone": "013800138000", "terminal_id": "T000001", "vehicle_class": "general"},
        {"unit": "黄石市", "plate": "鄂B00001", "phone": "13800138002", "terminal_id": "T000003", "vehicle_class": "emergency"}
    ])).unwrap()).unwrap();
    let out = tianshu(&["registry", "import", "good.json"], &dir.0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.0.join("tianshu-data/tianshu.db").exists());
    let out = tianshu(&["registry", "import", "good.json"], &dir.0);
    assert!(
        text(&out.stdout).contains("0 units created"),
        "{}",
        text(&out.stdout)
    );

    let out = tianshu(&["registry", "list"], &dir.0);
    let vehicles: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Only the JSON file's two cars: the bad CSV left nothing behind.
    assert_eq!(vehicles.len(), 2);
    assert_eq!(vehicles[0]["unit"], "黄石市/市委办公室");
    assert_eq!(vehicles[1]["vehicle_class"], "emergency");
    assert_eq!(vehicles[0]["terminals"][0]["phone"], "13800138000");

    let bad_json = "[\n  {\"unit\": \"黄石市\", \"plate\": \"鄂B1\", \"phone\": \"1\", \"terminal_id\": \"T1\",\n   \"vehicle_class\": \"nope\"}\n]";
    std::fs::write(dir.0.join("bad.json"), bad_json).unwrap();
    let out = tianshu(&["registry", "import", "bad.json"], &dir.0);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("line 2"), "{}", text(&out.stderr));
}

/// The layers `tianshu store stats --format json` prints, as (layer, points).
fn stats_points(url: &str, dir: &std::path::Path) -> Vec<(String, u64)> {
    let out = tianshu(&["store", "stats", "--store", url, "--format", "json"], dir);
    assert!(out.status.success(), "stats failed: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["damaged_blocks"], serde_json::json!([]));
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["layer"].as_str().unwrap().to_string(),
                l["points"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Two vehicles' points over two past China days: `store stats` counts them as rows, `store compact`
/// packs them into four vehicle-day blocks, `store stats` then counts them as blocks, per month too.
async fn compact_then_stats(scratch: Scratch) {
    let url = &scratch.url();
    let dir = ScratchDir::new("blocks");
    let store = Store::open(url).await.unwrap();
    let points: Vec<Position> = [1, 2]
        .iter()
        .flat_map(|&v| (0..96).map(move |i| point(v, i * 1_800)))
        .collect();
    store.append_points(&points).await.unwrap();
    store.close().await.unwrap();
    drop(store);
    let before = stats_points(url, &dir.0);
    assert!(before.contains(&("rows".to_string(), 192)), "{before:?}");
    assert!(before.contains(&("blocks".to_string(), 0)), "{before:?}");

    let out = tianshu(&["store", "compact", "--store", url], &dir.0);
    assert!(out.status.success(), "compact failed: {}", text(&out.stderr));
    // 48 hours from T0 (08:00 in China) cross three China days.
    assert!(
        text(&out.stdout).starts_with("compacted 6 vehicle-days (192 points)"),
        "{}",
        text(&out.stdout)
    );
    let after = stats_points(url, &dir.0);
    assert!(after.contains(&("rows".to_string(), 0)), "{after:?}");
    assert!(after.contains(&("blocks".to_string(), 192)), "{after:?}");
    let months: u64 = after
        .iter()
        .filter(|(l, _)| l.starts_with("blocks 20"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(months, 192, "{after:?}");
    let table = tianshu(&["store", "stats", "--store", url], &dir.0);
    assert!(
        text(&table.stdout).contains("bytes/point"),
        "{}",
        text(&table.stdout)
    );
}

tianshu_e2e::on_both_backends!(store_compact_and_stats, compact_then_stats, "blockscli");

/// How the sessions to database `db` ended, as PostgreSQL counts them once none is open: `(sessions,
/// sessions not ended by the client's Terminate)`. A client that goes without Terminate counts as
/// abandoned, one whose socket closed while the server wrote ("could not send data to client") as fatal.
async fn sessions_ended(db: &str) -> (i64, i64) {
    let admin = tianshu_testkit::admin_client().await;
    tianshu_e2e::wait_until("the CLI's sessions gone", tianshu_e2e::WAIT, || async {
        let open: i64 = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", &[&db])
            .await
            .unwrap()
            .get(0);
        open == 0
    })
    .await;
    let row = admin
        .query_one(
            "SELECT sessions, sessions_abandoned + sessions_fatal + sessions_killed \
             FROM pg_stat_database WHERE datname = $1",
            &[&db],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Every command that opens PostgreSQL ends its connections with Terminate, whether it succeeds or fails:
/// the server counts no session abandoned, cut or killed (before, each exit cut its pooled connections and
/// the server logged "could not send data to client").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_end_their_postgres_sessions_cleanly() {
    let scratch = Scratch::postgres("cleanend").await;
    let Scratch::Postgres(db) = &scratch else {
        unreachable!("a PostgreSQL scratch")
    };
    let url = &scratch.url();
    let dir = ScratchDir::new("cleanend");
    let csv = dir.0.join("registry.csv");
    std::fs::write(&csv, REGISTRY_CSV).unwrap();
    let (from, to) = ("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z");
    let commands: [(&[&str], bool); 5] = [
        (
            &["registry", "import", "--store", url, csv.to_str().unwrap()],
            true,
        ),
        (&["store", "stats", "--store", url], true),
        (&["store", "compact", "--store", url], true),
        (
            &[
                "export",
                "--store",
                url,
                "--plate",
                "鄂B12345",
                "--from",
                from,
                "--to",
                to,
            ],
            true,
        ),
        (
            &[
                "export",
                "--store",
                url,
                "--plate",
                "鄂X00000",
                "--from",
                from,
                "--to",
                to,
            ],
            false,
        ),
    ];
    for (args, succeeds) in commands {
        let out = tianshu(args, &dir.0);
        assert_eq!(out.status.success(), succeeds, "{args:?}: {}", text(&out.stderr));
    }
    let (sessions, unclean) = sessions_ended(db).await;
    assert!(
        sessions >= 5,
        "PostgreSQL counted {sessions} sessions for 5 commands"
    );
    assert_eq!(
        unclean, 0,
        "{unclean} of {sessions} sessions ended without Terminate"
    );
}

//! The cars' daily summaries and the yearly figures read from them, on both backends: three China days
//! of track planted for two cars (and cases opened on them), summarised by `tianshu report summarise`
//! and by the server's pass over the days not yet summarised, and `tianshu report yearly` shows the km,
//! trips, online share and cases by rule that were planted; summarising a day again changes nothing; a
//! bad date, or a day not over yet, is refused and summarises nothing.
#![allow(clippy::unwrap_used)]

use tianshu_e2e::{Scratch, ScratchDir, text};
use tianshu_model::case::NewCase;
use tianshu_model::{LonLat, Phone, Position, Timestamp, Vehicle};
use tianshu_store::Store;

const REGISTRY_CSV: &str = "unit,plate,phone,terminal_id,vehicle_class\n\
                            黄石市/市委办公室,鄂B10001,13800138001,T000001,general\n\
                            黄石市/市委办公室,鄂B10002,13800138002,T000002,general\n";
/// 60 steps of 0.001 degree of longitude at 30.2 N (out and back) a trip: `tianshu_e2e::trip`.
const STEPS: f64 = 60.0;

/// A trip of `car` starting at `start` (Beijing time, RFC 3339), then parked ten minutes.
fn trip(car: &Vehicle, phone: u128, start: &str) -> Vec<Position> {
    let t0 = Timestamp::parse_rfc3339(start).unwrap();
    tianshu_e2e::trip(t0, (30_200_000, 115_000_000), 1000, true, 80)
        .into_iter()
        .map(|f| Position {
            vehicle: car.id,
            ..f.phone(Phone(phone)).build()
        })
        .collect()
}

async fn open_case(store: &Store, car: &Vehicle, rule: &str, start: &str) {
    let case = NewCase {
        vehicle: car.id,
        unit: car.unit,
        rule: rule.into(),
        start: Timestamp::parse_rfc3339(start).unwrap(),
        end: None,
        severity: "warning".into(),
        late: false,
        reasoning: "planted".into(),
        reasoning_zh: "预置".into(),
        episode: serde_json::json!({}),
        escalate_at: None,
    };
    store.cases().record_case(&case, &[], case.start).await.unwrap();
}

fn yearly_days(url: &str, dir: &std::path::Path) -> serde_json::Value {
    let out = tianshu_e2e::run(
        &[
            "report", "yearly", "--store", url, "--year", "2025", "--format", "json",
        ],
        Some(dir),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["days"].clone()
}

async fn scenario(scratch: Scratch) {
    let url = scratch.url();
    let dir = ScratchDir::new("daily-summaries");
    let dir = dir.path().to_path_buf();
    let file = dir.join("registry.csv");
    std::fs::write(&file, REGISTRY_CSV).unwrap();
    let out = tianshu_e2e::run(
        &["registry", "import", "--store", &url, file.to_str().unwrap()],
        Some(&dir),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    {
        let store = Store::open(&url).await.unwrap();
        let a = store.vehicle_by_plate("鄂B10001").await.unwrap().unwrap();
        let b = store.vehicle_by_plate("鄂B10002").await.unwrap().unwrap();
        // 10 March: both cars drive (a twice); 11 March: only a; 12 March: nobody.
        let mut points = trip(&a, 13_800_138_001, "2025-03-10T09:00:00+08:00");
        points.extend(trip(&a, 13_800_138_001, "2025-03-10T14:00:00+08:00"));
        points.extend(trip(&a, 13_800_138_001, "2025-03-11T09:00:00+08:00"));
        points.extend(trip(&b, 13_800_138_002, "2025-03-10T23:00:00+08:00"));
        store.append_points(&points).await.unwrap();
        store.flush().await.unwrap();
        open_case(&store, &a, "off_hours", "2025-03-10T14:10:00+08:00").await;
        open_case(&store, &b, "off_hours", "2025-03-10T23:10:00+08:00").await;
        open_case(&store, &a, "overspeed", "2025-03-11T09:10:00+08:00").await;
        store.close().await.unwrap();
    }
    let summarise = |args: &[&str]| {
        let mut all = vec!["report", "summarise", "--store", &url];
        all.extend_from_slice(args);
        tianshu_e2e::run(&all, Some(&dir), &[])
    };
    let bad = summarise(&["--from", "2025-03-32"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--from: \"2025-03-32\" is not a date YYYY-MM-DD"),
        "{}",
        text(&bad.stderr)
    );
    let future = summarise(&["--from", "2025-03-10", "--to", "2099-01-01"]);
    assert!(
        text(&future.stderr).contains("--to: a day not over yet is not summarised"),
        "{}",
        text(&future.stderr)
    );
    assert_eq!(
        yearly_days(&url, &dir)["days"],
        0,
        "a refused command summarises nothing"
    );

    let out = summarise(&["--from", "2025-03-10", "--to", "2025-03-11"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "2025-03-10\t2 cars\n2025-03-11\t2 cars\n");
    {
        // The server's pass summarises only the days not summarised yet.
        let store = Store::open(&url).await.unwrap();
        let (first, last) = (20_157, 20_159); // 2025-03-10 ..= 2025-03-12
        assert_eq!(
            store.summaries().summarise_missing(first, last).await.unwrap(),
            [last]
        );
        assert_eq!(
            store.summaries().summarise_missing(first, last).await.unwrap(),
            Vec::<i64>::new()
        );
        store.close().await.unwrap();
    }
    let step = LonLat::from_e6(115_000_000, 30_200_000).distance_m(LonLat::from_e6(115_001_000, 30_200_000));
    let planted_km = 4.0 * STEPS * step / 1000.0;
    let check = |days: &serde_json::Value| {
        assert_eq!(days["days"], 3, "{days}");
        assert_eq!(days["trips"], 4, "{days}");
        // 10 March 2 of 2 cars online, 11 March 1 of 2, 12 March none: (100 + 50 + 0) / 3.
        assert_eq!(days["online_share"], 50.0, "{days}");
        let km = days["km"].as_f64().unwrap();
        assert!((km - planted_km).abs() < 0.1, "{km} km, planted {planted_km}");
        assert_eq!(
            days["cases"],
            serde_json::json!([["off_hours", 2], ["overspeed", 1]]),
            "{days}"
        );
    };
    let first = yearly_days(&url, &dir);
    check(&first);
    let out = summarise(&["--from", "2025-03-10", "--to", "2025-03-12"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        yearly_days(&url, &dir),
        first,
        "summarising again replaces the days"
    );
}

tianshu_e2e::on_both_backends!(daily_summaries, scenario, "daily_summaries");

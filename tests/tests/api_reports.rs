//! The monthly reports over a scripted month: the per-car report and the per-unit summary agree with
//! what the rules make of the same track (trips, kilometres, hours in use, days used) and with the
//! cases recorded, only the caller's scope is counted, every car's look is audited, and the CSV and
//! XLSX downloads carry the same figures (the XLSX opened as a zip and its sheet read).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::TimeZone;
use tianshu_api::cases::CaseView;
use tianshu_e2e::Fix;
use tianshu_e2e::api::*;
use tianshu_e2e::xlsx::{sheet_cells, unzip};
use tianshu_model::{Position, Timestamp, VehicleId};

/// 2026-12 in China time: the scripted month.
const MONTH: &str = "2026-12";

/// `day` of December 2026 at `hour`:`minute` China time, in UTC seconds.
fn china(day: u32, hour: u32, minute: u32) -> i64 {
    tianshu_model::china_offset()
        .with_ymd_and_hms(2026, 12, day, hour, minute, 0)
        .single()
        .expect("a China time")
        .timestamp()
}

/// A drive of `steps` 10 s steps eastward at 40 km/h from `lon_e6` (after the terminal's first standing
/// fix, 10 s before), then a stand of ten minutes where it ended, the odometer counting from `odo_dkm`:
/// the points and where it ends.
fn drive(vehicle: VehicleId, start: i64, lon_e6: i32, steps: i32, odo_dkm: u32) -> (Vec<Position>, i32) {
    let mut first = Fix::at(start - 10)
        .vehicle(vehicle.0)
        .at_e6(30_200_000, lon_e6)
        .heading(0, 90)
        .build();
    first.mileage_dkm = Some(odo_dkm);
    let mut pts = vec![first];
    let step_e6 = 200;
    for i in 0..=steps {
        let mut p = Fix::at(start + i64::from(i) * 10)
            .vehicle(vehicle.0)
            .at_e6(30_200_000, lon_e6 + i * step_e6)
            .heading(400, 90)
            .build();
        // About 19 m a step: the odometer in 0.1 km, rounded down.
        p.mileage_dkm = Some(odo_dkm + (i as u32 * 19) / 100);
        pts.push(p);
    }
    let end = lon_e6 + steps * step_e6;
    for j in 1..=30 {
        let mut p = Fix::at(start + i64::from(steps) * 10 + j * 20)
            .vehicle(vehicle.0)
            .at_e6(30_200_000, end)
            .heading(0, 90)
            .build();
        p.mileage_dkm = Some(odo_dkm + (steps as u32 * 19) / 100);
        pts.push(p);
    }
    (pts, end)
}

/// The scripted month: the supervisor's own car drives twice on the 3rd and once on the 4th, the
/// sub-unit's car once on the 10th, the other unit's car once on the 5th; plus a drive of the own
/// car on the last evening of November (not in the month).
fn script(api: &TestApi) -> BTreeMap<&'static str, Vec<Position>> {
    let own = api.vehicles[OWN_PLATE].id;
    let sub = api.vehicles[SUB_PLATE].id;
    let foreign = api.vehicles[FOREIGN_PLATE].id;
    let mut m = BTreeMap::new();
    let (mut pts, end) = drive(own, china(3, 9, 0), 114_900_000, 60, 1000);
    let (more, end) = drive(own, china(3, 15, 0), end, 90, 1012);
    pts.extend(more);
    pts.extend(drive(own, china(4, 10, 30), end, 30, 1030).0);
    let nov = tianshu_model::china_offset()
        .with_ymd_and_hms(2026, 11, 30, 22, 0, 0)
        .single()
        .expect("time")
        .timestamp();
    pts.extend(drive(own, nov, 114_800_000, 40, 990).0);
    m.insert(OWN_PLATE, pts);
    m.insert(SUB_PLATE, drive(sub, china(10, 8, 0), 114_700_000, 120, 5000).0);
    m.insert(
        FOREIGN_PLATE,
        drive(foreign, china(5, 8, 0), 114_600_000, 45, 7000).0,
    );
    m
}

/// What the rules make of `points` in December (China time): trips, km, hours, days.
fn expected(points: &[Position]) -> (usize, f64, f64, usize) {
    let from = Timestamp::from_millis(china(1, 0, 0) * 1000);
    let mut pts: Vec<Position> = points.iter().filter(|p| p.fix_time >= from).cloned().collect();
    pts.sort_by_key(|p| p.fix_time);
    let (trips, _) = tianshu_rules::track::trips_and_stops(&pts);
    let km = trips.iter().map(|t| t.distance_m).sum::<f64>() / 1000.0;
    let hours = trips
        .iter()
        .map(|t| (t.to.millis() - t.from.millis()) as f64)
        .sum::<f64>()
        / 3.6e6;
    let days: BTreeSet<_> = trips.iter().map(|t| t.from.to_china().date_naive()).collect();
    (trips.len(), km, hours, days.len())
}

fn case(api: &TestApi, id: &str, plate: &str, rule: &str, state: &str, start: i64) -> CaseView {
    let mut detail = serde_json::Map::new();
    detail.insert("rule".into(), rule.into());
    detail.insert(
        "start".into(),
        Timestamp::from_millis(start * 1000).to_rfc3339().into(),
    );
    CaseView {
        id: id.into(),
        vehicle: api.vehicles[plate].id,
        state: state.into(),
        detail,
    }
}

async fn get(api: &TestApi, path: &str, cookie: &str) -> Resp {
    http(api.addr, "GET", path, Some(cookie), None).await
}

#[track_caller]
fn close(actual: &serde_json::Value, expected: f64, tolerance: f64, what: &str) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {actual}"));
    assert!(
        (a - expected).abs() <= tolerance,
        "{what}: {a}, expected {expected}"
    );
}

/// Serves the seeded API with the scripted month and its cases; the scripted tracks.
async fn scripted(name: &str) -> (TestApi, BTreeMap<&'static str, Vec<Position>>) {
    let book = Arc::new(MemoryCases::default());
    let api = TestApi::start(Scratch::embedded(name), book.clone()).await;
    let cases = vec![
        case(&api, "c1", OWN_PLATE, "out_of_hours", "open", china(3, 20, 0)),
        case(&api, "c2", OWN_PLATE, "out_of_hours", "closed", china(4, 21, 0)),
        case(&api, "c3", OWN_PLATE, "overspeed", "explained", china(3, 9, 5)),
        // November: not in the month.
        case(&api, "c4", OWN_PLATE, "out_of_hours", "open", china(1, 0, 0) - 60),
        case(&api, "c5", SUB_PLATE, "no_order", "escalated", china(10, 8, 5)),
        case(&api, "c6", FOREIGN_PLATE, "out_of_hours", "open", china(5, 8, 1)),
    ];
    book.0.lock().expect("cases").extend(cases);
    let script = script(&api);
    for pts in script.values() {
        api.store.append_points(pts).await.expect("the scripted month");
    }
    (api, script)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_units_month_sums_its_cars_as_the_rules_see_their_tracks() {
    let (api, script) = scripted("api-unit-report").await;
    let supervisor = api.login("supervisor").await;
    let unit = api.units[SUPERVISOR_UNIT].0;
    let r = get(
        &api,
        &format!("/api/units/{unit}/report?month={MONTH}"),
        &supervisor,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["unit"]["id"], unit);
    assert_eq!(j["from"], "2026-11-30T16:00:00Z");
    // The unit and its sub-unit; the other unit's car is not counted.
    let plates: Vec<&str> = j["cars"]
        .as_array()
        .expect("cars")
        .iter()
        .map(|c| c["vehicle"]["plate"].as_str().expect("plate"))
        .collect();
    assert_eq!(plates, [OWN_PLATE, SUB_PLATE]);
    assert_eq!(j["vehicles"], 2);
    let (mut trips, mut km, mut hours, mut days) = (0, 0.0, 0.0, 0);
    for (i, plate) in [OWN_PLATE, SUB_PLATE].into_iter().enumerate() {
        let car = &j["cars"][i];
        let (t, k, h, d) = expected(&script[plate]);
        assert_eq!(car["trips"], t, "{plate} trips");
        close(&car["distance_km"], k, 0.0501, &format!("{plate} km"));
        close(&car["hours_in_use"], h, 0.00501, &format!("{plate} hours"));
        assert_eq!(car["days_used"], d, "{plate} days");
        (trips, km, hours, days) = (trips + t, km + k, hours + h, days + d);
    }
    // The script says so too: three drives of the own car on two days, one of the sub-unit's.
    assert_eq!(j["cars"][0]["trips"], 3);
    assert_eq!(j["cars"][0]["days_used"], 2);
    assert_eq!(j["cars"][1]["trips"], 1);
    // 120 steps of about 19.2 m.
    close(
        &j["cars"][1]["distance_km"],
        120.0 * 19.2 / 1000.0,
        0.1,
        "sub km by the script",
    );
    let totals = &j["totals"];
    assert_eq!(totals["trips"], trips);
    close(&totals["distance_km"], km, 0.1, "total km");
    close(&totals["hours_in_use"], hours, 0.01, "total hours");
    assert_eq!(totals["days_used"], days);
    let dates: Vec<&str> = totals["per_day"]
        .as_array()
        .expect("per_day")
        .iter()
        .map(|d| d["date"].as_str().expect("date"))
        .collect();
    assert_eq!(dates, ["2026-12-03", "2026-12-04", "2026-12-10"]);
    // The odometer: 0.1 km units, a drive of n steps reads n*19/100 more at its end.
    close(
        &j["cars"][0]["odometer_km"],
        f64::from(1030 + 30 * 19 / 100 - 1000) / 10.0,
        1e-9,
        "own odometer",
    );
    // Cases that started in the month, by rule and by state; November's and the other unit's not.
    assert_eq!(
        totals["violations"],
        serde_json::json!({"out_of_hours": 2, "overspeed": 1, "no_order": 1})
    );
    assert_eq!(
        totals["cases_by_state"],
        serde_json::json!({"open": 1, "closed": 1, "explained": 1, "escalated": 1})
    );
    assert_eq!(j["rule_titles"]["out_of_hours"]["zh"], "非工作时间用车");
    // Each car's look is audited: two cars.
    let log = api.store.access().audit(0, 100).await.expect("audit");
    let looks: Vec<_> = log.iter().filter(|r| r.entry.action == "report").collect();
    assert_eq!(looks.len(), 2);
    assert!(looks.iter().all(|r| r.entry.actor == "supervisor"));

    // The other unit, and the unit above the supervisor's, are out of the supervisor's scope.
    for other in ["黄石市/公安局", "黄石市"] {
        let r = get(
            &api,
            &format!("/api/units/{}/report?month={MONTH}", api.units[other].0),
            &supervisor,
        )
        .await;
        assert_eq!(r.status, 403, "{other}: {}", r.body);
    }
    // An inspector sees every unit: the root counts all three cars.
    let inspector = api.login("inspector").await;
    let root = api.units["黄石市"].0;
    let r = get(
        &api,
        &format!("/api/units/{root}/report?month={MONTH}"),
        &inspector,
    )
    .await;
    assert_eq!(r.json()["vehicles"], 3);
    let all: usize = script.values().map(|p| expected(p).0).sum();
    assert_eq!(r.json()["totals"]["trips"], all);
    // A bad month or format is refused.
    for q in ["month=2026-13", "month=12-2026", "month=2026-12&format=pdf"] {
        let r = get(&api, &format!("/api/units/{root}/report?{q}"), &inspector).await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cars_month_counts_cases_by_state() {
    let (api, script) = scripted("api-car-report").await;
    let inspector = api.login("inspector").await;
    let vid = api.vid(OWN_PLATE);
    let j = get(
        &api,
        &format!("/api/vehicles/{vid}/report?month={MONTH}"),
        &inspector,
    )
    .await
    .json();
    let (t, k, h, d) = expected(&script[OWN_PLATE]);
    assert_eq!(j["trips"], t);
    close(&j["distance_km"], k, 0.0501, "km");
    close(&j["hours_in_use"], h, 0.00501, "hours");
    assert_eq!(j["days_used"], d);
    assert_eq!(
        j["violations"],
        serde_json::json!({"out_of_hours": 2, "overspeed": 1})
    );
    assert_eq!(
        j["cases_by_state"],
        serde_json::json!({"open": 1, "closed": 1, "explained": 1})
    );
    assert_eq!(j["rule_titles"]["overspeed"]["en"], "Overspeed");
    // Day by day: two drives on the 3rd, one on the 4th, adding up to the month.
    let days = j["per_day"].as_array().expect("per_day");
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().expect("date")).collect();
    assert_eq!(dates, ["2026-12-03", "2026-12-04"]);
    assert_eq!(days[0]["trips"], 2);
    assert_eq!(days[1]["trips"], 1);
    let km: f64 = days.iter().map(|d| d["distance_km"].as_f64().expect("km")).sum();
    close(&j["distance_km"], km, 0.1001, "the days add up to the month");
}

/// Splits a CSV line (no quoted commas in these reports' fields).
fn cells(line: &str) -> Vec<&str> {
    line.split(',').collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_downloads_carry_the_reports_figures() {
    let (api, _) = scripted("api-report-files").await;
    let inspector = api.login("inspector").await;
    let unit = api.units[SUPERVISOR_UNIT].0;
    let json = get(
        &api,
        &format!("/api/units/{unit}/report?month={MONTH}"),
        &inspector,
    )
    .await
    .json();

    // CSV, English titles.
    let r = get(
        &api,
        &format!("/api/units/{unit}/report?month={MONTH}&format=csv&lang=en"),
        &inspector,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        r.header("content-disposition")
            .is_some_and(|d| d.contains(".csv"))
    );
    let text = r.body.strip_prefix('\u{feff}').expect("a byte-order mark");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let header = cells(lines[0]);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}: {header:?}"))
    };
    assert_eq!(lines.len(), 4, "a header, two cars and the total: {lines:?}");
    let own = cells(lines[1]);
    assert_eq!(own[col("Plate")], OWN_PLATE);
    assert_eq!(own[col("Month")], MONTH);
    assert_eq!(own[col("Trips")], json["cars"][0]["trips"].to_string());
    assert_eq!(
        own[col("Distance (km)")],
        json["cars"][0]["distance_km"].to_string()
    );
    assert_eq!(
        own[col("Hours in use")],
        json["cars"][0]["hours_in_use"].to_string()
    );
    assert_eq!(own[col("Overspeed")], "1");
    assert_eq!(own[col("Cases Closed")], "1");
    let total = cells(lines[3]);
    assert_eq!(total[0], "Total");
    assert_eq!(total[col("Trips")], json["totals"]["trips"].to_string());
    assert_eq!(total[col("Use outside working hours")], "2");

    // XLSX, Chinese titles: the zip opened, the sheet read.
    let vid = api.vid(OWN_PLATE);
    let car = get(
        &api,
        &format!("/api/vehicles/{vid}/report?month={MONTH}"),
        &inspector,
    )
    .await
    .json();
    let r = get(
        &api,
        &format!("/api/vehicles/{vid}/report?month={MONTH}&format=xlsx"),
        &inspector,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let files = unzip(&r.bytes);
    for part in [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
    ] {
        assert!(files.contains_key(part), "{part} missing: {:?}", files.keys());
    }
    let sheet = sheet_cells(&files["xl/worksheets/sheet1.xml"]);
    let header_of = |text: &str| {
        sheet
            .iter()
            .find(|(k, v)| {
                k.trim_start_matches(|c: char| c.is_ascii_uppercase()) == "1" && v.as_str() == text
            })
            .map(|(k, _)| k.trim_end_matches('1').to_string())
            .unwrap_or_else(|| panic!("no header {text}: {sheet:?}"))
    };
    assert_eq!(sheet["A1"], "车牌");
    assert_eq!(sheet["A2"], OWN_PLATE);
    assert_eq!(
        sheet[&format!("{}2", header_of("行程数"))],
        car["trips"].to_string()
    );
    assert_eq!(
        sheet[&format!("{}2", header_of("里程（公里）"))],
        car["distance_km"].to_string()
    );
    assert_eq!(
        sheet[&format!("{}2", header_of("使用天数"))],
        car["days_used"].to_string()
    );
    assert_eq!(sheet[&format!("{}2", header_of("非工作时间用车"))], "2");
    assert!(!sheet.contains_key("A3"), "one car, no total line");
}

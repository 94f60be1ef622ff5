//! The fuel-card figures, measured on PostgreSQL: a 100,000-row statement of 700 cars' cards read
//! (parsed and checked row by row) and stored in one transaction, then every transaction checked
//! against the cars' tracks (every fill of [`TRACKED`] cars with the car's fixes every 10 s for the ±20
//! minutes around it; the others untracked). The fills are in working hours on weekdays: what is found
//! is the holidays' fills and the tracked cars' litres against the little track they have. They are printed, not asserted, and run by hand (a
//! measurement, not a test):
//! `cargo test -p tianshu-e2e --test fuel_figures -- --ignored --nocapture`

use std::fmt::Write as _;

use chrono::Datelike as _;
use std::time::Instant;

use tianshu_e2e::{Scratch, registry_record};
use tianshu_model::fuel::{parse_cards_csv, parse_stations_csv, read_statement_csv};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_rules::fuel::FuelConfig;
use tianshu_store::Store;

const CARS: usize = 700;
const ROWS: usize = 100_000;
/// Cars with a track: every fill of theirs has the car's fixes for the ±20 minutes around it.
const TRACKED: usize = 70;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn a_year_of_statements_imports_and_checks() {
    let scratch = Scratch::postgres("fuel_figures").await;
    let store = Store::open(&scratch.url()).await.expect("the store");
    let records: Vec<_> = (0..CARS)
        .map(|i| {
            registry_record(
                &format!("黄石市/单位{}", i % 36),
                &format!("鄂B{:05}", i),
                13_700_000_000 + i as u128,
                &format!("F{i}"),
            )
        })
        .collect();
    store.import_registry(&records).await.expect("the registry");
    let mut cards = String::from(
        "unit,number,issuer,plate,state,state_date,state_reason,limit_fill_yuan,limit_month_yuan\n",
    );
    for i in 0..CARS {
        writeln!(
            cards,
            "黄石市/单位{},{},sinopec,鄂B{:05},,,,800,5000",
            i % 36,
            1_000_000_000_000_000u64 + i as u64,
            i
        )
        .unwrap();
    }
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    store
        .fuel()
        .import_cards(&parse_cards_csv(&cards).unwrap(), now)
        .await
        .unwrap();
    let mut stations = String::from("code,name,brand,lon,lat,datum\n");
    for s in 0..20 {
        writeln!(
            stations,
            "HS{s:03},站{s},中国石化,{},30.2,wgs84",
            115.0 + s as f64 * 0.01
        )
        .unwrap();
    }
    store
        .fuel()
        .import_stations(&parse_stations_csv(&stations).unwrap(), now)
        .await
        .unwrap();

    // A year of fills: each car about every 2.6 days, at one of the stations, in working hours on a
    // weekday (a Saturday's moved to the Monday after).
    let year = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let fills_per_car = (ROWS / CARS) as u64;
    let mut text = String::from("card,time,station,product,litres,unit_price,amount\n");
    let mut fills = Vec::new();
    for k in 0..ROWS {
        let car = k % CARS;
        let mut day = year + chrono::Days::new((k / CARS) as u64 * 365 / fills_per_car);
        while matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
            day = day + chrono::Days::new(1);
        }
        // Two fills of a car on one day (a Saturday's moved to the Monday's) differ in their minute.
        let minutes = 8 * 60 + ((car + (k / CARS) * 37) % 600) as u32;
        let local = day.and_hms_opt(minutes / 60, minutes % 60, 0).unwrap();
        let t = Timestamp(local.and_utc().timestamp_millis() - 8 * 3_600_000);
        let station = (car + k / CARS) % 20;
        writeln!(
            text,
            "{},{},HS{station:03},92#,40.00,7.50,300.00",
            1_000_000_000_000_000u64 + car as u64,
            t.to_rfc3339()
        )
        .unwrap();
        fills.push((car, t, station));
    }
    let started = Instant::now();
    let parsed = read_statement_csv(&text, None).unwrap();
    let parse = started.elapsed();
    assert_eq!(parsed.rows.len(), ROWS);
    let started = Instant::now();
    let done = store
        .fuel()
        .import_statement(&parsed.rows, "figures", now)
        .await
        .unwrap();
    let stored = started.elapsed();
    assert_eq!(done.stored.len(), ROWS);
    let started = Instant::now();
    let again = store
        .fuel()
        .import_statement(&parsed.rows, "figures", now)
        .await
        .unwrap();
    let reimport = started.elapsed();
    assert_eq!(again.duplicates, ROWS as u64);

    // Tracks: every fill of the tracked cars with the car at the station, a fix every 10 s for the 40
    // minutes around it.
    let vehicles = store.vehicles().await.unwrap();
    let id_of = |car: usize| -> VehicleId {
        vehicles
            .iter()
            .find(|v| v.plate == format!("鄂B{car:05}"))
            .unwrap()
            .id
    };
    let mut points = Vec::new();
    for (car, t, station) in fills.iter().filter(|f| f.0 < TRACKED) {
        for j in -120..=120 {
            points.push(Position {
                vehicle: id_of(*car),
                ..tianshu_e2e::Fix::at_time(t.add_millis(j * 10_000))
                    .at_e6(30_200_000, 115_000_000 + *station as i32 * 10_000)
                    .build()
            });
        }
    }
    let seeded = points.len();
    let started = Instant::now();
    for chunk in points.chunks(10_000) {
        store.append_points(chunk).await.unwrap();
    }
    store.flush().await.unwrap();
    let seeding = started.elapsed();
    let cfg = FuelConfig::default();
    let reconciler = tianshu_api::fuel::Reconciler::load(&store, &cfg).await.unwrap();
    let started = Instant::now();
    let checked = reconciler.check_many(&done.stored, now).await.unwrap();
    let checking = started.elapsed();
    let findings: usize = checked.iter().map(|c| c.findings).sum();
    let cases = checked.iter().filter(|c| c.case_id.is_some()).count();
    let started = Instant::now();
    let again = reconciler.check_many(&done.stored, now).await.unwrap();
    let rechecking = started.elapsed();
    assert_eq!(again.iter().filter(|c| c.opened).count(), 0);
    println!(
        "fuel figures (PostgreSQL): {ROWS} rows parsed in {:.2} s, stored in {:.2} s, re-imported (all duplicates) in {:.2} s; \
         {seeded} fixes of {TRACKED} cars stored in {:.2} s; all {} transactions checked in {:.2} s ({findings} findings, \
         {cases} cases), checked again (every case updated) in {:.2} s",
        parse.as_secs_f64(),
        stored.as_secs_f64(),
        reimport.as_secs_f64(),
        seeding.as_secs_f64(),
        checked.len(),
        checking.as_secs_f64(),
        rechecking.as_secs_f64()
    );
}

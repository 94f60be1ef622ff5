//! The fuel-card figures, measured on PostgreSQL (measurements, not tests: they print, and run by hand).
//!
//! `a_year_of_statements_imports_and_checks`: a 100,000-row statement of 700 cars' cards read (parsed and
//! checked row by row) and stored in one transaction, then every transaction checked against the cars'
//! tracks (every fill of [`TRACKED`] cars with the car's fixes every 10 s for the ±20 minutes around it;
//! the others untracked). The fills are in working hours on weekdays: what is found is the holidays'
//! fills and the tracked cars' litres against the little track they have.
//! `cargo test -p tianshu-e2e --test fuel_figures -- --ignored --nocapture`
//!
//! `a_year_of_statements_against_a_year_of_tracks`: the same statement checked against a whole year of
//! every car's track, a fix every 10 s for two hours of every day (about 184 million fixes), packed into
//! a block per car and day as a serving store keeps its past days. With `FUEL_YEAR_DB=name` the database
//! is kept and reused by the next run.
//! `FUEL_YEAR_DB=fuel_year cargo test --release -p tianshu-e2e --test fuel_figures year_of_tracks -- --ignored --nocapture`
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;

use chrono::Datelike as _;
use std::time::Instant;

use tianshu_e2e::{Scratch, registry_record};
use tianshu_model::block::china_day;
use tianshu_model::fuel::{parse_cards_csv, parse_stations_csv, read_statement_csv};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_rules::fuel::FuelConfig;
use tianshu_store::Store;

const CARS: usize = 700;
const ROWS: usize = 100_000;
/// Cars with a track: every fill of theirs has the car's fixes for the ±20 minutes around it.
const TRACKED: usize = 70;
/// The stations, 0.01° of longitude apart on latitude 30.2°.
const STATIONS: usize = 20;

/// One fill of the statement.
#[derive(Clone, Copy)]
struct Fill {
    car: usize,
    time: Timestamp,
    station: usize,
}

/// Station `s`'s position (lat_e6, lon_e6).
fn station_e6(s: usize) -> (i32, i32) {
    (30_200_000, 115_000_000 + s as i32 * 10_000)
}

/// Registers the cars, their cards and the stations.
async fn register(store: &Store, now: Timestamp) {
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
    store
        .fuel()
        .import_cards(&parse_cards_csv(&cards).unwrap(), now)
        .await
        .unwrap();
    let mut stations = String::from("code,name,brand,lon,lat,datum\n");
    for s in 0..STATIONS {
        let (lat, lon) = station_e6(s);
        writeln!(
            stations,
            "HS{s:03},站{s},中国石化,{},{},wgs84",
            f64::from(lon) / 1e6,
            f64::from(lat) / 1e6
        )
        .unwrap();
    }
    store
        .fuel()
        .import_stations(&parse_stations_csv(&stations).unwrap(), now)
        .await
        .unwrap();
}

/// A year of fills: each car about every 2.6 days, at one of the stations, in working hours on a
/// weekday (a Saturday's moved to the Monday after). The statement's CSV and its fills.
fn statement() -> (String, Vec<Fill>) {
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
        let time = Timestamp(local.and_utc().timestamp_millis() - 8 * 3_600_000);
        let station = (car + k / CARS) % STATIONS;
        writeln!(
            text,
            "{},{},HS{station:03},92#,40.00,7.50,300.00",
            1_000_000_000_000_000u64 + car as u64,
            time.to_rfc3339()
        )
        .unwrap();
        fills.push(Fill { car, time, station });
    }
    (text, fills)
}

/// The ids of the cars, by their index.
async fn car_ids(store: &Store) -> Vec<VehicleId> {
    let vehicles = store.vehicles().await.unwrap();
    (0..CARS)
        .map(|car| {
            vehicles
                .iter()
                .find(|v| v.plate == format!("鄂B{car:05}"))
                .unwrap()
                .id
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn a_year_of_statements_imports_and_checks() {
    let scratch = Scratch::postgres("fuel_figures").await;
    let store = Store::open(&scratch.url()).await.expect("the store");
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    register(&store, now).await;
    let (text, fills) = statement();
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
    let ids = car_ids(&store).await;
    let mut points = Vec::new();
    for f in fills.iter().filter(|f| f.car < TRACKED) {
        let (lat, lon) = station_e6(f.station);
        for j in -120..=120 {
            points.push(Position {
                vehicle: ids[f.car],
                ..tianshu_e2e::Fix::at_time(f.time.add_millis(j * 10_000))
                    .at_e6(lat, lon)
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

/// Fixes a car drives in a day: every 10 s for an hour either side of its centre.
const HALF_DRIVE: i64 = 360;
/// Metres a fix apart at 75 km/h.
const STEP_M: f64 = 208.3;

/// A car's day: two hours at about 75 km/h centred on `centre`, when it stands three minutes at
/// `station`, coming from the north and leaving to the east. With the noise of a real receiver (a few
/// metres of position, the speed, the altitude, the delay before the platform received it), so that
/// the blocks are as large as a real fleet's (about 6 bytes a fix, against 1 without it).
fn day_track(vehicle: VehicleId, centre: Timestamp, station: usize) -> impl Iterator<Item = Position> {
    let (lat, lon) = station_e6(station);
    (-HALF_DRIVE..=HALF_DRIVE).map(move |k| {
        let t = centre.add_millis(k * 10_000);
        let noise = tianshu_model::fnv1a64(&[vehicle.0.to_be_bytes(), t.0.to_be_bytes()].concat());
        let jitter = |shift: u32, range: u64| ((noise >> shift) % range) as i32;
        let moved = (k.abs() - 18).max(0) as f64 * STEP_M;
        let (dlat, dlon) = if k < 0 {
            (moved / 111_320.0, 0.0)
        } else {
            (0.0, moved / 96_190.0)
        };
        let speed = if moved > 0.0 {
            700 + jitter(16, 100) as u16
        } else {
            0
        };
        let mut p = tianshu_e2e::Fix::at_time(t)
            .at_e6(
                lat + (dlat * 1e6) as i32 + jitter(0, 61) - 30,
                lon + (dlon * 1e6) as i32 + jitter(8, 61) - 30,
            )
            .heading(speed, if k < 0 { 180 } else { 90 })
            .altitude(20 + jitter(24, 10))
            .build();
        p.vehicle = vehicle;
        p.recv_time = t.add_millis(500 + i64::from(jitter(32, 2500)));
        p
    })
}

/// Every car's year: a [`day_track`] a day, centred on the day's first fill at its station, else on
/// 09:00 at the car's usual station; each car-day packed into its block (`encode_block`, as compaction
/// packs a day) and written into `point_blocks` directly. Through the writer and then compaction, as a
/// serving store gets there, it took about 20 s a day of the 700 cars here (two hours for the year).
async fn seed_year(url: &str, ids: &[VehicleId], fills: &[Fill]) -> u64 {
    let first = Timestamp(
        chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(1, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis(),
    );
    let mut by_day: std::collections::HashMap<(usize, i64), Fill> = std::collections::HashMap::new();
    for f in fills {
        by_day.entry((f.car, china_day(f.time))).or_insert(*f);
    }
    let mut client = client(url).await;
    let mut written = 0u64;
    for d in 0..365 {
        let nine = first.add_millis(d * 86_400_000);
        let day = china_day(nine);
        let tx = client.transaction().await.unwrap();
        let insert = tx
            .prepare(
                "INSERT INTO point_blocks (vehicle, day, points, data, received_last) VALUES ($1, $2, $3, $4, $5)",
            )
            .await
            .unwrap();
        for (car, id) in ids.iter().enumerate() {
            let (centre, station) = by_day
                .get(&(car, day))
                .map_or((nine, car % STATIONS), |f| (f.time, f.station));
            let points: Vec<Position> = day_track(*id, centre, station).collect();
            let received_last = points.iter().map(|p| p.recv_time.0).max().unwrap_or(0);
            let data = tianshu_model::block::encode_block(&points);
            tx.execute(
                &insert,
                &[
                    &id.0,
                    &(day as i32),
                    &(points.len() as i32),
                    &data,
                    &received_last,
                ],
            )
            .await
            .unwrap();
            written += points.len() as u64;
        }
        tx.commit().await.unwrap();
    }
    written
}

/// A client of the database at `url`.
async fn client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// What the database holds: (blocks, transactions).
async fn seeded(url: &str) -> (i64, i64) {
    let client = client(url).await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.map_or(0, |r| r.get::<_, i64>(0)) }
    };
    (
        count("SELECT count(*) FROM point_blocks").await,
        count("SELECT count(*) FROM fuel_transactions").await,
    )
}

/// The findings by check, as `check: n` lines.
async fn findings_by_check(url: &str) -> String {
    let client = client(url).await;
    let rows = client
        .query(
            "SELECT check_id, count(*) FROM fuel_findings GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| format!("{}: {}", r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn a_year_of_statements_against_a_year_of_tracks() {
    // A kept database (created when missing, never dropped), or a scratch one dropped at the end.
    let (url, _scratch) = match std::env::var("FUEL_YEAR_DB") {
        Ok(db) => {
            let admin = tianshu_testkit::admin_client().await;
            let _ = admin.batch_execute(&format!("CREATE DATABASE {db}")).await;
            (format!("postgres://postgres@127.0.0.1:5432/{db}"), None)
        }
        Err(_) => {
            let scratch = Scratch::postgres("fuel_year").await;
            (scratch.url(), Some(scratch))
        }
    };
    let store = Store::open(&url).await.expect("the store");
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let (text, fills) = statement();
    let (blocks, transactions) = seeded(&url).await;
    let fresh = (blocks, transactions) != ((CARS * 365) as i64, ROWS as i64);
    if fresh {
        assert_eq!(
            (blocks, transactions),
            (0, 0),
            "{url} holds a partial seeding: drop it and run again"
        );
        register(&store, now).await;
    }
    let parsed = read_statement_csv(&text, None).unwrap();
    let done = store
        .fuel()
        .import_statement(&parsed.rows, "figures", now)
        .await
        .unwrap();
    if fresh {
        assert_eq!(done.stored.len(), ROWS);
        let started = Instant::now();
        let written = seed_year(&url, &car_ids(&store).await, &fills).await;
        println!(
            "seeded {written} fixes of {CARS} cars in {:.1} s (each car-day packed into a block)",
            started.elapsed().as_secs_f64()
        );
    } else {
        assert_eq!(done.duplicates, ROWS as u64, "a kept database's statement");
    }
    // Each run rewrites every case and finding; a kept database is vacuumed first, so that a run does
    // not pay for the dead rows of the runs before it (autovacuum may be off on a test server).
    client(&url).await.batch_execute("VACUUM ANALYZE").await.unwrap();
    let all = transaction_ids(&url).await;
    assert_eq!(all.len(), ROWS);
    let cfg = FuelConfig::default();
    let reconciler = tianshu_api::fuel::Reconciler::load(&store, &cfg).await.unwrap();
    for round in ["checked", "checked again"] {
        let started = Instant::now();
        let checked = reconciler.check_many(&all, now).await.unwrap();
        let took = started.elapsed();
        let findings: usize = checked.iter().map(|c| c.findings).sum();
        let cases = checked.iter().filter(|c| c.case_id.is_some()).count();
        println!(
            "fuel check against a year of tracks (PostgreSQL): all {} transactions {round} in {:.2} s \
             ({findings} findings, {cases} cases; by check: {})",
            checked.len(),
            took.as_secs_f64(),
            findings_by_check(&url).await
        );
    }
}

/// The ids of every transaction stored.
async fn transaction_ids(url: &str) -> Vec<i64> {
    let client = client(url).await;
    client
        .query("SELECT id FROM fuel_transactions ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

//! Track points as every backend must keep them across a reopen and through the fan-out, the upgrade of
//! points stored before the packed record (migration 0004) on each backend, and what only one backend
//! has: the embedded store's recent and compacted tables, PostgreSQL's latest positions written behind.

use futures::TryStreamExt;
use tianshu_model::record::{encode_rec, source_to_i16};
use tianshu_model::{Phone, Position, Timestamp, VehicleId};
use tianshu_store::migrate::{Migration, POSTGRES, SQLITE};
use tianshu_store::{Error, Store, StoreConfig};
use tianshu_testkit::{Scratch, registry_record};

/// The base instant of these tracks: 2026-11-01T00:00:00Z.
const BASE_SECS: i64 = 1_793_491_200;

/// A point with every field at an extreme.
fn full(vehicle: i64, secs: i64) -> Position {
    tianshu_testkit::extreme_point(vehicle, secs)
}

/// A point with only the required fields.
pub fn sparse(vehicle: i64, secs: i64) -> Position {
    Position {
        vehicle: VehicleId(vehicle),
        phone: Phone(13_800_138_000),
        fix_time: Timestamp::from_secs(BASE_SECS + secs),
        recv_time: Timestamp::from_secs(BASE_SECS + secs),
        lat_e6: 30_200_000,
        lon_e6: 115_040_000,
        ..Default::default()
    }
}

pub async fn all_of(store: &Store, vehicle: i64) -> Vec<Position> {
    store
        .track(VehicleId(vehicle), Timestamp(0), Timestamp(i64::MAX))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// The migrations of the backend at `url`.
fn migrations_of(url: &str) -> &'static [Migration] {
    if url.starts_with("postgres") {
        POSTGRES
    } else {
        SQLITE
    }
}

#[test]
fn migrations_are_discovered_in_order() {
    for list in [SQLITE, POSTGRES] {
        assert!(list.len() >= 2, "the points and registry migrations are embedded");
        assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(list[0].version, 1);
        assert!(list.iter().all(|m| !m.sql.trim().is_empty()));
    }
}

/// A registered vehicle (PostgreSQL keeps latest positions of registered vehicles only).
pub async fn registered(store: &Store) -> i64 {
    let record = registry_record("测试单位", "鄂B00001", 13_800_138_000, "T00001");
    store.import_registry(&[record]).await.unwrap();
    store.vehicles().await.unwrap()[0].id.0
}

pub async fn appends_are_idempotent_and_survive_reopen(store: Store, url: String) {
    let v = registered(&store).await;
    let mut sub = store.subscribe();
    let batch: Vec<Position> = (0..100).map(|i| sparse(v, 100 - i)).collect();
    let s = store.append_points(&batch).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (100, 0));
    let s = store.append_points(&batch[..10]).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (0, 10));
    assert_eq!(sub.recv().await.unwrap().points.len(), 100);
    drop(store);

    let store = Store::open(&url).await.unwrap();
    let track: Vec<Position> = store
        .track(
            VehicleId(v),
            Timestamp::from_secs(BASE_SECS + 1),
            Timestamp::from_secs(BASE_SECS + 100),
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(track.len(), 99);
    assert!(track.windows(2).all(|w| w[0].fix_time < w[1].fix_time));
    assert_eq!(store.latest_positions().await.unwrap(), [sparse(v, 100)]);
    let all: Vec<u32> = migrations_of(&url).iter().map(|m| m.version).collect();
    assert_eq!(store.applied_migrations().await.unwrap(), all);
}

/// A point in the last millisecond of a month and one in the first of the next (PostgreSQL stores them
/// in two monthly partitions, created when first needed), in a month long past.
pub async fn points_on_both_sides_of_a_month_boundary_are_stored(store: Store) {
    let february = 1_738_368_000_000; // 2025-02-01T00:00:00Z
    let at = |ms: i64| Position {
        fix_time: Timestamp(ms),
        recv_time: Timestamp(ms),
        ..sparse(1, 0)
    };
    let points = [at(february - 1), at(february)];
    assert_eq!(store.append_points(&points).await.unwrap().inserted, 2);
    assert_eq!(all_of(&store, 1).await, points);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_url_s_password_stays_out_of_its_errors() {
    let refused = Store::open("postgres://tianshu:secret@127.0.0.1:1/tianshu").await;
    let Err(e) = refused else {
        panic!("nothing listens on port 1")
    };
    let message = e.to_string();
    assert!(
        message.contains("postgres://tianshu:***@127.0.0.1:1/tianshu"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
}

pub async fn a_lagging_subscriber_loses_the_oldest_batches_and_counts_them(store: Store, url: String) {
    drop(store);
    let mut config = StoreConfig::default();
    config.writer.fanout_capacity_batches = 2;
    let store = Store::open_with(&url, &config).await.unwrap();
    let mut slow = store.subscribe();
    for i in 0..5 {
        store.append_points(&[sparse(1, i)]).await.unwrap();
    }
    // Only the two newest batches are still buffered; the three before were dropped and counted.
    assert_eq!(slow.recv().await.unwrap().points, [sparse(1, 3)]);
    assert_eq!(slow.missed_batches(), 3);
    assert_eq!(slow.recv().await.unwrap().points, [sparse(1, 4)]);
    // The store is unaffected: every point was stored.
    assert_eq!(
        store.latest_position(VehicleId(1)).await.unwrap(),
        Some(sparse(1, 4))
    );
}

/// Every point and latest position of a database upgraded from the schema before 0004 reads back the
/// same; new points go in beside the converted ones, and a re-sent converted point is a duplicate.
async fn upgraded_points_read_back(store: &Store, points: &[Position], latest: &[Position]) {
    assert!(store.applied_migrations().await.unwrap().contains(&4));
    let mut back = all_of(store, 7).await;
    back.extend(all_of(store, 8).await);
    assert_eq!(back, points);
    let mut stored_latest = store.latest_positions().await.unwrap();
    stored_latest.sort_by_key(|p| p.vehicle);
    assert_eq!(stored_latest, latest);
    let s = store
        .append_points(&[points[0], sparse(7, 41 * 86_400)])
        .await
        .unwrap();
    assert_eq!((s.inserted, s.duplicates), (1, 1));
    assert_eq!(
        store.latest_position(VehicleId(7)).await.unwrap(),
        Some(sparse(7, 41 * 86_400))
    );
}

/// The packed record of `p`, as the store writes it.
fn packed(p: &Position) -> Vec<u8> {
    let mut rec = Vec::new();
    encode_rec(p, &mut rec);
    rec
}

const OLD_COLUMNS: &str = "vehicle, fix_time, block_hash, phone, recv_time, lat_e6, lon_e6, altitude_m, speed_dkmh, \
                           course_deg, alarm, status, mileage_dkm, fuel_dl, satellites, rssi, source";

/// A file at the schema before 0004 (seventeen columns) with points archived, recent and latest,
/// upgraded by opening the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_migration_0004_converts_stored_points() {
    let scratch = Scratch::embedded("packed");
    let path = match &scratch {
        Scratch::Embedded(dir) => dir.join("tianshu.db"),
        Scratch::Postgres(_) => unreachable!(),
    };
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             applied_at INTEGER NOT NULL)",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        for m in SQLITE.iter().filter(|m| m.version < 4) {
            tx.execute_batch(m.sql).unwrap();
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, 0)",
                rusqlite::params![m.version, m.name],
            )
            .unwrap();
        }
        for (table, p) in [
            ("points", full(7, 0)),
            ("points", sparse(7, 10)),
            ("points_recent", full(7, 20)),
            ("latest_positions", full(7, 20)),
        ] {
            tx.execute(
                &format!(
                    "INSERT INTO {table} ({OLD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                     ?12, ?13, ?14, ?15, ?16, ?17)"
                ),
                rusqlite::params![
                    p.vehicle.0,
                    p.fix_time.0,
                    p.block_hash(),
                    p.phone.to_string(),
                    p.recv_time.0,
                    p.lat_e6,
                    p.lon_e6,
                    p.altitude_m,
                    p.speed_dkmh,
                    p.course_deg,
                    p.alarm.0,
                    p.status.0,
                    p.mileage_dkm,
                    p.fuel_dl,
                    p.satellites,
                    p.rssi,
                    source_to_i16(p.source),
                ],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let store = scratch.open(&StoreConfig::default()).await;
    upgraded_points_read_back(&store, &[full(7, 0), sparse(7, 10), full(7, 20)], &[full(7, 20)]).await;
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rec: Vec<u8> = conn
        .query_row(
            "SELECT rec FROM points WHERE vehicle = 7 AND fix_time = ?1",
            [full(7, 0).fix_time.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rec, packed(&full(7, 0)), "the migration packs as the store does");
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

fn to_datetime(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(t.0).unwrap()
}

/// A database at the schema before 0004 with points in two months and latest positions, upgraded by
/// opening the store; the packed records are the ones the store writes, and the readable view shows
/// the columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_0004_converts_stored_points() {
    let scratch = Scratch::postgres("packed").await;
    let url = scratch.url();
    let far = 40 * 86_400;
    {
        let mut client = connect(&url).await;
        let tx = client.transaction().await.unwrap();
        tx.batch_execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, \
             applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .unwrap();
        for m in POSTGRES.iter().filter(|m| m.version < 4) {
            tx.batch_execute(m.sql).await.unwrap();
            let version = m.version as i32;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&version, &m.name],
            )
            .await
            .unwrap();
        }
        tx.batch_execute(
            "CREATE TABLE points_y2026m11 PARTITION OF points
                 FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00');
             CREATE TABLE points_y2026m12 PARTITION OF points
                 FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');",
        )
        .await
        .unwrap();
        let rows = [
            ("points", full(7, 0)),
            ("points", sparse(7, far)),
            ("points", full(8, 10)),
            ("latest_positions", sparse(7, far)),
            ("latest_positions", full(8, 10)),
        ];
        for (table, p) in rows {
            let sql = format!(
                "INSERT INTO {table} ({OLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                 $13, $14, $15, $16, $17)"
            );
            tx.execute(
                &sql,
                &[
                    &p.vehicle.0,
                    &to_datetime(p.fix_time),
                    &p.block_hash(),
                    &p.phone.to_string(),
                    &to_datetime(p.recv_time),
                    &p.lat_e6,
                    &p.lon_e6,
                    &p.altitude_m,
                    &i32::from(p.speed_dkmh),
                    &i32::from(p.course_deg),
                    &i64::from(p.alarm.0),
                    &i64::from(p.status.0),
                    &p.mileage_dkm.map(i64::from),
                    &p.fuel_dl.map(i32::from),
                    &p.satellites.map(i16::from),
                    &p.rssi.map(i16::from),
                    &source_to_i16(p.source),
                ],
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }

    let store = scratch.open(&StoreConfig::default()).await;
    let client = connect(&url).await;
    let p = full(7, 0);
    let rec: Vec<u8> = client
        .query_one(
            "SELECT rec FROM points WHERE vehicle = 7 ORDER BY fix_time LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rec, packed(&p), "the migration packs as the store does");
    let row = client
        .query_one(
            "SELECT phone, lat_e6, altitude_m, speed_dkmh, alarm, status, mileage_dkm, fuel_dl, satellites, \
             rssi, source, (extract(epoch FROM recv_time) * 1000)::bigint \
             FROM points_readable WHERE vehicle = 7 ORDER BY fix_time LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), p.phone.to_string());
    assert_eq!(row.get::<_, i32>(1), p.lat_e6);
    assert_eq!(row.get::<_, i32>(2), p.altitude_m);
    assert_eq!(row.get::<_, i32>(3), i32::from(p.speed_dkmh));
    assert_eq!(row.get::<_, i64>(4), i64::from(p.alarm.0));
    assert_eq!(row.get::<_, i64>(5), i64::from(p.status.0));
    assert_eq!(row.get::<_, Option<i64>>(6), p.mileage_dkm.map(i64::from));
    assert_eq!(row.get::<_, Option<i32>>(7), p.fuel_dl.map(i32::from));
    assert_eq!(row.get::<_, Option<i32>>(8), p.satellites.map(i32::from));
    assert_eq!(row.get::<_, Option<i32>>(9), p.rssi.map(i32::from));
    assert_eq!(row.get::<_, i32>(10), i32::from(source_to_i16(p.source)));
    assert_eq!(row.get::<_, i64>(11), p.recv_time.0);
    upgraded_points_read_back(
        &store,
        &[full(7, 0), sparse(7, far), full(8, 10)],
        &[sparse(7, far), full(8, 10)],
    )
    .await;
}

/// PostgreSQL writes latest positions behind the commits: this process reads the newest point at once,
/// the table gets it at a flush, and a point acknowledged but not yet written when the process ends is
/// in the table after the next open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_latest_positions_are_written_behind_and_repaired_at_open() {
    let scratch = Scratch::postgres("latest").await;
    let url = scratch.url();
    // An interval no step waits for: only explicit flushes and the repair at open write the table.
    let mut config = StoreConfig::default();
    config.postgres.latest_flush_ms = 3_600_000;
    let client = connect(&url).await;
    let in_table = || async {
        client
            .query("SELECT vehicle, fix_time, rec FROM latest_positions", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let fix_time: chrono::DateTime<chrono::Utc> = r.get(1);
                tianshu_model::record::decode_rec(r.get(0), fix_time.timestamp_millis(), r.get(2)).unwrap()
            })
            .collect::<Vec<_>>()
    };

    let store = scratch.open(&config).await;
    let v = VehicleId(registered(&store).await);
    store
        .append_points(&[sparse(v.0, 10), sparse(v.0, 20)])
        .await
        .unwrap();
    assert_eq!(store.latest_position(v).await.unwrap(), Some(sparse(v.0, 20)));
    assert_eq!(store.latest_positions().await.unwrap(), vec![sparse(v.0, 20)]);
    assert_eq!(in_table().await, vec![]);
    store.flush().await.unwrap();
    assert_eq!(in_table().await, vec![sparse(v.0, 20)]);

    // An older point (a backfill) moves nothing back, in memory or in the table.
    store.append_points(&[sparse(v.0, 15)]).await.unwrap();
    assert_eq!(store.latest_position(v).await.unwrap(), Some(sparse(v.0, 20)));
    store.flush().await.unwrap();
    assert_eq!(in_table().await, vec![sparse(v.0, 20)]);

    // A newer point is acknowledged, and the process ends before writing it (as in a crash): the next
    // open moves the table to it from the stored points.
    store.append_points(&[sparse(v.0, 30)]).await.unwrap();
    drop(store);
    assert_eq!(in_table().await, vec![sparse(v.0, 20)]);
    let store = scratch.open(&config).await;
    assert_eq!(in_table().await, vec![sparse(v.0, 30)]);
    assert_eq!(store.latest_position(v).await.unwrap(), Some(sparse(v.0, 30)));
}

/// The embedded store moves points from its recent table into the vehicle-clustered one; a track reads
/// both in order, and a duplicate of a point in either table is recognised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_tracks_merge_the_recent_and_compacted_tables_in_order() {
    let scratch = Scratch::embedded("split");
    let mut config = StoreConfig::default();
    config.embedded.compact_at_points = 3_000;
    config.embedded.compact_every_ms = 3_600_000;
    let store = scratch.open(&config).await;
    let count = |table: &str| {
        let Scratch::Embedded(dir) = &scratch else {
            unreachable!()
        };
        let conn = rusqlite::Connection::open(dir.join("tianshu.db")).unwrap();
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    };
    let block = |p: Position, lat_e6: i32| Position { lat_e6, ..p };
    // 3,000 points at even seconds: enough to be moved into `points` right after their commit.
    let even: Vec<Position> = (0..3_000).map(|i| block(sparse(1, i * 2), 1)).collect();
    store.append_points(&even).await.unwrap();
    // The writer thread moves them right after the commit job.
    while count("points_recent") > 0 {
        tokio::task::yield_now().await;
    }
    // 2,500 at odd seconds and 400 more at even seconds with another block: these stay recent (fewer
    // than `compact_at_points`, so no move can start before the counts below are read).
    let mut rest: Vec<Position> = (0..2_500).map(|i| block(sparse(1, i * 2 + 1), 1)).collect();
    rest.extend((0..400).map(|i| block(sparse(1, i * 8), 2)));
    store.append_points(&rest).await.unwrap();
    assert_eq!((count("points"), count("points_recent")), (3_000, 2_900));
    let s = store.append_points(&[even[10], rest[10]]).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (0, 2));
    let all = all_of(&store, 1).await;
    assert_eq!(all.len(), 5_900);
    assert!(
        all.windows(2)
            .all(|w| (w[0].fix_time, w[0].block_hash()) < (w[1].fix_time, w[1].block_hash()))
    );
}

#[test]
fn only_what_a_retry_can_mend_is_transient() {
    let transient = [
        Error::Unavailable("connection refused".into()),
        Error::Closed,
        Error::PartlyCommitted {
            inserted: vec![true, false],
            cause: "connection reset".into(),
        },
    ];
    assert!(transient.iter().all(Error::is_transient));
    let permanent = [
        Error::BadUrl {
            url: "x".into(),
            reason: "no scheme".into(),
        },
        Error::Invalid {
            line: None,
            reason: "fix time".into(),
        },
        Error::NotFound("vehicle 1".into()),
        Error::Conflict("plate taken".into()),
        Error::Migration {
            version: 1,
            reason: "syntax".into(),
        },
        Error::Corrupt("row".into()),
    ];
    assert!(!permanent.iter().any(Error::is_transient));
}

/// Without TimescaleDB, fix times naming 200 distinct months create no partition: only the days of the
/// window around now have their own, the rest go to the default partition, and every point is stored and
/// read back. A day that later enters the window (more days ahead) takes its rows out of the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_flood_of_dates_creates_only_the_window_s_partitions() {
    let scratch = Scratch::postgres("months").await;
    let url = scratch.url();
    let client = connect(&url).await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let partitions = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'points'::regclass";
    let in_default = "SELECT count(*) FROM points_default";
    let store = scratch.open(&StoreConfig::default()).await;
    let v = registered(&store).await;
    let window = count(partitions).await;
    // Today and three days ahead (perhaps one more if the China day turned meanwhile), and the default.
    assert!((5..=6).contains(&window), "{window} partitions at open");

    // 200 points 31 days apart from 1990 on: each in a month of its own.
    let at = |ms: i64| Position {
        fix_time: Timestamp(ms),
        recv_time: Timestamp(ms),
        ..sparse(v, 0)
    };
    let flood: Vec<Position> = (0..200)
        .map(|k| at(631_152_000_000 + k * 31 * 86_400_000))
        .collect();
    assert_eq!(store.append_points(&flood).await.unwrap().inserted, 200);
    assert_eq!(count(partitions).await, window, "no partition was created");
    assert_eq!(count(in_default).await, 200);
    assert_eq!(all_of(&store, v).await, flood);

    // A point ten days ahead is outside the window too; opened with twelve days ahead, its day gets a
    // partition and the point moves there from the default.
    let ahead = at(chrono::Utc::now().timestamp_millis() + 10 * 86_400_000);
    assert_eq!(store.append_points(&[ahead]).await.unwrap().inserted, 1);
    assert_eq!(count(in_default).await, 201);
    drop(store);
    let mut wider = StoreConfig::default();
    wider.postgres.partition_days_ahead = 12;
    let store = scratch.open(&wider).await;
    assert!(count(partitions).await >= window + 8);
    assert_eq!(count(in_default).await, 200);
    let mut expected = flood;
    expected.push(ahead);
    assert_eq!(all_of(&store, v).await, expected);
    assert_eq!(store.append_points(&[ahead]).await.unwrap().duplicates, 1);
}

/// Without TimescaleDB, the days packed into blocks leave the row table whole: their partitions, empty
/// after the compaction, are dropped, so no table or index page of theirs is left; the track replays the
/// same, and a backfill into a dropped day is stored once (a partition made for it again, packed and
/// dropped by the next compaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_packed_days_leave_the_row_table() {
    let scratch = Scratch::postgres("dropdays").await;
    let client = connect(&scratch.url()).await;
    let store = scratch.open(&StoreConfig::default()).await;
    let v = registered(&store).await;
    let now = chrono::Utc::now().timestamp_millis();
    let today = tianshu_model::block::china_day(Timestamp(now));
    let start = tianshu_model::block::china_day_start(today - 3).0;
    // Three past days and part of today, a point every two minutes.
    let track: Vec<Position> = (start..now)
        .step_by(120_000)
        .map(|ms| Position {
            fix_time: Timestamp(ms),
            recv_time: Timestamp(ms),
            lon_e6: 114_000_000 + (ms / 120_000 % 1000) as i32,
            ..sparse(v, 0)
        })
        .collect();
    for part in track.chunks(1_000) {
        store.append_points(part).await.unwrap();
    }
    let partition = |day: i64| {
        let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(day);
        format!("points_d{}", date.format("%Y%m%d"))
    };
    let exists = |name: String| {
        let client = &client;
        async move {
            client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
                .await
                .unwrap()
                .get::<_, bool>(0)
        }
    };
    for day in today - 3..=today {
        assert!(exists(partition(day)).await, "day {day} has its partition");
    }
    let done = store.compact_blocks_at(Timestamp(now)).await.unwrap();
    assert_eq!(done.blocks, 3);
    for day in today - 3..today {
        assert!(
            !exists(partition(day)).await,
            "packed day {day}'s partition is dropped"
        );
    }
    assert!(exists(partition(today)).await, "today stays rows");
    assert_eq!(
        all_of(&store, v).await,
        track,
        "the same track, from blocks and rows"
    );

    // A backfill into a packed day: stored once, as a row in a partition made again, then packed.
    let backfill = Position {
        fix_time: Timestamp(start + 61_000),
        recv_time: Timestamp(now),
        ..sparse(v, 0)
    };
    let again = [backfill, track[0]];
    let appended = store.append_points(&again).await.unwrap();
    assert_eq!((appended.inserted, appended.duplicates), (1, 1));
    assert!(exists(partition(today - 3)).await);
    let done = store.compact_blocks_at(Timestamp(now)).await.unwrap();
    assert_eq!((done.blocks, done.points), (1, 1));
    assert!(!exists(partition(today - 3)).await);
    let mut expected = track.clone();
    expected.push(backfill);
    expected.sort_by_key(tianshu_model::block::track_key);
    assert_eq!(all_of(&store, v).await, expected);
}

/// Many points of one instant (a terminal replaying one fix with other fields, several records of one
/// second): a track longer than a read chunk hands each of them out exactly once, in (fix time, hash)
/// order, and the count a download announces before its first byte is the number it then hands out.
pub async fn tracks_hand_out_each_point_once_across_equal_fix_times(store: Store) {
    let vehicle = 11;
    let mut batch: Vec<Position> = Vec::new();
    for secs in [0, 1, 2] {
        // 5,000 records at each of three instants, told apart by their coordinates.
        batch.extend((0..5_000).map(|i| Position {
            lon_e6: 115_000_000 + i,
            ..sparse(vehicle, secs)
        }));
    }
    batch.extend((3..2_000).map(|secs| sparse(vehicle, secs)));
    for part in batch.chunks(4_000) {
        store.append_points(part).await.unwrap();
    }
    let back = all_of(&store, vehicle).await;
    assert_eq!(back.len(), batch.len(), "every point once");
    let mut keys: Vec<(i64, i64)> = back.iter().map(|p| (p.fix_time.0, p.block_hash())).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "strictly ascending (fix time, hash): none repeated, none out of order"
    );
    let mut stored: Vec<(i64, i64)> = batch.iter().map(|p| (p.fix_time.0, p.block_hash())).collect();
    stored.sort_unstable();
    keys.sort_unstable();
    assert_eq!(keys, stored, "exactly the stored points");
    let (from, to) = (Timestamp(0), Timestamp(i64::MAX));
    let count = store.track_count(VehicleId(vehicle), from, to).await.unwrap();
    assert_eq!(count, batch.len() as u64);
    // The count keeps the track's half-open range.
    let one = Timestamp::from_secs(BASE_SECS + 1);
    let two = Timestamp::from_secs(BASE_SECS + 2);
    assert_eq!(
        store.track_count(VehicleId(vehicle), one, two).await.unwrap(),
        5_000
    );
    assert_eq!(
        store.track_count(VehicleId(vehicle + 1), from, to).await.unwrap(),
        0
    );
}

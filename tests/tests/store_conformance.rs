//! One conformance suite for every store backend: the same cases run, unchanged, against the embedded
//! store and against PostgreSQL (a database created for each test on 127.0.0.1:5432 and dropped after).

#![allow(clippy::unwrap_used)]

#[path = "store_conformance/blocks.rs"]
mod blocks;
#[path = "store_conformance/forwarding.rs"]
mod forwarding;
#[path = "store_conformance/points.rs"]
mod points;
#[path = "store_conformance/reference.rs"]
mod reference;
#[path = "store_conformance/reregistration.rs"]
mod reregistration;
#[path = "store_conformance/rule_states.rs"]
mod rule_states;
#[path = "store_conformance/storm.rs"]
mod storm;
#[path = "store_conformance/writer.rs"]
mod writer;

use blocks::{
    a_backfill_into_a_blocked_day_is_stored_once, a_damaged_block_is_reported_and_the_rest_replays,
    a_replay_crosses_the_row_block_boundary, arrivals_over_many_cars_are_each_car_s_arrivals,
    blocks_older_than_the_retained_days_are_deleted, what_arrived_after_a_cursor_is_read_from_blocks_too,
};
use forwarding::{
    alarm_reports_are_kept_once_and_alarm_positions_per_upper_platform,
    forwarding_positions_are_kept_per_upper_platform_and_survive_reopen,
};
use futures::TryStreamExt;
use points::{
    a_lagging_subscriber_loses_the_oldest_batches_and_counts_them, appends_are_idempotent_and_survive_reopen,
    points_on_both_sides_of_a_month_boundary_are_stored,
    tracks_hand_out_each_point_once_across_equal_fix_times,
};
use reference::{
    calendars_are_replaced_by_year, case_transitions_are_compare_and_set_and_the_outbox_retries,
    cases_are_one_per_episode_and_listed_by_filter, geofences_are_imported_and_edited_one_by_one,
    order_changes_check_the_state_and_the_version, orders_are_imported_past_the_stamp_a_reader_saw,
    unit_settings_let_one_person_file_and_approve, unit_timetables_are_replaced_per_unit,
};
use reregistration::a_reregistration_waits_beside_the_code_until_settled_or_decided;
use rule_states::{
    points_received_after_a_cursor_are_read_alone, rule_states_are_saved_replaced_and_read_back,
};
use storm::a_reconnect_storm_of_lookups_and_registrations_is_coalesced_and_answered_one_by_one;
use tianshu_model::{
    AlarmFlags, Edition, Phone, Position, PositionSource, StatusFlags, Timestamp, Unit, UnitId, VehicleClass,
    VehicleId,
};
use tianshu_store::access::{Audit, AuditEntry, NewUser, Role, User, verify_stored_chain};
use tianshu_store::registry_admin::{NewTerminal, TerminalChange, UnitChange, VehicleChange};
use tianshu_store::{DriverEvent, Error, RegistryRecord, Store, StoreConfig, parse_registry_csv};
use tianshu_testkit::{Scratch, T0_SECS, point};
use writer::a_full_writer_queue_is_saturated_until_a_place_frees;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(T0_SECS + secs)
}

async fn track(store: &Store, vehicle: i64, from: i64, to: i64) -> Vec<Position> {
    store
        .track(VehicleId(vehicle), t(from), t(to))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn secs_of(points: &[Position]) -> Vec<i64> {
    points.iter().map(|p| p.fix_time.secs() - T0_SECS).collect()
}

async fn track_is_time_ordered_with_half_open_range(store: Store) {
    // Appended out of order, across two vehicles.
    let mut batch: Vec<Position> = (0..50).rev().map(|i| point(1, i * 10)).collect();
    batch.extend((0..50).map(|i| point(2, i * 10 + 5)));
    let s = store.append_points(&batch).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (100, 0));
    let all = track(&store, 1, 0, 500).await;
    assert_eq!(secs_of(&all), (0..50).map(|i| i * 10).collect::<Vec<_>>());
    // `from` is inclusive, `to` exclusive.
    assert_eq!(
        secs_of(&track(&store, 1, 100, 200).await),
        [100, 110, 120, 130, 140, 150, 160, 170, 180, 190]
    );
    assert_eq!(secs_of(&track(&store, 1, 101, 110).await), Vec::<i64>::new());
    assert_eq!(secs_of(&track(&store, 1, 490, 491).await), [490]);
    assert!(track(&store, 1, 500, 1000).await.is_empty());
    assert!(track(&store, 3, 0, 1000).await.is_empty());
    // The other vehicle's points never leak in.
    assert!(all.iter().all(|p| p.vehicle == VehicleId(1)));
    // A long track streams across internal chunk boundaries in order.
    let long: Vec<Position> = (0..5_000).map(|i| point(7, i * 10)).collect();
    store.append_points(&long).await.unwrap();
    let back = track(&store, 7, 0, 50_000).await;
    assert_eq!(back.len(), 5_000);
    assert!(back.windows(2).all(|w| w[0].fix_time < w[1].fix_time));
}

async fn every_field_round_trips(store: Store) {
    let p = Position {
        vehicle: VehicleId(42),
        phone: Phone(99_999_999_999_999_999_999),
        fix_time: Timestamp::from_millis(T0_SECS * 1000 + 123),
        recv_time: Timestamp::from_millis(T0_SECS * 1000 + 2_456),
        lat_e6: -33_856_000,
        lon_e6: -151_215_000,
        altitude_m: -12,
        speed_dkmh: u16::MAX,
        course_deg: 359,
        alarm: AlarmFlags(u32::MAX),
        status: StatusFlags(0x8000_000f),
        mileage_dkm: Some(u32::MAX),
        fuel_dl: Some(u16::MAX),
        satellites: Some(255),
        rssi: Some(31),
        source: PositionSource::Backfill,
    };
    let q = Position {
        fix_time: p.fix_time.add_millis(1),
        mileage_dkm: None,
        fuel_dl: None,
        satellites: None,
        rssi: None,
        source: PositionSource::Json,
        ..p
    };
    store.append_points(&[p, q]).await.unwrap();
    let back: Vec<Position> = store
        .track(VehicleId(42), p.fix_time, q.fix_time.add_millis(1))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back, [p, q]);
    assert_eq!(store.latest_position(VehicleId(42)).await.unwrap(), Some(q));
}

async fn the_same_batch_twice_is_stored_once(store: Store) {
    let batch: Vec<Position> = (0..20).map(|i| point(1, i)).collect();
    let first = store.append_points(&batch).await.unwrap();
    let second = store.append_points(&batch).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (20, 0));
    assert_eq!((second.inserted, second.duplicates), (0, 20));
    assert_eq!(track(&store, 1, 0, 100).await.len(), 20);
}

async fn overlapping_and_repeated_points_count_as_duplicates(store: Store) {
    let a: Vec<Position> = (0..30).map(|i| point(1, i)).collect();
    let b: Vec<Position> = (20..50).map(|i| point(1, i)).collect();
    store.append_points(&a).await.unwrap();
    let s = store.append_points(&b).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (20, 10));
    // The same point twice in one batch, and a point at the same instant with a different block
    // (another alarm word) which is a different point.
    let same = point(1, 100);
    let other = Position {
        alarm: AlarmFlags(1),
        ..same
    };
    let s = store.append_points(&[same, same, other]).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (2, 1));
    // A retransmission differs in receive time and source but has the same basic block: a duplicate.
    let resent = Position {
        recv_time: same.recv_time.add_millis(60_000),
        source: PositionSource::Backfill,
        ..same
    };
    let s = store.append_points(&[resent]).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (0, 1));
    assert_eq!(track(&store, 1, 0, 1000).await.len(), 52);
}

async fn backfill_is_stored_and_latest_never_moves_back(store: Store) {
    store.append_points(&[point(1, 1_000)]).await.unwrap();
    // A blind-area backfill of an hour earlier arrives later.
    let backfill: Vec<Position> = (0..10)
        .map(|i| Position {
            source: PositionSource::Backfill,
            ..point(1, i * 10)
        })
        .collect();
    let s = store.append_points(&backfill).await.unwrap();
    assert_eq!(s.inserted, 10);
    let latest = store.latest_position(VehicleId(1)).await.unwrap().unwrap();
    assert_eq!(latest.fix_time, t(1_000));
    // A backfill months old lands too (in the default partition on PostgreSQL: outside the window).
    let ancient = Position {
        source: PositionSource::Backfill,
        ..point(1, -200 * 86_400)
    };
    assert_eq!(store.append_points(&[ancient]).await.unwrap().inserted, 1);
    assert_eq!(track(&store, 1, -201 * 86_400, -199 * 86_400).await, [ancient]);
    // Within one batch, the newest point wins regardless of order.
    store
        .append_points(&[point(1, 2_000), point(1, 1_500)])
        .await
        .unwrap();
    assert_eq!(
        store
            .latest_position(VehicleId(1))
            .await
            .unwrap()
            .unwrap()
            .fix_time,
        t(2_000)
    );
    let all = store.latest_positions().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].fix_time, t(2_000));
    assert_eq!(
        secs_of(&track(&store, 1, 0, 100).await),
        (0..10).map(|i| i * 10).collect::<Vec<_>>()
    );
}

async fn latest_positions_cover_every_vehicle(store: Store) {
    let batch: Vec<Position> = (1..=300).flat_map(|v| [point(v, 10), point(v, 20 + v)]).collect();
    store.append_points(&batch).await.unwrap();
    let mut latest = store.latest_positions().await.unwrap();
    latest.sort_by_key(|p| p.vehicle);
    assert_eq!(latest.len(), 300);
    for (i, p) in latest.iter().enumerate() {
        let v = i as i64 + 1;
        assert_eq!(*p, point(v, 20 + v));
    }
    assert_eq!(store.latest_position(VehicleId(9_999)).await.unwrap(), None);
}

async fn concurrent_appends_are_each_answered_and_fanned_out_once(store: Store) {
    let mut sub = store.subscribe();
    let mut tasks = Vec::new();
    for v in 1..=40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut inserted = 0;
            for round in 0..5 {
                // Every other round repeats the previous one.
                let base = (round / 2) * 10;
                let batch: Vec<Position> = (0..10).map(|i| point(v, base + i)).collect();
                inserted += store.append_points(&batch).await.unwrap().inserted;
            }
            inserted
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 40 * 30);
    let mut seen = 0;
    while seen < total as usize {
        let batch = sub.recv().await.expect("the writer is alive");
        seen += batch.points.len();
    }
    assert_eq!(seen, 1_200);
    assert_eq!(sub.missed_batches(), 0);
    // Nothing else was published: a duplicate append fans out nothing.
    store.append_points(&[point(1, 0)]).await.unwrap();
    store.append_points(&[point(1, 99_999)]).await.unwrap();
    assert_eq!(sub.recv().await.unwrap().points, [point(1, 99_999)]);
}

fn record(unit: &str, plate: &str, phone: u128, id: &str, class: VehicleClass) -> RegistryRecord {
    RegistryRecord {
        unit: unit.into(),
        plate: plate.into(),
        phone: Phone(phone),
        terminal_id: id.into(),
        vehicle_class: class,
        marking: None,
    }
}

async fn registry_round_trips_and_reimports_idempotently(store: Store) {
    let csv = "unit,plate,phone,terminal_id,vehicle_class\n\
               黄石市/市委办公室,鄂B12345,013800138000,T000001,general\n\
               黄石市/市委办公室,鄂B12346,13800138001,T000002,confidential\n\
               黄石市/公安局,鄂B0001警,13800138002,T000003,law_enforcement\n\
               大冶市,鄂B77777,13800138003,T000004,emergency\n";
    let records = parse_registry_csv(csv).unwrap();
    let s = store.import_registry(&records).await.unwrap();
    assert_eq!(
        (s.units_created, s.vehicles_upserted, s.terminals_upserted),
        (4, 4, 4)
    );
    let again = store.import_registry(&records).await.unwrap();
    assert_eq!(again.units_created, 0);
    let units = store.units().await.unwrap();
    assert_eq!(units.len(), 4);
    let city = units.iter().find(|u| u.name == "黄石市").unwrap();
    assert_eq!(city.parent, None);
    let office = units.iter().find(|u| u.name == "市委办公室").unwrap();
    assert_eq!(office.parent, Some(city.id));
    let vehicles = store.vehicles().await.unwrap();
    assert_eq!(vehicles.len(), 4);
    let car = store.vehicle_by_plate("鄂B12346").await.unwrap().unwrap();
    assert_eq!((car.unit, car.class), (office.id, VehicleClass::Confidential));
    assert_eq!(store.vehicle_by_plate("鄂B00000").await.unwrap(), None);
    let term = store.terminal(Phone(13_800_138_000)).await.unwrap().unwrap();
    assert_eq!(term.terminal_id, "T000001");
    assert_eq!(
        term.vehicle,
        Some(store.vehicle_by_plate("鄂B12345").await.unwrap().unwrap().id)
    );
    assert_eq!((term.edition, term.auth_code_hash.as_deref()), (None, None));
    assert_eq!(store.terminals().await.unwrap().len(), 4);

    // Moving a car to another unit and re-binding a terminal is an update, not a new row.
    let moved = [record(
        "大冶市/公安局",
        "鄂B12345",
        13_800_138_000,
        "T000009",
        VehicleClass::Special,
    )];
    let s = store.import_registry(&moved).await.unwrap();
    assert_eq!(s.units_created, 1);
    let car = store.vehicle_by_plate("鄂B12345").await.unwrap().unwrap();
    assert_eq!(car.class, VehicleClass::Special);
    assert_eq!(store.vehicles().await.unwrap().len(), 4);
    let terminal = || async { store.terminal(Phone(13_800_138_000)).await.unwrap().unwrap() };
    assert_eq!(terminal().await.terminal_id, "T000009");

    store
        .save_registration(
            Phone(13_800_138_000),
            Edition::V2019,
            "hash-of-code",
            Some("860000000000001"),
        )
        .await
        .unwrap();
    let term = terminal().await;
    assert_eq!(term.edition, Some(Edition::V2019));
    assert_eq!(term.auth_code_hash.as_deref(), Some("hash-of-code"));
    assert_eq!(term.imei.as_deref(), Some("860000000000001"));
    // A 2013 re-registration without an IMEI keeps the recorded one.
    store
        .save_registration(Phone(13_800_138_000), Edition::V2013, "second", None)
        .await
        .unwrap();
    assert_eq!(terminal().await.imei.as_deref(), Some("860000000000001"));
    let missing = store.save_registration(Phone(1), Edition::V2013, "x", None).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

async fn a_bad_import_changes_nothing(store: Store) {
    let records = [
        record("黄石市", "鄂B1", 1, "T1", VehicleClass::General),
        record("黄石市", "鄂B2", 1, "T2", VehicleClass::General),
    ];
    let e = store.import_registry(&records).await.unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e}");
    assert!(store.units().await.unwrap().is_empty());
    assert!(store.vehicles().await.unwrap().is_empty());
    assert!(store.terminals().await.unwrap().is_empty());
}

async fn driver_events_round_trip(store: Store) {
    let sign_in = DriverEvent {
        vehicle: VehicleId(3),
        phone: Phone(13_800_138_003),
        time: t(100),
        signed_in: true,
        name: Some("张三".into()),
        certificate: Some("420200199001011234".into()),
    };
    let sign_out = DriverEvent {
        time: t(5_000),
        signed_in: false,
        name: None,
        certificate: None,
        ..sign_in.clone()
    };
    store.append_driver_event(&sign_out).await.unwrap();
    store.append_driver_event(&sign_in).await.unwrap();
    store.append_driver_event(&sign_in).await.unwrap();
    let events = store.driver_events(VehicleId(3), t(0), t(10_000)).await.unwrap();
    assert_eq!(events, [sign_in, sign_out]);
    assert!(
        store
            .driver_events(VehicleId(3), t(101), t(5_000))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn registry_edits_keep_paths_and_refuse_clashes(store: Store) {
    let admin = store.registry_admin();
    let city = admin.create_unit("黄石市", None).await.unwrap();
    let office = admin.create_unit(" 市委办公室 ", Some(city.id)).await.unwrap();
    assert_eq!(
        (office.name.as_str(), office.parent),
        ("市委办公室", Some(city.id))
    );
    let desk = admin.create_unit("机要科", Some(office.id)).await.unwrap();
    let clash = admin.create_unit("市委办公室", Some(city.id)).await;
    assert!(matches!(clash, Err(Error::Conflict(_))), "{clash:?}");
    let orphan = admin.create_unit("x", Some(UnitId(999_999))).await;
    assert!(matches!(orphan, Err(Error::Invalid { .. })), "{orphan:?}");
    assert!(matches!(
        admin.create_unit("a/b", None).await,
        Err(Error::Invalid { .. })
    ));

    // A move rewrites the subtree's paths: an import of the old path creates it anew, of the new one not.
    let county = admin.create_unit("大冶市", None).await.unwrap();
    let change = UnitChange {
        parent: Some(Some(county.id)),
        ..Default::default()
    };
    assert_eq!(
        admin.update_unit(office.id, &change).await.unwrap().parent,
        Some(county.id)
    );
    let moved = [record(
        "大冶市/市委办公室/机要科",
        "鄂B1",
        1,
        "T1",
        VehicleClass::General,
    )];
    assert_eq!(store.import_registry(&moved).await.unwrap().units_created, 0);
    let car = store.vehicle_by_plate("鄂B1").await.unwrap().unwrap();
    assert_eq!(car.unit, desk.id);
    let below = UnitChange {
        parent: Some(Some(desk.id)),
        ..Default::default()
    };
    let loop_ = admin.update_unit(county.id, &below).await;
    assert!(matches!(loop_, Err(Error::Invalid { .. })), "{loop_:?}");

    // Vehicles: plates are unique; a vehicle with a terminal or a track stays.
    let taken = admin.create_vehicle("鄂B1", city.id, VehicleClass::General).await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    let other = admin
        .create_vehicle("鄂B2", city.id, VehicleClass::Special)
        .await
        .unwrap();
    let rename = VehicleChange {
        plate: Some("鄂B1".into()),
        ..Default::default()
    };
    assert!(matches!(
        admin.update_vehicle(other.id, &rename).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        admin.delete_vehicle(car.id).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        admin.delete_unit(desk.id).await,
        Err(Error::Conflict(_))
    ));
    store.append_points(&[point(other.id.0, 0)]).await.unwrap();
    let tracked = admin.delete_vehicle(other.id).await;
    assert!(
        matches!(tracked, Err(Error::Conflict(_))),
        "a tracked car stays: {tracked:?}"
    );

    // Terminals: rebinding clears the auth code; deleting one frees its vehicle.
    store
        .save_registration(Phone(1), Edition::V2013, "code", None)
        .await
        .unwrap();
    let rebind = TerminalChange {
        vehicle: Some(Some(other.id)),
        ..Default::default()
    };
    let t = admin.update_terminal(Phone(1), &rebind).await.unwrap();
    assert_eq!((t.vehicle, t.auth_code_hash), (Some(other.id), None));
    let dup = NewTerminal {
        phone: Phone(1),
        terminal_id: "T2".into(),
        vehicle: None,
        edition: None,
    };
    assert!(matches!(
        admin.create_terminal(&dup).await,
        Err(Error::Conflict(_))
    ));
    admin.delete_terminal(Phone(1)).await.unwrap();
    assert!(matches!(
        admin.delete_terminal(Phone(1)).await,
        Err(Error::NotFound(_))
    ));
    admin.delete_vehicle(car.id).await.unwrap();
    admin.delete_unit(desk.id).await.unwrap();
    assert!(store.units().await.unwrap().iter().all(|u| u.id != desk.id));
}

async fn an_audited_edit_commits_its_record_and_a_refused_one_none(store: Store) {
    let audit = |action: &str| {
        Some(Audit {
            time: t(0),
            entry: AuditEntry {
                actor: "admin".into(),
                action: action.into(),
                ..Default::default()
            },
            describe: |u: &Unit, e: &mut AuditEntry| e.detail = format!("unit {}", u.id),
        })
    };
    let admin = store.registry_admin();
    let unit = admin
        .create_unit("黄石市", None)
        .audited(audit("unit.create"))
        .await
        .unwrap();
    let clash = admin
        .create_unit("黄石市", None)
        .audited(audit("unit.create"))
        .await;
    assert!(matches!(clash, Err(Error::Conflict(_))), "{clash:?}");
    let log = store.access().audit(0, 100).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].entry.detail, format!("unit {}", unit.id));
    let user = NewUser {
        username: "wang".into(),
        role: Role::Dispatcher,
        unit: None,
        password_hash: "x".into(),
    };
    let described = Some(Audit {
        time: t(1),
        entry: AuditEntry::default(),
        describe: |u: &User, e: &mut AuditEntry| e.detail = u.username.clone(),
    });
    store
        .access()
        .create_user(&user)
        .audited(described)
        .await
        .unwrap();
    let gone = store.access().delete_user("li").await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    let log = store.access().audit(0, 100).await.unwrap();
    assert_eq!(log.last().map(|r| r.entry.detail.as_str()), Some("wang"));
    assert_eq!(verify_stored_chain(store.access()).await.unwrap(), Ok(2));
}

async fn users_and_a_chained_audit_log(store: Store) {
    let a = store.access();
    let nu = NewUser {
        username: "wang".into(),
        role: Role::Supervisor,
        unit: Some(UnitId(3)),
        password_hash: "x".into(),
    };
    let u = a.create_user(&nu).await.unwrap();
    assert_eq!(u.role, Role::Supervisor);
    assert!(a.create_user(&nu).await.is_err(), "usernames are unique");
    assert_eq!(
        a.user_by_name("wang").await.unwrap().unwrap().unit,
        Some(UnitId(3))
    );
    for i in 0..5 {
        let e = AuditEntry {
            actor: "wang".into(),
            action: "replay".into(),
            rows: i,
            ..Default::default()
        };
        let r = a.append_audit(t(i as i64), &e).await.unwrap();
        assert_eq!(r.seq, i as i64 + 1);
    }
    assert_eq!(verify_stored_chain(a).await.unwrap(), Ok(5));
    a.delete_user("wang").await.unwrap();
    assert!(matches!(a.delete_user("wang").await, Err(Error::NotFound(_))));
    assert!(a.users().await.unwrap().is_empty());
}

async fn migrations_apply_from_empty_and_rerun_as_a_no_op(store: Store, url: String) {
    let applied = store.applied_migrations().await.unwrap();
    assert!(applied.starts_with(&[1, 2]), "{applied:?}");
    assert!(applied.windows(2).all(|w| w[0] < w[1]));
    store.append_points(&[point(1, 0)]).await.unwrap();
    drop(store);
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(reopened.applied_migrations().await.unwrap(), applied);
    assert_eq!(track(&reopened, 1, 0, 1).await.len(), 1);
    reopened.ping().await.unwrap();
}

async fn an_impossible_fix_time_fails_only_its_own_append(store: Store) {
    let bad = Position {
        fix_time: Timestamp::from_secs(-86_400),
        ..point(1, 0)
    };
    let (good_batch, bad_batch) = ([point(2, 0)], [point(1, 5), bad]);
    let (good, bad) = tokio::join!(store.append_points(&good_batch), store.append_points(&bad_batch));
    assert_eq!(good.unwrap().inserted, 1);
    assert!(matches!(bad, Err(Error::Invalid { .. })), "{bad:?}");
    assert!(
        bad.is_err_and(|e| !e.is_transient()),
        "a point out of range is permanent"
    );
    assert!(track(&store, 1, 0, 10).await.is_empty());
    let far = Position {
        fix_time: Timestamp::from_secs(40_000_000_000),
        ..point(1, 0)
    };
    assert!(store.append_points(&[far]).await.is_err());
}

/// Generates one test per case for a backend.
macro_rules! conformance {
    ($backend:ident, $scratch:expr, $config:expr) => {
        mod $backend {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let scratch: Scratch = $scratch(stringify!($name)).await;
                        let store = Store::open_with(&scratch.url(), &$config).await.unwrap();
                        super::$name(store).await;
                    }
                };
                ($name:ident, url) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let scratch: Scratch = $scratch(stringify!($name)).await;
                        let store = Store::open_with(&scratch.url(), &$config).await.unwrap();
                        super::$name(store, scratch.url()).await;
                    }
                };
            }

            case!(track_is_time_ordered_with_half_open_range);
            case!(a_replay_crosses_the_row_block_boundary);
            case!(a_backfill_into_a_blocked_day_is_stored_once);
            case!(what_arrived_after_a_cursor_is_read_from_blocks_too);
            case!(arrivals_over_many_cars_are_each_car_s_arrivals);
            case!(a_damaged_block_is_reported_and_the_rest_replays, url);
            case!(blocks_older_than_the_retained_days_are_deleted, url);
            case!(tracks_hand_out_each_point_once_across_equal_fix_times);
            case!(every_field_round_trips);
            case!(the_same_batch_twice_is_stored_once);
            case!(overlapping_and_repeated_points_count_as_duplicates);
            case!(backfill_is_stored_and_latest_never_moves_back);
            case!(latest_positions_cover_every_vehicle);
            case!(concurrent_appends_are_each_answered_and_fanned_out_once);
            case!(registry_round_trips_and_reimports_idempotently);
            case!(a_bad_import_changes_nothing);
            case!(driver_events_round_trip);
            case!(registry_edits_keep_paths_and_refuse_clashes);
            case!(a_reregistration_waits_beside_the_code_until_settled_or_decided);
            case!(an_audited_edit_commits_its_record_and_a_refused_one_none);
            case!(an_impossible_fix_time_fails_only_its_own_append);
            case!(calendars_are_replaced_by_year);
            case!(geofences_are_imported_and_edited_one_by_one);
            case!(orders_are_imported_past_the_stamp_a_reader_saw);
            case!(order_changes_check_the_state_and_the_version);
            case!(unit_settings_let_one_person_file_and_approve);
            case!(unit_timetables_are_replaced_per_unit);
            case!(cases_are_one_per_episode_and_listed_by_filter);
            case!(case_transitions_are_compare_and_set_and_the_outbox_retries);

            case!(users_and_a_chained_audit_log);
            case!(points_on_both_sides_of_a_month_boundary_are_stored);
            case!(migrations_apply_from_empty_and_rerun_as_a_no_op, url);
            case!(appends_are_idempotent_and_survive_reopen, url);
            case!(
                a_lagging_subscriber_loses_the_oldest_batches_and_counts_them,
                url
            );
            case!(a_full_writer_queue_is_saturated_until_a_place_frees, url);
            case!(a_reconnect_storm_of_lookups_and_registrations_is_coalesced_and_answered_one_by_one);
            case!(points_received_after_a_cursor_are_read_alone);
            case!(rule_states_are_saved_replaced_and_read_back);
            case!(
                forwarding_positions_are_kept_per_upper_platform_and_survive_reopen,
                url
            );
            case!(alarm_reports_are_kept_once_and_alarm_positions_per_upper_platform);
        }
    };
}

async fn embedded_scratch(name: &str) -> Scratch {
    Scratch::embedded(name)
}

/// The embedded store moving new points into the vehicle-clustered table after every few dozen, so
/// that every case also runs with its points split between the two tables.
fn compacting() -> StoreConfig {
    let mut config = StoreConfig::default();
    config.embedded.compact_at_points = 7;
    config.embedded.compact_every_ms = 1;
    config
}

conformance!(embedded, embedded_scratch, StoreConfig::default());
conformance!(embedded_compacting, embedded_scratch, compacting());
conformance!(postgres, Scratch::postgres, StoreConfig::default());

/// The layout of `points` is read from TimescaleDB's catalogue, not from the extension's presence: a plain
/// database is plain, and TimescaleDB's policy keys on it are refused with the fix named, nothing applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_database_is_plain_and_refuses_timescaledb_policies() {
    let scratch = Scratch::postgres("plain_layout").await;
    let store = Store::open(&scratch.url()).await.unwrap();
    match store.kind() {
        tianshu_store::BackendKind::Postgres(b) => assert!(!b.is_hypertable()),
        tianshu_store::BackendKind::Embedded(_) => panic!("a postgres:// URL opens PostgreSQL"),
    }
    store.close().await.unwrap();
    for (compress, retain, named) in [
        (Some(7), None, "compress_after_days set"),
        (None, Some(1095), "retain_days set"),
        (Some(7), Some(1095), "compress_after_days and retain_days set"),
    ] {
        let mut config = StoreConfig::default();
        config.postgres.compress_after_days = compress;
        config.postgres.retain_days = retain;
        let refused = Store::open_with(&scratch.url(), &config)
            .await
            .err()
            .expect("refused");
        let message = refused.to_string();
        assert!(matches!(refused, Error::Invalid { .. }), "{message}");
        assert!(message.contains(named), "{message}");
        assert!(
            message.contains("not a TimescaleDB hypertable") && message.contains("unset them"),
            "{message}"
        );
    }
}

/// Two processes' worth of audit writers (two stores, two pools) appending at once chain one after
/// another: sequence numbers without a gap or a repeat, every record chained to the one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_audit_writers_on_postgresql_never_fork_the_chain() {
    let scratch = Scratch::postgres("audit_writers").await;
    let (a, b) = (
        Store::open(&scratch.url()).await.unwrap(),
        Store::open(&scratch.url()).await.unwrap(),
    );
    let append = |store: Store, i: u64| async move {
        let e = AuditEntry {
            actor: format!("writer{}", i % 2),
            action: "replay".into(),
            rows: i,
            ..Default::default()
        };
        store.access().append_audit(t(i as i64), &e).await.unwrap()
    };
    let records =
        futures::future::join_all((0..80).map(|i| append(if i % 2 == 0 { a.clone() } else { b.clone() }, i)))
            .await;
    let mut seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=80).collect::<Vec<_>>(), "one sequence number each");
    assert_eq!(verify_stored_chain(a.access()).await.unwrap(), Ok(80));
}

//! The rules' reference data (calendars, geofences, orders, units' working hours, the reference stamp)
//! and the alert cases, as every backend must store them: the same imports the command line and the API
//! use, their refusals (which change nothing), and the checks made under lock (names, versions, states,
//! who may approve an order alone).

use serde_json::json;
use tianshu_model::{Timestamp, UnitId, VehicleId};
use tianshu_rules::Geofence;
use tianshu_rules::orders::{Order, OrderState, UnitSettings};
use tianshu_store::access::{Audit, AuditEntry};
use tianshu_store::reference::OrderChange;
use tianshu_store::rules::{CaseFilter, CaseState, DeliveryOutcome, NewCase, NewDelivery, Transition};
use tianshu_store::{Error, Store, parse_registry_csv};

/// The states the rules let a case escalate by itself in.
const ESCALATING: [CaseState; 2] = [CaseState::Open, CaseState::Acknowledged];

const REGISTRY: &str = "unit,plate,phone,terminal_id,vehicle_class\n\
                        黄石市/市委办公室,鄂B12345,13800138000,T000001,general\n\
                        黄石市/市政府办公室,鄂B12346,13800138001,T000002,general\n";

async fn with_registry(store: &Store) {
    let records = parse_registry_csv(REGISTRY).unwrap();
    store.import_registry(&records).await.unwrap();
}

fn calendar(year: i32, last_day: u32) -> String {
    format!(
        "year = {year}\n[[holiday]]\nname = \"元旦\"\nfirst = \"{year}-01-01\"\nlast = \"{year}-01-0{last_day}\"\n"
    )
}

/// One GeoJSON feature of a fence, its square's corner at `lon`.
fn feature(name: &str, kind: &str, unit: Option<&str>, lon: f64) -> serde_json::Value {
    let ring = json!([[lon, 30.2], [lon + 0.01, 30.2], [lon + 0.01, 30.21], [lon, 30.2]]);
    json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
           "properties": {"name": name, "kind": kind, "unit": unit}})
}

fn collection(features: &[serde_json::Value]) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn fence(name: &str, kind: &str, unit: Option<&str>) -> Geofence {
    let text = collection(&[feature(name, kind, unit, 115.0)]);
    tianshu_rules::fences::parse_geojson(&text)
        .unwrap()
        .pop()
        .unwrap()
}

fn order_line(id: &str, plate: &str, state: &str) -> String {
    format!(
        r#"{{"id":"{id}","kind":"order","plate":"{plate}","purpose":"会议","start":"2026-11-18T00:00:00Z","end":"2026-11-18T04:00:00Z","state":"{state}"}}"#
    )
}

fn ids(orders: &[tianshu_store::reference::StoredOrder]) -> Vec<&str> {
    orders.iter().map(|o| o.id.as_str()).collect()
}

pub async fn calendars_are_replaced_by_year(store: Store) {
    let r = store.rules();
    let first = r
        .put_calendar(&calendar(2027, 1), Timestamp(1_000))
        .await
        .unwrap();
    assert_eq!((first.calendar.year, first.replaced), (2027, false));
    let v2 = calendar(2027, 3);
    assert!(r.put_calendar(&v2, Timestamp(2_000)).await.unwrap().replaced);
    let cals = r.calendars().await.unwrap();
    assert_eq!(cals.len(), 1);
    assert_eq!(
        (cals[0].source.as_str(), cals[0].updated),
        (v2.as_str(), Timestamp(2_000))
    );
    let err = r
        .put_calendar("year = 2027\nbogus = 1\n", Timestamp(3_000))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert_eq!(
        r.calendars().await.unwrap()[0].source,
        v2,
        "a refused file changes nothing"
    );
}

pub async fn geofences_are_imported_and_edited_one_by_one(store: Store) {
    with_registry(&store).await;
    let r = store.rules();
    let now = Timestamp(1_000);
    let (a, b) = (
        feature("a", "prohibited", None, 115.0),
        feature("b", "prohibited", None, 115.1),
    );
    assert_eq!(
        r.import_geofences(&collection(&[a, b]), now).await.unwrap(),
        (2, 0)
    );
    let (a2, c) = (
        feature("a", "prohibited", None, 115.5),
        feature("c", "region", None, 115.2),
    );
    assert_eq!(
        r.import_geofences(&collection(&[a2, c]), now).await.unwrap(),
        (1, 1)
    );
    let fences = r.geofences().await.unwrap();
    assert_eq!(
        fences.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(
        fences[0].body["polygons"][0][0][0][0], 115.5,
        "a re-import replaces"
    );
    let bad = collection(&[json!({"type": "Feature"})]);
    assert!(matches!(
        r.import_geofences(&bad, now).await,
        Err(Error::Invalid { .. })
    ));

    // One by one: a kind and name once, a depot's unit registered, every write moves the stamp.
    let depot = r
        .create_geofence(&fence("d", "depot", Some("黄石市/市委办公室")), now)
        .await
        .unwrap();
    assert_eq!(
        (depot.fence.kind.as_str(), depot.fence.name.as_str()),
        ("depot", "d")
    );
    let taken = r.create_geofence(&fence("a", "prohibited", None), now).await;
    assert!(
        matches!(&taken, Err(Error::Conflict(m)) if m.contains("already exists (geofence")),
        "{taken:?}"
    );
    let nowhere = r
        .create_geofence(&fence("e", "depot", Some("黄石市/无此单位")), now)
        .await;
    assert!(matches!(&nowhere, Err(Error::Invalid { reason, .. }) if reason.contains("there is no unit")));
    let moved = fence("d2", "depot", Some("黄石市/市政府办公室"));
    let replaced = r.replace_geofence(depot.id, &moved, now).await.unwrap();
    assert_eq!((replaced.id, replaced.fence.name.as_str()), (depot.id, "d2"));
    let onto_a = r
        .replace_geofence(depot.id, &fence("a", "prohibited", None), now)
        .await;
    assert!(matches!(onto_a, Err(Error::Conflict(_))), "{onto_a:?}");
    assert!(matches!(
        r.replace_geofence(999_999, &moved, now).await,
        Err(Error::NotFound(_))
    ));
    let stamp = r.reference_stamp().await.unwrap();
    assert_eq!(r.delete_geofence(depot.id, now).await.unwrap(), depot.id);
    assert!(
        r.reference_stamp().await.unwrap() > stamp,
        "a deletion moves the stamp"
    );
    assert!(matches!(
        r.delete_geofence(depot.id, now).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(r.geofences_with_ids().await.unwrap().len(), 3);
}

pub async fn orders_are_imported_past_the_stamp_a_reader_saw(store: Store) {
    with_registry(&store).await;
    let r = store.rules();
    let lines = |a: &str, b: &str| {
        format!(
            "{}\n\n{}\n",
            order_line("PC-1", "鄂B12345", a),
            order_line("PC-2", "鄂B12346", b)
        )
    };
    let s = r
        .import_orders(&lines("requested", "approved"), Timestamp(3_000))
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (2, 0, 0));
    let s = r
        .import_orders(&lines("approved", "approved"), Timestamp(4_000))
        .await
        .unwrap();
    assert_eq!(
        (s.created, s.updated, s.unchanged, s.changed_ids),
        (0, 1, 1, vec!["PC-1".to_string()])
    );
    assert_eq!(r.orders().await.unwrap().len(), 2);
    let changed = r.orders_updated_after(Timestamp(3_000)).await.unwrap();
    assert_eq!(ids(&changed), ["PC-1"]);
    assert_eq!(r.order("PC-1").await.unwrap().unwrap().state, "approved");
    assert_eq!(r.reference_stamp().await.unwrap(), Timestamp(4_000));

    // Writes in the same millisecond as one a reader has already seen: each moves the stamp, and the
    // reader finds the later order after the stamp it saw (the runtime's reload misses nothing).
    let seen = r.reference_stamp().await.unwrap();
    r.import_orders(&order_line("PC-3", "鄂B12345", "approved"), Timestamp(4_000))
        .await
        .unwrap();
    let after_first = r.reference_stamp().await.unwrap();
    assert!(after_first > seen, "{after_first:?} after {seen:?}");
    r.import_orders(&order_line("PC-4", "鄂B12345", "approved"), Timestamp(4_000))
        .await
        .unwrap();
    assert!(r.reference_stamp().await.unwrap() > after_first);
    assert_eq!(ids(&r.orders_updated_after(after_first).await.unwrap()), ["PC-4"]);

    // A plate not in the registry refuses the whole file, naming the line.
    let text = format!(
        "{}\n{}\n",
        order_line("PC-5", "鄂B12345", "approved"),
        order_line("PC-6", "鄂X00000", "approved")
    );
    let err = r.import_orders(&text, Timestamp(5_000)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"line 2: plate "鄂X00000" is not in the registry"#),
        "{err}"
    );
    assert!(
        r.order("PC-5").await.unwrap().is_none(),
        "a refused file changes nothing"
    );
}

pub async fn order_changes_check_the_state_and_the_version(store: Store) {
    with_registry(&store).await;
    let r = store.rules();
    let now = Timestamp(1_000);
    let order: Order = serde_json::from_str(&order_line("PC-7", "鄂B12345", "requested")).unwrap();
    let created = r.create_order(&order, "wang", now).await.unwrap();
    let again = r.create_order(&order, "wang", now).await;
    assert!(
        matches!(&again, Err(Error::Conflict(m)) if m.contains("already exists")),
        "{again:?}"
    );
    let stranger = Order {
        id: "PC-8".into(),
        plate: "鄂X00000".into(),
        ..order.clone()
    };
    assert!(matches!(
        r.create_order(&stranger, "wang", now).await,
        Err(Error::Invalid { .. })
    ));

    // Its filer may not approve it (the unit has no settings: a second person is needed).
    let own = r
        .change_order_state("PC-7", None, OrderState::Approved, "wang", now)
        .await;
    assert!(
        matches!(&own, Err(Error::Forbidden(m)) if m.contains("filed by wang")),
        "{own:?}"
    );
    let approved = r
        .change_order_state("PC-7", Some(created.updated.0), OrderState::Approved, "li", now)
        .await
        .unwrap();
    assert_eq!(approved.order.body["filed_by"], "wang");
    assert_eq!(approved.order.body["approved_by"], "li");
    assert_eq!(
        (approved.before, approved.order.state.as_str()),
        (OrderState::Requested, "approved")
    );
    assert!(
        approved.order.updated > created.updated,
        "every write is a new version"
    );
    let stale = r
        .change_order_state("PC-7", Some(created.updated.0), OrderState::Cancelled, "li", now)
        .await;
    assert!(
        matches!(&stale, Err(Error::Conflict(m)) if m.contains("has changed since version")),
        "{stale:?}"
    );
    let back = r
        .change_order_state("PC-7", None, OrderState::Requested, "li", now)
        .await;
    assert!(
        matches!(&back, Err(Error::Conflict(m)) if m.starts_with("order PC-7: ")),
        "{back:?}"
    );
    let missing = r
        .change_order_state("PC-404", None, OrderState::Approved, "li", now)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))));
    assert_eq!(
        r.order("PC-7").await.unwrap().unwrap(),
        approved.order,
        "refusals change nothing"
    );

    // An audited change commits its record with it, completed from what the change found.
    let audit = Audit {
        time: now,
        entry: AuditEntry {
            actor: "li".into(),
            action: "order.state".into(),
            ..Default::default()
        },
        describe: |c: &OrderChange, e: &mut AuditEntry| {
            e.detail = format!("{} -> {}", c.before.as_str(), c.order.state);
        },
    };
    r.change_order_state("PC-7", None, OrderState::Completed, "li", now)
        .audited(Some(audit))
        .await
        .unwrap();
    let log = store.access().audit(0, 10).await.unwrap();
    assert_eq!(
        log.last().map(|a| a.entry.detail.as_str()),
        Some("approved -> completed")
    );
}

pub async fn unit_settings_let_one_person_file_and_approve(store: Store) {
    with_registry(&store).await;
    let r = store.rules();
    let now = Timestamp(1_000);
    let car = store.vehicle_by_plate("鄂B12345").await.unwrap().unwrap();
    assert!(r.unit_settings(car.unit).await.unwrap().second_person_approval);
    let alone = UnitSettings {
        second_person_approval: false,
    };
    assert_eq!(
        r.put_unit_settings(car.unit, alone, now).await.unwrap(),
        (car.unit, alone)
    );
    assert_eq!(r.unit_settings(car.unit).await.unwrap(), alone);
    let missing = r.put_unit_settings(UnitId(404), alone, now).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    // Filed approved by one person, in a unit that allows it.
    let order: Order = serde_json::from_str(&order_line("PC-9", "鄂B12345", "approved")).unwrap();
    let filed = r.create_order(&order, "wang", now).await.unwrap();
    assert_eq!(
        (&filed.state[..], &filed.body["approved_by"]),
        ("approved", &serde_json::json!("wang"))
    );
}

pub async fn unit_timetables_are_replaced_per_unit(store: Store) {
    let r = store.rules();
    let admin = store.registry_admin();
    let unit = admin.create_unit("市委办公室", None).await.unwrap();
    let other = admin.create_unit("市政府办公室", None).await.unwrap();
    let entry = |unit: &str, end: &str| {
        format!("[[unit_timetables]]\nunit = \"{unit}\"\nperiods = [\"08:30-12:00\", \"14:00-{end}\"]\n")
    };
    let both = format!(
        "{}{}",
        entry("市委办公室", "18:00"),
        entry("市政府办公室", "17:30")
    );
    assert_eq!(
        r.import_unit_timetables(&both, Timestamp(5_000)).await.unwrap(),
        (2, 0)
    );
    let stamp = r.reference_stamp().await.unwrap();
    assert!(stamp >= Timestamp(5_000));
    let unknown = format!("{}{}", entry("市委办公室", "19:00"), entry("无此单位", "18:00"));
    let err = r
        .import_unit_timetables(&unknown, Timestamp(6_000))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"unit "无此单位" is not in the registry"#),
        "{err}"
    );
    assert_eq!(
        r.reference_stamp().await.unwrap(),
        stamp,
        "a refused file changes nothing"
    );
    let hours = serde_json::from_value(json!({"periods": ["08:30-12:00", "14:00-18:30"]})).unwrap();
    let w = r
        .put_unit_timetable(unit.id, &hours, Timestamp(5_000))
        .await
        .unwrap();
    assert!(!w.created);
    assert_eq!(r.reference_stamp().await.unwrap(), Timestamp(stamp.0 + 1));
    let gone = r
        .put_unit_timetable(UnitId(999_999), &hours, Timestamp(5_000))
        .await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    let stored = r.unit_timetables().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!((stored[0].unit, stored[0].updated), (unit.id, Timestamp(5_000)));
    assert_eq!(stored[0].body["periods"][1], "14:00-18:30");
    r.delete_unit_timetable(other.id, Timestamp(5_000)).await.unwrap();
    assert_eq!(r.reference_stamp().await.unwrap(), Timestamp(stamp.0 + 2));
    let twice = r.delete_unit_timetable(other.id, Timestamp(5_000)).await;
    assert!(matches!(twice, Err(Error::NotFound(_))));
    admin.delete_unit(unit.id).await.unwrap();
    assert!(
        r.unit_timetables().await.unwrap().is_empty(),
        "a unit's deletion takes its hours along"
    );
}

fn new_case(start: i64, end: Option<i64>) -> NewCase {
    NewCase {
        vehicle: VehicleId(7),
        unit: UnitId(2),
        rule: "out_of_hours".into(),
        start: Timestamp(start),
        end: end.map(Timestamp),
        severity: "medium".into(),
        late: false,
        reasoning: "Use outside working hours".into(),
        reasoning_zh: "非工作时间用车".into(),
        episode: json!({"rule": "out_of_hours"}),
        escalate_at: Some(Timestamp(start + 10_000)),
    }
}

fn mail() -> NewDelivery {
    NewDelivery {
        channel: "email".into(),
        recipient: "a@example.invalid".into(),
        payload: "x".into(),
    }
}

pub async fn cases_are_one_per_episode_and_listed_by_filter(store: Store) {
    let r = store.cases();
    let now = Timestamp(1_000);
    // A second record of the same episode updates it, and queues nothing more.
    let (id, created) = r
        .record_case(&new_case(100_000, None), &[mail()], now)
        .await
        .unwrap();
    assert!(created);
    let (id2, created) = r
        .record_case(&new_case(100_000, Some(200_000)), &[mail()], now)
        .await
        .unwrap();
    assert_eq!((id2, created), (id, false));
    let c = r.case(id).await.unwrap().unwrap();
    assert_eq!(
        (c.state, c.end, c.unit),
        (CaseState::Open, Some(Timestamp(200_000)), UnitId(2))
    );
    assert_eq!(r.deliveries(id).await.unwrap().len(), 1);

    let unit3 = NewCase {
        unit: UnitId(3),
        ..new_case(300_000, None)
    };
    let (other, _) = r.record_case(&unit3, &[], now).await.unwrap();
    let listed = async |f: CaseFilter| {
        r.cases(&f)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(CaseFilter::default()).await, [other, id]);
    assert_eq!(
        listed(CaseFilter {
            units: Some(vec![UnitId(2)]),
            ..Default::default()
        })
        .await,
        [id]
    );
    assert!(
        listed(CaseFilter {
            units: Some(vec![]),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let open = CaseFilter {
        states: vec![CaseState::Open],
        rule: Some("out_of_hours".into()),
        from: Some(Timestamp(250_000)),
        ..Default::default()
    };
    assert_eq!(listed(open).await, [other]);

    let due = r
        .due_escalations(&ESCALATING, Timestamp(110_000), 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), [id]);
    let due = r
        .due_escalations(&[CaseState::Explained], Timestamp(110_000), 10)
        .await
        .unwrap();
    assert!(due.is_empty(), "only cases in the given states are due: {due:?}");
    let due = r.due_escalations(&[], Timestamp(110_000), 10).await.unwrap();
    assert!(due.is_empty(), "no states, no cases: {due:?}");
}

pub async fn case_transitions_are_compare_and_set_and_the_outbox_retries(store: Store) {
    let r = store.cases();
    let now = Timestamp(1_000);
    let (id, _) = r
        .record_case(&new_case(100_000, None), &[mail()], now)
        .await
        .unwrap();
    let ack = Transition {
        case_id: id,
        from: vec![CaseState::Open],
        to: CaseState::Acknowledged,
        actor: "zhang".into(),
        action: "acknowledged".into(),
        note: String::new(),
        escalate_at: Some(Timestamp(110_000)),
        deliveries: vec![],
    };
    assert_eq!(
        r.transition_case(&ack, Timestamp(5_000)).await.unwrap().state,
        CaseState::Acknowledged
    );
    let err = r.transition_case(&ack, Timestamp(5_000)).await.unwrap_err();
    assert!(err.to_string().contains("is acknowledged"), "{err}");
    let explain = Transition {
        from: vec![CaseState::Open, CaseState::Acknowledged],
        to: CaseState::Explained,
        action: "explained".into(),
        note: "送文件到市政府，忘记补单".into(),
        escalate_at: None,
        ..ack.clone()
    };
    r.transition_case(&explain, Timestamp(6_000)).await.unwrap();
    let due = r
        .due_escalations(&ESCALATING, Timestamp(i64::MAX), 10)
        .await
        .unwrap();
    assert!(due.iter().all(|c| c.id != id));
    let events = r.case_events(id).await.unwrap();
    let steps: Vec<_> = events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("opened", "system"),
            ("acknowledged", "zhang"),
            ("explained", "zhang")
        ]
    );
    assert_eq!(events[2].note, "送文件到市政府，忘记补单");

    let due = r.due_deliveries(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let retry = DeliveryOutcome::Retry {
        error: "refused".into(),
        next_attempt: Timestamp(9_000),
    };
    r.delivery_attempted(due[0].id, &retry, now).await.unwrap();
    assert!(r.due_deliveries(Timestamp(8_999), 10).await.unwrap().is_empty());
    assert_eq!(r.due_deliveries(Timestamp(9_000), 10).await.unwrap().len(), 1);
    r.delivery_attempted(due[0].id, &DeliveryOutcome::Sent, Timestamp(9_500))
        .await
        .unwrap();
    let ds = r.deliveries(id).await.unwrap();
    assert_eq!(
        (ds[0].state.as_str(), ds[0].attempts, ds[0].sent),
        ("sent", 2, Some(Timestamp(9_500)))
    );
    assert!(
        r.due_deliveries(Timestamp(i64::MAX), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

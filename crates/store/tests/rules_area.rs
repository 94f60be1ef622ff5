//! The rules area on both backends: reference data round trips, case upserts, transitions as
//! compare-and-set, auto-escalation lookups and the outbox.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use serde_json::json;
use tianshu_model::{Timestamp, UnitId, VehicleId};
use tianshu_store::rules::{
    CaseFilter, CaseState, DeliveryOutcome, NewCase, NewDelivery, StoredFence, StoredOrder,
    StoredUnitTimetable, Transition,
};
use tianshu_store::{Store, StoreConfig};
use tianshu_testkit::Scratch;

/// The states the rules let a case escalate by itself in.
const ESCALATING: [CaseState; 2] = [CaseState::Open, CaseState::Acknowledged];

fn order(id: &str, state: &str, start: i64) -> StoredOrder {
    StoredOrder {
        id: id.into(),
        plate: "鄂B12345".into(),
        kind: "order".into(),
        state: state.into(),
        start: Timestamp(start),
        end: Timestamp(start + 3_600_000),
        body: json!({"id": id, "state": state}),
        updated: Timestamp(0),
    }
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

async fn exercise(store: &Store) {
    let r = store.rules();
    let now = Timestamp(1_000);

    // Reference data.
    assert!(!r.put_calendar(2027, "year = 2027\n", now).await.unwrap());
    assert!(
        r.put_calendar(2027, "year = 2027\n# v2\n", Timestamp(2_000))
            .await
            .unwrap()
    );
    let cals = r.calendars().await.unwrap();
    assert_eq!((cals.len(), cals[0].source.as_str()), (1, "year = 2027\n# v2\n"));
    let fence = |name: &str, v: i64| StoredFence {
        kind: "depot".into(),
        name: name.into(),
        body: json!({"name": name, "v": v}),
        updated: Timestamp(0),
    };
    assert_eq!(
        r.put_geofences(&[fence("a", 1), fence("b", 1)], now)
            .await
            .unwrap(),
        (2, 0)
    );
    assert_eq!(
        r.put_geofences(&[fence("a", 2), fence("c", 1)], now)
            .await
            .unwrap(),
        (1, 1)
    );
    let fences = r.geofences().await.unwrap();
    assert_eq!(fences.len(), 3);
    assert_eq!(fences[0].body["v"], 2);

    let s = r
        .put_orders(
            &[order("PC-1", "requested", 0), order("PC-2", "approved", 0)],
            Timestamp(3_000),
        )
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (2, 0, 0));
    let s = r
        .put_orders(
            &[order("PC-1", "approved", 0), order("PC-2", "approved", 0)],
            Timestamp(4_000),
        )
        .await
        .unwrap();
    assert_eq!(
        (s.created, s.updated, s.unchanged, s.changed_ids),
        (0, 1, 1, vec!["PC-1".to_string()])
    );
    assert_eq!(r.orders().await.unwrap().len(), 2);
    let changed = r.orders_updated_after(Timestamp(3_000)).await.unwrap();
    assert_eq!(
        changed.iter().map(|o| o.state.as_str()).collect::<Vec<_>>(),
        ["approved"]
    );
    assert_eq!(r.reference_stamp().await.unwrap(), Timestamp(4_000));

    // Writes in the same millisecond as one a reader has already seen: each moves the stamp, and the
    // reader finds the later order after the stamp it saw (the runtime's reload misses nothing).
    let seen = r.reference_stamp().await.unwrap();
    r.put_orders(&[order("PC-3", "approved", 0)], Timestamp(4_000))
        .await
        .unwrap();
    let after_first = r.reference_stamp().await.unwrap();
    assert!(after_first > seen, "{after_first:?} after {seen:?}");
    r.put_orders(&[order("PC-4", "approved", 0)], Timestamp(4_000))
        .await
        .unwrap();
    let after_second = r.reference_stamp().await.unwrap();
    assert!(
        after_second > after_first,
        "{after_second:?} after {after_first:?}"
    );
    let changed = r.orders_updated_after(after_first).await.unwrap();
    assert_eq!(
        changed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["PC-4"]
    );
    r.put_geofences(&[fence("a", 3)], Timestamp(4_000)).await.unwrap();
    assert!(
        r.reference_stamp().await.unwrap() > after_second,
        "a fence write moves it too"
    );

    // Unit timetables: replace per unit, unknown units refused with nothing written, every write and
    // delete moves the reference stamp, and deleting the unit takes its timetable along.
    let unit = store
        .registry_admin()
        .create_unit("市委办公室", None)
        .await
        .unwrap();
    let other = store
        .registry_admin()
        .create_unit("市政府办公室", None)
        .await
        .unwrap();
    let tt = |unit: UnitId, end: &str| StoredUnitTimetable {
        unit,
        body: json!({"periods": ["08:30-12:00", format!("14:00-{end}")], "seasons": []}),
        updated: Timestamp(0),
    };
    assert_eq!(
        r.put_unit_timetables(&[tt(unit.id, "18:00"), tt(other.id, "17:30")], Timestamp(5_000))
            .await
            .unwrap(),
        (2, 0)
    );
    let stamp = r.reference_stamp().await.unwrap();
    assert!(stamp >= Timestamp(5_000));
    assert!(matches!(
        r.put_unit_timetables(
            &[tt(unit.id, "19:00"), tt(UnitId(999_999), "18:00")],
            Timestamp(6_000)
        )
        .await,
        Err(tianshu_store::Error::NotFound(_))
    ));
    assert_eq!(r.reference_stamp().await.unwrap(), stamp);
    assert_eq!(
        r.put_unit_timetables(&[tt(unit.id, "18:30")], Timestamp(5_000))
            .await
            .unwrap(),
        (0, 1)
    );
    assert_eq!(r.reference_stamp().await.unwrap(), Timestamp(stamp.0 + 1));
    let stored = r.unit_timetables().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!((stored[0].unit, stored[0].updated), (unit.id, Timestamp(5_000)));
    assert_eq!(stored[0].body["periods"][1], "14:00-18:30");
    r.delete_unit_timetable(other.id, Timestamp(5_000)).await.unwrap();
    assert_eq!(r.reference_stamp().await.unwrap(), Timestamp(stamp.0 + 2));
    assert!(matches!(
        r.delete_unit_timetable(other.id, Timestamp(5_000)).await,
        Err(tianshu_store::Error::NotFound(_))
    ));
    store.registry_admin().delete_unit(unit.id).await.unwrap();
    assert!(r.unit_timetables().await.unwrap().is_empty());

    let r = store.cases();
    // Cases: a second record of the same episode updates it, and queues nothing more.
    let mail = NewDelivery {
        channel: "email".into(),
        recipient: "a@example.invalid".into(),
        payload: "x".into(),
    };
    let (id, created) = r
        .record_case(&new_case(100_000, None), std::slice::from_ref(&mail), now)
        .await
        .unwrap();
    assert!(created);
    let (id2, created) = r
        .record_case(
            &new_case(100_000, Some(200_000)),
            std::slice::from_ref(&mail),
            now,
        )
        .await
        .unwrap();
    assert_eq!((id2, created), (id, false));
    let c = r.case(id).await.unwrap().unwrap();
    assert_eq!(
        (c.state, c.end, c.unit),
        (CaseState::Open, Some(Timestamp(200_000)), UnitId(2))
    );
    assert_eq!(r.deliveries(id).await.unwrap().len(), 1);

    // Listing with filters.
    let (other, _) = r
        .record_case(
            &NewCase {
                unit: UnitId(3),
                ..new_case(300_000, None)
            },
            &[],
            now,
        )
        .await
        .unwrap();
    let all = r.cases(&CaseFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), [other, id]);
    let unit2 = r
        .cases(&CaseFilter {
            units: Some(vec![UnitId(2)]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(unit2.iter().map(|c| c.id).collect::<Vec<_>>(), [id]);
    let none = r
        .cases(&CaseFilter {
            units: Some(vec![]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let open = r
        .cases(&CaseFilter {
            states: vec![CaseState::Open],
            rule: Some("out_of_hours".into()),
            from: Some(Timestamp(250_000)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>(), [other]);

    // Escalation lookup.
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

    // Transitions are compare-and-set.
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
    let c = r.transition_case(&ack, Timestamp(5_000)).await.unwrap();
    assert_eq!(c.state, CaseState::Acknowledged);
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
    assert!(
        r.due_escalations(&ESCALATING, Timestamp(i64::MAX), 10)
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != id)
    );
    let events = r.case_events(id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.action.as_str(), e.actor.as_str()))
            .collect::<Vec<_>>(),
        [
            ("opened", "system"),
            ("acknowledged", "zhang"),
            ("explained", "zhang")
        ]
    );
    assert_eq!(events[2].note, "送文件到市政府，忘记补单");

    // The outbox.
    let due = r.due_deliveries(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let d = &due[0];
    r.delivery_attempted(
        d.id,
        &DeliveryOutcome::Retry {
            error: "refused".into(),
            next_attempt: Timestamp(9_000),
        },
        now,
    )
    .await
    .unwrap();
    assert!(r.due_deliveries(Timestamp(8_999), 10).await.unwrap().is_empty());
    assert_eq!(r.due_deliveries(Timestamp(9_000), 10).await.unwrap().len(), 1);
    r.delivery_attempted(d.id, &DeliveryOutcome::Sent, Timestamp(9_500))
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

#[tokio::test]
async fn rules_area_embedded() {
    let scratch = Scratch::embedded("rules_area");
    exercise(&scratch.open(&StoreConfig::default()).await).await;
}

#[tokio::test]
async fn rules_area_postgres() {
    let scratch = Scratch::postgres("rules_area").await;
    exercise(&scratch.open(&StoreConfig::default()).await).await;
}

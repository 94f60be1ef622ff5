//! The upper platforms' forwarding positions (JT/T 809).

use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::Store;
use tianshu_store::jt809_alarms::NewAlarm;

pub async fn forwarding_positions_are_kept_per_upper_platform_and_survive_reopen(store: Store, url: String) {
    assert_eq!(store.forwarding().position("province").await.unwrap(), None);
    let now = Timestamp::from_secs(1_800_000_000);
    store
        .forwarding()
        .save("province", Timestamp(1_000), now)
        .await
        .unwrap();
    store
        .forwarding()
        .save("ministry", Timestamp(5_000), now)
        .await
        .unwrap();
    // A later position replaces the earlier one of the same upper platform alone.
    store
        .forwarding()
        .save("province", Timestamp(2_000), now)
        .await
        .unwrap();
    assert_eq!(
        store.forwarding().position("province").await.unwrap(),
        Some(Timestamp(2_000))
    );
    assert_eq!(
        store.forwarding().position("ministry").await.unwrap(),
        Some(Timestamp(5_000))
    );
    store.close().await.unwrap();
    drop(store);
    let store = Store::open(&url).await.unwrap();
    assert_eq!(
        store.forwarding().position("province").await.unwrap(),
        Some(Timestamp(2_000))
    );
}

fn alarm(peer: &str, info_id: i64, info: &str) -> NewAlarm {
    NewAlarm {
        peer: peer.into(),
        plate: "鄂B00001".into(),
        vehicle: VehicleId(1),
        warn_src: 2,
        warn_type: 1,
        warn_time: Timestamp::from_secs(1_800_000_000),
        start: None,
        end: None,
        info_id,
        info: info.into(),
        received: Timestamp::from_secs(1_800_000_010),
    }
}

pub async fn alarm_reports_are_kept_once_and_alarm_positions_per_upper_platform(store: Store) {
    let alarms = store.jt809_alarms();
    assert_eq!(alarms.position("province").await.unwrap(), None);
    let now = Timestamp::from_secs(1_800_000_000);
    alarms.save("province", 7, now).await.unwrap();
    alarms.save("ministry", 3, now).await.unwrap();
    alarms.save("province", 9, now).await.unwrap();
    assert_eq!(alarms.position("province").await.unwrap(), Some(9));
    assert_eq!(alarms.position("ministry").await.unwrap(), Some(3));
    assert_eq!(store.cases().last_id().await.unwrap(), 0);
    assert!(store.cases().after(0, 10).await.unwrap().is_empty());

    assert!(
        alarms
            .record(alarm("huangshi", 42, "[overspeed] 超速"))
            .await
            .unwrap()
    );
    // The same report again (a link that broke before its keep-alive answer) is kept once.
    assert!(
        !alarms
            .record(alarm("huangshi", 42, "[overspeed] 超速"))
            .await
            .unwrap()
    );
    // Another case of the same car at the same time, or another peer's, is another report.
    assert!(
        alarms
            .record(alarm("huangshi", 43, "[overspeed] 超速"))
            .await
            .unwrap()
    );
    assert!(
        alarms
            .record(alarm("ezhou", 42, "[overspeed] 超速"))
            .await
            .unwrap()
    );
    let all = alarms.list(None, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].alarm.peer, "ezhou", "newest first");
    let theirs = alarms.list(Some("huangshi"), 10).await.unwrap();
    assert_eq!(
        theirs.iter().map(|a| a.alarm.info_id).collect::<Vec<_>>(),
        vec![43, 42]
    );
    // The report comes back as it was recorded, field for field.
    assert_eq!(theirs[1].alarm, alarm("huangshi", 42, "[overspeed] 超速"));
    assert_eq!(theirs[1].alarm.warn_time, Timestamp::from_secs(1_800_000_000));
    assert_eq!(alarms.get(theirs[1].id).await.unwrap(), Some(theirs[1].clone()));
}

//! The alert rules' saved states, and reading only the points received after a cursor.

use futures::TryStreamExt;
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::Store;
use tianshu_store::rule_states::SavedRuleState;
use tianshu_testkit::{T0_SECS, import_cars, point};

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(T0_SECS + secs)
}

/// Vehicle 1's points with fix times 0..100 s, received `delay_ms` after their fix: the first 60 in
/// order, then a backfill of 10 points with fix times in the middle, received much later.
async fn received_after_cursor(store: &Store, received_after: Timestamp) -> Vec<i64> {
    store
        .track_received_after(VehicleId(1), t(0), t(1_000), received_after)
        .await
        .unwrap()
        .try_collect::<Vec<Position>>()
        .await
        .unwrap()
        .iter()
        .map(|p| p.fix_time.secs() - T0_SECS)
        .collect()
}

pub async fn points_received_after_a_cursor_are_read_alone(store: Store) {
    // One point every 10 s, each received 1 s after its fix.
    let live: Vec<Position> = (0..60).map(|i| point(1, i * 10)).collect();
    store.append_points(&live).await.unwrap();
    // A blind-area backfill of fixes in the middle, received at 900 s.
    let backfill: Vec<Position> = (0..10)
        .map(|i| Position {
            recv_time: t(900),
            ..point(1, 205 + i * 10)
        })
        .collect();
    store.append_points(&backfill).await.unwrap();
    // Another vehicle's late points never leak in.
    store
        .append_points(&[Position {
            recv_time: t(950),
            ..point(2, 300)
        }])
        .await
        .unwrap();

    // The cursor at the receive time of the live point at 400 s (received at 401 s): the later live
    // points and the whole backfill, in fix-time order; the point received at the cursor itself is not.
    let mut expected: Vec<i64> = (0..10).map(|i| 205 + i * 10).collect();
    expected.extend((41..60).map(|i| i * 10));
    expected.sort_unstable();
    assert_eq!(received_after_cursor(&store, t(401)).await, expected);
    // After the backfill's receive time: nothing; before every point: the whole track.
    assert!(received_after_cursor(&store, t(900)).await.is_empty());
    assert_eq!(received_after_cursor(&store, t(-10)).await.len(), 70);
    assert_eq!(
        received_after_cursor(&store, Timestamp(i64::MIN)).await.len(),
        70,
        "a cursor before the epoch counts as the epoch"
    );
    // The fix-time range still bounds the read.
    let bounded: Vec<Position> = store
        .track_received_after(VehicleId(1), t(250), t(300), t(401))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(bounded.len(), 5, "{bounded:?}");
}

fn state(vehicle: VehicleId, text: &str, secs: i64) -> SavedRuleState {
    SavedRuleState {
        vehicle,
        state: text.into(),
        received_up_to: t(secs),
        saved_at: t(secs + 5),
    }
}

pub async fn rule_states_are_saved_replaced_and_read_back(store: Store) {
    let cars = [("鄂B00001", 13_800_000_001), ("鄂B00002", 13_800_000_002)];
    import_cars(&store, "黄石市/市委办公室", &cars).await;
    let a = store.vehicle_by_plate("鄂B00001").await.unwrap().unwrap().id;
    let b = store.vehicle_by_plate("鄂B00002").await.unwrap().unwrap().id;
    assert!(store.rule_states().load().await.unwrap().is_empty());

    store
        .rule_states()
        .save(vec![state(a, r#"{"a":1}"#, 10), state(b, r#"{"b":1}"#, 20)])
        .await
        .unwrap();
    // A later save replaces a vehicle's state and leaves the others; an unregistered vehicle's state is
    // skipped without failing the rest.
    store
        .rule_states()
        .save(vec![
            state(a, r#"{"a":2}"#, 30),
            state(VehicleId(999_999), "{}", 30),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.rule_states().load().await.unwrap(),
        [state(a, r#"{"a":2}"#, 30), state(b, r#"{"b":1}"#, 20)]
    );
    assert_eq!(store.rule_states().clear().await.unwrap(), 2);
    assert!(store.rule_states().load().await.unwrap().is_empty());
}

//! A terminal registering again: its pending code beside the current one, settled or decided, and the
//! approval its unit (or a unit above it) requires.

use tianshu_model::registry_file::UnitChange;
use tianshu_model::{Edition, PendingState, Phone, Timestamp};
use tianshu_store::{Error, Reregistration, Store};
use tianshu_testkit::registry_record;

const PHONE: Phone = Phone(13_800_138_000);

fn again(hash: &str, same_address: bool) -> Reregistration {
    Reregistration {
        code_hash: hash.into(),
        edition: Edition::V2013,
        address: "10.0.0.2".into(),
        same_address,
    }
}

pub(crate) async fn a_reregistration_waits_beside_the_code_until_settled_or_decided(store: Store) {
    let record = registry_record("黄石市/市委办公室", "鄂B12345", PHONE.0, "T000001");
    store.import_registry(&[record]).await.unwrap();
    store
        .save_registration(PHONE, Edition::V2013, "old", None)
        .await
        .unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    let terminal = || async { store.terminal(PHONE).await.unwrap().unwrap() };
    let car = terminal().await.vehicle.unwrap();
    assert_eq!(store.vehicle(car).await.unwrap().unwrap().plate, "鄂B12345");
    assert_eq!(
        store.vehicle(tianshu_model::VehicleId(999_999)).await.unwrap(),
        None
    );

    // A pending code beside the current one, counted; a newer registration replaces it.
    let r = store
        .reregister(PHONE, &again("first", false), now)
        .await
        .unwrap();
    assert_eq!((r.state, r.reregistrations), (PendingState::Unproven, 1));
    let r = store
        .reregister(PHONE, &again("second", true), now)
        .await
        .unwrap();
    assert_eq!((r.state, r.reregistrations), (PendingState::SameAddress, 2));
    let t = terminal().await;
    assert_eq!(t.auth_code_hash.as_deref(), Some("old"), "the current code stays");
    let pending = t.pending.clone().unwrap();
    assert_eq!(
        (pending.code_hash.as_str(), pending.address.as_str()),
        ("second", "10.0.0.2")
    );
    assert_eq!((t.reregistrations, t.last_reregistered), (2, Some(now)));

    // Settling compares the pending code as read: a stale one changes nothing.
    let mut stale = pending.clone();
    stale.code_hash = "first".into();
    assert!(!store.settle_pending(PHONE, &stale, true, None).await.unwrap());
    assert!(
        store
            .settle_pending(PHONE, &pending, true, Some("860000000000001"))
            .await
            .unwrap()
    );
    let t = terminal().await;
    assert_eq!(t.auth_code_hash.as_deref(), Some("second"), "promoted");
    assert_eq!((t.pending, t.imei.as_deref()), (None, Some("860000000000001")));
    // Dropping leaves the current code.
    store
        .reregister(PHONE, &again("third", false), now)
        .await
        .unwrap();
    let p = terminal().await.pending.unwrap();
    assert!(store.settle_pending(PHONE, &p, false, None).await.unwrap());
    let t = terminal().await;
    assert_eq!((t.auth_code_hash.as_deref(), t.pending), (Some("second"), None));

    // A unit above the car's requires approval: an unproven registration waits, unless an IMEI is on
    // record (then the IMEI checks who uses the code).
    let city = store
        .units()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.name == "黄石市")
        .unwrap();
    let admin = store.registry_admin();
    let require = UnitChange {
        reregistration_approval: Some(true),
        ..Default::default()
    };
    assert!(
        admin
            .update_unit(city.id, &require)
            .await
            .unwrap()
            .reregistration_approval
    );
    let listed = store.units().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|u| u.id == city.id && u.reregistration_approval)
    );
    let r = store
        .reregister(PHONE, &again("fourth", false), now)
        .await
        .unwrap();
    assert_eq!(r.state, PendingState::Unproven, "an IMEI is on record");
    let kept = admin.update_terminal(PHONE, &Default::default()).await.unwrap();
    assert!(kept.pending.is_some(), "an edit without a reset keeps it");
    let reset = tianshu_model::registry_file::TerminalChange {
        reset_auth_code: true,
        ..Default::default()
    };
    let t = admin.update_terminal(PHONE, &reset).await.unwrap();
    assert_eq!(
        (t.auth_code_hash, t.pending),
        (None, None),
        "a reset clears both codes"
    );
    // A terminal without an IMEI, of a sub-unit: its unproven registration waits.
    let other = registry_record("黄石市/市委办公室/机要科", "鄂B12346", 13_800_138_001, "T000002");
    store.import_registry(&[other]).await.unwrap();
    let phone2 = Phone(13_800_138_001);
    store
        .save_registration(phone2, Edition::V2013, "code", None)
        .await
        .unwrap();
    let r = store
        .reregister(phone2, &again("waits", false), now)
        .await
        .unwrap();
    assert_eq!(r.state, PendingState::AwaitingApproval, "required two units up");
    let from_live = store.reregister(phone2, &again("live", true), now).await.unwrap();
    assert_eq!(
        from_live.state,
        PendingState::SameAddress,
        "the live address needs no approval"
    );
    store
        .reregister(phone2, &again("waits", false), now)
        .await
        .unwrap();

    // An administrator approves only what awaits approval, and rejects any.
    let approved = admin.decide_reregistration(phone2, true).await.unwrap();
    assert_eq!(approved.pending.unwrap().state, PendingState::Approved);
    let twice = admin.decide_reregistration(phone2, true).await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    let rejected = admin.decide_reregistration(phone2, false).await.unwrap();
    assert_eq!(
        (rejected.pending, rejected.auth_code_hash.as_deref()),
        (None, Some("code"))
    );
    let nothing = admin.decide_reregistration(phone2, false).await;
    assert!(matches!(nothing, Err(Error::Conflict(_))), "{nothing:?}");
    let unknown = store.reregister(Phone(1), &again("x", false), now).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

//! The upper platforms' forwarding positions (JT/T 809).

use tianshu_model::Timestamp;
use tianshu_store::Store;

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

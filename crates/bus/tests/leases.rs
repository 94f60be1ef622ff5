//! Rules leases against a real `nats-server` (one per test, on a free port): two instances share the
//! partitions with no partition held twice, one stopping cleanly hands its partitions over at once, and a
//! partition's committed points reach only its holder's followers.

use std::collections::BTreeSet;
use std::time::Duration;

use tianshu_bus::lease::{Held, Leases};
use tianshu_bus::wire::{encode_points, partition_of};
use tianshu_bus::{Bus, BusConfig};
use tianshu_model::VehicleId;
use tianshu_store::StoreConfig;
use tianshu_testkit::nats::NatsNode;
use tianshu_testkit::{Scratch, point, wait_until};
use tokio_util::sync::CancellationToken;

const PARTITIONS: u16 = 8;
const LIMIT: Duration = Duration::from_secs(60);

fn config(node: &NatsNode, instance: &str) -> BusConfig {
    BusConfig {
        servers: vec![node.url()],
        partitions: PARTITIONS,
        timeout_secs: 2,
        lease_secs: 3,
        instance: instance.into(),
        ..BusConfig::default()
    }
}

/// Whether `a` and `b` hold every partition between them, none twice, each some.
fn shared(a: &Held, b: &Held) -> bool {
    let (a, b): (BTreeSet<u16>, BTreeSet<u16>) = (
        a.partitions().into_iter().collect(),
        b.partitions().into_iter().collect(),
    );
    !a.is_empty() && !b.is_empty() && a.is_disjoint(&b) && a.len() + b.len() == usize::from(PARTITIONS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_partitions_and_a_stopping_one_hands_them_over() {
    let node = NatsNode::start();
    let scratch = Scratch::embedded("bus_leases");
    let store = scratch.open(&StoreConfig::default()).await;
    store.fan_out_externally();
    let mut follower = store.follow();
    let (a_bus, b_bus): (Bus, Bus) = (
        Bus::connect(&config(&node, "a")).await.expect("bus a"),
        Bus::connect(&config(&node, "b")).await.expect("bus b"),
    );
    let a = Leases::open(&a_bus).await.expect("leases a");
    let b = Leases::open(&b_bus).await.expect("leases b");
    let (held_a, held_b) = (a.held(), b.held());
    assert_eq!((held_a.instance(), held_b.instance()), ("a", "b"));
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let run_a = tokio::spawn(a.run(store.clone(), stop_a.clone().cancelled_owned()));
    tokio::spawn(b.run(store.clone(), stop_b.clone().cancelled_owned()));
    wait_until("a and b to share the partitions", LIMIT, || async {
        shared(&held_a, &held_b)
    })
    .await;

    // A committed point of one of a's partitions reaches the follower (through a's reader only).
    let vehicle = (1..)
        .find(|v| held_a.holds(partition_of(VehicleId(*v), PARTITIONS)))
        .expect("a vehicle of a's");
    let p = point(vehicle, 0);
    assert!(held_a.owns(p.vehicle) && !held_b.owns(p.vehicle));
    let mut payload = Vec::new();
    encode_points(&[p], &mut payload);
    let subject = tianshu_bus::config::committed_subject(partition_of(p.vehicle, PARTITIONS));
    let js = async_nats::jetstream::new(async_nats::connect(node.url()).await.expect("client"));
    js.publish(subject, payload.into())
        .await
        .expect("published")
        .await
        .expect("the committed stream took it");
    let got = tokio::time::timeout(LIMIT, follower.recv())
        .await
        .expect("the point in time")
        .expect("a batch");
    assert_eq!(got.points, vec![p]);

    // a stops cleanly: its leases are given up, and b takes every partition.
    stop_a.cancel();
    run_a.await.expect("a stops");
    assert!(held_a.partitions().is_empty());
    wait_until("b to hold every partition", LIMIT, || async {
        held_b.partitions().len() == usize::from(PARTITIONS)
    })
    .await;
    stop_b.cancel();
}

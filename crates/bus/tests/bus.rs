//! The bus against real `nats-server` processes (one per test, on a free port, JetStream in a scratch
//! directory) and real stores on both backends: points acknowledged only after the stream took them,
//! committed once by a writer, acknowledged to the stream after the commit, undecodable messages set
//! aside, and only committed points fed to the rules' follower.

use std::time::Duration;

use futures::StreamExt;
use tianshu_bus::config::{DEAD_LETTER_SUBJECT, points_subject};
use tianshu_bus::{Bus, BusConfig, BusError};
use tianshu_ingest::PointSink;
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::{Store, StoreConfig};
use tianshu_testkit::nats::{NatsNode, free_port};
use tianshu_testkit::{Scratch, WAIT, on_both_backends, point, wait_until};
use tokio_util::sync::CancellationToken;

fn config(node: &NatsNode) -> BusConfig {
    BusConfig {
        servers: vec![node.url()],
        partitions: 8,
        ack_wait_secs: 2,
        timeout_secs: 2,
        ..BusConfig::default()
    }
}

/// How many points of `vehicle` the store holds.
async fn stored(store: &Store, vehicle: i64) -> u64 {
    store
        .backend()
        .track_count(VehicleId(vehicle), Timestamp(0), Timestamp(i64::MAX / 2))
        .await
        .unwrap_or(0)
}

/// Starts the writer role and the committed feed on `store`; both stop with the token.
async fn start_roles(bus: &Bus, store: &Store) -> CancellationToken {
    let stop = CancellationToken::new();
    let feed = tianshu_bus::committed::Feed::open(bus, store.clone(), true)
        .await
        .expect("committed feed");
    tokio::spawn(feed.run(stop.clone().cancelled_owned()));
    let (bus, store, stopped) = (bus.clone(), store.clone(), stop.clone().cancelled_owned());
    tokio::spawn(async move {
        tianshu_bus::writer::run(bus, store, stopped)
            .await
            .expect("writer runs")
    });
    stop
}

#[tokio::test]
async fn an_unreachable_bus_is_one_error_naming_the_url() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let err = Bus::connect(&BusConfig {
        servers: vec![url.clone()],
        timeout_secs: 1,
        ..BusConfig::default()
    })
    .await
    .err()
    .expect("nothing listens there");
    assert!(matches!(err, BusError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

async fn points_go_through_the_bus_and_are_stored_once(scratch: Scratch) {
    let node = NatsNode::start();
    let bus = Bus::connect(&config(&node)).await.expect("bus");
    let store = scratch.open(&StoreConfig::default()).await;
    let mut follower = store.follow();
    let stop = start_roles(&bus, &store).await;
    let sink = tianshu_bus::publish::BusSink::spawn(&bus);
    let lags_before = tianshu_bus::metrics::METRICS
        .commit_lag_seconds
        .get_sample_count();
    // Twenty vehicles, each with ten frames, from concurrent "sessions"; then every frame retransmitted.
    for round in 0..2 {
        let mut frames = Vec::new();
        for v in 1..=20i64 {
            for s in 0..10 {
                frames.push(sink.append(vec![point(v, s)]));
            }
        }
        for r in futures::future::join_all(frames).await {
            let summary = r.expect("acknowledged after the stream took it");
            assert_eq!(summary.inserted, 1, "round {round}");
        }
    }
    for v in 1..=20 {
        wait_until("every vehicle's points stored", WAIT, || async {
            stored(&store, v).await == 10
        })
        .await;
    }
    // The follower (the rules' feed) saw each committed point, from the committed stream.
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 200 {
        let batch = tokio::time::timeout(WAIT, follower.recv())
            .await
            .expect("committed points")
            .expect("feed open");
        seen.extend(batch.points.iter().map(|p: &Position| (p.vehicle, p.fix_time)));
    }
    wait_until(
        "the stream emptied by the writer's acknowledgements",
        WAIT,
        || async {
            let mut s = bus_stream(&bus).await;
            s.info().await.map(|i| i.state.messages == 0).unwrap_or(false)
        },
    )
    .await;
    // Each committed message's lag from its PubAck was recorded (counted once the stream is empty: every
    // message was committed and then acknowledged).
    assert!(
        tianshu_bus::metrics::METRICS
            .commit_lag_seconds
            .get_sample_count()
            > lags_before,
        "the writer recorded no commit lag"
    );
    // The gateway works out the points stream's buffer horizon from the stream's state every 10 s: a
    // positive figure no longer than the stream keeps a message.
    let horizon = || tianshu_bus::metrics::METRICS.buffer_horizon_seconds.get();
    wait_until("the buffer horizon worked out", WAIT, || async {
        horizon() > 0.0
    })
    .await;
    assert!(
        horizon() <= config(&node).points_max_age_secs as f64,
        "{}",
        horizon()
    );
    drop(sink);
    stop.cancel();
}

async fn bus_stream(bus: &Bus) -> async_nats::jetstream::stream::Stream {
    let js = async_nats::jetstream::new(
        async_nats::connect(&bus.config().servers[0])
            .await
            .expect("client"),
    );
    js.get_stream(&bus.config().points_stream)
        .await
        .expect("points stream")
}

async fn a_batch_left_unacknowledged_is_delivered_again_and_stored_once(scratch: Scratch) {
    let node = NatsNode::start();
    let bus = Bus::connect(&config(&node)).await.expect("bus");
    let store = scratch.open(&StoreConfig::default()).await;
    let sink = tianshu_bus::publish::BusSink::spawn(&bus);
    let points: Vec<Position> = (0..30).map(|s| point(7, s)).collect();
    sink.append(points.clone()).await.expect("published");
    // A writer that takes the batch, commits it and dies before acknowledging it.
    {
        let stream = bus_stream(&bus).await;
        let consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                tianshu_bus::writer::WRITERS_CONSUMER,
                async_nats::jetstream::consumer::pull::Config {
                    durable_name: Some(tianshu_bus::writer::WRITERS_CONSUMER.into()),
                    filter_subject: "tianshu.points.*".into(),
                    ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(2),
                    max_ack_pending: 100_000,
                    ..Default::default()
                },
            )
            .await
            .expect("consumer");
        let mut batch = consumer.fetch().max_messages(10).messages().await.expect("fetch");
        let message = batch.next().await.expect("one message").expect("message");
        let taken = tianshu_bus::wire::decode_points(&message.payload).expect("decodes");
        store.append_points(&taken).await.expect("committed");
        drop(message);
    }
    assert_eq!(stored(&store, 7).await, 30);
    let stop = start_roles(&bus, &store).await;
    wait_until("the batch delivered again and acknowledged", WAIT, || async {
        let mut s = bus_stream(&bus).await;
        s.info().await.map(|i| i.state.messages == 0).unwrap_or(false)
    })
    .await;
    assert_eq!(stored(&store, 7).await, 30, "stored once");
    stop.cancel();
}

async fn an_undecodable_message_is_set_aside_and_its_partition_goes_on(scratch: Scratch) {
    let node = NatsNode::start();
    let bus = Bus::connect(&config(&node)).await.expect("bus");
    let store = scratch.open(&StoreConfig::default()).await;
    let client = async_nats::connect(node.url()).await.expect("client");
    let mut dead = client.subscribe(DEAD_LETTER_SUBJECT).await.expect("subscribe");
    client.flush().await.expect("flush");
    let js = async_nats::jetstream::new(client.clone());
    let partition = tianshu_bus::wire::partition_of(VehicleId(3), 8);
    js.publish(points_subject(partition), "not points".into())
        .await
        .expect("sent")
        .await
        .expect("stream took it");
    let sink = tianshu_bus::publish::BusSink::spawn(&bus);
    sink.append((0..5).map(|s| point(3, s)).collect())
        .await
        .expect("published");
    let before = tianshu_bus::metrics::METRICS.dead_letters.get();
    let stop = start_roles(&bus, &store).await;
    let letter = tokio::time::timeout(WAIT, dead.next())
        .await
        .expect("a dead letter")
        .expect("subscription");
    assert_eq!(&letter.payload[..], b"not points");
    let headers = letter.headers.expect("headers");
    assert_eq!(
        headers.get("Tianshu-Subject").map(|v| v.as_str().to_string()),
        Some(points_subject(partition))
    );
    wait_until("the partition's next points stored", WAIT, || async {
        stored(&store, 3).await == 5
    })
    .await;
    assert!(tianshu_bus::metrics::METRICS.dead_letters.get() > before);
    stop.cancel();
}

on_both_backends!(
    points_go_through_the_bus_and_are_stored_once,
    a_batch_left_unacknowledged_is_delivered_again_and_stored_once,
    an_undecodable_message_is_set_aside_and_its_partition_goes_on,
);

#[tokio::test]
async fn with_the_bus_lost_nothing_is_acknowledged_until_it_is_back() {
    let mut node = NatsNode::start();
    let bus = Bus::connect(&config(&node)).await.expect("bus");
    let sink = tianshu_bus::publish::BusSink::spawn(&bus);
    sink.append(vec![point(1, 0)]).await.expect("published while up");
    node.kill();
    wait_until("the client sees the bus gone", WAIT, || async {
        !bus.connected()
    })
    .await;
    // A point no writer could commit is refused before the bus, as the store refuses it.
    let mut far = point(1, 9);
    far.fix_time = Timestamp(-1);
    assert!(matches!(
        sink.append(vec![far]).await,
        Err(tianshu_store::Error::Invalid { .. })
    ));
    let refused = sink.append(vec![point(1, 1)]).await;
    assert!(refused.is_err(), "acknowledged without the bus: {refused:?}");
    node.restart();
    wait_until("the client back on the bus", WAIT, || async { bus.connected() }).await;
    wait_until("a point acknowledged again", WAIT, || async {
        sink.append(vec![point(1, 2)]).await.is_ok()
    })
    .await;
}

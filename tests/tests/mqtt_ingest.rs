//! MQTT ingest end to end: the real `tianshu serve --mqtt`, real Mosquitto, real PostgreSQL.
//!
//! Every test has its own database, its own client ids and its own topic prefix, so tests sharing the broker
//! at 127.0.0.1:1883 never see each other's messages. Tests whose broker settings matter (an unlimited queue
//! for a persistent session during a kill) start a Mosquitto of their own on a free loopback port.

use std::time::Duration;

use tianshu_e2e::mqtt::*;
use tianshu_e2e::*;
use tianshu_model::PositionSource;
use tianshu_store::Store;

const WAIT: Duration = Duration::from_secs(90);

/// An instance of a test's own: its database with `n` provisioned terminals, `tianshu serve` subscribed to
/// the test's topic prefix on the shared broker (the probe is terminal 0's first stored point).
struct Subscribed {
    _db: Scratch,
    store: Store,
    dir: ScratchDir,
    prefix: String,
    tianshu: Tianshu,
}

/// The fix times of terminal `i`'s stored points, in seconds after `T0`.
async fn fix_secs(store: &Store, i: u32) -> Vec<i64> {
    let points = stored(store, PHONE_BASE, i).await;
    points.iter().map(|p| p.fix_time.secs() - T0_SECS).collect()
}

impl Subscribed {
    /// An instance with `n` provisioned terminals, connected to the broker; its subscriptions may not
    /// be in place yet.
    async fn connected(name: &str, n: u32) -> Subscribed {
        let db = Scratch::postgres(name).await;
        let store = Store::open(&db.url()).await.expect("opening the store");
        provision(&store, PHONE_BASE, n).await;
        let dir = ScratchDir::new(name);
        let prefix = unique("t");
        let cfg = mqtt_config(BROKER, &unique("ts"), &prefix, "");
        let tianshu = Tianshu::start(&db.url(), &cfg, &[], &dir.0);
        wait_connected(&tianshu).await;
        Subscribed {
            _db: db,
            store,
            dir,
            prefix,
            tianshu,
        }
    }

    /// An instance whose subscriptions are certainly in place (a probe message was stored).
    async fn start(name: &str, n: u32) -> Subscribed {
        let s = Subscribed::connected(name, n).await;
        wait_subscribed(&s.tianshu, &s.store, &s.prefix, 0, &s.dir.0).await;
        s
    }
}

/// JSON positions and raw frames, each published twice (once by mosquitto_pub, once by rumqttc), are
/// stored exactly once, bound to the right vehicle, and the instance is ready with the broker connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_json_and_frames_from_two_clients_are_stored_once() {
    let t = Subscribed::connected("mqtt_once", 2).await;
    let (store, dir, prefix, tianshu) = (&t.store, &t.dir, &t.prefix, &t.tianshu);
    // Subscriptions are sent right after the connection acknowledgement; give the broker a moment to
    // register them by waiting for ready, then a probe message.
    wait_until("/readyz", WAIT, || async {
        http_get(tianshu.http, "/readyz").await.0 == 200
    })
    .await;

    let (json_phone, frame_phone) = (phone(PHONE_BASE, 0), phone(PHONE_BASE, 1));
    let publisher = rumqttc_publisher(1883, &unique("pub"));
    publish_first_until_stored(&publisher, store, prefix).await;

    for secs in 1..=20 {
        let json = json_position(json_phone, secs);
        let json_topic = format!("{prefix}/in/json/{}", json_phone.padded(12));
        mosquitto_pub(1883, &json_topic, json.as_bytes(), &dir.0);
        publisher
            .publish(&json_topic, rumqttc::QoS::AtLeastOnce, false, json.into_bytes())
            .await
            .unwrap();

        let frame = frame_0200(frame_phone, secs, secs as u16);
        let frame_topic = format!("{prefix}/in/jt808/{}", frame_phone.padded(12));
        mosquitto_pub(1883, &frame_topic, &frame, &dir.0);
        publisher
            .publish(&frame_topic, rumqttc::QoS::AtLeastOnce, false, frame)
            .await
            .unwrap();
    }
    wait_until("20 + 1 JSON and 20 frame points", WAIT, || async {
        stored(store, PHONE_BASE, 0).await.len() >= 21 && stored(store, PHONE_BASE, 1).await.len() >= 20
    })
    .await;
    // Everything sent twice (or more, for the first) has been processed: received == 2 * 40 + retries.
    wait_until("all copies processed", WAIT, || async {
        tianshu.metric("tianshu_mqtt_inflight_messages", "").await == 0.0
            && tianshu.metric("tianshu_mqtt_points_duplicate_total", "").await >= 40.0
    })
    .await;

    let json_points = stored(store, PHONE_BASE, 0).await;
    let frame_points = stored(store, PHONE_BASE, 1).await;
    assert_eq!(json_points.len(), 21, "each JSON position stored exactly once");
    assert_eq!(frame_points.len(), 20, "each frame stored exactly once");
    assert!(
        json_points
            .iter()
            .all(|p| p.source == PositionSource::Json && p.phone == json_phone)
    );
    assert!(
        frame_points
            .iter()
            .all(|p| p.source == PositionSource::Live && p.phone == frame_phone)
    );
    assert_eq!(json_points[1].speed_dkmh, 405);
    assert_eq!(json_points[1].fix_time.secs(), T0_SECS + 1);
    assert_eq!(frame_points[0].lat_e6, 30_300_010);
    assert_eq!(
        tianshu.metric("tianshu_mqtt_messages_rejected_total", "").await,
        0.0
    );
}

/// Not JSON, wrong types, impossible coordinates, a mismatched topic, a frame of an unknown terminal and a
/// damaged frame are each refused with their reason, counted, acknowledged, and the next good message is
/// stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_bad_payloads_are_counted_and_do_not_stop_the_feed() {
    let t = Subscribed::start("mqtt_bad", 1).await;
    let (store, dir, prefix, tianshu) = (&t.store, &t.dir, &t.prefix, &t.tianshu);
    // Subscribed: terminal 0's probe (its fix at T0) is stored.
    let good = phone(PHONE_BASE, 0);
    let unknown = phone(PHONE_BASE, 99);
    let json_topic = |p: tianshu_model::Phone| format!("{prefix}/in/json/{}", p.padded(12));
    let frame_topic = |p: tianshu_model::Phone| format!("{prefix}/in/jt808/{}", p.padded(12));
    let before = tianshu.metrics().await;

    let mut damaged = frame_0200(good, 5, 5);
    let n = damaged.len();
    damaged[n - 2] ^= 0x55; // the checksum
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (json_topic(good), b"this is not json".to_vec(), "not_json"),
        (
            json_topic(good),
            json_position(good, 1).replace("40.5", "\"fast\"").into_bytes(),
            "bad_field",
        ),
        (
            json_topic(good),
            json_position(good, 2)
                .replace("\"lon\":115.04", "\"lon\":215.04")
                .into_bytes(),
            "bad_coordinates",
        ),
        (
            json_topic(good),
            json_position(good, 3)
                .replace("2026-11-27T00:00:03Z", "27/11/2026 08:00")
                .into_bytes(),
            "bad_time",
        ),
        (
            json_topic(unknown),
            json_position(good, 4).into_bytes(),
            "terminal_mismatch",
        ),
        (
            frame_topic(unknown),
            frame_0200(unknown, 4, 4),
            "unknown_terminal",
        ),
        (frame_topic(good), damaged, "bad_frame"),
        (
            format!("{prefix}/in/json/not-a-phone"),
            json_position(good, 6).into_bytes(),
            "bad_topic",
        ),
    ];
    for (topic, payload, _) in &cases {
        mosquitto_pub(1883, topic, payload, &dir.0);
    }
    // The next good message after all of them is stored.
    mosquitto_pub(1883, &json_topic(good), json_position(good, 7).as_bytes(), &dir.0);
    wait_until("the good message after the bad ones", WAIT, || async {
        stored(store, PHONE_BASE, 0)
            .await
            .iter()
            .any(|p| p.fix_time.secs() == T0_SECS + 7)
    })
    .await;
    let after = tianshu.metrics().await;
    for (topic, _, reason) in &cases {
        let label = format!("reason=\"{reason}\"");
        let delta = metric(&after, "tianshu_mqtt_messages_rejected_total", &label)
            - metric(&before, "tianshu_mqtt_messages_rejected_total", &label);
        assert_eq!(delta, 1.0, "one rejection counted as {reason} (topic {topic})");
    }
    let points = stored(store, PHONE_BASE, 0).await;
    assert_eq!(
        points
            .iter()
            .map(|p| p.fix_time.secs() - T0_SECS)
            .collect::<Vec<_>>(),
        vec![0, 7],
        "only the good messages are stored"
    );
    assert_eq!(
        tianshu.metric("tianshu_mqtt_connected", "").await,
        1.0,
        "the subscription survived"
    );
}

/// The provisioned car with `plate`.
async fn provisioned(store: &Store, plate: &str) -> tianshu_model::Vehicle {
    let found = store.vehicle_by_plate(plate).await;
    found.expect("reading the registry").expect("the vehicle")
}

/// Tianshu on the store `db`, taking in under `prefix` and publishing its `feed` (`positions` or `alerts`)
/// under `out`; and an acknowledged subscriber to that feed.
async fn publishing(
    db: &Scratch,
    dir: &ScratchDir,
    prefix: &str,
    feed: &str,
    out: &str,
) -> (
    Tianshu,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>, bool)>,
) {
    let extra = format!("[mqtt.publish]\n{feed} = true\nqos = 1\n{feed}_topic_prefix = \"{out}\"\n");
    let cfg = mqtt_config(BROKER, &unique("ts"), prefix, &extra);
    let tianshu = Tianshu::start(&db.url(), &cfg, &[], dir.path());
    let rx = subscriber(&format!("{out}/#")).await;
    (tianshu, rx)
}

/// Stored positions are published as JSON to `<prefix>/<unit>/<vehicle>`, retained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_stored_positions_are_published() {
    let db = Scratch::postgres("mqtt_pub").await;
    let store = Store::open(&db.url()).await.expect("opening the store");
    provision(&store, PHONE_BASE, 1).await;
    let vehicle = provisioned(&store, &plate(PHONE_BASE, 0)).await;
    let dir = ScratchDir::new("mqtt_pub");
    let prefix = unique("t");
    let out_prefix = format!("{prefix}/out/positions");
    let (tianshu, mut rx) = publishing(&db, &dir, &prefix, "positions", &out_prefix).await;

    wait_connected(&tianshu).await;
    let good = phone(PHONE_BASE, 0);
    let topic = format!("{prefix}/in/json/{}", good.padded(12));
    let mut secs = 0;
    let received = loop {
        mosquitto_pub(1883, &topic, json_position(good, secs).as_bytes(), &dir.0);
        secs += 1;
        match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            Ok(Some(m)) => break m,
            _ => assert!(secs < 60, "no position was published"),
        }
    };
    let (topic, payload, _) = received;
    assert_eq!(topic, format!("{out_prefix}/{}/{}", vehicle.unit.0, vehicle.id.0));
    let json: serde_json::Value = serde_json::from_slice(&payload).expect("a JSON position");
    assert_eq!(json["vehicle"], vehicle.id.0);
    assert_eq!(json["terminal"], good.to_string());
    assert_eq!(json["speed_kmh"], 40.5);
    assert_eq!(json["source"], "json");
    assert!(
        json["time"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-11-27T00:00:"))
    );
}

/// An alert case opened by the rules under `tianshu serve` is published to `<prefix>/<unit>/<vehicle>`:
/// a terminal on TCP reports points with main power lost (alarm bit 8, a `tamper` bit), the `tamper` rule
/// opens a case, and a subscriber on the alerts topics receives the `opened` event for that car.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_alert_events_are_published() {
    let db = Scratch::postgres("mqtt_alert").await;
    tianshu_e2e::gateway::provision(&db.url(), 1).await;
    let store = Store::open(&db.url()).await.expect("opening the store");
    let vehicle = provisioned(&store, &tianshu_e2e::gateway::plate(0)).await;
    let dir = ScratchDir::new("mqtt_alert");
    let prefix = unique("t");
    // The default prefix is `tianshu/v1/alerts`; under this test's own prefix so that concurrent tests
    // (whose scratch databases number their cars alike) do not see each other's events.
    let alerts_prefix = format!("{prefix}/tianshu/v1/alerts");
    let (tianshu, mut rx) = publishing(&db, &dir, &prefix, "alerts", &alerts_prefix).await;

    let mut terminal = tianshu_e2e::gateway::Terminal::connect(tianshu.jt808, tianshu_e2e::gateway::phone(0))
        .await
        .expect("connecting the terminal");
    terminal.login(0).await;
    // Main power lost (bit 8) on consecutive fixes a few seconds apart, each acknowledged (durable).
    let power_lost = tianshu_model::AlarmFlags(1 << 8);
    let mut t = 0;
    let received = loop {
        let mut p = tianshu_e2e::gateway::point(0, t);
        p.alarm = power_lost;
        let serial = terminal.report(&p).await;
        assert_eq!(
            terminal.ack_of(serial, Duration::from_secs(30)).await,
            Some(0),
            "the point is acknowledged"
        );
        t += 5;
        match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            Ok(Some(m)) => break m,
            _ => assert!(t < 600, "no alert event was published"),
        }
    };
    let (topic, payload, _) = received;
    assert_eq!(
        topic,
        format!("{alerts_prefix}/{}/{}", vehicle.unit.0, vehicle.id.0)
    );
    let json: serde_json::Value = serde_json::from_slice(&payload).expect("a JSON alert event");
    assert_eq!(json["rule"], "tamper");
    assert_eq!(json["event"], "opened");
    assert_eq!(json["vehicle"], serde_json::json!(vehicle.id));
    assert_eq!(json["plate"], tianshu_e2e::gateway::plate(0));
    assert!(json["case_id"].as_i64().is_some_and(|id| id > 0), "{json}");
}

/// Two instances on one shared subscription split the feed: every message stored once, both did work,
/// neither stored a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_shared_subscription_splits_the_feed() {
    let db = Scratch::postgres("mqtt_share").await;
    let store = Store::open(&db.url()).await.expect("opening the store");
    provision(&store, PHONE_BASE, 4).await;
    let dir = ScratchDir::new("mqtt_share");
    let prefix = unique("t");
    let group = unique("g");
    let shared_cfg = |id: &str| {
        format!(
            "[mqtt]\nurl = \"{BROKER}\"\nclient_id = \"{id}\"\nprotocol = \"5\"\n\n[[mqtt.subscriptions]]\n\
             filter = \"$share/{group}/{prefix}/in/json/+\"\npayload = \"json\"\n"
        )
    };
    let a = Tianshu::start(&db.url(), &shared_cfg(&unique("a")), &[], &dir.0);
    let b = Tianshu::start(&db.url(), &shared_cfg(&unique("b")), &[], &dir.0);
    for t in [&a, &b] {
        wait_connected(t).await;
    }
    // Both subscriptions in place: probes until each instance has received something.
    let publisher = rumqttc_publisher(1883, &unique("pub"));
    let probe_phone = phone(PHONE_BASE, 3);
    let mut probe = 0;
    let topic = format!("{prefix}/in/json/{}", probe_phone.padded(12));
    retry_until(
        "both instances to receive",
        WAIT,
        Duration::from_millis(200),
        || {
            probe += 1;
            let payload = json_position(probe_phone, probe).into_bytes();
            let (publisher, topic) = (publisher.clone(), topic.clone());
            async move {
                let _ = publisher
                    .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                    .await;
            }
        },
        || async {
            a.metric("tianshu_mqtt_messages_received_total", "").await > 0.0
                && b.metric("tianshu_mqtt_messages_received_total", "").await > 0.0
        },
    )
    .await;

    const N: i64 = 1500;
    let stored_total = || async {
        let mut total = 0;
        for i in 0..3 {
            total += stored(&store, PHONE_BASE, i).await.len() as i64;
        }
        total
    };
    for secs in 0..N {
        for i in 0..3u32 {
            publish_json(&publisher, &prefix, phone(PHONE_BASE, i), secs).await;
        }
        // In rounds of 300 messages: the broker queues at most 1,000 unacknowledged messages per
        // subscriber by default and drops the rest, and on a loaded machine the instances can fall
        // that far behind a publisher that never waits. That limit is the broker's, not under test.
        if (secs + 1) % 100 == 0 {
            wait_until("a round stored", WAIT, || async {
                stored_total().await == 3 * (secs + 1)
            })
            .await;
        }
    }
    wait_until("every message stored", WAIT, || async {
        stored_total().await == 3 * N
    })
    .await;
    let stored_by = |t: &Tianshu| {
        let t = t.http;
        async move {
            metric(
                &http_get(t, "/metrics").await.1,
                "tianshu_mqtt_points_stored_total",
                "",
            )
        }
    };
    let (sa, sb) = (stored_by(&a).await, stored_by(&b).await);
    let dup_a = a.metric("tianshu_mqtt_points_duplicate_total", "").await;
    let dup_b = b.metric("tianshu_mqtt_points_duplicate_total", "").await;
    let probes = stored(&store, PHONE_BASE, 3).await.len() as f64;
    assert!(
        sa > 0.0 && sb > 0.0,
        "both instances stored part of the feed: {sa} and {sb}"
    );
    assert_eq!(
        sa + sb,
        3.0 * N as f64 + probes,
        "nothing lost, nothing stored twice"
    );
    assert_eq!(dup_a + dup_b, 0.0, "no message was delivered to both instances");
}

/// SIGKILL while a publisher sends 10,000 QoS 1 messages, then a restart: every message the broker accepted
/// is stored exactly once. The broker is the test's own, with an unlimited queue for the persistent
/// session, so "accepted by the broker" is every message the publisher sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_sigkill_during_10000_messages_loses_and_doubles_nothing() {
    let broker = Mosquitto::start("max_queued_messages 0\nmax_inflight_messages 200\n");
    let db = Scratch::postgres("mqtt_kill").await;
    let store = Store::open(&db.url()).await.expect("opening the store");
    provision(&store, PHONE_BASE, 10).await;
    let dir = ScratchDir::new("mqtt_kill");
    let prefix = unique("t");
    let cfg = mqtt_config(&broker.url, "tianshu-kill-test", &prefix, "");
    let mut tianshu = Tianshu::start(&db.url(), &cfg, &[], &dir.0);
    wait_connected(&tianshu).await;
    // The persistent session holds the subscription from here on.
    let publisher = rumqttc_publisher(broker.port, &unique("pub"));
    let count = |store: Store| async move {
        let mut total = 0;
        for i in 0..10 {
            total += stored(&store, PHONE_BASE, i).await.len();
        }
        total
    };
    publish_first_until_stored(&publisher, &store, &prefix).await;

    // 10,000 messages, 1,000 per terminal, from a task; meanwhile kill Tianshu once some are stored.
    let sender = {
        let (publisher, prefix) = (publisher.clone(), prefix.clone());
        tokio::spawn(async move {
            for secs in 1..=1000i64 {
                for i in 0..10u32 {
                    publish_json(&publisher, &prefix, phone(PHONE_BASE, i), secs).await;
                }
                if secs % 50 == 0 {
                    // Pacing, so that the kill lands mid-stream: not a wait for anything.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };
    wait_until("some points stored before the kill", WAIT, || async {
        count(store.clone()).await > 1000
    })
    .await;
    tianshu.kill();
    let at_kill = count(store.clone()).await;
    sender.await.unwrap();
    let tianshu = Tianshu::start(&db.url(), &cfg, &[], &dir.0);
    wait_until(
        "all 10,001 points stored after the restart",
        Duration::from_secs(180),
        || async { count(store.clone()).await >= 10_001 },
    )
    .await;
    wait_until("the redeliveries processed", WAIT, || async {
        tianshu.metric("tianshu_mqtt_inflight_messages", "").await == 0.0
    })
    .await;
    let total = count(store.clone()).await;
    assert!(
        at_kill < 10_001,
        "the kill came in the middle of the feed ({at_kill} stored at the kill)"
    );
    assert_eq!(total, 10_001, "every message stored exactly once");
    for i in 0..10 {
        let points = stored(&store, PHONE_BASE, i).await;
        let mut times: Vec<i64> = points.iter().map(|p| p.fix_time.secs()).collect();
        times.dedup();
        assert_eq!(times.len(), points.len(), "no point of terminal {i} stored twice");
        assert_eq!(times.last().copied(), Some(T0_SECS + 1000));
    }
}

/// A 0x0704 batch of three reports whose middle one is garbled (its clock is not BCD): the two good
/// reports are stored, as over TCP, the garbled one is counted as a refused point with the codec's reason,
/// and the message is acknowledged, not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_a_batch_with_one_garbled_report_keeps_the_good_ones() {
    let t = Subscribed::start("mqtt_batch", 2).await;
    let (store, dir, prefix, tianshu) = (&t.store, &t.dir, &t.prefix, &t.tianshu);
    let before = tianshu.metrics().await;

    let terminal = phone(PHONE_BASE, 1);
    let topic = format!("{prefix}/in/jt808/{}", terminal.padded(12));
    let batch = frame_0704(terminal, &[10, 11, 12], Some(1), 1);
    mosquitto_pub(1883, &topic, &batch, &dir.0);
    wait_until("the batch to be processed and acknowledged", WAIT, || async {
        let now = tianshu.metrics().await;
        metric(&now, "tianshu_mqtt_messages_received_total", "payload=\"jt808\"") >= 1.0
            && metric(&now, "tianshu_mqtt_inflight_messages", "") == 0.0
    })
    .await;

    let after = tianshu.metrics().await;
    let delta = |name: &str, labels: &str| metric(&after, name, labels) - metric(&before, name, labels);
    let times = fix_secs(store, 1).await;
    assert_eq!(times, vec![10, 12], "the good reports of the batch are stored");
    assert_eq!(
        delta("tianshu_mqtt_points_rejected_total", "reason=\"invalid_bcd\""),
        1.0,
        "the garbled report is counted with the codec's reason"
    );
    assert_eq!(
        delta("tianshu_mqtt_messages_rejected_total", ""),
        0.0,
        "the message itself is not refused"
    );
}

/// A JSON position whose time is valid RFC 3339 but before 1970, which the store does not take, is
/// published first, then good positions right behind it (so they arrive together). The poison message is
/// refused with its reason, counted and acknowledged; the good ones are stored and acknowledged. Nothing
/// loops and nothing waits behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_a_poison_message_is_refused_alone_and_holds_nothing_back() {
    let t = Subscribed::start("mqtt_poison", 2).await;
    let (store, prefix, tianshu) = (&t.store, &t.prefix, &t.tianshu);
    let before = tianshu.metrics().await;

    let terminal = phone(PHONE_BASE, 1);
    let topic = format!("{prefix}/in/json/{}", terminal.padded(12));
    let poison = json_position(terminal, 0).replace("2026-11-27T00:00:00Z", "1969-12-31T23:59:59Z");
    assert!(
        poison.contains("1969"),
        "the poison message has its pre-1970 time"
    );
    let publisher = rumqttc_publisher(1883, &unique("pub"));
    let good: Vec<String> = (1..=20).map(|secs| json_position(terminal, secs)).collect();
    for payload in std::iter::once(&poison).chain(&good) {
        publisher
            .publish(
                &topic,
                rumqttc::QoS::AtLeastOnce,
                false,
                payload.clone().into_bytes(),
            )
            .await
            .unwrap();
    }
    wait_until(
        "every message stored or refused, and acknowledged",
        WAIT,
        || async {
            let now = tianshu.metrics().await;
            stored(store, PHONE_BASE, 1).await.len() == 20
                && metric(&now, "tianshu_mqtt_messages_rejected_total", "")
                    > metric(&before, "tianshu_mqtt_messages_rejected_total", "")
                && metric(&now, "tianshu_mqtt_inflight_messages", "") == 0.0
        },
    )
    .await;

    let after = tianshu.metrics().await;
    let label = "reason=\"fix_time_out_of_range\"";
    assert_eq!(
        metric(&after, "tianshu_mqtt_messages_rejected_total", label)
            - metric(&before, "tianshu_mqtt_messages_rejected_total", label),
        1.0,
        "the poison message is refused once, with its reason"
    );
    let times = fix_secs(store, 1).await;
    assert_eq!(
        times,
        (1..=20).collect::<Vec<_>>(),
        "every good message is stored"
    );
}

//! Roles over a bus, end to end: a 3-node NATS JetStream cluster (R3 streams) on free loopback ports, one
//! gateway process and two writer processes of the real binary against PostgreSQL, terminals over real TCP
//! keeping a ledger of every point the gateway acknowledged. Mid-run a NATS node is killed (SIGKILL), then
//! a writer. Afterwards every acknowledged point is stored exactly once. Each failover time is printed.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tianshu_e2e::gateway::{Ledger, provision, resilient_fleet};
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, wait_until, wait_watermark};
use tianshu_store::Store;
use tianshu_testkit::nats::nats_cluster;

const TERMINALS: u32 = 40;
const POINTS_EACH: i64 = 300;
const LIMIT: Duration = Duration::from_secs(180);

/// The configuration every process of the deployment shares.
fn config(servers: &[String]) -> String {
    let servers: Vec<String> = servers.iter().map(|s| format!("{s:?}")).collect();
    format!(
        "[jt808]\nheartbeat_interval_secs = 60\nshutdown_grace_secs = 2\n\n[bus]\nservers = [{}]\nreplicas = 3\npartitions = 16\nack_wait_secs = 2\ntimeout_secs = 2\n",
        servers.join(", ")
    )
}

fn role(url: &str, toml: &str, roles: &str, dir: &Path) -> Tianshu {
    Tianshu::start(url, toml, &["--roles", roles], dir)
}

/// How many of the ledger's points the store holds now.
async fn stored(store: &Store, ledger: &Mutex<Ledger>) -> usize {
    let acked = ledger.lock().expect("ledger lock").clone();
    let mut n = 0;
    for (i, points) in &acked.acked {
        let track = tianshu_e2e::gateway::stored_points(store, *i).await;
        n += track
            .iter()
            .filter(|p| points.contains_key(&tianshu_e2e::gateway::key(p)))
            .count();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_node_and_a_writer_killed_under_load_lose_no_acknowledged_point() {
    let mut nodes = nats_cluster(3);
    let servers: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    // The streams, R3, once the cluster has elected its leader.
    let bus_config = tianshu_bus::BusConfig {
        servers: servers.clone(),
        replicas: 3,
        partitions: 16,
        timeout_secs: 2,
        ..Default::default()
    };
    wait_until("the JetStream cluster to take R3 streams", LIMIT, || async {
        tianshu_bus::Bus::connect(&bus_config).await.is_ok()
    })
    .await;
    let scratch = Scratch::postgres("bus_failover").await;
    let url = scratch.url();
    provision(&url, TERMINALS).await;
    let store = Store::open(&url).await.expect("open the store");
    let dir = ScratchDir::new("bus-failover");
    let toml = config(&servers);
    let gateway = role(&url, &toml, "gateway", dir.path());
    let mut writer_a = role(&url, &toml, "writer", dir.path());
    let _writer_b = role(&url, &toml, "writer", dir.path());
    let addr = gateway.jt808;

    let (ledger, tasks) = resilient_fleet(addr, TERMINALS, POINTS_EACH).await;
    let acked = || async { ledger.lock().expect("ledger lock").len() };
    let total = (TERMINALS as usize) * (POINTS_EACH as usize);

    // A NATS node killed: the streams keep their quorum, clients move to the other nodes.
    wait_watermark("the load to build up", LIMIT, total / 6, acked).await;
    nodes[0].kill();
    let killed = Instant::now();
    let acked_then = acked().await;
    wait_watermark(
        "acknowledgements to go on without the node",
        LIMIT,
        acked_then + 100,
        acked,
    )
    .await;
    let nats_failover = killed.elapsed();

    // A writer killed mid-batch: the other one commits its redelivered messages.
    wait_watermark("more load", LIMIT, total / 3, acked).await;
    writer_a.kill();
    let killed = Instant::now();
    let acked_then = acked().await;
    wait_watermark(
        "the acknowledged points stored after the writer's death",
        LIMIT,
        acked_then,
        || stored(&store, &ledger),
    )
    .await;
    let writer_failover = killed.elapsed();
    assert!(
        acked_then < total,
        "the writer was killed while points still came in"
    );

    for t in tasks {
        t.await.expect("terminal task");
    }
    let ledger = ledger.lock().expect("ledger lock").clone();
    assert_eq!(ledger.len(), total, "every point acknowledged in the end");
    let done = Mutex::new(ledger.clone());
    wait_until("every acknowledged point committed", LIMIT, || async {
        stored(&store, &done).await == total
    })
    .await;
    assert_eq!(
        ledger.verify(&store).await,
        total,
        "every acknowledged point stored exactly once"
    );
    println!(
        "failover: writer killed -> its acknowledged points committed by the other writer in {:.1} s; NATS node killed -> acknowledgements going on in {:.1} s",
        writer_failover.as_secs_f64(),
        nats_failover.as_secs_f64()
    );
    drop(gateway);
}

#[test]
fn serve_with_an_unreachable_bus_exits_with_one_error_naming_it() {
    let scratch = Scratch::embedded("bus_unreachable");
    let bus = format!("nats://127.0.0.1:{}", tianshu_testkit::nats::free_port());
    let out = tianshu_e2e::run(
        &[
            "serve",
            "--store",
            &scratch.url(),
            "--jt808",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--bus",
            &bus,
        ],
        None,
        &[("TIANSHU__BUS__TIMEOUT_SECS", "1")],
    );
    assert!(!out.status.success());
    let err = tianshu_e2e::text(&out.stderr);
    assert!(err.contains(&format!("bus unreachable at {bus}")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_is_not_ready_while_its_bus_is_lost_and_ready_again_after() {
    let mut node = tianshu_testkit::nats::NatsNode::start();
    let scratch = Scratch::embedded("bus_readyz");
    let dir = ScratchDir::new("bus-readyz");
    let toml = format!("[bus]\nservers = [{:?}]\ntimeout_secs = 1\n", node.url());
    let gateway = role(&scratch.url(), &toml, "gateway", dir.path());
    let readyz = || async { tianshu_e2e::http_get(gateway.http, "/readyz").await };
    wait_until("ready with the bus", LIMIT, || async { readyz().await.0 == 200 }).await;
    node.kill();
    wait_until("not ready without the bus", LIMIT, || async {
        let (status, body) = readyz().await;
        status == 503 && body.contains("bus")
    })
    .await;
    node.restart();
    wait_until("ready again once the bus is back", LIMIT, || async {
        readyz().await.0 == 200
    })
    .await;
}

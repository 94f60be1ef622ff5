//! Roles over a bus, end to end: a 3-node NATS JetStream cluster (R3 streams) on free loopback ports, two
//! gateway processes and two writer processes of the real binary against a PostgreSQL cluster of the test's
//! own, 2,000 terminals over real TCP, each configured with both gateways (its own first), keeping a ledger
//! of every point a gateway acknowledged. Mid-run, one at a time: a gateway is killed (SIGKILL; its
//! terminals reconnect to the other), PostgreSQL is stopped and started again (the gateways keep
//! acknowledging onto the stream meanwhile), a NATS node is killed, then a writer. Afterwards every acknowledged point is stored
//! exactly once. Each failover time is printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tianshu_e2e::gateway::{Ledger, provision, resilient_fleet_over};
use tianshu_e2e::pg_cluster::PgCluster;
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, wait_until, wait_watermark};
use tianshu_store::Store;
use tianshu_testkit::nats::nats_cluster;

const TERMINALS: u32 = 2_000;
const POINTS_EACH: i64 = 150;
const LIMIT: Duration = Duration::from_secs(180);

/// The configuration every process of the deployment shares: a gateway takes every terminal from
/// loopback when the other one is gone.
fn config(servers: &[String]) -> String {
    let servers: Vec<String> = servers.iter().map(|s| format!("{s:?}")).collect();
    format!(
        "[jt808]\nheartbeat_interval_secs = 60\nshutdown_grace_secs = 2\nmax_connections_per_ip = 5000\n\n[bus]\nservers = [{}]\nreplicas = 3\npartitions = 16\nack_wait_secs = 2\ntimeout_secs = 2\n",
        servers.join(", ")
    )
}

fn role(url: &str, toml: &str, roles: &str, dir: &Path) -> Tianshu {
    Tianshu::start(url, toml, &["--roles", roles], dir)
}

/// Rows in `points` now: at least as many as the acknowledged points once they are all committed.
async fn rows(url: &str) -> i64 {
    let Ok((client, conn)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
        return 0;
    };
    tokio::spawn(conn);
    match client.query_one("SELECT count(*) FROM points", &[]).await {
        Ok(row) => row.get(0),
        Err(_) => 0,
    }
}

/// Waits until `points` holds at least `n` rows: a failover's time as a row count sees it (rows may include
/// points committed and not yet acknowledged, so it can only be early; the exact check is the ledger's,
/// at the end).
async fn rows_reach(url: &str, n: usize, what: &str) {
    wait_watermark(what, LIMIT, n as i64, || rows(url)).await;
}

/// Acknowledged points per terminal now.
fn acked_each(ledger: &Mutex<Ledger>) -> BTreeMap<u32, usize> {
    let ledger = ledger.lock().expect("ledger lock");
    ledger
        .acked
        .iter()
        .map(|(i, points)| (*i, points.len()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_a_nats_node_a_writer_and_postgresql_lost_under_load_lose_no_acknowledged_point() {
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
    let postgres = PgCluster::create("busfailover");
    let url = postgres.url();
    provision(&url, TERMINALS).await;
    let store = Store::open(&url).await.expect("open the store");
    let dir = ScratchDir::new("bus-failover");
    let toml = config(&servers);
    let mut gateway_a = role(&url, &toml, "gateway", dir.path());
    let gateway_b = role(&url, &toml, "gateway", dir.path());
    let mut writer_a = role(&url, &toml, "writer", dir.path());
    let _writer_b = role(&url, &toml, "writer", dir.path());

    let (ledger, tasks) =
        resilient_fleet_over(&[gateway_a.jt808, gateway_b.jt808], TERMINALS, POINTS_EACH).await;
    let acked = || async { ledger.lock().expect("ledger lock").len() };
    let total = (TERMINALS as usize) * (POINTS_EACH as usize);

    // A gateway killed: its terminals (the even ones) find the other and go on there.
    wait_watermark("the load to build up", LIMIT, total / 10, acked).await;
    let before = acked_each(&ledger);
    gateway_a.kill();
    let killed = Instant::now();
    let moved: Vec<u32> = (0..TERMINALS)
        .step_by(2)
        .filter(|i| before.get(i).copied().unwrap_or(0) < POINTS_EACH as usize)
        .collect();
    assert!(
        !moved.is_empty(),
        "the gateway was killed while its terminals still had points to send"
    );
    wait_until(
        "the killed gateway's terminals acknowledged by the other",
        LIMIT,
        || async {
            let now = acked_each(&ledger);
            moved
                .iter()
                .all(|i| now.get(i).copied().unwrap_or(0) > before.get(i).copied().unwrap_or(0))
        },
    )
    .await;
    let gateway_failover = killed.elapsed();

    // PostgreSQL stopped: the gateways go on acknowledging onto the stream (nothing can be committed
    // meanwhile); started again, the writers commit what the stream kept. (A terminal whose connection
    // breaks meanwhile cannot log in again until the registry is back: the test does this before the bus
    // is shaken.)
    wait_watermark("more load", LIMIT, total / 5, acked).await;
    postgres.ctl("stop");
    let acked_then = acked().await;
    wait_watermark(
        "acknowledgements to go on while PostgreSQL is down",
        Duration::from_secs(60),
        acked_then + 500,
        acked,
    )
    .await;
    let acked_while_down = acked().await - acked_then;
    postgres.ctl("start");
    let restarted = Instant::now();
    rows_reach(&url, acked().await, "rows for what was acknowledged meanwhile").await;
    let postgres_recovery = restarted.elapsed();

    // A NATS node killed: the streams keep their quorum, clients move to the other nodes.
    wait_watermark("more load", LIMIT, 2 * total / 5, acked).await;
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
    wait_watermark("more load", LIMIT, 3 * total / 5, acked).await;
    writer_a.kill();
    let killed = Instant::now();
    let acked_then = acked().await;
    rows_reach(
        &url,
        acked_then,
        "rows for the points acknowledged before the writer's death",
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
    wait_watermark("every acknowledged point committed", LIMIT, total as i64, || {
        rows(&url)
    })
    .await;
    assert_eq!(
        ledger.verify(&store).await,
        total,
        "every acknowledged point stored exactly once"
    );
    println!(
        "failover: gateway killed -> its {} terminals acknowledged by the other in {:.1} s; PostgreSQL stopped -> {} points acknowledged onto the stream while it was down, as many rows {:.1} s after it started again; NATS node killed -> acknowledgements going on in {:.1} s; writer killed -> as many rows as points acknowledged before it {:.1} s after (row counts, which can run ahead of the acknowledged points: lower bounds)",
        moved.len(),
        gateway_failover.as_secs_f64(),
        acked_while_down,
        postgres_recovery.as_secs_f64(),
        nats_failover.as_secs_f64(),
        writer_failover.as_secs_f64()
    );
    store.close().await.expect("closing");
    drop(gateway_b);
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

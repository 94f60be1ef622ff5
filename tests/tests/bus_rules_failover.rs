//! Rules instances sharing the partitions over a bus, end to end: a NATS JetStream node, a gateway and
//! writer process and two rules processes of the real binary against PostgreSQL. Terminals over real TCP
//! drive scripted overspeed episodes; mid-run the rules instance holding the most partitions is killed
//! (SIGKILL), the other takes its partitions over when their leases expire, and every scripted episode
//! still raises exactly one case. The takeover time is printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tianshu_e2e::gateway::{Terminal, phone, point, provision};
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, wait_until};
use tianshu_model::case::CaseFilter;
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::Store;
use tianshu_testkit::nats::NatsNode;

const TERMINALS: u32 = 12;
/// Overspeed episodes per terminal: two before the kill, one while the survivor takes over, one once it
/// has (read only from the partitions' committed stream: the survivor replayed the cars' stored tracks
/// when it took them, and reads nothing from the store for them again).
const EPISODES: i64 = 4;
/// Seconds of track per episode (points every 10 s), the car too fast for 70 s of it.
const EPISODE_SECS: i64 = 600;
const FAST_FROM: i64 = 100;
const FAST_TO: i64 = 170;
const PARTITIONS: f64 = 16.0;
const LIMIT: Duration = Duration::from_secs(180);
const ACK: Duration = Duration::from_secs(30);

/// The configuration every process of the deployment shares: short leases, the rules' timer every
/// second, rule states saved every second.
fn config(server: &str) -> String {
    format!(
        "[jt808]\nheartbeat_interval_secs = 60\n\n[alerts]\ntick_secs = 1\nstate_save_secs = 1\n\n[bus]\nservers = [{server:?}]\npartitions = 16\nack_wait_secs = 2\ntimeout_secs = 2\nlease_secs = 3\n"
    )
}

fn role(url: &str, toml: &str, roles: &str, dir: &Path) -> Tianshu {
    Tianshu::start(url, toml, &["--roles", roles], dir)
}

/// Terminal `i`'s points of episode `k`: 150 km/h between `FAST_FROM` and `FAST_TO`, 40 km/h around.
fn episode(i: u32, k: i64) -> Vec<Position> {
    (0..EPISODE_SECS / 10)
        .map(|s| {
            let t = k * EPISODE_SECS + s * 10;
            let fast = (FAST_FROM..=FAST_TO).contains(&(s * 10));
            Position {
                speed_dkmh: if fast { 1500 } else { 400 },
                ..point(i, t)
            }
        })
        .collect()
}

/// Every terminal reports `episodes` in turn, each point acknowledged.
async fn drive(terminals: &mut [Terminal], episodes: std::ops::Range<i64>) {
    for k in episodes {
        for (i, t) in terminals.iter_mut().enumerate() {
            t.report_all_acked(&episode(i as u32, k), ACK, &format!("terminal {i}"))
                .await;
        }
    }
}

/// The overspeed cases' starts, by vehicle.
async fn overspeed_cases(store: &Store) -> BTreeMap<VehicleId, Vec<Timestamp>> {
    let filter = CaseFilter {
        rule: Some("overspeed".into()),
        limit: 10_000,
        ..Default::default()
    };
    let mut by_vehicle: BTreeMap<VehicleId, Vec<Timestamp>> = BTreeMap::new();
    for c in store.cases().cases(&filter).await.expect("cases") {
        by_vehicle
            .entry(c.raised.vehicle)
            .or_default()
            .push(c.raised.start);
    }
    by_vehicle
}

/// Whether every vehicle has exactly one case for each of the first `episodes` scripted episodes, each
/// starting inside its fast span, and no other.
fn one_case_per_episode(cases: &BTreeMap<VehicleId, Vec<Timestamp>>, episodes: i64) -> bool {
    let base = point(0, 0).fix_time.millis();
    cases.len() == TERMINALS as usize
        && cases.values().all(|starts| {
            let mut seen: Vec<i64> = starts
                .iter()
                .filter_map(|s| {
                    let t = (s.millis() - base) / 1000;
                    let within = (FAST_FROM..=FAST_TO).contains(&t.rem_euclid(EPISODE_SECS));
                    within.then_some(t / EPISODE_SECS)
                })
                .collect();
            seen.sort();
            starts.len() == seen.len() && seen == (0..episodes).collect::<Vec<i64>>()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_rules_instance_loses_no_case_and_doubles_none() {
    let node = NatsNode::start();
    let scratch = Scratch::postgres("bus_rules_failover").await;
    let url = scratch.url();
    provision(&url, TERMINALS).await;
    let store = Store::open(&url).await.expect("open the store");
    let dir = ScratchDir::new("bus-rules-failover");
    let toml = config(&node.url());
    let gateway = role(&url, &toml, "gateway,writer", dir.path());
    let mut rules = [
        role(&url, &toml, "rules", dir.path()),
        role(&url, &toml, "rules", dir.path()),
    ];
    let held = "tianshu_bus_rules_partitions_held";
    wait_until(
        "the two rules instances to share the partitions",
        LIMIT,
        || async {
            let (a, b) = (rules[0].metric(held, "").await, rules[1].metric(held, "").await);
            a > 0.0 && b > 0.0 && a + b == PARTITIONS
        },
    )
    .await;

    let mut terminals = Vec::new();
    for i in 0..TERMINALS {
        let mut t = Terminal::connect(gateway.jt808, phone(i)).await.expect("connect");
        t.login(i).await;
        terminals.push(t);
    }
    drive(&mut terminals, 0..2).await;

    // The instance holding the most partitions killed while the cars go on.
    let most = match rules[0].metric(held, "").await >= rules[1].metric(held, "").await {
        true => 0,
        false => 1,
    };
    rules[most].kill();
    let killed = Instant::now();
    let survivor = &rules[1 - most];
    let driving = drive(&mut terminals, 2..3);
    let takeover = async {
        wait_until("the survivor to hold every partition", LIMIT, || async {
            survivor.metric(held, "").await == PARTITIONS
        })
        .await;
        killed.elapsed()
    };
    let ((), takeover) = tokio::join!(driving, takeover);

    wait_until("one case for each episode so far", LIMIT, || async {
        one_case_per_episode(&overspeed_cases(&store).await, 3)
    })
    .await;
    drive(&mut terminals, 3..EPISODES).await;
    wait_until("one case for each scripted episode", LIMIT, || async {
        one_case_per_episode(&overspeed_cases(&store).await, EPISODES)
    })
    .await;
    println!(
        "failover: rules instance killed -> its partitions held by the other in {:.1} s",
        takeover.as_secs_f64()
    );
    drop(gateway);
}

//! `kill -9` of the real server under load, then a restart on the same store: every point the platform
//! acknowledged before the crash is stored exactly once, and the terminals' retransmissions of what was
//! never acknowledged fill the rest (each point once, however often it was sent).

use std::time::Duration;

use tianshu_e2e::gateway::{provision, resilient_fleet, serve, serve_at};
use tianshu_e2e::{Scratch, ScratchDir, on_both_backends, wait_watermark};
use tianshu_store::Store;

const TERMINALS: u32 = 20;
const POINTS_EACH: i64 = 150;
/// Acknowledged points after which the server is killed.
const KILL_AFTER_ACKS: usize = 600;

async fn crash_and_recover(scratch: Scratch) {
    let dir = ScratchDir::new("gateway-crash");
    let dir = dir.path();
    let url = scratch.url();
    provision(&url, TERMINALS).await;
    let mut server = serve(&url, "heartbeat_interval_secs = 60\nshutdown_grace_secs = 2", dir);
    let addr = server.jt808;

    let (ledger, tasks) = resilient_fleet(addr, TERMINALS, POINTS_EACH).await;

    // Under load, kill -9.
    wait_watermark(
        "the load to build up",
        Duration::from_secs(120),
        KILL_AFTER_ACKS,
        || async { ledger.lock().expect("ledger lock").len() },
    )
    .await;
    server.kill();
    let acked_before_crash = ledger.lock().expect("ledger lock").clone();
    assert!(
        acked_before_crash.len() < (TERMINALS as usize) * (POINTS_EACH as usize),
        "killed mid-run"
    );

    // Everything acknowledged before the crash is durable: check it with the server down.
    {
        let store = Store::open(&url).await.expect("open the store after the crash");
        acked_before_crash.verify(&store).await;
    }

    // Restart on the same address; the terminals reconnect, authenticate with their codes, retransmit.
    let server = serve_at(
        &url,
        "heartbeat_interval_secs = 60\nshutdown_grace_secs = 2",
        dir,
        addr,
    );
    let mut retransmitted = 0;
    for t in tasks {
        retransmitted += t.await.expect("terminal task");
    }
    assert!(retransmitted > 0, "the crash left points to retransmit");
    drop(server);

    let ledger = ledger.lock().expect("ledger lock").clone();
    assert_eq!(
        ledger.len(),
        (TERMINALS as usize) * (POINTS_EACH as usize),
        "every point acknowledged in the end"
    );
    let store = Store::open(&url).await.expect("reopen the store");
    assert_eq!(
        ledger.verify(&store).await,
        ledger.len(),
        "every point stored exactly once"
    );
}

on_both_backends!(
    kill_9_under_load_loses_no_acknowledged_point,
    crash_and_recover,
    "gateway_crash"
);

//! `kill -9` of the real server under load, then a restart on the same store: every point the platform
//! acknowledged before the crash is stored exactly once, and the terminals' retransmissions of what was
//! never acknowledged fill the rest (each point once, however often it was sent).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tianshu_e2e::gateway::{Ledger, Terminal, phone, point, provision, serve, serve_at};
use tianshu_e2e::{Scratch, ScratchDir, on_both_backends, wait_for, wait_watermark};
use tianshu_jt808::{GeneralAck, Message};
use tianshu_model::Position;
use tianshu_store::Store;

const TERMINALS: u32 = 20;
const POINTS_EACH: i64 = 150;
const WINDOW: usize = 8;
/// Acknowledged points after which the server is killed.
const KILL_AFTER_ACKS: usize = 600;

/// Terminal `i` connected and authenticated with `code`; `None` while the server is away.
async fn rejoin(addr: SocketAddr, i: u32, code: String) -> Option<Terminal> {
    let mut t = Terminal::connect(addr, phone(i)).await.ok()?;
    match t.try_authenticate(&code).await {
        Some(0) => Some(t),
        Some(other) => panic!("terminal {i}: authentication answered {other} after restart"),
        None => None,
    }
}

/// A terminal that keeps going through a crash: on a lost connection it reconnects, authenticates with its
/// code and retransmits every point not yet acknowledged.
async fn resilient_terminal(addr: SocketAddr, i: u32, code: String, ledger: Arc<Mutex<Ledger>>) -> u64 {
    let mut next: i64 = 0;
    let mut unacked: BTreeMap<i64, Position> = BTreeMap::new();
    let mut retransmitted = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while next < POINTS_EACH || !unacked.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "terminal {i} did not finish"
        );
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let mut t = wait_for("the server to take the terminal back", left, || {
            rejoin(addr, i, code.clone())
        })
        .await;
        let mut in_flight: HashMap<u16, i64> = HashMap::new();
        let mut broken = false;
        for (s, p) in &unacked {
            match t.try_report(p).await {
                Ok(serial) => {
                    retransmitted += 1;
                    in_flight.insert(serial, *s);
                }
                Err(_) => broken = true,
            }
        }
        while !broken {
            while in_flight.len() < WINDOW && next < POINTS_EACH {
                let p = point(i, next);
                unacked.insert(next, p);
                match t.try_report(&p).await {
                    Ok(serial) => {
                        in_flight.insert(serial, next);
                    }
                    Err(_) => broken = true,
                }
                next += 1;
            }
            if in_flight.is_empty() {
                break;
            }
            // No answer for a while: the standard says retransmit; here that means reconnect and resend.
            let Some(frame) = t.recv(Duration::from_secs(5)).await else {
                break;
            };
            if let Ok(Message::PlatformAck(GeneralAck {
                reply_serial, result, ..
            })) = frame.message()
                && let Some(s) = in_flight.remove(&reply_serial)
                && result == 0
                && let Some(p) = unacked.remove(&s)
            {
                ledger.lock().expect("ledger lock").record(i, &p);
            }
        }
    }
    retransmitted
}

async fn crash_and_recover(scratch: Scratch) {
    let dir = ScratchDir::new("gateway-crash");
    let dir = dir.path();
    let url = scratch.url();
    provision(&url, TERMINALS).await;
    let mut server = serve(&url, "heartbeat_interval_secs = 60\nshutdown_grace_secs = 2", dir);
    let addr = server.jt808;

    let mut codes = Vec::new();
    for i in 0..TERMINALS {
        let mut t = Terminal::connect(addr, phone(i)).await.expect("connect");
        let (result, code) = t.register(i).await;
        assert_eq!(result, 0);
        codes.push(code.expect("a code"));
    }

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let tasks: Vec<_> = codes
        .into_iter()
        .enumerate()
        .map(|(i, code)| tokio::spawn(resilient_terminal(addr, i as u32, code, ledger.clone())))
        .collect();

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

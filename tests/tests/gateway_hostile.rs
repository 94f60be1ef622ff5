//! Hostile input against the real binary, with 100 well-behaved terminals reporting alongside.
//!
//! Each hostile client gets its clear outcome (an answer code or a closed connection), nothing it sends is
//! stored, and the well-behaved fleet (connecting from another loopback address, 127.0.0.2) loses no point
//! and no acknowledgement.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tianshu_e2e::gateway::{Ledger, Terminal, phone, point, provision, serve, stored_points};
use tianshu_e2e::{Scratch, assert_metrics_at_least};
use tianshu_jt808::{Header, Message, Subpackage};
use tianshu_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FLEET: u32 = 100;
const POINTS_EACH: i64 = 30;
/// Terminals 100.. are provisioned for the hostile clients.
const HOSTILE_BASE: u32 = 100;
const SLOW_CONNECTIONS: usize = 1_000;
const PER_IP_CAP: usize = 300;
/// Long enough that opening the 1,000 slow connections (sequential, slower on a loaded machine) ends well
/// before the first of them reaches its deadline: a connection closed by the deadline frees a place under
/// the per-address cap, and would blur which connections the cap refused.
const PRE_AUTH_SECS: u64 = 10;
const WAIT: Duration = Duration::from_secs(30);
/// Where the single hostile clients connect from: neither the slow flood's address (127.0.0.1, which it
/// fills to the per-address cap) nor the fleet's, so the cap never decides their outcome.
const LONE_CLIENTS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// A raw connection from [`LONE_CLIENTS`].
async fn lone_stream(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::new(LONE_CLIENTS, 0))
        .expect("binding 127.0.0.3");
    socket.connect(addr).await.expect("connect")
}

/// One well-behaved terminal: log in, report, await every acknowledgement (no retransmission allowed).
async fn good_terminal(addr: SocketAddr, i: u32) -> Vec<tianshu_model::Position> {
    let local = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut t = Terminal::connect_from(local, addr, phone(i))
        .await
        .expect("fleet connect");
    t.login(i).await;
    let mut acked = Vec::new();
    for chunk in 0..(POINTS_EACH / 10) {
        let sent: Vec<_> = (0..10).map(|s| point(i, chunk * 100 + s)).collect();
        t.report_all_acked(&sent, WAIT, &format!("fleet terminal {i}"))
            .await;
        acked.extend(sent);
        // Pacing, so that the fleet keeps reporting while the hostile clients run: not a wait.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    acked
}

/// 1,000 connections from 127.0.0.1 that send one byte and then nothing. Returns how many were closed at
/// once (over the per-address cap) and checks that every one is closed by the pre-authentication deadline.
async fn slow_connections(addr: SocketAddr) -> usize {
    let mut conns = Vec::with_capacity(SLOW_CONNECTIONS);
    for _ in 0..SLOW_CONNECTIONS {
        let mut s = TcpStream::connect(addr).await.expect("slow connect");
        let _ = s.write_all(&[0x7e]).await;
        conns.push(s);
    }
    let mut tasks = Vec::new();
    for mut s in conns {
        tasks.push(tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut b = [0u8; 64];
            let closed = matches!(
                tokio::time::timeout(Duration::from_secs(PRE_AUTH_SECS + 20), s.read(&mut b)).await,
                Ok(Ok(0)) | Ok(Err(_))
            );
            (closed, started.elapsed())
        }));
    }
    let mut immediately = 0;
    for t in tasks {
        let (closed, after) = t.await.expect("slow task");
        assert!(closed, "every slow connection is closed");
        if after < Duration::from_secs(PRE_AUTH_SECS) / 2 {
            immediately += 1;
        }
    }
    immediately
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_get_clear_outcomes_and_the_fleet_loses_nothing() {
    let scratch = Scratch::embedded("gateway_hostile");
    let Scratch::Embedded(dir) = &scratch else {
        unreachable!()
    };
    let url = scratch.url();
    provision(&url, HOSTILE_BASE + 10).await;
    let config = format!(
        "pre_auth_timeout_secs = {PRE_AUTH_SECS}\nmax_connections_per_ip = {PER_IP_CAP}\nerror_budget = 4\n\
         auth_failures_max = 3\nsubpackage_max_parts = 64\nheartbeat_interval_secs = 60"
    );
    let server = serve(&url, &config, dir);
    let addr = server.jt808;

    let fleet: Vec<_> = (0..FLEET).map(|i| tokio::spawn(good_terminal(addr, i))).collect();
    let slow = tokio::spawn(slow_connections(addr));

    // An unknown phone cannot register ("no such terminal") nor authenticate.
    let mut unknown = Terminal::connect_from(LONE_CLIENTS, addr, phone(9_999))
        .await
        .expect("connect");
    assert_eq!(unknown.register(9_999).await, (4, None));
    assert_eq!(
        unknown.authenticate("00000000000000000000000000000000").await,
        Some(1)
    );

    // A provisioned terminal that reports before authenticating is disconnected, unanswered.
    let before = HOSTILE_BASE;
    let mut eager = Terminal::connect_from(LONE_CLIENTS, addr, phone(before))
        .await
        .expect("connect");
    eager.report(&point(before, 1)).await;
    assert!(
        eager.closed_within(WAIT).await,
        "a report before authentication closes the connection"
    );
    assert!(eager.inbox.is_empty(), "and is not answered");

    // A wrong auth code is refused; after 3 failures even the right code is refused and the connection closed.
    let guessed = HOSTILE_BASE + 1;
    let mut guesser = Terminal::connect_from(LONE_CLIENTS, addr, phone(guessed))
        .await
        .expect("connect");
    let (result, code) = guesser.register(guessed).await;
    assert_eq!(result, 0);
    let code = code.expect("a code");
    for _ in 0..3 {
        assert_eq!(
            guesser.authenticate("0123456789ABCDEF0123456789ABCDEF").await,
            Some(1)
        );
    }
    assert_eq!(
        guesser.authenticate(&code).await,
        Some(1),
        "throttled: refused without checking"
    );
    assert!(guesser.closed_within(WAIT).await);

    // Garbage bytes with frame delimiters in them: closed at the first bad frame before authentication.
    let mut garbage = lone_stream(addr).await;
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| if i % 97 == 0 { 0x7e } else { (i * 31 % 251) as u8 })
        .collect();
    let _ = garbage.write_all(&noise).await;
    assert!(read_to_close(&mut garbage).await, "garbage closes the connection");

    // An endless frame: an opening 0x7e and 1 MiB without a closing one; memory stays capped and the
    // connection is closed.
    let mut endless = lone_stream(addr).await;
    let mut sent_all = endless.write_all(&[0x7e]).await.is_ok();
    for _ in 0..256 {
        if endless.write_all(&[0x11; 4096]).await.is_err() {
            sent_all = false;
            break;
        }
    }
    let _ = sent_all;
    assert!(
        read_to_close(&mut endless).await,
        "an endless frame closes the connection"
    );

    // An authenticated terminal claiming a 65535-part message: refused (result 1), nothing allocated for
    // it, and the connection still works.
    let claimer = HOSTILE_BASE + 2;
    let mut big = Terminal::connect_from(LONE_CLIENTS, addr, phone(claimer))
        .await
        .expect("connect");
    big.login(claimer).await;
    let mut header = Header::new(0x0704, big.phone, 7, big.edition);
    header.subpackage = Some(Subpackage {
        total: 65_535,
        index: 1,
    });
    big.send_frame(&header, &[0u8; 512]).await.expect("send part");
    assert_eq!(big.ack_of(7, WAIT).await, Some(1), "the claim is refused");
    let hb = big.heartbeat().await;
    assert_eq!(big.ack_of(hb, WAIT).await, Some(0), "the connection still works");
    let _ = big.send(&Message::Logout).await;

    let closed_at_once = slow.await.expect("slow connections");
    assert!(
        closed_at_once >= SLOW_CONNECTIONS - PER_IP_CAP - 50,
        "connections over the per-address cap are closed at once ({closed_at_once})"
    );

    let mut ledger = Ledger::default();
    for (i, task) in fleet.into_iter().enumerate() {
        for p in task.await.expect("fleet terminal") {
            ledger.record(i as u32, &p);
        }
    }
    assert_eq!(ledger.len(), (FLEET as usize) * (POINTS_EACH as usize));

    let metrics = server.metrics().await;
    assert_metrics_at_least(
        &metrics,
        &[
            (
                "tianshu_jt808_connections_refused_total",
                r#"reason="per_ip_cap""#,
                600.0,
            ),
            ("tianshu_jt808_auth_failures_total", r#"reason="wrong_code""#, 3.0),
            ("tianshu_jt808_auth_failures_total", r#"reason="throttled""#, 1.0),
            ("tianshu_jt808_subpackages_total", r#"outcome="refused""#, 1.0),
        ],
    );
    drop(server);

    let store = Store::open(&url).await.expect("reopen the store");
    assert_eq!(
        ledger.verify(&store).await,
        ledger.len(),
        "the fleet's points, each once, nothing else"
    );
    for hostile in [before, guessed, claimer] {
        assert!(
            stored_points(&store, hostile).await.is_empty(),
            "nothing stored for hostile terminal {hostile}"
        );
    }
}

async fn read_to_close(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

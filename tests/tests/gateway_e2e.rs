//! The gateway end to end: the real `tianshu serve` binary, real TCP on 127.0.0.1, a real store (embedded
//! and PostgreSQL). Terminals register, authenticate, report, backfill a blind area and retransmit; the
//! ledger of acknowledged points and the store agree exactly; an auth code survives a restart.

use std::time::Duration;

use tianshu_e2e::gateway::serve;
use tianshu_e2e::gateway::{Ledger, Terminal, phone, point, provision, sources, stored_points};
use tianshu_e2e::{Scratch, ScratchDir, assert_metrics_at_least, http_get, on_both_backends};
use tianshu_jt808::{Header, Message};
use tianshu_model::PositionSource;
use tianshu_store::Store;

const ACK: Duration = Duration::from_secs(20);

async fn scenario(scratch: Scratch) {
    let dir = ScratchDir::new("gateway-e2e");
    let dir = dir.path();
    let url = scratch.url();
    let terminals = 4u32;
    provision(&url, terminals).await;
    let mut server = serve(&url, "heartbeat_interval_secs = 60", dir);
    let mut ledger = Ledger::default();
    let mut codes = Vec::new();

    // Register, authenticate, report 20 live points each, pipelined, every one acknowledged.
    for i in 0..terminals {
        let mut t = Terminal::connect(server.jt808, phone(i)).await.expect("connect");
        codes.push(t.login(i).await);
        let mut sent = Vec::new();
        for s in 0..20 {
            let p = point(i, s * 10);
            sent.push((t.report(&p).await, p));
        }
        for (serial, p) in sent {
            assert_eq!(
                t.ack_of(serial, ACK).await,
                Some(0),
                "terminal {i} point {s:?} acknowledged",
                s = p.fix_time
            );
            ledger.record(i, &p);
        }

        match i {
            // A retransmission (same point, new serial) is acknowledged and stored once.
            0 => {
                let again = point(0, 50);
                let serial = t.report(&again).await;
                assert_eq!(t.ack_of(serial, ACK).await, Some(0));
            }
            // A blind-area backfill of 10 older points.
            1 => {
                let old: Vec<_> = (0..10).map(|s| point(1, -10_000 + s * 30)).collect();
                let serial = t.batch(&old, true).await;
                assert_eq!(t.ack_of(serial, ACK).await, Some(0));
                for p in &old {
                    ledger.record(1, p);
                }
            }
            // A normal batch (0x0704 type 0) and a heartbeat.
            2 => {
                let live: Vec<_> = (0..5).map(|s| point(2, 5_000 + s)).collect();
                let serial = t.batch(&live, false).await;
                assert_eq!(t.ack_of(serial, ACK).await, Some(0));
                for p in &live {
                    ledger.record(2, p);
                }
                let hb = t.heartbeat().await;
                assert_eq!(t.ack_of(hb, ACK).await, Some(0), "heartbeat answered ok");
            }
            // A message the platform does not handle is answered "unsupported", not ignored.
            _ => {
                let header = Header::new(0x0301, t.phone, 900, t.edition);
                t.send_frame(&header, &[1]).await.expect("send 0x0301");
                assert_eq!(t.ack_of(900, ACK).await, Some(3), "0x0301 answered unsupported");
                let logout = t.send(&Message::Logout).await;
                assert_eq!(t.ack_of(logout, ACK).await, Some(0), "logout answered");
                assert!(t.closed_within(ACK).await, "the platform closes after logout");
            }
        }
    }

    let metrics = server.metrics().await;
    let (status, body) = http_get(server.http, "/readyz").await;
    assert!(status == 200 && body.ends_with("ready\n"), "{status} {body}");
    let (status, body) = http_get(server.http, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_metrics_at_least(
        &metrics,
        &[
            ("tianshu_jt808_points_backfilled_total", "", 10.0),
            (
                "tianshu_jt808_unsupported_messages_total",
                r#"msg_id="0x0301""#,
                1.0,
            ),
            ("tianshu_jt808_ack_latency_seconds_count", "", 80.0),
        ],
    );

    // A graceful stop, then a restart on the same store: the auth code is still good.
    assert!(server.terminate().success(), "graceful shutdown exits 0");
    let server = serve(&url, "heartbeat_interval_secs = 60", dir);
    let mut t = Terminal::connect(server.jt808, phone(0))
        .await
        .expect("reconnect");
    assert_eq!(
        t.authenticate(&codes[0]).await,
        Some(0),
        "the auth code survives a restart"
    );
    let p = point(0, 100_000);
    let serial = t.report(&p).await;
    assert_eq!(t.ack_of(serial, ACK).await, Some(0));
    ledger.record(0, &p);
    // Re-registering while online from another host (a 2013 terminal, no IMEI to check) is refused with
    // "terminal already registered".
    let elsewhere = std::net::IpAddr::from([127, 0, 0, 2]);
    let mut twin = Terminal::connect_from(elsewhere, server.jt808, phone(0))
        .await
        .expect("connect from 127.0.0.2");
    assert_eq!(twin.register(0).await.0, 3);
    drop(server);

    let store = Store::open(&url).await.expect("reopen the store");
    let stored = ledger.verify(&store).await;
    assert_eq!(
        stored,
        ledger.len(),
        "nothing stored beyond what was acknowledged"
    );
    let backfill = sources(&stored_points(&store, 1).await);
    assert_eq!(
        backfill
            .values()
            .filter(|s| **s == PositionSource::Backfill)
            .count(),
        10
    );
    assert_eq!(
        backfill.values().filter(|s| **s == PositionSource::Live).count(),
        20
    );
}

on_both_backends!(
    register_authenticate_report_backfill_retransmit,
    scenario,
    "gateway_e2e"
);

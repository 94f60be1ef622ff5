//! The served binary saves each car's rule state when it stops cleanly and restores it at the next
//! start instead of replaying the car's track (embedded and PostgreSQL).

use std::time::Duration;

use tianshu_e2e::gateway::{Terminal, phone, point, provision, serve};
use tianshu_e2e::{Scratch, ScratchDir, on_both_backends};
use tianshu_testkit::{WAIT, wait_for};

const ACK: Duration = Duration::from_secs(20);

async fn resume_saved_served(scratch: Scratch) {
    let dir = ScratchDir::new("alerts-resume-served");
    let dir = dir.path();
    let url = scratch.url();
    provision(&url, 1).await;
    let mut server = serve(&url, "heartbeat_interval_secs = 60", dir);
    let mut t = Terminal::connect(server.jt808, phone(0)).await.expect("connect");
    t.login(0).await;
    for s in 0..20 {
        let serial = t.report(&point(0, s * 10)).await;
        assert_eq!(t.ack_of(serial, ACK).await, Some(0), "point {s} acknowledged");
    }
    wait_for("the rules to take the 20 points", WAIT, || async {
        (server.metric("tianshu_alerts_points_evaluated_total", "").await >= 20.0).then_some(())
    })
    .await;
    drop(t);
    assert!(server.terminate().success(), "graceful shutdown exits 0");

    // The car reported within `resume_hours`: the restarted rules bring its state up to date at once
    // (the timer's first run), from the saved state, feeding nothing again.
    let server = serve(&url, "heartbeat_interval_secs = 60", dir);
    wait_for("the car's saved rule state to be restored", WAIT, || async {
        (server
            .metric("tianshu_alerts_rule_states_restored_total", "")
            .await
            >= 1.0)
            .then_some(())
    })
    .await;
    assert_eq!(
        server
            .metric("tianshu_alerts_points_replayed_on_resume_total", "")
            .await,
        0.0,
        "no stored point is replayed"
    );
}

on_both_backends!(resume_saved_served, resume_saved_served, "alerts_resume");

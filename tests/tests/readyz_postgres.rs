//! `/readyz` follows PostgreSQL: ready, not ready (with the reason) while the database is stopped, ready
//! again when it returns, all while the same process keeps running and `/healthz` keeps answering.
//!
//! The test stops a database, so it uses a PostgreSQL cluster of its own (created with `pg_createcluster` on
//! a free loopback port, trust authentication, dropped at the end even when the test fails): the cluster
//! other tests use at 127.0.0.1:5432 is never touched.

use std::time::Duration;

use tianshu_e2e::pg_cluster::PgCluster;
use tianshu_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_postgresql_down_and_back_while_the_process_runs() {
    let cluster = PgCluster::create("readyz");
    let dir = ScratchDir::new("readyz");
    let mut tianshu = Tianshu::start(&cluster.url(), "", &[], &dir.0);
    let pid = tianshu.child.id();
    let wait = Duration::from_secs(60);

    wait_until("ready with the database up", wait, || async {
        http_get(tianshu.http, "/readyz").await.0 == 200
    })
    .await;
    assert_eq!(http_get(tianshu.http, "/readyz").await.1.trim(), "ready");

    cluster.ctl("stop");
    wait_until("not ready with the database down", wait, || async {
        http_get(tianshu.http, "/readyz").await.0 == 503
    })
    .await;
    let (_, reason) = http_get(tianshu.http, "/readyz").await;
    assert!(
        reason.starts_with("not ready: store"),
        "the reason names the store: {reason:?}"
    );
    assert_eq!(
        http_get(tianshu.http, "/healthz").await.0,
        200,
        "alive while not ready"
    );
    assert!(
        tianshu.child.try_wait().expect("checking the process").is_none(),
        "the process keeps running"
    );

    cluster.ctl("start");
    wait_until("ready again with the database back", wait, || async {
        http_get(tianshu.http, "/readyz").await.0 == 200
    })
    .await;
    assert!(
        tianshu.child.try_wait().expect("checking the process").is_none(),
        "still the same process"
    );
    assert_eq!(tianshu.child.id(), pid);
}

//! `/readyz` follows PostgreSQL: ready, not ready (with the reason) while the database is stopped, ready
//! again when it returns, all while the same process keeps running and `/healthz` keeps answering.
//!
//! The test stops a database, so it uses a PostgreSQL cluster of its own (created with `pg_createcluster` on
//! a free loopback port, trust authentication, dropped at the end even when the test fails): the cluster
//! other tests use at 127.0.0.1:5432 is never touched.

use std::process::Command;
use std::time::Duration;

use tianshu_e2e::*;

/// A PostgreSQL cluster of the test's own; dropped (stopped and removed) on drop.
struct Cluster {
    version: String,
    name: String,
    port: u16,
}

impl Cluster {
    fn create() -> Cluster {
        let version = std::fs::read_dir("/etc/postgresql")
            .expect("PostgreSQL server packages (/etc/postgresql) are required")
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .max()
            .expect("an installed PostgreSQL version");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let name = format!("readyz{}", std::process::id());
        let status = Command::new("pg_createcluster")
            .args([&version, &name, "-p", &port.to_string(), "--", "--auth=trust"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("running pg_createcluster");
        assert!(
            status.success(),
            "pg_createcluster failed (the test needs root, as in CI)"
        );
        let cluster = Cluster { version, name, port };
        // Only loopback, whatever the packaged defaults say.
        let conf = format!(
            "/etc/postgresql/{}/{}/postgresql.conf",
            cluster.version, cluster.name
        );
        let mut text = std::fs::read_to_string(&conf).expect("reading postgresql.conf");
        text.push_str("\nlisten_addresses = '127.0.0.1'\n");
        std::fs::write(&conf, text).expect("writing postgresql.conf");
        cluster.ctl("start");
        cluster
    }

    fn ctl(&self, action: &str) {
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, &self.name, action])
            .status()
            .expect("running pg_ctlcluster");
        assert!(status.success(), "pg_ctlcluster {action} failed");
        if action == "start" {
            tianshu_testkit::wait::wait_port("the test cluster to start", self.port, Duration::from_secs(10));
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_postgresql_down_and_back_while_the_process_runs() {
    let cluster = Cluster::create();
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

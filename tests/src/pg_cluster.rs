//! A PostgreSQL cluster of a test's own, for tests that stop or restart the database: created with
//! `pg_createcluster` on a free loopback port, trust authentication, dropped at the end even when the test
//! fails. The cluster other tests use at 127.0.0.1:5432 is never touched.

use std::process::Command;
use std::time::Duration;

/// A PostgreSQL cluster of the test's own; dropped (stopped and removed) on drop.
pub struct PgCluster {
    version: String,
    name: String,
    port: u16,
}

impl PgCluster {
    /// Creates and starts a cluster named after `name` and this process.
    pub fn create(name: &str) -> PgCluster {
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
        let name = format!("{name}{}", std::process::id());
        let status = Command::new("pg_createcluster")
            .args([&version, &name, "-p", &port.to_string(), "--", "--auth=trust"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("running pg_createcluster");
        assert!(
            status.success(),
            "pg_createcluster failed (the test needs root, as in CI)"
        );
        let cluster = PgCluster { version, name, port };
        // Only loopback, whatever the packaged defaults say; room for the pools of several processes.
        let conf = format!(
            "/etc/postgresql/{}/{}/postgresql.conf",
            cluster.version, cluster.name
        );
        let mut text = std::fs::read_to_string(&conf).expect("reading postgresql.conf");
        text.push_str("\nlisten_addresses = '127.0.0.1'\nmax_connections = 300\n");
        std::fs::write(&conf, text).expect("writing postgresql.conf");
        cluster.ctl("start");
        cluster
    }

    /// `pg_ctlcluster ACTION` (`start`, `stop`, `restart`); waits for the port after a start.
    pub fn ctl(&self, action: &str) {
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, &self.name, action])
            .status()
            .expect("running pg_ctlcluster");
        assert!(status.success(), "pg_ctlcluster {action} failed");
        if action != "stop" {
            tianshu_testkit::wait::wait_port("the test cluster to start", self.port, Duration::from_secs(10));
        }
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .status();
    }
}

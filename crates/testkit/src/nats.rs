//! Real `nats-server` processes for tests: one node or a JetStream cluster on free loopback ports, each
//! with its JetStream store in a scratch directory; a node is killed (SIGKILL) when dropped, or on demand.

use std::process::{Child, Command, Stdio};

use crate::ScratchDir;
use crate::wait::{WAIT, wait_port};

/// A port nothing listens on now (the kernel's choice for port 0, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// One `nats-server` with JetStream.
pub struct NatsNode {
    /// The client port.
    pub port: u16,
    /// The cluster port (0 for a lone node).
    pub cluster_port: u16,
    /// The arguments it was started with, to start it again.
    args: Vec<String>,
    child: Option<Child>,
    /// Its JetStream store, removed with it.
    _dir: ScratchDir,
}

impl NatsNode {
    /// A lone node with JetStream on a free port.
    pub fn start() -> NatsNode {
        let dir = ScratchDir::new("nats");
        let port = free_port();
        let args = vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-js".into(),
            "-sd".into(),
            dir.path().display().to_string(),
        ];
        NatsNode::spawn(port, 0, args, dir)
    }

    fn spawn(port: u16, cluster_port: u16, args: Vec<String>, dir: ScratchDir) -> NatsNode {
        let mut node = NatsNode {
            port,
            cluster_port,
            args,
            child: None,
            _dir: dir,
        };
        node.restart();
        node
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the node at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the node again with the same ports and store, and waits until it accepts clients.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("nats-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting nats-server (is the nats-server package installed?): {e}"));
        self.child = Some(child);
        wait_port("nats-server", self.port, WAIT);
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JetStream cluster of `n` nodes on loopback, routed to each other.
pub fn nats_cluster(n: usize) -> Vec<NatsNode> {
    let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
    let name = crate::unique("cluster").replace('.', "_");
    let routes = ports
        .iter()
        .map(|(_, c)| format!("nats-route://127.0.0.1:{c}"))
        .collect::<Vec<_>>()
        .join(",");
    ports
        .iter()
        .enumerate()
        .map(|(i, (port, cluster_port))| {
            let dir = ScratchDir::new("nats");
            let args = vec![
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
                "-n".into(),
                format!("n{i}"),
                "-js".into(),
                "-sd".into(),
                dir.path().display().to_string(),
                "--cluster_name".into(),
                name.clone(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{cluster_port}"),
                "--routes".into(),
                routes.clone(),
            ];
            NatsNode::spawn(*port, *cluster_port, args, dir)
        })
        .collect()
}

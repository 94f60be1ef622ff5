//! `deploy/cluster`: every file parses with the tool that runs it (Tianshu's configuration with
//! `tianshu config check`, the NATS nodes' with `nats-server -t`), and the files agree with each other: the
//! bus lists the three nodes the NATS configurations name, streams are R3, the roles the README starts are
//! roles the binary knows, and HAProxy sends terminals to both gateways.

use std::path::PathBuf;
use std::process::Command;

use tianshu_e2e::{repo_root, run_tianshu};

fn cluster(file: &str) -> PathBuf {
    repo_root().join("deploy/cluster").join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(cluster(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn the_cluster_configuration_parses_and_lists_the_three_nats_nodes_with_r3_streams() {
    let path = cluster("tianshu.toml").display().to_string();
    let (ok, out, err) = run_tianshu(&["config", "check", &path], &[]);
    assert!(ok, "{out}{err}");
    let (ok, shown, err) = run_tianshu(&["config", "show", &path], &[]);
    assert!(ok, "{err}");
    assert!(shown.lines().any(|l| l == "replicas = 3"), "{shown}");
    for n in 1..=3 {
        assert!(
            shown.contains(&format!("\"nats://nats-{n}:4222\"")),
            "nats-{n} on the bus: {shown}"
        );
    }
}

#[test]
fn every_nats_node_configuration_is_valid_and_routes_to_the_other_two() {
    for n in 1..=3 {
        let file = format!("nats/nats-{n}.conf");
        let out = Command::new("nats-server")
            .args(["-t", "-c"])
            .arg(cluster(&file))
            .output()
            .expect("running nats-server (Debian package nats-server)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("is valid"),
            "{file}: {text}"
        );
        let conf = read(&file);
        assert!(conf.contains(&format!("server_name: nats-{n}")), "{file}");
        assert!(conf.contains("jetstream"), "{file}: JetStream on");
        for other in 1..=3 {
            assert!(
                conf.contains(&format!("nats-route://nats-{other}:6222")),
                "{file} routes to nats-{other}"
            );
        }
    }
}

#[test]
fn the_units_start_roles_the_binary_knows_with_the_shared_configuration() {
    let unit = read("tianshu-role@.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert!(
        exec.contains("serve --config /etc/tianshu/tianshu.toml --roles %i"),
        "{exec}"
    );
    let readme = read("README.md");
    let roles: Vec<&str> = readme
        .split("tianshu-role@")
        .skip(1)
        .filter_map(|s| s.split(['`', ' ', '.']).next())
        .filter(|r| !r.is_empty() && *r != "<role>")
        .collect();
    for role in ["gateway", "writer", "rules", "api"] {
        assert!(roles.contains(&role), "the README starts a {role}: {roles:?}");
    }
    // The binary names its roles when refusing one it does not know.
    let (ok, _, err) = run_tianshu(&["serve", "--roles", "no-such-role"], &[]);
    assert!(!ok);
    let known = err
        .split("the roles are ")
        .nth(1)
        .map(|l| l.lines().next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("the binary lists its roles: {err}"));
    let known: Vec<&str> = known.split(", ").collect();
    for role in roles {
        assert!(known.contains(&role), "{role} is not among {known:?}");
    }
    let nats = read("nats-server.service");
    assert!(
        nats.lines()
            .any(|l| l == "ExecStart=/usr/sbin/nats-server -c /etc/nats/nats.conf")
    );
}

#[test]
fn haproxy_sends_terminals_to_both_gateways() {
    let cfg = read("haproxy.cfg");
    let gateways = cfg
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server gateway-") && l.contains(":6808"))
        .count();
    assert_eq!(gateways, 2, "{cfg}");
    assert!(cfg.contains("bind :6808") && cfg.contains("bind :8080"));
}

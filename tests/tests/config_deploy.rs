//! The operator's view of configuration and deploy/, through the real binary: the example is the documented
//! defaults, `config check` names the offending key and line, secrets are never printed, and the Prometheus
//! rules load in `promtool`.

use std::process::Command;

use tianshu_e2e::*;

fn example_path() -> String {
    repo_root()
        .join("deploy/tianshu.example.toml")
        .display()
        .to_string()
}

#[test]
fn config_default_prints_the_example_and_the_example_is_the_defaults() {
    let (ok, printed, _) = run_tianshu(&["config", "default"], &[]);
    assert!(ok);
    let example = std::fs::read_to_string(example_path()).expect("reading the example");
    assert_eq!(
        printed, example,
        "`tianshu config default` prints deploy/tianshu.example.toml"
    );

    let (ok, out, err) = run_tianshu(&["config", "check", &example_path()], &[]);
    assert!(ok, "the example is valid: {err}");
    assert!(out.ends_with(": ok\n"), "{out}");

    // The configuration the binary runs with: built-in defaults vs the example file.
    let (ok, defaults, _) = run_tianshu(&["config", "show"], &[]);
    assert!(ok);
    let (ok, from_example, _) = run_tianshu(&["config", "show", &example_path()], &[]);
    assert!(ok);
    assert_eq!(
        from_example, defaults,
        "every value in the example is the default"
    );
    assert!(defaults.contains("[mqtt.publish]") && defaults.contains("[store.writer]"));
}

/// Writes `text` as a configuration file in `dir` and runs `tianshu VERB FILE` (`check` or `show`) on it
/// with `env`: (success, stdout, stderr).
fn on_file(verb: &str, dir: &ScratchDir, text: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let file = dir.path().join(format!("{}.toml", unique("config")));
    std::fs::write(&file, text).expect("writing the configuration file");
    run_tianshu(&["config", verb, &file.display().to_string()], env)
}

#[test]
fn config_check_names_the_offending_key_and_line() {
    let dir = ScratchDir::new("config_check");
    let bad = "[store]\nurl = \"x.db\"\n\n[mqtt.publish]\nqos = 1\nretain_postions = true\n";
    let (ok, _, err) = on_file("check", &dir, bad, &[]);
    assert!(!ok, "an unknown key is an error");
    assert!(err.contains(":6:"), "the line is named: {err}");
    assert!(
        err.contains("mqtt.publish.retain_postions"),
        "the key is named: {err}"
    );

    let (ok, _, err) = on_file("check", &dir, "[jt808]\nmax_connections = \"many\"\n", &[]);
    assert!(!ok);
    assert!(
        err.contains(":2:") && err.contains("jt808.max_connections"),
        "{err}"
    );

    // An environment override is checked like the file.
    let (ok, _, err) = on_file("check", &dir, "", &[("TIANSHU__LISTEN__JT80", "0.0.0.0:1")]);
    assert!(!ok);
    assert!(err.contains("listen.jt80"), "{err}");
}

#[test]
fn config_secrets_come_from_the_environment_and_are_never_printed() {
    let dir = ScratchDir::new("config_secrets");
    let url = "[store]\nurl = \"postgres://tianshu@db:5432/tianshu\"\n";
    let (ok, _, err) = on_file(
        "check",
        &dir,
        &format!("{url}password = \"hunter2-in-file\"\n"),
        &[],
    );
    assert!(!ok, "a password written in the file is refused");
    assert!(
        err.contains("TIANSHU__STORE__PASSWORD") && err.contains(":3:"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the refused secret is not echoed: {err}"
    );

    let env = [
        ("TIANSHU__STORE__PASSWORD", "hunter2-from-env"),
        ("TIANSHU__MQTT__PASSWORD", "broker-secret-from-env"),
        ("TIANSHU__MQTT__URL", "mqtt://broker:1883"),
    ];
    let (ok, shown, err) = on_file("show", &dir, url, &env);
    assert!(ok, "{err}");
    assert!(
        shown.contains("url = \"mqtt://broker:1883\""),
        "environment overrides apply: {shown}"
    );
    assert!(
        !shown.contains("hunter2") && !shown.contains("broker-secret"),
        "secrets are never printed"
    );
}

#[test]
fn config_promtool_accepts_the_alerting_rules() {
    let rules = repo_root().join("deploy/prometheus/alerts.yml");
    let out = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .expect("running promtool (Debian package prometheus)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool check rules failed:\n{text}");
    assert!(text.contains("SUCCESS"), "{text}");
    // The rules the operations guide promises.
    let yaml = std::fs::read_to_string(&rules).unwrap();
    for alert in [
        "TianshuIngestStalled",
        "TianshuAckLatencyHigh",
        "TianshuDatabaseUnreachable",
        "TianshuNotificationChannelFailing",
        "TianshuTerminalsOfflineEnMasse",
    ] {
        assert!(yaml.contains(&format!("alert: {alert}")), "missing rule {alert}");
    }
}

#[test]
fn config_promtool_fires_the_bus_alert_only_when_the_stream_would_fill_within_the_hour() {
    // A gateway's horizon and a writer's pending messages, as two instances export them: half an hour
    // left with messages waiting fires after its 5 minutes; two hours left, or nothing waiting, does not.
    let rules = repo_root().join("deploy/prometheus/alerts.yml");
    let dir = ScratchDir::new("promtool-bus");
    let case = |horizon: u32, pending: u32, fires: bool| {
        let alerts = if fires {
            format!(
                "        exp_alerts:\n          - exp_labels: {{severity: critical}}\n            exp_annotations:\n              summary: \"The points stream fills up within {}m 0s\"\n              description: \"Writers are not committing (database down or failing over, or too few writers): once the stream is full, gateways stop acknowledging and terminals retransmit. Check the writers and PostgreSQL; raise [bus] points_max_bytes to ride out longer outages.\"\n",
                horizon / 60
            )
        } else {
            "        exp_alerts: []\n".to_string()
        };
        format!(
            "  - interval: 1m\n    input_series:\n      - series: 'tianshu_bus_buffer_horizon_seconds{{instance=\"gw1\"}}'\n        values: '{horizon}x15'\n      - series: 'tianshu_bus_consumer_pending_messages{{instance=\"w1\",stream=\"TIANSHU_POINTS\"}}'\n        values: '{pending}x15'\n    alert_rule_test:\n      - eval_time: 10m\n        alertname: TianshuBusWritersBehind\n{alerts}"
        )
    };
    let tests = format!(
        "rule_files:\n  - {}\ntests:\n{}{}{}",
        rules.display(),
        case(1800, 500, true),
        case(7200, 500, false),
        case(1800, 0, false)
    );
    let file = dir.path().join("bus_alert_test.yml");
    std::fs::write(&file, tests).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .expect("running promtool (Debian package prometheus)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool test rules failed:\n{text}");
}

#[test]
fn config_deploy_files_agree_with_the_defaults() {
    let root = repo_root();
    let unit = std::fs::read_to_string(root.join("deploy/tianshu.service")).unwrap();
    for line in [
        "User=tianshu",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=tianshu",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit has {line}");
    }
    let nofile: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("LimitNOFILE="))
        .and_then(|v| v.parse().ok())
        .expect("LimitNOFILE");
    assert!(nofile >= 65_536, "descriptors for tens of thousands of terminals");

    // The compose file and Prometheus point at the ports the configuration listens on by default.
    let (_, defaults, _) = run_tianshu(&["config", "show"], &[]);
    let port = |key: &str| -> String {
        defaults
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
            .and_then(|v| v.trim_end_matches('"').rsplit(':').next().map(str::to_string))
            .unwrap_or_else(|| panic!("{key} in the defaults"))
    };
    let compose = std::fs::read_to_string(root.join("deploy/compose.yaml")).unwrap();
    let prometheus = std::fs::read_to_string(root.join("deploy/prometheus/prometheus.yml")).unwrap();
    let (jt808, http) = (port("jt808"), port("http"));
    assert!(
        compose.contains(&format!("\"{jt808}:{jt808}\"")),
        "compose publishes the JT/T 808 port {jt808}"
    );
    assert!(
        compose.contains(&format!("\"{http}:{http}\"")),
        "compose publishes the HTTP port {http}"
    );
    assert!(
        prometheus.contains(&format!("tianshu:{http}")),
        "Prometheus scrapes port {http}"
    );
    // Every dashboard query and alert names metrics with the project's prefix.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/dashboards/tianshu.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for title in [
        "Connections",
        "Frames/s by message",
        "Ack latency",
        "Points stored/s",
        "Backlog",
        "Rule evaluations/s",
        "Alerts by rule",
        "Notification failures",
        "Database latency",
    ] {
        assert!(titles.contains(&title), "the dashboard has a {title} panel");
    }
}

#[test]
fn config_log_format_json_writes_one_object_per_line() {
    use std::io::{BufRead, BufReader};
    let dir = ScratchDir::new("log_json");
    for (how, args, env) in [
        ("--log-format json", vec!["--log-format", "json"], vec![]),
        (
            "TIANSHU__LOG__FORMAT=json",
            vec![],
            vec![("TIANSHU__LOG__FORMAT", "json")],
        ),
    ] {
        let store = format!("sqlite:{}", dir.0.join(format!("{}.db", unique("log"))).display());
        let mut child = Command::new(tianshu_bin())
            .args(tianshu_e2e::serve_args(&store))
            .args(&args)
            .envs(env)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting tianshu serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut serving = None;
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("reading the log");
            let event: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{how}: not a JSON line ({e}): {line}"));
            assert!(
                event["level"].is_string() && event["timestamp"].is_string(),
                "{line}"
            );
            if event["message"] == "tianshu serving" {
                serving = Some(event);
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let serving = serving.unwrap_or_else(|| panic!("{how}: no `tianshu serving` event"));
        assert_eq!(serving["level"], "INFO");
        assert!(
            serving["jt808_addr"]
                .as_str()
                .is_some_and(|a| a.starts_with("127.0.0.1:")),
            "fields first: {serving}"
        );
    }
}

/// Every metric the dashboard and the alerting rules query is one the code registers: a renamed metric
/// would otherwise leave an empty panel or an alert that can never fire.
#[test]
fn config_deploy_queries_only_metrics_the_code_registers() {
    fn sources(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).expect("reading the sources").flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("node_modules") && !path.ends_with("target") {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let root = repo_root();
    let mut code = String::new();
    sources(&root.join("crates"), &mut code);
    let mut queried = std::collections::BTreeSet::new();
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/dashboards/tianshu.json",
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect("reading a deploy file");
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(at) = text[i..].find("tianshu_") {
            let start = i + at;
            let mut end = start;
            while end < bytes.len()
                && (bytes[end].is_ascii_lowercase() || bytes[end].is_ascii_digit() || bytes[end] == b'_')
            {
                end += 1;
            }
            let name = &text[start..end];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            queried.insert((file, family.to_string()));
            i = end;
        }
    }
    assert!(queried.len() > 10, "the deploy files query Tianshu's metrics");
    let missing: Vec<_> = queried
        .iter()
        .filter(|(_, name)| !code.contains(&format!("\"{name}\"")))
        .collect();
    assert!(missing.is_empty(), "queried but never registered: {missing:?}");
}

use super::*;

#[test]
fn empty_file_is_the_defaults() {
    assert_eq!(parse_str("").unwrap(), Config::default());
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let e = parse_str("[store]\nurl = \"x.db\"\n\n[jt808]\nmax_conections = 3\n").unwrap_err();
    assert_eq!(e.line, Some(5), "{e}");
    assert_eq!(e.key.as_deref(), Some("jt808.max_conections"), "{e}");
}

#[test]
fn a_replaced_key_names_its_replacement() {
    let text = "[store]\nurl = \"postgres://u@h/db\"\n\n[store.postgres]\npartition_months_ahead = 2\n";
    let e = parse_str(text).unwrap_err();
    assert_eq!(e.line, Some(5), "{e}");
    assert_eq!(
        e.key.as_deref(),
        Some("store.postgres.partition_months_ahead"),
        "{e}"
    );
    let said = e.to_string();
    assert!(said.contains("store.postgres.partition_days_ahead"), "{said}");
    assert!(!said.contains("unknown field"), "{said}");
    // Through the environment too, and an unknown key that was never a key stays unknown.
    let env = [(
        "TIANSHU__STORE__POSTGRES__PARTITION_MONTHS_AHEAD".to_string(),
        "2".to_string(),
    )];
    let e = load(None, &env).map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("partition_days_ahead"), "{e}");
    let e = parse_str("[store.postgres]\npartition_weeks_ahead = 2\n").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
    assert!(parse_str("[store.postgres]\npartition_days_ahead = 2\n").is_ok());
}

#[test]
fn wrong_type_is_named_with_its_line() {
    let e = parse_str("[store.writer]\n\nmax_batch_points = \"many\"\n").unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert_eq!(e.key.as_deref(), Some("store.writer.max_batch_points"), "{e}");
}

#[test]
fn a_pmtiles_basemap_is_not_shifted_to_gcj02() {
    let ok = parse_str("[web.basemap]\npmtiles = \"hubei.pmtiles\"\n").unwrap();
    assert_eq!(ok.web.basemap.pmtiles, "hubei.pmtiles");
    let e = parse_str("[web.basemap]\npmtiles = \"hubei.pmtiles\"\ngcj02 = true\n").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("web.basemap.gcj02"), "{e}");
    assert!(e.to_string().contains("WGS-84"), "{e}");
    assert!(
        parse_str("[web.basemap]\ntile_url = \"https://t{s}.example/{z}/{x}/{y}\"\ngcj02 = true\n").is_ok()
    );
}

#[test]
fn secrets_in_the_file_are_refused() {
    let e = parse_str("[store]\nurl = \"postgres://u@h/db\"\npassword = \"hunter2\"\n").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("store.password"));
    assert_eq!(e.line, Some(3));
    assert!(e.to_string().contains("TIANSHU__STORE__PASSWORD"), "{e}");
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn environment_overrides_the_file() {
    let dir = std::env::temp_dir().join(format!("tianshu-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.toml");
    std::fs::write(
        &file,
        "[store]\nurl = \"a.db\"\n[store.writer]\nmax_batch_points = 10\n",
    )
    .unwrap();
    let env = vec![
        (
            "TIANSHU__STORE__URL".to_string(),
            "postgres://tianshu@db:5432/tianshu".to_string(),
        ),
        (
            "TIANSHU__STORE__WRITER__MAX_BATCH_DELAY_MS".to_string(),
            "7".to_string(),
        ),
        ("TIANSHU__STORE__PASSWORD".to_string(), "p@ss word".to_string()),
        (
            "TIANSHU__MQTT__PUBLISH__POSITIONS".to_string(),
            "true".to_string(),
        ),
    ];
    let loaded = load(Some(&file), &env).unwrap();
    assert_eq!(loaded.config.store.url, "postgres://tianshu@db:5432/tianshu");
    assert_eq!(loaded.config.store.writer.max_batch_points, 10);
    assert_eq!(loaded.config.store.writer.max_batch_delay_ms, 7);
    assert!(loaded.config.mqtt.publish.positions);
    assert_eq!(
        loaded
            .config
            .store
            .url_with_password(loaded.secrets.store_password.as_ref()),
        "postgres://tianshu:p%40ss%20word@db:5432/tianshu"
    );
    assert!(!format!("{loaded:?}").contains("p@ss"));
    let bad = vec![("TIANSHU__STORE__URLL".to_string(), "x".to_string())];
    let e = load(Some(&file), &bad).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("store.urll"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn env_values_are_typed() {
    assert_eq!(parse_env_value("12"), toml::Value::Integer(12));
    assert_eq!(
        parse_env_value("sqlite:x.db"),
        toml::Value::String("sqlite:x.db".into())
    );
    assert_eq!(
        parse_env_value("0.0.0.0:6808"),
        toml::Value::String("0.0.0.0:6808".into())
    );
    assert_eq!(
        parse_env_value("2026-01-01"),
        toml::Value::String("2026-01-01".into())
    );
}

const EXAMPLE: &str = include_str!("../../../../deploy/tianshu.example.toml");

/// Leaf key paths of a TOML table (array-of-tables entries share their array's path).
fn leaf_keys(prefix: &str, value: &toml::Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_keys(&path, v, out);
            }
        }
        toml::Value::Array(items) if items.iter().all(toml::Value::is_table) && !items.is_empty() => {
            for item in items {
                leaf_keys(prefix, item, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// The example with its optional `# key = value` lines switched on.
pub(crate) fn uncommented(example: &str) -> String {
    example
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            // Commented optional tables: `# [alerts.notifications.email]`, `# [[...webhooks]]`.
            Some(rest)
                if rest.starts_with('[')
                    && rest.trim_end().ends_with(']')
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c)) =>
            {
                rest.to_string()
            }
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                }) =>
            {
                rest.to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_is_the_defaults() {
    assert_eq!(parse_str(EXAMPLE).unwrap(), Config::default());
}

#[test]
fn every_key_in_the_code_is_in_the_example() {
    let example = uncommented(EXAMPLE);
    // Every key of the example (optional ones included) is a key the code reads...
    let parsed = parse_str(&example).unwrap();
    let mut example_keys = std::collections::BTreeSet::new();
    leaf_keys(
        "",
        &toml::Value::Table(example.parse().unwrap()),
        &mut example_keys,
    );
    // ...and every key the code has, with the optional ones set, is in the example.
    let mut code_keys = std::collections::BTreeSet::new();
    leaf_keys("", &toml::Value::try_from(&parsed).unwrap(), &mut code_keys);
    let mut default_keys = std::collections::BTreeSet::new();
    leaf_keys(
        "",
        &toml::Value::try_from(Config::default()).unwrap(),
        &mut default_keys,
    );
    // A key whose default is an empty list of tables is present when the example has one of its tables.
    let present = |k: &String| {
        example_keys
            .iter()
            .any(|e| e == k || e.starts_with(&format!("{k}.")))
    };
    let missing: Vec<_> = code_keys.union(&default_keys).filter(|k| !present(k)).collect();
    assert!(
        missing.is_empty(),
        "keys missing from deploy/tianshu.example.toml: {missing:?}"
    );
    for spec in SECRETS {
        assert!(
            EXAMPLE.contains(&spec.env_var()),
            "the example does not mention {}",
            spec.env_var()
        );
        assert!(
            example_keys.contains(spec.file_key),
            "the example lacks {}",
            spec.file_key
        );
    }
}

const PEERS: &str = "[jt809]\nlisten = \"127.0.0.1:0\"\n\n[[jt809.lower]]\nname = \"city\"\naccess_code = 4200\n\
    user_id = 77\npassword_env = \"TIANSHU_CITY_PASSWORD\"\nunits = [\"City\"]\n\n[[upper]]\nname = \"province\"\n\
    address = \"127.0.0.1:9\"\naccess_code = 4200\nuser_id = 77\npassword_file = \"PASSWORD_FILE\"\nunits = [\"City\"]\n";

/// `PEERS` written to a file of a fresh directory, with its upper platform's password file holding `password`.
fn peers_file(name: &str, password: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tianshu-peers-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("province.password");
    std::fs::write(&secret, format!("{password}\n")).unwrap();
    let file = dir.join("t.toml");
    std::fs::write(
        &file,
        PEERS.replace("PASSWORD_FILE", &secret.display().to_string()),
    )
    .unwrap();
    file
}

fn city_password(value: &str) -> Vec<(String, String)> {
    vec![("TIANSHU_CITY_PASSWORD".to_string(), value.to_string())]
}

#[test]
fn peer_passwords_come_from_the_environment_or_a_file() {
    let file = peers_file("ok", "up123456");
    let loaded = load(Some(&file), &city_password("low12345")).unwrap();
    let (jt809, upper) = loaded.platform_links();
    assert_eq!(jt809.lower[0].password, "low12345");
    assert_eq!(upper[0].password, "up123456");
    // The settings keep only what the file says: `config show` and the debug form carry neither.
    let shown = toml::to_string_pretty(&loaded.config).unwrap();
    let debug = format!("{loaded:?}");
    for secret in ["low12345", "up123456"] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(
        shown.contains("password_env = \"TIANSHU_CITY_PASSWORD\""),
        "{shown}"
    );
    // A password written in the file is used as it is.
    let inline =
        parse_str(&PEERS.replace("password_env = \"TIANSHU_CITY_PASSWORD\"", "password = \"pw\"")).unwrap();
    assert_eq!(inline.jt809.lower[0].password, "pw");
}

#[test]
fn a_peer_password_that_cannot_be_read_is_named() {
    let file = peers_file("unset", "up123456");
    let e = load(Some(&file), &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("jt809.lower[0].password_env"));
    assert!(e.message.contains("TIANSHU_CITY_PASSWORD is not set"), "{e}");

    let long = peers_file("long", "longer-than-8");
    let e = load(Some(&long), &city_password("low12345")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("upper[0].password_file"));
    assert!(e.message.contains("longer than the 8 bytes"), "{e}");
    assert!(!e.to_string().contains("longer-than-8"), "{e}");

    let missing = PEERS.replace("PASSWORD_FILE", "/nonexistent/province.password");
    let dir = std::env::temp_dir().join(format!("tianshu-peers-{}-missing", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("t.toml"), missing).unwrap();
    let e = load(Some(&dir.join("t.toml")), &city_password("low12345")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("upper[0].password_file"));
    assert!(
        e.message.contains("cannot read /nonexistent/province.password"),
        "{e}"
    );

    let twice = PEERS.replace("password_env", "password = \"pw\"\npassword_env");
    let e = parse_str(&twice).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("jt809"));
    assert!(
        e.message
            .contains("set only one of password, password_env and password_file"),
        "{e}"
    );
}

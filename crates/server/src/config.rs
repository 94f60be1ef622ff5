//! The configuration file: one TOML document, one section per part of Tianshu.
//!
//! Each section is the owning crate's own settings struct (the gateway's `[jt808]`, the store's writer and
//! backends, `[mqtt]`...), so the documentation of a key lives once, on the field that reads it, with its
//! unit in its name and its default in a `default_*` function. `deploy/tianshu.example.toml` lists every key
//! with its default; a test holds the two together.
//!
//! Loading order: built-in defaults, then the file, then environment variables named after the key path
//! (`TIANSHU__STORE__URL` sets `store.url`; values are read as TOML scalars or inline arrays when they parse
//! as such, as strings otherwise), then command-line flags (applied by the subcommand). Unknown keys are
//! errors, wherever they come from.
//!
//! Secrets (the database, broker and SMTP passwords, webhook tokens, the audit key) are never read from the
//! file itself: only from their environment variable or from the file named by the matching `*_file` key.
//! They are kept in [`Secrets`], whose `Debug` output is redacted, and never serialised.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::logging::LogConfig;

/// The environment variable prefix; `__` separates key path levels.
pub const ENV_PREFIX: &str = "TIANSHU__";

/// Everything Tianshu can be configured with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Addresses Tianshu listens on.
    #[serde(default)]
    pub listen: ListenConfig,
    /// Where track points and the registry are stored.
    #[serde(default)]
    pub store: StoreSection,
    /// The JT/T 808 gateway: connection limits, timeouts, authentication.
    #[serde(default)]
    pub jt808: tianshu_ingest::GatewayConfig,
    /// MQTT ingest and publishing.
    #[serde(default)]
    pub mqtt: tianshu_mqtt::MqttConfig,
    /// JT/T 809: lower platforms that log in to this one.
    #[serde(default)]
    pub jt809: tianshu_platform::Jt809Config,
    /// JT/T 809: upper platforms this one forwards its cars' positions to, one `[[upper]]` table each.
    #[serde(default)]
    pub upper: Vec<tianshu_platform::UpperPlatform>,
    /// What every position takes before it is stored, whatever carried it (JT/T 808 over TCP or MQTT).
    #[serde(default)]
    pub uplink: tianshu_ingest::uplink::UplinkConfig,
    /// The web page and its API.
    #[serde(default)]
    pub web: tianshu_api::ApiConfig,
    /// What counts as misuse: office hours, exemptions, thresholds of each rule.
    #[serde(default)]
    pub rules: tianshu_rules::RulesConfig,
    /// Alert cases: escalation, routing and notification channels.
    #[serde(default)]
    pub alerts: tianshu_alerts::AlertsConfig,
    /// The audit log's key file and anchors.
    #[serde(default)]
    pub audit: crate::audit::AuditConfig,
    /// NATS JetStream, for running Tianshu as roles in several processes; none by default.
    #[serde(default)]
    pub bus: tianshu_bus::BusConfig,
}

/// The `[listen]` section: the sockets Tianshu binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// TCP address terminals connect to with JT/T 808.
    #[serde(default = "default_listen_jt808")]
    pub jt808: String,
    /// HTTP address of the web page, the API, `/metrics`, `/healthz` and `/readyz`.
    #[serde(default = "default_listen_http")]
    pub http: String,
    /// Most HTTP connections open at once, apart from the JT/T 808 gateway's own cap, so that idle or
    /// slow HTTP clients cannot take the descriptors terminals need; beyond it new ones wait in the backlog.
    #[serde(default = "default_http_max_connections")]
    pub http_max_connections: usize,
    /// Seconds an HTTP connection may take to send a request's headers, or stay idle between requests,
    /// before it is closed.
    #[serde(default = "default_http_header_timeout_secs")]
    pub http_header_timeout_secs: u64,
}

fn default_http_max_connections() -> usize {
    1024
}

fn default_http_header_timeout_secs() -> u64 {
    10
}

fn default_listen_jt808() -> String {
    "0.0.0.0:6808".to_string()
}

fn default_listen_http() -> String {
    "0.0.0.0:8080".to_string()
}

impl Config {
    /// The store's settings: its section, with PostgreSQL partitions reaching back `[uplink] far_past_days`
    /// (an older fix is unusual: such points share the default partition).
    pub fn store_config(&self) -> tianshu_store::StoreConfig {
        let mut store = self.store.store_config();
        store.postgres.partition_days_behind = self.uplink.far_past_days;
        store
    }
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            jt808: default_listen_jt808(),
            http: default_listen_http(),
            http_max_connections: default_http_max_connections(),
            http_header_timeout_secs: default_http_header_timeout_secs(),
        }
    }
}

impl ListenConfig {
    /// The HTTP listener's limits.
    pub fn http_limits(&self) -> crate::http_accept::HttpLimits {
        crate::http_accept::HttpLimits {
            max_connections: self.http_max_connections.max(1),
            header_timeout: std::time::Duration::from_secs(self.http_header_timeout_secs.max(1)),
            shutdown_grace: std::time::Duration::from_secs(5),
        }
    }
}

/// The `[store]` section: which store, and the settings of its writer and backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A file path (or `sqlite:PATH`) for the embedded store, or `postgres://USER@HOST:PORT/DB` for
    /// PostgreSQL/TimescaleDB. Leave the password out: it comes from `TIANSHU__STORE__PASSWORD` or
    /// `password_file`.
    #[serde(default = "default_store_url")]
    pub url: String,
    /// File holding the database password (first line); empty for none.
    #[serde(default)]
    pub password_file: String,
    /// The group-commit writer: batch size, batch delay, queue.
    #[serde(default)]
    pub writer: tianshu_store::WriterConfig,
    /// The embedded backend.
    #[serde(default)]
    pub embedded: tianshu_store::embedded::EmbeddedConfig,
    /// The PostgreSQL backend.
    #[serde(default)]
    pub postgres: tianshu_store::postgres::PostgresConfig,
    /// Track blocks: when old days are packed.
    #[serde(default)]
    pub blocks: tianshu_store::BlocksConfig,
}

fn default_store_url() -> String {
    tianshu_store::DEFAULT_STORE_PATH.to_string()
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            url: default_store_url(),
            password_file: String::new(),
            writer: Default::default(),
            embedded: Default::default(),
            postgres: Default::default(),
            blocks: Default::default(),
        }
    }
}

impl StoreSection {
    /// The store's own settings.
    pub fn store_config(&self) -> tianshu_store::StoreConfig {
        tianshu_store::StoreConfig {
            writer: self.writer.clone(),
            embedded: self.embedded.clone(),
            postgres: self.postgres.clone(),
            blocks: self.blocks.clone(),
        }
    }

    /// The URL to open, with the password (when there is one) put into a `postgres://` URL.
    pub fn url_with_password(&self, password: Option<&Secret>) -> String {
        let Some(password) = password else {
            return self.url.clone();
        };
        let Some(rest) = self
            .url
            .strip_prefix("postgres://")
            .or_else(|| self.url.strip_prefix("postgresql://"))
        else {
            return self.url.clone();
        };
        let scheme = &self.url[..self.url.len() - rest.len()];
        let (authority, tail) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let Some((user, host)) = authority.rsplit_once('@') else {
            return self.url.clone();
        };
        // A password already in the URL is the operator's choice; do not add a second one.
        if user.contains(':') {
            return self.url.clone();
        }
        format!(
            "{scheme}{user}:{}@{host}{tail}",
            percent_encode(password.expose())
        )
    }
}

/// Percent-encodes everything but unreserved characters, for a password inside a URL.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A secret value: redacted in `Debug`, never serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A secret Tianshu knows how to read: from its environment variable or from the file its `*_file` key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSpec {
    /// The key path of the secret (`store.password`); never a key of the file.
    pub key: &'static str,
    /// The key naming a file that holds it (`store.password_file`).
    pub file_key: &'static str,
}

impl SecretSpec {
    /// The environment variable that carries it (`TIANSHU__STORE__PASSWORD`).
    pub fn env_var(&self) -> String {
        format!("{ENV_PREFIX}{}", self.key.replace('.', "__").to_ascii_uppercase())
    }
}

/// Every secret.
pub const SECRETS: &[SecretSpec] = &[
    SecretSpec {
        key: "store.password",
        file_key: "store.password_file",
    },
    SecretSpec {
        key: "mqtt.password",
        file_key: "mqtt.password_file",
    },
    SecretSpec {
        key: "audit.key",
        file_key: "audit.key_file",
    },
    SecretSpec {
        key: "web.casework.reporter_key",
        file_key: "web.casework.reporter_key_file",
    },
];

/// Secret values, resolved from the environment or their files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// `store.password`.
    pub store_password: Option<Secret>,
    /// `mqtt.password`.
    pub mqtt_password: Option<Secret>,
    /// `audit.key`.
    pub audit_key: Option<Secret>,
    /// `web.casework.reporter_key`: seals reporters' phone numbers.
    pub reporter_key: Option<Secret>,
    /// The login password of each `[[jt809.lower]]` entry, in order, when it names a variable or file.
    pub lower_passwords: Vec<Option<Secret>>,
    /// The login password of each `[[upper]]` entry, in order, when it names a variable or file.
    pub upper_passwords: Vec<Option<Secret>>,
}

impl Secrets {
    fn slot(&mut self, key: &str) -> Option<&mut Option<Secret>> {
        match key {
            "store.password" => Some(&mut self.store_password),
            "mqtt.password" => Some(&mut self.mqtt_password),
            "audit.key" => Some(&mut self.audit_key),
            "web.casework.reporter_key" => Some(&mut self.reporter_key),
            _ => None,
        }
    }
}

/// A configuration that does not load, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the problem is in one.
    pub file: Option<PathBuf>,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The dotted key path, when known (`store.writer.max_batch_points`).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn plain(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: None,
            key: None,
            message: message.into(),
        }
    }
}

/// A loaded configuration and its secrets.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The settings.
    pub config: Config,
    /// The secrets.
    pub secrets: Secrets,
}

impl Loaded {
    /// The `[jt809]` section and the `[[upper]]` entries with every peer's login password in place,
    /// for the links to use (the settings themselves keep only what the file says).
    pub fn platform_links(
        &self,
    ) -> (
        tianshu_platform::Jt809Config,
        Vec<tianshu_platform::UpperPlatform>,
    ) {
        let fill = |password: &mut String, secret: Option<&Option<Secret>>| {
            if let Some(Some(secret)) = secret {
                *password = secret.expose().to_string();
            }
        };
        let mut jt809 = self.config.jt809.clone();
        for (i, peer) in jt809.lower.iter_mut().enumerate() {
            fill(&mut peer.password, self.secrets.lower_passwords.get(i));
        }
        let mut upper = self.config.upper.clone();
        for (i, peer) in upper.iter_mut().enumerate() {
            fill(&mut peer.password, self.secrets.upper_passwords.get(i));
        }
        (jt809, upper)
    }
}

/// Parses a configuration text without environment overrides, naming the offending key and line on error.
pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => return Err(toml_error(text, &e, None)),
    };
    check_no_secrets(&table, Some(text))?;
    let de = toml::Deserializer::new(text);
    let config: Config = serde_path_to_error::deserialize(de).map_err(|e| path_error(text, e))?;
    validate(&config)?;
    Ok(config)
}

/// Loads the configuration: defaults, then `file` (when given), then the `TIANSHU__*` variables of `env`.
/// Secrets are resolved from `env` and their files.
pub fn load(file: Option<&Path>, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
    let with_file = |mut e: ConfigError| {
        if e.file.is_none() {
            e.file = file.map(Path::to_path_buf);
        }
        e
    };
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
        })?,
        None => String::new(),
    };
    // The file alone first, so that its mistakes are reported with their line.
    let from_file = parse_str(&text).map_err(with_file)?;
    let overrides: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !SECRETS.iter().any(|s| s.env_var() == *k))
        .collect();
    let config = if overrides.is_empty() {
        from_file
    } else {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e| toml_error(&text, &e, None))
            .map_err(with_file)?;
        for (name, value) in overrides {
            apply_env(&mut table, name, value)?;
        }
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = error_key(e.path().to_string(), &e.inner().to_string());
            ConfigError {
                file: None,
                line: None,
                message: format!(
                    "{} (after environment overrides)",
                    replaced_key_message(key.as_deref(), e.inner().message().to_string())
                ),
                key,
            }
        })?;
        validate(&config)?;
        config
    };
    let secrets = resolve_secrets(&config, env)?;
    Ok(Loaded { config, secrets })
}

/// The process environment, for [`load`].
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect()
}

/// Sets the key named by `TIANSHU__A__B` in `table`.
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = name[ENV_PREFIX.len()..]
        .split("__")
        .map(|p| p.to_ascii_lowercase())
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::plain(format!(
            "environment variable {name}: empty key level"
        )));
    }
    let parsed = parse_env_value(value);
    let mut t = table;
    for (i, level) in path.iter().enumerate() {
        if i + 1 == path.len() {
            t.insert(level.clone(), parsed);
            return Ok(());
        }
        let entry = t
            .entry(level.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = match entry {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(ConfigError {
                    key: Some(path[..=i].join(".")),
                    message: format!(
                        "environment variable {name}: `{}` is not a section",
                        path[..=i].join(".")
                    ),
                    file: None,
                    line: None,
                });
            }
        };
    }
    Ok(())
}

/// An environment value: a TOML scalar or inline array when it parses as one, else the text itself.
fn parse_env_value(value: &str) -> toml::Value {
    let doc = format!("v = {value}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => match t.remove("v") {
            // Dates are not a type any key takes: keep such text as text.
            Some(toml::Value::Datetime(_)) | None => toml::Value::String(value.to_string()),
            Some(v) => v,
        },
        Err(_) => toml::Value::String(value.to_string()),
    }
}

/// A secret written into the file is refused, with where to put it instead.
fn check_no_secrets(table: &toml::Table, text: Option<&str>) -> Result<(), ConfigError> {
    for spec in SECRETS {
        let (section, name) = spec.key.rsplit_once('.').unwrap_or(("", spec.key));
        let mut t = Some(table);
        for level in section.split('.').filter(|l| !l.is_empty()) {
            t = t.and_then(|t| t.get(level)).and_then(toml::Value::as_table);
        }
        if t.is_some_and(|t| t.contains_key(name)) {
            return Err(ConfigError {
                file: None,
                line: text.and_then(|text| find_key_line(text, section, name)),
                key: Some(spec.key.to_string()),
                message: format!(
                    "secrets are not read from the configuration file: set {} or `{}`",
                    spec.env_var(),
                    spec.file_key
                ),
            });
        }
    }
    Ok(())
}

/// The line where `name` is set inside `[section]`, by a plain scan (good enough for an error message).
fn find_key_line(text: &str, section: &str, name: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(h) = l.strip_prefix('[') {
            current = h.trim_start_matches('[').trim_end_matches(']').trim().to_string();
            continue;
        }
        if let Some((k, _)) = l.split_once('=') {
            let k = k.trim().trim_matches('"');
            let full = if current.is_empty() {
                k.to_string()
            } else {
                format!("{current}.{k}")
            };
            let want = if section.is_empty() {
                name.to_string()
            } else {
                format!("{section}.{name}")
            };
            if full == want {
                return Some(i + 1);
            }
        }
    }
    None
}

fn resolve_secrets(config: &Config, env: &[(String, String)]) -> Result<Secrets, ConfigError> {
    let mut secrets = Secrets::default();
    for spec in SECRETS {
        let var = spec.env_var();
        let value = if let Some((_, v)) = env.iter().find(|(k, _)| *k == var) {
            Some(Secret::new(v.clone()))
        } else {
            let file = match spec.file_key {
                "store.password_file" => &config.store.password_file,
                "mqtt.password_file" => &config.mqtt.password_file,
                "audit.key_file" => &config.audit.key_file,
                "web.casework.reporter_key_file" => &config.web.casework.reporter_key_file,
                _ => continue,
            };
            if file.is_empty() {
                None
            } else {
                Some(read_secret_file(file, spec.file_key)?)
            }
        };
        if let Some(slot) = secrets.slot(spec.key) {
            *slot = value;
        }
    }
    let jt809 = &config.jt809;
    for (i, peer) in jt809.lower.iter().enumerate() {
        let key = format!("jt809.lower[{i}]");
        let password = peer_password(&key, &peer.password_env, &peer.password_file, env)?;
        secrets.lower_passwords.push(password);
    }
    for (i, peer) in config.upper.iter().enumerate() {
        let key = format!("upper[{i}]");
        let password = peer_password(&key, &peer.password_env, &peer.password_file, env)?;
        secrets.upper_passwords.push(password);
    }
    Ok(secrets)
}

/// The first line of the secret file `file`, which the key `file_key` names.
fn read_secret_file(file: &str, file_key: &str) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
        file: None,
        line: None,
        key: Some(file_key.to_string()),
        message: format!("cannot read {file}: {e}"),
    })?;
    Ok(Secret::new(text.lines().next().unwrap_or_default().to_string()))
}

/// A JT/T 809 peer's login password from the variable its `password_env` names or the file its
/// `password_file` names; `None` when it is written in the file (or absent).
fn peer_password(
    entry: &str,
    var: &str,
    file: &str,
    env: &[(String, String)],
) -> Result<Option<Secret>, ConfigError> {
    let (key, secret) = if !var.is_empty() {
        let key = format!("{entry}.password_env");
        let Some((_, value)) = env.iter().find(|(k, _)| k == var) else {
            return Err(ConfigError {
                file: None,
                line: None,
                key: Some(key),
                message: format!("the environment variable {var} is not set"),
            });
        };
        (key, Secret::new(value.clone()))
    } else if !file.is_empty() {
        let key = format!("{entry}.password_file");
        let secret = read_secret_file(file, &key)?;
        (key, secret)
    } else {
        return Ok(None);
    };
    tianshu_platform::config::check_password(secret.expose()).map_err(|message| ConfigError {
        file: None,
        line: None,
        key: Some(key),
        message,
    })?;
    Ok(Some(secret))
}

/// What serde cannot check.
fn validate(config: &Config) -> Result<(), ConfigError> {
    let keyed = |key: &str, message: String| ConfigError {
        file: None,
        line: None,
        key: Some(key.to_string()),
        message,
    };
    if config.store.url.is_empty() {
        return Err(keyed("store.url", "must not be empty".into()));
    }
    for (key, addr) in [
        ("listen.jt808", &config.listen.jt808),
        ("listen.http", &config.listen.http),
        ("jt809.listen", &config.jt809.listen),
    ] {
        if addr.parse::<std::net::SocketAddr>().is_err() && !addr.is_empty() {
            return Err(keyed(
                key,
                format!("{addr:?} is not an address like 0.0.0.0:6808"),
            ));
        }
    }
    config.log.validate().map_err(|m| keyed("log", m))?;
    config.mqtt.validate().map_err(|m| keyed("mqtt", m))?;
    config.jt809.validate().map_err(|m| keyed("jt809", m))?;
    for (i, upper) in config.upper.iter().enumerate() {
        upper.validate().map_err(|m| keyed(&format!("upper[{i}]"), m))?;
        if config.upper[..i].iter().any(|u| u.name == upper.name) {
            return Err(keyed(
                &format!("upper[{i}].name"),
                format!("{:?} is used twice", upper.name),
            ));
        }
    }
    config.rules.fuel.validate().map_err(|m| keyed("rules.fuel", m))?;
    config
        .rules
        .carpool
        .validate()
        .map_err(|m| keyed("rules.carpool", m))?;
    let basemap = &config.web.basemap;
    if basemap.gcj02 && !basemap.pmtiles.is_empty() {
        return Err(keyed(
            "web.basemap.gcj02",
            "a PMTiles basemap is drawn in WGS-84; gcj02 is for a GCJ-02 tile_url without pmtiles".into(),
        ));
    }
    Ok(())
}

fn toml_error(text: &str, e: &toml::de::Error, key: Option<String>) -> ConfigError {
    ConfigError {
        file: None,
        line: e.span().map(|s| tianshu_rules::line_of(text, s.start)),
        key,
        message: e.message().trim().to_string(),
    }
}

/// Keys a release replaced, with what the refusal says in place of "unknown field": the new key and what
/// changed. An old configuration naming one is refused with this, not just as unknown.
const REPLACED_KEYS: &[(&str, &str)] = &[(
    "store.postgres.partition_months_ahead",
    "was replaced by `store.postgres.partition_days_ahead`: PostgreSQL's points are partitioned by China day \
     now, so give the days of partitions made ahead of today (default 3) under that name",
)];

/// What to say of an "unknown field" error about `key`: the replacement when the key was replaced.
fn replaced_key_message(key: Option<&str>, message: String) -> String {
    match REPLACED_KEYS.iter().find(|(old, _)| Some(*old) == key) {
        Some((_, says)) if message.contains("unknown field") => (*says).to_string(),
        _ => message,
    }
}

/// The dotted key an error is about: the path serde reached, plus the field an "unknown field" names.
fn error_key(path: String, message: &str) -> Option<String> {
    let path = if path == "." { String::new() } else { path };
    let unknown = message
        .split("unknown field `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string);
    let key = match unknown {
        Some(field) if path.is_empty() => field,
        Some(field) if !path.ends_with(&field) => format!("{path}.{field}"),
        _ => path,
    };
    (!key.is_empty()).then_some(key)
}

fn path_error(text: &str, e: serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
    let key = error_key(e.path().to_string(), e.inner().message());
    let mut err = toml_error(text, e.inner(), key.clone());
    err.message = replaced_key_message(key.as_deref(), err.message);
    if let Some(k) = &key
        && err.line.is_none()
    {
        let (section, name) = k.rsplit_once('.').unwrap_or(("", k));
        err.line = find_key_line(text, section, name);
    }
    err
}

#[cfg(test)]
mod tests;

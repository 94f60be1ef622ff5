//! The `[jt809]` section: where lower platforms log in, and which ones may.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use tianshu_jt809::{Cipher, Edition};

/// Tianshu as an upper platform (上级平台): the main-link listener and the lower platforms it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jt809Config {
    /// TCP address lower platforms open their main link to; empty (the default): none is accepted.
    #[serde(default)]
    pub listen: String,
    /// Seconds a main link may stay silent (no keep-alive, no data) before it is closed: three times the
    /// standard's one-minute keep-alive.
    #[serde(default = "default_keepalive_timeout_secs")]
    pub keepalive_timeout_secs: u64,
    /// Largest escaped frame taken, delimiters included; a longer run closes the link.
    #[serde(default = "default_max_frame_bytes")]
    pub max_frame_bytes: usize,
    /// Seconds a peer has, once connected, to send its login before it is closed.
    #[serde(default = "default_login_timeout_secs")]
    pub login_timeout_secs: u64,
    /// The lower platforms allowed to log in.
    #[serde(default)]
    pub lower: Vec<LowerPlatform>,
    /// Seconds between keep-alives (0x9005) on the sub-links Tianshu opens back to its lower platforms
    /// (the standard's one minute). Connecting, logging in and each answer wait `login_timeout_secs`.
    #[serde(default = "default_keepalive_secs")]
    pub sub_link_keepalive_secs: u64,
    /// First delay before a broken sub-link is opened again; doubled after every failed attempt, while
    /// the lower platform's main link is up.
    #[serde(default = "default_sub_link_reconnect_min_backoff_ms")]
    pub sub_link_reconnect_min_backoff_ms: u64,
    /// Longest delay between two attempts to open a sub-link.
    #[serde(default = "default_reconnect_max_backoff_ms")]
    pub sub_link_reconnect_max_backoff_ms: u64,
}

/// One lower platform (下级平台) and what it may report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowerPlatform {
    /// A short name for logs and metrics labels (e.g. `wuhan`).
    pub name: String,
    /// Its access code (接入码, MSG_GNSSCENTERID in every header).
    pub access_code: u32,
    /// USERID of its login.
    pub user_id: u32,
    /// PASSWORD of its login (at most 8 bytes), written in the file; or leave it out and set one of
    /// `password_env` and `password_file`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// The environment variable holding the password instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_env: String,
    /// The file holding the password (first line) instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_file: String,
    /// The body cipher agreed with it, `M1,IA1,IC1`; empty: bodies are plain.
    #[serde(default)]
    pub key: String,
    /// The edition its links speak, `2011` or `2019`.
    #[serde(default = "default_edition")]
    pub edition: Edition,
    /// Names of the units whose cars (and whose sub-units' cars) it reports; a position of any other car
    /// is refused and counted.
    pub units: Vec<String>,
}

/// Where a peer's login password comes from: at most one of `password`, `password_env` and
/// `password_file` is set, and the one written in the file fits its field.
fn check_password_sources(password: &str, env: &str, file: &str) -> Result<(), String> {
    let set = [password, env, file].iter().filter(|v| !v.is_empty()).count();
    if set > 1 {
        return Err("set only one of password, password_env and password_file".into());
    }
    check_password(password)
}

/// A login password fits the 8 bytes of its field (written in the file or read from where
/// `password_env` or `password_file` point).
pub fn check_password(password: &str) -> Result<(), String> {
    if password.len() > 8 {
        return Err("password is longer than the 8 bytes of its field".into());
    }
    Ok(())
}

/// The cipher a `key` setting names, `None` for an empty one.
fn cipher_of(key: &str) -> Result<Option<Cipher>, String> {
    match key.trim() {
        "" => Ok(None),
        key => Cipher::parse(key).map(Some),
    }
}

const fn default_keepalive_timeout_secs() -> u64 {
    180
}

const fn default_max_frame_bytes() -> usize {
    tianshu_jt809::DEFAULT_MAX_FRAME_BYTES
}

const fn default_login_timeout_secs() -> u64 {
    30
}

const fn default_edition() -> Edition {
    Edition::V2011
}

impl Default for Jt809Config {
    fn default() -> Self {
        Jt809Config {
            listen: String::new(),
            keepalive_timeout_secs: default_keepalive_timeout_secs(),
            max_frame_bytes: default_max_frame_bytes(),
            login_timeout_secs: default_login_timeout_secs(),
            lower: Vec::new(),
            sub_link_keepalive_secs: default_keepalive_secs(),
            sub_link_reconnect_min_backoff_ms: default_sub_link_reconnect_min_backoff_ms(),
            sub_link_reconnect_max_backoff_ms: default_reconnect_max_backoff_ms(),
        }
    }
}

impl Jt809Config {
    /// Whether Tianshu accepts lower platforms.
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty()
    }

    /// Refuses what cannot work, naming the key: a duplicate access code, a password longer than its
    /// 8-byte field or given twice, a key that is not `M1,IA1,IC1`, a peer without units.
    pub fn validate(&self) -> Result<(), String> {
        if self.keepalive_timeout_secs == 0
            || self.login_timeout_secs == 0
            || self.sub_link_keepalive_secs == 0
        {
            return Err(
                "keepalive_timeout_secs, login_timeout_secs and sub_link_keepalive_secs must be at least 1"
                    .into(),
            );
        }
        for (i, peer) in self.lower.iter().enumerate() {
            let at = |m: String| format!("lower[{i}] ({}): {m}", peer.name);
            if peer.name.trim().is_empty() {
                return Err(at("name is empty".into()));
            }
            if self.lower[..i].iter().any(|p| p.access_code == peer.access_code) {
                return Err(at(format!("access_code {} is used twice", peer.access_code)));
            }
            check_password_sources(&peer.password, &peer.password_env, &peer.password_file).map_err(at)?;
            peer.cipher().map_err(at)?;
            if peer.units.is_empty() {
                return Err(at("units is empty: it would report no car".into()));
            }
        }
        Ok(())
    }
}

impl LowerPlatform {
    /// A lower platform with the given login and units and every other key at its default (a plain 2011
    /// link, the password to be set).
    pub fn new(name: &str, access_code: u32, user_id: u32, units: &[&str]) -> LowerPlatform {
        LowerPlatform {
            name: name.to_string(),
            access_code,
            user_id,
            password: String::new(),
            password_env: String::new(),
            password_file: String::new(),
            key: String::new(),
            edition: default_edition(),
            units: units.iter().map(|u| u.to_string()).collect(),
        }
    }

    /// The agreed cipher, `None` when bodies are plain.
    pub fn cipher(&self) -> Result<Option<Cipher>, String> {
        cipher_of(&self.key)
    }
}

/// One upper platform (上级平台) Tianshu reports to: a `[[upper]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpperPlatform {
    /// A short name for logs and metrics labels, and the key of its forwarding position in the store:
    /// renaming it starts forwarding again from the beginning.
    pub name: String,
    /// `HOST:PORT` of its main-link listener.
    pub address: String,
    /// Tianshu's access code (接入码) there.
    pub access_code: u32,
    /// USERID of the login.
    pub user_id: u32,
    /// PASSWORD of the login (at most 8 bytes), written in the file; or leave it out and set one of
    /// `password_env` and `password_file`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// The environment variable holding the password instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_env: String,
    /// The file holding the password (first line) instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_file: String,
    /// The body cipher agreed with it, `M1,IA1,IC1`; empty: bodies are plain.
    #[serde(default)]
    pub key: String,
    /// The edition its links speak, `2011` or `2019`.
    #[serde(default = "default_edition")]
    pub edition: Edition,
    /// Names of the units whose cars (and whose sub-units' cars) are forwarded.
    pub units: Vec<String>,
    /// Seconds between keep-alives on an idle main link (the standard's one minute).
    #[serde(default = "default_keepalive_secs")]
    pub keepalive_secs: u64,
    /// Seconds to wait for a login or keep-alive answer before the link is taken as broken.
    #[serde(default = "default_answer_timeout_secs")]
    pub answer_timeout_secs: u64,
    /// First delay before reconnecting; doubled after every failed attempt.
    #[serde(default = "default_reconnect_min_backoff_ms")]
    pub reconnect_min_backoff_ms: u64,
    /// Longest delay between reconnection attempts.
    #[serde(default = "default_reconnect_max_backoff_ms")]
    pub reconnect_max_backoff_ms: u64,
    /// Milliseconds between two reads of the points committed since the forwarding position.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// Seconds a point's receive time must lie in the past before it is forwarded, so that every point
    /// received before the forwarding position has been committed when the position moves past it.
    #[serde(default = "default_settle_secs")]
    pub settle_secs: u64,
    /// Days before the forwarding position a point's fix time may lie and still be forwarded (a
    /// blind-area backfill received late); older fixes received later are not sent. Also how far back
    /// the first link of an upper platform (no forwarding position yet) starts: what arrived in these
    /// days goes up, older history does not.
    #[serde(default = "default_lookback_days")]
    pub lookback_days: u32,
    /// Seconds of receive time one round forwards at most when the link is behind (back from an outage):
    /// the backlog goes up window by window, each read, sent and confirmed before the next, so memory
    /// stays bounded by what arrived in one window. The first link of an upper platform (no forwarding
    /// position yet) reads what arrived in the last `lookback_days` in one round.
    #[serde(default = "default_catch_up_window_secs")]
    pub catch_up_window_secs: u64,
    /// Where Tianshu listens for this upper platform's sub-link (从链路), `IP:PORT`; empty (the
    /// default): the login offers none (DOWN_LINK_PORT 0) and everything comes down the main link.
    #[serde(default)]
    pub sub_link_listen: String,
    /// The `IP:PORT` the login names for the sub-link (DOWN_LINK_IP/PORT), when the upper platform
    /// reaches Tianshu at another address than `sub_link_listen` (NAT, a relay); empty: that address.
    #[serde(default)]
    pub sub_link_address: String,
    /// Seconds a sub-link may stay silent (no keep-alive) before it is closed.
    #[serde(default = "default_sub_link_timeout_secs")]
    pub sub_link_timeout_secs: u64,
}

const fn default_keepalive_secs() -> u64 {
    60
}

const fn default_answer_timeout_secs() -> u64 {
    30
}

const fn default_reconnect_min_backoff_ms() -> u64 {
    500
}

const fn default_reconnect_max_backoff_ms() -> u64 {
    60_000
}

const fn default_poll_ms() -> u64 {
    1_000
}

const fn default_settle_secs() -> u64 {
    5
}

const fn default_lookback_days() -> u32 {
    7
}

const fn default_catch_up_window_secs() -> u64 {
    600
}

const fn default_sub_link_reconnect_min_backoff_ms() -> u64 {
    1_000
}

const fn default_sub_link_timeout_secs() -> u64 {
    180
}

impl UpperPlatform {
    /// An upper platform at `address` with the given login and units and every other key at its default
    /// (as a `[[upper]]` entry that names only these; the password to be set).
    pub fn new(name: &str, address: &str, access_code: u32, user_id: u32, units: &[&str]) -> UpperPlatform {
        UpperPlatform {
            name: name.to_string(),
            address: address.to_string(),
            access_code,
            user_id,
            password: String::new(),
            password_env: String::new(),
            password_file: String::new(),
            key: String::new(),
            edition: default_edition(),
            units: units.iter().map(|u| u.to_string()).collect(),
            keepalive_secs: default_keepalive_secs(),
            answer_timeout_secs: default_answer_timeout_secs(),
            reconnect_min_backoff_ms: default_reconnect_min_backoff_ms(),
            reconnect_max_backoff_ms: default_reconnect_max_backoff_ms(),
            poll_ms: default_poll_ms(),
            settle_secs: default_settle_secs(),
            lookback_days: default_lookback_days(),
            catch_up_window_secs: default_catch_up_window_secs(),
            sub_link_listen: String::new(),
            sub_link_address: String::new(),
            sub_link_timeout_secs: default_sub_link_timeout_secs(),
        }
    }

    /// The agreed cipher, `None` when bodies are plain.
    pub fn cipher(&self) -> Result<Option<Cipher>, String> {
        cipher_of(&self.key)
    }

    /// Refuses what cannot work, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name is empty".into());
        }
        if self.address.trim().is_empty() {
            return Err("address is empty".into());
        }
        check_password_sources(&self.password, &self.password_env, &self.password_file)?;
        self.cipher()?;
        if self.units.is_empty() {
            return Err("units is empty: no car would be forwarded".into());
        }
        if self.poll_ms == 0
            || self.keepalive_secs == 0
            || self.answer_timeout_secs == 0
            || self.catch_up_window_secs == 0
        {
            return Err(
                "poll_ms, keepalive_secs, answer_timeout_secs and catch_up_window_secs must be at least 1"
                    .into(),
            );
        }
        check_sub_link(self)
    }
}

/// `[[upper]]`'s sub-link keys: `sub_link_listen` and `sub_link_address` are `IP:PORT`, and a listener
/// on every interface needs the address to name.
fn check_sub_link(upper: &UpperPlatform) -> Result<(), String> {
    if upper.sub_link_timeout_secs == 0 {
        return Err("sub_link_timeout_secs must be at least 1".into());
    }
    let parse = |key: &str, value: &str| {
        value
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| format!("{key} {value:?} is not IP:PORT"))
    };
    if upper.sub_link_listen.trim().is_empty() {
        return Ok(());
    }
    let listen = parse("sub_link_listen", &upper.sub_link_listen)?;
    if upper.sub_link_address.trim().is_empty() {
        if listen.ip().is_unspecified() {
            return Err(
                "sub_link_listen is on every interface: set sub_link_address to the one to name".into(),
            );
        }
    } else {
        parse("sub_link_address", &upper.sub_link_address)?;
    }
    Ok(())
}

#[cfg(test)]
mod constructors {
    use super::*;

    #[test]
    fn a_platform_built_in_code_has_the_defaults_of_an_entry_that_names_only_its_login() {
        let upper: UpperPlatform = toml::from_str(
            "name = \"province\"\naddress = \"127.0.0.1:9000\"\naccess_code = 42\nuser_id = 7\nunits = [\"City\"]\n",
        )
        .expect("an [[upper]] entry");
        assert_eq!(
            upper,
            UpperPlatform::new("province", "127.0.0.1:9000", 42, 7, &["City"])
        );
        let lower: LowerPlatform =
            toml::from_str("name = \"city\"\naccess_code = 42\nuser_id = 7\nunits = [\"City\"]\n")
                .expect("a [[jt809.lower]] entry");
        assert_eq!(lower, LowerPlatform::new("city", 42, 7, &["City"]));
    }
}

//! The `[jt809]` section: where lower platforms log in, and which ones may.

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
    /// PASSWORD of its login (at most 8 bytes).
    pub password: String,
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
        }
    }
}

impl Jt809Config {
    /// Whether Tianshu accepts lower platforms.
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty()
    }

    /// Refuses what cannot work, naming the key: a duplicate access code, a password longer than its
    /// 8-byte field, a key that is not `M1,IA1,IC1`, a peer without units.
    pub fn validate(&self) -> Result<(), String> {
        if self.keepalive_timeout_secs == 0 || self.login_timeout_secs == 0 {
            return Err("keepalive_timeout_secs and login_timeout_secs must be at least 1".into());
        }
        for (i, peer) in self.lower.iter().enumerate() {
            let at = |m: String| format!("lower[{i}] ({}): {m}", peer.name);
            if peer.name.trim().is_empty() {
                return Err(at("name is empty".into()));
            }
            if self.lower[..i].iter().any(|p| p.access_code == peer.access_code) {
                return Err(at(format!("access_code {} is used twice", peer.access_code)));
            }
            if peer.password.len() > 8 {
                return Err(at("password is longer than the 8 bytes of its field".into()));
            }
            peer.cipher().map_err(at)?;
            if peer.units.is_empty() {
                return Err(at("units is empty: it would report no car".into()));
            }
        }
        Ok(())
    }
}

impl LowerPlatform {
    /// The agreed cipher, `None` when bodies are plain.
    pub fn cipher(&self) -> Result<Option<Cipher>, String> {
        match self.key.trim() {
            "" => Ok(None),
            key => Cipher::parse(key).map(Some),
        }
    }
}

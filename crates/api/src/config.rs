//! Settings of the web side (the `[web]` section of the configuration file).

use serde::{Deserialize, Serialize};

/// The basemap under the live map and replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasemapConfig {
    /// A PMTiles archive of vector tiles on this server (a province extract in the Protomaps basemap
    /// schema, or the demo's own), served to the page at `/api/basemap.pmtiles`: a street map with no
    /// network. Drawn under `tile_url` when both are set. Empty: none.
    pub pmtiles: String,
    /// A directory of glyph files (`{fontstack}/{range}.pbf`) for map text. Empty: map text is drawn
    /// with the browser's own fonts.
    pub glyphs: String,
    /// A raster tile URL template (`{z}`, `{x}`, `{y}`), e.g. an intranet tile server or Tianditu WMTS
    /// with its key. Empty with no `pmtiles`: the offline schematic basemap only (land outline and
    /// geofence outlines).
    pub tile_url: String,
    /// Whether the tiles are drawn in GCJ-02 (AMap, Tencent); positions, stored in WGS-84, are then
    /// shifted for display.
    pub gcj02: bool,
    /// Attribution text shown on the map.
    pub attribution: String,
    /// Initial map centre, `[lon, lat]` in WGS-84.
    pub center: [f64; 2],
    /// Initial zoom level.
    pub zoom: f64,
}

impl Default for BasemapConfig {
    fn default() -> Self {
        // Huangshi, Hubei: where the demo fleet lives.
        BasemapConfig {
            pmtiles: String::new(),
            glyphs: String::new(),
            tile_url: String::new(),
            gcj02: false,
            attribution: String::new(),
            center: [115.04, 30.2],
            zoom: 10.0,
        }
    }
}

/// Settings of the HTTP API and the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// How long a session lasts without activity, in seconds.
    pub session_ttl_secs: u64,
    /// Mark the session cookie `Secure` (set when the page is served over HTTPS).
    pub cookie_secure: bool,
    /// Longest time range one replay or export may cover, in days.
    pub max_range_days: u32,
    /// Display tolerance for simplified replay tracks, in metres.
    pub simplify_tolerance_m: f64,
    /// How often an open live feed checks again that its session is alive and what it may see, in
    /// seconds (a logout or a change of user through this server is checked at once).
    pub live_recheck_secs: u64,
    /// Track downloads (`/api/positions`, exports) streaming at the same time at most; one more is refused
    /// with 429 and `Retry-After`. Each holds about one read page and one write buffer of memory, and a
    /// read of the store while its client takes the bytes.
    pub max_concurrent_exports: usize,
    /// Origins besides the server's own (`https://host:port`, as a browser sends it in `Origin`) whose
    /// pages may open the live feed; a WebSocket from any other origin is refused (403).
    pub allowed_origins: Vec<String>,
    /// Bounds on logging in.
    pub login: LoginConfig,
    /// The basemap.
    pub basemap: BasemapConfig,
    /// Public complaints and findings.
    pub casework: CaseworkConfig,
}

/// The `[web.casework]` section: complaints, their deadlines, who sees a reporter's number, and the
/// violation types a finding may name. The key the numbers are sealed with is a secret
/// (`TIANSHU__WEB__CASEWORK__REPORTER_KEY`, or the file `reporter_key_file` names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseworkConfig {
    /// Working days a unit has to answer a forwarded complaint (the holiday calendar decides which
    /// days work).
    pub answer_days: u32,
    /// The roles shown a reporter's number in clear, on asking (each time audited). A supervisor, of
    /// the unit complained about, never is.
    pub unmask_roles: Vec<tianshu_model::access::Role>,
    /// The violation types a confirmed finding may name.
    pub violation_types: Vec<String>,
    /// The file holding the key reporters' numbers are sealed with (64 hexadecimal digits).
    pub reporter_key_file: String,
    /// Whether the public intake is served: the form `GET /report` and `POST /api/report`, with no
    /// login (404 when off).
    pub report_form: bool,
    /// Complaints one client address may file through the public intake per `report_quota_secs`;
    /// one more is refused with 429 and `Retry-After`.
    pub report_quota: u32,
    /// The window of `report_quota`, in seconds.
    pub report_quota_secs: u64,
}

impl Default for CaseworkConfig {
    fn default() -> Self {
        CaseworkConfig {
            answer_days: tianshu_rules::casework::DEFAULT_ANSWER_DAYS,
            unmask_roles: vec![
                tianshu_model::access::Role::Administrator,
                tianshu_model::access::Role::Inspector,
            ],
            violation_types: tianshu_model::complaint::DEFAULT_VIOLATION_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            reporter_key_file: String::new(),
            report_form: false,
            report_quota: 5,
            report_quota_secs: 3600,
        }
    }
}

/// Bounds on `POST /api/session`, so that a flood of wrong logins costs bounded memory and CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Passwords checked at the same time at most (each check holds about 19 MiB for a moment).
    pub max_concurrent_hashes: usize,
    /// Logins waiting for a check at most; more are refused with 429 and `Retry-After`.
    pub hash_queue: usize,
    /// Failed logins from one address before it is made to wait (429 with `Retry-After`).
    pub failures_per_address: u32,
    /// Failed logins for one username before it is made to wait (429 with `Retry-After`).
    pub failures_per_account: u32,
    /// The first wait, in seconds; it doubles with each further failure.
    pub backoff_secs: u64,
    /// The longest wait, in seconds.
    pub backoff_max_secs: u64,
    /// Failures are forgotten after this many seconds without another one.
    pub forget_after_secs: u64,
    /// Largest login body, in bytes (413 above it); a username longer than a user may have is 400.
    pub max_body_bytes: usize,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            max_concurrent_hashes: 4,
            hash_queue: 32,
            failures_per_address: 20,
            failures_per_account: 5,
            backoff_secs: 1,
            backoff_max_secs: 60,
            forget_after_secs: 900,
            max_body_bytes: 4096,
        }
    }
}

const fn default_session_ttl_secs() -> u64 {
    12 * 3600
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            session_ttl_secs: default_session_ttl_secs(),
            cookie_secure: false,
            max_range_days: 62,
            simplify_tolerance_m: 8.0,
            live_recheck_secs: 5,
            max_concurrent_exports: 4,
            allowed_origins: Vec::new(),
            login: LoginConfig::default(),
            basemap: BasemapConfig::default(),
            casework: CaseworkConfig::default(),
        }
    }
}

//! Settings of the web side (the `[api]` section of the configuration file).

use serde::{Deserialize, Serialize};

/// The basemap under the live map and replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasemapConfig {
    /// A raster tile URL template (`{z}`, `{x}`, `{y}`), e.g. an intranet tile server or Tianditu WMTS
    /// with its key. Empty: the offline schematic basemap only (land outline and geofence outlines).
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
    /// The basemap.
    pub basemap: BasemapConfig,
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
            basemap: BasemapConfig::default(),
        }
    }
}

//! The page: assets built from `web/` by `build.rs` (esbuild over npm packages) and embedded in the
//! binary, so the page needs no internet and no files next to the binary; and `GET /api/config`, the
//! basemap settings it draws the map with (the basemap's files themselves: `basemap`).

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::ApiState;
use crate::config::BasemapConfig;
use crate::error::ApiError;

/// One embedded file of the page.
pub struct Asset {
    /// File name under `/assets/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// A fingerprint of its content: the `?v=` the page's files name it with, and its `ETag`.
    pub version: &'static str,
    /// The file.
    pub body: &'static [u8],
    /// Its gzip copy, for text files where that is smaller.
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// An embedded asset by file name.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// Every embedded asset.
pub fn assets() -> &'static [Asset] {
    ASSETS
}

/// Whether the page was built (false when npm was not available at build time).
pub fn page_built() -> bool {
    PAGE_BUILT
}

/// Whether a client that sent `accept` takes gzip: named (or `*`) with a weight above zero.
pub fn accepts_gzip(accept: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let weight = parts
            .find_map(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
            .unwrap_or(1.0);
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && weight > 0.0
    })
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// The page and its files. The page itself is always revalidated (it names the current versions); a
/// file asked for by its current version is kept for good, any other request revalidates. The `ETag`
/// answers a revalidation with 304, and text goes gzip-compressed to clients that take it.
fn serve(name: &str, query: Option<&str>, headers: &HeaderMap) -> Response {
    let Some(a) = asset(name) else {
        return ApiError::NotFound(format!("asset {name}")).into_response();
    };
    let versioned = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .any(|kv| kv.strip_prefix("v=") == Some(a.version));
    let cache = if versioned && name != "index.html" {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let etag = format!("\"{}\"", a.version);
    let text = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    let common = [
        (CACHE_CONTROL, cache.to_string()),
        (ETAG, etag.clone()),
        (VARY, "Accept-Encoding".to_string()),
    ];
    if text(IF_NONE_MATCH).is_some_and(|v| not_modified(v, &etag)) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    match a.gzip {
        Some(gz) if text(ACCEPT_ENCODING).is_some_and(accepts_gzip) => (
            common,
            [(CONTENT_TYPE, a.content_type), (CONTENT_ENCODING, "gzip")],
            gz,
        )
            .into_response(),
        _ => (common, [(CONTENT_TYPE, a.content_type)], a.body).into_response(),
    }
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", None, &headers)
}

async fn file(Path(name): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    serve(&name, query.as_deref(), &headers)
}

/// Browsers ask for `/favicon.ico` on their own: the page's icon.
async fn favicon(headers: HeaderMap) -> Response {
    serve("favicon.svg", None, &headers)
}

/// `/`, `/assets/{name}` and `/favicon.ico`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(file))
        .route("/favicon.ico", get(favicon))
}

/// What the page is told about the basemap: the settings, without the server's file paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageBasemap {
    /// Where the vector tiles are (`/api/basemap.pmtiles`), when a PMTiles archive is configured.
    pub pmtiles_url: Option<&'static str>,
    /// Where glyph ranges are asked for (`{fontstack}` and `{range}` filled in by the map), when a glyphs
    /// directory is configured; without it the map draws its text with the browser's fonts.
    pub glyphs_url: Option<&'static str>,
    /// The raster tile URL template, or empty.
    pub tile_url: String,
    /// Whether the raster tiles are drawn in GCJ-02.
    pub gcj02: bool,
    /// Attribution text.
    pub attribution: String,
    /// Initial map centre, `[lon, lat]` in WGS-84.
    pub center: [f64; 2],
    /// Initial zoom level.
    pub zoom: f64,
}

impl PageBasemap {
    /// The page's view of `config`.
    pub fn of(config: &BasemapConfig) -> Self {
        PageBasemap {
            pmtiles_url: (!config.pmtiles.is_empty()).then_some("/api/basemap.pmtiles"),
            glyphs_url: (!config.glyphs.is_empty()).then_some("/api/basemap/glyphs/{fontstack}/{range}.pbf"),
            tile_url: config.tile_url.clone(),
            gcj02: config.gcj02,
            attribution: config.attribution.clone(),
            center: config.center,
            zoom: config.zoom,
        }
    }
}

/// What the page is told about casework: the choices its forms offer (the API checks them again).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageCasework {
    /// Working days a unit has to answer a forwarded complaint, by default.
    pub answer_days: u32,
    /// The violation types a confirmed finding may name.
    pub violation_types: Vec<String>,
    /// The roles shown a reporter's number in clear on asking.
    pub unmask_roles: Vec<tianshu_model::access::Role>,
    /// The measures a person held to account may be given, in the order of their weight.
    pub measures: Vec<tianshu_model::complaint::Measure>,
}

/// What the page is told: the basemap and the casework forms' choices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageConfig {
    /// The basemap.
    #[serde(flatten)]
    pub basemap: PageBasemap,
    /// Casework.
    pub casework: PageCasework,
}

/// `GET /api/config`: what the page needs to draw the map and fill the casework forms.
pub async fn page_config(State(state): State<ApiState>) -> Json<PageConfig> {
    let c = &state.config().casework;
    Json(PageConfig {
        basemap: PageBasemap::of(&state.config().basemap),
        casework: PageCasework {
            answer_days: c.answer_days,
            violation_types: c.violation_types.clone(),
            unmask_roles: c.unmask_roles.clone(),
            measures: tianshu_model::complaint::Measure::ALL.to_vec(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_when_named_or_starred_with_a_weight() {
        for (accept, takes) in [
            ("gzip", true),
            ("gzip, deflate, br, zstd", true),
            ("br;q=1.0, GZIP;q=0.5", true),
            ("*", true),
            ("gzip;q=0", false),
            ("gzip;q=0.0, br", false),
            ("identity", false),
            ("", false),
            ("deflate, br", false),
        ] {
            assert_eq!(accepts_gzip(accept), takes, "{accept:?}");
        }
    }

    #[test]
    fn a_revalidation_matches_strong_weak_listed_and_star() {
        let e = "\"00ff\"";
        assert!(not_modified("\"00ff\"", e));
        assert!(not_modified("W/\"00ff\"", e));
        assert!(not_modified("\"aa\", \"00ff\"", e));
        assert!(not_modified("*", e));
        assert!(!not_modified("\"00fe\"", e));
    }
}

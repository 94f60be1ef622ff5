//! The page: assets built from `web/` by `build.rs` (esbuild over npm packages) and embedded in the
//! binary, so the page needs no internet and no files next to the binary; and `GET /api/config`, the
//! basemap settings it draws the map with.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::ApiState;
use crate::config::BasemapConfig;
use crate::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// An embedded asset by file name.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ct, body)| (*ct, *body))
}

/// Whether the page was built (false when npm was not available at build time).
pub fn page_built() -> bool {
    PAGE_BUILT
}

fn serve(name: &str) -> Response {
    match asset(name) {
        Some((ct, body)) => {
            let cache = if name == "index.html" {
                "no-cache"
            } else {
                "public, max-age=300"
            };
            ([(CONTENT_TYPE, ct), (CACHE_CONTROL, cache)], body).into_response()
        }
        None => ApiError::NotFound(format!("asset {name}")).into_response(),
    }
}

async fn index() -> Response {
    serve("index.html")
}

async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

/// `/` and `/assets/{name}`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(file))
}

/// `GET /api/config`: what the page needs to draw the map.
pub async fn page_config(State(state): State<ApiState>) -> Json<BasemapConfig> {
    Json(state.config().basemap.clone())
}

//! The page: assets built from `web/` by `build.rs` (esbuild over npm packages) and embedded in the
//! binary, so the page needs no internet and no files next to the binary.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

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
        None => StatusCode::NOT_FOUND.into_response(),
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

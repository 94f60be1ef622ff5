//! What the browser is told and asked about where a request comes from: the security headers on every
//! answer of the page and the API, the `Origin` a live feed may be opened from, and the media type a
//! JSON body must be sent as.
//!
//! Every answer carries a Content-Security-Policy (scripts, styles, workers and connections from the
//! server's own origin; images also from the configured tile server; `frame-ancestors 'none'`), with
//! `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::ApiConfig;
use crate::error::ApiError;

/// The headers every answer carries, built once from the configuration.
#[derive(Clone)]
pub struct SecurityHeaders(std::sync::Arc<Vec<(HeaderName, HeaderValue)>>);

impl SecurityHeaders {
    /// The headers for `config` (its tile server is let into `img-src` and `connect-src`).
    pub fn new(config: &ApiConfig) -> Self {
        let tiles = tile_origin(&config.basemap.tile_url)
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: blob:{tiles}; connect-src 'self'{tiles}; worker-src 'self' blob:; \
             font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'"
        );
        let mut headers = vec![
            (
                HeaderName::from_static("x-frame-options"),
                HeaderValue::from_static("DENY"),
            ),
            (
                HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ),
            (
                HeaderName::from_static("referrer-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        if let Ok(v) = HeaderValue::from_str(&csp) {
            headers.push((HeaderName::from_static("content-security-policy"), v));
        }
        SecurityHeaders(std::sync::Arc::new(headers))
    }
}

/// `scheme://host[:port]` of a tile URL template, when it has one that can go in a CSP source list.
fn tile_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split('/').next()?;
    let ok = matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '{' | '}' | '*'));
    // A `{s}` subdomain placeholder becomes the CSP wildcard.
    ok.then(|| format!("{scheme}://{}", authority.replace("{s}", "*")))
        .filter(|o| !o.contains('{'))
}

/// Adds the security headers to every answer.
pub async fn secure(State(headers): State<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    for (k, v) in headers.0.iter() {
        resp.headers_mut().entry(k.clone()).or_insert_with(|| v.clone());
    }
    resp
}

/// Whether a WebSocket upgrade may be answered: no `Origin` (not a browser), the server's own origin
/// (`Origin` naming the `Host` asked for), or one of `[web] allowed_origins`.
pub fn check_origin(headers: &HeaderMap, config: &ApiConfig) -> Result<(), ApiError> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let own = origin.split_once("://").is_some_and(|(scheme, authority)| {
        matches!(scheme, "http" | "https") && !host.is_empty() && authority.eq_ignore_ascii_case(host)
    });
    let allowed = config
        .allowed_origins
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin));
    if own || allowed {
        Ok(())
    } else {
        Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("origin {origin} may not open the live feed"),
        ))
    }
}

/// Refuses a JSON body not sent as `application/json` (415).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() == Some("application/json") {
        Ok(())
    } else {
        Err(ApiError::Status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body: send JSON as Content-Type: application/json".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_tile_server_is_let_in_by_its_origin() {
        assert_eq!(
            tile_origin("https://t0.tianditu.gov.cn/vec_w/wmts?x={x}").as_deref(),
            Some("https://t0.tianditu.gov.cn")
        );
        assert_eq!(
            tile_origin("http://{s}.tiles.local:8080/{z}/{x}/{y}.png").as_deref(),
            Some("http://*.tiles.local:8080")
        );
        assert_eq!(tile_origin(""), None);
        assert_eq!(tile_origin("https://a b/"), None);
        assert_eq!(tile_origin("javascript://x"), None);
    }

    #[test]
    fn the_live_feed_opens_from_its_own_origin_and_the_allowed_ones() {
        let mut config = ApiConfig::default();
        let own = headers(&[("host", "map.local:8080"), ("origin", "http://map.local:8080")]);
        assert!(check_origin(&own, &config).is_ok());
        assert!(check_origin(&headers(&[("host", "map.local:8080")]), &config).is_ok());
        let foreign = headers(&[("host", "map.local:8080"), ("origin", "https://evil.example")]);
        assert!(check_origin(&foreign, &config).is_err());
        config.allowed_origins = vec!["https://evil.example/".into()];
        assert!(check_origin(&foreign, &config).is_ok());
    }

    #[test]
    fn json_must_say_so() {
        assert!(require_json(&headers(&[("content-type", "application/json; charset=utf-8")])).is_ok());
        assert!(require_json(&headers(&[("content-type", "Application/JSON")])).is_ok());
        let refused = require_json(&headers(&[("content-type", "text/plain")])).err();
        assert_eq!(
            refused.map(|e| e.status()),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert!(require_json(&HeaderMap::new()).is_err());
    }
}

//! The basemap served by Tianshu itself: the PMTiles archive named in `[web.basemap] pmtiles` (a
//! province extract, or the demo's own), read by the page's `pmtiles` protocol through HTTP range
//! requests, and the glyphs of map text from `[web.basemap] glyphs`.
//!
//! `GET /api/basemap.pmtiles` answers a `Range: bytes=a-b` with 206 and `Content-Range`, a range past
//! the end with 416 (`Content-Range: bytes */len`), no range with the whole file; every answer names the
//! file's `ETag` (its size and modification time), so a reader notices a replaced archive. Map text is
//! drawn with the browser's own fonts unless a directory of glyph files (`{fontstack}/{range}.pbf`, as
//! published with Protomaps' and OpenMapTiles' styles) is configured; a range it lacks is drawn with the
//! browser's fonts too.

use std::io::SeekFrom;
use std::path::{Component, Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RANGE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::ApiState;
use crate::error::ApiError;

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No range (or one this server does not take, such as several ranges): the whole file.
    Whole,
    /// The bytes `first..=last`.
    Part(u64, u64),
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

/// Reads a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against a file of `len` bytes. A header
/// that is not one byte range is ignored (the whole file), as HTTP allows.
pub fn range_ask(header: Option<&str>, len: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        // The last n bytes.
        (true, false) => match num(b) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(_) if len == 0 => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part(len.saturating_sub(n), len - 1),
            None => RangeAsk::Whole,
        },
        (false, _) => match (num(a), if b.is_empty() { Some(u64::MAX) } else { num(b) }) {
            (Some(first), Some(last)) if first <= last => {
                if first >= len {
                    RangeAsk::Unsatisfiable
                } else {
                    RangeAsk::Part(first, last.min(len - 1))
                }
            }
            _ => RangeAsk::Whole,
        },
        (true, true) => RangeAsk::Whole,
    }
}

/// The `ETag` of a file: its size and modification time.
fn etag_of(meta: &std::fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{modified:x}\"", meta.len())
}

/// Whether `If-None-Match` names `etag`.
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// `len` bytes of `file` from where it stands, read in pieces as the client takes them.
fn stream_file(file: tokio::fs::File, len: u64) -> Body {
    let stream = futures::stream::unfold((file, len), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; left.min(64 * 1024) as usize];
        match file.read_exact(&mut buf).await {
            Ok(_) => {
                let left = left - buf.len() as u64;
                Some((Ok(buf), (file, left)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    });
    Body::from_stream(stream)
}

/// `GET /api/basemap.pmtiles`: the configured PMTiles archive, by byte ranges.
pub async fn pmtiles(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let path = &state.config().basemap.pmtiles;
    if path.is_empty() {
        return Err(ApiError::NotFound(
            "no basemap file is configured ([web.basemap] pmtiles)".into(),
        ));
    }
    let missing = || ApiError::NotFound(format!("the basemap file {path} cannot be read"));
    let mut file = tokio::fs::File::open(path).await.map_err(|e| {
        tracing::warn!(path, error = %e, "the basemap file cannot be opened");
        missing()
    })?;
    let meta = file.metadata().await.map_err(|_| missing())?;
    let len = meta.len();
    let etag = etag_of(&meta);
    let common = [
        (ETAG, etag.clone()),
        (ACCEPT_RANGES, "bytes".to_string()),
        (CACHE_CONTROL, "no-cache".to_string()),
    ];
    if matches_etag(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let (status, first, count) = match range_ask(range, len) {
        RangeAsk::Whole => (StatusCode::OK, 0, len),
        RangeAsk::Part(first, last) => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
        RangeAsk::Unsatisfiable => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                common,
                [(CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response());
        }
    };
    file.seek(SeekFrom::Start(first)).await.map_err(|_| missing())?;
    let mut resp = (
        status,
        common,
        [
            (CONTENT_TYPE, "application/vnd.pmtiles".to_string()),
            (CONTENT_LENGTH, count.to_string()),
        ],
        stream_file(file, count),
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {first}-{}/{len}", first + count - 1);
        if let Ok(v) = value.parse() {
            resp.headers_mut().insert(CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

/// The glyph file for `fontstack` and `range` under `dir`, when both are plain names (no path tricks)
/// and `range` looks like `0-255.pbf`.
pub fn glyph_path(dir: &FsPath, fontstack: &str, range: &str) -> Option<PathBuf> {
    let plain = |s: &str| {
        let p = FsPath::new(s);
        !s.is_empty()
            && p.components().count() == 1
            && matches!(p.components().next(), Some(Component::Normal(_)))
    };
    let numbers = range.strip_suffix(".pbf")?;
    let (a, b) = numbers.split_once('-')?;
    let ok = a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok();
    (ok && plain(fontstack) && plain(range)).then(|| dir.join(fontstack).join(range))
}

/// `GET /api/basemap/glyphs/{fontstack}/{range}`: a glyph range from the configured directory. A range
/// the directory lacks is 404, and the map draws those characters with the browser's fonts instead.
pub async fn glyphs(
    State(state): State<ApiState>,
    Path((fontstack, range)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let dir = &state.config().basemap.glyphs;
    let Some(path) = glyph_path(FsPath::new(dir), &fontstack, &range) else {
        return Err(ApiError::BadRequest(format!("range: not a glyph range: {range}")));
    };
    if dir.is_empty() {
        return Err(ApiError::NotFound(
            "no glyphs are configured ([web.basemap] glyphs)".into(),
        ));
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::NotFound(format!("glyph range {fontstack}/{range}")))?;
    Ok((
        [
            (CONTENT_TYPE, "application/x-protobuf"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_http_says() {
        use RangeAsk::*;
        for (header, want) in [
            (None, Whole),
            (Some("bytes=0-99"), Part(0, 99)),
            (Some("bytes=0-16383"), Part(0, 999)),
            (Some("bytes=0-99999"), Part(0, 999)),
            (Some("bytes=10-"), Part(10, 999)),
            (Some("bytes=-100"), Part(900, 999)),
            (Some("bytes=-5000"), Part(0, 999)),
            (Some("bytes=999-999"), Part(999, 999)),
            (Some("bytes=1000-1200"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=5-3"), Whole),
            (Some("bytes=0-1,5-6"), Whole),
            (Some("items=0-5"), Whole),
            (Some("bytes=x-5"), Whole),
            (Some("bytes=-"), Whole),
        ] {
            assert_eq!(range_ask(header, 1000), want, "{header:?}");
        }
        assert_eq!(range_ask(Some("bytes=0-10"), 0), Unsatisfiable);
    }

    #[test]
    fn glyph_paths_stay_inside_their_directory() {
        let dir = FsPath::new("/fonts");
        assert_eq!(
            glyph_path(dir, "Noto Sans Regular", "0-255.pbf"),
            Some(PathBuf::from("/fonts/Noto Sans Regular/0-255.pbf"))
        );
        for (stack, range) in [
            ("..", "0-255.pbf"),
            ("a/b", "0-255.pbf"),
            ("", "0-255.pbf"),
            ("Noto", "../0-255.pbf"),
            ("Noto", "0-255"),
            ("Noto", "x-255.pbf"),
            ("Noto", "passwd"),
        ] {
            assert_eq!(glyph_path(dir, stack, range), None, "{stack} {range}");
        }
    }
}

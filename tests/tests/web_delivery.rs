//! How the page is delivered: gzip to browsers that take it, every file named by its content version and
//! kept for good under that name, the page itself always revalidated (304 on a match), an icon, and the
//! whole page under 1 MB compressed.

use std::io::Read as _;

use tianshu_e2e::api::*;

const GZIP: (&str, &str) = ("Accept-Encoding", "gzip, deflate, br");

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

/// The `/assets/…?v=…` URLs a text names.
fn versioned_urls(text: &str) -> Vec<String> {
    text.match_indices("/assets/")
        .filter_map(|(i, _)| {
            let rest = &text[i..];
            let end = rest.find(['"', '\'', '`'])?;
            let url = &rest[..end];
            url.contains("?v=").then(|| url.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_goes_compressed_versioned_and_revalidated() {
    let api = TestApi::seeded(Scratch::embedded("web-delivery")).await;
    let get = |path: String, extra: Vec<(&'static str, String)>| async move {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        http_with(api.addr, "GET", &path, None, None, &extra).await
    };

    let page = get("/".into(), vec![(GZIP.0, GZIP.1.into())]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    assert_eq!(
        page.header("cache-control"),
        Some("no-cache"),
        "the page is always revalidated"
    );
    assert_eq!(page.header("vary"), Some("Accept-Encoding"));
    let html = String::from_utf8(gunzip(&page.bytes)).expect("the page is UTF-8");
    let plain = get("/".into(), vec![]).await;
    assert_eq!(plain.header("content-encoding"), None, "no gzip unless asked");
    assert_eq!(plain.body, html, "the gzip copy is the page");

    let etag = page.header("etag").expect("the page has an ETag").to_string();
    let again = get("/".into(), vec![("If-None-Match", etag.clone())]).await;
    assert_eq!(again.status, 304, "a revalidation that matches");
    assert!(again.bytes.is_empty());
    let changed = get("/".into(), vec![("If-None-Match", "\"0000\"".into())]).await;
    assert_eq!(changed.status, 200, "a stale copy gets the page");

    // Every file the page names, and the map's worker the bundle names.
    let mut urls = versioned_urls(&html);
    assert!(
        urls.iter().any(|u| u.starts_with("/assets/app.js?v=")),
        "{urls:?}"
    );
    assert!(
        urls.iter().any(|u| u.starts_with("/assets/app.css?v=")),
        "{urls:?}"
    );
    assert!(
        urls.iter().any(|u| u.starts_with("/assets/favicon.svg?v=")),
        "{urls:?}"
    );
    let mut compressed = page.bytes.len();
    let mut i = 0;
    while let Some(url) = urls.get(i).cloned() {
        i += 1;
        let packed = get(url.clone(), vec![(GZIP.0, GZIP.1.into())]).await;
        assert_eq!(packed.status, 200, "{url}");
        assert_eq!(
            packed.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{url} is kept for good under its version"
        );
        let raw = get(url.clone(), vec![]).await;
        let body = if packed.header("content-encoding") == Some("gzip") {
            gunzip(&packed.bytes)
        } else {
            packed.bytes.clone()
        };
        assert_eq!(body, raw.bytes, "{url}: the gzip copy is the file");
        compressed += packed.bytes.len();
        if url.starts_with("/assets/app.js?") {
            assert_eq!(
                packed.header("content-encoding"),
                Some("gzip"),
                "the bundle goes compressed"
            );
            for worker in versioned_urls(&raw.body) {
                if !urls.contains(&worker) {
                    urls.push(worker);
                }
            }
        }
    }
    assert!(
        urls.iter()
            .any(|u| u.starts_with("/assets/maplibre-gl-worker.mjs?v=")),
        "the bundle names the map's worker by version: {urls:?}"
    );
    println!(
        "the page, compressed: {compressed} bytes in {} files",
        urls.len() + 1
    );
    assert!(
        compressed < 1 << 20,
        "the page is under 1 MB compressed: {compressed} bytes"
    );

    // A file asked for without its version, or with an old one, is revalidated rather than kept.
    for path in ["/assets/app.js", "/assets/app.js?v=0123456789abcdef"] {
        let r = get(path.into(), vec![]).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
    }

    let icon = get("/favicon.ico".into(), vec![]).await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(icon.body.starts_with("<svg"), "{}", icon.body);
}

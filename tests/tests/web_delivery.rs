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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_basemap_file_is_served_by_byte_ranges_to_logged_in_users() {
    let api = TestApi::seeded(Scratch::embedded("web-basemap")).await;
    let dir = tianshu_testkit::ScratchDir::new("web-basemap-files");
    let file = dir.path().join("extract.pmtiles");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &bytes).expect("writing the archive");
    let config = tianshu_api::ApiConfig {
        basemap: tianshu_api::config::BasemapConfig {
            pmtiles: file.to_string_lossy().into_owned(),
            ..Default::default()
        },
        ..Default::default()
    };
    let addr = api.serve_with_config(config).await;
    let cookie = login_at(addr, "dispatcher").await;
    let get = |extra: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        async move {
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            http_with(addr, "GET", "/api/basemap.pmtiles", Some(&cookie), None, &extra).await
        }
    };

    let config = http(addr, "GET", "/api/config", Some(&cookie), None).await.json();
    assert_eq!(config["pmtiles_url"], "/api/basemap.pmtiles");
    assert!(
        !config.to_string().contains("extract.pmtiles"),
        "the server's path stays on the server"
    );

    // The first 16 KiB, as a PMTiles reader asks first.
    let head = get(vec![("Range", "bytes=0-16383".into())]).await;
    assert_eq!(head.status, 206);
    assert_eq!(head.header("content-range"), Some("bytes 0-16383/200000"));
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert_eq!(head.bytes, &bytes[..16384]);
    let etag = head.header("etag").expect("an ETag").to_string();
    // A tile in the middle, and one running past the end.
    let mid = get(vec![("Range", "bytes=150000-150099".into())]).await;
    assert_eq!(
        (mid.status, mid.bytes.as_slice()),
        (206, &bytes[150_000..150_100])
    );
    assert_eq!(mid.header("etag"), Some(etag.as_str()));
    let tail = get(vec![("Range", "bytes=199990-300000".into())]).await;
    assert_eq!(tail.header("content-range"), Some("bytes 199990-199999/200000"));
    assert_eq!(tail.bytes, &bytes[199_990..]);
    // Past the end: 416 with the length.
    let past = get(vec![("Range", "bytes=200000-".into())]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */200000"));
    // No range: the whole file; a matching revalidation: 304.
    let whole = get(vec![]).await;
    assert_eq!((whole.status, whole.bytes.len()), (200, bytes.len()));
    assert_eq!(whole.bytes, bytes);
    assert_eq!(get(vec![("If-None-Match", etag.clone())]).await.status, 304);
    // A replaced file has another ETag.
    std::fs::write(&file, &bytes[..1000]).expect("replacing the archive");
    let replaced = get(vec![("Range", "bytes=0-99".into())]).await;
    assert_eq!(replaced.header("content-range"), Some("bytes 0-99/1000"));
    assert_ne!(replaced.header("etag"), Some(etag.as_str()));
    // Not logged in: 401; the file gone: 404.
    let anonymous = http(addr, "GET", "/api/basemap.pmtiles", None, None).await;
    assert_eq!(anonymous.status, 401);
    std::fs::remove_file(&file).expect("removing the archive");
    assert_eq!(get(vec![("Range", "bytes=0-99".into())]).await.status, 404);
}

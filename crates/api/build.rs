//! Builds the page: `npm ci` (when `node_modules` is missing or older than the lock file) and an
//! esbuild bundle of `web/src` (`web/build.mjs`), written to `OUT_DIR/web` and embedded by `src/web.rs`.
//!
//! Nothing built is committed: the npm packages come through `web/package-lock.json`. When npm is not
//! available the binary still builds, with a page that says how to get the real one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn newer(a: &Path, b: &Path) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (m(a), m(b)) {
        (Some(a), Some(b)) => a >= b,
        _ => false,
    }
}

fn build(web: &Path, out: &Path) -> Result<(), String> {
    let stamp = web.join("node_modules").join(".package-lock.json");
    if !newer(&stamp, &web.join("package-lock.json")) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(web)
            .status()
            .map_err(|e| format!("npm: {e}"))?;
        if !status.success() {
            return Err(format!("npm ci failed: {status}"));
        }
    }
    let status = Command::new("node")
        .arg("build.mjs")
        .arg(out)
        .current_dir(web)
        .status()
        .map_err(|e| format!("node: {e}"))?;
    if !status.success() {
        return Err(format!("the page build failed: {status}"));
    }
    Ok(())
}

const FALLBACK: &str = "<!doctype html><meta charset=utf-8><title>Tianshu</title>\
<p>The page was not built because npm was not available when this binary was compiled. \
Install Node.js and npm, then rebuild: the API under <code>/api/</code> works regardless.</p>";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let out_root = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let web = manifest.join("web");
    let out = out_root.join("web");
    for p in [
        "src",
        "index.html",
        "build.mjs",
        "package.json",
        "package-lock.json",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=TIANSHU_SKIP_WEB");
    let _ = std::fs::remove_dir_all(&out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        panic!("creating {}: {e}", out.display());
    }
    let built = if std::env::var_os("TIANSHU_SKIP_WEB").is_some() {
        false
    } else {
        match build(&web, &out) {
            Ok(()) => true,
            Err(e) => {
                println!("cargo:warning=the page was not built ({e}); embedding a placeholder page");
                false
            }
        }
    };
    if !built {
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::create_dir_all(&out);
        if let Err(e) = std::fs::write(out.join("index.html"), FALLBACK) {
            panic!("writing the placeholder page: {e}");
        }
    }
    let mut code = String::new();
    writeln!(
        code,
        "/// Whether the real page was built.\nconst PAGE_BUILT: bool = {built};"
    )
    .ok();
    writeln!(code, "/// The embedded assets: (file name, content type, bytes).").ok();
    writeln!(code, "static ASSETS: &[(&str, &str, &[u8])] = &[").ok();
    let mut entries: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let ct = match name.rsplit('.').next() {
            Some("html") => "text/html; charset=utf-8",
            Some("js" | "mjs") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("json") => "application/json",
            Some("txt") => "text/plain; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            _ => "application/octet-stream",
        };
        writeln!(
            code,
            "    ({name:?}, {ct:?}, include_bytes!({:?})),",
            e.path().display().to_string()
        )
        .ok();
    }
    writeln!(code, "];").ok();
    if let Err(e) = std::fs::write(out_root.join("assets.rs"), code) {
        panic!("writing assets.rs: {e}");
    }
}

//! Builds the page: `npm ci` (when `node_modules` is missing or older than the lock file) and an
//! esbuild bundle of `web/src` (`web/build.mjs`), written to `OUT_DIR/web`; then each file versioned by
//! its content and given a gzip copy, all embedded by `src/web.rs`.
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
        "favicon.svg",
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
    let assets = finish(&out);
    let mut code = String::new();
    writeln!(
        code,
        "/// Whether the real page was built.\nconst PAGE_BUILT: bool = {built};"
    )
    .ok();
    writeln!(code, "/// The embedded assets.").ok();
    writeln!(code, "static ASSETS: &[Asset] = &[").ok();
    for a in assets {
        let gzip = match &a.gzip {
            Some(p) => format!("Some(include_bytes!({:?}))", p.display().to_string()),
            None => "None".into(),
        };
        writeln!(
            code,
            "    Asset {{ name: {:?}, content_type: {:?}, version: {:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            a.name,
            content_type(&a.name),
            a.version,
            a.path.display().to_string()
        )
        .ok();
    }
    writeln!(code, "];").ok();
    if let Err(e) = std::fs::write(out_root.join("assets.rs"), code) {
        panic!("writing assets.rs: {e}");
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// One built file: its name, where it is, its content version and its gzip copy when that is smaller.
struct Built {
    name: String,
    path: PathBuf,
    version: String,
    gzip: Option<PathBuf>,
}

/// Versions every file by its content and makes the files that name others name them with their version
/// (`/assets/app.js?v=…`), so a browser may keep a versioned file for good and still never runs a stale
/// one: files that name no other first, then the bundle (it names the map's worker), then the page (it
/// names the rest). Each text file also gets a gzip copy.
fn finish(out: &Path) -> Vec<Built> {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let rank = |n: &str| match n {
        "index.html" => 2,
        "app.js" => 1,
        _ => 0,
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    let mut done: Vec<Built> = Vec::new();
    for name in names {
        let path = out.join(&name);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        if rank(&name) > 0 {
            let mut text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"));
            for b in &done {
                for q in ['"', '\'', '`'] {
                    text = text.replace(
                        &format!("{q}/assets/{}{q}", b.name),
                        &format!("{q}/assets/{}?v={}{q}", b.name, b.version),
                    );
                }
            }
            bytes = text.into_bytes();
            std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        let gzip = compressible(&name).then(|| gzip(out, &name, &bytes)).flatten();
        done.push(Built {
            version: format!("{:016x}", fnv1a(&bytes)),
            name,
            path,
            gzip,
        });
    }
    done
}

fn compressible(name: &str) -> bool {
    matches!(
        name.rsplit('.').next(),
        Some("html" | "js" | "mjs" | "css" | "json" | "txt" | "svg")
    )
}

/// The gzip copy of a file in `out/gzip/`, when it is smaller than the file.
fn gzip(out: &Path, name: &str, bytes: &[u8]) -> Option<PathBuf> {
    use std::io::Write as _;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(bytes).ok()?;
    let packed = z.finish().ok()?;
    if packed.len() >= bytes.len() {
        return None;
    }
    let dir = out.join("gzip");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{name}.gz"));
    std::fs::write(&path, packed).ok()?;
    Some(path)
}

/// FNV-1a, 64 bits: a content version for caching, not a security check.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

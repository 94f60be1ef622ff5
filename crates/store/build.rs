//! Discovers the SQL migrations under `migrations/<backend>/NNNN_name.sql` and embeds them with
//! `include_str!`, so that adding a migration is adding a file: no list to edit, no file to share.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let mut code = String::new();
    for (constant, dir) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let path = Path::new(&manifest_dir).join("migrations").join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
        let mut found: Vec<(u32, String, String)> = Vec::new();
        let entries = std::fs::read_dir(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = file.strip_suffix(".sql") else {
                continue;
            };
            let (number, name) = stem
                .split_once('_')
                .unwrap_or_else(|| panic!("migration {file} must be named NNNN_name.sql"));
            let version: u32 = number
                .parse()
                .unwrap_or_else(|_| panic!("migration {file} must start with a number"));
            if let Some(other) = found.iter().find(|m| m.0 == version) {
                panic!("migrations {file} and {} share version {version}", other.2);
            }
            found.push((version, name.to_string(), entry.path().display().to_string()));
        }
        found.sort();
        writeln!(code, "/// The {dir} migrations, in version order.").ok();
        writeln!(code, "pub const {constant}: &[Migration] = &[").ok();
        for (version, name, file) in found {
            writeln!(
                code,
                "    Migration {{ version: {version}, name: {name:?}, sql: include_str!({file:?}) }},"
            )
            .ok();
        }
        writeln!(code, "];").ok();
    }
    let dest = Path::new(&out_dir).join("migrations.rs");
    std::fs::write(&dest, code).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}

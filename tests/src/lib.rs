//! Helpers shared by the end-to-end tests in `tests/tests/`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `tianshu` binary the end-to-end tests run.
///
/// `TIANSHU_BIN` names it when set (the test command builds it once, in the same cargo invocation as the
/// tests, and sets it, so no test rebuilds it with another feature set). Otherwise it is built here, once
/// per test process, next to the test executable (`target/<profile>/tianshu`).
pub fn tianshu_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TIANSHU_BIN") {
            return PathBuf::from(p);
        }
        // A test executable lives in target/<profile>/deps; the binary one level up.
        let exe = std::env::current_exe().expect("the test's own path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the target directory")
            .to_path_buf();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "--quiet", "-p", "tianshu", "--bin", "tianshu"])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .expect("running cargo build for the tianshu binary");
        assert!(status.success(), "building the tianshu binary failed");
        dir.join(format!("tianshu{}", std::env::consts::EXE_SUFFIX))
    })
    .clone()
}

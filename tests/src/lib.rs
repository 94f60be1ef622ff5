//! Helpers shared by the end-to-end tests in `tests/tests/`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub mod sinks;

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

/// A `tianshu serve` process that has bound its listeners.
pub struct Listening {
    /// The process (stdout is drained in the background so it never blocks on a full pipe).
    pub child: std::process::Child,
    /// Where terminals connect.
    pub jt808: std::net::SocketAddr,
    /// Where `/metrics`, `/readyz` and the API are.
    pub http: std::net::SocketAddr,
}

/// Runs `tianshu ARGS` (a `serve`), and returns once it printed `listening jt808=ADDR http=ADDR`. Logs go
/// to the test's stderr at the level of `TIANSHU_TEST_LOG` (default `error`).
pub fn spawn_listening<I, S>(args: I) -> Listening
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(tianshu_bin())
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("TIANSHU_TEST_LOG").unwrap_or_else(|_| "error".to_string()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting tianshu serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("listening ") => break l,
            Some(Ok(_)) => continue,
            _ => {
                let status = child.wait();
                panic!("tianshu serve exited before listening: {status:?}");
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let addr = |key: &str| -> std::net::SocketAddr {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
    };
    Listening {
        jt808: addr("jt808="),
        http: addr("http="),
        child,
    }
}

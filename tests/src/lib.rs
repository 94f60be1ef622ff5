//! What the end-to-end tests in `tests/tests/` share: the `tianshu` binary (run to completion, or served
//! on loopback port 0), HTTP reads of its endpoints, and by area the API's seeded server ([`api`]), a
//! JT/T 808 test terminal ([`gateway`]) and the MQTT feeds ([`mqtt`]). Scratch stores, waits and fixture
//! builders come from `tianshu-testkit`, re-exported here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod api;
pub mod browser;
pub mod fuel;
pub mod gateway;
pub mod jt809;
pub mod mqtt;
pub mod openapi;
pub mod pg_cluster;
pub mod relay;
pub mod xlsx;

pub use tianshu_testkit::{
    Fix, Scratch, ScratchDir, T0_SECS, WAIT, metric, on_both_backends, point, registry_record, retry_until,
    sinks, trip, unique, wait_for, wait_for_state, wait_until, wait_watermark,
};

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

/// The arguments of `tianshu serve` on `store_url`, listening on ports the system picks on 127.0.0.1.
pub fn serve_args(store_url: &str) -> [&str; 7] {
    [
        "serve",
        "--store",
        store_url,
        "--jt808",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]
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
        // A process without the gateway role says `jt808=off`.
        jt808: if line.contains("jt808=off") {
            std::net::SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            addr("jt808=")
        },
        http: addr("http="),
        child,
    }
}

/// Runs `tianshu ARGS` to completion in `cwd` (the current directory when `None`) with `env` added.
pub fn run(args: &[&str], cwd: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(tianshu_bin());
    cmd.args(args).envs(env.iter().copied());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.output().expect("running tianshu")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The repository root (for deploy/ files).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// A running `tianshu serve`, killed when dropped.
pub struct Tianshu {
    /// The process.
    pub child: Child,
    /// Where terminals connect.
    pub jt808: SocketAddr,
    /// Where `/metrics`, `/readyz` and the API are.
    pub http: SocketAddr,
}

impl Tianshu {
    /// Starts `tianshu serve --store URL` with `config_toml` as its configuration file (written into `dir`)
    /// and `extra` arguments, on loopback port 0; returns once it listens.
    pub fn start(store_url: &str, config_toml: &str, extra: &[&str], dir: &Path) -> Tianshu {
        Self::start_at(
            store_url,
            config_toml,
            extra,
            dir,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
    }

    /// As [`Tianshu::start`], with terminals connecting at `jt808` (to restart on the address of a killed
    /// one).
    pub fn start_at(
        store_url: &str,
        config_toml: &str,
        extra: &[&str],
        dir: &Path,
        jt808: SocketAddr,
    ) -> Tianshu {
        let config = dir.join(format!("{}.toml", unique("tianshu")));
        std::fs::write(&config, config_toml).expect("writing the config file");
        let jt808 = jt808.to_string();
        let serve = [
            "serve",
            "--store",
            store_url,
            "--jt808",
            &jt808,
            "--http",
            "127.0.0.1:0",
            "--config",
        ];
        let l = spawn_listening(
            serve
                .iter()
                .map(std::ffi::OsStr::new)
                .chain([config.as_os_str()])
                .chain(extra.iter().map(std::ffi::OsStr::new)),
        );
        Tianshu {
            jt808: l.jt808,
            http: l.http,
            child: l.child,
        }
    }

    /// `kill -9`: no chance to acknowledge or flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the graceful exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().expect("waiting for tianshu serve")
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        http_get(self.http, "/metrics").await.1
    }

    /// The sum of every sample of `name` whose labels contain `labels` (e.g. `reason="not_json"`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        metric(&self.metrics().await, name, labels)
    }
}

impl Drop for Tianshu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// GET `path` on `addr`: (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connecting to the HTTP endpoint");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("sending the request");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("reading the response");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Every stored point of the vehicle with `plate`, in fix-time order.
pub async fn stored_track(store: &tianshu_store::Store, plate: &str) -> Vec<tianshu_model::Position> {
    use futures::TryStreamExt;
    let vehicle = store
        .vehicle_by_plate(plate)
        .await
        .expect("reading the registry")
        .expect("the test vehicle exists");
    let stream = store
        .track(
            vehicle.id,
            tianshu_model::Timestamp::from_millis(0),
            tianshu_model::Timestamp::from_secs(4_102_444_800), /* 2100-01-01 */
        )
        .await
        .expect("reading a track");
    stream.try_collect().await.expect("streaming a track")
}

/// Runs `tianshu ARGS` to completion with `env` added: (exit success, stdout, stderr).
pub fn run_tianshu(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = run(args, None, env);
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Runs `tianshu ARGS` (logging errors only) and returns what it printed; panics naming the command
/// when it fails.
pub fn tianshu_ok(args: &[&str]) -> String {
    let (ok, out, err) = run_tianshu(args, &[("RUST_LOG", "error")]);
    assert!(ok, "tianshu {args:?} failed: {out}{err}");
    out
}

/// Drives the simulator's fleet over TCP into `jt808` through the simulated span `from..to` at `speedup`
/// simulated seconds per real second; `world` is the options it shares with `simulate --write-world`
/// (terminals, seed, start, scenarios). Returns the simulator's statistics.
pub async fn drive_fleet(
    jt808: SocketAddr,
    (from, to): (tianshu_model::Timestamp, tianshu_model::Timestamp),
    speedup: f64,
    world: &[&str],
) -> serde_json::Value {
    let real_secs = (to.millis() - from.millis()) as f64 / 1000.0 / speedup;
    let mut args: Vec<String> = [
        "simulate",
        "--target",
        &jt808.to_string(),
        "--speedup",
        &speedup.to_string(),
        "--duration-secs",
        &format!("{:.1}", real_secs + 1.0),
        "--connect-spread-secs",
        "0.2",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    args.extend(world.iter().map(|s| s.to_string()));
    let fleet = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tianshu_ok(&args)
    })
    .await
    .expect("the simulator");
    serde_json::from_str(fleet.lines().last().unwrap_or_default()).expect("the simulator's statistics")
}

/// Asserts that each `(name, labels, least)` of `expected` has samples summing to at least `least` in the
/// metrics text `text`.
#[track_caller]
pub fn assert_metrics_at_least(text: &str, expected: &[(&str, &str, f64)]) {
    for &(name, labels, least) in expected {
        let got = metric(text, name, labels);
        assert!(
            got >= least,
            "{name}{{{labels}}} is {got}, below {least}:\n{text}"
        );
    }
}

//! The page in a real browser: Debian's chromium driven by `tests/browser/drive.mjs` (playwright-core from
//! npm) through a named scenario, which prints a line per check.

use std::path::Path;
use std::process::Command;

/// `npm ci` for the driver when its packages are missing; the driver's output when it ran.
pub fn drive(scenario: &str, url: &str, logins: &serde_json::Value, env: &[(&str, &str)]) -> String {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "chromium is not installed (the test command `.ci/test` installs it: apt-get install chromium)"
    );
    let dir = crate::repo_root().join("tests").join("browser");
    // The tests run in parallel processes: one installs while the others wait on the lock, and the
    // packages count as there only once npm wrote its lock file at the end of the install.
    let lock = std::fs::File::create(dir.join(".npm-install.lock")).expect("the install lock");
    lock.lock().expect("taking the install lock");
    if !dir.join("node_modules").join(".package-lock.json").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("running npm ci for the browser driver");
        assert!(status.success(), "npm ci in tests/browser failed");
    }
    drop(lock);
    let out = Command::new("node")
        .arg("drive.mjs")
        .arg(scenario)
        .current_dir(&dir)
        .env("TIANSHU_URL", url)
        .env("TIANSHU_LOGINS", logins.to_string())
        .env(
            "TIANSHU_ARTIFACTS",
            crate::repo_root().join("tests").join("artifacts"),
        )
        .envs(env.iter().copied())
        .output()
        .expect("running node");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(
        out.status.success(),
        "the browser scenario {scenario} failed:\n{text}"
    );
    text
}

/// Asserts that the driver printed each of `lines`.
#[track_caller]
pub fn says(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(out.contains(line), "missing: {line}");
    }
}

//! The `tianshu` binary as an engineer meets it first: `decode` on a captured frame, its exit codes, and the
//! commands a build carries.
//! (Being an integration test of this package also makes the test build produce `target/<profile>/tianshu`,
//! which the end-to-end tests in `tests/` run.)

use std::process::Command;

/// SmallChi's 107-byte 0x0200 location report with twelve additional items.
const REPORT: &str = "7E0200005C11223344556622B8000000010000000200BA7F0E07E4F11C0028003C00001807151010100104000000640202003703020038040200011105010000000112060100000001011307000000020022012504000000172A0200F42B04000000F2300102310105167E";

fn tianshu(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tianshu"))
        .args(args)
        .output()
        .expect("running tianshu");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn decode_prints_one_json_object_with_units_in_the_names() {
    let (ok, out) = tianshu(&["decode", REPORT]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    let body = &v["body"];
    assert_eq!(
        body["fix_time_utc"], "2018-07-15T02:10:10Z",
        "GMT+8 BCD time comes out as UTC"
    );
    assert_eq!(body["lat_deg"], 12.222222);
    assert_eq!(body["altitude_m"], 40);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(12));
}

#[test]
fn a_frame_that_does_not_decode_says_where_and_fails_the_exit_code() {
    let (ok, out) = tianshu(&["decode", REPORT, "7e0000"]);
    assert!(!ok, "one bad frame fails the run");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(lines.len(), 2, "the good frame is still printed: {out}");
    assert_eq!(lines[1]["error"]["kind"], "incomplete_frame");
    assert_eq!(lines[1]["error"]["offset"], 0);
}

/// `--protocol jt809` reads platform-to-platform frames; `--key` opens encrypted bodies.
#[test]
fn decode_reads_jt809_frames_with_their_key() {
    // SmallChi/JT809's encrypted 2011 login (M1 30000000, IA1 and IC1 20000000).
    const LOGIN: &str = "5B000000480000008510010133EFB8010000010003E8B2D37D9CC4900C77DC78F8676527D8AE12243CFB64CC2FBA619AEFAD33ACCB3256F67BFF19DF33097841098665703FE36E5D";
    let (ok, out) = tianshu(&[
        "decode",
        "--protocol",
        "jt809",
        "--key",
        "30000000,20000000,20000000",
        LOGIN,
    ]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["message"], "login");
    assert_eq!(v["body"]["down_link_ip"], "127.0.0.1");
    let (ok, out) = tianshu(&["decode", "--protocol", "jt809", LOGIN]);
    assert!(!ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["error"]["kind"], "no_key");
}

/// `demo` and `simulate` come with the `demo` feature (a default one) and are absent without it.
#[test]
fn the_simulator_commands_come_with_the_demo_feature() {
    let with = cfg!(feature = "demo");
    let (ok, help) = tianshu(&["--help"]);
    assert!(ok, "{help}");
    for command in ["demo", "simulate"] {
        let listed = help.lines().any(|l| l.trim_start().starts_with(command));
        assert_eq!(listed, with, "{command} in --help:\n{help}");
        let (ok, _) = tianshu(&[command, "--help"]);
        assert_eq!(ok, with, "tianshu {command} --help");
    }
    // The other commands are there either way.
    assert!(
        help.lines().any(|l| l.trim_start().starts_with("serve")),
        "{help}"
    );
}

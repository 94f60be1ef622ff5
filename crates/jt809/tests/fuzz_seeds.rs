//! Replays the committed fuzz seed corpus (`fuzz/seeds/`, built from the golden vectors) through the
//! very entry points the cargo-fuzz targets call, so CI checks them on a stable toolchain.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("seed");
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "seed {} panics", path.display());
        n += 1;
    }
    n
}

#[test]
fn frame_splitter_seeds() {
    let n = replay("frame_splitter", tianshu_jt809::fuzz_entry::frame_splitter);
    assert!(n >= 180, "only {n} seeds");
}

#[test]
fn body_decoder_seeds() {
    let n = replay("body_decoder", tianshu_jt809::fuzz_entry::body_decoder);
    assert!(n >= 90, "only {n} seeds");
}

//! Byte streams through the frame splitter. Run with
//! `cargo +nightly fuzz run frame_splitter fuzz/seeds/frame_splitter` from `crates/jt809`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tianshu_jt809::fuzz_entry::frame_splitter(data));

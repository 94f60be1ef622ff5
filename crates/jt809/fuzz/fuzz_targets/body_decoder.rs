//! Message bodies (`[msg id WORD, edition selector BYTE, body...]`) through the body decoders. Run with
//! `cargo +nightly fuzz run body_decoder fuzz/seeds/body_decoder` from `crates/jt809`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tianshu_jt809::fuzz_entry::body_decoder(data));

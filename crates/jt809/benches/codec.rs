//! JT/T 809 codec benchmarks (figures in BENCHMARKS.md, section "JT/T 809 codec"): position messages,
//! the bulk of what a lower platform forwards. Each figure is the benchmark thread's own CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so that other work on a shared machine does not count; `_wall`
//! rows are criterion's wall clock for the same loop.
//!
//! - `decode_1202_{2011,2019}[_encrypted]`: one escaped 0x1200/0x1202 frame (real-time position):
//!   unescape, MSG_LENGTH, CRC-16, decrypt when encrypted, header, container, position, into a reused
//!   scratch buffer.
//! - `encode_1202_{2011,2019}[_encrypted]`: the same message built, encrypted, CRC'd and escaped into
//!   reused buffers.
//! - `frame_decoder_1202_{2011,2019}`: the TCP path as the platform links read it, `FrameDecoder::decode_ref`
//!   on a `BytesMut`, then the body.

// `criterion_group!`/`criterion_main!` generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tianshu_jt809::{
    Cipher, Codec, Edition, ForVehicle, FrameDecoder, Gnss, Gnss2011, Gnss2019, Header, Message,
    PlatformAlarm, UpExg, Vehicle,
};

/// This thread's CPU time so far (`CLOCK_THREAD_CPUTIME_ID`, exact to the nanosecond).
#[allow(unsafe_code)]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` `iters` times; the CPU time this thread spent.
fn cpu_timed<R>(iters: u64, mut f: impl FnMut() -> R) -> Duration {
    let start = thread_cpu();
    for _ in 0..iters {
        black_box(f());
    }
    thread_cpu() - start
}

const CIPHER: Cipher = Cipher {
    m1: 30_000_000,
    ia1: 20_000_000,
    ic1: 20_000_000,
};

fn position(edition: Edition) -> Message {
    let gnss = match edition {
        Edition::V2011 => Gnss::V2011(Gnss2011 {
            encrypt: 0,
            day: 6,
            month: 12,
            year: 2026,
            hour: 8,
            minute: 30,
            second: 15,
            lon_e6: 118_796_877,
            lat_e6: 32_060_255,
            speed_kmh: 42,
            recorder_speed_kmh: 41,
            mileage_km: 12_345,
            direction_deg: 90,
            altitude_m: 12,
            state: 3,
            alarm: 0,
        }),
        Edition::V2019 => Gnss::V2019(Gnss2019 {
            encrypt: 0,
            location: vec![
                0, 0, 0, 0, 0, 0, 0, 3, 0x01, 0xe9, 0x33, 0x5f, 0x07, 0x14, 0xb3, 0x4d, 0, 12, 1, 0xa4, 0,
                90, 0x26, 0x12, 0x06, 0x08, 0x30, 0x15,
            ],
            platforms: [
                PlatformAlarm {
                    platform_id: "32010000001".into(),
                    alarm: 0,
                },
                PlatformAlarm {
                    platform_id: String::new(),
                    alarm: 0,
                },
                PlatformAlarm {
                    platform_id: String::new(),
                    alarm: 0,
                },
            ],
        }),
    };
    Message::UpExg(ForVehicle {
        vehicle: Vehicle {
            plate: "苏A12345".into(),
            color: 2,
        },
        data: UpExg::RealLocation(gnss),
    })
}

fn header(edition: Edition, encrypted: bool) -> Header {
    let mut h = Header::new(edition, 0, 1234, 3_201_000);
    h.encrypted = encrypted;
    h.encrypt_key = 256_178;
    h.time_utc = if edition == Edition::V2019 {
        1_796_000_000
    } else {
        0
    };
    h
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("jt809");
    g.throughput(Throughput::Elements(1));
    for (edition, encrypted, name) in [
        (Edition::V2011, false, "2011"),
        (Edition::V2011, true, "2011_encrypted"),
        (Edition::V2019, false, "2019"),
        (Edition::V2019, true, "2019_encrypted"),
    ] {
        let codec = Codec::new(edition).with_cipher(Some(CIPHER));
        let h = header(edition, encrypted);
        let m = position(edition);
        let raw = codec.encode(&h, &m).expect("encodes");
        let mut scratch = Vec::new();
        g.bench_function(format!("decode_1202_{name}"), |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    let f = codec
                        .decode_frame_into(black_box(&raw), &mut scratch)
                        .expect("frame");
                    f.message().expect("body")
                })
            })
        });
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        g.bench_function(format!("encode_1202_{name}"), |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    out.clear();
                    codec
                        .encode_into(black_box(&h), black_box(&m), &mut scratch, &mut out)
                        .expect("encodes");
                    out.len()
                })
            })
        });
    }
    for (edition, name) in [(Edition::V2011, "2011"), (Edition::V2019, "2019")] {
        let codec = Codec::new(edition);
        let raw = codec
            .encode(&header(edition, false), &position(edition))
            .expect("encodes");
        let mut decoder = FrameDecoder::new(codec);
        let mut buf = BytesMut::new();
        g.bench_function(format!("frame_decoder_1202_{name}"), |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    buf.extend_from_slice(black_box(&raw));
                    let f = decoder.decode_ref(&mut buf).expect("frame").expect("whole");
                    f.message().expect("body")
                })
            })
        });
    }
    let codec = Codec::new(Edition::V2011);
    let h = header(Edition::V2011, false);
    let m = position(Edition::V2011);
    let raw = codec.encode(&h, &m).expect("encodes");
    let mut scratch = Vec::new();
    g.bench_function("decode_1202_2011_wall", |b| {
        b.iter(|| {
            let f = codec
                .decode_frame_into(black_box(&raw), &mut scratch)
                .expect("frame");
            f.message().expect("body")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

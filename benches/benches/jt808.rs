//! JT/T 808 codec benchmarks (figures in BENCHMARKS.md, section "JT/T 808 codec").
//!
//! - `decode_0200_107b`: SmallChi's 107-byte 0x0200 frame: find the frame, unescape, checksum, header,
//!   body and all 12 additional items, on the borrowed (allocation-free) path.
//! - `decode_0200_107b_to_position`: the same plus the conversion to a `Position` (UTC time, signs).
//! - `frame_decoder_0200_107b`: the same frame through `FrameDecoder` on a `BytesMut`, the TCP path.
//! - `encode_8001`: a platform acknowledgement, header + body + checksum + escape, into a reused buffer.
//! - `*_cpu`: the same measured in this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) rather than wall
//!   time, so that other processes on a shared machine do not count (their cache and core contention
//!   still does).
//! - `stream_1000_mixed`: 1,000 mixed frames (location reports, heartbeats, batches, acks) fed to
//!   `FrameDecoder` in 1,460-byte reads, every body decoded and every location item visited.

// `criterion_group!`/`criterion_main!` generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;

/// Folds every field of an item into a number, as a consumer that stores all items would touch them.
#[inline]
fn digest(item: tianshu_jt808::AdditionalItem<'_>) -> u32 {
    use tianshu_jt808::AdditionalItem as I;
    match item {
        I::Mileage { mileage_dkm } => mileage_dkm,
        I::Fuel { fuel_dl } => u32::from(fuel_dl),
        I::RecorderSpeed { speed_dkmh } => u32::from(speed_dkmh) << 1,
        I::AlarmEventId { event_id } => u32::from(event_id) << 2,
        I::TyrePressure { pressures } => pressures.len() as u32,
        I::CabinTemperature { temperature_c } => temperature_c as u32,
        I::OverspeedAlarm {
            location_type,
            area_id,
        } => u32::from(location_type) ^ area_id.unwrap_or(0),
        I::AreaAlarm {
            location_type,
            area_id,
            direction,
        } => u32::from(location_type) ^ area_id ^ u32::from(direction),
        I::RouteDriveTime {
            route_id,
            drive_time_secs,
            result,
        } => route_id ^ u32::from(drive_time_secs) ^ u32::from(result),
        I::ExtendedSignals { signals } => signals,
        I::IoStatus { io } => u32::from(io),
        I::Analog { ad0, ad1 } => u32::from(ad0) ^ u32::from(ad1) << 16,
        I::Rssi { rssi } => u32::from(rssi),
        I::Satellites { count } => u32::from(count),
        I::Raw { id, value } | I::Truncated { id, value, .. } => u32::from(id) ^ value.len() as u32,
        _ => 0,
    }
}

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tianshu_jt808::{
    BatchItems, DecodeOptions, FrameDecoder, GeneralAck, Header, Items, LocationBatch, LocationReport,
    Message, decode_next, encode_message, id,
};
use tianshu_model::{Edition, Phone, PositionSource, Timestamp, VehicleId};

const FRAME_0200: &str = "7E0200005C11223344556622B8000000010000000200BA7F0E07E4F11C0028003C00001807151010100104000000640202003703020038040200011105010000000112060100000001011307000000020022012504000000172A0200F42B04000000F2300102310105167E";

/// Visits every item so the lazily decoded list is really decoded.
#[inline]
fn visit_items(report: &LocationReport<'_>) -> u32 {
    let mut n = 0u32;
    for item in report.items.iter() {
        n = n.rotate_left(3) ^ digest(item);
    }
    n
}

fn decode_one(raw: &[u8], scratch: &mut [u8]) -> u32 {
    let Some((Ok(frame), _)) = decode_next(raw, scratch, DecodeOptions::STRICT) else {
        return 0;
    };
    match frame.message() {
        Ok(Message::Location(report)) => visit_items(&report) ^ u32::from(frame.header.serial),
        _ => 0,
    }
}

/// This thread's CPU time.
#[allow(unsafe_code)]
fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` `iters` times and returns the CPU time this thread spent.
fn cpu_timed<R>(iters: u64, mut f: impl FnMut() -> R) -> std::time::Duration {
    let start = thread_cpu_time();
    for _ in 0..iters {
        black_box(f());
    }
    thread_cpu_time() - start
}

fn bench_decode(c: &mut Criterion) {
    let raw = hex::decode(FRAME_0200).expect("hex");
    assert_eq!(raw.len(), 107);
    let mut scratch = [0u8; 256];
    assert_ne!(decode_one(&raw, &mut scratch), 0);
    let mut g = c.benchmark_group("jt808");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_0200_107b", |b| {
        b.iter(|| decode_one(black_box(&raw), &mut scratch))
    });
    g.bench_function("decode_0200_107b_cpu", |b| {
        b.iter_custom(|iters| cpu_timed(iters, || decode_one(black_box(&raw), &mut scratch)))
    });
    g.bench_function("decode_0200_107b_to_position", |b| {
        b.iter(|| {
            let raw = black_box(&raw[..]);
            let (frame, _) = decode_next(raw, &mut scratch, DecodeOptions::STRICT).expect("a whole frame");
            let frame = frame.expect("decodes");
            let Ok(Message::Location(report)) = frame.message() else {
                unreachable!()
            };
            report.to_position(
                frame.header.phone,
                VehicleId(1),
                Timestamp::from_secs(1_700_000_000),
                PositionSource::Live,
            )
        })
    });
    g.bench_function("frame_decoder_0200_107b", |b| {
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.extend_from_slice(black_box(&raw));
            let frame = decoder.decode(&mut buf).expect("decodes").expect("whole frame");
            match frame.message() {
                Ok(Message::Location(report)) => visit_items(&report),
                _ => 0,
            }
        })
    });
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let header = Header::new(id::PLATFORM_ACK, Phone(13_800_138_000), 0, Edition::V2013);
    let mut out = BytesMut::with_capacity(64);
    let mut g = c.benchmark_group("jt808");
    g.throughput(Throughput::Elements(1));
    let mut serial = 0u16;
    let mut encode = move || {
        serial = serial.wrapping_add(1);
        out.clear();
        let ack = Message::PlatformAck(GeneralAck {
            reply_serial: black_box(serial),
            reply_msg_id: id::LOCATION,
            result: GeneralAck::RESULT_OK,
        });
        encode_message(&Header { serial, ..header }, &ack, &mut out).expect("encodes");
        out.len()
    };
    g.bench_function("encode_8001", |b| b.iter(&mut encode));
    g.bench_function("encode_8001_cpu", |b| {
        b.iter_custom(|iters| cpu_timed(iters, &mut encode))
    });
    g.finish();
}

/// 1,000 frames: 70% location reports, 20% heartbeats, 5% five-point batches, 5% terminal acks,
/// from terminals of both header layouts.
fn mixed_stream() -> Vec<u8> {
    let location = hex::decode(FRAME_0200).expect("hex");
    let location_body = &location[13..location.len() - 2];
    let report = LocationReport::decode(location_body, 0x0200, 0).expect("body");
    let reports = [report; 5];
    let mut out = BytesMut::new();
    for i in 0..1000u32 {
        let edition = if i % 3 == 0 {
            Edition::V2019
        } else {
            Edition::V2013
        };
        let header = Header::new(0, Phone(13_800_000_000 + u128::from(i % 50)), i as u16, edition);
        let msg = match i % 20 {
            0..=13 => Message::Location(report),
            14..=17 => Message::Heartbeat,
            18 => Message::LocationBatch(LocationBatch {
                count: 5,
                location_type: 1,
                items: BatchItems::List(&reports),
            }),
            _ => Message::TerminalAck(GeneralAck {
                reply_serial: 7,
                reply_msg_id: 0x8103,
                result: 0,
            }),
        };
        encode_message(&header, &msg, &mut out).expect("encodes");
    }
    out.to_vec()
}

fn bench_stream(c: &mut Criterion) {
    let stream = mixed_stream();
    let mut g = c.benchmark_group("jt808");
    g.throughput(Throughput::Elements(1000));
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(8192);
    let mut run = move || {
        let mut frames = 0u32;
        let mut acc = 0u32;
        for chunk in black_box(&stream).chunks(1460) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = decoder.decode(&mut buf).expect("decodes") {
                frames += 1;
                match frame.message().expect("body") {
                    Message::Location(r) => acc = acc.wrapping_add(visit_items(&r)),
                    Message::LocationBatch(batch) => {
                        for r in batch.iter().flatten() {
                            acc = acc.wrapping_add(visit_items(&r));
                        }
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(frames, 1000);
        acc
    };
    g.bench_function("stream_1000_mixed", |b| b.iter(&mut run));
    g.bench_function("stream_1000_mixed_cpu", |b| {
        b.iter_custom(|iters| cpu_timed(iters, &mut run))
    });
    g.finish();
    let _ = Items::Wire(&[]);
}

criterion_group!(benches, bench_decode, bench_encode, bench_stream);
criterion_main!(benches);

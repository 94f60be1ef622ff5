//! Forwarding to an upper platform, the part without I/O (figures in BENCHMARKS.md, section "JT/T 809
//! forwarding"): per batch of 10,000 committed points of 100 cars, in receive order, what the lower
//! platform does between reading them from the store and writing them to the socket, and what the upper
//! platform does between reading the bytes and handing points to its sink.
//!
//! - `lower_encode_{live,backfill}_{2011,2019}[_encrypted]`: [`forwarded`] (0x1202 one by one, or 0x1203
//!   five at a time) and every message encoded (header, body, cipher, CRC, escapes) into one buffer.
//! - `upper_decode_live_2011`: the same bytes cut by `FrameDecoder`, decoded, and each position turned
//!   into a `Position` of its car.

// `criterion_group!`/`criterion_main!` generate undocumented functions.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tianshu_jt809::{Cipher, Codec, Edition, FrameDecoder, Header, Message, UpExg, forwarded};
use tianshu_model::{AlarmFlags, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId};

const POINTS: usize = 10_000;
const CARS: i64 = 100;
const CIPHER: Cipher = Cipher {
    m1: 30_000_000,
    ia1: 20_000_000,
    ic1: 20_000_000,
};

/// `POINTS` points, car after car in turn, a second apart, received `age_ms` before `now`.
fn batch(now: Timestamp, age_ms: i64) -> (Vec<Position>, HashMap<VehicleId, String>) {
    let points = (0..POINTS as i64)
        .map(|i| Position {
            vehicle: VehicleId(1 + i % CARS),
            phone: Phone(0),
            fix_time: Timestamp::from_secs(now.secs() - 3_600 + i / CARS),
            recv_time: now.add_millis(-age_ms),
            lat_e6: 30_200_000 + i as i32,
            lon_e6: 115_040_000 + i as i32,
            altitude_m: 30,
            speed_dkmh: 400,
            course_deg: 90,
            alarm: AlarmFlags(0),
            status: StatusFlags(3),
            mileage_dkm: Some(123_450),
            fuel_dl: None,
            satellites: Some(12),
            rssi: None,
            source: PositionSource::Live,
        })
        .collect();
    let plates = (1..=CARS).map(|v| (VehicleId(v), format!("鄂B{v:05}"))).collect();
    (points, plates)
}

/// Every message encoded back to back, as the lower platform writes a batch.
fn encode_all(codec: &Codec, ms: &[Message], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    out.clear();
    for (sn, m) in ms.iter().enumerate() {
        let mut h = Header::new(codec.edition, m.msg_id(), sn as u32, 4200);
        h.encrypted = codec.cipher.is_some();
        h.encrypt_key = 256_178;
        codec.encode_into(&h, m, scratch, out).expect("encodes");
    }
}

fn lower(c: &mut Criterion) {
    let mut g = c.benchmark_group("jt809_forward");
    g.throughput(Throughput::Elements(POINTS as u64));
    g.sample_size(20);
    let now = Timestamp::now();
    for (age_ms, kind) in [(1_000, "live"), (3_600_000, "backfill")] {
        let (points, plates) = batch(now, age_ms);
        for (edition, cipher, name) in [
            (Edition::V2011, None, "2011"),
            (Edition::V2011, Some(CIPHER), "2011_encrypted"),
            (Edition::V2019, None, "2019"),
        ] {
            let codec = Codec::new(edition).with_cipher(cipher);
            let (mut scratch, mut out) = (Vec::new(), Vec::new());
            g.bench_function(format!("lower_encode_{kind}_{name}"), |b| {
                b.iter(|| {
                    let ms = forwarded(black_box(&points), &plates, now, edition);
                    encode_all(&codec, &ms, &mut scratch, &mut out);
                    out.len()
                })
            });
        }
    }
    let (points, plates) = batch(now, 1_000);
    let codec = Codec::new(Edition::V2011);
    let (mut scratch, mut wire) = (Vec::new(), Vec::new());
    encode_all(
        &codec,
        &forwarded(&points, &plates, now, Edition::V2011),
        &mut scratch,
        &mut wire,
    );
    let by_plate: HashMap<String, VehicleId> = plates.iter().map(|(v, p)| (p.clone(), *v)).collect();
    g.bench_function("upper_decode_live_2011", |b| {
        b.iter(|| {
            let mut decoder = FrameDecoder::new(codec);
            let mut buf = BytesMut::from(black_box(&wire[..]));
            let mut taken = 0usize;
            while let Some(frame) = decoder.decode_ref(&mut buf).expect("a frame") {
                let Ok(Message::UpExg(m)) = frame.message() else {
                    continue;
                };
                if let UpExg::RealLocation(g) = m.data {
                    let vehicle = by_plate[&m.vehicle.plate];
                    taken += usize::from(g.to_position(vehicle, now, PositionSource::Live).is_ok());
                }
            }
            assert_eq!(taken, POINTS);
            taken
        })
    });
    g.finish();
}

criterion_group!(benches, lower);
criterion_main!(benches);

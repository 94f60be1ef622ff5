//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the seed-replay test, so that CI
//! exercises exactly what the fuzzers run without needing a nightly toolchain. Not part of the API.

use bytes::BytesMut;
use tianshu_model::{Edition, Phone, PositionSource, Timestamp, VehicleId};

use crate::{DecodeOptions, FrameDecoder, Message, decode_next, encode_message_as};

/// Splits `data` as a stream: through [`FrameDecoder`] in chunks whose size the first byte picks, and
/// through the borrowed [`decode_next`]; both must agree on every frame, and memory must stay capped.
pub fn frame_splitter(data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 64) + 1;
    let options = if first & 0x80 != 0 {
        DecodeOptions::LENIENT
    } else {
        DecodeOptions::STRICT
    };
    let cap = 8192;
    let mut decoder = FrameDecoder::new(options, cap);
    let mut buf = BytesMut::new();
    let mut streamed = Vec::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        // Each call consumes bytes or asks for more: this ends.
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Ok(m) = frame.message() {
                        let _ = m.leniencies();
                    }
                    streamed.push((frame.header, frame.body.to_vec()));
                }
                Ok(None) => break,
                Err(_) => {}
            }
        }
        assert!(buf.len() <= cap, "buffered {} bytes past the cap", buf.len());
    }
    // The borrowed splitter finds the same frames (the stream has fewer bytes than the cap).
    if stream.len() < cap {
        let mut scratch = vec![0u8; stream.len()];
        let mut rest = stream;
        let mut borrowed = Vec::new();
        while let Some((result, used)) = decode_next(rest, &mut scratch, options) {
            if let Ok(frame) = result {
                borrowed.push((frame.header, frame.body.to_vec()));
            }
            rest = &rest[used..];
        }
        assert_eq!(streamed, borrowed);
    }
}

/// Decodes `data[3..]` as the body of message `data[0..2]` in edition `data[2] % 3`, walks every lazy
/// part, and checks that re-encoding what decoded decodes to the same message.
pub fn body_decoder(data: &[u8]) {
    let [hi, lo, e, body @ ..] = data else { return };
    let msg_id = u16::from_be_bytes([*hi, *lo]);
    let edition = [Edition::V2011, Edition::V2013, Edition::V2019][usize::from(*e % 3)];
    let Ok(msg) = Message::decode_as(msg_id, edition, body) else {
        return;
    };
    let _ = msg.leniencies();
    match msg {
        Message::Location(r) => {
            let _ = r.to_position(Phone(1), VehicleId(1), Timestamp(0), PositionSource::Live);
        }
        Message::LocationBatch(b) => {
            for r in b.iter().flatten() {
                let _ = r.to_position(Phone(1), VehicleId(1), Timestamp(0), PositionSource::Backfill);
            }
        }
        Message::SetParameters(l) | Message::Parameters { list: l, .. } => {
            for p in l.iter().flatten() {
                let _ = (p.as_u32(), p.as_text());
            }
        }
        Message::DriverIdentity(d) => {
            let _ = d.time();
        }
        _ => {}
    }
    let header = crate::Header::new(msg_id, Phone(13_800_138_000), 1, edition);
    let mut out = BytesMut::new();
    if encode_message_as(&header, edition, &msg, &mut out).is_err() {
        return;
    }
    let mut scratch = vec![0u8; out.len()];
    let frame = match crate::decode_frame(&out, &mut scratch, DecodeOptions::STRICT) {
        Ok(f) => f,
        Err(e) => panic!("re-encoded frame does not decode: {e}"),
    };
    let again = Message::decode_as(msg_id, edition, frame.body);
    assert_eq!(again.as_ref(), Ok(&msg), "decode(encode(m)) differs from m");
}

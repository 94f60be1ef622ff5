//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the seed-replay test, so that CI
//! exercises exactly what the fuzzers run without a nightly toolchain. Not part of the API.

use bytes::BytesMut;

use crate::{Cipher, Codec, Edition, FrameDecoder, Message};

const CIPHER: Cipher = Cipher {
    m1: 30_000_000,
    ia1: 20_000_000,
    ic1: 20_000_000,
};

/// Splits `data[1..]` as a stream through [`FrameDecoder`] in chunks whose size and edition the first
/// byte picks; memory must stay capped, and every frame that decodes must re-encode to frame bytes
/// that decode to the same message.
pub fn frame_splitter(data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let edition = if first & 0x80 != 0 {
        Edition::V2019
    } else {
        Edition::V2011
    };
    let chunk = usize::from(first % 64) + 1;
    let mut codec = Codec::new(edition).with_cipher(Some(CIPHER));
    codec.max_frame_bytes = 4096;
    let mut decoder = FrameDecoder::new(codec);
    let mut buf = BytesMut::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Ok(m) = frame.message() {
                        check_round_trip(&codec, &frame.header, &m);
                    }
                }
                Ok(None) => break,
                Err(_) => {}
            }
        }
        assert!(
            buf.len() <= codec.max_frame_bytes + chunk,
            "buffered {} bytes past the cap",
            buf.len()
        );
    }
}

/// Decodes `data[3..]` as the body of message `data[0..2]` in the edition `data[2]` picks, and checks
/// that what decodes re-encodes to a body that decodes to the same message.
pub fn body_decoder(data: &[u8]) {
    let [hi, lo, e, body @ ..] = data else { return };
    let msg_id = u16::from_be_bytes([*hi, *lo]);
    let edition = if e & 1 == 0 {
        Edition::V2011
    } else {
        Edition::V2019
    };
    let Ok(m) = Message::decode(msg_id, edition, body) else {
        return;
    };
    let codec = Codec::new(edition).with_cipher(Some(CIPHER));
    check_round_trip(&codec, &crate::Header::new(edition, msg_id, 1, 1), &m);
}

fn check_round_trip(codec: &Codec, header: &crate::Header, m: &Message) {
    let Ok(bytes) = codec.encode(header, m) else {
        return;
    };
    let again = codec.decode_frame(&bytes).expect("a re-encoded frame decodes");
    assert_eq!(
        again.message().as_ref(),
        Ok(m),
        "decode(encode(m)) differs from m"
    );
}

//! Frames split anywhere decode the same; damaged frames (bad CRC, bad escape, a MSG_LENGTH or
//! DATA_LENGTH that lies, a body cut short, a run with no end) are refused with their reason and the
//! stream goes on with the next frame.

mod samples;

use bytes::BytesMut;
use tianshu_jt809::*;

fn codec(edition: Edition) -> Codec {
    Codec::new(edition).with_cipher(Some(samples::CIPHER))
}

fn frame(edition: Edition, encrypted: bool, name: &str) -> Vec<u8> {
    let (_, m) = samples::all(edition)
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("sample");
    let mut h = Header::new(edition, 0, 5, 3_201_000);
    h.encrypted = encrypted;
    h.encrypt_key = 99;
    h.time_utc = 1_796_000_000;
    codec(edition).encode(&h, &m).expect("encodes")
}

/// Unescaped content of a frame (between the delimiters), and back.
fn open(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    escape::unescape_into(&raw[1..raw.len() - 1], 1, &mut out).expect("a frame this test built");
    out
}

fn close(content: &[u8]) -> Vec<u8> {
    let mut out = vec![escape::BEGIN];
    escape::escape_into(content, &mut out);
    out.push(escape::END);
    out
}

/// Recomputes the CRC after a change, so that only the change itself is wrong.
fn reseal(mut content: Vec<u8>) -> Vec<u8> {
    let n = content.len() - 2;
    let crc = crc16(&content[..n]);
    content[n..].copy_from_slice(&crc.to_be_bytes());
    close(&content)
}

#[test]
fn a_stream_split_at_every_point_yields_the_same_frames() {
    for edition in [Edition::V2011, Edition::V2019] {
        for encrypted in [false, true] {
            let mut stream = b"noise".to_vec();
            let a = frame(edition, encrypted, "real_location");
            let b = frame(edition, encrypted, "supervision");
            stream.extend_from_slice(&a);
            stream.extend_from_slice(&b);
            let want = [
                codec(edition).decode_frame(&a).unwrap(),
                codec(edition).decode_frame(&b).unwrap(),
            ];
            for cut in 0..=stream.len() {
                let mut d = FrameDecoder::new(codec(edition));
                let mut buf = BytesMut::new();
                let mut got = Vec::new();
                for part in [&stream[..cut], &stream[cut..]] {
                    buf.extend_from_slice(part);
                    while let Some(f) = d.decode(&mut buf).expect("no error") {
                        got.push(f);
                    }
                }
                assert_eq!(got, want, "cut at {cut}");
            }
            // Byte by byte too.
            let mut d = FrameDecoder::new(codec(edition));
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for &byte in &stream {
                buf.extend_from_slice(&[byte]);
                while let Some(f) = d.decode(&mut buf).expect("no error") {
                    got.push(f);
                }
            }
            assert_eq!(got, want);
        }
    }
}

#[test]
fn a_bad_crc_is_refused_with_both_values() {
    for edition in [Edition::V2011, Edition::V2019] {
        let raw = frame(edition, false, "real_location");
        let mut content = open(&raw);
        let n = content.len();
        content[n - 1] ^= 0x01;
        let err = codec(edition).decode_frame(&close(&content)).unwrap_err();
        assert!(matches!(err, Error::BadCrc { .. }), "{err}");
        // A flipped body byte is caught by the CRC as well.
        let mut content = open(&raw);
        content[edition.header_len() + 3] ^= 0x40;
        assert_eq!(
            codec(edition).decode_frame(&close(&content)).unwrap_err().kind(),
            "bad_crc"
        );
    }
}

#[test]
fn bad_escapes_are_refused_with_their_offset() {
    let raw = frame(Edition::V2011, false, "keep_alive");
    for (at, bytes) in [(5usize, [0x5a, 0x03]), (9, [0x5e, 0x00])] {
        let mut bad = raw.clone();
        bad[at] = bytes[0];
        bad[at + 1] = bytes[1];
        let err = codec(Edition::V2011).decode_frame(&bad).unwrap_err();
        assert_eq!(err.kind(), "bad_escape", "{err}");
        assert_eq!(err.offset(), Some(at));
    }
    // An escape byte as the last byte before the closing flag.
    let mut bad = raw.clone();
    let n = bad.len();
    bad[n - 2] = 0x5a;
    assert_eq!(
        codec(Edition::V2011).decode_frame(&bad).unwrap_err().kind(),
        "bad_escape"
    );
}

#[test]
fn a_msg_length_that_lies_is_refused() {
    for edition in [Edition::V2011, Edition::V2019] {
        let mut content = open(&frame(edition, false, "real_location"));
        let declared = u32::from_be_bytes(content[..4].try_into().unwrap());
        content[..4].copy_from_slice(&(declared + 1).to_be_bytes());
        let err = codec(edition).decode_frame(&reseal(content)).unwrap_err();
        assert_eq!(
            err,
            Error::LengthMismatch {
                declared: declared + 1,
                actual: declared as usize
            }
        );
    }
}

#[test]
fn a_data_length_that_lies_is_refused() {
    for edition in [Edition::V2011, Edition::V2019] {
        let mut content = open(&frame(edition, false, "real_location"));
        // DATA_LENGTH sits after the plate (21), the colour (1) and DATA_TYPE (2).
        let at = edition.header_len() + 24;
        let declared = u32::from_be_bytes(content[at..at + 4].try_into().unwrap());
        content[at..at + 4].copy_from_slice(&(declared - 1).to_be_bytes());
        let f = codec(edition)
            .decode_frame(&reseal(content))
            .expect("the frame is sound");
        let err = f.message().unwrap_err();
        assert!(
            matches!(err, Error::DataLengthMismatch { declared: d, .. } if d == declared - 1),
            "{err}"
        );
    }
}

#[test]
fn a_body_cut_short_or_too_long_is_refused() {
    for edition in [Edition::V2011, Edition::V2019] {
        let codec = codec(edition);
        let f = codec.decode_frame(&frame(edition, false, "login")).unwrap();
        for cut in 0..f.body.len() {
            let err = Message::decode(f.header.msg_id, edition, &f.body[..cut]).unwrap_err();
            assert_eq!(err.kind(), "truncated", "cut {cut}: {err}");
        }
        let mut longer = f.body.clone();
        longer.push(0);
        assert_eq!(
            Message::decode(f.header.msg_id, edition, &longer)
                .unwrap_err()
                .kind(),
            "trailing_bytes"
        );
    }
}

#[test]
fn a_frame_shorter_than_the_header_is_refused() {
    let two = close(&[0u8; 10]);
    assert_eq!(
        codec(Edition::V2011).decode_frame(&two).unwrap_err().kind(),
        "too_short"
    );
    // A 2011 frame read as 2019 is too short or fails its length check, never misread.
    let raw = frame(Edition::V2011, false, "keep_alive");
    assert!(codec(Edition::V2019).decode_frame(&raw).is_err());
    assert_eq!(
        codec(Edition::V2011).decode_frame(b"[]").unwrap_err().kind(),
        "too_short"
    );
    assert_eq!(
        codec(Edition::V2011).decode_frame(b"ab").unwrap_err().kind(),
        "missing_delimiter"
    );
}

#[test]
fn an_unknown_encryption_flag_is_refused() {
    let mut content = open(&frame(Edition::V2011, false, "keep_alive"));
    content[17] = 2;
    assert_eq!(
        codec(Edition::V2011).decode_frame(&reseal(content)).unwrap_err(),
        Error::BadEncryptFlag { flag: 2 }
    );
}

#[test]
fn a_ten_megabyte_frame_is_refused_without_being_buffered() {
    let mut d = FrameDecoder::new(codec(Edition::V2011));
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0x5b]);
    let chunk = vec![0x11u8; 64 * 1024];
    let mut refused = 0;
    let mut max_buffered = 0;
    for _ in 0..160 {
        buf.extend_from_slice(&chunk);
        max_buffered = max_buffered.max(buf.len());
        match d.decode(&mut buf) {
            Err(Error::FrameTooLong { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
            Ok(f) => assert!(f.is_none()),
        }
    }
    assert!(refused >= 1);
    assert!(max_buffered <= DEFAULT_MAX_FRAME_BYTES + chunk.len() + 1);
    // The link goes on: a sound frame after the flood decodes.
    buf.extend_from_slice(&frame(Edition::V2011, false, "keep_alive"));
    let f = loop {
        match d.decode(&mut buf) {
            Ok(Some(f)) => break f,
            Ok(None) => panic!("frame lost"),
            Err(_) => {}
        }
    };
    assert_eq!(f.message().unwrap(), Message::KeepAlive);
}

#[test]
fn a_damaged_frame_fails_alone_in_a_stream() {
    let good = frame(Edition::V2011, false, "real_location");
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 0x01; // the CRC's low byte (no escape there in this sample)
    let mut cut = good.clone();
    cut.truncate(cut.len() / 2);
    let mut stream = Vec::new();
    for part in [&good[..], &bad[..], &cut[..], &good[..]] {
        stream.extend_from_slice(part);
    }
    let mut d = FrameDecoder::new(codec(Edition::V2011));
    let mut buf = BytesMut::from(&stream[..]);
    let mut results = Vec::new();
    loop {
        match d.decode(&mut buf) {
            Ok(Some(f)) => results.push(Ok(f.header.msg_id)),
            Ok(None) => break,
            Err(e) => results.push(Err(e.kind())),
        }
    }
    assert_eq!(
        results,
        [Ok(0x1200), Err("bad_crc"), Err("unterminated"), Ok(0x1200)]
    );
}

#[test]
fn encoding_refuses_what_the_wire_cannot_carry() {
    let codec = codec(Edition::V2011);
    let h = Header::new(Edition::V2011, 0, 1, 1);
    let long_plate = Message::UpBase(ForVehicle {
        vehicle: Vehicle {
            plate: "京A123456789012345678901".into(),
            color: 1,
        },
        data: UpBase::VehicleAddedAck {
            car_info: String::new(),
        },
    });
    assert_eq!(
        codec.encode(&h, &long_plate).unwrap_err().kind(),
        "field_too_long"
    );
    let not_gbk = Message::Logout(Logout {
        user_id: 1,
        password: "😀".into(),
    });
    assert_eq!(codec.encode(&h, &not_gbk).unwrap_err().kind(), "not_gbk");
    let mut enc = h;
    enc.encrypted = true;
    let no_key = Codec::new(Edition::V2011);
    assert_eq!(
        no_key
            .encode(&enc, &Message::SubLogin { verify_code: 1 })
            .unwrap_err()
            .kind(),
        "no_key"
    );
}

/// A listener reads the access code of a first frame before it knows the peer's edition and key: the
/// same in both editions, encrypted or not, and a frame too short for a header is refused.
#[test]
fn the_access_code_is_read_before_the_edition_is_known() {
    for edition in [Edition::V2011, Edition::V2019] {
        for encrypted in [false, true] {
            let raw = frame(edition, encrypted, samples::all(edition)[0].0);
            assert_eq!(
                access_code(&raw),
                Ok(3_201_000),
                "{edition:?}, encrypted {encrypted}"
            );
        }
    }
    assert_eq!(
        access_code(&[0x5b, 0, 0, 0x5d]).map_err(|e| e.kind()),
        Err("too_short")
    );
}

/// `cut` hands whole escaped frames out as they arrive, and the codec can change between frames.
#[test]
fn frames_are_cut_before_they_are_decoded_and_the_codec_changes_between_them() {
    let a = frame(Edition::V2011, false, samples::all(Edition::V2011)[0].0);
    let b = frame(Edition::V2019, true, samples::all(Edition::V2019)[0].0);
    let mut d = FrameDecoder::new(Codec::new(Edition::V2011));
    let mut buf = BytesMut::from(&a[..a.len() - 1]);
    assert_eq!(d.cut(&mut buf).expect("no error"), None);
    buf.extend_from_slice(&a[a.len() - 1..]);
    buf.extend_from_slice(&b);
    assert_eq!(d.cut(&mut buf).expect("the first frame").as_deref(), Some(&a[..]));
    d.set_codec(codec(Edition::V2019));
    let second = d
        .decode(&mut buf)
        .expect("the second frame decodes")
        .expect("a frame");
    assert_eq!(second.header.edition, Edition::V2019);
    assert!(buf.is_empty());
}

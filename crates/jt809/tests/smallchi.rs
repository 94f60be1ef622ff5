//! Frames from the test suite of SmallChi/JT809 (a C# implementation), decoded here and re-encoded to
//! the same bytes: the framing, escaping, CRC and cipher agree with an independent implementation.

use tianshu_jt809::*;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("hex")
}

/// JT809_0x1001EncryptPackageTest: a 2011 login, encrypted with M1 30000000, IA1 and IC1 20000000.
#[test]
fn encrypted_login_2011() {
    let raw = hex(
        "5B000000480000008510010133EFB8010000010003E8B2D37D9CC4900C77DC78F8676527D8AE12243CFB64CC2FBA619AEFAD33ACCB3256F67BFF19DF33097841098665703FE36E5D",
    );
    let cipher = Cipher {
        m1: 30_000_000,
        ia1: 20_000_000,
        ic1: 20_000_000,
    };
    let codec = Codec::new(Edition::V2011).with_cipher(Some(cipher));
    let frame = codec.decode_frame(&raw).expect("decodes");
    assert_eq!(frame.header.msg_sn, 133);
    assert_eq!(frame.header.center_id, 20_180_920);
    assert_eq!(frame.header.version, [1, 0, 0]);
    assert!(frame.header.encrypted);
    assert_eq!(frame.header.encrypt_key, 256_178);
    let Message::Login(login) = frame.message().expect("body") else {
        panic!("a login")
    };
    assert_eq!(login.user_id, 20_180_920);
    assert_eq!(login.password, "20180920");
    assert_eq!(login.down_link_ip, "127.0.0.1");
    assert_eq!(login.down_link_port, 809);
    let again = codec
        .encode(&frame.header, &Message::Login(login))
        .expect("encodes");
    assert_eq!(again, raw);
    // Without the key the body is refused, not misread.
    let err = Codec::new(Edition::V2011).decode_frame(&raw).unwrap_err();
    assert_eq!(err.kind(), "no_key");
}

/// JT809_0x9400_0x9401PackageTest: a 2011 supervision request with escaped bytes (`5a 01`).
#[test]
fn supervision_request_2011() {
    let raw = hex(
        "5B 00 00 00 92 00 00 06 82 94 00 01 33 EF B8 01 00 00 00 00 00 27 0F D4 C1 41 31 32 33 34 35 00 00 00 00 00 00 00 00 00 00 00 00 00 02 94 01 00 00 00 5C 01 00 02 00 00 00 00 5A 01 AC 3F 40 12 3F FA A1 00 00 00 00 5A 01 AC 4D 50 03 73 6D 61 6C 6C 63 68 69 00 00 00 00 00 00 00 00 31 32 33 34 35 36 37 38 39 30 31 00 00 00 00 00 00 00 00 00 31 32 33 34 35 36 40 71 71 2E 63 6F 6D 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 BA D8 5D",
    );
    let codec = Codec::new(Edition::V2011);
    let frame = codec.decode_frame(&raw).expect("decodes");
    assert_eq!(frame.header.msg_sn, 1666);
    assert_eq!(frame.header.encrypt_key, 9999);
    assert!(!frame.header.encrypted);
    let Message::DownWarn(Warn {
        vehicle: Some(vehicle),
        data: DownWarn::Supervision(s),
    }) = frame.message().expect("body")
    else {
        panic!("a supervision request")
    };
    assert_eq!(vehicle.plate, "粤A12345");
    assert_eq!(vehicle.color, 2);
    assert_eq!(s.warn_src, 1);
    assert_eq!(s.warn_type, 2);
    assert_eq!(s.supervision_id, 0x123F_FAA1);
    assert_eq!(s.deadline_utc - s.warn_time_utc, 3600);
    assert_eq!(s.level, 3);
    assert_eq!(s.supervisor, "smallchi");
    assert_eq!(s.supervisor_tel, "12345678901");
    assert_eq!(s.supervisor_email, "123456@qq.com");
    let again = codec
        .encode(
            &frame.header,
            &Message::DownWarn(Warn {
                vehicle: Some(vehicle),
                data: DownWarn::Supervision(s),
            }),
        )
        .expect("encodes");
    assert_eq!(again, raw);
}

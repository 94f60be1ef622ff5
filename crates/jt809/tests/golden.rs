//! Golden vectors: `protocols/jt809/jt809-vectors.jsonl` holds every message of `samples::all`, in
//! both editions, plain and encrypted, as frames with the JSON the codec decodes them to. Each record
//! must decode to its JSON and the sample must encode to its bytes, so any change of layout shows
//! here. `JT809_WRITE_VECTORS=1` rewrites the file after a deliberate change.

mod samples;

use serde_json::{Value, json};
use tianshu_jt809::*;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../protocols/jt809/jt809-vectors.jsonl"
);

fn record(edition: Edition, encrypted: bool, sn: u32, name: &str, m: &Message) -> Value {
    let codec = Codec::new(edition).with_cipher(Some(samples::CIPHER));
    let mut header = Header::new(edition, 0, sn, 3_201_000);
    header.encrypted = encrypted;
    header.encrypt_key = if encrypted { 256_178 + sn } else { 0 };
    if edition == Edition::V2019 {
        header.time_utc = 1_796_000_000 + u64::from(sn);
    }
    let frame = codec.encode(&header, m).expect("encodes");
    json!({
        "name": name,
        "msg_id": format!("0x{:04x}", m.msg_id()),
        "data_type": m.data_type().map(|t| format!("0x{t:04x}")),
        "edition": edition.as_str(),
        "encrypted": encrypted,
        "hex": hex::encode(&frame),
        "message": serde_json::to_value(m).expect("json"),
    })
}

fn expected() -> Vec<Value> {
    let mut out = Vec::new();
    let mut sn = 0;
    for edition in [Edition::V2011, Edition::V2019] {
        for encrypted in [false, true] {
            for (name, m) in samples::all(edition) {
                sn += 1;
                out.push(record(edition, encrypted, sn, name, &m));
            }
        }
    }
    out
}

#[test]
fn vectors_decode_to_their_json_and_samples_encode_to_their_bytes() {
    let want = expected();
    if std::env::var_os("JT809_WRITE_VECTORS").is_some() {
        let text: String = want.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(PATH, text).expect("write vectors");
    }
    let text = std::fs::read_to_string(PATH).expect("vectors file");
    let have: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(have.len(), want.len(), "record count");
    for (h, w) in have.iter().zip(&want) {
        // Encoding the sample gives the recorded bytes.
        assert_eq!(h, w, "record {} ({} {})", w["name"], w["edition"], w["encrypted"]);
        // Decoding the recorded bytes gives the recorded JSON.
        let edition = Edition::parse(h["edition"].as_str().unwrap()).unwrap();
        let codec = Codec::new(edition).with_cipher(Some(samples::CIPHER));
        let raw = hex::decode(h["hex"].as_str().unwrap()).unwrap();
        let frame = codec.decode_frame(&raw).expect("decodes");
        assert_eq!(frame.header.encrypted, h["encrypted"].as_bool().unwrap());
        let m = frame.message().expect("body decodes");
        assert_eq!(serde_json::to_value(&m).unwrap(), h["message"], "{}", h["name"]);
    }
    // Every message id and sub-business type the codec lays out has a record in each edition.
    for edition in ["2011", "2019"] {
        let ids: std::collections::BTreeSet<_> = have
            .iter()
            .filter(|r| r["edition"] == edition)
            .map(|r| format!("{} {}", r["msg_id"], r["data_type"]))
            .collect();
        assert_eq!(ids.len(), samples::all(Edition::V2011).len() - 1, "{edition}");
    }
}

#[test]
fn encrypted_records_differ_from_plain_ones_only_in_the_body() {
    let want = expected();
    let n = samples::all(Edition::V2011).len();
    let (plain, encrypted) = (&want[..n], &want[n..2 * n]);
    let mut differ = 0;
    for (p, e) in plain.iter().zip(encrypted) {
        assert_eq!(p["message"], e["message"]);
        if p["hex"] != e["hex"] {
            differ += 1;
        }
    }
    assert_eq!(differ, n, "every encrypted frame differs (header flag at least)");
}

//! `tianshu decode --protocol jt809`: JT/T 809 frames in hex to JSON, one object per frame.
//!
//! Each object holds the input number, the frame's hex, the header (with the edition used), the
//! message's name, its DATA_TYPE for business messages, and the body as the codec decodes it (texts
//! from GBK, times in UTC seconds, coordinates in millionths of a degree). A frame that does not decode
//! prints `{"input", "frame_hex", "error": {"kind", "reason", "offset", "offset_in"}}` instead.

use std::io::Write;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use tianshu_jt809::{Cipher, Codec, Edition, Error, Frame};

/// What the flags chose.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    cipher: Option<Cipher>,
    edition: Option<Edition>,
}

impl Options {
    /// From `--key` and `--edition`.
    pub fn from_args(key: Option<&str>, edition: Option<&str>) -> anyhow::Result<Options> {
        let cipher = key
            .map(|k| Cipher::parse(k).map_err(|e| anyhow!(e)))
            .transpose()
            .context("--key")?;
        let edition = edition
            .map(|e| Edition::parse(e).ok_or_else(|| anyhow!("--edition `{e}`: expected 2011 or 2019")))
            .transpose()?;
        Ok(Options { cipher, edition })
    }
}

/// Decodes every frame of one input, one JSON line each; whether all of it decoded.
pub fn decode_input(
    input: usize,
    text: &str,
    options: &Options,
    out: &mut (impl Write + ?Sized),
) -> anyhow::Result<bool> {
    let Some(bytes) = super::parse_hex(input, text, out)? else {
        return Ok(false);
    };
    let mut ok = true;
    let mut frames = 0;
    let mut at = 0;
    while let Some(start) = bytes[at..].iter().position(|&b| b == 0x5b).map(|s| s + at) {
        let Some(end) = bytes[start + 1..]
            .iter()
            .position(|&b| b == 0x5d || b == 0x5b)
            .map(|e| e + start + 1)
        else {
            break;
        };
        if bytes[end] == 0x5b {
            let error = json!({"kind": "unterminated", "reason": Error::Unterminated { len: end - start }.to_string(),
                               "offset": start, "offset_in": "input"});
            writeln!(
                out,
                "{}",
                json!({"input": input, "frame_hex": hex::encode(&bytes[start..end]), "error": error})
            )?;
            ok = false;
            at = end;
            continue;
        }
        let raw = &bytes[start..=end];
        let edition = options.edition.unwrap_or_else(|| Edition::guess(raw));
        let codec = Codec::new(edition).with_cipher(options.cipher);
        let frame_hex = hex::encode(raw);
        let line = match codec.decode_frame(raw) {
            Ok(frame) => match render(&frame) {
                Ok(mut v) => {
                    v["input"] = json!(input);
                    v["frame_hex"] = json!(frame_hex);
                    v
                }
                Err(e) => {
                    ok = false;
                    json!({"input": input, "frame_hex": frame_hex, "header": frame.header,
                           "error": error_json(&e, "body")})
                }
            },
            Err(e) => {
                ok = false;
                json!({"input": input, "frame_hex": frame_hex, "edition": edition.as_str(), "error": error_json(&e, "frame")})
            }
        };
        writeln!(out, "{line}")?;
        frames += 1;
        at = end + 1;
    }
    if frames == 0 || bytes[at..].contains(&0x5b) {
        let offset = at + bytes[at..].iter().position(|&b| b == 0x5b).unwrap_or(0);
        let error = json!({"kind": "incomplete_frame", "reason": "no closing 0x5d after the opening 0x5b",
                           "offset": offset, "offset_in": "input"});
        writeln!(out, "{}", json!({"input": input, "error": error}))?;
        ok = false;
    }
    Ok(ok)
}

fn error_json(e: &Error, offset_in: &str) -> Value {
    json!({"kind": e.kind(), "reason": e.to_string(), "offset": e.offset(), "offset_in": offset_in})
}

fn render(frame: &Frame) -> Result<Value, Error> {
    let msg = frame.message()?;
    let body = serde_json::to_value(&msg).unwrap_or(Value::Null);
    // Externally tagged: `{"name": {...}}`, or a bare string for a message without fields.
    let (name, body) = match body {
        Value::Object(m) if m.len() == 1 => m
            .into_iter()
            .next()
            .map_or((String::new(), Value::Null), |(k, v)| (k, v)),
        Value::String(s) => (s, json!({})),
        other => (String::new(), other),
    };
    Ok(json!({
        "header": {
            "msg_id": format!("0x{:04x}", frame.header.msg_id),
            "edition": frame.header.edition.as_str(),
            "msg_sn": frame.header.msg_sn,
            "center_id": frame.header.center_id,
            "version": format!("{}.{}.{}", frame.header.version[0], frame.header.version[1], frame.header.version[2]),
            "encrypted": frame.header.encrypted,
            "encrypt_key": frame.header.encrypt_key,
            "time_utc": (frame.header.edition == Edition::V2019).then_some(frame.header.time_utc),
        },
        "message": name,
        "data_type": msg.data_type().map(|t| format!("0x{t:04x}")),
        "body": body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tianshu_jt809::Message;

    fn decode(text: &str, key: Option<&str>, edition: Option<&str>) -> (bool, Vec<Value>) {
        let options = Options::from_args(key, edition).expect("options");
        let mut out = Vec::new();
        let ok = decode_input(1, text, &options, &mut out).expect("writes");
        let lines = String::from_utf8(out).expect("utf-8");
        (
            ok,
            lines
                .lines()
                .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
                .collect(),
        )
    }

    const LOGIN_ENCRYPTED: &str = "5B000000480000008510010133EFB8010000010003E8B2D37D9CC4900C77DC78F8676527D8AE12243CFB64CC2FBA619AEFAD33ACCB3256F67BFF19DF33097841098665703FE36E5D";

    #[test]
    fn encrypted_login_with_and_without_the_key() {
        let (ok, v) = decode(LOGIN_ENCRYPTED, Some("30000000,20000000,20000000"), None);
        assert!(ok, "{v:?}");
        assert_eq!(v[0]["header"]["msg_id"], "0x1001");
        assert_eq!(v[0]["header"]["edition"], "2011");
        assert_eq!(v[0]["header"]["encrypted"], true);
        assert_eq!(v[0]["message"], "login");
        assert_eq!(v[0]["body"]["password"], "20180920");
        assert_eq!(v[0]["body"]["down_link_port"], 809);
        let (ok, v) = decode(LOGIN_ENCRYPTED, None, None);
        assert!(!ok);
        assert_eq!(v[0]["error"]["kind"], "no_key");
    }

    #[test]
    fn several_frames_damaged_ones_and_a_2019_position() {
        let codec = Codec::new(Edition::V2019);
        let mut h = tianshu_jt809::Header::new(Edition::V2019, 0, 3, 3_201_000);
        h.time_utc = 1_796_000_000;
        let m = Message::UpExg(tianshu_jt809::ForVehicle {
            vehicle: tianshu_jt809::Vehicle {
                plate: "苏A00001".into(),
                color: 1,
            },
            data: tianshu_jt809::UpExg::ApplyHistory(tianshu_jt809::Period {
                start_utc: 1,
                end_utc: 2,
            }),
        });
        let good = hex::encode(codec.encode(&h, &m).unwrap());
        let mut bad = good.clone();
        let n = bad.len();
        bad.replace_range(n - 4..n - 2, "00");
        let (ok, v) = decode(&format!("{good} {bad} 5b0000"), None, None);
        assert!(!ok);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v[0]["header"]["edition"], "2019");
        assert_eq!(v[0]["header"]["time_utc"], 1_796_000_000);
        assert_eq!(v[0]["message"], "up_exg");
        assert_eq!(v[0]["data_type"], "0x1209");
        assert_eq!(v[0]["body"]["vehicle"]["plate"], "苏A00001");
        assert_eq!(v[1]["error"]["kind"], "bad_crc");
        assert_eq!(v[2]["error"]["kind"], "incomplete_frame");
        let (ok, v) = decode("5bzz", None, None);
        assert!(!ok);
        assert_eq!(v[0]["error"]["kind"], "invalid_hex");
        assert!(Options::from_args(Some("1,2"), None).is_err());
        assert!(Options::from_args(None, Some("2013")).is_err());
    }
}

//! Raw JT/T 808 frames over MQTT: one escaped frame `7e ... 7e` per message.
//!
//! The same codec as TCP decodes them, strictly (a bad checksum is refused: over MQTT the transport already
//! delivers whole messages, so a damaged frame is the publisher's bug, not line noise). Location reports
//! (0x0200), answers to position queries (0x0201) and batches (0x0704, live or blind-area backfill) carry
//! points, which the same [`Uplink`] as TCP's turns into track points: a garbled report of a batch is
//! refused alone, as on TCP. A heartbeat (0x0002) is accepted with none. Registration and authentication
//! belong to TCP, where the platform can answer; over MQTT the broker authenticates the publisher, so other
//! messages are refused as `unsupported_message`. Subpackaged messages are refused as well: a publisher
//! sends whole messages.

use tianshu_ingest::uplink::{Binding, Refusal, Uplink};
use tianshu_jt808::{DecodeOptions, Message, decode_frame};
use tianshu_model::Phone;

/// Decodes one frame, unescaped into `scratch`: the phone of its header and its message, if MQTT accepts
/// that message.
pub fn decode<'a>(payload: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<(Phone, Message<'a>), Refusal> {
    scratch.clear();
    scratch.resize(payload.len(), 0);
    let frame = decode_frame(payload, scratch, DecodeOptions::STRICT)
        .map_err(|e| Refusal::new("bad_frame", e.to_string()))?;
    if frame.header.subpackage.is_some() {
        return Err(Refusal::new("unsupported_message", "subpackaged message"));
    }
    let message = frame
        .message()
        .map_err(|e| Refusal::new("bad_frame", e.to_string()))?;
    match message {
        Message::Location(_) | Message::LocationReply(_) | Message::LocationBatch(_) | Message::Heartbeat => {
            Ok((frame.header.phone, message))
        }
        _ => Err(Refusal::new(
            "unsupported_message",
            format!("message 0x{:04x} is not accepted over MQTT", frame.header.msg_id),
        )),
    }
}

/// The points of an accepted message for `binding` (none for a heartbeat), with its refused reports.
pub fn points(message: &Message<'_>, binding: Binding) -> Uplink {
    Uplink::from_message(message, binding).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use tianshu_model::{Timestamp, VehicleId};

    use super::*;

    const REPORT: &str = "7e0200002611223344556622b8000000010000000200ba7f0e07e4f11c0028003c000018071510101001040000006402020037577e";

    fn binding() -> Binding {
        Binding {
            phone: Phone(112_233_445_566),
            vehicle: VehicleId(9),
            recv_time: Timestamp::from_secs(1_795_737_600),
            clock_offset_secs: 0,
            config: Default::default(),
        }
    }

    #[test]
    fn a_location_report_decodes() {
        let wire = hex(REPORT);
        let mut scratch = Vec::new();
        let (phone, message) = decode(&wire, &mut scratch).unwrap();
        assert_eq!(phone, Phone(112_233_445_566));
        let u = points(&message, binding());
        assert_eq!(u.points.len(), 1);
        assert_eq!(
            (u.points[0].lat_e6, u.points[0].lon_e6),
            (12_222_222, 132_444_444)
        );
        assert_eq!(u.points[0].vehicle, VehicleId(9));
    }

    /// A 0x0704 of three reports whose second has a clock that is not BCD (the checksum is right).
    #[test]
    fn a_batch_with_a_garbled_report_keeps_the_good_ones() {
        // The 0x0200 body above, three times; the second with its time field set to ff.
        let report = &hex(REPORT)[13..13 + 38];
        let mut garbled = report.to_vec();
        garbled[22..28].fill(0xff);
        let mut body = vec![0x00, 0x03, 0x00];
        for r in [report, &garbled[..], report] {
            body.extend_from_slice(&(r.len() as u16).to_be_bytes());
            body.extend_from_slice(r);
        }
        let header =
            tianshu_jt808::Header::new(0x0704, Phone(112_233_445_566), 1, tianshu_model::Edition::V2013);
        let mut wire = bytes::BytesMut::new();
        tianshu_jt808::encode_frame(&header, &body, &mut wire).unwrap();
        let mut scratch = Vec::new();
        let (_, message) = decode(&wire, &mut scratch).unwrap();
        let u = points(&message, binding());
        assert_eq!(u.points.len(), 2, "the good reports survive");
        let reasons: Vec<_> = u.refused.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, vec!["invalid_bcd"]);
    }

    #[test]
    fn damage_is_refused() {
        let mut wire = hex(REPORT);
        let n = wire.len();
        wire[n - 2] ^= 0xff; // checksum
        let mut scratch = Vec::new();
        assert_eq!(decode(&wire, &mut scratch).unwrap_err().reason, "bad_frame");
        assert_eq!(decode(b"hello", &mut scratch).unwrap_err().reason, "bad_frame");
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

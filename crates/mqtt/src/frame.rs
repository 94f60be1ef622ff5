//! Raw JT/T 808 frames over MQTT: one escaped frame `7e ... 7e` per message.
//!
//! The same codec as TCP decodes them, strictly (a bad checksum is refused: over MQTT the transport already
//! delivers whole messages, so a damaged frame is the publisher's bug, not line noise). Location reports
//! (0x0200), answers to position queries (0x0201) and batches (0x0704, live or blind-area backfill) become
//! points; a heartbeat (0x0002) is accepted with none. Registration and authentication belong to TCP, where
//! the platform can answer; over MQTT the broker authenticates the publisher, so other messages are refused
//! as `unsupported_message`. Subpackaged messages are refused as well: a publisher sends whole messages.

use tianshu_jt808::{DecodeOptions, Message, decode_frame};
use tianshu_model::{Phone, Position, PositionSource, Timestamp, VehicleId};

use crate::ingest::Rejection;

/// The points of one frame and the terminal that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The phone number of the frame header.
    pub phone: Phone,
    /// The points, not yet bound to a vehicle.
    pub points: Vec<Position>,
}

/// Decodes one frame into points.
pub fn decode(payload: &[u8]) -> Result<Decoded, Rejection> {
    let mut scratch = vec![0u8; payload.len()];
    let frame = decode_frame(payload, &mut scratch, DecodeOptions::STRICT)
        .map_err(|e| Rejection::new("bad_frame", e.to_string()))?;
    let phone = frame.header.phone;
    if frame.header.subpackage.is_some() {
        return Err(Rejection::new("unsupported_message", "subpackaged message"));
    }
    let message = frame
        .message()
        .map_err(|e| Rejection::new("bad_frame", e.to_string()))?;
    let unbound = |r: &tianshu_jt808::LocationReport<'_>, source| {
        r.to_position(phone, VehicleId::default(), Timestamp::default(), source)
            .map_err(|e| Rejection::new("bad_frame", e.to_string()))
    };
    let points = match message {
        Message::Location(r) => vec![unbound(&r, PositionSource::Live)?],
        Message::LocationReply(r) => vec![unbound(&r.report, PositionSource::Live)?],
        Message::LocationBatch(b) => {
            let mut points = Vec::with_capacity(usize::from(b.count).min(64));
            for report in b.iter() {
                // One damaged report does not cost the others, as on TCP.
                let report = report.map_err(|e| Rejection::new("bad_frame", e.to_string()))?;
                points.push(unbound(&report, b.source())?);
            }
            points
        }
        Message::Heartbeat => Vec::new(),
        _ => {
            return Err(Rejection::new(
                "unsupported_message",
                format!("message 0x{:04x} is not accepted over MQTT", frame.header.msg_id),
            ));
        }
    };
    Ok(Decoded { phone, points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_report_decodes() {
        let wire = hex(
            "7e0200002611223344556622b8000000010000000200ba7f0e07e4f11c0028003c000018071510101001040000006402020037577e",
        );
        let d = decode(&wire).unwrap();
        assert_eq!(d.phone, Phone(112_233_445_566));
        assert_eq!(d.points.len(), 1);
        assert_eq!(
            (d.points[0].lat_e6, d.points[0].lon_e6),
            (12_222_222, 132_444_444)
        );
    }

    #[test]
    fn damage_is_refused() {
        let mut wire = hex(
            "7e0200002611223344556622b8000000010000000200ba7f0e07e4f11c0028003c000018071510101001040000006402020037577e",
        );
        let n = wire.len();
        wire[n - 2] ^= 0xff; // checksum
        assert_eq!(decode(&wire).unwrap_err().reason, "bad_frame");
        assert_eq!(decode(b"hello").unwrap_err().reason, "bad_frame");
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

//! What travels on the bus, as bytes: pure, no I/O.
//!
//! A points message holds the points of many frames of one partition, each as its key (vehicle, fix time)
//! and the store's packed record ([`tianshu_model::record::encode_rec`]), so the bus and the store agree on
//! a point's bytes and a point decoded from the bus is the point the gateway saw:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version (1) |
//! | 4 | number of points |
//! | per point: 8, 8, 2, n | vehicle, fix time (Unix ms), record length, record |
//!
//! A vehicle's partition is a stable hash of its id, so all of a vehicle's points go through one
//! partition, in order. A message's id (`Nats-Msg-Id`) is a hash of its points' idempotence keys: the bus
//! drops a message published twice within its duplicate window, and the store's key stores a point
//! published again in another message once.

use sha2::{Digest, Sha256};
use tianshu_model::record::{decode_rec, encode_rec};
use tianshu_model::{Position, VehicleId, fnv1a64};

/// The version byte that starts every points message.
const WIRE_VERSION: u8 = 1;
/// Bytes of a point before its record.
const POINT_HEADER_BYTES: usize = 18;

/// Why a message does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not a points message of a version this build reads.
    #[error("unknown points message version {0}")]
    Version(u8),
    /// The message ends inside a point, or goes on after the last one.
    #[error("points message cut or padded: {0}")]
    Length(String),
    /// A point's record does not unpack.
    #[error("{0}")]
    Record(String),
}

/// The partition of a vehicle's points, `0..partitions` (a `partitions` of 0 counts as 1).
pub fn partition_of(vehicle: VehicleId, partitions: u16) -> u16 {
    (fnv1a64(&vehicle.0.to_be_bytes()) % u64::from(partitions.max(1))) as u16
}

/// Appends a points message holding `points` to `out`.
pub fn encode_points(points: &[Position], out: &mut Vec<u8>) {
    out.push(WIRE_VERSION);
    out.extend_from_slice(&(points.len() as u32).to_be_bytes());
    let mut rec = Vec::with_capacity(64);
    for p in points {
        rec.clear();
        encode_rec(p, &mut rec);
        out.extend_from_slice(&p.vehicle.0.to_be_bytes());
        out.extend_from_slice(&p.fix_time.0.to_be_bytes());
        out.extend_from_slice(&(rec.len() as u16).to_be_bytes());
        out.extend_from_slice(&rec);
    }
}

/// The points of a message written by [`encode_points`]; whatever does not fit the layout is an error.
pub fn decode_points(bytes: &[u8]) -> Result<Vec<Position>, WireError> {
    let Some((&version, rest)) = bytes.split_first() else {
        return Err(WireError::Length("empty message".into()));
    };
    if version != WIRE_VERSION {
        return Err(WireError::Version(version));
    }
    let (count, mut rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| WireError::Length("no point count".into()))?;
    let count = u32::from_be_bytes(*count) as usize;
    // The count is untrusted: the capacity is bounded by what the bytes can hold.
    let mut points = Vec::with_capacity(count.min(bytes.len() / (POINT_HEADER_BYTES + 1)));
    for i in 0..count {
        let cut = || WireError::Length(format!("point {i} of {count} cut short"));
        let (head, tail) = rest.split_first_chunk::<POINT_HEADER_BYTES>().ok_or_else(cut)?;
        let vehicle = i64::from_be_bytes(head[0..8].try_into().map_err(|_| cut())?);
        let fix_time = i64::from_be_bytes(head[8..16].try_into().map_err(|_| cut())?);
        let len = usize::from(u16::from_be_bytes([head[16], head[17]]));
        if tail.len() < len {
            return Err(cut());
        }
        let (rec, tail) = tail.split_at(len);
        points.push(decode_rec(vehicle, fix_time, rec).map_err(WireError::Record)?);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(WireError::Length(format!(
            "{} bytes after the last point",
            rest.len()
        )));
    }
    Ok(points)
}

/// The message id of a group of points: a hash of their idempotence keys (vehicle, fix time, block hash),
/// in order, so the same group published again has the same id.
pub fn message_id(points: &[Position]) -> String {
    let mut hash = Sha256::new();
    for p in points {
        hash.update(p.vehicle.0.to_be_bytes());
        hash.update(p.fix_time.0.to_be_bytes());
        hash.update(p.block_hash().to_be_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tianshu_model::{Phone, Timestamp};

    /// Bytes of a message before its points.
    const HEADER_BYTES: usize = 5;

    fn point(vehicle: i64, secs: i64) -> Position {
        Position {
            vehicle: VehicleId(vehicle),
            phone: Phone(13_800_000_000 + vehicle as u128),
            fix_time: Timestamp(1_700_000_000_000 + secs * 1000),
            recv_time: Timestamp(1_700_000_000_500 + secs * 1000),
            lat_e6: 39_900_000 + secs as i32,
            lon_e6: 116_400_000,
            speed_dkmh: 420,
            mileage_dkm: Some(12_345),
            ..Position::default()
        }
    }

    #[test]
    fn points_round_trip() {
        let points: Vec<Position> = (0..5).map(|i| point(i % 2 + 1, i)).collect();
        let mut bytes = Vec::new();
        encode_points(&points, &mut bytes);
        assert_eq!(decode_points(&bytes), Ok(points));
    }

    #[test]
    fn a_cut_or_padded_or_foreign_message_is_refused() {
        let mut bytes = Vec::new();
        encode_points(&[point(1, 0), point(2, 1)], &mut bytes);
        for cut in [0, 3, HEADER_BYTES + 10, bytes.len() - 1] {
            assert!(
                matches!(decode_points(&bytes[..cut]), Err(WireError::Length(_))),
                "cut at {cut}"
            );
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(matches!(decode_points(&padded), Err(WireError::Length(_))));
        assert_eq!(decode_points(b"{\"json\":1}"), Err(WireError::Version(b'{')));
        // A huge claimed count with no points behind it allocates nothing large and is refused.
        assert!(matches!(
            decode_points(&[1, 0xff, 0xff, 0xff, 0xff]),
            Err(WireError::Length(_))
        ));
    }

    #[test]
    fn partitions_are_stable_and_spread() {
        assert_eq!(partition_of(VehicleId(42), 64), partition_of(VehicleId(42), 64));
        let used: std::collections::HashSet<u16> =
            (0..1000).map(|v| partition_of(VehicleId(v), 64)).collect();
        assert_eq!(used.len(), 64);
        assert!(used.iter().all(|p| *p < 64));
        assert_eq!(partition_of(VehicleId(7), 0), 0);
    }

    #[test]
    fn a_group_has_the_same_id_each_time_and_another_group_another() {
        let a = [point(1, 0), point(1, 1)];
        assert_eq!(message_id(&a), message_id(&a.clone()));
        assert_ne!(message_id(&a), message_id(&[point(1, 0)]));
        assert_eq!(message_id(&a).len(), 32);
    }
}

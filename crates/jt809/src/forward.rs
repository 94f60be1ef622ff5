//! What a lower platform sends for the points it forwards (pure): which go as real-time positions
//! (0x1202) and which as backfills (0x1203), and how backfills are grouped.

use std::collections::HashMap;

use tianshu_model::{Position, Timestamp, VehicleId};

use crate::{Edition, ForVehicle, Gnss, Message, UpExg, Vehicle};

/// A point forwarded this long after its receipt goes as a backfill (0x1203) rather than live.
pub const LIVE_WITHIN_MS: i64 = 60_000;

/// Positions in one 0x1203 message: the standard's five.
pub const BACKFILL_PER_MESSAGE: usize = 5;

/// The messages of `points` (in receive order): recent ones one by one as real-time positions, the
/// rest grouped per car into backfills of up to five.
pub fn forwarded(
    points: &[Position],
    plates: &HashMap<VehicleId, String>,
    now: Timestamp,
    edition: Edition,
) -> Vec<Message> {
    let mut out = Vec::with_capacity(points.len());
    let mut i = 0;
    while i < points.len() {
        let p = &points[i];
        let live = now.0 - p.recv_time.0 <= LIVE_WITHIN_MS;
        let mut j = i + 1;
        while !live && j < points.len() && j - i < BACKFILL_PER_MESSAGE && points[j].vehicle == p.vehicle {
            j += 1;
        }
        let data = if live {
            UpExg::RealLocation(Gnss::from_position(p, edition))
        } else {
            UpExg::HistoryLocation(
                points[i..j]
                    .iter()
                    .map(|q| Gnss::from_position(q, edition))
                    .collect(),
            )
        };
        let vehicle = Vehicle {
            plate: plates.get(&p.vehicle).cloned().unwrap_or_default(),
            color: 1,
        };
        out.push(Message::UpExg(ForVehicle { vehicle, data }));
        i = j;
    }
    out
}

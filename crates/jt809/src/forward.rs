//! What a lower platform sends for the points it forwards (pure): which go as real-time positions
//! (0x1202) and which as backfills (0x1203), how backfills are grouped, and what an upper platform's
//! start or stop of one car's positions (0x9205 / 0x9206) asks and is answered with.

use std::collections::HashMap;

use tianshu_model::{Position, Timestamp, VehicleId};

use crate::{DownExg, Edition, ForVehicle, Gnss, Message, UpExg, Vehicle};

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
        let vehicle = Vehicle::blue(plates.get(&p.vehicle).cloned().unwrap_or_default());
        out.push(Message::UpExg(ForVehicle { vehicle, data }));
        i = j;
    }
    out
}

/// What an upper platform asks of one car's positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionsAsked {
    /// 0x9205 (启动车辆定位信息交换请求): send the car's positions as they come, covered or not.
    Start,
    /// 0x9206 (结束车辆定位信息交换请求): stop sending them (a covered car's positions still go up).
    Stop,
}

/// A start or stop of a car's positions sent down by an upper platform, the car it names and the answer
/// owed for it (0x1205 / 0x1206, naming the same car); `None` for any other message.
pub fn positions_asked(m: &Message) -> Option<(PositionsAsked, &Vehicle, Message)> {
    let Message::DownExg(ForVehicle { vehicle, data }) = m else {
        return None;
    };
    let (asked, answer) = match data {
        DownExg::ReturnStartup { .. } => (PositionsAsked::Start, UpExg::ReturnStartupAck),
        DownExg::ReturnEnd { .. } => (PositionsAsked::Stop, UpExg::ReturnEndAck),
        _ => return None,
    };
    let answer = Message::UpExg(ForVehicle {
        vehicle: vehicle.clone(),
        data: answer,
    });
    Some((asked, vehicle, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(data: DownExg) -> Message {
        Message::DownExg(ForVehicle {
            vehicle: Vehicle::blue("鄂B12345"),
            data,
        })
    }

    #[test]
    fn a_start_and_a_stop_are_answered_for_the_same_car() {
        let start = down(DownExg::ReturnStartup { reason_code: 2 });
        let (asked, car, answer) = positions_asked(&start).expect("a start");
        assert_eq!(asked, PositionsAsked::Start);
        assert_eq!(car.plate, "鄂B12345");
        assert_eq!(answer.msg_id(), 0x1200);
        assert_eq!(
            answer,
            Message::UpExg(ForVehicle {
                vehicle: Vehicle::blue("鄂B12345"),
                data: UpExg::ReturnStartupAck
            })
        );
        let stop = down(DownExg::ReturnEnd { reason_code: 0 });
        let (asked, _, answer) = positions_asked(&stop).expect("a stop");
        assert_eq!(asked, PositionsAsked::Stop);
        assert!(matches!(
            answer,
            Message::UpExg(ForVehicle {
                data: UpExg::ReturnEndAck,
                ..
            })
        ));
        assert!(positions_asked(&down(DownExg::ApplyHistoryAck { result: 0 })).is_none());
        assert!(positions_asked(&Message::KeepAlive).is_none());
    }
}

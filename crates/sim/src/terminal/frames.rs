//! The frames a simulated terminal sends, encoded with the platform's own codec, and the standard's
//! retransmission backoff.
//!
//! Every report carries the same additional items (odometer, signal strength, satellites), whether it goes
//! up live (0x0200), in a blind-area batch (0x0704 type 1) or as the answer to a query (0x0201).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tianshu_jt808::{
    AdditionalItem, BasicLocation, BatchItems, GeneralAck, Header, Items, LocationBatch, LocationReply,
    LocationReport, Message, Parameter, ParameterList, Params, encode_message,
};
use tianshu_model::Position;

use crate::config::FleetConfig;

/// The wait before retransmission number `n` (1-based) of a message, given the first timeout `base`:
/// T(1) = base, T(n+1) = T(n) x (n+1), as JT/T 808 section 4.4 prescribes (so base, 2 base, 6 base...).
pub fn retransmit_wait(base: Duration, n: u32) -> Duration {
    let mut t = base;
    for k in 1..n {
        t = t.saturating_mul(k + 1);
    }
    t
}

/// The additional items a simulated report carries: odometer, signal strength, satellites.
fn report_items(p: &Position) -> [AdditionalItem<'static>; 3] {
    [
        AdditionalItem::Mileage {
            mileage_dkm: p.mileage_dkm.unwrap_or(0),
        },
        AdditionalItem::Rssi {
            rssi: p.rssi.unwrap_or(0),
        },
        AdditionalItem::Satellites {
            count: p.satellites.unwrap_or(0),
        },
    ]
}

/// One message into a fresh buffer.
fn encode(header: &Header, msg: &Message<'_>, capacity: usize) -> Result<Bytes, tianshu_jt808::Error> {
    let mut out = BytesMut::with_capacity(capacity);
    encode_message(header, msg, &mut out)?;
    Ok(out.freeze())
}

/// Encodes a 0x0200 frame for `p` with the simulator's additional items (odometer, signal, satellites).
pub fn encode_location(header: &Header, p: &Position) -> Result<Bytes, tianshu_jt808::Error> {
    let items = report_items(p);
    let report = LocationReport {
        basic: BasicLocation::from_bytes(&p.basic_block()),
        items: Items::List(&items),
    };
    encode(header, &Message::Location(report), 96)
}

/// Encodes a 0x0704 type 1 (blind-area backfill) frame carrying `points`.
pub fn encode_batch(header: &Header, points: &[Position]) -> Result<Bytes, tianshu_jt808::Error> {
    let items: Vec<[AdditionalItem<'static>; 3]> = points.iter().map(report_items).collect();
    let reports: Vec<LocationReport<'_>> = points
        .iter()
        .zip(&items)
        .map(|(p, it)| LocationReport {
            basic: BasicLocation::from_bytes(&p.basic_block()),
            items: Items::List(it),
        })
        .collect();
    let batch = LocationBatch {
        count: reports.len() as u16,
        location_type: 1,
        items: BatchItems::List(&reports),
    };
    encode(header, &Message::LocationBatch(batch), 32 + points.len() * 48)
}

/// Encodes the 0x0201 answer to the query (0x8201) with serial `reply_serial`.
pub(crate) fn encode_location_reply(
    header: &Header,
    reply_serial: u16,
    p: &Position,
) -> Result<Bytes, tianshu_jt808::Error> {
    let items = report_items(p);
    let report = LocationReport {
        basic: BasicLocation::from_bytes(&p.basic_block()),
        items: Items::List(&items),
    };
    let reply = LocationReply { reply_serial, report };
    encode(header, &Message::LocationReply(reply), 96)
}

/// Encodes the 0x0104 answer to a parameter query (0x8104): heartbeat, ack timeout, retransmissions and
/// the reporting interval, as the terminal runs them.
pub(crate) fn encode_parameters(
    header: &Header,
    reply_serial: u16,
    config: &FleetConfig,
) -> Result<Bytes, tianshu_jt808::Error> {
    let heartbeat = (config.heartbeat_secs.round() as u32).to_be_bytes();
    let ack_timeout = (config.ack_timeout_secs.round() as u32).to_be_bytes();
    let retrans = config.max_retransmissions.to_be_bytes();
    let interval = (config.interval_secs.round() as u32).to_be_bytes();
    let list = [
        (0x0001, &heartbeat),
        (0x0002, &ack_timeout),
        (0x0003, &retrans),
        (0x0029, &interval),
    ]
    .map(|(id, value)| Parameter { id, value });
    let msg = Message::Parameters {
        reply_serial,
        list: ParameterList {
            count: list.len() as u8,
            params: Params::List(&list),
        },
    };
    encode(header, &msg, 64)
}

/// Encodes the terminal's general answer (0x0001) to the platform's message `msg_id` / `reply_serial`.
pub(crate) fn encode_terminal_ack(
    header: &Header,
    reply_serial: u16,
    reply_msg_id: u16,
    result: u8,
) -> Result<Bytes, tianshu_jt808::Error> {
    let ack = GeneralAck {
        reply_serial,
        reply_msg_id,
        result,
    };
    encode(header, &Message::TerminalAck(ack), 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_standard() {
        let t = Duration::from_secs(10);
        assert_eq!(retransmit_wait(t, 1), Duration::from_secs(10));
        assert_eq!(retransmit_wait(t, 2), Duration::from_secs(20));
        assert_eq!(retransmit_wait(t, 3), Duration::from_secs(60));
        assert_eq!(retransmit_wait(t, 4), Duration::from_secs(240));
    }
}

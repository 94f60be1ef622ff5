//! What a terminal does with each frame the platform sends while it is online: acknowledgements settle
//! the frames in flight, queries are answered, temporary tracking changes the reporting interval, and
//! anything else gets the general answer the standard asks for.

use tianshu_jt808::{Frame, GeneralAck, Message, RegisterAck, TrackLocation, id};
use tianshu_model::PositionSource;

use super::frames::{encode_location_reply, encode_parameters, encode_terminal_ack};
use super::{Conn, SessionError, Terminal};
use crate::ledger::LedgerEntry;

impl Terminal {
    /// Handles one frame from the platform while online.
    pub(super) async fn on_frame(&mut self, c: &mut Conn, f: &Frame) -> Result<(), SessionError> {
        match f.message()? {
            Message::PlatformAck(ack) => self.on_ack(&ack),
            Message::QueryLocation => {
                let p = self.fix(self.shared.clock.now_ms());
                let header = self.header(id::LOCATION_REPLY);
                c.send(&encode_location_reply(&header, f.header.serial, &p)?)
                    .await?;
            }
            Message::QueryParameters => {
                let header = self.header(id::PARAMETERS);
                let frame = encode_parameters(&header, f.header.serial, &self.shared.config)?;
                c.send(&frame).await?;
            }
            Message::TrackLocation(t) => {
                self.start_tracking(&t);
                self.terminal_ack(c, f, GeneralAck::RESULT_OK).await?;
            }
            Message::SetParameters(_) | Message::TextMessage(_) | Message::TerminalControl(_) => {
                self.terminal_ack(c, f, GeneralAck::RESULT_OK).await?
            }
            Message::RegisterAck(a) => {
                // A late answer to a retransmitted 0x0100: the platform issued a newer code, which is the
                // one it will check from now on.
                if let (RegisterAck::RESULT_OK, Some(code)) = (a.result, a.auth_code) {
                    self.shared.set_auth_code(self.phone, code.as_bytes().to_vec());
                }
            }
            Message::ServerTime(_) => {}
            _ => self.terminal_ack(c, f, GeneralAck::RESULT_UNSUPPORTED).await?,
        }
        Ok(())
    }

    /// A 0x8001 for a frame in flight: its points enter the ledger when accepted, go back to the backlog
    /// when refused. An answer to nothing in flight (a second answer to a retransmitted frame) is ignored.
    fn on_ack(&mut self, ack: &GeneralAck) {
        let Some(i) = self
            .in_flight
            .iter()
            .position(|x| x.serial == ack.reply_serial && x.msg_id == ack.reply_msg_id)
        else {
            return;
        };
        let done = self.in_flight.swap_remove(i);
        if ack.result == GeneralAck::RESULT_OK || ack.result == GeneralAck::RESULT_ALARM_ACKNOWLEDGED {
            let entries: Vec<LedgerEntry> = done.points.iter().map(LedgerEntry::of).collect();
            self.shared.ledger.record(&entries);
            self.shared.stats.points_acked.add(entries.len() as u64);
            if done.msg_id == id::LOCATION_BATCH {
                self.shared.stats.backfill_points_acked.add(entries.len() as u64);
            }
        } else {
            // A refusal is an answer: the platform will not store these; a real terminal keeps them for a
            // later upload, and so do we.
            self.shared.stats.acks_refused.inc();
            for mut p in done.points.into_iter().rev() {
                p.source = PositionSource::Backfill;
                self.backlog.push_front(p);
            }
        }
    }

    /// Temporary tracking (0x8202). Interval 0 stops it; otherwise the next report comes after the new
    /// interval at the latest, and the interval holds until the validity runs out.
    fn start_tracking(&mut self, t: &TrackLocation) {
        let now = self.shared.clock.now_ms();
        self.tracking = (t.interval_secs > 0).then(|| {
            let interval_ms = i64::from(t.interval_secs) * 1000;
            self.next_fix_ms = self.next_fix_ms.min(now + interval_ms);
            (interval_ms, now + i64::from(t.validity_secs) * 1000)
        });
    }

    async fn terminal_ack(&mut self, c: &mut Conn, f: &Frame, result: u8) -> Result<(), SessionError> {
        let header = self.header(id::TERMINAL_ACK);
        c.send(&encode_terminal_ack(
            &header,
            f.header.serial,
            f.header.msg_id,
            result,
        )?)
        .await
    }
}

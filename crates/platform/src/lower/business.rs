//! The link to an upper platform beyond forwarding, as the lower platform: the platform checks and
//! supervision requests it sends are recorded for the dispatch office (once each, however often they
//! come), and the answers given here go up as soon as they are given and the link is up.
//!
//! An upper platform's start or stop of one car's positions (0x9205 / 0x9206) changes which cars are
//! forwarded and is answered (0x1205 / 0x1206) with the next answers.
//!
//! Requests are read from the main link (where the upper platform's keep-alive answers come too).

use std::time::Duration;

use tianshu_jt809::duty::{SUPERVISED_CASE_STATES, supervision_result_of};
use tianshu_jt809::{Error as CodecError, Message, PositionsAsked, positions_asked};
use tianshu_model::Timestamp;
use tianshu_model::case::CaseFilter;
use tianshu_store::jt809_requests::{Direction, NewRequest};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::{LinkError, UpLink};
use crate::metrics::METRICS;
use crate::requests::{answer_of, count, count_answer, received};
use crate::sublink::noted;

impl UpLink<'_> {
    /// Waits up to `poll` for the upper platform's messages, records its requests, and sends the answers
    /// owed to it.
    pub(super) async fn idle(&mut self, stream: &mut TcpStream, poll: Duration) -> Result<(), LinkError> {
        match tokio::time::timeout(poll, stream.read_buf(&mut self.buf)).await {
            Err(_) => {}
            Ok(Ok(0)) => return Err(LinkError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(read) => {
                read?;
            }
        }
        loop {
            match self.decoder.decode_ref(&mut self.buf) {
                Ok(Some(frame)) => match frame.message() {
                    Ok(m) => self.inbox.push((frame.header.msg_sn, m)),
                    Err(e) => refused(&e),
                },
                Ok(None) => break,
                Err(e @ CodecError::FrameTooLong { .. }) => return Err(e.into()),
                Err(e) => refused(&e),
            }
        }
        self.take_requests().await?;
        self.send_answers(stream).await
    }

    /// Records the requests among the messages received.
    async fn take_requests(&mut self) -> Result<(), LinkError> {
        let name = self.upper.name.as_str();
        for (sn, m) in std::mem::take(&mut self.inbox) {
            noted(name, &m);
            if let Some((asked, car, answer)) = positions_asked(&m) {
                self.positions_asked(asked, &car.plate, answer).await?;
                continue;
            }
            let Some(mut new) = received(name, &m, sn, Timestamp::now()) else {
                debug!(upper = %name, msg_id = m.msg_id(), "a message from the upper platform left alone");
                continue;
            };
            new.case_id = self.supervised_case(&new).await?;
            let (r, fresh) = self.store.platform_requests().record(new).await?;
            if fresh {
                count(&r.kind, "received");
                info!(upper = %name, id = r.id, kind = %r.kind, "JT/T 809 request received");
            }
        }
        Ok(())
    }

    /// Starts or stops sending one car's positions as the upper platform asked, and owes it the answer.
    async fn positions_asked(
        &mut self,
        asked: PositionsAsked,
        plate: &str,
        answer: Message,
    ) -> Result<(), LinkError> {
        let name = self.upper.name.as_str();
        let Some(vehicle) = self.store.vehicle_by_plate(plate).await? else {
            count("positions", "unknown_car");
            warn!(upper = %name, %plate, ?asked, "the upper platform asked for the positions of a car not in the registry");
            return Ok(());
        };
        match asked {
            PositionsAsked::Start => {
                self.requested.insert(vehicle.id, vehicle.plate);
            }
            PositionsAsked::Stop => {
                self.requested.remove(&vehicle.id);
            }
        }
        count(
            "positions",
            if asked == PositionsAsked::Start {
                "started"
            } else {
                "stopped"
            },
        );
        info!(upper = %name, %plate, ?asked, "the upper platform asked for a car's positions");
        self.replies.push(answer);
        Ok(())
    }

    /// The case here a supervision request is about: the newest of its car's cases still being dealt
    /// with, as `tianshu_jt809::duty` says; `None` for a check, an unknown car or a car without one.
    async fn supervised_case(&self, new: &NewRequest) -> Result<Option<String>, LinkError> {
        let Some(plate) = new.plate.as_deref().filter(|_| new.kind == "supervision") else {
            return Ok(None);
        };
        let Some(vehicle) = self.store.vehicle_by_plate(plate).await? else {
            return Ok(None);
        };
        let filter = CaseFilter {
            states: SUPERVISED_CASE_STATES.to_vec(),
            vehicle: Some(vehicle.id),
            limit: 1,
            ..CaseFilter::default()
        };
        let cases = self.store.cases().cases(&filter).await?;
        Ok(cases.first().map(|c| c.id.to_string()))
    }

    /// Answers the supervision requests whose case has been dealt with here.
    async fn answer_by_cases(&self) -> Result<(), LinkError> {
        let requests = self.store.platform_requests();
        for r in requests.supervising_cases(&self.upper.name).await? {
            let Some(id) = r.case_id.as_deref().and_then(|c| c.parse::<i64>().ok()) else {
                continue;
            };
            let Some(case) = self.store.cases().case(id).await? else {
                continue;
            };
            if let Some(result) = supervision_result_of(case.state) {
                let by = format!("case {id}");
                requests
                    .answer(r.id, result.as_str(), &by, Timestamp::now())
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends the answers given here and not sent yet (a supervision's once its case is dealt with), each
    /// marked sent once written.
    async fn send_answers(&mut self, stream: &mut TcpStream) -> Result<(), LinkError> {
        let replies = std::mem::take(&mut self.replies);
        if !replies.is_empty() {
            self.send(stream, &replies).await?;
        }
        self.answer_by_cases().await?;
        let name = self.upper.name.as_str();
        let requests = self.store.platform_requests();
        for r in requests.owed(Direction::Received, name).await? {
            let Some(m) = answer_of(&r, self.upper.edition) else {
                warn!(upper = %name, id = r.id, "an answer that cannot be sent");
                continue;
            };
            self.send(stream, &[m]).await?;
            requests.mark_sent(r.id, Timestamp::now()).await?;
            count_answer(&r);
            info!(upper = %name, id = r.id, kind = %r.kind, "JT/T 809 answer sent");
        }
        Ok(())
    }
}

fn refused(e: &CodecError) {
    METRICS.frames_refused.with_label_values(&[e.kind()]).inc();
    debug!(error = %e, "a frame from the upper platform refused");
}

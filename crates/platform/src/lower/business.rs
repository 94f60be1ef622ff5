//! The link to an upper platform beyond forwarding, as the lower platform: the platform checks and
//! supervision requests it sends are recorded for the dispatch office (once each, however often they
//! come), and the answers given here go up as soon as they are given and the link is up.
//!
//! Requests are read from the main link (where the upper platform's keep-alive answers come too).

use std::time::Duration;

use tianshu_jt809::Error as CodecError;
use tianshu_model::Timestamp;
use tianshu_store::jt809_requests::Direction;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::{LinkError, UpLink};
use crate::metrics::METRICS;
use crate::requests::{answer_of, count, count_answer, received};

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
            match self.decoder.decode(&mut self.buf) {
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
            let Some(new) = received(name, &m, sn, Timestamp::now()) else {
                debug!(upper = %name, msg_id = m.msg_id(), "a message from the upper platform left alone");
                continue;
            };
            let (r, fresh) = self.store.platform_requests().record(new).await?;
            if fresh {
                count(&r.kind, "received");
                info!(upper = %name, id = r.id, kind = %r.kind, "JT/T 809 request received");
            }
        }
        Ok(())
    }

    /// Sends the answers given here and not sent yet, each marked sent once written.
    async fn send_answers(&mut self, stream: &mut TcpStream) -> Result<(), LinkError> {
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

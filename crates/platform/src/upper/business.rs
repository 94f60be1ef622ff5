//! A main link's business beyond positions, as the upper platform: the platform checks and supervision
//! requests made here for this lower platform go down while it is logged in (each marked sent once
//! written), and its answers are recorded against them.
//!
//! Until the sub-link is up, requests go down the main link, which lower platforms read both ways.

use std::time::Duration;

use tianshu_jt809::duty::SupervisionResult;
use tianshu_jt809::duty::answered_check;
use tianshu_jt809::{Message, UpPlatform, UpWarn, Warn};
use tianshu_model::Timestamp;
use tianshu_store::jt809_requests::Direction;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Closed, MainLink, Peer};
use crate::requests::{count, request_of};

/// How often a logged-in link looks for requests to send down.
const OWED_EVERY: Duration = Duration::from_millis(500);

impl<'a> MainLink<'a> {
    /// Reads more bytes like [`MainLink::read_more`], sending the requests owed to the peer meanwhile:
    /// `Err(Closed::Silent)` only after `silent_after` without a byte.
    pub(super) async fn read_or_send(
        &mut self,
        peer: &mut Peer<'a>,
        silent_after: Duration,
        shutdown: &CancellationToken,
    ) -> Result<(), Closed> {
        let silent_at = Instant::now() + silent_after;
        loop {
            if peer.owed_checked.is_none_or(|t| t.elapsed() >= OWED_EVERY) {
                self.send_owed(peer).await?;
                peer.owed_checked = Some(Instant::now());
            }
            let left = silent_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Closed::Silent);
            }
            match self.read_more(left.min(OWED_EVERY), shutdown).await {
                Err(Closed::Silent) => continue,
                read => return read,
            }
        }
    }

    /// Sends the checks and supervision requests made for the peer and not sent yet. A check's frame is
    /// numbered with its reference, which a 2019 answer names.
    async fn send_owed(&mut self, peer: &Peer<'a>) -> Result<(), Closed> {
        let requests = self.upper.store.platform_requests();
        let name = peer.config.name.as_str();
        let owed = requests.owed(Direction::Sent, name).await.map_err(|e| {
            warn!(peer = %name, error = %e, "reading the requests owed to a JT/T 809 peer failed");
            Closed::StoreFailed
        })?;
        for r in owed {
            let Some(m) = request_of(&r, peer.config.access_code, self.codec.edition) else {
                warn!(peer = %name, id = r.id, kind = %r.kind, "a platform request that cannot be sent");
                continue;
            };
            self.sn = u32::try_from(r.ref_id).unwrap_or(0).wrapping_sub(1);
            self.send(&m).await?;
            requests.mark_sent(r.id, Timestamp::now()).await.map_err(|e| {
                warn!(peer = %name, error = %e, "marking a platform request sent failed");
                Closed::StoreFailed
            })?;
            count(&r.kind, "sent");
            info!(peer = %name, id = r.id, kind = %r.kind, "JT/T 809 request sent down");
        }
        Ok(())
    }

    /// Records the peer's answer to a check or a supervision request made here; `false` for any other
    /// message.
    pub(super) async fn answered(&self, peer: &Peer<'a>, m: &Message) -> Result<bool, Closed> {
        let (kind, ref_id, answer, by) = match m {
            Message::UpPlatform(UpPlatform::PostQueryAck(a)) => (
                "check",
                answered_check(a, self.codec.edition),
                a.info.clone(),
                a.responder.clone(),
            ),
            Message::UpWarn(Warn {
                data:
                    UpWarn::UrgeTodoAck {
                        supervision_id,
                        result,
                    },
                ..
            }) => {
                let result = SupervisionResult::of_code(*result).map_or("unknown", SupervisionResult::as_str);
                ("supervision", *supervision_id, result.to_string(), String::new())
            }
            _ => return Ok(false),
        };
        let name = peer.config.name.as_str();
        let by = if by.is_empty() { name.to_string() } else { by };
        let stored = self
            .upper
            .store
            .platform_requests()
            .answered_there(kind, name, i64::from(ref_id), &answer, &by, Timestamp::now())
            .await
            .map_err(|e| {
                warn!(peer = %name, error = %e, "recording a JT/T 809 answer failed");
                Closed::StoreFailed
            })?;
        match stored {
            Some(r) => {
                count(kind, "answer_received");
                info!(peer = %name, id = r.id, kind, "JT/T 809 answer received");
            }
            None => warn!(peer = %name, kind, ref_id, "a JT/T 809 answer to no request made here"),
        }
        Ok(true)
    }
}

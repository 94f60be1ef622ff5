//! Tianshu as upper platform: the sub-link to one logged-in lower platform, opened to the address of its
//! login, logged in with the verify code, kept alive, reconnected with a doubling backoff while the main
//! link is up. When a logged-in sub-link breaks, the lower platform is told on the main link (0x9007).

use std::time::Duration;

use tianshu_jt809::Message;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use super::framed::{Framed, SubError};
use super::metrics::SUB_METRICS;
use super::{LINK_QUEUE, Slot, SubSettings, SubTarget, lock};
use crate::metrics::METRICS;

/// REASON_CODE of a 0x9007: the lower platform's sub-link address could not be reached.
const CANNOT_CONNECT: u8 = 0x00;
/// REASON_CODE of a 0x9007: a logged-in sub-link broke.
const BROKEN: u8 = 0x01;

/// One lower platform's sub-link, as the upper platform keeps it.
pub(crate) struct SubLink {
    pub(crate) peer: String,
    pub(crate) target: SubTarget,
    pub(crate) settings: SubSettings,
    /// Where the logged-in sub-link's queue is published for [`super::Down`].
    pub(crate) slot: Slot,
    /// The main link's queue, for the 0x9007 notice.
    pub(crate) main: mpsc::Sender<Message>,
    /// Whether the main link is still up: reconnecting stops once it is not.
    pub(crate) main_up: watch::Receiver<bool>,
}

impl SubLink {
    /// Keeps the sub-link up until the main link is down and the sub-link broke, or the task is
    /// aborted (a newer login, a logout, shutdown).
    pub(crate) async fn keep(self) {
        let min = Duration::from_millis(self.settings.reconnect_min_backoff_ms.max(1));
        let max = Duration::from_millis(self.settings.reconnect_max_backoff_ms).max(min);
        let mut backoff = min;
        let up = METRICS.link_up.with_label_values(&[self.peer.as_str(), "sub"]);
        // Whether the lower platform has been told of the current outage (once per outage).
        let mut told = false;
        loop {
            let ended = self.session(&up).await;
            *lock(&self.slot) = None;
            let was_up = up.get() == 1;
            up.set(0);
            warn!(peer = %self.peer, address = %self.target.address, error = %ended, "JT/T 809 sub-link ended");
            if was_up {
                backoff = min;
                told = false;
            }
            if !told {
                told = true;
                self.tell(if was_up { BROKEN } else { CANNOT_CONNECT });
            }
            if !*self.main_up.borrow() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(max);
        }
    }

    /// Tells the lower platform on the main link that the sub-link is down (0x9007).
    fn tell(&self, reason_code: u8) {
        if self
            .main
            .try_send(Message::SubDisconnectInform { reason_code })
            .is_ok()
        {
            SUB_METRICS
                .notices
                .with_label_values(&[self.peer.as_str(), "sub_down_sent"])
                .inc();
        }
    }

    /// One connection: connect, log in, then keep alive and carry down messages until it breaks.
    async fn session(&self, up: &prometheus::IntGauge) -> SubError {
        let within = Duration::from_secs(self.settings.answer_timeout_secs);
        let mut link = match self.login(within).await {
            Ok(link) => link,
            Err(e) => return e,
        };
        info!(peer = %self.peer, address = %self.target.address, "JT/T 809 sub-link logged in");
        let (tx, mut rx) = mpsc::channel(LINK_QUEUE);
        *lock(&self.slot) = Some(tx);
        up.set(1);
        let every = Duration::from_secs(self.settings.keepalive_secs);
        let mut next_keepalive = Instant::now() + every;
        let mut awaiting: Option<Instant> = None;
        loop {
            let wake = awaiting.unwrap_or(next_keepalive);
            let step = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => link.send(&m).await,
                    None => Ok(()),
                },
                read = link.next(wake) => match read {
                    Ok(Message::SubKeepAliveAnswer) => {
                        awaiting = None;
                        next_keepalive = Instant::now() + every;
                        Ok(())
                    }
                    Ok(Message::DisconnectInform { error_code }) => {
                        warn!(peer = %self.peer, error_code, "the lower platform reports its main link broken (0x1007)");
                        SUB_METRICS.notices.with_label_values(&[self.peer.as_str(), "main_down"]).inc();
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                    Err(SubError::NoAnswer) if awaiting.is_none() => {
                        awaiting = Some(Instant::now() + within);
                        link.send(&Message::SubKeepAlive).await
                    }
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = step {
                return e;
            }
        }
    }

    /// Connects and logs in with the verify code.
    async fn login(&self, within: Duration) -> Result<Framed, SubError> {
        let result = async {
            let stream = tokio::time::timeout(within, TcpStream::connect(self.target.address.as_str()))
                .await
                .map_err(|_| SubError::NoAnswer)??;
            let mut link = Framed::new(stream, self.target.codec, self.target.access_code);
            link.send(&Message::SubLogin {
                verify_code: self.target.verify_code,
            })
            .await?;
            match link.next(Instant::now() + within).await? {
                Message::SubLoginAnswer { result: 0 } => Ok(link),
                Message::SubLoginAnswer { result } => Err(SubError::Refused(result)),
                other => Err(SubError::Unexpected(other.msg_id())),
            }
        }
        .await;
        let label = match &result {
            Ok(_) => "ok",
            Err(SubError::Refused(1)) => "bad_verify_code",
            Err(SubError::Refused(_)) => "refused",
            Err(_) => "failed",
        };
        SUB_METRICS.logins.with_label_values(&["upper", label]).inc();
        result
    }
}

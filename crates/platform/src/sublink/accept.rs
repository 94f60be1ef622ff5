//! Tianshu as lower platform: the listener its upper platform opens the sub-link to. A sub-link is taken
//! only with the verify code of the current main-link login's answer (0x9002 RESULT 1 otherwise); a newer
//! sub-link replaces an older one; keep-alives are answered; a sub-link silent for `timeout` is closed.
//! When the main link breaks, the upper platform is told on the sub-link (0x1007).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tianshu_jt809::{Codec, Message};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::framed::{Framed, SubError};
use super::metrics::SUB_METRICS;
use super::{LINK_QUEUE, lock};
use crate::config::UpperPlatform;
use crate::metrics::METRICS;

/// 0x9002 RESULT: accepted.
const OK: u8 = 0;
/// 0x9002 RESULT: the verify code is not the one of the login answer.
const BAD_VERIFY_CODE: u8 = 1;
/// 0x1007 ERROR_CODE: the main link is broken.
const MAIN_LINK_BROKEN: u8 = 0;

/// How long a sub-link login waits for the main link to read the login answer carrying its verify code:
/// the upper platform may connect back before that answer has been read here.
const VERIFY_GRACE: Duration = Duration::from_secs(2);

/// What the main link and the sub-link listener share.
#[derive(Clone)]
pub struct SubState {
    /// VERIFY_CODE of the last successful main-link login.
    verify_code: Arc<watch::Sender<Option<u32>>>,
    inner: Arc<Mutex<Inner>>,
}

impl Default for SubState {
    fn default() -> Self {
        SubState {
            verify_code: Arc::new(watch::channel(None).0),
            inner: Arc::default(),
        }
    }
}

#[derive(Default)]
struct Inner {
    /// The logged-in sub-link's queue.
    sender: Option<mpsc::Sender<Message>>,
}

impl SubState {
    /// The main link logged in and was given `verify_code`.
    pub fn logged_in(&self, verify_code: u32) {
        self.verify_code.send_replace(Some(verify_code));
    }

    /// The main link broke: the upper platform is told on the sub-link when it is up. Whether it was.
    pub fn main_down(&self, peer: &str) -> bool {
        let sender = lock(&self.inner).sender.clone();
        let sent = sender.is_some_and(|s| {
            s.try_send(Message::DisconnectInform {
                error_code: MAIN_LINK_BROKEN,
            })
            .is_ok()
        });
        if sent {
            SUB_METRICS
                .notices
                .with_label_values(&[peer, "main_down_sent"])
                .inc();
        }
        sent
    }
}

/// The listener's side of one upper platform.
#[derive(Clone)]
pub struct Accept {
    /// The upper platform's name (metrics, logs).
    pub peer: String,
    /// Tianshu's access code there (every header).
    pub access_code: u32,
    /// The agreed edition and cipher.
    pub codec: Codec,
    /// Time for the sub-link login once connected.
    pub login_timeout: Duration,
    /// Silence after which a sub-link is closed.
    pub timeout: Duration,
}

/// Accepts sub-links on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, accept: Accept, state: SubState, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "accepting a JT/T 809 sub-link failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (accept, state, shutdown) = (accept.clone(), state.clone(), shutdown.clone());
        tokio::spawn(async move {
            let ended = tokio::select! {
                _ = shutdown.cancelled() => return,
                ended = accept.link(stream, &state) => ended,
            };
            debug!(upper = %accept.peer, reason = %ended, "JT/T 809 sub-link closed");
        });
    }
}

impl Accept {
    /// One sub-link: the login checked, then served until it ends; why it ended.
    async fn link(&self, stream: TcpStream, state: &SubState) -> SubError {
        let mut link = Framed::new(stream, self.codec, self.access_code);
        let (tx, rx) = mpsc::channel(LINK_QUEUE);
        match self.login(&mut link, state, tx.clone()).await {
            Ok(()) => {}
            Err(e) => return e,
        }
        info!(upper = %self.peer, "JT/T 809 sub-link from the upper platform logged in");
        let up = METRICS.link_up.with_label_values(&[self.peer.as_str(), "sub"]);
        up.set(1);
        let ended = self.steady(&mut link, rx).await;
        // A newer sub-link may have taken over: its state is left alone.
        let mut inner = lock(&state.inner);
        if inner.sender.as_ref().is_some_and(|s| s.same_channel(&tx)) {
            inner.sender = None;
            up.set(0);
        }
        ended
    }

    async fn login(
        &self,
        link: &mut Framed,
        state: &SubState,
        tx: mpsc::Sender<Message>,
    ) -> Result<(), SubError> {
        let verify_code = match link.next(Instant::now() + self.login_timeout).await? {
            Message::SubLogin { verify_code } => verify_code,
            other => return Err(SubError::Unexpected(other.msg_id())),
        };
        let mut current = state.verify_code.subscribe();
        let ok = tokio::time::timeout(VERIFY_GRACE, current.wait_for(|v| *v == Some(verify_code)))
            .await
            .is_ok_and(|r| r.is_ok());
        if ok {
            // Replaces an older sub-link, whose queue then closes and ends it.
            lock(&state.inner).sender = Some(tx);
        }
        let result = if ok { OK } else { BAD_VERIFY_CODE };
        let label = if ok { "ok" } else { "bad_verify_code" };
        SUB_METRICS.logins.with_label_values(&["lower", label]).inc();
        link.send(&Message::SubLoginAnswer { result }).await?;
        if !ok {
            warn!(upper = %self.peer, "JT/T 809 sub-link login with a wrong verify code refused");
            return Err(SubError::Refused(result));
        }
        Ok(())
    }

    /// Answers keep-alives and sends what is queued until the link ends or is replaced.
    async fn steady(&self, link: &mut Framed, mut rx: mpsc::Receiver<Message>) -> SubError {
        loop {
            let deadline = Instant::now() + self.timeout;
            let step = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => link.send(&m).await,
                    None => return SubError::Io(std::io::ErrorKind::ConnectionAborted.into()),
                },
                read = link.next(deadline) => match read {
                    Ok(Message::SubKeepAlive) => link.send(&Message::SubKeepAliveAnswer).await,
                    Ok(Message::SubLogout { .. }) => {
                        let _ = link.send(&Message::SubLogoutAnswer).await;
                        return SubError::Io(std::io::ErrorKind::ConnectionReset.into());
                    }
                    Ok(m @ (Message::SubDisconnectInform { .. } | Message::SubCloseLinkInform { .. })) => {
                        return SubError::Unexpected(m.msg_id());
                    }
                    Ok(m) => {
                        debug!(upper = %self.peer, msg_id = m.msg_id(), "down message on the JT/T 809 sub-link");
                        SUB_METRICS.down.with_label_values(&[self.peer.as_str(), "sub"]).inc();
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = step {
                return e;
            }
        }
    }
}

/// Binds the sub-link listener of `upper` and starts accepting; the DOWN_LINK_IP and PORT its logins
/// name. `None` when it has none, or binding failed (logged: the main link still works).
pub async fn offer(
    upper: &UpperPlatform,
    state: SubState,
    shutdown: CancellationToken,
) -> Option<(String, u16)> {
    if upper.sub_link_listen.trim().is_empty() {
        return None;
    }
    let listener = match TcpListener::bind(upper.sub_link_listen.trim()).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(upper = %upper.name, listen = %upper.sub_link_listen, error = %e,
                "binding the JT/T 809 sub-link listener failed; the login offers no sub-link");
            return None;
        }
    };
    let named = match upper.sub_link_address.trim().parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => listener.local_addr().ok()?,
    };
    let accept = Accept {
        peer: upper.name.clone(),
        access_code: upper.access_code,
        codec: Codec::new(upper.edition).with_cipher(upper.cipher().ok().flatten()),
        login_timeout: Duration::from_secs(upper.answer_timeout_secs),
        timeout: Duration::from_secs(upper.sub_link_timeout_secs),
    };
    info!(upper = %upper.name, listen = %upper.sub_link_listen, %named, "listening for the JT/T 809 sub-link");
    tokio::spawn(serve(listener, accept, state, shutdown));
    Some((named.ip().to_string(), named.port()))
}

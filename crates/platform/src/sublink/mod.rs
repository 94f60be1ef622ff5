//! The sub-link (从链路): after a lower platform logs in on its main link, the upper platform connects
//! back to the address the login gave (DOWN_LINK_IP/PORT) and logs in there with the verify code of its
//! login answer (0x9001/0x9002); the upper platform keeps it alive (0x9005/0x9006).
//!
//! - [`connect`]: Tianshu as upper platform connecting back to its lower platforms, reconnecting while
//!   their main link is up, telling them on the main link when the sub-link broke (0x9007).
//! - [`accept`]: Tianshu as lower platform listening for its upper platform's sub-link, checking the
//!   verify code, telling it on the sub-link when the main link broke (0x1007).
//! - [`Down`]: what an upper platform sends down goes on the sub-link when it is up, otherwise on the
//!   main link, as the standard allows. A message handed to a link that breaks before writing it is lost
//!   with the link; down messages are requests the operator sees answered or not.

pub mod accept;
pub mod connect;
pub mod framed;
pub mod metrics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tianshu_jt809::{Codec, Message};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::metrics::METRICS;
use metrics::SUB_METRICS;

/// Messages queued for one link's writer.
const LINK_QUEUE: usize = 64;

/// The sub-link's sender while it is logged in.
type Slot = Arc<Mutex<Option<mpsc::Sender<Message>>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The way down to one lower platform.
#[derive(Clone)]
pub struct Down {
    peer: Arc<str>,
    main: mpsc::Sender<Message>,
    sub: Slot,
}

/// A down message found neither link up.
#[derive(Debug, thiserror::Error)]
#[error("neither link to the lower platform is up")]
pub struct NotConnected(pub Message);

impl Down {
    /// Queues `message` on the sub-link when it is up, otherwise on the main link; the link taken
    /// (`"sub"` or `"main"`).
    pub async fn send(&self, message: Message) -> Result<&'static str, NotConnected> {
        let sub = lock(&self.sub).clone();
        let message = match sub {
            Some(sub) => match sub.send(message).await {
                Ok(()) => return Ok(self.count("sub")),
                Err(mpsc::error::SendError(m)) => m,
            },
            None => message,
        };
        match self.main.send(message).await {
            Ok(()) => Ok(self.count("main")),
            Err(mpsc::error::SendError(m)) => Err(NotConnected(m)),
        }
    }

    /// Whether the sub-link is logged in now.
    pub fn sub_up(&self) -> bool {
        lock(&self.sub).as_ref().is_some_and(|s| !s.is_closed())
    }

    fn count(&self, link: &'static str) -> &'static str {
        SUB_METRICS.down.with_label_values(&[&self.peer, link]).inc();
        link
    }
}

/// Sub-link settings of the upper side (from `[jt809]`).
#[derive(Debug, Clone, Copy)]
pub struct SubSettings {
    /// Seconds between keep-alives (0x9005).
    pub keepalive_secs: u64,
    /// Seconds to wait for a connection, a login answer or a keep-alive answer.
    pub answer_timeout_secs: u64,
    /// First delay before reconnecting, doubled after each failure.
    pub reconnect_min_backoff_ms: u64,
    /// Longest delay between attempts.
    pub reconnect_max_backoff_ms: u64,
}

/// One logged-in lower platform's links.
struct Entry {
    down: Down,
    task: Option<JoinHandle<()>>,
}

/// The lower platforms' links, by peer name: the way down to each, and its sub-link task.
#[derive(Default)]
pub struct Peers {
    entries: Mutex<HashMap<String, Entry>>,
}

/// A main link's hold on its peer's entry.
pub struct Attached {
    peer: String,
    main_up: watch::Sender<bool>,
    /// The main link's queue, which tells this login's entry from a newer one's.
    main: mpsc::Sender<Message>,
}

/// Where and how to open a sub-link.
pub struct SubTarget {
    /// `IP:PORT` from the login.
    pub address: String,
    /// VERIFY_CODE of the login answer.
    pub verify_code: u32,
    /// The peer's edition and cipher.
    pub codec: Codec,
    /// The peer's access code.
    pub access_code: u32,
}

impl Peers {
    /// A main link of `peer` logged in: its entry replaced (an older sub-link stopped), a sub-link
    /// opened to `target` when the login named one. The receiver is the main link's down queue.
    pub async fn attach(
        &self,
        peer: &str,
        target: Option<SubTarget>,
        settings: SubSettings,
    ) -> (mpsc::Receiver<Message>, Attached) {
        let old = lock(&self.entries).remove(peer);
        stop(peer, old).await;
        let (main, main_rx) = mpsc::channel(LINK_QUEUE);
        let (main_up, main_up_rx) = watch::channel(true);
        let main_tx = main.clone();
        let down = Down {
            peer: peer.into(),
            main: main.clone(),
            sub: Slot::default(),
        };
        let task = target.map(|target| {
            let link = connect::SubLink {
                peer: peer.to_string(),
                target,
                settings,
                slot: down.sub.clone(),
                main,
                main_up: main_up_rx,
            };
            tokio::spawn(link.keep())
        });
        lock(&self.entries).insert(peer.to_string(), Entry { down, task });
        let attached = Attached {
            peer: peer.to_string(),
            main_up,
            main: main_tx,
        };
        (main_rx, attached)
    }

    /// The way down to `peer`, when it has logged in since start.
    pub fn down(&self, peer: &str) -> Option<Down> {
        lock(&self.entries).get(peer).map(|e| e.down.clone())
    }

    /// The main link of `attached` closed: the sub-link stays (and carries down messages) until it
    /// breaks, unless the peer logged out, which closes both.
    pub async fn main_closed(&self, attached: Attached, logout: bool) {
        attached.main_up.send_replace(false);
        if logout {
            let entry = {
                let mut entries = lock(&self.entries);
                let ours = entries
                    .get(&attached.peer)
                    .is_some_and(|e| e.down.main.same_channel(&attached.main));
                if ours {
                    entries.remove(&attached.peer)
                } else {
                    None
                }
            };
            stop(&attached.peer, entry).await;
        }
    }
}

/// Stops an entry's sub-link task and marks its sub-link down.
async fn stop(peer: &str, entry: Option<Entry>) {
    if let Some(task) = entry.and_then(|e| e.task) {
        task.abort();
        let _ = task.await;
        METRICS.link_up.with_label_values(&[peer, "sub"]).set(0);
    }
}

/// Counts what an upper platform sent on Tianshu's main link besides answers: a 0x9007 (its sub-link to
/// Tianshu broke) or a down message.
pub(crate) fn noted(peer: &str, m: &Message) {
    if let Message::SubDisconnectInform { reason_code } = m {
        tracing::warn!(upper = %peer, reason_code, "the upper platform reports the sub-link broken (0x9007)");
        SUB_METRICS.notices.with_label_values(&[peer, "sub_down"]).inc();
    } else {
        SUB_METRICS.down.with_label_values(&[peer, "main"]).inc();
    }
}

//! Platform commands to online terminals, and the table of who is online.
//!
//! [`Downlink::send`] finds the terminal's session in [`Online`], hands it the command through a small
//! bounded queue (full: the caller gets [`DownlinkError::Busy`], counted), and waits for the answer with a
//! timeout. The session assigns the frame serial, writes the frame, and resolves the waiter when a reply with
//! the matching serial and message id arrives (0x0001 for most commands, 0x0201 for 0x8201, 0x0104 for
//! 0x8104 and 0x8106, 0x0107 for 0x8107).
//!
//! [`Online`] also decides replacement: a new connection claiming a phone that is online takes its place only
//! after it authenticated, and the old session is told to close.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tianshu_jt808::{
    Header, Message, Parameter, ParameterIds, ParameterList, Params, TerminalControl, Text, TextMessage,
    TrackLocation, WireOrList, encode_message,
};
use tianshu_model::{Phone, Position};
use tokio::sync::{Notify, oneshot};

use crate::metrics::METRICS;
use crate::text::to_gbk;

/// A command the platform sends to a terminal (as data, so a command may travel to the gateway holding
/// the terminal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// 0x8201: report the current position now (answered by 0x0201).
    QueryPosition,
    /// 0x8202: report every `interval_secs` for `validity_secs` (interval 0 stops tracking).
    TemporaryTracking {
        /// Reporting interval in seconds; 0 stops.
        interval_secs: u16,
        /// How long the tracking lasts, in seconds.
        validity_secs: u32,
    },
    /// 0x8103: set terminal parameters (id, raw value as the standard encodes it).
    SetParameters(Vec<(u32, Vec<u8>)>),
    /// 0x8104: query all terminal parameters (answered by 0x0104).
    QueryParameters,
    /// 0x8106: query the terminal parameters of these ids (answered by 0x0104).
    QueryParameterIds(Vec<u32>),
    /// 0x8300: text for the driver (display, TTS...), with the standard's flag byte.
    Text {
        /// The flag byte (bit 0 emergency, bit 2 display, bit 3 TTS...).
        flags: u8,
        /// The text; sent as GBK.
        text: String,
    },
    /// 0x8105: terminal control (command word and its `;`-separated parameters).
    Control {
        /// The command word (1 upgrade, 2 connect to a server, 3 shut down, 4 reset...).
        command: u8,
        /// Its parameters as text.
        params: String,
    },
    /// 0x8107: query the terminal's attributes (answered by 0x0107).
    QueryAttributes,
}

impl Command {
    /// The message id of the command.
    pub const fn msg_id(&self) -> u16 {
        match self {
            Command::QueryPosition => 0x8201,
            Command::TemporaryTracking { .. } => 0x8202,
            Command::SetParameters(_) => 0x8103,
            Command::QueryParameters => 0x8104,
            Command::QueryParameterIds(_) => 0x8106,
            Command::Text { .. } => 0x8300,
            Command::Control { .. } => 0x8105,
            Command::QueryAttributes => 0x8107,
        }
    }

    /// The message id of the answer the standard prescribes.
    pub const fn reply_msg_id(&self) -> u16 {
        match self {
            Command::QueryPosition => 0x0201,
            Command::QueryParameters | Command::QueryParameterIds(_) => 0x0104,
            Command::QueryAttributes => 0x0107,
            _ => 0x0001,
        }
    }
}

impl Command {
    /// Appends the command's frame, with `header` (its serial assigned by the session), to `out`.
    pub(crate) fn encode(&self, header: &Header, out: &mut BytesMut) -> Result<(), DownlinkError> {
        let encoded = match self {
            Command::QueryPosition => encode_message(header, &Message::QueryLocation, out),
            Command::TemporaryTracking {
                interval_secs,
                validity_secs,
            } => {
                let track = TrackLocation {
                    interval_secs: *interval_secs,
                    validity_secs: *validity_secs,
                };
                encode_message(header, &Message::TrackLocation(track), out)
            }
            Command::SetParameters(list) => {
                let params: Vec<Parameter<'_>> = list
                    .iter()
                    .map(|(id, v)| Parameter { id: *id, value: v })
                    .collect();
                let list = ParameterList {
                    count: u8::try_from(params.len()).unwrap_or(u8::MAX),
                    params: Params::List(&params),
                };
                encode_message(header, &Message::SetParameters(list), out)
            }
            Command::QueryParameters => encode_message(header, &Message::QueryParameters, out),
            Command::QueryParameterIds(ids) => {
                let ids = ParameterIds(WireOrList::List(ids));
                encode_message(header, &Message::QueryParameterIds(ids), out)
            }
            Command::Text { flags, text } => {
                let gbk = gbk_of("text", text)?;
                let msg = TextMessage {
                    flags: *flags,
                    text_type: Some(1),
                    text: Text(&gbk),
                };
                encode_message(header, &Message::TextMessage(msg), out)
            }
            Command::Control { command, params } => {
                let gbk = gbk_of("parameters", params)?;
                let msg = TerminalControl {
                    command: *command,
                    parameters: &gbk,
                };
                encode_message(header, &Message::TerminalControl(msg), out)
            }
            Command::QueryAttributes => encode_message(header, &Message::QueryAttributes, out),
        };
        encoded.map_err(|e| DownlinkError::Encode(e.to_string()))
    }
}

/// `text` in GBK, as a command carries it; `what` names it in the error when it has characters GBK lacks.
fn gbk_of(what: &str, text: &str) -> Result<Vec<u8>, DownlinkError> {
    to_gbk(text).ok_or_else(|| DownlinkError::Encode(format!("{what} has characters GBK cannot encode")))
}

/// A terminal's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Reply {
    /// 0x0001 general response: 0 ok, 1 failed, 2 bad message, 3 unsupported.
    General {
        /// The result byte.
        result: u8,
    },
    /// 0x0201: the position (also stored like any report).
    Position(Position),
    /// 0x0104: the parameters (id, raw value).
    Parameters(Vec<(u32, Vec<u8>)>),
    /// 0x0107: the terminal's attributes.
    Attributes(Box<tianshu_model::Attributes>),
}

/// Why a command got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownlinkError {
    /// No authenticated session for this phone on this gateway.
    #[error("terminal {0} is not online")]
    Offline(Phone),
    /// The session's command queue is full.
    #[error("terminal {0} has too many commands pending")]
    Busy(Phone),
    /// No answer within the timeout.
    #[error("terminal {0} did not answer within {1:?}")]
    Timeout(Phone, Duration),
    /// The session closed before the answer arrived.
    #[error("the connection of terminal {0} closed before it answered")]
    Closed(Phone),
    /// The command could not be encoded (e.g. a text with characters GBK lacks).
    #[error("command cannot be encoded: {0}")]
    Encode(String),
}

/// A command on its way to a session, with the waiter for its answer.
#[derive(Debug)]
pub struct Request {
    /// The command.
    pub command: Command,
    /// Where the session sends the answer.
    pub reply: Waiter,
}

/// A session's inbox: platform commands and the news that a newer connection replaced it.
///
/// One small allocation per online session (a tokio channel would cost several hundred bytes more per idle
/// connection). The queue is bounded by [`Mailbox::CAPACITY`]; beyond it a command is refused as busy.
#[derive(Debug, Default)]
pub struct Mailbox {
    /// Commands waiting for the session.
    queue: Mutex<VecDeque<Request>>,
    /// Wakes the session (a permit is kept when it is not waiting, so no wake-up is lost).
    notify: Notify,
    /// Set when a newer connection of the same phone authenticated.
    replaced: AtomicBool,
    /// Set when the terminal's registry record changed (its clock offset): the session reads it again.
    changed: AtomicBool,
    /// Set when the session ended; commands are then refused as offline.
    closed: AtomicBool,
}

impl Mailbox {
    /// Most commands queued for one session.
    pub const CAPACITY: usize = 8;

    /// Queues a command; gives it back when the queue is full or the session has ended.
    fn post(&self, request: Request, phone: Phone) -> Result<(), (Request, DownlinkError)> {
        if self.closed.load(Ordering::Acquire) {
            return Err((request, DownlinkError::Offline(phone)));
        }
        {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if q.len() >= Self::CAPACITY {
                return Err((request, DownlinkError::Busy(phone)));
            }
            q.push_back(request);
        }
        self.notify.notify_one();
        Ok(())
    }

    /// Tells the session a newer connection took its place.
    fn replace(&self) {
        self.replaced.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Tells the session its terminal's registry record changed.
    fn change(&self) {
        self.changed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether the terminal's registry record changed since the last call.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    /// Waits until something arrives.
    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    /// Whether a newer connection took this session's place.
    pub fn is_replaced(&self) -> bool {
        self.replaced.load(Ordering::Acquire)
    }

    /// The next queued command.
    pub fn take(&self) -> Option<Request> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    /// Marks the session ended and answers what is still queued.
    pub fn close(&self, phone: Phone) {
        self.closed.store(true, Ordering::Release);
        while let Some(r) = self.take() {
            let _ = r.reply.send(Err(DownlinkError::Closed(phone)));
        }
    }
}

/// How a session is reached once it is online.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Distinguishes this connection from an older or newer one of the same phone.
    pub generation: u64,
    /// The address it came from: a registration from the same address is the same terminal reconnecting
    /// while this session lingers.
    pub peer: IpAddr,
    /// The session's inbox.
    pub mailbox: Arc<Mailbox>,
}

/// Who is online on this gateway.
#[derive(Debug, Default)]
pub struct Online {
    /// The authenticated session of each phone.
    sessions: Mutex<HashMap<Phone, SessionHandle>>,
    /// Source of session generations.
    next_generation: AtomicU64,
}

impl Online {
    /// A new generation number for a connection.
    pub fn next_generation(&self) -> u64 {
        self.next_generation.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `handle` the session of `phone`; an older session of the phone is told to close.
    pub fn insert(&self, phone: Phone, handle: SessionHandle) {
        let old = {
            let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            sessions.insert(phone, handle)
        };
        if let Some(old) = old {
            METRICS.sessions_replaced.inc();
            old.mailbox.replace();
        } else {
            METRICS.sessions_online.inc();
        }
    }

    /// Removes the session of `phone` if it is still the one of `generation`.
    pub fn remove(&self, phone: Phone, generation: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.get(&phone).is_some_and(|h| h.generation == generation) {
            sessions.remove(&phone);
            METRICS.sessions_online.dec();
        }
    }

    /// Tells the session of `phone`, if it is online here, that its registry record changed (an
    /// administrator set its clock offset): it reads the record again, so the change applies at once.
    pub fn terminal_changed(&self, phone: Phone) {
        if let Some(mailbox) = self.mailbox_of(phone) {
            mailbox.change();
        }
    }

    /// The address of the authenticated session of `phone` here.
    pub fn address_of(&self, phone: Phone) -> Option<IpAddr> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(&phone).map(|h| h.peer)
    }

    /// Whether `phone` has an authenticated session here.
    pub fn is_online(&self, phone: Phone) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.contains_key(&phone)
    }

    /// How many terminals are online.
    pub fn len(&self) -> usize {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no terminal is online.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The phones online now.
    pub fn phones(&self) -> Vec<Phone> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    fn mailbox_of(&self, phone: Phone) -> Option<Arc<Mailbox>> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(&phone).map(|h| h.mailbox.clone())
    }
}

/// Where a session sends a terminal's answer (or why there is none).
pub type Waiter = oneshot::Sender<Result<Reply, DownlinkError>>;

/// Sends platform commands to online terminals; cheap to clone.
#[derive(Debug, Clone)]
pub struct Downlink {
    /// The table of sessions.
    online: Arc<Online>,
    /// The answer timeout when the caller gives none.
    default_timeout: Duration,
}

impl Downlink {
    /// A downlink over `online`.
    pub fn new(online: Arc<Online>, default_timeout: Duration) -> Self {
        Downlink {
            online,
            default_timeout,
        }
    }

    /// The table of sessions.
    pub fn online(&self) -> &Arc<Online> {
        &self.online
    }

    /// How long a command waits for its answer when the caller gives no timeout.
    pub fn default_timeout(&self) -> Duration {
        self.default_timeout
    }

    /// Sends `command` to `phone` and waits for its answer, at most `timeout` (the configured default when
    /// `None`).
    pub async fn send(
        &self,
        phone: Phone,
        command: Command,
        timeout: Option<Duration>,
    ) -> Result<Reply, DownlinkError> {
        let result = self
            .send_inner(phone, command, timeout.unwrap_or(self.default_timeout))
            .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(DownlinkError::Offline(_)) => "offline",
            Err(DownlinkError::Busy(_)) => "busy",
            Err(DownlinkError::Timeout(..)) => "timeout",
            Err(DownlinkError::Closed(_)) => "closed",
            Err(DownlinkError::Encode(_)) => "encode_error",
        };
        METRICS.downlink_requests.with_label_values(&[outcome]).inc();
        result
    }

    async fn send_inner(
        &self,
        phone: Phone,
        command: Command,
        timeout: Duration,
    ) -> Result<Reply, DownlinkError> {
        let mailbox = self
            .online
            .mailbox_of(phone)
            .ok_or(DownlinkError::Offline(phone))?;
        let (tx, rx) = oneshot::channel();
        mailbox
            .post(Request { command, reply: tx }, phone)
            .map_err(|(_, e)| e)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(DownlinkError::Closed(phone)),
            Err(_) => Err(DownlinkError::Timeout(phone, timeout)),
        }
    }
}

/// The commands a session has sent and not yet seen answered, matched by serial and reply message id.
#[derive(Debug, Default)]
pub struct Pending {
    /// (serial sent, reply message id expected, waiter). Few at a time, so a vector beats a map.
    waiting: Vec<(u16, u16, Waiter)>,
}

impl Pending {
    /// Most commands one session waits on at once.
    pub const MAX: usize = 16;

    /// Remembers a command sent with `serial`, expecting a reply `reply_msg_id`. Waiters whose caller gave
    /// up (timed out) are forgotten first; beyond [`Pending::MAX`] the waiter is answered `Busy` at once.
    pub fn push(&mut self, phone: Phone, serial: u16, reply_msg_id: u16, waiter: Waiter) {
        self.waiting.retain(|(_, _, w)| !w.is_closed());
        if self.waiting.len() >= Self::MAX {
            let _ = waiter.send(Err(DownlinkError::Busy(phone)));
            return;
        }
        self.waiting.push((serial, reply_msg_id, waiter));
    }

    /// Resolves the waiter of the command sent with `serial` whose answer is `reply_msg_id`. 0x0107 carries
    /// no serial, so `serial = None` matches the oldest waiter for that reply id. Returns whether one matched.
    pub fn resolve(&mut self, serial: Option<u16>, reply_msg_id: u16, reply: Reply) -> bool {
        let found = self
            .waiting
            .iter()
            .position(|(s, id, _)| *id == reply_msg_id && serial.is_none_or(|serial| serial == *s));
        match found {
            Some(i) => {
                let (_, _, waiter) = self.waiting.remove(i);
                let _ = waiter.send(Ok(reply));
                true
            }
            None => false,
        }
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(online: &Online) -> (SessionHandle, Arc<Mailbox>) {
        let mailbox = Arc::new(Mailbox::default());
        let h = SessionHandle {
            generation: online.next_generation(),
            peer: IpAddr::from([127, 0, 0, 1]),
            mailbox: mailbox.clone(),
        };
        (h, mailbox)
    }

    async fn next(mailbox: &Mailbox) -> Request {
        loop {
            if let Some(r) = mailbox.take() {
                return r;
            }
            mailbox.wait().await;
        }
    }

    #[tokio::test]
    async fn offline_terminals_are_named() {
        let d = Downlink::new(Arc::default(), Duration::from_secs(1));
        let err = d.send(Phone(7), Command::QueryPosition, None).await.unwrap_err();
        assert_eq!(err, DownlinkError::Offline(Phone(7)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_command_is_answered_or_times_out() {
        let online = Arc::new(Online::default());
        let (h, rx) = handle(&online);
        online.insert(Phone(1), h);
        let d = Downlink::new(online.clone(), Duration::from_secs(5));
        // A fake session: answers the first command, ignores the second.
        let session = tokio::spawn(async move {
            let mut pending = Pending::default();
            let first = next(&rx).await;
            assert_eq!(first.command.msg_id(), 0x8300);
            pending.push(Phone(1), 10, first.command.reply_msg_id(), first.reply);
            assert!(
                !pending.resolve(Some(11), 0x0001, Reply::General { result: 0 }),
                "wrong serial"
            );
            assert!(pending.resolve(Some(10), 0x0001, Reply::General { result: 0 }));
            let second = next(&rx).await;
            pending.push(Phone(1), 11, second.command.reply_msg_id(), second.reply);
            // Keep the waiter alive past the timeout.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(pending);
        });
        let text = Command::Text {
            flags: 0x08,
            text: "请回单位".into(),
        };
        assert_eq!(
            d.send(Phone(1), text, None).await,
            Ok(Reply::General { result: 0 })
        );
        let err = d
            .send(Phone(1), Command::QueryPosition, Some(Duration::from_secs(2)))
            .await
            .unwrap_err();
        assert_eq!(err, DownlinkError::Timeout(Phone(1), Duration::from_secs(2)));
        session.abort();
    }

    #[tokio::test]
    async fn a_full_queue_is_busy_and_a_replaced_session_is_told() {
        let online = Arc::new(Online::default());
        let (old, old_mailbox) = handle(&online);
        let old_generation = old.generation;
        online.insert(Phone(2), old);
        let d = Downlink::new(online.clone(), Duration::from_millis(10));
        for _ in 0..Mailbox::CAPACITY {
            let _ = d.send(Phone(2), Command::QueryParameters, None).await; // fills the queue, times out
        }
        let err = d
            .send(Phone(2), Command::QueryParameters, None)
            .await
            .unwrap_err();
        assert_eq!(err, DownlinkError::Busy(Phone(2)));

        let (new, _new_mailbox) = handle(&online);
        let new_generation = new.generation;
        online.insert(Phone(2), new);
        assert!(old_mailbox.is_replaced());

        online.remove(Phone(2), old_generation);
        assert!(
            online.is_online(Phone(2)),
            "the old session's exit does not remove the new one"
        );
        online.remove(Phone(2), new_generation);
        assert!(!online.is_online(Phone(2)));
    }

    #[test]
    fn attributes_match_without_serial() {
        let mut p = Pending::default();
        let (tx, mut rx) = oneshot::channel();
        p.push(Phone(3), 5, 0x0107, tx);
        assert!(p.resolve(None, 0x0107, Reply::Attributes(Box::default())));
        assert!(rx.try_recv().unwrap().is_ok());
        assert!(p.is_empty());
    }
}

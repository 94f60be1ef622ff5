//! One terminal connection, from accept to close: the I/O around the connection's [`Machine`].
//!
//! The loop reads frames from the socket and hands them to the machine with the time, writes what the
//! machine encodes, wakes it when its deadline comes, and carries out its actions: points go to the sink and
//! their durability goes back to the machine in the order they were handed over (so acknowledgements leave
//! in the order the frames came), logins are decided against the registry before the next frame is read,
//! and the answers to platform commands resolve their waiters. The loop keeps reading while batches await
//! durability, up to `max_in_flight_per_connection` of them.
//!
//! Nothing here can affect another connection: the only shared state is the online table, the throttle and
//! the sink, all bounded.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use tianshu_jt808::{DecodeOptions, Frame};
use tianshu_model::Timestamp;
use tianshu_store::AppendSummary;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span};

use crate::codec::{Inbound, Jt808Codec};
use crate::downlink::{Mailbox, Pending, Request, SessionHandle};
use crate::gateway::Gateway;
use crate::login::{self, LoginRequest};
use crate::machine::{Action, Flow, Machine, Now, Owed};
use crate::read::FrameReader;

/// Signals a session watches besides its socket.
#[derive(Clone)]
pub(crate) struct Stop {
    /// Stop reading; finish in-flight acknowledgements; close.
    pub drain: CancellationToken,
    /// The grace period is over: close now.
    pub abort: CancellationToken,
}

/// A batch handed to the sink (or a driver event to the store), resolving to its answers and the result.
type Durable = BoxFuture<'static, (Owed, tianshu_store::Result<AppendSummary>)>;

/// What the session does for its machine.
struct Io<'g> {
    /// What all sessions share.
    gw: &'g Gateway,
    /// The remote address, for logs.
    peer: SocketAddr,
    /// Batches handed to the sink, oldest first; their results go back to the machine in this order.
    in_flight: FuturesOrdered<Durable>,
    /// Commands sent and awaiting the terminal's answer.
    pending: Pending,
    /// Commands and replacement news, once online.
    mailbox: Option<Arc<Mailbox>>,
    /// This connection's generation in the online table, once online.
    generation: u64,
    /// A login the machine asked to decide.
    login: Option<LoginRequest>,
    /// This connection's place in the quota of unauthenticated connections, until it authenticates.
    unauthenticated: Option<OwnedSemaphorePermit>,
}

/// One connection: its protocol state and its I/O.
struct Session<'g> {
    /// The protocol.
    machine: Machine<'g>,
    /// The rest.
    io: Io<'g>,
}

/// Runs one connection to its end and says why it ended.
pub(crate) async fn run(
    socket: TcpStream,
    peer: SocketAddr,
    gw: &Gateway,
    stop: Stop,
    unauthenticated: OwnedSemaphorePermit,
) -> &'static str {
    let mut session = Session {
        machine: Machine::new(&gw.config, now().at),
        io: Io {
            gw,
            peer,
            in_flight: FuturesOrdered::new(),
            pending: Pending::default(),
            mailbox: None,
            generation: 0,
            login: None,
            unauthenticated: Some(unauthenticated),
        },
    };
    let reason = session.serve(socket, stop).await;
    session.span().in_scope(|| debug!(reason, "connection closed"));
    if let Some(phone) = session.machine.online_phone() {
        gw.online.remove(phone, session.io.generation);
    }
    reason
}

/// The time for the machine, from tokio's clock and the wall clock.
fn now() -> Now {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Now {
        at: tokio::time::Instant::now().into_std(),
        wall: Timestamp::from_millis(ms),
    }
}

async fn mail(mailbox: &Option<Arc<Mailbox>>) {
    match mailbox {
        Some(m) => m.wait().await,
        None => std::future::pending().await,
    }
}

impl Io<'_> {
    /// Carries out one action of the machine.
    fn act(&mut self, action: Action) {
        match action {
            Action::Append { points, owed } => {
                let durable = self.gw.sink.append(points);
                self.in_flight
                    .push_back(async move { (owed, durable.await) }.boxed());
            }
            Action::AppendDriverEvent { event, owed } => {
                let store = self.gw.store.clone();
                self.in_flight.push_back(
                    async move {
                        let result = store.append_driver_event(&event).await;
                        (owed, result.map(|()| AppendSummary::default()))
                    }
                    .boxed(),
                );
            }
            Action::Login(request) => self.login = Some(request),
            Action::Resolve {
                serial,
                reply_msg_id,
                reply,
            } => {
                self.pending.resolve(serial, reply_msg_id, reply);
            }
            Action::ClockFound(phone, offset_secs) => {
                // Rare (once per connection and window of fixes); nothing waits on it.
                let store = self.gw.store.clone();
                tokio::spawn(async move {
                    if let Err(e) = store.save_clock_found(phone, offset_secs, now().wall).await {
                        debug!(%phone, error = %e, "storing the clock offset found failed");
                    }
                });
            }
            Action::Online(phone) => {
                let mailbox = Arc::new(Mailbox::default());
                self.generation = self.gw.online.next_generation();
                let handle = SessionHandle {
                    generation: self.generation,
                    peer: self.peer.ip(),
                    mailbox: mailbox.clone(),
                };
                self.gw.online.insert(phone, handle);
                self.mailbox = Some(mailbox);
                self.unauthenticated = None;
                tracing::Span::current().record("phone", tracing::field::display(phone));
                info!(peer = %self.peer, "terminal authenticated");
            }
        }
    }
}

/// What woke a session.
enum Wake {
    /// A stop signal: drain, or the grace period is over.
    Stop,
    /// The oldest batch in flight is durable, or failed.
    Stored(Owed, tianshu_store::Result<AppendSummary>),
    /// The mailbox has something.
    Mail,
    /// The socket: an item, or `None` once the peer closed.
    Read(Option<std::io::Result<Inbound>>),
    /// The machine's deadline.
    Timer,
    /// Encoded output waits and nothing else is ready.
    Write,
}

impl Session<'_> {
    async fn serve(&mut self, socket: TcpStream, stop: Stop) -> &'static str {
        let cfg = &self.io.gw.config;
        // Damaged frames (checksum, body length) are decoded, flagged, so that the machine can answer an
        // authenticated terminal's one with "bad message"; it refuses them unless configured to accept them.
        let mut codec = Jt808Codec::new(cfg.max_frame_bytes, DecodeOptions::LENIENT);
        codec.set_noise_limit(Some(cfg.max_pre_auth_noise_bytes));
        let mut conn = FrameReader::new(socket, codec, cfg.read_buffer_bytes);
        let mut armed = self.machine.wake_at();
        let mut timer: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep_until(armed.into()));
        let max_in_flight = cfg.max_in_flight_per_connection.max(1);
        let mut draining = false;
        loop {
            let reading =
                self.machine.closing().is_none() && !draining && self.io.in_flight.len() < max_in_flight;
            let wake = tokio::select! {
                biased;
                // One future for both stop signals keeps an idle session small.
                () = (if draining { &stop.abort } else { &stop.drain }).cancelled() => Wake::Stop,
                Some((owed, result)) = self.io.in_flight.next(), if !self.io.in_flight.is_empty() => {
                    Wake::Stored(owed, result)
                }
                // Before the next frame: a clock offset the administrator set applies to the fixes that follow.
                () = mail(&self.io.mailbox), if self.machine.closing().is_none() => Wake::Mail,
                inbound = conn.next(), if reading => Wake::Read(inbound),
                () = timer.as_mut() => Wake::Timer,
                // Lowest priority: write what is encoded once nothing else is ready, so the answers to frames
                // that arrived together are written in one go (one frame per write, see `flush`).
                () = std::future::ready(()), if !self.machine.output().is_empty() => Wake::Write,
            };
            // A span per wake-up rather than per connection: a span lives in the log subscriber's registry
            // while it is open, which an idle connection would pay for all its life. Boxed: the handling
            // (a login, a write) is sized by its rare paths and needs no room while the session waits.
            let span = self.span();
            if let Err(reason) = Box::pin(self.wake(wake, &mut conn, &mut draining).instrument(span)).await {
                return reason;
            }
            if self.machine.wake_at() != armed {
                armed = self.machine.wake_at();
                timer.as_mut().reset(armed.into());
            }
        }
    }

    /// This connection's span for one wake-up: every line logged meanwhile names the peer and, once
    /// authenticated, the terminal.
    fn span(&self) -> tracing::Span {
        match self.machine.online_phone() {
            Some(phone) => info_span!("jt808_session", peer = %self.io.peer, phone = %phone),
            None => info_span!("jt808_session", peer = %self.io.peer, phone = tracing::field::Empty),
        }
    }

    /// Handles one wake-up; `Err` ends the session, with the reason.
    async fn wake(
        &mut self,
        wake: Wake,
        conn: &mut FrameReader,
        draining: &mut bool,
    ) -> Result<(), &'static str> {
        let flow = match wake {
            Wake::Stop if *draining => return Err("shutdown_grace_over"),
            Wake::Stop => {
                *draining = true;
                Flow::Continue
            }
            Wake::Stored(owed, result) => {
                self.machine.on_stored(owed, result, now().at);
                Flow::Continue
            }
            Wake::Mail => {
                self.read_mail().await;
                Flow::Continue
            }
            Wake::Read(None) => {
                self.machine.close_after_acks("peer_closed");
                Flow::Continue
            }
            Wake::Read(Some(Err(e))) => {
                debug!(error = %e, "read failed");
                return Err("io_error");
            }
            Wake::Read(Some(Ok(Inbound::Bad(e)))) => self.machine.on_bad_frame(&e),
            Wake::Read(Some(Ok(Inbound::Noise(skipped)))) => match self.machine.online_phone() {
                None => {
                    debug!(skipped, "bytes that form no frame before authentication; closing");
                    Flow::Close("pre_auth_noise")
                }
                Some(_) => {
                    conn.codec_mut().set_noise_limit(None);
                    Flow::Continue
                }
            },
            Wake::Read(Some(Ok(Inbound::Frame(frame)))) => self.frame(frame).await,
            // Closed for silence: nothing is owed an answer.
            Wake::Timer => match self.machine.on_timer(now()) {
                Flow::Close(reason) => return Err(reason),
                Flow::Continue => Flow::Continue,
            },
            Wake::Write => {
                self.flush(conn).await.map_err(|_| "io_error")?;
                Flow::Continue
            }
        };
        if let Flow::Close(reason) = flow {
            let _ = self.flush(conn).await;
            return Err(reason);
        }
        if (self.machine.closing().is_some() || *draining) && self.io.in_flight.is_empty() {
            let _ = self.flush(conn).await;
            return Err(self.machine.closing().unwrap_or("shutdown"));
        }
        Ok(())
    }

    /// A frame for the machine; a login it asks for is decided before the next frame is read.
    async fn frame(&mut self, frame: Frame) -> Flow {
        let io = &mut self.io;
        let flow = self.machine.on_frame(frame, now(), &mut |a| io.act(a));
        let Some(request) = self.io.login.take() else {
            return flow;
        };
        // Boxed: once per connection, and its store lookups would otherwise size every session's future.
        let at = now();
        let at = login::At {
            at: at.at,
            wall: at.wall,
        };
        let outcome = Box::pin(login::perform(self.io.gw, request, self.io.peer.ip(), at)).await;
        let io = &mut self.io;
        self.machine.on_login(outcome, now(), &mut |a| io.act(a))
    }

    /// Takes what the mailbox holds: replacement news closes the session, a changed registry record is read
    /// again, commands are sent.
    async fn read_mail(&mut self) {
        let Some(mailbox) = self.io.mailbox.clone() else {
            return;
        };
        if mailbox.is_replaced() {
            self.machine.replaced();
            return;
        }
        if let (true, Some(phone)) = (mailbox.take_changed(), self.machine.online_phone()) {
            // Boxed: rare, and the lookup would otherwise size every session's future.
            match Box::pin(self.io.gw.store.terminal(phone)).await {
                Ok(Some(t)) => self.machine.set_clock_offset(t.clock_offset_secs),
                Ok(None) => {}
                Err(e) => debug!(%phone, error = %e, "reading the changed terminal failed; offset kept"),
            }
        }
        while let Some(Request { command, reply }) = mailbox.take() {
            match self.machine.send_command(&command) {
                Ok((phone, serial)) => self.io.pending.push(phone, serial, command.reply_msg_id(), reply),
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
    }

    /// Writes what the machine encoded, one frame per write: firmwares that read one frame per receive lose
    /// the second of two frames that arrive in one segment (the socket has no delay, so each write leaves
    /// as its own segment).
    async fn flush(&mut self, conn: &mut FrameReader) -> std::io::Result<()> {
        let out = self.machine.output();
        if out.is_empty() {
            return Ok(());
        }
        let mut result = Ok(());
        for frame in frames(out) {
            result = conn.get_mut().write_all(frame).await;
            if result.is_err() {
                break;
            }
        }
        out.clear();
        // Do not keep a large buffer around for an idle connection.
        if out.capacity() > 16 * 1024 {
            *out = BytesMut::new();
        }
        result
    }
}

/// The frames of encoded output, each with its two 0x7e delimiters (an escaped frame has no 0x7e inside).
fn frames(out: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = out;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // The closing delimiter is the second 0x7e; anything unexpected goes out whole.
        let end = rest
            .iter()
            .skip(1)
            .position(|&b| b == 0x7e)
            .map_or(rest.len(), |i| i + 2);
        let (frame, tail) = rest.split_at(end);
        rest = tail;
        Some(frame)
    })
}

#[cfg(test)]
mod frames_test {
    #[test]
    fn output_is_cut_into_whole_frames() {
        let out = [0x7e, 1, 2, 0x7e, 0x7e, 3, 0x7e, 0x7e, 4, 5, 6, 0x7e];
        let cut: Vec<&[u8]> = super::frames(&out).collect();
        assert_eq!(
            cut,
            vec![&[0x7e, 1, 2, 0x7e][..], &[0x7e, 3, 0x7e], &[0x7e, 4, 5, 6, 0x7e]]
        );
        assert_eq!(super::frames(&[]).count(), 0);
        assert_eq!(
            super::frames(&[0x7e, 9]).collect::<Vec<_>>(),
            vec![&[0x7e, 9][..]]
        );
    }
}

#[cfg(test)]
mod size_probe {
    /// An idle connection's cost is mostly this future; 19,000 of them must fit in 4 KiB each with what the
    /// log subscriber and the runtime hold for them, so its size is pinned here (the rare login path and the
    /// handling of a wake-up are boxed, and the socket is awaited through its own readiness slot, to keep it
    /// so).
    #[tokio::test]
    async fn idle_session_future_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (socket, peer) = listener.accept().await.unwrap();
        let dir = std::env::temp_dir().join(format!("tianshu-ingest-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = tianshu_store::Store::open(&format!("sqlite:{}", dir.join("probe.db").display()))
            .await
            .unwrap();
        let sink = std::sync::Arc::new(crate::DurableAtOnce::default());
        let gw = crate::Gateway::new(Default::default(), store, sink);
        let stop = super::Stop {
            drain: Default::default(),
            abort: Default::default(),
        };
        let quota = gw.unauthenticated.clone().try_acquire_owned().unwrap();
        let future = super::run(socket, peer, &gw, stop, quota);
        let size = std::mem::size_of_val(&future);
        drop(future);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(size <= 1200, "the session future grew to {size} bytes");
    }
}

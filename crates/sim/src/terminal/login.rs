//! Logging in: connect (from a chosen local address, if any), register (0x0100) unless a code from an
//! earlier 0x8100 is held, authenticate (0x0102), each request retransmitted with the standard's backoff.
//!
//! The auth code outlives connections ([`super::Shared`] keeps it per phone): a terminal registers once and
//! authenticates with that code after every reconnection, as a real one does; a refused code is forgotten
//! so the next attempt registers afresh.

use bytes::BytesMut;
use tianshu_jt808::{
    Authenticate, Frame, FrameDecoder, GeneralAck, Message, Register, RegisterAck, Text, encode_message, id,
};
use tianshu_model::Edition;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};

use super::frames::retransmit_wait;

/// The 0x0100 a simulated terminal registers with: a BeiDou terminal of one maker and model, in Huangshi
/// (Hubei 42, city 200), with its terminal id and its plate (GBK) in `plate_color` (JT/T 697.7 codes).
pub fn registration<'a>(terminal_id: &'a str, plate_color: u8, plate: &'a [u8]) -> Register<'a> {
    Register {
        province_id: 42,
        city_id: 200,
        maker_id: Text(b"HSBD1"),
        model: Text(b"BD-808T"),
        terminal_id: Text(terminal_id.as_bytes()),
        plate_color,
        plate: Text(plate),
    }
}
use super::{Conn, SessionError, Terminal};

impl Terminal {
    /// Connects, registers when no auth code is held, authenticates.
    pub(super) async fn connect_and_login(
        &mut self,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Conn, SessionError> {
        let cfg = self.shared.config.clone();
        let bind_ip = self.bind_ip;
        let target = cfg.server(self.server);
        let connect = timeout(cfg.ack_timeout(), async move {
            match bind_ip {
                None => TcpStream::connect(target).await,
                Some(ip) => {
                    let socket = if ip.is_ipv4() {
                        TcpSocket::new_v4()?
                    } else {
                        TcpSocket::new_v6()?
                    };
                    socket.bind(std::net::SocketAddr::new(ip, 0))?;
                    socket.connect(target).await
                }
            }
        });
        let stream = tokio::select! {
            _ = stop.changed() => return Err(SessionError::Stopped),
            r = connect => r.map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??,
        };
        stream.set_nodelay(true)?;
        self.shared.stats.connects.inc();
        let (reader, writer) = stream.into_split();
        let mut c = Conn {
            reader,
            writer,
            buf: BytesMut::with_capacity(512),
            decoder: FrameDecoder::default(),
            last_sent: Instant::now(),
        };
        let known = self.shared.auth_code(self.phone);
        let code = match known {
            Some(code) => code,
            None => {
                let code = self.register(&mut c, stop).await?;
                self.shared.set_auth_code(self.phone, code.clone());
                code
            }
        };
        match self.authenticate(&mut c, &code, stop).await {
            Ok(()) => Ok(c),
            Err(SessionError::AuthRefused(r)) => {
                // The code is no longer valid (the platform forgot it): register afresh next time, unless a
                // newer code arrived meanwhile (a late answer to a retransmitted 0x0100).
                if self.shared.auth_code(self.phone).as_deref() == Some(code.as_slice()) {
                    self.shared.forget_auth_code(self.phone);
                }
                Err(SessionError::AuthRefused(r))
            }
            Err(e) => Err(e),
        }
    }

    /// Sends `frame` and waits for the answer `matches` accepts, retransmitting with the standard's backoff.
    async fn request<T>(
        &mut self,
        c: &mut Conn,
        msg_id: u16,
        frame: &[u8],
        stop: &mut watch::Receiver<bool>,
        mut matches: impl FnMut(&Frame) -> Option<T>,
    ) -> Result<T, SessionError> {
        let cfg = self.shared.config.clone();
        let mut n = 0u32;
        c.send(frame).await?;
        let mut deadline = Instant::now() + cfg.ack_timeout();
        loop {
            tokio::select! {
                _ = stop.changed() => return Err(SessionError::Stopped),
                _ = sleep_until(deadline) => {
                    if n >= cfg.max_retransmissions || !cfg.scenarios.retransmit {
                        return Err(SessionError::NoAnswer(msg_id));
                    }
                    n += 1;
                    self.shared.stats.retransmissions.inc();
                    c.send(frame).await?;
                    deadline = Instant::now() + retransmit_wait(cfg.ack_timeout(), n + 1);
                }
                f = c.next_frame() => {
                    if let Some(t) = matches(&f?) {
                        return Ok(t);
                    }
                }
            }
        }
    }

    async fn register(
        &mut self,
        c: &mut Conn,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Vec<u8>, SessionError> {
        let v = &self.shared.world.vehicles[self.vehicle];
        let (plate, _, _) = encoding_rs::GBK.encode(&v.plate);
        let plate = plate.into_owned();
        let terminal_id = v.terminal_id.clone();
        // Police cars carry white plates, other official cars blue ones (JT/T 697.7 colour codes).
        let plate_color = if v.plate.ends_with('警') { 4 } else { 1 };
        let header = self.header(id::REGISTER);
        let reg = registration(&terminal_id, plate_color, &plate);
        let mut out = BytesMut::with_capacity(96);
        encode_message(&header, &Message::Register(reg), &mut out)?;
        let serial = header.serial;
        let answer = self
            .request(c, id::REGISTER, &out, stop, |f| match f.message() {
                Ok(Message::RegisterAck(a)) if a.reply_serial == serial => {
                    Some((a.result, a.auth_code.map(|t| t.as_bytes().to_vec())))
                }
                _ => None,
            })
            .await?;
        match answer {
            (0, Some(code)) => {
                self.shared.stats.registrations.inc();
                Ok(code)
            }
            (r, _) => {
                self.shared.stats.register_refusals.inc();
                Err(SessionError::RegisterRefused(r))
            }
        }
    }

    async fn authenticate(
        &mut self,
        c: &mut Conn,
        code: &[u8],
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), SessionError> {
        let imei = format!("86{:013}", self.phone.0 % 10_000_000_000_000);
        let header = self.header(id::AUTHENTICATE);
        let auth = Authenticate {
            auth_code: Text(code),
            imei: (self.edition == Edition::V2019).then_some(Text(imei.as_bytes())),
            software_version: (self.edition == Edition::V2019).then_some(Text(b"V2.1.0")),
        };
        let mut out = BytesMut::with_capacity(96);
        encode_message(&header, &Message::Authenticate(auth), &mut out)?;
        let serial = header.serial;
        let mut late_code: Option<Vec<u8>> = None;
        let result = self
            .request(c, id::AUTHENTICATE, &out, stop, |f| match f.message() {
                Ok(Message::PlatformAck(a))
                    if a.reply_serial == serial && a.reply_msg_id == id::AUTHENTICATE =>
                {
                    Some(a.result)
                }
                // A late answer to a retransmitted 0x0100 replaces the code: keep it for the next attempt.
                Ok(Message::RegisterAck(a)) if a.result == RegisterAck::RESULT_OK => {
                    late_code = a.auth_code.map(|t| t.as_bytes().to_vec());
                    None
                }
                _ => None,
            })
            .await?;
        if let Some(code) = late_code {
            self.shared.set_auth_code(self.phone, code);
        }
        if result == GeneralAck::RESULT_OK {
            self.shared.stats.authentications.inc();
            Ok(())
        } else {
            self.shared.stats.auth_refusals.inc();
            Err(SessionError::AuthRefused(result))
        }
    }
}

//! One JT/T 809 TCP link as the sub-link's two ends use it: whole messages out (header, sequence number,
//! the agreed cipher), whole messages in, each read bounded by a deadline.

use bytes::BytesMut;
use tianshu_jt809::{Codec, Edition, FrameDecoder, Header, Message};
use tianshu_model::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Why a sub-link ended.
#[derive(Debug, thiserror::Error)]
pub enum SubError {
    /// Connecting, reading or writing failed, or the peer closed the link.
    #[error("link: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing came within the deadline.
    #[error("no answer within the timeout")]
    NoAnswer,
    /// The sub-link login was refused with this RESULT code.
    #[error("sub-link login refused with result {0}")]
    Refused(u8),
    /// The peer sent something else where the standard wants one message.
    #[error("unexpected message {0:#06x}")]
    Unexpected(u16),
    /// A frame that does not decode or encode.
    #[error("frame: {0}")]
    Codec(#[from] tianshu_jt809::Error),
}

/// A framed link.
pub struct Framed {
    stream: TcpStream,
    codec: Codec,
    decoder: FrameDecoder,
    buf: BytesMut,
    /// The access code every header carries (the lower platform's).
    access_code: u32,
    sn: u32,
    out: Vec<u8>,
    scratch: Vec<u8>,
}

impl Framed {
    /// `stream` speaking `codec`, headers carrying `access_code`.
    pub fn new(stream: TcpStream, codec: Codec, access_code: u32) -> Framed {
        Framed {
            stream,
            codec,
            decoder: FrameDecoder::new(codec),
            buf: BytesMut::with_capacity(1024),
            access_code,
            sn: 0,
            out: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Sends one message (encrypted when a cipher is agreed).
    pub async fn send(&mut self, message: &Message) -> Result<(), SubError> {
        self.sn = self.sn.wrapping_add(1);
        let mut header = Header::new(self.codec.edition, message.msg_id(), self.sn, self.access_code);
        if self.codec.edition == Edition::V2019 {
            header.time_utc = u64::try_from(Timestamp::now().secs()).unwrap_or(0);
        }
        if self.codec.cipher.is_some() {
            header.encrypted = true;
            header.encrypt_key = rand::random();
        }
        self.out.clear();
        self.codec
            .encode_into(&header, message, &mut self.scratch, &mut self.out)?;
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// The next message, waiting until `deadline` at most. A frame that does not decode is an error:
    /// the sub-link carries little, and a peer that garbles it is better reconnected.
    pub async fn next(&mut self, deadline: Instant) -> Result<Message, SubError> {
        loop {
            if let Some(frame) = self.decoder.decode_ref(&mut self.buf)? {
                return Ok(frame.message()?);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Err(SubError::NoAnswer),
                Ok(Ok(0)) => return Err(SubError::Io(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(read) => {
                    read?;
                }
            }
        }
    }
}

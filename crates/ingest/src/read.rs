//! A connection's socket and the frames read from it, with a read buffer only while bytes are pending.
//!
//! An idle terminal is the common case (tens of thousands of them, each sending a heartbeat a minute), so
//! an idle connection holds no buffer: it waits for the socket to become readable, a buffer is allocated
//! when bytes arrive and released when every byte in it has been decoded and the socket has nothing more
//! to read (so a busy connection keeps reusing it). A frame split across reads
//! keeps its buffer until it is whole.

use std::future::Future;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

use crate::codec::{Inbound, Jt808Codec};

/// Reads [`Inbound`] items from a socket it owns (writes go through [`FrameReader::get_mut`]).
pub(crate) struct FrameReader {
    /// The connection.
    socket: TcpStream,
    /// The frame splitter and its noise limit.
    codec: Jt808Codec,
    /// Bytes read and not yet decoded; no allocation while empty.
    buf: BytesMut,
    /// How many bytes a read asks for.
    chunk: usize,
    /// The peer closed its side.
    eof: bool,
}

impl FrameReader {
    /// Reads `socket` through `codec`, asking for `chunk` bytes per read.
    pub(crate) fn new(socket: TcpStream, codec: Jt808Codec, chunk: usize) -> Self {
        FrameReader {
            socket,
            codec,
            buf: BytesMut::new(),
            chunk: chunk.max(64),
            eof: false,
        }
    }

    /// The next item; `None` once the peer closed its side (bytes left then that form no whole frame are
    /// dropped: a frame cut by the close cannot be answered anyway).
    ///
    /// Cancel-safe: bytes read are kept in the buffer. A `poll_fn` rather than an `async fn`: waiting on the
    /// socket's own readiness slot adds nothing to the size of every idle session's future.
    pub(crate) fn next(&mut self) -> impl Future<Output = Option<std::io::Result<Inbound>>> + '_ {
        std::future::poll_fn(move |cx| self.poll_next(cx))
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Inbound>>> {
        loop {
            if !self.buf.is_empty() {
                match self.codec.decode(&mut self.buf) {
                    Ok(Some(item)) => return Poll::Ready(Some(Ok(item))),
                    Ok(None) => {}
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            if self.eof {
                self.release_if_drained();
                return Poll::Ready(None);
            }
            // The buffer goes only when the connection is about to wait: a busy terminal's next frame
            // reuses it, an idle one holds none.
            match self.socket.poll_read_ready(cx) {
                Poll::Pending => {
                    self.release_if_drained();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Ok(())) => {}
            }
            if self.buf.capacity() - self.buf.len() < self.chunk / 2 {
                self.buf.reserve(self.chunk);
            }
            match self.socket.try_read_buf(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }

    /// Drops the buffer once nothing in it waits to be decoded.
    fn release_if_drained(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// The frame splitter (to lift the noise limit once the terminal authenticated).
    pub(crate) fn codec_mut(&mut self) -> &mut Jt808Codec {
        &mut self.codec
    }

    /// The socket, to write to.
    pub(crate) fn get_mut(&mut self) -> &mut TcpStream {
        &mut self.socket
    }

    /// Bytes of buffer this connection holds (0 while no bytes are pending).
    #[cfg(test)]
    fn buffered_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    // Test helpers: a panic is the test failing, with its message.
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use futures::FutureExt;
    use tianshu_jt808::DecodeOptions;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// A heartbeat frame of phone 012345678900, serial 10.
    fn heartbeat() -> Vec<u8> {
        hex::decode("7e00020000012345678900000a817e").unwrap()
    }

    /// A reader on the server side of a loopback connection, and the client side.
    async fn pair(max_frame_bytes: usize) -> (FrameReader, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let codec = Jt808Codec::new(max_frame_bytes, DecodeOptions::STRICT);
        (FrameReader::new(server, codec, 512), client)
    }

    async fn next(reader: &mut FrameReader) -> Option<Inbound> {
        tokio::time::timeout(WAIT, reader.next())
            .await
            .expect("an item within the wait")
            .map(|r| r.unwrap())
    }

    #[tokio::test]
    async fn an_idle_connection_holds_no_buffer_and_a_drained_one_releases_it() {
        let (mut reader, mut client) = pair(1024).await;
        assert_eq!(
            reader.buffered_capacity(),
            0,
            "nothing allocated before bytes arrive"
        );
        assert!(reader.next().now_or_never().is_none(), "nothing to read yet");
        assert_eq!(reader.buffered_capacity(), 0, "waiting allocates nothing");
        client.write_all(&heartbeat()).await.unwrap();
        assert!(matches!(next(&mut reader).await, Some(Inbound::Frame(_))));
        assert!(reader.next().now_or_never().is_none(), "nothing more to read");
        assert_eq!(reader.buffered_capacity(), 0, "released once drained and waiting");
    }

    #[tokio::test]
    async fn a_frame_split_across_reads_keeps_its_buffer_until_whole() {
        let (mut reader, mut client) = pair(1024).await;
        let frame = heartbeat();
        client.write_all(&frame[..6]).await.unwrap();
        // Poll until the first half is in the buffer (no frame can come out of it).
        tokio::time::timeout(WAIT, async {
            while reader.buffered_capacity() == 0 {
                assert!(reader.next().now_or_never().is_none(), "half a frame is no frame");
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the first half arrives");
        client.write_all(&frame[6..]).await.unwrap();
        let Some(Inbound::Frame(f)) = next(&mut reader).await else {
            panic!("the whole frame")
        };
        assert_eq!((f.header.msg_id, f.header.serial), (0x0002, 10));
        assert!(reader.next().now_or_never().is_none(), "nothing more to read");
        assert_eq!(reader.buffered_capacity(), 0);
    }

    #[tokio::test]
    async fn several_frames_in_one_read_come_out_one_by_one() {
        let (mut reader, mut client) = pair(1024).await;
        let mut three = heartbeat();
        three.extend(heartbeat());
        three.extend(heartbeat());
        client.write_all(&three).await.unwrap();
        client.shutdown().await.unwrap();
        for _ in 0..3 {
            assert!(matches!(next(&mut reader).await, Some(Inbound::Frame(_))));
        }
        assert!(next(&mut reader).await.is_none(), "then the peer's close");
        assert_eq!(reader.buffered_capacity(), 0);
    }

    #[tokio::test]
    async fn an_oversized_run_is_refused_and_its_buffer_released() {
        let (mut reader, mut client) = pair(64).await;
        let mut long = vec![0x7e];
        long.extend([0x11; 200]);
        client.write_all(&long).await.unwrap();
        assert!(matches!(
            next(&mut reader).await,
            Some(Inbound::Bad(tianshu_jt808::Error::FrameTooLong { .. }))
        ));
        // What follows the oversized run (the rest of it skipped as noise) still reads.
        client.write_all(&heartbeat()).await.unwrap();
        assert!(matches!(next(&mut reader).await, Some(Inbound::Frame(_))));
        assert!(reader.next().now_or_never().is_none(), "nothing more to read");
        assert_eq!(reader.buffered_capacity(), 0);
    }
}

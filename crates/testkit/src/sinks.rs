//! Local stand-ins for the outside world alert notifications go to: an HTTP receiver for webhooks and
//! an SMTP sink for e-mail, both on 127.0.0.1, recording what they receive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::future::Future;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What a sink received so far.
#[derive(Debug)]
pub struct Received<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Received<T> {
    fn clone(&self) -> Self {
        Received(Arc::clone(&self.0))
    }
}

impl<T> Default for Received<T> {
    fn default() -> Self {
        Received(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T> Received<T> {
    fn push(&self, item: T) {
        if let Ok(mut v) = self.0.lock() {
            v.push(item);
        }
    }
}

impl<T: Clone> Received<T> {
    /// A copy of everything received so far.
    pub fn all(&self) -> Vec<T> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// How many so far.
    pub fn len(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Whether nothing came yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `n` (from 0) once it came; panics naming `what` after `limit`.
    pub async fn wait_nth(&self, n: usize, what: &str, limit: Duration) -> T {
        crate::wait_for(what, limit, || {
            std::future::ready(self.0.lock().ok().and_then(|v| v.get(n).cloned()))
        })
        .await
    }
}

/// Accepts connections on a fresh loopback port, handing each to `handle` with the record of what came;
/// returns the address and that record.
async fn listen<T, F, Fut>(what: &str, handle: F) -> (SocketAddr, Received<T>)
where
    T: Send + 'static,
    F: Fn(BufReader<TcpStream>, Received<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Option<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding the {what}: {e}"));
    let addr = listener.local_addr().expect("a local address");
    let got = Received::default();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(handle(BufReader::new(sock), sink.clone()));
        }
    });
    (addr, got)
}

/// The next line, or `None` at the end of the stream.
async fn read_line(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    (r.read_line(&mut line).await.unwrap_or(0) > 0).then_some(line)
}

/// Starts an HTTP receiver that answers every request with 200 and `{"errcode":0}` (what robot webhooks
/// answer) and records each request body. Returns its URL and the bodies.
pub async fn http_receiver() -> (String, Received<String>) {
    http_receiver_answering(200).await
}

/// As [`http_receiver`], answering `status` (500: a webhook that keeps failing).
pub async fn http_receiver_answering(status: u16) -> (String, Received<String>) {
    let (addr, got) = listen("webhook receiver", move |mut r, sink| async move {
        let mut len = 0usize;
        loop {
            let line = read_line(&mut r).await?;
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).await.ok()?;
        sink.push(String::from_utf8_lossy(&body).into_owned());
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 13\r\nconnection: close\r\n\r\n{{\"errcode\":0}}"
        );
        r.get_mut().write_all(answer.as_bytes()).await.ok()
    })
    .await;
    (format!("http://{addr}/hook"), got)
}

/// One message an SMTP sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The DATA, headers and body, as sent.
    pub data: String,
}

/// Starts a minimal SMTP server that accepts every message. Returns its port and the messages.
pub async fn smtp_sink() -> (u16, Received<Mail>) {
    let (addr, got) = listen("SMTP sink", |mut r, sink| async move {
        r.get_mut().write_all(b"220 sink ESMTP\r\n").await.ok()?;
        let mut to = Vec::new();
        loop {
            let line = read_line(&mut r).await?;
            let cmd = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                b"250 sink\r\n"
            } else if cmd.starts_with("RCPT TO:") {
                let addr = line.trim_end()[8..]
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string();
                to.push(addr);
                b"250 ok\r\n"
            } else if cmd.starts_with("DATA") {
                r.get_mut().write_all(b"354 go ahead\r\n").await.ok()?;
                let mut data = String::new();
                loop {
                    let l = read_line(&mut r).await?;
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(&l);
                }
                sink.push(Mail {
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 queued\r\n"
            } else if cmd.starts_with("QUIT") {
                return r.get_mut().write_all(b"221 bye\r\n").await.ok();
            } else {
                b"250 ok\r\n"
            };
            r.get_mut().write_all(reply).await.ok()?;
        }
    })
    .await;
    (addr.port(), got)
}

//! Local stand-ins for the outside world alert notifications go to: an HTTP receiver for webhooks and
//! an SMTP sink for e-mail, both on 127.0.0.1, recording what they receive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What a sink received so far.
#[derive(Debug, Clone)]
pub struct Received<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Received<T> {
    fn default() -> Self {
        Received(Arc::new(Mutex::new(Vec::new())))
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

    fn push(&self, item: T) {
        if let Ok(mut v) = self.0.lock() {
            v.push(item);
        }
    }
}

/// Starts an HTTP receiver that answers every request with 200 and `{"errcode":0}` (what robot webhooks
/// answer) and records each request body. Returns its URL and the bodies.
pub async fn http_receiver() -> (String, Received<String>) {
    http_receiver_answering(200).await
}

/// As [`http_receiver`], answering `status` (500: a webhook that keeps failing).
pub async fn http_receiver_answering(status: u16) -> (String, Received<String>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the webhook receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("a local address"));
    let got = Received::default();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(sock);
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; len];
                if r.read_exact(&mut body).await.is_err() {
                    return;
                }
                sink.push(String::from_utf8_lossy(&body).into_owned());
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 13\r\nconnection: close\r\n\r\n{{\"errcode\":0}}"
                );
                let _ = r.get_mut().write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, got)
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
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the SMTP sink");
    let port = listener.local_addr().expect("a local address").port();
    let got = Received::default();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(sock);
                let _ = r.get_mut().write_all(b"220 sink ESMTP\r\n").await;
                let mut to = Vec::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
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
                        let _ = r.get_mut().write_all(b"354 go ahead\r\n").await;
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
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
                        let _ = r.get_mut().write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = r.get_mut().write_all(reply).await;
                }
            });
        }
    });
    (port, got)
}

//! A TCP relay on loopback between two real peers, whose open connections a test can cut (both sockets
//! closed at once) while it goes on accepting new ones: a link broken in the middle, on demand.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// Relays every connection made to [`Relay::addr`] to the target.
pub struct Relay {
    /// Where peers connect instead of the target.
    pub addr: SocketAddr,
    open: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Relay {
    /// Starts relaying to `target` from a free loopback port.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the relay");
        let addr = listener.local_addr().expect("the relay's address");
        let open = Arc::new(Mutex::new(Vec::new()));
        let conns = open.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut from, _)) = listener.accept().await {
                let Ok(mut to) = TcpStream::connect(target).await else {
                    continue;
                };
                let conn = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut from, &mut to).await;
                });
                conns.lock().expect("relay lock").push(conn.abort_handle());
            }
        })
        .abort_handle();
        Relay { addr, open, accept }
    }

    /// Closes every connection open now; new ones are still relayed.
    pub fn cut(&self) {
        for conn in self.open.lock().expect("relay lock").drain(..) {
            conn.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

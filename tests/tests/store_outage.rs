//! A PostgreSQL store whose database goes away and comes back: appends fail with a clear error while
//! it is down (nothing is acknowledged, nothing panics), and the store reconnects by itself.
//!
//! The outage is made with a TCP relay on 127.0.0.1 in front of the real server: dropping the relay
//! cuts every connection and refuses new ones, exactly what a database restart looks like to a client.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use tianshu_e2e::{Scratch, point};
use tianshu_model::VehicleId;
use tianshu_store::{Error, Store, StoreConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// Relays connections from `addr` to the PostgreSQL server until stopped.
struct Relay {
    accept: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<JoinSet<()>>>,
}

impl Relay {
    async fn start(addr: SocketAddr) -> Relay {
        let listener = TcpListener::bind(addr).await.unwrap();
        let conns = Arc::new(Mutex::new(JoinSet::new()));
        let spawn_into = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                spawn_into.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay { accept, conns }
    }

    /// Stops listening and closes every relayed connection; returns once all are closed.
    async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
        self.conns.lock().await.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_fail_clearly_while_the_database_is_down_and_resume_after() {
    let scratch = Scratch::postgres("outage").await;
    // A free port on loopback for the relay.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let relay = Relay::start(addr).await;
    let url = scratch.url().replace("127.0.0.1:5432", &addr.to_string());
    let mut config = StoreConfig::default();
    config.postgres.connect_timeout_secs = 2;
    let store = Store::open_with(&url, &config).await.unwrap();
    assert_eq!(store.append_points(&[point(1, 0)]).await.unwrap().inserted, 1);

    relay.stop().await;
    // Every call fails with `Unavailable` until the database is back; none hangs or panics.
    let mut failures = 0;
    for i in 1..=3 {
        match store.append_points(&[point(1, i)]).await {
            Err(Error::Unavailable(msg)) => {
                assert!(msg.contains("postgres"), "{msg}");
                failures += 1;
            }
            other => panic!("append {i} while the database is down answered {other:?}"),
        }
    }
    assert_eq!(failures, 3);
    assert!(matches!(store.ping().await, Err(Error::Unavailable(_))));

    let relay = Relay::start(addr).await;
    store.ping().await.unwrap();
    let s = store
        .append_points(&[point(1, 1), point(1, 2), point(1, 3)])
        .await
        .unwrap();
    assert_eq!(
        s.inserted, 3,
        "nothing from the outage was stored, so all three are new"
    );
    let latest = store.latest_position(VehicleId(1)).await.unwrap().unwrap();
    assert_eq!(latest, point(1, 3));
    drop(store);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_an_unreachable_database_says_where_and_why() {
    // Nothing listens on this port: bind it, take its number, close it.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("postgres://postgres:secret@{addr}/tianshu");
    let err = match Store::open(&url).await {
        Err(e) => e,
        Ok(_) => panic!("opened a store with no server behind it"),
    };
    let msg = err.to_string();
    assert!(matches!(err, Error::Unavailable(_)), "{msg}");
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(!msg.contains("secret"), "the password must not appear: {msg}");
    let bad = Store::open("mysql://x").await;
    assert!(matches!(bad, Err(Error::BadUrl { .. })));
}

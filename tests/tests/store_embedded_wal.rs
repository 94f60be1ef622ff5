//! The embedded store's WAL: it stays within its limit, closing the backend empties it and refuses later
//! writes; and through the real `tianshu serve`: a clean stop (SIGTERM) leaves it empty or gone with every
//! acknowledged point in the database, the scheduled checkpoints truncate it while the server runs, and a
//! read through the store left inside a transaction does not keep it from being truncated.
#![allow(clippy::unwrap_used)] // test setup: a panic is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;

use tianshu_e2e::gateway::{Ledger, Terminal, phone, point, provision};
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, WAIT, point as fix_point, wait_until, wait_watermark};
use tianshu_store::embedded::{EmbeddedBackend, EmbeddedConfig};
use tianshu_store::{Backend, BackendKind, Error, Store, StoreConfig};

const TERMINALS: u32 = 8;
const ACK: Duration = Duration::from_secs(30);

fn db_path(scratch: &Scratch) -> PathBuf {
    let url = scratch.url();
    PathBuf::from(url.strip_prefix("sqlite:").unwrap_or(&url))
}

fn wal_path(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", db.display()))
}

/// The WAL's size; 0 when there is none.
fn wal_size(db: &Path) -> u64 {
    std::fs::metadata(wal_path(db)).map_or(0, |m| m.len())
}

/// A fresh embedded store with its terminals, served by `tianshu serve` with `embedded` as its
/// `[store.embedded]` settings: the store, its database file, the server's directory and the server.
async fn serving(name: &str, embedded: &str) -> (Scratch, PathBuf, ScratchDir, Tianshu) {
    let scratch = Scratch::embedded(name);
    let db = db_path(&scratch);
    provision(&scratch.url(), TERMINALS).await;
    let dir = ScratchDir::new(name);
    let config = format!("[store.embedded]\n{embedded}");
    let server = Tianshu::start(&scratch.url(), &config, &[], dir.path());
    (scratch, db, dir, server)
}

/// Every terminal reports `n` points starting at `from` (seconds), pipelined; each is acknowledged and
/// recorded in `ledger`.
async fn report(server: &Tianshu, from: i64, n: i64, ledger: &mut Ledger) {
    for i in 0..TERMINALS {
        let mut t = Terminal::connect(server.jt808, phone(i)).await.unwrap();
        t.login(i).await;
        let sent: Vec<_> = (from..from + n).map(|s| point(i, s)).collect();
        t.report_all_acked(&sent, ACK, &format!("terminal {i}")).await;
        for p in &sent {
            ledger.record(i, p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_leaves_no_wal_and_loses_nothing() {
    // No scheduled checkpoint: what empties the WAL here is the stop.
    let (scratch, db, _dir, mut server) = serving("wal-stop", "checkpoint_secs = 0\n").await;
    let mut ledger = Ledger::default();
    report(&server, 0, 200, &mut ledger).await;
    assert!(wal_size(&db) > 0, "the points went through the WAL");
    // Another process has the database open (a shell, a backup tool), idle: the server's connections are
    // not the last ones, so closing them does not fold the WAL back by itself.
    let other = rusqlite::Connection::open(&db).unwrap();
    let _: i64 = other
        .query_row("SELECT count(*) FROM latest_positions", [], |r| r.get(0))
        .unwrap();

    let status = server.terminate();
    assert!(status.success(), "a clean stop: {status}");
    assert_eq!(
        wal_size(&db),
        0,
        "after a clean stop the WAL is empty or gone ({})",
        wal_path(&db).display()
    );
    drop(other);
    let store = Store::open(&scratch.url()).await.unwrap();
    assert_eq!(ledger.verify(&store).await, ledger.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_checkpoints_truncate_the_wal_while_serving() {
    let (scratch, db, _dir, mut server) =
        serving("wal-scheduled", "checkpoint_secs = 1\nwal_limit_kib = 256\n").await;
    let mut ledger = Ledger::default();
    for round in 0..2 {
        report(&server, round * 1_000, 200, &mut ledger).await;
        wait_until("a scheduled checkpoint to truncate the WAL", WAIT, || async {
            wal_size(&db) == 0
        })
        .await;
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the server is still running"
        );
    }
    // Counted once the checkpoint has returned (the file may be seen truncated a moment before).
    wait_watermark("the checkpoints to be counted", WAIT, 2.0, || {
        server.metric("tianshu_store_wal_checkpoints_total", "")
    })
    .await;
    assert!(server.terminate().success());
    let store = Store::open(&scratch.url()).await.unwrap();
    assert_eq!(ledger.verify(&store).await, ledger.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_left_in_a_transaction_does_not_pin_the_wal() {
    let scratch = Scratch::embedded("wal-reader");
    let db = db_path(&scratch);
    let mut config = StoreConfig::default();
    config.embedded.checkpoint_secs = 0;
    let store = scratch.open(&config).await;
    let first: Vec<_> = (0..100).map(|s| tianshu_e2e::point(1, s)).collect();
    store.append_points(&first).await.unwrap();
    let BackendKind::Embedded(backend) = store.kind() else {
        unreachable!("an embedded scratch store")
    };
    // A read that ends inside a transaction: its snapshot would keep every later WAL frame.
    backend
        .read(|conn| {
            conn.execute_batch("BEGIN; SELECT count(*) FROM latest_positions;")
                .map_err(|e| tianshu_store::Error::Unavailable(e.to_string()))
        })
        .await
        .unwrap();
    let more: Vec<_> = (100..200).map(|s| tianshu_e2e::point(1, s)).collect();
    store.append_points(&more).await.unwrap();
    // Reads after it go on as usual.
    assert_eq!(store.latest_positions().await.unwrap().len(), 1);

    // A truncating checkpoint from another connection is not held up by any read connection of the store.
    let outside = rusqlite::Connection::open(&db).unwrap();
    let busy: i64 = outside
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 0, "no read connection of the store holds an old snapshot");
    assert_eq!(wal_size(&db), 0, "the WAL was truncated");
    drop(outside);
    store.close().await.unwrap();
}

/// The backend's settings with a WAL bound of `wal_limit_kib` and no scheduled checkpoints.
fn bounded(wal_limit_kib: u64) -> EmbeddedConfig {
    EmbeddedConfig {
        wal_limit_kib,
        checkpoint_secs: 0,
        ..EmbeddedConfig::default()
    }
}

#[tokio::test]
async fn the_wal_stays_within_its_limit() {
    let dir = ScratchDir::new("wal-limit");
    let db = dir.path().join("t.db");
    let store = EmbeddedBackend::open(&db, &bounded(64)).await.unwrap();
    let mut largest = 0;
    for s in 0..400 {
        store.commit_points(&[fix_point(1 + s % 7, s)]).await.unwrap();
        largest = largest.max(wal_size(&db));
    }
    // The commit that reaches the limit checkpoints; the file is trimmed back to the limit. A few
    // pages of slack: the commit that crossed it.
    assert!(largest <= (64 + 32) * 1024, "the WAL reached {largest} bytes");
}

#[tokio::test]
async fn closing_the_backend_leaves_an_empty_wal_and_refuses_later_writes() {
    let dir = ScratchDir::new("wal-close");
    let db = dir.path().join("t.db");
    let store = EmbeddedBackend::open(&db, &bounded(65_536)).await.unwrap();
    for s in 0..50 {
        store.commit_points(&[fix_point(1, s)]).await.unwrap();
    }
    assert!(wal_size(&db) > 0);
    store.close().await.unwrap();
    assert_eq!(wal_size(&db), 0, "the WAL is empty or gone");
    let later = store.commit_points(&[fix_point(1, 100)]).await;
    assert!(matches!(later, Err(Error::Closed)), "{later:?}");
    // Nothing was lost.
    let again = EmbeddedBackend::open(&db, &bounded(65_536)).await.unwrap();
    let latest = again.latest_position(tianshu_model::VehicleId(1)).await.unwrap();
    assert_eq!(latest.map(|p| p.fix_time), Some(fix_point(1, 49).fix_time));
}

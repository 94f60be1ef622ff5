//! The group-commit writer over a real database: a queue that fills while the database holds its
//! commits is reported saturated until it drains, a batch PostgreSQL commits only in part is fanned out
//! as far as it committed and acknowledged nowhere, and latest positions PostgreSQL failed to write
//! behind stay readable and are written by the next flush.

use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::{Error, Store, StoreConfig};
use tianshu_testkit::Scratch;

use crate::points::{all_of, connect, registered, sparse};

/// A transaction of another connection that holds the store's writes until released.
enum WriteHold {
    Embedded(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl WriteHold {
    /// Takes the write lock of the store at `url` (SQLite's reserved lock; PostgreSQL's lock on
    /// `points` that every insert waits for).
    async fn take(url: &str) -> WriteHold {
        match url.strip_prefix("sqlite:") {
            Some(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                WriteHold::Embedded(conn)
            }
            None => {
                let client = connect(url).await;
                let lock = "BEGIN; LOCK TABLE points IN EXCLUSIVE MODE";
                client.batch_execute(lock).await.unwrap();
                WriteHold::Postgres(client)
            }
        }
    }

    async fn release(self) {
        match self {
            WriteHold::Embedded(conn) => conn.execute_batch("COMMIT").unwrap(),
            WriteHold::Postgres(client) => client.batch_execute("COMMIT").await.unwrap(),
        }
    }
}

pub async fn a_full_writer_queue_is_saturated_until_a_place_frees(store: Store, url: String) {
    drop(store);
    let mut config = StoreConfig::default();
    config.writer.queue_capacity_appends = 1;
    config.writer.max_commits_in_flight = 1;
    // One append a batch: the appends behind the held one stay queued instead of joining its batch.
    config.writer.max_batch_points = 1;
    // The held commit waits for the lock rather than failing.
    config.embedded.busy_timeout_ms = 600_000;
    let store = Store::open_with(&url, &config).await.unwrap();
    assert!(!store.writer_saturated());
    let hold = WriteHold::take(&url).await;
    // One append commits (and waits for the lock), one fills the queue, one waits for a place.
    let appends: Vec<_> = (0..3)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append_points(&[sparse(1, i)]).await })
        })
        .collect();
    let saturated = async {
        while !store.writer_saturated() {
            tokio::task::yield_now().await;
        }
    };
    let reported = tokio::time::timeout(std::time::Duration::from_secs(60), saturated).await;
    assert!(reported.is_ok(), "the full queue is reported saturated");
    assert!(
        appends.iter().all(|a| !a.is_finished()),
        "the held commit answers nobody"
    );
    hold.release().await;
    for append in appends {
        assert_eq!(append.await.unwrap().unwrap().inserted, 1);
    }
    assert!(!store.writer_saturated(), "the queue drained");
    assert_eq!(all_of(&store, 1).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_partly_committed_batch_fans_out_what_committed_and_acknowledges_nothing() {
    let scratch = Scratch::postgres("partly").await;
    let store = scratch.open(&StoreConfig::default()).await;
    let refuse = "CREATE FUNCTION refuse_vehicle_2() RETURNS trigger LANGUAGE plpgsql AS \
                  $$ BEGIN RAISE EXCEPTION 'vehicle 2 refused'; END $$; \
                  CREATE TRIGGER refuse_vehicle_2 BEFORE INSERT ON points FOR EACH ROW \
                  WHEN (NEW.vehicle = 2) EXECUTE FUNCTION refuse_vehicle_2();";
    connect(&scratch.url()).await.batch_execute(refuse).await.unwrap();
    let mut feed = store.subscribe();
    // Two vehicles of 2,500 points each: a batch the backend commits as two parts, one per vehicle.
    let batch: Vec<Position> = (1..=2)
        .flat_map(|v| (0..2_500).map(move |i| sparse(v, i)))
        .collect();
    assert!(!store.writer_failing());
    let e = store.append_points(&batch).await.unwrap_err();
    assert!(matches!(&e, Error::PartlyCommitted { .. }), "{e}");
    assert!(e.is_transient(), "a retry finds the committed part stored");
    assert!(store.writer_failing(), "a failed commit is what /readyz reports");
    assert_eq!(feed.recv().await.unwrap().points, batch[..2_500]);
    assert_eq!(all_of(&store, 1).await.len(), 2_500);
    assert!(all_of(&store, 2).await.is_empty());
    // Nothing else was fanned out: the next batch on the feed is the next commit.
    store.append_points(&[sparse(3, 0)]).await.unwrap();
    assert_eq!(feed.recv().await.unwrap().points, [sparse(3, 0)]);
    assert!(!store.writer_failing(), "a commit that succeeds clears it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_latest_positions_a_flush_failed_to_write_are_kept_for_the_next() {
    let scratch = Scratch::postgres("latest_kept").await;
    let mut config = StoreConfig::default();
    config.postgres.latest_flush_ms = 3_600_000;
    let store = scratch.open(&config).await;
    let v = registered(&store).await;
    let client = connect(&scratch.url()).await;
    let refuse = "CREATE FUNCTION refuse_latest() RETURNS trigger LANGUAGE plpgsql AS \
                  $$ BEGIN RAISE EXCEPTION 'latest positions refused'; END $$; \
                  CREATE TRIGGER refuse_latest BEFORE INSERT OR UPDATE ON latest_positions FOR EACH ROW \
                  EXECUTE FUNCTION refuse_latest();";
    client.batch_execute(refuse).await.unwrap();
    store
        .append_points(&[sparse(v, 10), sparse(v, 20)])
        .await
        .unwrap();
    store.append_points(&[sparse(v, 15)]).await.unwrap();
    assert!(store.flush().await.is_err());
    // Kept, and still the newest: an older point moved nothing back.
    assert_eq!(
        store.latest_position(VehicleId(v)).await.unwrap(),
        Some(sparse(v, 20))
    );
    assert_eq!(store.latest_positions().await.unwrap(), [sparse(v, 20)]);
    client
        .batch_execute("DROP TRIGGER refuse_latest ON latest_positions")
        .await
        .unwrap();
    store.flush().await.unwrap();
    let row = client
        .query_one("SELECT vehicle, fix_time FROM latest_positions", &[])
        .await
        .unwrap();
    let fix_time: chrono::DateTime<chrono::Utc> = row.get(1);
    assert_eq!(row.get::<_, i64>(0), v);
    assert_eq!(Timestamp(fix_time.timestamp_millis()), sparse(v, 20).fix_time);
}

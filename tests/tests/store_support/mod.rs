//! Scratch stores for the store tests: an embedded file in a fresh directory, or a PostgreSQL database
//! created for the test on the real server at 127.0.0.1:5432 and dropped afterwards.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use tianshu_model::{Phone, Position, StatusFlags, Timestamp, VehicleId};

/// The PostgreSQL server the tests use (trust auth, user `postgres`).
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{name}_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store location that cleans up after itself.
pub enum Scratch {
    /// An embedded store file in its own directory.
    Embedded(PathBuf),
    /// A PostgreSQL database.
    Postgres(String),
}

impl Scratch {
    /// A fresh embedded store location.
    pub fn embedded(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tianshu-test-{}", unique(name)));
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        Scratch::Embedded(dir)
    }

    /// A fresh PostgreSQL database; panics with the reason when the server is not there.
    pub async fn postgres(name: &str) -> Scratch {
        let db = format!("tianshu_test_{}", unique(name)).to_lowercase();
        let client = admin_client().await;
        client
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap_or_else(|e| {
                panic!("creating test database {db} on 127.0.0.1:5432 failed: {e}");
            });
        Scratch::Postgres(db)
    }

    /// The store URL.
    pub fn url(&self) -> String {
        match self {
            Scratch::Embedded(dir) => format!("sqlite:{}", dir.join("tianshu.db").display()),
            Scratch::Postgres(db) => format!("postgres://postgres@127.0.0.1:5432/{db}"),
        }
    }
}

/// A connection to the server's maintenance database; fails the test, saying why, when PostgreSQL is absent.
pub async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required at 127.0.0.1:5432 (user postgres, trust auth) for this test and is not \
             reachable: {e}. Start it (e.g. `pg_ctlcluster 15 main start`) and rerun."
        )
    });
    tokio::spawn(conn);
    client
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::Embedded(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::Postgres(db) => {
                // Drop runs outside async context guarantees: use a private runtime on its own thread.
                let db = db.clone();
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok((client, conn)) =
                            tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await
                        {
                            tokio::spawn(conn);
                            let _ = client
                                .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// The base instant of test tracks: 2026-11-27T00:00:00Z.
pub const T0_SECS: i64 = 1_795_737_600;

/// A moving point of `vehicle` at `T0 + secs`.
pub fn point(vehicle: i64, secs: i64) -> Position {
    Position {
        vehicle: VehicleId(vehicle),
        phone: Phone(13_800_000_000 + vehicle as u128),
        fix_time: Timestamp::from_secs(T0_SECS + secs),
        recv_time: Timestamp::from_secs(T0_SECS + secs + 1),
        lat_e6: 30_200_000 + (secs % 10_000) as i32 * 10,
        lon_e6: 115_000_000 + vehicle as i32,
        altitude_m: 25,
        speed_dkmh: 420,
        course_deg: (secs % 360) as u16,
        status: StatusFlags(StatusFlags::ACC_ON | StatusFlags::FIXED),
        ..Default::default()
    }
}

/// The `tianshu` binary, built (once per test process) from the current sources; `TIANSHU_BIN`
/// overrides it.
pub fn tianshu_bin() -> PathBuf {
    tianshu_e2e::tianshu_bin()
}

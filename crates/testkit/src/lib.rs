//! Shared setup of Tianshu's tests: scratch stores on both backends, scratch directories, names no other
//! test run uses, waiting on a condition or a progress watermark ([`wait`]), one position builder
//! ([`Fix`]) and a reader of the metrics text ([`metric`]).
//!
//! A [`Scratch`] is an embedded store file in a fresh directory, or a database created for the test on
//! the real PostgreSQL at 127.0.0.1:5432 (trust auth, user `postgres`); either is removed when the
//! `Scratch` is dropped, so a failing test leaves nothing behind. Only test code depends on this crate.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use tianshu_store::{RegistryRecord, Store, StoreConfig};

mod fix;
pub mod nats;
mod prom;
pub mod sinks;
pub mod wait;

pub use fix::{Fix, T0_SECS, extreme_point, point, trip};
pub use prom::metric;
pub use wait::{WAIT, retry_until, wait_for, wait_for_state, wait_until, wait_watermark};

/// Runs `async fn $run(scratch: Scratch)` once on each backend, as two tests named `$name::embedded`
/// and `$name::postgres` (the PostgreSQL one fails, saying why, when the server is absent); `$tag` names
/// the scratch store. `on_both_backends!(a, b, c)` does the same for each of the functions `a`, `b`, `c`,
/// named after them.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $run:ident, $tag:literal) => {
        mod $name {
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$run($crate::Scratch::embedded($tag)).await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$run($crate::Scratch::postgres($tag).await).await;
            }
        }
    };
    ($($run:ident),+ $(,)?) => {
        $(
            mod $run {
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$run($crate::Scratch::embedded(stringify!($run))).await;
                }

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$run($crate::Scratch::postgres(stringify!($run)).await).await;
                }
            }
        )+
    };
}

/// The PostgreSQL server the tests use (trust auth, user `postgres`).
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `name` made unique across processes, runs and calls (a database, a directory, an MQTT client id).
pub fn unique(name: &str) -> String {
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

/// A fresh directory under the system's temporary directory.
pub fn unique_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tianshu-test-{}", unique(name)));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("creating the scratch directory {}: {e}", dir.display());
    }
    dir
}

/// A registry row: a general-purpose car with `plate` in the unit at `unit` (a path), its terminal
/// `terminal_id` at `phone`.
pub fn registry_record(unit: &str, plate: &str, phone: u128, terminal_id: &str) -> RegistryRecord {
    RegistryRecord {
        unit: unit.into(),
        plate: plate.into(),
        phone: tianshu_model::Phone(phone),
        terminal_id: terminal_id.into(),
        vehicle_class: tianshu_model::VehicleClass::General,
        marking: None,
    }
}

/// Registers a general car of `unit` for each (plate, phone), its terminal id `T<phone>`; fails the test
/// when the import does.
pub async fn import_cars(store: &Store, unit: &str, cars: &[(&str, u128)]) {
    let records: Vec<RegistryRecord> = cars
        .iter()
        .map(|&(plate, phone)| registry_record(unit, plate, phone, &format!("T{phone}")))
        .collect();
    store.import_registry(&records).await.expect("importing the cars");
}

/// The id of the car with `plate`; fails the test when there is none.
pub async fn vehicle_of(store: &Store, plate: &str) -> tianshu_model::VehicleId {
    store
        .vehicle_by_plate(plate)
        .await
        .expect("reading the registry")
        .unwrap_or_else(|| panic!("no car {plate} in the registry"))
        .id
}

/// Appends `n` fixes of `plate`'s car, `step_secs` apart from `ago_secs` seconds ago, all received now,
/// each a little further north (1e-4 degree a fix); fails the test when the car is unknown or the append
/// fails.
pub async fn drive(store: &Store, plate: &str, ago_secs: i64, n: i64, step_secs: i64) {
    let vehicle = vehicle_of(store, plate).await;
    let first = tianshu_model::Timestamp::now().secs() - ago_secs;
    let points: Vec<tianshu_model::Position> = (0..n)
        .map(|i| {
            let mut p = Fix::at(first + i * step_secs)
                .at_e6(30_500_000 + i as i32 * 100, 114_300_000 + vehicle.0 as i32)
                .heading(400, 90)
                .build();
            p.vehicle = vehicle;
            p.recv_time = tianshu_model::Timestamp::now();
            p
        })
        .collect();
    store.append_points(&points).await.expect("appending");
}

/// A fresh directory removed, with everything in it, when dropped.
#[derive(Debug)]
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// A fresh directory under the system's temporary directory.
    pub fn new(name: &str) -> ScratchDir {
        ScratchDir(unique_dir(name))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A connection to the server's maintenance database; fails the test, saying why, when PostgreSQL is
/// absent.
pub async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required at 127.0.0.1:5432 (user postgres, trust auth) for this test and is not \
                 reachable: {e}. Start it (e.g. `pg_ctlcluster 15 main start`) and rerun."
            )
        });
    tokio::spawn(conn);
    client
}

/// A store location that removes itself when dropped.
pub enum Scratch {
    /// An embedded store file in its own directory.
    Embedded(PathBuf),
    /// A PostgreSQL database.
    Postgres(String),
}

impl Scratch {
    /// A fresh embedded store location.
    pub fn embedded(name: &str) -> Scratch {
        Scratch::Embedded(unique_dir(name))
    }

    /// A fresh PostgreSQL database; fails the test with the reason when the server is not there.
    pub async fn postgres(name: &str) -> Scratch {
        let db = format!("tianshu_test_{}", unique(name)).to_lowercase();
        if let Err(e) = admin_client()
            .await
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
        {
            panic!("creating test database {db} on 127.0.0.1:5432 failed: {e}");
        }
        Scratch::Postgres(db)
    }

    /// The store URL.
    pub fn url(&self) -> String {
        match self {
            Scratch::Embedded(dir) => format!("sqlite:{}", dir.join("tianshu.db").display()),
            Scratch::Postgres(db) => format!("postgres://postgres@127.0.0.1:5432/{db}"),
        }
    }

    /// Opens the store with `config`; fails the test when it cannot.
    pub async fn open(&self, config: &StoreConfig) -> Store {
        let url = self.url();
        Store::open_with(&url, config)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::Embedded(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::Postgres(db) => {
                // Drop may run inside a runtime or outside one: a private runtime on its own thread.
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

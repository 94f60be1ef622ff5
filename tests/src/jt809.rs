//! Two Tianshu instances joined by JT/T 809 on loopback: the registry both hold, and the configurations
//! of a province (upper platform, lower platform `huangshi` logging in) and of its city (forwarding the
//! cars of 黄石市 to `province`).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use tianshu_store::{RegistryRecord, Store};

use crate::gateway::{phone, plate};
use crate::registry_record;

/// Cars of the covered unit, 黄石市/市委办公室; car `COVERED` is of 鄂州市, which the city does not forward.
pub const COVERED: u32 = 4;

/// The registry both instances hold: the covered cars under 黄石市, one more under 鄂州市.
pub async fn provision(url: &str) {
    let store = Store::open(url).await.expect("opening the store to provision");
    let mut records: Vec<RegistryRecord> = (0..COVERED)
        .map(|i| registry_record("黄石市/市委办公室", &plate(i), phone(i).0, &format!("T{i:06}")))
        .collect();
    records.push(registry_record(
        "鄂州市",
        &plate(COVERED),
        phone(COVERED).0,
        &format!("T{COVERED:06}"),
    ));
    store
        .import_registry(&records)
        .await
        .expect("importing the registry");
    store.close().await.expect("closing");
}

/// A loopback address free now.
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
}

/// The login password of the link, written to a file in `dir` (neither instance has it in its configuration).
fn password_file(dir: &Path) -> String {
    let file = dir.join("huangshi.password");
    std::fs::write(&file, "pw123456\n").expect("writing the password file");
    file.display().to_string()
}

/// The province's configuration: JT/T 809 on `jt809`, the lower platform `huangshi`; `extra` ends its entry.
pub fn province_toml(jt809: SocketAddr, dir: &Path, extra: &str) -> String {
    let password = password_file(dir);
    format!(
        "[jt809]\nlisten = \"{jt809}\"\n\n[[jt809.lower]]\nname = \"huangshi\"\naccess_code = 4200\nuser_id = 77\n\
         password_file = \"{password}\"\nunits = [\"黄石市\", \"鄂州市\"]\n{extra}"
    )
}

/// The city's configuration: the upper platform `province` at `province`; `extra` ends its entry.
pub fn city_toml(province: SocketAddr, dir: &Path, extra: &str) -> String {
    let password = password_file(dir);
    format!(
        "[[upper]]\nname = \"province\"\naddress = \"{province}\"\naccess_code = 4200\nuser_id = 77\n\
         password_file = \"{password}\"\nunits = [\"黄石市\"]\npoll_ms = 100\nsettle_secs = 1\n\
         reconnect_min_backoff_ms = 100\nreconnect_max_backoff_ms = 1000\n{extra}"
    )
}

/// A province and its city, each with a PostgreSQL database holding [`provision`]'s registry, the
/// province's JT/T 809 address and a directory for their files; started with [`Pair::province`] and
/// [`Pair::city`] (a province killed can be started again on the same address).
pub struct Pair {
    /// The city's database.
    pub city_db: crate::Scratch,
    /// The province's database.
    pub province_db: crate::Scratch,
    /// Where the province listens for JT/T 809.
    pub jt809: SocketAddr,
    /// `edition = ...` or nothing: what ends both platforms' entries.
    pub extra: String,
    dir: crate::ScratchDir,
}

impl Pair {
    /// Databases named after `name`, provisioned; `extra` ends both platforms' entries.
    pub async fn new(name: &str, extra: &str) -> Pair {
        let (city_db, province_db) = (
            crate::Scratch::postgres(&format!("{name}_city")).await,
            crate::Scratch::postgres(&format!("{name}_province")).await,
        );
        provision(&city_db.url()).await;
        provision(&province_db.url()).await;
        Pair {
            city_db,
            province_db,
            jt809: free_port(),
            extra: extra.to_string(),
            dir: crate::ScratchDir::new(name),
        }
    }

    /// Starts the province.
    pub fn province(&self) -> crate::Tianshu {
        let toml = province_toml(self.jt809, self.dir.path(), &self.extra);
        crate::Tianshu::start(&self.province_db.url(), &toml, &[], self.dir.path())
    }

    /// Starts the city.
    pub fn city(&self) -> crate::Tianshu {
        let toml = city_toml(self.jt809, self.dir.path(), &self.extra);
        crate::Tianshu::start(&self.city_db.url(), &toml, &[], self.dir.path())
    }
}

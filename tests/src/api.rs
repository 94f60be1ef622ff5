//! A real API server on 127.0.0.1:0 over a real store, seeded with a small unit tree, users of every
//! role, and a plain HTTP/1.1 client for the tests to talk to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tianshu_api::cases::{CaseAction, CaseBook, CaseError, CaseFilter, CaseView};
use tianshu_api::{ApiConfig, ApiState, LiveHub};
use tianshu_model::{Edition, Phone, Position, Timestamp, UnitId, Vehicle, VehicleId};
use tianshu_rules::workflow;
use tianshu_store::Store;
use tianshu_store::access::{Audit, NewUser, Role};
use tianshu_store::rules::TransitionedCase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::Scratch;
use crate::{Fix, registry_record};

/// The password every seeded user has.
pub const PASSWORD: &str = "correct horse battery";

/// Cases kept in memory for the API tests, moved by the rules' case workflow.
#[derive(Default)]
pub struct MemoryCases(pub Mutex<Vec<CaseView>>);

#[async_trait::async_trait]
impl CaseBook for MemoryCases {
    async fn list(&self, f: &CaseFilter) -> Result<Vec<CaseView>, CaseError> {
        let all = self.0.lock().map_err(|e| CaseError::Unavailable(e.to_string()))?;
        Ok(all
            .iter()
            .filter(|c| f.state.as_ref().is_none_or(|s| &c.state == s))
            .filter(|c| f.vehicle.is_none_or(|v| c.vehicle == v))
            .filter(|c| f.vehicles.as_ref().is_none_or(|s| s.contains(&c.vehicle)))
            .cloned()
            .collect())
    }
    async fn get(&self, id: &str) -> Result<Option<CaseView>, CaseError> {
        let all = self.0.lock().map_err(|e| CaseError::Unavailable(e.to_string()))?;
        Ok(all.iter().find(|c| c.id == id).cloned())
    }
    async fn apply(
        &self,
        id: &str,
        action: &CaseAction,
        actor: &str,
        _audit: &mut Option<Audit<TransitionedCase>>,
    ) -> Result<CaseView, CaseError> {
        let mut all = self.0.lock().map_err(|e| CaseError::Unavailable(e.to_string()))?;
        let c = all
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| CaseError::NotFound(id.into()))?;
        // The alerts engine's workflow, from the rules.
        let (step, _) = action.step();
        let state = workflow::CaseState::parse(&c.state)
            .ok_or_else(|| CaseError::Unavailable(format!("case {id} is in no known state")))?;
        let to = workflow::next(state, step).map_err(|e| CaseError::InvalidTransition(e.to_string()))?;
        c.state = to.as_str().into();
        // The history as the engine's cases carry it: each step, who took it, its note.
        let note = match action {
            CaseAction::Explain { text } => Some(text.clone()),
            CaseAction::Close { note } | CaseAction::Escalate { note } => note.clone(),
            CaseAction::Acknowledge => None,
        };
        let step = serde_json::json!({
            "time": tianshu_model::Timestamp::from_datetime(&chrono::Utc::now()).to_rfc3339(),
            "actor": actor,
            "action": to.as_str(),
            "note": note,
        });
        match c.detail.get_mut("history").and_then(|h| h.as_array_mut()) {
            Some(h) => h.push(step),
            None => {
                c.detail.insert("history".into(), vec![step].into());
            }
        }
        Ok(c.clone())
    }
}

/// A running API over a seeded store.
pub struct TestApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The store behind it.
    pub store: Store,
    /// The state (to publish alerts).
    pub state: ApiState,
    /// Vehicle ids by plate.
    pub vehicles: HashMap<String, Vehicle>,
    /// Unit ids by path.
    pub units: HashMap<String, UnitId>,
    /// Keeps the scratch store alive.
    pub scratch: Scratch,
    /// The HTTP task.
    pub task: tokio::task::JoinHandle<()>,
}

/// The seeded world: 黄石市 with 市委办公室 (and its 机要科 below), and 公安局 beside it.
pub const SUPERVISOR_UNIT: &str = "黄石市/市委办公室";
/// A vehicle of the supervisor's own unit.
pub const OWN_PLATE: &str = "鄂B10001";
/// A vehicle of a sub-unit of the supervisor's unit.
pub const SUB_PLATE: &str = "鄂B10002";
/// A vehicle of another unit.
pub const FOREIGN_PLATE: &str = "鄂B20001";

/// Base time of the seeded tracks.
pub const T0_SECS: i64 = 1_795_000_000;

/// A seeded point: `vehicle` at `T0_SECS + secs`, eastbound at 40 km/h.
pub fn point(vehicle: VehicleId, secs: i64, lon_e6: i32) -> Position {
    Fix::at(T0_SECS + secs)
        .vehicle(vehicle.0)
        .at_e6(30_200_000, lon_e6)
        .heading(400, 90)
        .build()
}

impl TestApi {
    /// Opens `scratch`, seeds it, and serves the API with `cases`.
    pub async fn start(scratch: Scratch, cases: Arc<dyn CaseBook>) -> TestApi {
        let store = Store::open(&scratch.url()).await.expect("opening the store");
        let rec =
            |unit: &str, plate: &str, phone: u128| registry_record(unit, plate, phone, &format!("T{phone}"));
        store
            .import_registry(&[
                rec(SUPERVISOR_UNIT, OWN_PLATE, 13_900_000_001),
                rec("黄石市/市委办公室/机要科", SUB_PLATE, 13_900_000_002),
                rec("黄石市/公安局", FOREIGN_PLATE, 13_900_000_003),
            ])
            .await
            .expect("seeding the registry");
        let vehicles: HashMap<String, Vehicle> = store
            .vehicles()
            .await
            .expect("vehicles")
            .into_iter()
            .map(|v| (v.plate.clone(), v))
            .collect();
        let all_units = store.units().await.expect("units");
        let mut units = HashMap::new();
        for u in &all_units {
            let mut path = vec![u.name.clone()];
            let mut p = u.parent;
            while let Some(pid) = p {
                let parent = all_units.iter().find(|x| x.id == pid).expect("parent unit");
                path.insert(0, parent.name.clone());
                p = parent.parent;
            }
            units.insert(path.join("/"), u.id);
        }
        // Ten minutes of points for each car, 10 s apart.
        let mut pts = Vec::new();
        for v in vehicles.values() {
            for i in 0..60 {
                pts.push(point(v.id, i * 10, 115_000_000 + i as i32 * 200));
            }
        }
        store.append_points(&pts).await.expect("seeding points");
        for role in Role::ALL {
            let unit = role.scoped_to_unit().then(|| units[SUPERVISOR_UNIT]);
            create_user(&store, role.as_str(), role, unit).await;
        }
        let state = ApiState::with_parts(store.clone(), ApiConfig::default(), LiveHub::new(), cases, None);
        let (addr, task) = serve(state.clone()).await;
        TestApi {
            addr,
            store,
            state,
            vehicles,
            units,
            scratch,
            task,
        }
    }

    /// Serves the same store again on another port, with `cases` and `downlink`; returns its address.
    pub async fn serve_again(
        &self,
        cases: Arc<dyn CaseBook>,
        downlink: Option<Arc<dyn tianshu_api::Downlink>>,
    ) -> SocketAddr {
        // The same live hub: an alert published through `self.state` reaches this server's feeds too.
        let state = ApiState::with_parts(
            self.store.clone(),
            ApiConfig::default(),
            self.state.live().clone(),
            cases,
            downlink,
        );
        serve(state).await.0
    }

    /// Serves the same store again on another port with `config` (no cases, no downlink); returns its
    /// address.
    pub async fn serve_with_config(&self, config: ApiConfig) -> SocketAddr {
        let state = ApiState::with_parts(
            self.store.clone(),
            config,
            self.state.live().clone(),
            Arc::new(tianshu_api::NoCases),
            None,
        );
        serve(state).await.0
    }

    /// Opens `scratch`, seeds it, and serves the API with no case book.
    pub async fn seeded(scratch: Scratch) -> TestApi {
        TestApi::start(scratch, Arc::new(tianshu_api::NoCases)).await
    }

    /// A vehicle id by plate.
    pub fn vid(&self, plate: &str) -> i64 {
        self.vehicles[plate].id.0
    }

    /// The terminal of `phone` registered (2013 layout), then registered again from another address at
    /// `now`: what the store decided on the pending re-registration.
    pub async fn registered_again(&self, phone: Phone, now: Timestamp) -> tianshu_store::Reregistered {
        self.store
            .save_registration(phone, Edition::V2013, "sha256:first", None)
            .await
            .expect("the first registration");
        let again = tianshu_store::Reregistration {
            code_hash: "sha256:again".into(),
            edition: Edition::V2013,
            address: "10.0.0.2".into(),
            same_address: false,
        };
        self.store
            .reregister(phone, &again, now)
            .await
            .expect("the re-registration")
    }

    /// Logs in and returns the cookie pair to send back.
    pub async fn login(&self, username: &str) -> String {
        login_at(self.addr, username).await
    }
}

/// Moves the stored case `case_id` from open to explained, as `actor` with `note` at `at`, the way its
/// unit's explanation does.
pub async fn explain_case(store: &Store, case_id: i64, actor: &str, note: &str, at: Timestamp) {
    store
        .cases()
        .transition_case(
            &tianshu_model::case::Transition {
                case_id,
                from: vec![tianshu_model::CaseState::Open],
                to: tianshu_model::CaseState::Explained,
                actor: actor.into(),
                action: "explained".into(),
                note: note.into(),
                escalate_at: None,
                deliveries: Vec::new(),
            },
            at,
        )
        .await
        .expect("explained");
}

/// The hash of [`PASSWORD`], computed once per test process (hashing is slow by design).
fn password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| tianshu_api::hash_password(PASSWORD).expect("hashing"))
        .clone()
}

/// Creates the user `username` with `role`, in `unit` when given, and the password [`PASSWORD`].
pub async fn create_user(store: &Store, username: &str, role: Role, unit: Option<UnitId>) {
    let user = NewUser {
        username: username.into(),
        role,
        unit,
        password_hash: password_hash(),
    };
    store.access().create_user(&user).await.expect("creating a user");
}

/// Logs in as `username` (password [`PASSWORD`]) at the API on `addr`; the cookie pair to send back.
pub async fn login_at(addr: SocketAddr, username: &str) -> String {
    let body = serde_json::json!({"username": username, "password": PASSWORD}).to_string();
    let r = http(addr, "POST", "/api/session", None, Some(&body)).await;
    assert_eq!(r.status, 200, "login as {username}: {}", r.body);
    let set = r.header("set-cookie").expect("a session cookie");
    assert!(set.contains("HttpOnly"), "the session cookie is HttpOnly: {set}");
    set.split(';').next().expect("cookie pair").to_string()
}

/// Serves the API over `state` on 127.0.0.1, port 0: its address and task.
/// Serves `state`'s API on a fresh loopback port; its address and task.
pub async fn serve(state: ApiState) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let app = tianshu_api::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    (addr, task)
}

/// The text `field` of every object in the JSON array `list` (objects without it are passed over).
pub fn texts<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    let items = list.as_array().unwrap_or_else(|| panic!("a JSON array: {list}"));
    items.iter().filter_map(|o| o[field].as_str()).collect()
}

/// Percent-encodes a query value (UTF-8 plates).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
    /// Body as sent (after de-chunking), for bodies that are not text.
    pub bytes: Vec<u8>,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Asserts that `r` answered `want`; the message names `what` and shows the body.
#[track_caller]
pub fn status(r: &Resp, want: u16, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.body);
}

/// [`status`], then the answer's body as JSON.
#[track_caller]
pub fn status_json(r: &Resp, want: u16, what: &str) -> serde_json::Value {
    status(r, want, what);
    r.json()
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end; `auth` is the
/// session's cookie pair.
pub async fn http(addr: SocketAddr, verb: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> Resp {
    http_with(addr, verb, path, auth, body, &[]).await
}

/// Like [`http`], with `extra` headers.
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> Resp {
    let mut s = TcpStream::connect(addr).await.expect("connecting");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("connection")) {
        req.push_str("Connection: close\r\n");
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("writing the request");
    let mut raw = Vec::new();
    if extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("upgrade")) {
        // An upgrade keeps the connection open: read the head only.
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.expect("reading");
            raw.extend_from_slice(&buf[..n]);
            if n == 0 || raw.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    } else {
        s.read_to_end(&mut raw).await.expect("reading the response");
    }
    parse_response(&raw)
}

/// A `POST` of `body` as raw bytes (a file upload) on a fresh connection, read to the end.
pub async fn post_bytes(addr: SocketAddr, path: &str, cookie: Option<&str>, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).await.expect("connecting");
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("writing the request");
    s.write_all(body).await.expect("writing the body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("reading the response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
        bytes: body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
}

/// A WebSocket to the API (the live feed).
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message of `ws`, as JSON; other frames are skipped.
pub async fn next_json(ws: &mut Ws) -> serde_json::Value {
    use futures_util::StreamExt;
    loop {
        // A bound on waiting, not a timing assertion: a missing message fails instead of hanging.
        let msg = tokio::time::timeout(std::time::Duration::from_secs(30), ws.next())
            .await
            .expect("a message within 30 s")
            .expect("the feed is open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("JSON");
        }
    }
}

/// Every byte of the database as stored: the embedded file with its WAL, or a `pg_dump`.
pub async fn stored_bytes(api: &TestApi) -> Vec<u8> {
    match &api.scratch {
        Scratch::Embedded(_) => {
            let path = api.scratch.url().trim_start_matches("sqlite:").to_string();
            let mut bytes = std::fs::read(&path).expect("the database file");
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            bytes
        }
        Scratch::Postgres(_) => {
            let out = std::process::Command::new("pg_dump")
                .arg(format!("--dbname={}", api.scratch.url()))
                .output()
                .expect("running pg_dump");
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout.len() > 1000, "a dump with the schema and rows");
            out.stdout
        }
    }
}

/// Whether `hay` holds the bytes of `needle`.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A drive from the pickup (115.0, 30.2) east to `to_lon` and back at 36 km/h, a fix every 10 s from
/// `start_ms`, with ten minutes standing at the far end; and the metres it covers.
pub fn drive_east_and_back(vehicle: i64, start_ms: i64, to_lon: f64) -> (Vec<tianshu_model::Position>, f64) {
    let step = 0.001_035; // about 100 m at 30.2 N
    let n = ((to_lon - 115.0) / step).round() as i64;
    let mut lons: Vec<(f64, u16)> = (0..=n).map(|i| (115.0 + i as f64 * step, 360)).collect();
    lons.extend((0..60).map(|_| (115.0 + n as f64 * step, 0)));
    lons.extend((0..=n).rev().map(|i| (115.0 + i as f64 * step, 360)));
    let pts: Vec<_> = lons
        .iter()
        .enumerate()
        .map(|(k, &(lon, speed))| {
            Fix::at(start_ms / 1000 + k as i64 * 10)
                .vehicle(vehicle)
                .at_e6(30_200_000, (lon * 1e6).round() as i32)
                .heading(speed, 90)
                .status(tianshu_model::StatusFlags::ACC_ON)
                .build()
        })
        .collect();
    let metres = pts
        .windows(2)
        .map(|w| w[0].lonlat().distance_m(w[1].lonlat()))
        .sum();
    (pts, metres)
}

//! A terminal that registers again, against the real binary over real sockets: a stranger who knows a car's
//! phone and terminal id gets a code that does not replace the car's own, a pending code used with the wrong
//! IMEI is refused and raises a case for the car's supervisors, a unit's approval holds a re-registration
//! until an administrator approves it, and a terminal that registers on every connect while its stale
//! session lingers is admitted at once.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tianshu_e2e::api::{create_user, http, login_at};
use tianshu_e2e::gateway::{Terminal, phone, point, provision, serve};
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, WAIT, wait_for, wait_until};
use tianshu_model::Edition;
use tianshu_store::Store;
use tianshu_store::access::Role;

/// Another host than the terminal's own.
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The IMEI the car's own 2019 terminal sends.
const IMEI: &str = "860000000000001";
const ACK: Duration = Duration::from_secs(10);

/// A served store with terminals 0 and 1 provisioned in 黄石市/市委办公室 and a user of every role (the
/// supervisor's unit is that one).
struct Field {
    server: Tianshu,
    _scratch: Scratch,
    _dir: ScratchDir,
}

async fn field(name: &str) -> Field {
    let scratch = Scratch::embedded(name);
    let dir = ScratchDir::new(&format!("{name}-config"));
    provision(&scratch.url(), 2).await;
    let store = Store::open(&scratch.url()).await.expect("the store");
    let units = store.units().await.expect("units");
    let office = units.iter().find(|u| u.name == "市委办公室").map(|u| u.id);
    for role in Role::ALL {
        let unit = office.filter(|_| role == Role::Supervisor);
        create_user(&store, role.as_str(), role, unit).await;
    }
    drop(store);
    let server = serve(&scratch.url(), "", dir.path());
    Field {
        server,
        _scratch: scratch,
        _dir: dir,
    }
}

impl Field {
    async fn metric(&self, step: &str) -> f64 {
        let labels = format!("step=\"{step}\"");
        self.server
            .metric("tianshu_jt808_reregistrations_total", &labels)
            .await
    }

    /// Waits until no terminal is online (a closed connection noticed).
    async fn offline(&self) {
        wait_until("the terminal to be offline", WAIT, || async {
            self.server.metric("tianshu_jt808_sessions_online", "").await == 0.0
        })
        .await;
    }

    /// Terminal 0, a 2019 terminal, registers and authenticates with [`IMEI`] (recorded on first use),
    /// then disconnects; its code, once the gateway has seen it go.
    async fn logged_in_then_offline(&self) -> String {
        let mut t = Terminal::connect(self.server.jt808, phone(0))
            .await
            .expect("connect");
        t.edition = Edition::V2019;
        let (result, code) = t.register(0).await;
        assert_eq!(result, 0);
        let code = code.expect("a code");
        assert_eq!(t.authenticate_with(&code, Some(IMEI)).await, Some(0));
        drop(t);
        self.offline().await;
        code
    }

    /// Terminal 0's phone connecting from another host (the car's terminal after a reset, or a thief).
    async fn connect_elsewhere(&self) -> Terminal {
        Terminal::connect_from(ELSEWHERE, self.server.jt808, phone(0))
            .await
            .expect("connect from 127.0.0.2")
    }

    /// Terminal 0's phone registering from another host in `edition`, answered as the standard expects
    /// (result 0, with a code): the connection and the code.
    async fn register_elsewhere(&self, edition: Edition) -> (Terminal, String) {
        let mut t = self.connect_elsewhere().await;
        t.edition = edition;
        let (result, code) = t.register(0).await;
        assert_eq!(
            result, 0,
            "a registration from elsewhere is answered as the standard expects"
        );
        (t, code.expect("a code"))
    }

    /// `GET path` as `role`, as JSON.
    async fn get(&self, role: &str, path: &str) -> serde_json::Value {
        let cookie = login_at(self.server.http, role).await;
        let r = http(self.server.http, "GET", path, Some(&cookie), None).await;
        assert_eq!(r.status, 200, "GET {path} as {role}: {}", r.body);
        r.json()
    }

    /// The terminal of `phone` as `role` sees it.
    async fn terminal(&self, role: &str, i: u32) -> serde_json::Value {
        let all = self.get(role, "/api/terminals").await;
        let vehicle = self.vehicle(i).await;
        all.as_array()
            .and_then(|a| a.iter().find(|t| t["vehicle"] == vehicle))
            .cloned()
            .unwrap_or_else(|| panic!("terminal {i} listed for {role}: {all}"))
    }

    async fn vehicle(&self, i: u32) -> serde_json::Value {
        let plate = tianshu_e2e::gateway::plate(i);
        let all = self.get("administrator", "/api/vehicles").await;
        all.as_array()
            .and_then(|a| a.iter().find(|v| v["plate"] == plate.as_str()))
            .map(|v| v["id"].clone())
            .unwrap_or_else(|| panic!("vehicle {plate}: {all}"))
    }

    /// The car's re-registration case, as the supervisors of its unit see it.
    async fn case_seen_by_supervisor(&self, i: u32, event: &str) -> serde_json::Value {
        let vehicle = self.vehicle(i).await;
        wait_for("a re-registration case for the supervisors", WAIT, || async {
            let cases = self.get("supervisor", "/api/cases").await;
            cases.as_array().and_then(|a| {
                a.iter()
                    .find(|c| {
                        c["rule"] == "terminal_reregistered"
                            && c["vehicle"] == vehicle
                            && c["episode"]["event"] == event
                    })
                    .cloned()
            })
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_attempt_leaves_the_real_terminals_code_working_and_raises_a_case() {
    let f = field("rereg-takeover").await;
    let code = f.logged_in_then_offline().await;
    // Someone who knows the phone and the terminal id registers from another host, in the 2013 layout.
    let (mut thief, stolen) = f.register_elsewhere(Edition::V2013).await;
    assert_eq!(
        thief.authenticate(&stolen).await,
        Some(1),
        "the new code is refused without the IMEI on record"
    );
    // The car's own terminal still gets in with the code it holds, and reports.
    let mut real = Terminal::connect(f.server.jt808, phone(0))
        .await
        .expect("connect");
    real.edition = Edition::V2019;
    assert_eq!(real.authenticate_with(&code, Some(IMEI)).await, Some(0));
    let serial = real.report(&point(0, 1)).await;
    assert_eq!(real.ack_of(serial, ACK).await, Some(0));
    // The supervisors of the car's unit have a case that names the car and the address, not the phone.
    let case = f.case_seen_by_supervisor(0, "imei_mismatch").await;
    let text = case.to_string();
    assert!(text.contains("127.0.0.2"), "{text}");
    assert!(!text.contains(&phone(0).to_string()), "{text}");
    assert_eq!(f.metric("refused_imei").await, 1.0);
    assert_eq!(f.terminal("administrator", 0).await["reregistrations"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imei_mismatch_on_a_pending_code_is_refused_and_the_recorded_imei_promotes_it() {
    let f = field("rereg-imei").await;
    let old = f.logged_in_then_offline().await;
    // The car's terminal after a factory reset, on another network: it registers again.
    let (mut t, new) = f.register_elsewhere(Edition::V2019).await;
    let pending = f.terminal("administrator", 0).await;
    assert_eq!(pending["pending_registration"]["state"], "unproven", "{pending}");
    assert_eq!(pending["pending_registration"]["address"], "127.0.0.2");
    assert_eq!(
        t.authenticate_with(&new, Some("860000000000999")).await,
        Some(1),
        "another IMEI"
    );
    assert_eq!(
        t.authenticate_with(&new, Some(IMEI)).await,
        Some(0),
        "its own IMEI"
    );
    assert_eq!(f.metric("refused_imei").await, 1.0);
    assert_eq!(f.metric("promoted_imei").await, 1.0);
    // The new code replaced the old one.
    drop(t);
    f.offline().await;
    let mut again = Terminal::connect(f.server.jt808, phone(0))
        .await
        .expect("connect");
    again.edition = Edition::V2019;
    assert_eq!(again.authenticate_with(&old, Some(IMEI)).await, Some(1));
    assert_eq!(again.authenticate_with(&new, Some(IMEI)).await, Some(0));
    let after = f.terminal("administrator", 0).await;
    assert!(after["pending_registration"].is_null(), "{after}");
    assert_eq!(after["reregistrations"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_units_approval_holds_a_reregistration_until_an_administrator_approves_it() {
    let f = field("rereg-approval").await;
    let admin = login_at(f.server.http, "administrator").await;
    let units = f.get("administrator", "/api/units").await;
    let office = units
        .as_array()
        .and_then(|a| a.iter().find(|u| u["name"] == "市委办公室"))
        .map(|u| u["id"].clone())
        .expect("the office unit");
    let path = format!("/api/units/{office}");
    let body = r#"{"reregistration_approval":true}"#;
    let r = http(f.server.http, "PATCH", &path, Some(&admin), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["reregistration_approval"], true);
    // A 2013 terminal (no IMEI) registers and authenticates, then registers again from elsewhere.
    let mut t = Terminal::connect(f.server.jt808, phone(0))
        .await
        .expect("connect");
    t.login(0).await;
    drop(t);
    f.offline().await;
    let (mut t, new) = f.register_elsewhere(Edition::V2013).await;
    assert_eq!(t.authenticate(&new).await, Some(1), "held until approved");
    assert_eq!(t.authenticate(&new).await, Some(1), "still held");
    assert_eq!(f.metric("awaiting_approval").await, 2.0);
    f.case_seen_by_supervisor(0, "awaiting_approval").await;
    // A dispatcher sees the terminal masked and may not decide; the administrator approves.
    let seen = f.terminal("dispatcher", 0).await;
    assert_eq!(seen["pending_registration"]["state"], "awaiting_approval");
    assert_eq!(seen["phone"], "139******00", "{seen}");
    let decide = format!("/api/terminals/{}/reregistration", phone(0));
    let approve = r#"{"decision":"approve"}"#;
    let dispatcher = login_at(f.server.http, "dispatcher").await;
    let r = http(f.server.http, "POST", &decide, Some(&dispatcher), Some(approve)).await;
    assert_eq!(r.status, 403);
    let r = http(f.server.http, "POST", &decide, Some(&admin), Some(approve)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["pending_registration"]["state"], "approved");
    let r = http(f.server.http, "POST", &decide, Some(&admin), Some(approve)).await;
    assert_eq!(r.status, 409, "nothing awaits approval any more: {}", r.body);
    assert_eq!(t.authenticate(&new).await, Some(0), "admitted once approved");
    assert_eq!(f.metric("promoted_approved").await, 1.0);
    // The decision is in the audit log.
    let audit = f.get("administrator", "/api/audit").await.to_string();
    assert!(audit.contains("terminal.reregistration.approve"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_registering_on_every_connect_is_admitted_at_once_while_its_stale_session_lingers() {
    let f = field("rereg-every-connect").await;
    let mut stale = Terminal::connect(f.server.jt808, phone(0))
        .await
        .expect("connect");
    stale.login(0).await;
    // The terminal reconnects (its old connection not yet noticed as gone) and registers, as it always does.
    let mut fresh = Terminal::connect(f.server.jt808, phone(0))
        .await
        .expect("connect");
    let (result, code) = fresh.register(0).await;
    assert_eq!(result, 0, "not refused while the stale session lingers");
    let code = code.expect("a code");
    assert_eq!(fresh.authenticate(&code).await, Some(0));
    assert!(
        stale.closed_within(ACK).await,
        "the stale session is closed at once"
    );
    let serial = fresh.report(&point(0, 1)).await;
    assert_eq!(fresh.ack_of(serial, ACK).await, Some(0));
    assert_eq!(f.metric("promoted_same_address").await, 1.0);
    // From another host, while it is connected, nothing could prove a 2013 terminal: refused as before.
    let mut other = f.connect_elsewhere().await;
    assert_eq!(other.register(0).await.0, 3);
}

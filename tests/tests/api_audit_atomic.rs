//! An administrative change and its audit record commit together or not at all, against the real
//! binary on both backends: while the audit log refuses every append (a trigger, added behind the
//! server's back), creating a unit, a vehicle, a terminal or a user fails and leaves nothing behind, and
//! a deletion leaves the record in place; once the log accepts again, the same requests succeed and
//! each change is named by exactly one audit record. An alert case's action is no different: refused
//! with its record, the case stays where it was.

use std::net::SocketAddr;

use tianshu_e2e::api::{PASSWORD, Scratch, http};
use tianshu_model::{Phone, Timestamp, UnitId, VehicleClass, VehicleId};
use tianshu_store::Store;
use tianshu_store::access::{NewUser, Role};
use tianshu_store::rules::{CaseState, NewCase};

/// The unit, vehicle and terminal the test creates through the API, besides its user `wang`.
const UNIT: &str = "市委办公室";
const PLATE: &str = "鄂B20002";
const PHONE: &str = "13900000009";

/// Makes every append to the audit log fail (`refuse`) or succeed again, behind the server's back.
async fn refuse_audit(scratch: &Scratch, refuse: bool) {
    match scratch {
        Scratch::Embedded(dir) => {
            let conn = rusqlite::Connection::open(dir.join("tianshu.db")).expect("opening the store file");
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .expect("a busy timeout");
            let sql = if refuse {
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON access_audit \
                 BEGIN SELECT RAISE(ABORT, 'the audit log refuses'); END;"
            } else {
                "DROP TRIGGER refuse_audit;"
            };
            conn.execute_batch(sql).expect("changing the trigger");
        }
        Scratch::Postgres(_) => {
            let (client, conn) = tokio_postgres::connect(&scratch.url(), tokio_postgres::NoTls)
                .await
                .expect("connecting to the scratch database");
            tokio::spawn(conn);
            let sql = if refuse {
                "CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'the audit log refuses'; END $$; \
                 CREATE TRIGGER refuse_audit BEFORE INSERT ON access_audit \
                 FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
            } else {
                "DROP TRIGGER refuse_audit ON access_audit;"
            };
            client.batch_execute(sql).await.expect("changing the trigger");
        }
    }
}

/// Each creation: its path, its body, its audit action, and what its record's detail contains.
fn creations(unit: UnitId) -> [(&'static str, String, &'static str, String); 4] {
    [
        (
            "/api/units",
            format!(r#"{{"name":"{UNIT}"}}"#),
            "unit.create",
            format!("{UNIT:?}"),
        ),
        (
            "/api/vehicles",
            format!(r#"{{"plate":"{PLATE}","unit":{},"class":"general"}}"#, unit.0),
            "vehicle.create",
            PLATE.to_string(),
        ),
        (
            "/api/terminals",
            format!(r#"{{"phone":"{PHONE}","terminal_id":"T9","plate":"鄂B20001"}}"#),
            "terminal.create",
            format!("terminal {PHONE}"),
        ),
        (
            "/api/users",
            format!(r#"{{"username":"wang","password":"{PASSWORD}","role":"dispatcher"}}"#),
            "user.create",
            "wang as dispatcher".to_string(),
        ),
    ]
}

/// Which of the four records exist in the store.
async fn stored(store: &Store) -> [bool; 4] {
    let phone = Phone::parse(PHONE).expect("a phone");
    [
        store.units().await.expect("units").iter().any(|u| u.name == UNIT),
        store.vehicle_by_plate(PLATE).await.expect("a vehicle").is_some(),
        store.terminal(phone).await.expect("a terminal").is_some(),
        store
            .access()
            .user_by_name("wang")
            .await
            .expect("a user")
            .is_some(),
    ]
}

/// How many audit records have `action` and a detail containing `detail`.
async fn records(store: &Store, action: &str, detail: &str) -> usize {
    let all = store.access().audit(0, 10_000).await.expect("the audit log");
    all.iter()
        .filter(|r| r.entry.action == action && r.entry.detail.contains(detail))
        .count()
}

/// Logs in as `admin` and returns the cookie pair.
async fn login(addr: SocketAddr) -> String {
    let body = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
    let r = http(addr, "POST", "/api/session", None, Some(&body)).await;
    assert_eq!(r.status, 200, "login: {}", r.body);
    let cookie = r.header("set-cookie").expect("a session cookie");
    cookie.split(';').next().expect("a cookie pair").to_string()
}

/// Records an open case of `vehicle` in `unit` and returns its id.
async fn open_case(store: &Store, vehicle: VehicleId, unit: UnitId) -> i64 {
    let case = NewCase {
        vehicle,
        unit,
        rule: "off_hours".into(),
        start: Timestamp::from_secs(1_795_737_600),
        end: None,
        severity: "warning".into(),
        late: false,
        reasoning: "after working hours".into(),
        reasoning_zh: "非工作时间".into(),
        episode: serde_json::json!({}),
        escalate_at: None,
    };
    let now = Timestamp::from_secs(1_795_737_700);
    let (id, _) = store.cases().record_case(&case, &[], now).await.expect("a case");
    id
}

/// A case action while the audit log refuses fails and leaves the case as it was; once the log accepts,
/// the action moves the case and is named by one record with the states it moved between.
async fn a_case_action_commits_with_its_audit_record(
    (scratch, store): (&Scratch, &Store),
    server: SocketAddr,
    c: Option<&str>,
) {
    let car = store.vehicle_by_plate("鄂B20001").await.expect("a vehicle");
    let car = car.expect("the vehicle the test registered");
    let id = open_case(store, car.id, car.unit).await;
    let path = format!("/api/cases/{id}/actions");
    let body = Some(r#"{"action":"acknowledge"}"#);
    let state = || async {
        store
            .cases()
            .case(id)
            .await
            .expect("a case")
            .expect("the case")
            .state
    };

    refuse_audit(scratch, true).await;
    let r = http(server, "POST", &path, c, body).await;
    assert_eq!(r.status, 503, "an action while the audit log refuses: {}", r.body);
    assert_eq!(state().await, CaseState::Open, "a refused action moves nothing");
    let detail = format!("case {id}: open -> acknowledged");
    assert_eq!(records(store, "case.acknowledge", &detail).await, 0);

    refuse_audit(scratch, false).await;
    let r = http(server, "POST", &path, c, body).await;
    assert_eq!(r.status, 200, "an action: {}", r.body);
    assert_eq!(state().await, CaseState::Acknowledged);
    assert_eq!(records(store, "case.acknowledge", &detail).await, 1);
}

async fn a_change_commits_with_its_audit_record(scratch: Scratch) {
    let store = Store::open(&scratch.url()).await.expect("opening the store");
    let hash = tianshu_api::hash_password(PASSWORD).expect("a hash");
    let admin = NewUser {
        username: "admin".into(),
        role: Role::Administrator,
        unit: None,
        password_hash: hash,
    };
    store
        .access()
        .create_user(&admin)
        .await
        .expect("an administrator");
    let admin_unit = store.registry_admin().create_unit("黄石市", None);
    let unit = admin_unit.await.expect("a unit").id;
    let car = store
        .registry_admin()
        .create_vehicle("鄂B20001", unit, VehicleClass::General);
    car.await.expect("a vehicle");

    let dir = tianshu_testkit::unique_dir("api-audit-atomic");
    let server = tianshu_e2e::gateway::serve(&scratch.url(), "", &dir);
    let cookie = login(server.http).await;
    let c = Some(cookie.as_str());

    refuse_audit(&scratch, true).await;
    for (path, body, action, _) in creations(unit) {
        let r = http(server.http, "POST", path, c, Some(&body)).await;
        assert_eq!(r.status, 503, "{action} while the audit log refuses: {}", r.body);
    }
    assert_eq!(
        stored(&store).await,
        [false; 4],
        "a change whose audit record failed is not stored"
    );

    refuse_audit(&scratch, false).await;
    for (path, body, action, detail) in creations(unit) {
        let r = http(server.http, "POST", path, c, Some(&body)).await;
        assert_eq!(r.status, 201, "{action}: {}", r.body);
        assert_eq!(
            records(&store, action, &detail).await,
            1,
            "{action} is audited once"
        );
    }
    assert_eq!(stored(&store).await, [true; 4]);

    // A deletion is no different: refused with its record, the terminal stays.
    refuse_audit(&scratch, true).await;
    let path = format!("/api/terminals/{PHONE}");
    let r = http(server.http, "DELETE", &path, c, None).await;
    assert_eq!(
        r.status, 503,
        "a deletion while the audit log refuses: {}",
        r.body
    );
    assert!(stored(&store).await[2], "the terminal is still there");
    refuse_audit(&scratch, false).await;
    let r = http(server.http, "DELETE", &path, c, None).await;
    assert_eq!(r.status, 204, "a deletion: {}", r.body);
    assert!(!stored(&store).await[2]);
    let detail = format!("terminal {PHONE}");
    assert_eq!(records(&store, "terminal.delete", &detail).await, 1);
    a_case_action_commits_with_its_audit_record((&scratch, &store), server.http, c).await;
    let chain = tianshu_store::access::verify_stored_chain(store.access()).await;
    assert!(chain.expect("reading the chain").is_ok(), "the chain is intact");
    let _ = std::fs::remove_dir_all(&dir);
}

tianshu_e2e::on_both_backends!(a_change_commits_with_its_audit_record);

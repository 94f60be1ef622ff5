//! The car pool's and the fuel cards' pages in a real browser (`tests/browser/drive.mjs`), against the real
//! `tianshu serve` over the seeded world (its alert cases are the store's): a requester asks for a car on a
//! phone, the dispatcher is offered only the free cars and drivers, assigns the nearest, the car drives
//! the trip (its fixes stored as a terminal's would be) and the trip is settled from its track; a planted
//! trip that never reached its destination opens a case. An auditor uploads a fuel statement, reads its
//! refused rows and its findings, opens one with its map evidence, and the unit's supervisor finds its
//! case in their inbox.

use serde_json::{Value, json};
use tianshu_e2e::api::{
    FOREIGN_PLATE, OWN_PLATE, PASSWORD, SUB_PLATE, Scratch, TestApi, drive_east_and_back, http, login_at,
    point,
};
use tianshu_e2e::browser::{drive, says};
use tianshu_e2e::{Listening, ScratchDir, serve_args, spawn_listening};
use tianshu_model::{Timestamp, VehicleId};

const H: i64 = 3_600_000;

/// The seeded world's store served by the real binary; the server is killed when the value is dropped.
struct Served {
    api: TestApi,
    server: Listening,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
    }
}

async fn served(name: &str) -> Served {
    let api = TestApi::seeded(Scratch::embedded(name)).await;
    let server = spawn_listening(serve_args(&api.scratch.url()));
    Served { api, server }
}

/// The logins of `users` (each named as its role), for the driver.
fn logins(users: &[&str]) -> Value {
    users
        .iter()
        .map(|u| (u.to_string(), json!({"username": u, "password": PASSWORD})))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Runs `scenario` off the async runtime (the driver blocks).
async fn run(scenario: &str, s: &Served, users: &[&str], env: Vec<(&str, String)>) -> String {
    let (scenario, url, logins) = (
        scenario.to_string(),
        format!("http://{}/", s.server.http),
        logins(users),
    );
    let env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        drive(&scenario, &url, &logins, &env)
    })
    .await
    .expect("the driver")
}

/// Sends a request that must succeed; its answer.
async fn ok(s: &Served, cookie: &str, method: &str, path: &str, body: Value) -> Value {
    let body = (!body.is_null()).then(|| body.to_string());
    let r = http(s.server.http, method, path, Some(cookie), body.as_deref()).await;
    assert!(
        (200..300).contains(&r.status),
        "{method} {path}: {} {}",
        r.status,
        r.body
    );
    if r.body.is_empty() { Value::Null } else { r.json() }
}

/// China local time of `ms`, to the minute, as a `datetime-local` input takes it.
fn local_minute(ms: i64) -> String {
    Timestamp::from_millis(ms)
        .to_china()
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The number after `prefix` on the line of `out` that has it.
fn number_after(out: &str, prefix: &str) -> i64 {
    out.lines()
        .find_map(|l| l.split_once(prefix).map(|(_, rest)| rest))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).find(|w| !w.is_empty()))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} in the driver's output"))
}

/// The case the page named is in the store, of `rule` and `vehicle`.
async fn assert_case(s: &Served, case: i64, rule: &str, vehicle: i64) {
    let stored = s
        .api
        .store
        .cases()
        .case(case)
        .await
        .expect("reading")
        .expect("the case");
    assert_eq!(
        (stored.raised.rule.as_str(), stored.raised.vehicle.0),
        (rule, vehicle)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_asks_for_a_car_the_dispatcher_assigns_the_nearest_free_one_and_the_trips_are_settled() {
    let s = served("browser-carpool").await;
    let (own, sub, foreign) = (
        s.api.vid(OWN_PLATE),
        s.api.vid(SUB_PLATE),
        s.api.vid(FOREIGN_PLATE),
    );
    let admin = login_at(s.server.http, "administrator").await;
    let dispatcher = login_at(s.server.http, "dispatcher").await;
    let requester = login_at(s.server.http, "requester").await;
    // The cars' latest positions east of the pickup (115.0, 30.2): the nearest is booked that afternoon.
    let pts: Vec<_> = [(own, 115_100_000), (sub, 115_020_000), (foreign, 115_050_000)]
        .into_iter()
        .map(|(v, lon_e6)| point(VehicleId(v), 3_600, lon_e6))
        .collect();
    s.api.store.append_points(&pts).await.expect("positions");
    for v in [own, sub, foreign] {
        ok(
            &s,
            &admin,
            "PUT",
            &format!("/api/vehicles/{v}/fleet"),
            json!({"ownership": "pool"}),
        )
        .await;
    }
    let unit = s.api.units["黄石市/市委办公室"].0;
    let mut drivers = std::collections::HashMap::new();
    for (name, cert, phone) in [
        ("王五", "D-1", "13800000001"),
        ("张三", "D-2", "13800000002"),
        ("李四", "D-3", "13800000003"),
    ] {
        let d = json!({"name": name, "certificate": cert, "phone": phone, "unit": unit, "licence": "C1"});
        drivers.insert(
            name,
            ok(&s, &admin, "POST", "/api/drivers", d).await["id"].clone(),
        );
    }
    let day = (chrono::Utc::now().timestamp_millis() / (24 * H) + 2) * 24 * H;
    let (start, end) = (day + 6 * H, day + 8 * H);
    let clash = json!({"id": "PC-CLASH-1", "kind": "order", "plate": SUB_PLATE, "driver": "王五", "purpose": "会议",
        "start": Timestamp::from_millis(day + 7 * H).to_rfc3339(), "end": Timestamp::from_millis(day + 9 * H).to_rfc3339(), "state": "requested"});
    ok(&s, &dispatcher, "POST", "/api/orders", clash).await;

    let env = vec![
        ("TIANSHU_START", local_minute(start)),
        ("TIANSHU_END", local_minute(end)),
        ("TIANSHU_BOOKED", SUB_PLATE.to_string()),
        ("TIANSHU_NEAREST", FOREIGN_PLATE.to_string()),
    ];
    let out = run("carpool", &s, &["requester", "dispatcher"], env).await;
    says(
        &out,
        &[
            "ok on a phone the request form fits the screen",
            "ok a destination without its position is refused next to the field",
            "ok the booked car is not offered",
            "ok the busy driver is not offered",
            "ok the cars are offered nearest first",
            &format!("ok the nearest free car {FOREIGN_PLATE} is suggested"),
            &format!("ok the request is assigned to {FOREIGN_PLATE}"),
        ],
    );
    let request = number_after(&out, "the requester's request #");

    // The assigned car drives to 东站 (115.1, 30.2) and back; a second trip, planted, turns back halfway.
    let (track, metres) = drive_east_and_back(foreign, start + 10 * 60_000, 115.1);
    s.api.store.append_points(&track).await.expect("the trip's track");
    let (start2, end2) = (day + 10 * H, day + 12 * H);
    let planted = json!({"start": Timestamp::from_millis(start2).to_rfc3339(), "end": Timestamp::from_millis(end2).to_rfc3339(),
        "from": {"name": "市委大院", "lon": 115.0, "lat": 30.2}, "destinations": [{"name": "东站", "lon": 115.1, "lat": 30.2}],
        "passengers": 2, "purpose": "调研", "kind": "regular", "class": null});
    let planted = ok(&s, &requester, "POST", "/api/carpool/requests", planted).await["id"]
        .as_i64()
        .expect("id");
    let assign = json!({"vehicle": own, "driver": drivers["李四"]});
    ok(
        &s,
        &dispatcher,
        "POST",
        &format!("/api/carpool/requests/{planted}/assign"),
        assign,
    )
    .await;
    let (short, _) = drive_east_and_back(own, start2 + 10 * 60_000, 115.05);
    s.api
        .store
        .append_points(&short)
        .await
        .expect("the planted trip's track");

    let env = vec![
        ("TIANSHU_REQUEST", request.to_string()),
        ("TIANSHU_PLANTED", planted.to_string()),
        ("TIANSHU_METRES", format!("{metres:.0}")),
    ];
    let out = run("carpool-settle", &s, &["dispatcher", "supervisor"], env).await;
    says(
        &out,
        &[
            "ok the trip is settled within 2 % of the route driven",
            "ok 东站 was reached",
            "ok the settlement is confirmed",
            "ok a correction without a note is refused next to the note",
            "ok the planted trip never reached 东站",
            "ok the planted trip opened a case",
            "ok the unit's supervisor opens the trip's case",
        ],
    );
    let case = number_after(&out, "opened a case #");
    assert_case(&s, case, "carpool_trip", own).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_uploads_a_statement_opens_a_finding_on_its_map_and_the_unit_s_supervisor_has_its_case() {
    let s = served("browser-fuel").await;
    let url = s.api.scratch.url();
    let dir = ScratchDir::new("browser-fuel-files");
    let write = |name: &str, body: &[u8]| {
        let f = dir.path().join(name);
        std::fs::write(&f, body).expect("writing a fixture");
        f.to_str().expect("a path").to_string()
    };
    for (what, file) in [
        (
            "cards",
            write("cards.csv", tianshu_e2e::fuel::cards_csv().as_bytes()),
        ),
        (
            "stations",
            write("stations.csv", tianshu_e2e::fuel::STATIONS.as_bytes()),
        ),
    ] {
        let out = tianshu_e2e::run(&["fuel", what, "import", "--store", &url, &file], None, &[]);
        assert!(out.status.success(), "{what}: {}", tianshu_e2e::text(&out.stderr));
    }
    // The statement as an issuer sends it: GBK.
    let text = tianshu_e2e::fuel::statement();
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let statement = write("statement.csv", &gbk);
    let env = vec![
        ("TIANSHU_STATEMENT", statement),
        ("TIANSHU_POLICE_UNIT", s.api.units["黄石市/公安局"].0.to_string()),
    ];
    let out = run("fuel", &s, &["inspector", "supervisor"], env).await;
    says(
        &out,
        &[
            "ok the statement is imported: 4 stored, GBK",
            "ok the bad rows are named by line and column: 6, 7, 8",
            "ok the findings are listed: 5",
            "ok filtered by check: 1 car not at the station",
            "ok filtered by unit: 2 of 公安局",
            "ok filtered by the case's state: 5 open, 0 closed",
            "ok the finding's map shows the station and the car's positions",
            "ok the unit's supervisor has the finding's case in their inbox",
        ],
    );
    let case = number_after(&out, "the finding's case #");
    assert_case(&s, case, "fuel", s.api.vid(OWN_PLATE)).await;
}

//! The car pool's automatic settlement in the real binary: `tianshu serve` with `[rules.carpool]
//! settle_check_secs = 1`, a requester's trip assigned over HTTP, its car's terminal driving it over JT/T
//! 808 on TCP (from the pickup to the destination and back), and the trip settled by itself: no one asks
//! for the settlement, the test only reads the request until its state moves.

use std::time::Duration;

use serde_json::{Value, json};
use tianshu_e2e::api::{SUPERVISOR_UNIT, Scratch, TestApi, drive_east_and_back, http, login_at, status_json};
use tianshu_e2e::gateway::{Terminal, phone, plate, terminal_id};
use tianshu_e2e::{ScratchDir, Tianshu, registry_record, wait_for};
use tianshu_model::Timestamp;

/// The test terminal's number (`tianshu_e2e::gateway`'s phone, plate and terminal id).
const CAR: u32 = 7;

async fn sent(server: &Tianshu, cookie: &str, method: &str, path: &str, body: Value, want: u16) -> Value {
    let body = body.to_string();
    let r = http(server.http, method, path, Some(cookie), Some(&body)).await;
    status_json(&r, want, &format!("{method} {path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_driven_over_tcp_is_settled_by_the_running_server_by_itself() {
    let api = TestApi::seeded(Scratch::postgres("carpool_auto_settle").await).await;
    let car = registry_record(SUPERVISOR_UNIT, &plate(CAR), phone(CAR).0, &terminal_id(CAR));
    api.store.import_registry(&[car]).await.expect("the pool's car");
    let vehicle = api
        .store
        .vehicle_by_plate(&plate(CAR))
        .await
        .expect("reading")
        .expect("the car")
        .id
        .0;
    let dir = ScratchDir::new("carpool-auto-settle");
    let config = "[rules.carpool]\nsettle_check_secs = 1\n";
    let server = Tianshu::start(&api.scratch.url(), config, &[], dir.path());
    let admin = login_at(server.http, "administrator").await;
    let dispatcher = login_at(server.http, "dispatcher").await;
    let requester = login_at(server.http, "requester").await;

    let fleet = format!("/api/vehicles/{vehicle}/fleet");
    sent(&server, &admin, "PUT", &fleet, json!({"ownership": "pool"}), 200).await;
    let unit = api.units[SUPERVISOR_UNIT].0;
    let driver = json!({"name": "王师傅", "certificate": "D-7", "phone": "13800000007", "unit": unit, "licence": "C1"});
    let driver = sent(&server, &admin, "POST", "/api/drivers", driver, 201).await["id"].clone();

    // The window opened nine minutes ago (a request may start a little in the past) and runs two hours.
    let now = chrono::Utc::now().timestamp_millis();
    let start = now - 9 * 60_000;
    let request = json!({"start": Timestamp::from_millis(start).to_rfc3339(),
        "end": Timestamp::from_millis(now + 2 * 3_600_000).to_rfc3339(),
        "from": {"name": "市委大院", "lon": 115.0, "lat": 30.2},
        "destinations": [{"name": "东站", "lon": 115.02, "lat": 30.2}],
        "passengers": 2, "purpose": "调研", "kind": "regular", "class": null});
    let id = sent(&server, &requester, "POST", "/api/carpool/requests", request, 201).await["id"]
        .as_i64()
        .expect("the request's id");
    let assign = json!({"vehicle": vehicle, "driver": driver});
    let path = format!("/api/carpool/requests/{id}");
    sent(
        &server,
        &dispatcher,
        "POST",
        &format!("{path}/assign"),
        assign,
        200,
    )
    .await;

    // The car drives out to 东站 and back to the pickup, a fix every 4 s from 10 s into the window; the
    // window is not over, so only being back with every destination reached makes the trip due.
    let (mut track, metres) = drive_east_and_back(vehicle, start, 115.02);
    for (k, p) in track.iter_mut().enumerate() {
        p.fix_time = Timestamp::from_millis(start + 10_000 + k as i64 * 4_000);
    }
    assert!(
        track.last().expect("a track").fix_time.millis() < now,
        "the drive is in the past"
    );
    let state = || async {
        let r = http(server.http, "GET", &path, Some(&dispatcher), None).await;
        status_json(&r, 200, "the request")
    };
    assert_eq!(
        state().await["state"],
        "assigned",
        "not settled before the car drove"
    );
    let mut terminal = Terminal::connect(server.jt808, phone(CAR))
        .await
        .expect("connecting");
    terminal.login(CAR).await;
    terminal
        .report_all_acked(&track, Duration::from_secs(30), "the pool's car")
        .await;

    let settled = wait_for("the trip settled by itself", tianshu_e2e::WAIT, || async {
        let v = state().await;
        (v["state"] == "settled").then_some(v)
    })
    .await;
    let s = &settled["settlement"];
    let km = s["km"].as_f64().expect("km");
    assert!(
        (km * 1000.0 - metres).abs() <= metres * 0.02,
        "settled at {km} km against {metres:.0} m driven"
    );
    assert!(s["destinations"][0]["at"].is_string(), "东站 reached: {s}");
    assert_eq!(s["differences"], json!([]), "{s}");
    assert_eq!(
        s["confirmed_by"],
        Value::Null,
        "settled by the server, not a person: {s}"
    );
    assert!(
        s["departure"].is_string() && s["returned"].is_string(),
        "departure and return from the track: {s}"
    );
}

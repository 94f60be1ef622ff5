//! The office's car pool over HTTP on both backends: a requester asks for a car for their unit (not for
//! another's); the dispatch office sees only the pool's cars and the drivers free for the whole window
//! (a car booked by an order or in maintenance, a driver named on an order, a disposed car are not
//! offered), nearest car first, and the suggested pair; a double booking, a driver without the licence
//! for the car, a disposed car and a window in the past are refused naming why, with nothing changed;
//! the assignment writes the approved dispatch order (filed by the requester, approved by the
//! dispatcher) and the notices to the requester and the driver, and books the car and the driver.

use serde_json::{Value, json};
use tianshu_e2e::api::{
    FOREIGN_PLATE, OWN_PLATE, Resp, SUB_PLATE, Scratch, TestApi, create_user, drive_east_and_back, http,
    point,
};
use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::access::Role;

const FOURTH_PLATE: &str = "鄂B10003";
const H: i64 = 3_600_000;

#[track_caller]
fn status(r: &Resp, want: u16, what: &str) -> Value {
    assert_eq!(r.status, want, "{what}: {}", r.body);
    r.json()
}

/// Sends a request and checks its status and, for a success, its answer against the OpenAPI document;
/// the answer's JSON.
async fn sent(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
    want: u16,
    what: &str,
) -> Value {
    let r = http(addr, method, path, cookie, body).await;
    let v = status(&r, want, what);
    // Every answer the car pool gives here is also checked against the OpenAPI document.
    if (200..300).contains(&want) && !r.bytes.is_empty() {
        tianshu_e2e::openapi::assert_documented(method, path, want, &v);
    }
    v
}

fn error(v: &Value) -> String {
    v["error"].as_str().unwrap_or_default().to_string()
}

/// Midnight UTC of the day after tomorrow, so every window is ahead of now.
fn day() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    (now / (24 * H) + 2) * 24 * H
}

fn rfc(ms: i64) -> String {
    Timestamp::from_millis(ms).to_rfc3339()
}

fn request_body(start: i64, end: i64, unit: Option<i64>) -> String {
    json!({
        "unit": unit,
        "start": rfc(start),
        "end": rfc(end),
        "from": {"name": "市委大院", "lon": 115.0, "lat": 30.2},
        "destinations": [{"name": "阳新县政府", "lon": 115.2, "lat": 29.85}],
        "passengers": 3,
        "purpose": "防汛检查",
        "kind": "emergency",
        "class": null
    })
    .to_string()
}

/// Everything a refusal must leave as it was: the requests and the orders.
async fn snapshot(api: &TestApi, admin: Option<&str>) -> (String, String) {
    let requests = http(api.addr, "GET", "/api/carpool/requests", admin, None)
        .await
        .body;
    let orders = http(api.addr, "GET", "/api/orders", admin, None).await.body;
    (requests, orders)
}

async fn a_request_is_dispatched_to_the_nearest_free_car(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    tianshu_testkit::import_cars(&api.store, "黄石市/市委办公室", &[(FOURTH_PLATE, 13_900_000_004)]).await;
    let fourth = api
        .store
        .vehicle_by_plate(FOURTH_PLATE)
        .await
        .expect("reading")
        .expect("the fourth car")
        .id
        .0;
    let (own, sub, foreign) = (api.vid(OWN_PLATE), api.vid(SUB_PLATE), api.vid(FOREIGN_PLATE));
    // The cars' latest positions, east of the pickup (115.0, 30.2) at different distances.
    let mut pts = Vec::new();
    for (v, lon_e6) in [
        (own, 115_100_000),
        (sub, 115_020_000),
        (fourth, 115_050_000),
        (foreign, 115_030_000),
    ] {
        pts.push(point(VehicleId(v), 3_600, lon_e6));
    }
    api.store.append_points(&pts).await.expect("positions");

    let admin = api.login("administrator").await;
    let dispatcher = api.login("dispatcher").await;
    let requester = api.login("requester").await;
    create_user(
        &api.store,
        "police_requester",
        Role::Requester,
        Some(api.units["黄石市/公安局"]),
    )
    .await;
    let police = api.login("police_requester").await;
    let (a, d, r, p) = (
        Some(admin.as_str()),
        Some(dispatcher.as_str()),
        Some(requester.as_str()),
        Some(police.as_str()),
    );

    // The pool: every car the pool's; the police car needs a B1 licence.
    for (v, fleet) in [
        (own, json!({"ownership": "pool"})),
        (sub, json!({"ownership": "pool"})),
        (
            fourth,
            json!({"ownership": "pool", "marking_status": "marked", "terminal_status": "installed"}),
        ),
        (foreign, json!({"ownership": "pool", "licence_needed": "B1"})),
    ] {
        let path = format!("/api/vehicles/{v}/fleet");
        sent(api.addr, "PUT", &path, a, Some(&fleet.to_string()), 200, "fleet").await;
    }
    let bad_fleet = json!({"terminal_status": "exempt"}).to_string();
    let e = sent(
        api.addr,
        "PUT",
        &format!("/api/vehicles/{own}/fleet"),
        a,
        Some(&bad_fleet),
        400,
        "an exemption without a reason",
    )
    .await;
    assert!(error(&e).starts_with("terminal_exempt_reason: "), "{e}");
    let f = sent(
        api.addr,
        "GET",
        &format!("/api/vehicles/{own}/fleet"),
        r,
        None,
        200,
        "fleet",
    )
    .await;
    assert_eq!(f["ownership"], "pool", "the refused write changed nothing: {f}");

    // Drivers: 王 (C1, named on an order that afternoon), 张 (C1, free), 李 (C2 only).
    let unit = api.units["黄石市/市委办公室"].0;
    let mut drivers = std::collections::HashMap::new();
    for (name, cert, licence, phone) in [
        ("王五", "D-1", "C1", "13800000001"),
        ("张三", "D-2", "C1", "13800000002"),
        ("李四", "D-3", "C2", "13800000003"),
    ] {
        let body =
            json!({"name": name, "certificate": cert, "phone": phone, "unit": unit, "licence": licence});
        let v = sent(
            api.addr,
            "POST",
            "/api/drivers",
            a,
            Some(&body.to_string()),
            201,
            name,
        )
        .await;
        assert_eq!(v["licence"], licence, "{v}");
        assert_eq!(v["active"], true, "{v}");
        drivers.insert(name, v["id"].as_i64().expect("id"));
    }

    let day = day();
    let (start, end) = (day + 6 * H, day + 8 * H);
    // The nearest car is booked that afternoon by an order naming 王五; the police car is in maintenance.
    let order = json!({"id": "PC-CLASH-1", "kind": "order", "plate": SUB_PLATE, "driver": "王五", "purpose": "会议",
        "start": rfc(day + 7 * H), "end": rfc(day + 9 * H), "state": "requested"});
    sent(
        api.addr,
        "POST",
        "/api/orders",
        d,
        Some(&order.to_string()),
        201,
        "order",
    )
    .await;
    let maintenance =
        json!({"vehicle": foreign, "start": rfc(day), "end": rfc(day + 24 * H), "note": "保养"});
    sent(
        api.addr,
        "POST",
        "/api/carpool/maintenance",
        d,
        Some(&maintenance.to_string()),
        201,
        "maintenance",
    )
    .await;

    // Bad requests: a window in the past, another unit's; nothing stored.
    let before = snapshot(&api, a).await;
    let now = chrono::Utc::now().timestamp_millis();
    let e = sent(
        api.addr,
        "POST",
        "/api/carpool/requests",
        r,
        Some(&request_body(now - 3 * H, now - H, None)),
        400,
        "a window in the past",
    )
    .await;
    assert!(error(&e).starts_with("start: "), "{e}");
    let police_unit = api.units["黄石市/公安局"].0;
    let e = http(
        api.addr,
        "POST",
        "/api/carpool/requests",
        r,
        Some(&request_body(start, end, Some(police_unit))),
    )
    .await;
    assert_eq!(e.status, 403, "another unit's request: {}", e.body);
    let e = http(
        api.addr,
        "POST",
        "/api/carpool/requests",
        d,
        Some(&request_body(start, end, None)),
    )
    .await;
    assert_eq!(e.status, 403, "a dispatcher does not ask: {}", e.body);
    assert_eq!(
        snapshot(&api, a).await,
        before,
        "nothing changed by the refused requests"
    );

    // The request, for the requester's own unit.
    let q = sent(
        api.addr,
        "POST",
        "/api/carpool/requests",
        r,
        Some(&request_body(start, end, None)),
        201,
        "request",
    )
    .await;
    let id = q["id"].as_i64().expect("id");
    assert_eq!(
        (q["unit"].as_i64(), q["state"].as_str()),
        (Some(unit), Some("pending")),
        "{q}"
    );
    assert_eq!(q["requester"], "requester");
    // Another unit's requester neither lists it nor reads it.
    let list = sent(api.addr, "GET", "/api/carpool/requests", p, None, 200, "list").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    let e = http(api.addr, "GET", &format!("/api/carpool/requests/{id}"), p, None).await;
    assert_eq!(e.status, 403, "{}", e.body);
    let e = http(
        api.addr,
        "GET",
        &format!("/api/carpool/requests/{id}/offers"),
        r,
        None,
    )
    .await;
    assert_eq!(e.status, 403, "a requester does not dispatch: {}", e.body);

    // Offers: only the free cars, nearest first; only the free drivers; the nearest pair suggested.
    let o = sent(
        api.addr,
        "GET",
        &format!("/api/carpool/requests/{id}/offers"),
        d,
        None,
        200,
        "offers",
    )
    .await;
    let plates: Vec<&str> = o["cars"]
        .as_array()
        .expect("cars")
        .iter()
        .map(|c| c["plate"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(plates, [FOURTH_PLATE, OWN_PLATE], "{o}");
    let d0 = o["cars"][0]["distance_m"].as_f64().expect("distance");
    assert!(
        (4_700.0..4_900.0).contains(&d0),
        "0.05° of longitude at 30.2° N: {d0}"
    );
    let names: Vec<&str> = o["drivers"]
        .as_array()
        .expect("drivers")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["张三", "李四"], "{o}");
    assert_eq!(
        o["suggested"],
        json!({"vehicle": fourth, "driver": drivers["张三"]}),
        "{o}"
    );

    // Bad assignments, each refused naming why, nothing changed.
    let before = snapshot(&api, a).await;
    let assign_path = format!("/api/carpool/requests/{id}/assign");
    let assign = |v: i64, drv: i64| json!({"vehicle": v, "driver": drv}).to_string();
    let e = sent(
        api.addr,
        "POST",
        &assign_path,
        d,
        Some(&assign(sub, drivers["张三"])),
        409,
        "car booked",
    )
    .await;
    assert!(
        error(&e).contains("PC-CLASH-1") && error(&e).starts_with("vehicle: "),
        "{e}"
    );
    let e = sent(
        api.addr,
        "POST",
        &assign_path,
        d,
        Some(&assign(fourth, drivers["王五"])),
        409,
        "driver booked",
    )
    .await;
    assert!(
        error(&e).contains("PC-CLASH-1") && error(&e).starts_with("driver: 王五"),
        "{e}"
    );
    let e = sent(
        api.addr,
        "POST",
        &assign_path,
        d,
        Some(&assign(fourth, drivers["李四"])),
        400,
        "licence",
    )
    .await;
    assert!(
        error(&e).contains("holds C2") && error(&e).contains("needs C1"),
        "{e}"
    );
    let e = sent(
        api.addr,
        "POST",
        &assign_path,
        d,
        Some(&assign(foreign, drivers["张三"])),
        409,
        "maintenance",
    )
    .await;
    assert!(error(&e).contains("maintenance"), "{e}");
    let disposed =
        json!({"ownership": "pool", "disposed_on": "2026-03-01", "disposal": "auctioned"}).to_string();
    sent(
        api.addr,
        "PUT",
        &format!("/api/vehicles/{own}/fleet"),
        a,
        Some(&disposed),
        200,
        "disposed",
    )
    .await;
    let before_disposed = snapshot(&api, a).await;
    assert_eq!(
        before_disposed, before,
        "a fleet edit is neither a request nor an order"
    );
    let e = sent(
        api.addr,
        "POST",
        &assign_path,
        d,
        Some(&assign(own, drivers["张三"])),
        400,
        "disposed car",
    )
    .await;
    assert!(error(&e).contains("disposed"), "{e}");
    let e = http(
        api.addr,
        "POST",
        &assign_path,
        r,
        Some(&assign(fourth, drivers["张三"])),
    )
    .await;
    assert_eq!(e.status, 403, "a requester does not assign: {}", e.body);
    assert_eq!(
        snapshot(&api, a).await,
        before,
        "nothing changed by the refused assignments"
    );

    // The assignment: the approved order, filed by the requester, approved by the dispatcher; notices.
    let done = sent(
        api.addr,
        "POST",
        &assign_path,
        d,
        Some(&assign(fourth, drivers["张三"])),
        200,
        "assigned",
    )
    .await;
    let order_id = done["order"].as_str().expect("order id").to_string();
    assert_eq!(done["request"]["state"], "assigned");
    assert_eq!(done["request"]["assignment"]["plate"], FOURTH_PLATE);
    let orders = sent(
        api.addr,
        "GET",
        &format!("/api/orders?plate={}", tianshu_e2e::api::enc(FOURTH_PLATE)),
        d,
        None,
        200,
        "orders",
    )
    .await;
    let o = &orders[0];
    assert_eq!(
        (
            o["id"].as_str(),
            o["state"].as_str(),
            o["filed_by"].as_str(),
            o["approved_by"].as_str()
        ),
        (
            Some(order_id.as_str()),
            Some("approved"),
            Some("requester"),
            Some("dispatcher")
        ),
        "{orders}"
    );
    assert_eq!(
        (o["start"].as_str(), o["driver"].as_str()),
        (Some(rfc(start).as_str()), Some("张三"))
    );
    assert_eq!(o["destinations"][0]["name"], "阳新县政府");
    let detail = sent(
        api.addr,
        "GET",
        &format!("/api/carpool/requests/{id}"),
        r,
        None,
        200,
        "detail",
    )
    .await;
    let to: Vec<&str> = detail["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .map(|n| n["to"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(to, ["requester:requester", "driver:13800000002"], "{detail}");
    assert!(
        detail["notices"][1]["text"]
            .as_str()
            .unwrap_or("")
            .contains(FOURTH_PLATE),
        "{detail}"
    );

    // Assigned again: refused. A second request overlapping it finds the car and the driver taken.
    let e = sent(
        api.addr,
        "POST",
        &assign_path,
        d,
        Some(&assign(fourth, drivers["张三"])),
        409,
        "again",
    )
    .await;
    assert!(error(&e).contains("assigned"), "{e}");
    let q2 = sent(
        api.addr,
        "POST",
        "/api/carpool/requests",
        r,
        Some(&request_body(start + H, end + H, None)),
        201,
        "second request",
    )
    .await;
    let id2 = q2["id"].as_i64().expect("id");
    let o2 = sent(
        api.addr,
        "GET",
        &format!("/api/carpool/requests/{id2}/offers"),
        d,
        None,
        200,
        "offers",
    )
    .await;
    assert_eq!(
        o2["cars"],
        json!([]),
        "every pool car is taken, disposed or in maintenance: {o2}"
    );
    let names: Vec<&str> = o2["drivers"]
        .as_array()
        .expect("drivers")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["李四"], "{o2}");
    assert_eq!(o2["suggested"], Value::Null);
    let path2 = format!("/api/carpool/requests/{id2}/assign");
    let e = sent(
        api.addr,
        "POST",
        &path2,
        d,
        Some(&assign(fourth, drivers["李四"])),
        409,
        "double booking",
    )
    .await;
    assert!(error(&e).contains(&order_id), "the clash named: {e}");
    // A window after the first ends is free again.
    let q3 = sent(
        api.addr,
        "POST",
        "/api/carpool/requests",
        r,
        Some(&request_body(end, end + H, None)),
        201,
        "third request",
    )
    .await;
    let o3 = sent(
        api.addr,
        "GET",
        &format!("/api/carpool/requests/{}/offers", q3["id"]),
        d,
        None,
        200,
        "offers",
    )
    .await;
    assert_eq!(
        o3["suggested"],
        json!({"vehicle": fourth, "driver": drivers["张三"]}),
        "{o3}"
    );
}

tianshu_e2e::on_both_backends!(a_request_is_dispatched_to_the_nearest_free_car);

/// A pool trip asked for, assigned and driven.
struct Trip {
    id: i64,
    start: i64,
    end: i64,
    metres: f64,
}

/// Two trips of `car` with `driver`, asked for by `r` and assigned by `d` on `day`: one that reaches
/// 东站 (115.1, 30.2) and comes back, one that turns back halfway; their tracks stored.
async fn two_trips(
    api: &TestApi,
    (r, d): (Option<&str>, Option<&str>),
    car: i64,
    driver: &Value,
    day: i64,
) -> Vec<Trip> {
    let mut trips = Vec::new();
    for (k, to_lon) in [(0, 115.1), (1, 115.05)] {
        let (start, end) = (day + (6 + 4 * k) * H, day + (8 + 4 * k) * H);
        let body = request_body(start, end, None)
            .replace("阳新县政府", "东站")
            .replace("29.85", "30.2")
            .replace(r#""lon":115.2"#, r#""lon":115.1"#);
        let q = sent(
            api.addr,
            "POST",
            "/api/carpool/requests",
            r,
            Some(&body),
            201,
            "request",
        )
        .await;
        let id = q["id"].as_i64().expect("id");
        let assign = json!({"vehicle": car, "driver": driver}).to_string();
        let path = format!("/api/carpool/requests/{id}/assign");
        sent(api.addr, "POST", &path, d, Some(&assign), 200, "assigned").await;
        let (pts, metres) = drive_east_and_back(car, start + 10 * 60_000, to_lon);
        api.store.append_points(&pts).await.expect("the trip's track");
        trips.push(Trip {
            id,
            start,
            end,
            metres,
        });
    }
    trips
}

async fn a_trip_is_settled_from_its_track(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let car = api.vid(OWN_PLATE);
    let admin = api.login("administrator").await;
    let dispatcher = api.login("dispatcher").await;
    let requester = api.login("requester").await;
    let (a, d, r) = (
        Some(admin.as_str()),
        Some(dispatcher.as_str()),
        Some(requester.as_str()),
    );
    let fleet = json!({"ownership": "pool"}).to_string();
    sent(
        api.addr,
        "PUT",
        &format!("/api/vehicles/{car}/fleet"),
        a,
        Some(&fleet),
        200,
        "fleet",
    )
    .await;
    let unit = api.units["黄石市/市委办公室"].0;
    let driver = json!({"name": "张三", "certificate": "D-9", "unit": unit, "licence": "C1"}).to_string();
    let driver = sent(api.addr, "POST", "/api/drivers", a, Some(&driver), 201, "driver").await["id"].clone();
    let day = day();

    // Two trips: one that reaches 东站 (115.1, 30.2) and comes back, one that turns back halfway.
    let trips = two_trips(&api, (r, d), car, &driver, day).await;
    let ids: Vec<(i64, f64)> = trips.iter().map(|t| (t.id, t.metres)).collect();

    // Confirming before settling is refused.
    let e = http(
        api.addr,
        "PUT",
        &format!("/api/carpool/requests/{}/settlement", ids[0].0),
        d,
        Some("{}"),
    )
    .await;
    assert_eq!(e.status, 409, "{}", e.body);

    let (id, metres) = ids[0];
    let s = sent(
        api.addr,
        "POST",
        &format!("/api/carpool/requests/{id}/settle"),
        d,
        None,
        200,
        "settled",
    )
    .await;
    let st = &s["request"]["settlement"];
    let km = st["km"].as_f64().expect("km");
    assert!(
        (km * 1000.0 - metres).abs() / metres < 0.02,
        "{km} km against {metres} m driven: {s}"
    );
    assert_eq!(st["destinations"][0]["name"], "东站");
    assert!(st["destinations"][0]["at"].is_string(), "reached: {s}");
    assert_eq!(st["differences"], json!([]), "{s}");
    assert_eq!(s["case"], Value::Null);
    assert_eq!(s["request"]["state"], "settled");
    assert!(
        (590..=610).contains(&st["idle_s"].as_i64().unwrap_or(-1)),
        "ten minutes idling: {s}"
    );
    let again = http(
        api.addr,
        "POST",
        &format!("/api/carpool/requests/{id}/settle"),
        d,
        None,
    )
    .await;
    assert_eq!(again.status, 409, "settled once: {}", again.body);

    // The dispatcher confirms, correcting the km with a note only.
    let path = format!("/api/carpool/requests/{id}/settlement");
    let e = sent(
        api.addr,
        "PUT",
        &path,
        d,
        Some(r#"{"km": 25.0}"#),
        400,
        "a correction without a note",
    )
    .await;
    assert!(error(&e).starts_with("note: "), "{e}");
    let c = sent(
        api.addr,
        "PUT",
        &path,
        d,
        Some(r#"{"km": 25.0, "note": "隧道内无信号"}"#),
        200,
        "confirmed",
    )
    .await;
    assert_eq!(c["settlement"]["km"], 25.0);
    assert_eq!(c["settlement"]["confirmed_by"], "dispatcher");

    // The trip that turned back opens a case naming the destination never reached.
    let (id2, _) = ids[1];
    let s = sent(
        api.addr,
        "POST",
        &format!("/api/carpool/requests/{id2}/settle"),
        d,
        None,
        200,
        "settled",
    )
    .await;
    assert_eq!(
        s["request"]["settlement"]["differences"],
        json!(["destination 东站 never reached"]),
        "{s}"
    );
    let case_id = s["case"].as_i64().expect("a case");
    let case = api
        .store
        .cases()
        .case(case_id)
        .await
        .expect("reading")
        .expect("the case");
    assert_eq!(
        (case.raised.rule.as_str(), case.raised.vehicle.0),
        ("carpool_trip", car)
    );
    assert!(
        case.raised.reasoning_zh.contains("东站"),
        "{}",
        case.raised.reasoning_zh
    );

    // The year's figures count the pool's two trips (the first as corrected) and the case.
    let year = tianshu_rules::yearly::china_year(Timestamp::from_millis(day + 6 * H));
    let y = sent(
        api.addr,
        "GET",
        &format!("/api/report/yearly?year={year}"),
        r,
        None,
        200,
        "yearly",
    )
    .await;
    let service = &y["service"];
    assert_eq!(service.as_array().map(Vec::len), Some(1), "{y}");
    assert_eq!(
        (service[0]["kind"].as_str(), service[0]["trips"].as_i64()),
        (Some("emergency"), Some(2))
    );
    let km = service[0]["km"].as_f64().unwrap_or_default();
    let second_km = s["request"]["settlement"]["km"].as_f64().unwrap_or_default();
    assert!((km - 25.0 - second_km).abs() < 1e-6, "{km}: {y}");
    assert_eq!(y["violations"], json!([["carpool_trip", 1]]), "{y}");
    assert_eq!(
        (y["reform"]["kept"].as_i64(), y["reform"]["disposed"].as_i64()),
        (Some(2), Some(0)),
        "the requester's units' cars: {y}"
    );
    let csv = http(
        api.addr,
        "GET",
        &format!("/api/report/yearly?year={year}&format=csv"),
        r,
        None,
    )
    .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body.contains("用车保障\r\n")
            && csv.body.contains("emergency,黄石市/市委办公室,2,")
            && csv.body.contains("投诉与查处\r\n")
            && csv.body.contains("受理举报,0\r\n")
            && csv.body.contains("加油卡\r\n")
            && csv.body.contains("加油笔数,0\r\n"),
        "{}",
        csv.body
    );
    let xlsx = http(
        api.addr,
        "GET",
        &format!("/api/report/yearly?year={year}&format=xlsx"),
        r,
        None,
    )
    .await;
    assert_eq!(xlsx.status, 200);
    let e = http(
        api.addr,
        "GET",
        &format!(
            "/api/report/yearly?year={year}&unit={}",
            api.units["黄石市/公安局"].0
        ),
        r,
        None,
    )
    .await;
    assert_eq!(e.status, 403, "another unit's figures: {}", e.body);
}

tianshu_e2e::on_both_backends!(a_trip_is_settled_from_its_track);

/// A quick outbox, and no replay of the seeded tracks: only what the test does is routed.
fn quick_alerts() -> tianshu_alerts::AlertsConfig {
    let mut c = tianshu_alerts::AlertsConfig {
        outbox_poll_ms: 50,
        tick_secs: 3600,
        resume_hours: 0.0,
        state_save_secs: 0,
        ..Default::default()
    };
    c.notifications.retry.max_attempts = 1;
    c
}

/// Trips settle by themselves when due, once (a second pass, as after a restart, settles nothing), from
/// the committed track against `[rules.carpool]`; the assignment tells the requester's unit's channel
/// and, through the generic webhook, the driver's phone; the case of a trip that never reached its
/// destination is queued for the unit's channel; the requester rates a settled trip.
async fn trips_settle_by_themselves_and_notify_through_the_channels(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let config = quick_alerts();
    let rules = tianshu_rules::RulesConfig::default();
    let _alerts = tianshu_alerts::start(api.store.clone(), rules.clone(), config.clone())
        .await
        .expect("starting the alerts runtime");
    api.state
        .set_carpool_router(tianshu_alerts::carpool::router(api.store.clone(), config.clone()));
    let car = api.vid(OWN_PLATE);
    let unit = api.units["黄石市/市委办公室"].0;
    create_user(
        &api.store,
        "requester2",
        Role::Requester,
        Some(tianshu_model::UnitId(unit)),
    )
    .await;
    let logins = [
        api.login("administrator").await,
        api.login("dispatcher").await,
        api.login("requester").await,
        api.login("requester2").await,
        api.login("supervisor").await,
    ];
    let [a, d, r, r2, s] = logins.each_ref().map(|c| Some(c.as_str()));
    let (url, hook) = tianshu_e2e::sinks::http_receiver().await;
    let channel =
        json!({"name": "市委办值班", "kind": "webhook", "url": url, "format": "generic", "units": [unit]});
    sent(
        api.addr,
        "POST",
        "/api/channels",
        a,
        Some(&channel.to_string()),
        201,
        "channel",
    )
    .await;
    let fleet = json!({"ownership": "pool"}).to_string();
    let path = format!("/api/vehicles/{car}/fleet");
    sent(api.addr, "PUT", &path, a, Some(&fleet), 200, "fleet").await;
    let driver =
        json!({"name": "李四", "certificate": "D-7", "unit": unit, "licence": "C1", "phone": "13900001111"});
    let driver = sent(
        api.addr,
        "POST",
        "/api/drivers",
        a,
        Some(&driver.to_string()),
        201,
        "driver",
    )
    .await["id"]
        .clone();

    // Two trips, assigned: each tells the requester's unit and the driver's phone.
    let trips = two_trips(&api, (r, d), car, &driver, day()).await;
    for t in &trips {
        let recipients: Vec<String> = api
            .store
            .carpool()
            .deliveries(t.id)
            .await
            .expect("the request's notifications")
            .into_iter()
            .map(|x| x.recipient)
            .collect();
        assert_eq!(recipients, ["市委办值班", "13900001111"], "request {}", t.id);
    }
    hook.wait_nth(3, "the four assignment notices", tianshu_e2e::WAIT)
        .await;
    let posted: Vec<Value> = hook
        .all()
        .iter()
        .map(|b| serde_json::from_str(b).expect("json"))
        .collect();
    let to_driver: Vec<&Value> = posted.iter().filter(|p| p["phone"] == "13900001111").collect();
    assert_eq!(to_driver.len(), 2, "{posted:?}");
    assert!(
        to_driver
            .iter()
            .all(|p| p["kind"] == "carpool" && p["text"].as_str().is_some_and(|t| t.contains("出车任务"))),
        "{to_driver:?}"
    );
    assert!(
        posted.iter().any(|p| p["to"] == "requester:requester"),
        "{posted:?}"
    );

    // An hour after the first trip's start the car is back with 东站 reached: settled, once.
    let settle = |now_ms: i64| {
        let (store, config, rules) = (api.store.clone(), config.clone(), rules.clone());
        async move {
            tianshu_alerts::carpool::settle_due_trips(&store, &config, &rules, Timestamp::from_millis(now_ms))
                .await
                .expect("a settlement pass")
        }
    };
    let (id, start, metres) = (trips[0].id, trips[0].start, trips[0].metres);
    let done = settle(start + H).await;
    assert_eq!(done.len(), 1, "only the first trip is due: {done:?}");
    let st = done[0].request.settlement.clone().expect("settled");
    assert_eq!(done[0].request.id, id);
    assert!(
        (st.km * 1000.0 - metres).abs() / metres < 0.02,
        "{} km against {metres} m",
        st.km
    );
    assert_eq!((st.differences.len(), done[0].case), (0, None), "{st:?}");
    assert!(settle(start + H).await.is_empty(), "a trip is settled once");

    // Half an hour after the second window the car is home, 东站 never reached: a case for the unit.
    let (id2, end2) = (trips[1].id, trips[1].end);
    let done = settle(end2 + H / 2).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].request.id, id2);
    let case = done[0].case.expect("a case");
    // Queued for the unit's channel at the pass's time (here days ahead, so not sent yet).
    let queued = api
        .store
        .cases()
        .deliveries(case)
        .await
        .expect("the case's notifications");
    assert_eq!(queued.len(), 1, "{queued:?}");
    let notice: Value = serde_json::from_str(&queued[0].payload).expect("json");
    assert_eq!(
        (notice["rule"].as_str(), notice["case_id"].as_i64()),
        (Some("carpool_trip"), Some(case))
    );
    assert_eq!(queued[0].recipient, "市委办值班");
    assert!(settle(end2 + 3 * H).await.is_empty(), "nothing settles twice");

    // The requester rates the settled trip; another requester of the unit may not; a supervisor may.
    let path = format!("/api/carpool/requests/{id}/rating");
    let e = sent(
        api.addr,
        "PUT",
        &path,
        r,
        Some(r#"{"stars": 6}"#),
        400,
        "six stars",
    )
    .await;
    assert!(error(&e).starts_with("stars: "), "{e}");
    let body = r#"{"stars": 5, "note": "准时到达"}"#;
    let rated = sent(api.addr, "PUT", &path, r, Some(body), 200, "rated").await;
    assert_eq!(rated["rating"], json!({"stars": 5, "note": "准时到达"}));
    sent(api.addr, "PUT", &path, r2, Some(body), 403, "not their request").await;
    sent(
        api.addr,
        "PUT",
        &path,
        s,
        Some(r#"{"stars": 4}"#),
        200,
        "on the unit's behalf",
    )
    .await;
    let pending = request_body(day() + 20 * H, day() + 21 * H, None);
    let q = sent(
        api.addr,
        "POST",
        "/api/carpool/requests",
        r,
        Some(&pending),
        201,
        "request",
    )
    .await;
    let path = format!("/api/carpool/requests/{}/rating", q["id"]);
    sent(api.addr, "PUT", &path, r, Some(body), 409, "not settled").await;
}

tianshu_e2e::on_both_backends!(trips_settle_by_themselves_and_notify_through_the_channels);

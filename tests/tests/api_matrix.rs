//! The permission matrix, generated from the API's own route table: every route x every role (and no
//! session at all), with a supervisor also asking for another unit's vehicle, track, export, live feed
//! and case. A refusal is 401/403 and carries no location data.

use std::sync::Arc;

use tianshu_api::cases::CaseView;
use tianshu_api::{ROUTES, RouteSpec};
use tianshu_e2e::api::*;
use tianshu_model::Timestamp;
use tianshu_store::access::Role;

const FROM: &str = "2026-11-18T00:00:00Z";
const TO: &str = "2026-11-19T00:00:00Z";

/// Which vehicle a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A vehicle of a sub-unit of the supervisor's unit: in every role's scope.
    Own,
    /// A vehicle of another unit: outside the supervisor's scope.
    Foreign,
}

struct Req {
    method: &'static str,
    path: String,
    body: Option<String>,
    upgrade: bool,
    /// Whether the answer concerns one vehicle (so a supervisor asking for a foreign one is refused).
    vehicle_scoped: bool,
}

fn case_id(target: Target) -> &'static str {
    match target {
        Target::Own => "case-own",
        Target::Foreign => "case-foreign",
    }
}

/// Records each request of the matrix may consume (a delete needs something to delete).
struct Victims {
    casework: Option<CaseworkVictims>,
    unit: i64,
    vehicle: i64,
    phone: String,
    fence: i64,
    kept_fence: i64,
    order: String,
    driver: i64,
    channel: i64,
    /// A personal API token of the caller's (0 without a caller).
    token: i64,
    /// A pending request for a car of the target's unit, its car the pool's (0 unless the route needs one).
    request: i64,
    /// A platform check received from an upper platform, not answered yet.
    jt809_check: i64,
}

fn fence(name: &str) -> String {
    format!(
        r#"{{"type":"Feature","geometry":{{"type":"Polygon","coordinates":[[[115.0,30.2],[115.01,30.2],[115.01,30.21],[115.0,30.2]]]}},"properties":{{"name":"{name}","kind":"prohibited"}}}}"#
    )
}

fn order(id: &str, plate: &str) -> String {
    format!(
        r#"{{"id":"{id}","kind":"order","plate":"{plate}","purpose":"会议","start":"2026-11-18T00:00:00Z","end":"2026-11-18T04:00:00Z","state":"requested"}}"#
    )
}

/// An order of tomorrow, imported (no filer on record): one dispatcher may approve it.
fn tomorrows_order(id: &str, plate: &str) -> String {
    let start = Timestamp::from_millis(chrono::Utc::now().timestamp_millis() + 86_400_000);
    order(id, plate)
        .replace("2026-11-18T00:00:00Z", &start.to_rfc3339())
        .replace("2026-11-18T04:00:00Z", &start.add_millis(3_600_000).to_rfc3339())
}

/// Creates what the request number `n` may consume, straight in the store.
async fn victims(api: &TestApi, n: usize, plate: &str, kept_fence: i64) -> Victims {
    use tianshu_store::registry_admin::NewTerminal;
    let admin = api.store.registry_admin();
    let unit = admin
        .create_unit(&format!("待删单位{n}"), None)
        .await
        .expect("victim unit");
    let vehicle = admin
        .create_vehicle(
            &format!("鄂V{n:05}"),
            unit.id,
            tianshu_model::VehicleClass::General,
        )
        .await
        .expect("victim vehicle");
    let unit = admin
        .create_unit(&format!("空单位{n}"), None)
        .await
        .expect("victim unit");
    let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let hours = serde_json::json!({"periods": ["08:30-12:00", "14:00-18:00"]});
    api.store
        .rules()
        .put_unit_timetable(unit.id, &serde_json::from_value(hours).expect("hours"), now)
        .await
        .expect("victim unit timetable");
    let phone = tianshu_model::Phone(13_600_000_000 + n as u128);
    admin
        .create_terminal(&NewTerminal {
            phone,
            terminal_id: format!("D{n}"),
            vehicle: None,
            edition: None,
        })
        .await
        .expect("victim terminal");
    // Registered, then registered again: a pending re-registration to decide on.
    let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    api.registered_again(phone, now).await;
    let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let body = serde_json::json!({"name": format!("待删{n}"), "kind": "prohibited", "unit": null, "category": null,
        "speed_limit_kmh": null, "polygons": [[[[115.0,30.2],[115.01,30.2],[115.01,30.21],[115.0,30.2]]]]});
    let fence = api
        .store
        .rules()
        .create_geofence(&serde_json::from_value(body).expect("fence"), now)
        .await
        .expect("victim fence")
        .id;
    let id = format!("PC-victim-{n}");
    api.store
        .rules()
        .import_orders(&tomorrows_order(&id, plate), now)
        .await
        .expect("victim order");
    let driver = api
        .store
        .drivers()
        .create(&tianshu_store::drivers::DriverFields {
            name: format!("待删司机{n}"),
            certificate: format!("VICTIM-{n}"),
            phone: None,
            unit: api.units["黄石市/公安局"],
            licence: Some(tianshu_model::carpool::LicenceClass::C1),
            active: true,
        })
        .await
        .expect("victim driver")
        .id;
    let channel = api
        .store
        .channels()
        .create(
            &tianshu_store::channels::ChannelFields {
                name: format!("待删渠道{n}"),
                kind: tianshu_store::channels::ChannelKind::Email,
                url: None,
                format: tianshu_store::channels::WebhookFormat::Generic,
                address: Some(format!("victim{n}@example.invalid")),
                units: vec![],
                min_severity: tianshu_rules::Severity::Low,
                enabled: true,
            },
            &[],
        )
        .await
        .expect("victim channel")
        .id;
    Victims {
        driver,
        channel,
        casework: None,
        unit: unit.id.0,
        vehicle: vehicle.id.0,
        phone: phone.to_string(),
        fence,
        kept_fence,
        order: id,
        token: 0,
        request: 0,
        jt809_check: jt809_check(api, n).await,
    }
}

/// A platform check from the upper platform `province`, numbered `n`, waiting for its answer.
async fn jt809_check(api: &TestApi, n: usize) -> i64 {
    use tianshu_store::jt809_requests::{Direction, NewRequest};
    let now = Timestamp::now();
    let check = NewRequest {
        direction: Direction::Received,
        kind: "check",
        peer: "province".into(),
        ref_id: Some(n as i64),
        msg_sn: n as i64,
        object_type: 1,
        object_id: "4200".into(),
        plate: None,
        question: "请报告值班人员".into(),
        created: now,
        deadline: now.add_millis(600_000),
        warn_type: None,
        warn_time: None,
        case_id: None,
    };
    let (check, _) = api
        .store
        .platform_requests()
        .record(check)
        .await
        .expect("victim check");
    check.id
}

/// Recipes of the JT/T 809 platform requests (the lower platform `huangshi` is configured).
fn jt809_routes(
    spec: &RouteSpec,
    victims: &Victims,
    req: &impl Fn(String, Option<String>, bool) -> Req,
) -> Option<Req> {
    Some(match (spec.method, spec.path) {
        ("GET", "/api/jt809/requests") => req(spec.path.into(), None, false),
        ("GET", "/api/jt809/alarms") => req(spec.path.into(), None, false),
        ("POST", "/api/jt809/requests/{id}/answer") => req(
            format!("/api/jt809/requests/{}/answer", victims.jt809_check),
            Some(r#"{"text":"值班员在岗"}"#.into()),
            false,
        ),
        ("POST", "/api/jt809/checks") => req(
            spec.path.into(),
            Some(r#"{"peer":"huangshi","question":"请报告值班人员"}"#.into()),
            false,
        ),
        ("POST", "/api/jt809/supervisions") => req(
            spec.path.into(),
            Some(format!(
                r#"{{"peer":"huangshi","plate":"{SUB_PLATE}","warn_type":1}}"#
            )),
            false,
        ),
        _ => return None,
    })
}

/// A window of request number `n`, days ahead, its own (no two requests' windows overlap).
fn carpool_window(n: usize) -> (String, String) {
    let day = 86_400_000;
    let start = (chrono::Utc::now().timestamp_millis() / day + 3) * day + n as i64 * 40 * 60_000;
    (
        Timestamp::from_millis(start).to_rfc3339(),
        Timestamp::from_millis(start + 30 * 60_000).to_rfc3339(),
    )
}

fn carpool_request(unit: i64, n: usize) -> String {
    let (start, end) = carpool_window(n);
    serde_json::json!({"unit": unit, "start": start, "end": end,
        "from": {"name": "市委", "lon": 115.0, "lat": 30.2},
        "destinations": [{"name": "阳新县", "lon": 115.2, "lat": 29.85}],
        "passengers": 1, "purpose": "会议", "kind": "regular"})
    .to_string()
}

/// A request of `plate`'s unit, the car made the pool's: pending; assigned (to the car and `driver`) for
/// `/settle`; settled for `/settlement`.
async fn carpool_victim(api: &TestApi, n: usize, plate: &str, path: &str, driver: i64) -> i64 {
    let car = &api.vehicles[plate];
    let pool = api.store.carpool();
    let fleet = serde_json::from_value(serde_json::json!({"ownership": "pool"})).expect("fleet");
    pool.put_fleet(car.id, &fleet).await.expect("the pool's car");
    let fields = serde_json::from_str(&carpool_request(car.unit.0, n)).expect("request");
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let request = pool
        .create_request(&fields, "requester", now)
        .await
        .expect("victim request");
    let settled = path.ends_with("/settlement") || path.ends_with("/rating");
    if path.ends_with("/settle") || settled {
        let ask = tianshu_store::carpool::AssignAsk {
            id: request.id,
            vehicle: car.id,
            driver,
            by: "dispatcher",
        };
        pool.assign(ask, now, None).await.expect("victim assignment");
    }
    if settled {
        let s = tianshu_rules::carpool::settle(&request.fields, &[], &Default::default());
        pool.settle(request.id, &s, now, None)
            .await
            .expect("victim settlement");
    }
    request.id
}

/// Recipes of the car pool's routes.
fn carpool_routes(
    api: &TestApi,
    spec: &RouteSpec,
    n: usize,
    victims: &Victims,
    (vid, plate): (i64, &str),
    req: &impl Fn(String, Option<String>, bool) -> Req,
) -> Option<Req> {
    let request = victims.request;
    Some(match (spec.method, spec.path) {
        ("GET", "/api/carpool/requests") => req(spec.path.into(), None, false),
        ("GET", "/api/report/yearly") => req(
            format!("/api/report/yearly?year=2026&unit={}", api.vehicles[plate].unit.0),
            None,
            true,
        ),
        ("POST", "/api/carpool/requests") => req(
            spec.path.into(),
            Some(carpool_request(api.vehicles[plate].unit.0, n)),
            true,
        ),
        ("GET", "/api/carpool/requests/{id}") => req(format!("/api/carpool/requests/{request}"), None, true),
        ("GET", "/api/carpool/requests/{id}/offers") => {
            req(format!("/api/carpool/requests/{request}/offers"), None, true)
        }
        ("POST", "/api/carpool/requests/{id}/assign") => req(
            format!("/api/carpool/requests/{request}/assign"),
            Some(format!(r#"{{"vehicle":{vid},"driver":{}}}"#, victims.driver)),
            true,
        ),
        ("POST", "/api/carpool/maintenance") => req(
            spec.path.into(),
            Some(format!(
                r#"{{"vehicle":{vid},"start":"{FROM}","end":"{TO}","note":"保养"}}"#
            )),
            true,
        ),
        ("POST", "/api/carpool/requests/{id}/settle") => {
            req(format!("/api/carpool/requests/{request}/settle"), None, true)
        }
        ("PUT", "/api/carpool/requests/{id}/settlement") => req(
            format!("/api/carpool/requests/{request}/settlement"),
            Some(r#"{"note":"无误"}"#.into()),
            true,
        ),
        ("PUT", "/api/carpool/requests/{id}/rating") => req(
            format!("/api/carpool/requests/{request}/rating"),
            Some(r#"{"stars":5,"note":"准时"}"#.into()),
            true,
        ),
        ("GET", "/api/vehicles/{id}/fleet") => req(format!("/api/vehicles/{vid}/fleet"), None, true),
        ("PUT", "/api/vehicles/{id}/fleet") => req(
            format!("/api/vehicles/{vid}/fleet"),
            Some(r#"{"ownership":"pool"}"#.into()),
            true,
        ),
        _ => return None,
    })
}

/// A personal API token of `role`'s seeded user, for the revocation to revoke.
async fn victim_token(api: &TestApi, role: Role, n: usize) -> i64 {
    let user = api
        .store
        .access()
        .user_by_name(role.as_str())
        .await
        .expect("reading the user")
        .expect("the seeded user");
    let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let token = tianshu_store::access::NewApiToken {
        token_hash: format!("victim-{n}"),
        user_id: user.id,
        name: format!("victim {n}"),
        created: now,
    };
    api.store
        .access()
        .create_token(&token)
        .await
        .expect("victim token")
        .id
}

/// How to call each route. A route without a recipe fails the test: new routes must join the matrix.
fn recipe(api: &TestApi, spec: &RouteSpec, target: Target, n: usize, victims: &Victims) -> Req {
    let vid = match target {
        Target::Own => api.vid(SUB_PLATE),
        Target::Foreign => api.vid(FOREIGN_PLATE),
    };
    let plate = match target {
        Target::Own => SUB_PLATE,
        Target::Foreign => FOREIGN_PLATE,
    };
    let req = |path: String, body: Option<String>, vehicle_scoped: bool| Req {
        method: spec.method,
        path,
        body,
        upgrade: false,
        vehicle_scoped,
    };
    session_and_vehicle_routes(spec, target, vid, &req)
        .or_else(|| admin_routes(api, spec, target, n, victims, &req))
        .or_else(|| reference_routes(api, spec, n, victims, (vid, plate), &req))
        .or_else(|| casework_routes(spec, victims, (vid, plate), &req))
        .or_else(|| fuel_routes(spec, vid, &req))
        .or_else(|| carpool_routes(api, spec, n, victims, (vid, plate), &req))
        .or_else(|| jt809_routes(spec, victims, &req))
        .unwrap_or_else(|| {
            panic!(
                "route {} {} has no recipe in the permission matrix",
                spec.method, spec.path
            )
        })
}

/// The card every fuel-card recipe changes: bound to the supervisor's sub-unit's car.
const MATRIX_CARD: &str = "1000000000000077";

/// Recipes of the fuel-card routes.
fn fuel_routes(
    spec: &RouteSpec,
    vid: i64,
    req: &impl Fn(String, Option<String>, bool) -> Req,
) -> Option<Req> {
    Some(match (spec.method, spec.path) {
        ("GET", "/api/fuel/cards" | "/api/fuel/profiles" | "/api/fuel/stations" | "/api/fuel/findings") => {
            req(spec.path.into(), None, false)
        }
        ("GET", "/api/fuel/report") => req(format!("{}?year=2026", spec.path), None, false),
        ("PATCH", "/api/fuel/cards/{number}") => req(
            format!("/api/fuel/cards/{MATRIX_CARD}"),
            Some(r#"{"limit_fill_fen":50000}"#.into()),
            false,
        ),
        ("PUT", "/api/fuel/profiles/{vehicle}") => req(
            format!("/api/fuel/profiles/{vid}"),
            Some(r#"{"tank_litres":55,"rated_l_per_100km":7.5,"fuel":"petrol"}"#.into()),
            false,
        ),
        ("POST", "/api/fuel/statements") => req(
            format!("{}?name=empty.csv", spec.path),
            Some("card,time,station,product,litres,unit_price,amount\n".into()),
            false,
        ),
        _ => return None,
    })
}

/// Recipes of the session, read and vehicle routes.
fn session_and_vehicle_routes(
    spec: &RouteSpec,
    target: Target,
    vid: i64,
    req: &impl Fn(String, Option<String>, bool) -> Req,
) -> Option<Req> {
    Some(match (spec.method, spec.path) {
        ("POST", "/api/session") => req(
            spec.path.into(),
            Some(format!(r#"{{"username":"inspector","password":"{PASSWORD}"}}"#)),
            false,
        ),
        ("DELETE", "/api/session") => req(spec.path.into(), None, false),
        ("GET", "/report") => req(spec.path.into(), None, false),
        ("POST", "/api/report") => req(spec.path.into(), Some(r#"{"text":"x"}"#.into()), false),
        (
            "GET",
            "/api/me" | "/api/config" | "/api/geofences" | "/api/units" | "/api/vehicles" | "/api/terminals"
            | "/api/drivers",
        )
        | ("GET", "/api/positions/latest" | "/api/users" | "/api/audit" | "/api/openapi.json") => {
            req(spec.path.into(), None, false)
        }
        ("GET", "/api/cases") => req(spec.path.into(), None, false),
        ("GET", "/api/basemap.pmtiles") => req(spec.path.into(), None, false),
        ("GET", "/api/basemap/glyphs/{fontstack}/{range}") => {
            req("/api/basemap/glyphs/Noto%20Sans/0-255.pbf".into(), None, false)
        }
        ("GET", "/api/vehicles/{id}") => req(format!("/api/vehicles/{vid}"), None, true),
        ("GET", "/api/vehicles/{id}/track") => req(
            format!("/api/vehicles/{vid}/track?from={FROM}&to={TO}&format=geojson"),
            None,
            true,
        ),
        ("GET", "/api/vehicles/{id}/replay") => req(
            format!("/api/vehicles/{vid}/replay?from={FROM}&to={TO}"),
            None,
            true,
        ),
        ("GET", "/api/vehicles/{id}/report") => {
            req(format!("/api/vehicles/{vid}/report?month=2026-11"), None, true)
        }
        ("POST", "/api/vehicles/{id}/commands") => req(
            format!("/api/vehicles/{vid}/commands"),
            Some(r#"{"kind":"query_position"}"#.into()),
            true,
        ),
        ("GET", "/api/positions") => req(
            format!("/api/positions?vehicle={vid}&from={FROM}&to={TO}"),
            None,
            true,
        ),
        ("GET", "/api/live") => Req {
            upgrade: true,
            ..req(spec.path.into(), None, false)
        },
        ("GET", "/api/cases/{id}") => req(format!("/api/cases/{}", case_id(target)), None, true),
        ("POST", "/api/cases/{id}/actions") => req(
            format!("/api/cases/{}/actions", case_id(target)),
            Some(r#"{"action":"acknowledge"}"#.into()),
            true,
        ),
        _ => return None,
    })
}

/// The unit a unit-scoped read targets: the caller's own sub-unit or another unit.
fn scoped_unit(api: &TestApi, target: Target) -> i64 {
    let unit = match target {
        Target::Own => "黄石市/市委办公室/机要科",
        Target::Foreign => "黄石市/公安局",
    };
    api.units[unit].0
}

/// Recipes of the administration routes: users, tokens, units, drivers and channels.
fn admin_routes(
    api: &TestApi,
    spec: &RouteSpec,
    target: Target,
    n: usize,
    victims: &Victims,
    req: &impl Fn(String, Option<String>, bool) -> Req,
) -> Option<Req> {
    Some(match (spec.method, spec.path) {
        ("POST", "/api/users") => req(
            spec.path.into(),
            Some(format!(
                r#"{{"username":"new{n}","password":"long enough pw","role":"inspector","unit":null}}"#
            )),
            false,
        ),
        ("DELETE", "/api/users/{username}") => req(format!("/api/users/victim{n}"), None, false),
        ("GET", "/api/tokens") => req(spec.path.into(), None, false),
        ("POST", "/api/tokens") => req(
            spec.path.into(),
            Some(format!(r#"{{"name":"client {n}"}}"#)),
            false,
        ),
        ("DELETE", "/api/tokens/{id}") => req(format!("/api/tokens/{}", victims.token), None, false),
        ("PATCH", "/api/users/{username}") => req(
            format!("/api/users/victim{n}"),
            Some(r#"{"disabled":true}"#.into()),
            false,
        ),
        ("POST", "/api/units") => req(
            spec.path.into(),
            Some(format!(r#"{{"name":"新单位{n}"}}"#)),
            false,
        ),
        ("PATCH", "/api/units/{id}") => req(
            format!("/api/units/{}", api.units["黄石市/公安局"].0),
            Some(r#"{"name":"公安局"}"#.into()),
            false,
        ),
        ("DELETE", "/api/units/{id}") => req(format!("/api/units/{}", victims.unit), None, false),
        ("POST", "/api/drivers") => req(
            spec.path.into(),
            Some(format!(
                r#"{{"name":"司机{n}","certificate":"NEW-{n}","unit":{}}}"#,
                api.units["黄石市/公安局"].0
            )),
            false,
        ),
        ("PUT", "/api/drivers/{id}") => req(
            format!("/api/drivers/{}", victims.driver),
            Some(format!(
                r#"{{"name":"司机","certificate":"PUT-{n}","unit":{}}}"#,
                api.units["黄石市/公安局"].0
            )),
            false,
        ),
        ("DELETE", "/api/drivers/{id}") => req(format!("/api/drivers/{}", victims.driver), None, false),
        ("POST", "/api/drivers/import") => req(
            spec.path.into(),
            Some(format!(
                "name,certificate,phone,licence,unit,active\n司机{n},IMP-{n},,,黄石市/公安局,\n"
            )),
            false,
        ),
        ("GET", "/api/channels") => req(spec.path.into(), None, false),
        ("POST", "/api/channels") => req(
            spec.path.into(),
            Some(format!(
                r#"{{"name":"渠道{n}","kind":"webhook","url":"http://127.0.0.1:9/hook","units":[{}]}}"#,
                api.units["黄石市/公安局"].0
            )),
            false,
        ),
        ("PUT", "/api/channels/{id}") => req(
            format!("/api/channels/{}", victims.channel),
            Some(format!(
                r#"{{"name":"改名渠道{n}","kind":"email","address":"put{n}@example.invalid","enabled":false}}"#
            )),
            false,
        ),
        ("DELETE", "/api/channels/{id}") => req(format!("/api/channels/{}", victims.channel), None, false),
        ("GET", "/api/units/{id}/timetable") => req(
            format!("/api/units/{}/timetable", scoped_unit(api, target)),
            None,
            true,
        ),
        ("GET", "/api/units/{id}/report") => req(
            format!("/api/units/{}/report?month=2026-11", scoped_unit(api, target)),
            None,
            true,
        ),
        ("GET", "/api/units/{id}/settings") => req(
            format!("/api/units/{}/settings", scoped_unit(api, target)),
            None,
            true,
        ),
        ("PUT", "/api/units/{id}/settings") => req(
            format!("/api/units/{}/settings", api.units["黄石市/公安局"].0),
            Some(r#"{"second_person_approval":true}"#.into()),
            false,
        ),
        ("PUT", "/api/units/{id}/timetable") => req(
            format!("/api/units/{}/timetable", api.units["黄石市/公安局"].0),
            Some(r#"{"periods":["08:30-12:00","14:00-18:00"]}"#.into()),
            false,
        ),
        ("DELETE", "/api/units/{id}/timetable") => {
            req(format!("/api/units/{}/timetable", victims.unit), None, false)
        }
        _ => return None,
    })
}

/// Recipes of the reference data routes: vehicles, terminals, geofences, orders and calendars.
fn reference_routes(
    api: &TestApi,
    spec: &RouteSpec,
    n: usize,
    victims: &Victims,
    (vid, plate): (i64, &str),
    req: &impl Fn(String, Option<String>, bool) -> Req,
) -> Option<Req> {
    Some(match (spec.method, spec.path) {
        ("POST", "/api/vehicles") => req(
            spec.path.into(),
            Some(format!(
                r#"{{"plate":"鄂X{n:05}","unit":{},"class":"general"}}"#,
                api.units["黄石市/公安局"].0
            )),
            false,
        ),
        ("PATCH", "/api/vehicles/{id}") => req(
            format!("/api/vehicles/{vid}"),
            Some(r#"{"class":"general"}"#.into()),
            true,
        ),
        ("DELETE", "/api/vehicles/{id}") => req(format!("/api/vehicles/{}", victims.vehicle), None, false),
        ("GET", "/api/vehicles/{id}/trips") => req(
            format!("/api/vehicles/{vid}/trips?from={FROM}&to={TO}"),
            None,
            true,
        ),
        ("POST", "/api/terminals") => req(
            spec.path.into(),
            Some(format!(r#"{{"phone":"1370000{n:04}","terminal_id":"V{n}"}}"#)),
            false,
        ),
        ("PATCH", "/api/terminals/{phone}") => req(
            "/api/terminals/13900000003".into(),
            Some(r#"{"reset_auth_code":true}"#.into()),
            false,
        ),
        ("DELETE", "/api/terminals/{phone}") => req(format!("/api/terminals/{}", victims.phone), None, false),
        ("POST", "/api/terminals/{phone}/reregistration") => req(
            format!("/api/terminals/{}/reregistration", victims.phone),
            Some(r#"{"decision":"reject"}"#.into()),
            false,
        ),
        ("POST", "/api/geofences") => req(spec.path.into(), Some(fence(&format!("场所{n}"))), false),
        ("PUT", "/api/geofences/{id}") => req(
            format!("/api/geofences/{}", victims.kept_fence),
            Some(fence("常设")),
            false,
        ),
        ("DELETE", "/api/geofences/{id}") => req(format!("/api/geofences/{}", victims.fence), None, false),
        ("GET", "/api/orders") => req(format!("/api/orders?plate={}", enc(plate)), None, true),
        ("POST", "/api/orders") => req(spec.path.into(), Some(order(&format!("PC-new-{n}"), plate)), true),
        ("PATCH", "/api/orders/{id}") => req(
            format!("/api/orders/{}", victims.order),
            Some(r#"{"state":"approved"}"#.into()),
            true,
        ),
        ("GET", "/api/calendars") => req(spec.path.into(), None, false),
        ("PUT", "/api/calendars/{year}") => req(
            "/api/calendars/2031".into(),
            Some(
                "year = 2031\n[[holiday]]\nname = \"元旦\"\nfirst = \"2031-01-01\"\nlast = \"2031-01-01\"\n"
                    .into(),
            ),
            false,
        ),
        _ => return None,
    })
}

/// Complaints in each state and cases about the target's car, fresh for each call of a casework route.
struct CaseworkVictims {
    received: i64,
    forwarded: i64,
    answered: i64,
    accepted: i64,
    explained_case: i64,
    found_case: i64,
}

async fn casework_victims(api: &TestApi, n: usize, plate: &str) -> CaseworkVictims {
    use tianshu_model::complaint::{Channel, NamedCar, NewComplaint};
    use tianshu_rules::casework::{ComplaintAction, FindingInput};
    use tianshu_store::casework::{ComplaintStep, FindingWrite};
    let v = &api.vehicles[plate];
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let cw = api.store.casework();
    let mut ids = Vec::new();
    for steps in [
        &[][..],
        &[ComplaintAction::Forward],
        &[ComplaintAction::Forward, ComplaintAction::Answer],
        &[
            ComplaintAction::Forward,
            ComplaintAction::Answer,
            ComplaintAction::Accept,
        ],
    ] {
        let new = NewComplaint {
            received: now,
            channel: Channel::Hotline,
            reporter_name: None,
            phone_sealed: None,
            phone_masked: None,
            text: "矩阵".into(),
            place: String::new(),
            window: Some((Timestamp(now.0 - 1000 * n as i64), now)),
            cars: vec![NamedCar {
                text: plate.into(),
                vehicle: Some(v.id),
                plate: Some(plate.into()),
                unit: Some(v.unit),
                candidates: Vec::new(),
            }],
            entered_by: "matrix".into(),
        };
        let id = cw.create(&new, now).await.expect("a complaint").id;
        for action in steps {
            let step = ComplaintStep {
                id,
                action: *action,
                actor: "matrix".into(),
                note: "矩阵".into(),
                unit: Some(v.unit),
                deadline: Some(Timestamp(now.0 + 86_400_000)),
                answering_units: None,
                deliveries: Vec::new(),
            };
            cw.step(&step, now).await.expect("a step");
        }
        ids.push(id);
    }
    let mut cases = Vec::new();
    for k in 0..2i64 {
        let (case_id, _) = api
            .store
            .cases()
            .record_case(
                &tianshu_model::case::NewCase {
                    vehicle: v.id,
                    unit: v.unit,
                    rule: "off_hours".into(),
                    start: Timestamp(1_000_000 + n as i64 * 10 + k),
                    end: None,
                    severity: "low".into(),
                    late: false,
                    reasoning: String::new(),
                    reasoning_zh: String::new(),
                    episode: serde_json::json!({}),
                    escalate_at: None,
                },
                &[],
                now,
            )
            .await
            .expect("a case");
        api.store
            .cases()
            .transition_case(
                &tianshu_model::case::Transition {
                    case_id,
                    from: vec![tianshu_model::CaseState::Open],
                    to: tianshu_model::CaseState::Explained,
                    actor: "matrix".into(),
                    action: "explained".into(),
                    note: "矩阵".into(),
                    escalate_at: None,
                    deliveries: Vec::new(),
                },
                now,
            )
            .await
            .expect("explained");
        cases.push(case_id);
    }
    let finding = FindingWrite {
        case_id: cases[1],
        input: FindingInput {
            outcome: tianshu_model::complaint::FindingOutcome::Unfounded,
            violation: None,
            people: Vec::new(),
            recovered_fen: 0,
        },
        decided: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("a date"),
        note: String::new(),
        actor: "matrix".into(),
    };
    cw.record_finding(&finding, now).await.expect("a finding");
    CaseworkVictims {
        received: ids[0],
        forwarded: ids[1],
        answered: ids[2],
        accepted: ids[3],
        explained_case: cases[0],
        found_case: cases[1],
    }
}

/// Recipes of the casework routes.
fn casework_routes(
    spec: &RouteSpec,
    victims: &Victims,
    (vid, plate): (i64, &str),
    req: &impl Fn(String, Option<String>, bool) -> Req,
) -> Option<Req> {
    let cw = victims.casework.as_ref();
    let c = |f: fn(&CaseworkVictims) -> i64| cw.map_or(0, f);
    Some(match (spec.method, spec.path) {
        ("POST", "/api/complaints") => req(
            spec.path.into(),
            Some(format!(
                r#"{{"channel":"hotline","text":"矩阵","plates":["{plate}"]}}"#
            )),
            false,
        ),
        ("GET", "/api/complaints") => req(spec.path.into(), None, false),
        ("GET", "/api/casework/summary") => req(
            "/api/casework/summary?from=2026-01-01&to=2027-01-01".into(),
            None,
            false,
        ),
        ("GET", "/api/complaints/{id}") => req(format!("/api/complaints/{}", c(|v| v.forwarded)), None, true),
        ("GET", "/api/complaints/{id}/evidence") => req(
            format!("/api/complaints/{}/evidence", c(|v| v.forwarded)),
            None,
            true,
        ),
        ("GET", "/api/complaints/{id}/reporter") => req(
            format!("/api/complaints/{}/reporter", c(|v| v.forwarded)),
            None,
            true,
        ),
        ("POST", "/api/complaints/{id}/forward") => req(
            format!("/api/complaints/{}/forward", c(|v| v.received)),
            Some("{}".into()),
            true,
        ),
        ("POST", "/api/complaints/{id}/answer") => req(
            format!("/api/complaints/{}/answer", c(|v| v.forwarded)),
            Some(r#"{"text":"已整改"}"#.into()),
            true,
        ),
        ("POST", "/api/complaints/{id}/review") => req(
            format!("/api/complaints/{}/review", c(|v| v.answered)),
            Some(r#"{"decision":"accept"}"#.into()),
            true,
        ),
        ("POST", "/api/complaints/{id}/reply") => req(
            format!("/api/complaints/{}/reply", c(|v| v.accepted)),
            Some(r#"{"how":"phone","text":"已告知"}"#.into()),
            true,
        ),
        ("POST", "/api/complaints/{id}/cases") => req(
            format!("/api/complaints/{}/cases", c(|v| v.received)),
            Some(format!(r#"{{"open":{vid}}}"#)),
            true,
        ),
        ("PUT", "/api/cases/{id}/finding") => req(
            format!("/api/cases/{}/finding", c(|v| v.explained_case)),
            Some(r#"{"outcome":"unfounded"}"#.into()),
            true,
        ),
        ("GET", "/api/cases/{id}/finding") => {
            req(format!("/api/cases/{}/finding", c(|v| v.found_case)), None, true)
        }
        _ => return None,
    })
}

/// No location data and nothing about the foreign vehicle in a body.
fn assert_no_leak(api: &TestApi, body: &str, what: &str) {
    for needle in [
        "\"lat_deg\"",
        "\"lon_deg\"",
        "\"latitude\"",
        "\"longitude\"",
        "coordinates",
        "trkpt",
        "30.2",
        FOREIGN_PLATE,
    ] {
        assert!(!body.contains(needle), "{what}: body leaks {needle:?}: {body}");
    }
    let foreign = api.vid(FOREIGN_PLATE);
    assert!(
        !body.contains(&format!("\"vehicle\":{foreign}")),
        "{what}: body leaks vehicle {foreign}: {body}"
    );
    assert_error_contract(body, what);
}

/// A failure's body is the one JSON error shape: an object with an `error` message.
#[track_caller]
fn assert_error_contract(body: &str, what: &str) {
    let j: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body:?}"));
    assert!(
        j["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: no error message: {body}"
    );
}

fn cases(api: &TestApi) -> Arc<MemoryCases> {
    let case = |id: &str, plate: &str| {
        let mut detail = serde_json::Map::new();
        detail.insert("rule".into(), "off_hours".into());
        CaseView {
            id: id.into(),
            vehicle: api.vehicles[plate].id,
            state: "open".into(),
            detail,
        }
    };
    Arc::new(MemoryCases(std::sync::Mutex::new(vec![
        case("case-own", SUB_PLATE),
        case("case-foreign", FOREIGN_PLATE),
    ])))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_times_every_role() {
    // Build once to learn the vehicle ids, then serve with cases that point at them.
    let probe = TestApi::seeded(Scratch::embedded("api-matrix-probe")).await;
    let book = cases(&probe);
    let api = TestApi::start(Scratch::embedded("api-matrix"), book.clone()).await;
    api.state.set_jt809_lower_peers(vec!["huangshi".into()]);
    let mut cookies = Vec::new();
    for role in Role::ALL {
        cookies.push((Some(role), api.login(role.as_str()).await));
    }
    let kept_fence = {
        let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        let body: serde_json::Value = serde_json::json!({"name": "常设", "kind": "prohibited", "unit": null,
            "category": null, "speed_limit_kmh": null, "polygons": [[[[115.0,30.2],[115.01,30.2],[115.01,30.21],[115.0,30.2]]]]});
        api.store
            .rules()
            .create_geofence(&serde_json::from_value(body).expect("fence"), now)
            .await
            .expect("a fence to replace")
            .id
    };
    let card = format!(
        "unit,number,issuer,plate,state,state_date,state_reason,limit_fill_yuan,limit_month_yuan\n\
         黄石市/市委办公室/机要科,{MATRIX_CARD},sinopec,{SUB_PLATE},,,,,\n"
    );
    let cards = tianshu_model::fuel::parse_cards_csv(&card).expect("the matrix's card");
    let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    api.store
        .fuel()
        .import_cards(&cards, now)
        .await
        .expect("storing the matrix's card");
    let mut n = 0;
    let mut checked = 0;
    for spec in ROUTES {
        for (role, cookie) in cookies
            .iter()
            .map(|(r, c)| (*r, Some(c.as_str())))
            .chain([(None, None)])
        {
            for target in [Target::Own, Target::Foreign] {
                n += 1;
                // Victims for the delete route, re-opened cases for the action route.
                if spec.path == "/api/users/{username}" {
                    let hash = tianshu_api::hash_password("victim password").expect("hash");
                    api.store
                        .access()
                        .create_user(&tianshu_store::access::NewUser {
                            username: format!("victim{n}"),
                            role: Role::Inspector,
                            unit: None,
                            password_hash: hash,
                        })
                        .await
                        .expect("victim user");
                }
                for c in book.0.lock().expect("cases").iter_mut() {
                    c.state = "open".into();
                }
                let plate = match target {
                    Target::Own => SUB_PLATE,
                    Target::Foreign => FOREIGN_PLATE,
                };
                let mut v = victims(&api, n, plate, kept_fence).await;
                if let Some(role) = role {
                    v.token = victim_token(&api, role, n).await;
                }
                if spec.path.starts_with("/api/carpool/requests/{id}") {
                    v.request = carpool_victim(&api, n, plate, spec.path, v.driver).await;
                }
                if spec.path.starts_with("/api/complaints/{id}") || spec.path.ends_with("/finding") {
                    v.casework = Some(casework_victims(&api, n, plate).await);
                }
                let r = recipe(&api, spec, target, n, &v);
                // Logging out must not end the sessions the rest of the matrix uses.
                let fresh;
                let cookie = match role {
                    Some(role) if spec.method == "DELETE" && spec.path == "/api/session" => {
                        fresh = api.login(role.as_str()).await;
                        Some(fresh.as_str())
                    }
                    _ => cookie,
                };
                let extra: &[(&str, &str)] = if r.upgrade {
                    &[
                        ("Upgrade", "websocket"),
                        ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Version", "13"),
                        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                    ]
                } else {
                    &[]
                };
                let resp = if r.upgrade {
                    // The upgrade request replaces `Connection: close`; send it by hand.
                    http_with(api.addr, r.method, &r.path, cookie, r.body.as_deref(), extra).await
                } else {
                    http(api.addr, r.method, &r.path, cookie, r.body.as_deref()).await
                };
                let what = format!(
                    "{} {} as {role:?} on {target:?}: {}",
                    r.method, r.path, resp.status
                );
                checked += 1;
                let public = spec.roles.is_empty();
                match role {
                    None if !public => {
                        assert_eq!(resp.status, 401, "{what}");
                        assert_no_leak(&api, &resp.body, &what);
                    }
                    Some(role) if !public && !spec.roles.contains(&role) => {
                        assert_eq!(resp.status, 403, "{what}");
                        assert_no_leak(&api, &resp.body, &what);
                    }
                    Some(role) if role.scoped_to_unit() && target == Target::Foreign && r.vehicle_scoped => {
                        assert_eq!(resp.status, 403, "{what}");
                        assert_no_leak(&api, &resp.body, &what);
                    }
                    _ => {
                        let ok = (200..300).contains(&resp.status)
                            || (r.upgrade && resp.status == 101)
                            // No gateway in this process: the command is refused as unavailable, after the checks.
                            || (spec.path.ends_with("/commands") && resp.status == 503)
                            // No basemap files are configured here: not found, after the checks.
                            || (spec.path.starts_with("/api/basemap") && resp.status == 404)
                            // The public intake is off by default: not found, to anyone.
                            || (matches!(spec.path, "/report" | "/api/report") && resp.status == 404);
                        assert!(ok, "{what}: {}", resp.body);
                        if role.is_some_and(Role::scoped_to_unit) && !r.upgrade {
                            assert_no_leak_of_foreign(&api, &resp.body, &what);
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, ROUTES.len() * (Role::ALL.len() + 1) * 2);
}

/// A supervisor's successful answers never mention the foreign vehicle.
fn assert_no_leak_of_foreign(api: &TestApi, body: &str, what: &str) {
    assert!(
        !body.contains(FOREIGN_PLATE),
        "{what}: leaks the foreign plate: {body}"
    );
    let foreign = api.vid(FOREIGN_PLATE);
    for pat in [
        format!("\"vehicle\":{foreign},"),
        format!("\"vehicle\":{foreign}}}"),
    ] {
        assert!(!body.contains(&pat), "{what}: leaks vehicle {foreign}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_their_unit_and_sub_units_only() {
    let api = TestApi::seeded(Scratch::embedded("api-scope")).await;
    let sup = api.login("supervisor").await;
    let r = http(api.addr, "GET", "/api/vehicles", Some(&sup), None).await;
    let mut plates: Vec<String> = r
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["plate"].as_str().unwrap_or("").to_string())
        .collect();
    plates.sort();
    assert_eq!(plates, [OWN_PLATE, SUB_PLATE]);
    let r = http(api.addr, "GET", "/api/positions/latest", Some(&sup), None).await;
    assert_eq!(r.json().as_array().expect("array").len(), 2);
    // By plate too (percent-encoded UTF-8), in scope and out of it.
    let by_plate = |plate: &str| format!("/api/positions?plate={}&from={FROM}&to={TO}", enc(plate));
    let own = http(api.addr, "GET", &by_plate(OWN_PLATE), Some(&sup), None).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json().as_array().expect("array").len(), 60);
    let foreign = http(api.addr, "GET", &by_plate(FOREIGN_PLATE), Some(&sup), None).await;
    assert_eq!(foreign.status, 403);
    assert_no_leak(&api, &foreign.body, "foreign plate");
    // An unknown plate looks exactly like a foreign one to a supervisor.
    let unknown = http(api.addr, "GET", &by_plate("鄂B99999"), Some(&sup), None).await;
    assert_eq!(unknown.status, 403);
    // The administrator sees all three.
    let admin = api.login("administrator").await;
    let r = http(api.addr, "GET", "/api/vehicles", Some(&admin), None).await;
    assert_eq!(r.json().as_array().expect("array").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_logouts() {
    let api = TestApi::seeded(Scratch::embedded("api-login")).await;
    for who in ["inspector", "ghost"] {
        let body = format!(r#"{{"username":"{who}","password":"nope"}}"#);
        let refused = http(api.addr, "POST", "/api/session", None, Some(&body)).await;
        assert_eq!(refused.status, 401, "a wrong password for {who}");
        assert!(refused.header("set-cookie").is_none(), "no cookie for {who}");
    }
    let cookie = api.login("inspector").await;
    assert_eq!(
        http(api.addr, "GET", "/api/me", Some(&cookie), None).await.json()["role"],
        "inspector"
    );
    assert_eq!(
        http(api.addr, "DELETE", "/api/session", Some(&cookie), None)
            .await
            .status,
        204
    );
    assert_eq!(
        http(api.addr, "GET", "/api/me", Some(&cookie), None).await.status,
        401
    );
    // Failed and successful logins are in the audit log.
    let admin = api.login("administrator").await;
    let log = http(api.addr, "GET", "/api/audit", Some(&admin), None)
        .await
        .json();
    let actions = texts(&log, "action");
    assert_eq!(&actions[..3], ["login.failed", "login.failed", "login"]);
    assert!(actions.contains(&"logout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route() {
    let api = TestApi::seeded(Scratch::embedded("api-openapi")).await;
    let doc = http(api.addr, "GET", "/api/openapi.json", None, None)
        .await
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    for spec in ROUTES {
        let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing", spec.method, spec.path);
        assert_eq!(op["x-roles"].as_array().map(Vec::len), Some(spec.roles.len()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_report_sums_trips_and_is_audited() {
    let api = TestApi::seeded(Scratch::embedded("api-report")).await;
    let inspector = api.login("inspector").await;
    let vid = api.vid(OWN_PLATE);
    let r = http(
        api.addr,
        "GET",
        &format!("/api/vehicles/{vid}/report?month=2026-11"),
        Some(&inspector),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    // Ten minutes at 40 km/h, 59 steps of 0.0002 degree of longitude at 30.2 N (about 19.2 m each).
    assert_eq!(j["points"], 60);
    assert_eq!(j["trips"], 1);
    assert_eq!(j["days_used"], 1);
    let km = j["distance_km"].as_f64().expect("distance");
    assert!((km - 1.1).abs() < 0.05, "{km}");
    assert_eq!(j["hours_in_use"].as_f64(), Some(0.16));
    assert_eq!(
        j["from"], "2026-10-31T16:00:00Z",
        "the month starts at China midnight"
    );
    // An empty month is a report of zeros, not an error; a malformed month is refused.
    let r = http(
        api.addr,
        "GET",
        &format!("/api/vehicles/{vid}/report?month=2026-10"),
        Some(&inspector),
        None,
    )
    .await;
    assert_eq!(r.json()["trips"], 0);
    let r = http(
        api.addr,
        "GET",
        &format!("/api/vehicles/{vid}/report?month=2026-13"),
        Some(&inspector),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    let log = api.store.access().audit(0, 100).await.expect("audit");
    assert_eq!(log.iter().filter(|r| r.entry.action == "report").count(), 2);
}

/// Every way a request can fail answers in the same JSON shape, `{"error": "..."}`, with
/// `application/json`: no route, a method the path lacks, a path parameter, a query or a body that does
/// not parse (the message naming the field), a wrong login, no session, a role refused, a live feed
/// asked for without the upgrade, a missing asset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_answers_in_the_one_json_error_contract() {
    let api = TestApi::seeded(Scratch::embedded("api-errors")).await;
    let admin = api.login("administrator").await;
    let inspector = api.login("inspector").await;
    let dispatcher = api.login("dispatcher").await;
    let vid = api.vid(OWN_PLATE);
    let commands = format!("/api/vehicles/{vid}/commands");
    let (a, i, d) = (
        Some(admin.as_str()),
        Some(inspector.as_str()),
        Some(dispatcher.as_str()),
    );
    // (method, path, cookie, body, status, what the message must name)
    type Failure<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, u16, &'a str);
    let cases: Vec<Failure> = vec![
        ("GET", "/api/nowhere", a, None, 404, "/api/nowhere"),
        ("PUT", "/api/me", a, Some("{}"), 405, "PUT"),
        ("GET", "/api/vehicles/abc", a, None, 400, "id"),
        ("GET", "/api/cases?limit=many", i, None, 400, "limit"),
        ("GET", "/api/positions?vehicle=1", i, None, 400, "from"),
        (
            "GET",
            "/api/positions?vehicle=1&from=yesterday&to=now",
            i,
            None,
            400,
            "from",
        ),
        (
            "POST",
            "/api/session",
            None,
            Some(r#"{"username":1,"password":"x"}"#),
            400,
            "username",
        ),
        ("POST", "/api/session", None, Some("{"), 400, "body"),
        (
            "POST",
            "/api/session",
            None,
            Some(r#"{"username":"inspector","password":"wrong"}"#),
            401,
            "password",
        ),
        (
            "POST",
            "/api/cases/x/actions",
            i,
            Some(r#"{"action":"close","note":7}"#),
            400,
            "note",
        ),
        (
            "POST",
            &commands,
            d,
            Some(r#"{"kind":"temporary_tracking","interval_secs":-1,"duration_secs":60}"#),
            400,
            "interval_secs",
        ),
        (
            "POST",
            &commands,
            d,
            Some(r#"{"kind":"text","text":" "}"#),
            400,
            "text",
        ),
        ("GET", "/api/me", None, None, 401, "logged in"),
        ("GET", "/api/users", i, None, 403, "forbidden"),
        ("GET", "/api/live", a, None, 400, "upgrade"),
        ("GET", "/assets/nope.js", None, None, 404, "nope.js"),
    ];
    for (method, path, cookie, body, status, names) in cases {
        let r = http(api.addr, method, path, cookie, body).await;
        let what = format!("{method} {path} {body:?}");
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
        assert_error_contract(&r.body, &what);
        let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains(names), "{what}: {msg:?} names {names:?}");
    }
}

/// A position has one shape wherever it leaves as an object (the stored points, the latest positions, a
/// vehicle's detail): the same fields, units in their names. The replay's compact rows name their
/// columns with the same names and carry the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_position_leaves_in_one_shape() {
    let api = TestApi::seeded(Scratch::embedded("api-positions")).await;
    let inspector = api.login("inspector").await;
    let i = Some(inspector.as_str());
    let vid = api.vid(OWN_PLATE);
    let get = |path: String| async move { http(api.addr, "GET", &path, i, None).await.json() };
    let stored = get(format!("/api/positions?vehicle={vid}&from={FROM}&to={TO}")).await;
    let latest = get("/api/positions/latest".into()).await;
    let detail = get(format!("/api/vehicles/{vid}")).await;
    let replay = get(format!(
        "/api/vehicles/{vid}/replay?from={FROM}&to={TO}&tolerance_m=0"
    ))
    .await;
    let first = &stored[0];
    let keys = |p: &serde_json::Value| {
        let mut k: Vec<String> = p
            .as_object()
            .expect("a position object")
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    for name in [
        "vehicle",
        "fix_time",
        "receive_time",
        "latitude",
        "longitude",
        "altitude_m",
        "speed_kmh",
        "course_deg",
        "acc_on",
    ] {
        assert!(first.get(name).is_some(), "{name} in {first}");
    }
    assert!(
        first.get("lat_e6").is_none() && first.get("speed_dkmh").is_none(),
        "{first}"
    );
    assert_eq!(first["latitude"].as_f64(), Some(30.2), "{first}");
    assert_eq!(
        first["lat_deg"], first["latitude"],
        "the deprecated name, the same value"
    );
    assert_eq!(first["speed_kmh"].as_f64(), Some(40.0), "{first}");
    let own_latest = latest
        .as_array()
        .expect("latest positions")
        .iter()
        .find(|p| p["vehicle"] == vid)
        .expect("the own vehicle's latest position");
    assert_eq!(keys(own_latest), keys(first));
    assert_eq!(keys(&detail["latest"]), keys(first));
    assert_eq!(&detail["latest"], own_latest);
    // The replay's rows: every stored point, the columns named as the object's fields.
    let columns: Vec<&str> = replay["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        columns.contains(&"latitude") && columns.contains(&"longitude"),
        "{columns:?}"
    );
    let rows = replay["points"].as_array().expect("rows");
    assert_eq!(rows.len(), stored.as_array().map_or(0, Vec::len));
    let row = &rows[0];
    for (k, name) in columns.iter().enumerate() {
        let want = match *name {
            "fix_time_ms" => {
                let t = first["fix_time"].as_str().expect("fix_time");
                serde_json::json!(Timestamp::parse_rfc3339(t).expect("RFC 3339").millis())
            }
            "acc_on" => serde_json::json!(u8::from(first["acc_on"] == true)),
            _ => first[*name].clone(),
        };
        assert_eq!(row[k], want, "column {name}");
    }
}

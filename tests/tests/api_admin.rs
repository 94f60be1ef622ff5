//! Reference data through the API: units, vehicles, terminals, geofences, orders and calendars created,
//! changed and deleted with every validation error answered 400 naming the field, clashes 409 and
//! unknown records 404, every change audited; trips and stops of a range; and, against the real
//! binary, a terminal provisioned through the API that registers over JT/T 808 and a login session
//! that survives a restart of the server.

use std::net::SocketAddr;

use tianshu_e2e::api::{
    FOREIGN_PLATE, OWN_PLATE, PASSWORD, Resp, SUB_PLATE, SUPERVISOR_UNIT, Scratch, TestApi, create_user, enc,
    http, login_at, status,
};
use tianshu_e2e::{ScratchDir, on_both_backends, registry_record};
use tianshu_model::Timestamp;
use tianshu_store::Store;
use tianshu_store::access::{Role, verify_stored_chain};

const FROM: &str = "2026-11-18T00:00:00Z";
const TO: &str = "2026-11-19T00:00:00Z";

/// Asserts a 400 whose message names `field`.
#[track_caller]
fn bad(r: &Resp, field: &str, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains(field), "{what}: the message {msg:?} names {field:?}");
}

/// A request (method, path, JSON body or "" for none) and the answer it must get: the status, and for a
/// 400 the field its message names; the last names the case in a failure.
type Asked<'a> = (&'a str, &'a str, &'a str, u16, &'a str, &'a str);

/// Sends each request in turn as `cookie` and checks its answer.
async fn answers(addr: SocketAddr, cookie: Option<&str>, asked: &[Asked<'_>]) {
    for &(method, path, body, want, field, what) in asked {
        let r = http(addr, method, path, cookie, (!body.is_empty()).then_some(body)).await;
        if want == 400 {
            bad(&r, field, what);
        } else {
            status(&r, want, what);
        }
    }
}

fn fence(name: &str, kind: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"Feature","geometry":{{"type":"Polygon","coordinates":[[[115.0,30.2],[115.01,30.2],[115.01,30.21],[115.0,30.21],[115.0,30.2]]]}},"properties":{{"name":"{name}","kind":"{kind}"{extra}}}}}"#
    )
}

fn order(id: &str, plate: &str, state: &str) -> String {
    format!(
        r#"{{"id":"{id}","kind":"order","plate":"{plate}","purpose":"会议","start":"2026-11-18T00:00:00Z","end":"2026-11-18T04:00:00Z","state":"{state}"}}"#
    )
}

const CALENDAR_2031: &str = r#"year = 2031
notice = "test notice"

[[holiday]]
name = "元旦"
name_en = "New Year's Day"
first = "2031-01-01"
last = "2031-01-01"
"#;

/// Units: a tree, validated, renamed; returns the root and its sub-unit.
async fn units(api: &TestApi, a: Option<&str>) -> (i64, i64) {
    let addr = api.addr;
    // Units: a tree.
    let r = http(addr, "POST", "/api/units", a, Some(r#"{"name":"审计局"}"#)).await;
    status(&r, 201, "a root unit");
    let root = r.json()["id"].as_i64().expect("unit id");
    let r = http(
        addr,
        "POST",
        "/api/units",
        a,
        Some(&format!(r#"{{"name":"一科","parent":{root}}}"#)),
    )
    .await;
    status(&r, 201, "a sub-unit");
    let sub = r.json()["id"].as_i64().expect("unit id");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("POST", "/api/units", r#"{"parent":null}"#, 400, "name", "a unit without a name"),
        ("POST", "/api/units", r#"{"name":"  "}"#, 400, "name", "a blank name"),
        ("POST", "/api/units", r#"{"name":"a/b"}"#, 400, "name", "a name with a slash"),
        ("POST", "/api/units", r#"{"name":"x","parent":999999}"#, 400, "parent", "an unknown parent"),
        ("POST", "/api/units", r#"{"name":"x","parent":"one"}"#, 400, "parent", "a parent of the wrong type"),
        ("POST", "/api/units", r#"{"name":"x","colour":"red"}"#, 400, "colour", "an unknown field"),
        ("POST", "/api/units", "{not json", 400, "body", "a body that is not JSON"),
        ("POST", "/api/units", &format!(r#"{{"name":"一科","parent":{root}}}"#), 409, "", "a sibling with the same name"),
        ("PATCH", &format!("/api/units/{root}"), &format!(r#"{{"parent":{sub}}}"#), 400, "parent", "a unit moved below itself"),
        ("PATCH", "/api/units/999999", r#"{"name":"y"}"#, 404, "", "an unknown unit"),
    ];
    answers(addr, a, asked).await;
    let r = http(
        addr,
        "PATCH",
        &format!("/api/units/{root}"),
        a,
        Some(r#"{"name":"审计署"}"#),
    )
    .await;
    status(&r, 200, "a rename");
    assert_eq!(r.json()["name"], "审计署");
    // A registry import addressing the renamed subtree by its new path finds the same units.
    api.store
        .import_registry(&[registry_record(
            "审计署/一科",
            "鄂B30001",
            13_700_000_001,
            "T30001",
        )])
        .await
        .expect("an import into the renamed subtree");
    let v = api
        .store
        .vehicle_by_plate("鄂B30001")
        .await
        .expect("store")
        .expect("imported");
    assert_eq!(v.unit.0, sub, "the subtree's paths followed the rename");

    (root, sub)
}

/// Drivers: registered, checked field by field, replaced, seen only within scope, deleted; a unit with a
/// driver is not deleted.
async fn drivers(api: &TestApi, a: Option<&str>, root: i64, sub: i64) {
    let addr = api.addr;
    let body = |name: &str, cert: &str, unit: i64| {
        format!(r#"{{"name":"{name}","certificate":"{cert}","phone":"13800000001","unit":{unit}}}"#)
    };
    let r = http(
        addr,
        "POST",
        "/api/drivers",
        a,
        Some(&body(" 张师傅 ", "qc-4202-001", sub)),
    )
    .await;
    status(&r, 201, "a driver");
    let d = r.json();
    let id = d["id"].as_i64().expect("driver id");
    assert_eq!(
        (d["name"].as_str(), d["certificate"].as_str()),
        (Some("张师傅"), Some("QC-4202-001"))
    );
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("POST", "/api/drivers", &body("", "QC-2", sub), 400, "name", "a driver without a name"),
        ("POST", "/api/drivers", &body("李", "证 2", sub), 400, "certificate", "a certificate with a space"),
        ("POST", "/api/drivers", &body("李", "QC-2", 999_999), 400, "unit", "an unknown unit"),
        ("POST", "/api/drivers", &body("李", "QC-2", sub).replace("13800000001", "13x"), 400, "phone", "a phone with a letter"),
        ("POST", "/api/drivers", r#"{"name":"李","certificate":"QC-2"}"#, 400, "unit", "no unit"),
        ("POST", "/api/drivers", &body("李", "qc-4202-001", sub), 409, "", "another driver's certificate"),
        ("PUT", "/api/drivers/999999", &body("李", "QC-3", sub), 404, "", "an unknown driver"),
        ("DELETE", &format!("/api/units/{sub}"), "", 409, "", "a unit with a driver"),
    ];
    answers(addr, a, asked).await;
    for (body, field) in [
        (body("", "QC-2", sub), "name"),
        (body("李", "证 2", sub), "certificate"),
        (body("李", "QC-2", 999_999), "unit"),
    ] {
        let r = http(addr, "POST", "/api/drivers", a, Some(&body)).await;
        let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(
            msg.starts_with(&format!("{field}: ")),
            "{msg:?} starts with {field:?}"
        );
    }
    let r = http(
        addr,
        "PUT",
        &format!("/api/drivers/{id}"),
        a,
        Some(&body("张师傅", "QC-4202-001", root)),
    )
    .await;
    status(&r, 200, "a driver moved to the root unit");
    assert_eq!(r.json()["unit"], root);
    let list = http(addr, "GET", "/api/drivers", a, None).await.json();
    assert!(
        list.as_array()
            .expect("a list")
            .iter()
            .any(|x| x["id"] == id && x["unit"] == root)
    );
    // A supervisor of another unit does not see them.
    let sup = api.login("supervisor").await;
    let theirs = http(addr, "GET", "/api/drivers", Some(&sup), None).await.json();
    assert!(
        !theirs.as_array().expect("a list").iter().any(|x| x["id"] == id),
        "{theirs}"
    );
    let r = http(
        addr,
        "POST",
        "/api/drivers",
        Some(&sup),
        Some(&body("王", "QC-9", root)),
    )
    .await;
    status(&r, 403, "a supervisor registering a driver");
    let r = http(addr, "DELETE", &format!("/api/drivers/{id}"), a, None).await;
    status(&r, 204, "a driver deleted");
    let list = http(addr, "GET", "/api/drivers", a, None).await.json();
    assert!(!list.as_array().expect("a list").iter().any(|x| x["id"] == id));
}

/// Vehicles in the sub-unit; returns the one created.
async fn vehicles(api: &TestApi, a: Option<&str>, root: i64, sub: i64) -> i64 {
    let addr = api.addr;
    // Vehicles.
    let unit_body = |plate: &str, unit: i64, class: &str| {
        format!(r#"{{"plate":"{plate}","unit":{unit},"class":"{class}"}}"#)
    };
    let r = http(
        addr,
        "POST",
        "/api/vehicles",
        a,
        Some(&unit_body("鄂B40001", sub, "confidential")),
    )
    .await;
    status(&r, 201, "a vehicle");
    let vid = r.json()["id"].as_i64().expect("vehicle id");
    assert_eq!(r.json()["class"], "confidential");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("POST", "/api/vehicles", &unit_body("鄂B40002", sub, "limousine"), 400, "class", "an unknown class"),
        ("POST", "/api/vehicles", &format!(r#"{{"unit":{sub},"class":"general"}}"#), 400, "plate", "a vehicle without a plate"),
        ("POST", "/api/vehicles", &unit_body(" ", sub, "general"), 400, "plate", "a blank plate"),
        ("POST", "/api/vehicles", &unit_body("鄂B40003", 999_999, "general"), 400, "unit", "an unknown unit"),
        ("POST", "/api/vehicles", &unit_body(OWN_PLATE, sub, "general"), 409, "", "a plate taken"),
    ];
    answers(addr, a, asked).await;
    let r = http(
        addr,
        "PATCH",
        &format!("/api/vehicles/{vid}"),
        a,
        Some(r#"{"class":"emergency"}"#),
    )
    .await;
    status(&r, 200, "a class change");
    assert_eq!(r.json()["class"], "emergency");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("PATCH", &format!("/api/vehicles/{vid}"), r#"{"class":"tank"}"#, 400, "class", "a bad class change"),
        ("PATCH", &format!("/api/vehicles/{vid}"), &format!(r#"{{"plate":"{OWN_PLATE}"}}"#), 409, "", "a plate change onto another car's plate"),
        ("PATCH", "/api/vehicles/999999", r#"{"class":"general"}"#, 404, "", "an unknown vehicle"),
    ];
    answers(addr, a, asked).await;
    // A unit with vehicles or sub-units stays.
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("DELETE", &format!("/api/units/{sub}"), "", 409, "", "a unit with vehicles"),
        ("DELETE", &format!("/api/units/{root}"), "", 409, "", "a unit with sub-units"),
    ];
    answers(addr, a, asked).await;

    vid
}

/// Terminals bound to vehicle `vid`, then vehicles and units deleted.
async fn terminals(api: &TestApi, a: Option<&str>, vid: i64) {
    let addr = api.addr;
    // Terminals.
    let r = http(
        addr,
        "POST",
        "/api/terminals",
        a,
        Some(r#"{"phone":"13700000002","terminal_id":"T40001","plate":"鄂B40001","edition":"2019"}"#),
    )
    .await;
    status(&r, 201, "a terminal");
    assert_eq!(r.json()["vehicle"], vid);
    assert_eq!(r.json()["registered"], false);
    for (body, field, what) in [
        (
            r#"{"phone":"12ab","terminal_id":"T1"}"#,
            "phone",
            "a phone with letters",
        ),
        (
            r#"{"phone":"13700000003","terminal_id":"T1234567890123456789012345678901"}"#,
            "terminal_id",
            "a terminal id too long",
        ),
        (
            r#"{"phone":"13700000003","terminal_id":""}"#,
            "terminal_id",
            "an empty terminal id",
        ),
        (
            r#"{"phone":"13700000003","terminal_id":"T1","plate":"鄂Z00000"}"#,
            "plate",
            "an unknown plate",
        ),
        (
            r#"{"phone":"13700000003","terminal_id":"T1","plate":"鄂B40001","vehicle":1}"#,
            "plate",
            "both a plate and a vehicle",
        ),
        (
            r#"{"phone":"13700000003","terminal_id":"T1","edition":"2015"}"#,
            "edition",
            "an unknown edition",
        ),
        (
            r#"{"phone":"13700000003","terminal_id":"T1","vehicle":999999}"#,
            "vehicle",
            "an unknown vehicle",
        ),
        (r#"{"terminal_id":"T1"}"#, "phone", "no phone"),
    ] {
        bad(
            &http(addr, "POST", "/api/terminals", a, Some(body)).await,
            field,
            what,
        );
    }
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("POST", "/api/terminals", r#"{"phone":"13700000002","terminal_id":"T9"}"#, 409, "", "a phone taken"),
        ("PATCH", "/api/terminals/12ab", r#"{"reset_auth_code":true}"#, 400, "phone", "a bad phone in the path"),
        ("PATCH", "/api/terminals/13799999999", r#"{"reset_auth_code":true}"#, 404, "", "an unknown terminal"),
        ("DELETE", &format!("/api/vehicles/{vid}"), "", 409, "", "a vehicle with a terminal"),
    ];
    answers(addr, a, asked).await;
    let r = http(
        addr,
        "PATCH",
        "/api/terminals/13700000002",
        a,
        Some(r#"{"vehicle":null}"#),
    )
    .await;
    status(&r, 200, "an unbinding");
    assert!(r.json()["vehicle"].is_null());
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("DELETE", "/api/terminals/13700000002", "", 204, "", "a terminal deleted"),
        ("DELETE", "/api/terminals/13700000002", "", 404, "", "a terminal deleted twice"),
    ];
    answers(addr, a, asked).await;
    // A car with a stored track stays; one without goes, and so does its emptied unit.
    let own = api.vid(OWN_PLATE);
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("DELETE", &format!("/api/vehicles/{own}"), "", 409, "", "a vehicle with a track"),
        ("DELETE", &format!("/api/vehicles/{vid}"), "", 204, "", "a vehicle deleted"),
        ("DELETE", &format!("/api/vehicles/{vid}"), "", 404, "", "a vehicle deleted twice"),
    ];
    answers(addr, a, asked).await;
    let r = http(addr, "POST", "/api/units", a, Some(r#"{"name":"临时组"}"#)).await;
    let empty = r.json()["id"].as_i64().expect("unit id");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("DELETE", &format!("/api/units/{empty}"), "", 204, "", "an empty unit deleted"),
        ("DELETE", &format!("/api/units/{empty}"), "", 404, "", "a unit deleted twice"),
    ];
    answers(addr, a, asked).await;
}

/// Geofences in the import's GeoJSON format; a depot follows renames of the unit tree under `root`.
async fn geofences(api: &TestApi, a: Option<&str>, root: i64) {
    let addr = api.addr;
    // Geofences, in the import's GeoJSON format.
    let stamp0 = api.store.rules().reference_stamp().await.expect("stamp");
    let r = http(
        addr,
        "POST",
        "/api/geofences",
        a,
        Some(&fence("湖畔会所", "prohibited", r#","category":"club""#)),
    )
    .await;
    status(&r, 201, "a prohibited place");
    let fid = r.json()["id"].as_i64().expect("fence id");
    let stamp1 = api.store.rules().reference_stamp().await.expect("stamp");
    assert!(stamp1 > stamp0, "a new fence moves the reference stamp");
    for (body, field, what) in [
        (fence("", "prohibited", ""), "properties.name", "a fence without a name"),
        (fence("x", "casino", ""), "properties.kind", "an unknown kind"),
        (
            fence("x", "depot", r#","unit":"无此单位""#),
            "properties.unit",
            "a depot of an unknown unit",
        ),
        (fence("x", "depot", ""), "properties.unit", "a depot without a unit"),
        (
            fence("x", "speed_zone", ""),
            "speed_limit_kmh",
            "a speed zone without a limit",
        ),
        (
            fence("x", "speed_zone", r#","speed_limit_kmh":900"#),
            "speed_limit_kmh",
            "a speed limit out of range",
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[115.0,30.2]},"properties":{"name":"x","kind":"region"}}"#.into(),
            "geometry",
            "a point, not a polygon",
        ),
    ] {
        bad(&http(addr, "POST", "/api/geofences", a, Some(&body)).await, field, what);
    }
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("POST", "/api/geofences", &fence("湖畔会所", "prohibited", ""), 409, "", "a fence with a taken kind and name"),
    ];
    answers(addr, a, asked).await;
    let depot = fence("一科停车场", "depot", r#","unit":"审计署/一科""#);
    let r = http(addr, "PUT", &format!("/api/geofences/{fid}"), a, Some(&depot)).await;
    status(&r, 200, "a fence replaced");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("PUT", "/api/geofences/999999", &depot, 404, "", "an unknown fence"),
    ];
    answers(addr, a, asked).await;
    // A depot names its unit by path, and follows a rename of the unit or of a unit above it.
    let rename = |name: &'static str| async move {
        let body = format!(r#"{{"name":"{name}"}}"#);
        http(addr, "PATCH", &format!("/api/units/{root}"), a, Some(&body)).await
    };
    let depot_unit = || async {
        let list = http(addr, "GET", "/api/geofences", a, None).await;
        list.json()["features"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["id"] == fid))
            .map(|f| f["properties"]["unit"].clone())
    };
    let stamp = api.store.rules().reference_stamp().await.expect("stamp");
    status(&rename("审计局").await, 200, "the depot's parent unit renamed");
    assert_eq!(
        depot_unit().await,
        Some("审计局/一科".into()),
        "the depot followed"
    );
    assert!(
        api.store.rules().reference_stamp().await.expect("stamp") > stamp,
        "the rename moves the reference stamp, so the rules reload the depot"
    );
    status(&rename("审计署").await, 200, "renamed back");
    assert_eq!(depot_unit().await, Some("审计署/一科".into()), "and back");
    let list = http(addr, "GET", "/api/geofences", a, None).await;
    assert_eq!(
        list.header("content-type"),
        Some("application/geo+json"),
        "GeoJSON's media type"
    );
    let features = list.json()["features"].as_array().cloned().unwrap_or_default();
    assert!(
        features
            .iter()
            .any(|f| f["id"] == fid && f["properties"]["kind"] == "depot"),
        "{features:?}"
    );
    let stamp2 = api.store.rules().reference_stamp().await.expect("stamp");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("DELETE", &format!("/api/geofences/{fid}"), "", 204, "", "a fence deleted"),
    ];
    answers(addr, a, asked).await;
    assert!(
        api.store.rules().reference_stamp().await.expect("stamp") > stamp2,
        "a deletion moves the reference stamp"
    );
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("DELETE", &format!("/api/geofences/{fid}"), "", 404, "", "a fence deleted twice"),
    ];
    answers(addr, a, asked).await;
}

/// Orders and filings, written by dispatchers; returns a supervisor's session.
async fn orders(api: &TestApi) -> String {
    let addr = api.addr;
    // Orders and filings: dispatchers write them.
    let dispatcher = api.login("dispatcher").await;
    let d = Some(dispatcher.as_str());
    let r = http(
        addr,
        "POST",
        "/api/orders",
        d,
        Some(&order("PC-1", SUB_PLATE, "requested")),
    )
    .await;
    status(&r, 201, "an order requested");
    for (body, field, what) in [
        (order("PC-2", SUB_PLATE, "pending"), "state", "an unknown state"),
        (
            order("PC-2", SUB_PLATE, "requested").replace("04:00:00Z", "-1"),
            "end",
            "a bad end time",
        ),
        (
            order("PC-2", SUB_PLATE, "requested").replace("T04:00", "T00:00"),
            "end",
            "an end not after the start",
        ),
        (
            order("PC-2", "鄂Z99999", "requested"),
            "plate",
            "a plate not registered",
        ),
        (
            order("PC-2", SUB_PLATE, "requested").replace(r#""kind":"order""#, r#""kind":"memo""#),
            "kind",
            "an unknown kind",
        ),
        (
            order("PC-2", SUB_PLATE, "requested")
                .replace(r#""kind":"order""#, r#""kind":"filing""#)
                .replace(r#""purpose":"会议","#, ""),
            "purpose",
            "a filing without a purpose",
        ),
        (
            order("PC-2", SUB_PLATE, "requested").replace(r#""id":"PC-2","#, ""),
            "id",
            "an order without an id",
        ),
        (
            order("PC-2", SUB_PLATE, "requested").replace(r#""state""#, r#""corridor_m":-5,"state""#),
            "corridor_m",
            "a negative corridor",
        ),
    ] {
        bad(
            &http(addr, "POST", "/api/orders", d, Some(&body)).await,
            field,
            what,
        );
    }
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("POST", "/api/orders", &order("PC-1", SUB_PLATE, "requested"), 409, "", "an order id taken"),
        ("PATCH", "/api/orders/PC-1", r#"{"state":"approved"}"#, 403, "", "an order approved by who filed it"),
    ];
    answers(addr, d, asked).await;
    let before = api.store.rules().reference_stamp().await.expect("stamp");
    // A second person approves it.
    let admin = api.login("administrator").await;
    let r = http(
        addr,
        "PATCH",
        "/api/orders/PC-1",
        Some(&admin),
        Some(r#"{"state":"approved"}"#),
    )
    .await;
    status(&r, 200, "an order approved after the fact");
    assert_eq!(r.json()["state"], "approved");
    assert_eq!(
        (&r.json()["filed_by"], &r.json()["approved_by"]),
        (
            &serde_json::json!("dispatcher"),
            &serde_json::json!("administrator")
        )
    );
    let after = api.store.rules().reference_stamp().await.expect("stamp");
    assert!(after > before, "approving moves the stamp the rules reload on");
    let changed = api
        .store
        .rules()
        .orders_updated_after(before)
        .await
        .expect("changed orders");
    assert!(
        changed.iter().any(|o| o.id == "PC-1" && o.state == "approved"),
        "the reload sees the approval as a change to re-evaluate: {changed:?}"
    );
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("PATCH", "/api/orders/PC-1", r#"{"state":"requested"}"#, 409, "", "an approved order back to requested"),
        ("PATCH", "/api/orders/PC-1", r#"{"state":"done"}"#, 400, "state", "an unknown state"),
        ("PATCH", "/api/orders/PC-404", r#"{"state":"approved"}"#, 404, "", "an unknown order"),
    ];
    answers(addr, d, asked).await;
    let r = http(
        addr,
        "GET",
        &format!(
            "/api/orders?plate={}&state=approved&from={FROM}&to={TO}",
            enc(SUB_PLATE)
        ),
        d,
        None,
    )
    .await;
    status(&r, 200, "orders by plate and state");
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("GET", "/api/orders?from=yesterday", "", 400, "from", "a bad from"),
        ("GET", "/api/orders?state=maybe", "", 400, "state", "a bad state filter"),
    ];
    answers(addr, d, asked).await;
    let sup = api.login("supervisor").await;
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("GET", &format!("/api/orders?plate={}", enc(FOREIGN_PLATE)), "", 403, "", "a supervisor asking for another unit's orders"),
    ];
    answers(addr, Some(&sup), asked).await;

    sup
}

/// Calendars in the import's TOML format.
async fn calendars(api: &TestApi, a: Option<&str>) {
    let addr = api.addr;
    // Calendars, in the import's TOML format.
    let r = http(addr, "PUT", "/api/calendars/2031", a, Some(CALENDAR_2031)).await;
    status(&r, 201, "a new calendar year");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("PUT", "/api/calendars/2031", CALENDAR_2031, 200, "", "a calendar year replaced"),
        ("PUT", "/api/calendars/2032", CALENDAR_2031, 400, "year", "a file for another year"),
        ("PUT", "/api/calendars/twenty", CALENDAR_2031, 400, "year", "a year that is not a number"),
        ("PUT", "/api/calendars/2031", &CALENDAR_2031.replace("2031-01-01\"\n", "2031-02-30\"\n"), 400, "line", "an impossible date"),
    ];
    answers(addr, a, asked).await;
    let years = http(addr, "GET", "/api/calendars", a, None).await.json();
    let y2031 = years
        .as_array()
        .and_then(|ys| ys.iter().find(|y| y["year"] == 2031).cloned())
        .expect("2031 listed");
    assert_eq!(y2031["source"], "stored");
    assert_eq!(y2031["holidays"][0]["first"], "2031-01-01");
}

/// Trips and stops of a range; returns the inspector's session.
async fn trips(api: &TestApi) -> String {
    let addr = api.addr;
    // Trips and stops of a range, audited like a replay.
    let inspector = api.login("inspector").await;
    let r = http(
        addr,
        "GET",
        &format!("/api/vehicles/{}/trips?from={FROM}&to={TO}", api.vid(OWN_PLATE)),
        Some(&inspector),
        None,
    )
    .await;
    status(&r, 200, "trips");
    assert_eq!(r.json()["points"], 60);
    assert_eq!(r.json()["trips"].as_array().map(Vec::len), Some(1));
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("GET", &format!("/api/vehicles/{}/trips?from={TO}&to={FROM}", api.vid(OWN_PLATE)), "", 400, "to", "a range that ends before it starts"),
    ];
    answers(addr, Some(&inspector), asked).await;

    inspector
}

/// Disabling a user ends their sessions and their logins.
async fn users(api: &TestApi, a: Option<&str>, inspector: &str) {
    let addr = api.addr;
    // Disabling a user ends their sessions and their logins.
    let r = http(
        addr,
        "PATCH",
        "/api/users/inspector",
        a,
        Some(r#"{"disabled":true}"#),
    )
    .await;
    status(&r, 200, "a user disabled");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("GET", "/api/me", "", 401, "", "a disabled user's session"),
    ];
    answers(addr, Some(inspector), asked).await;
    let login = http(
        addr,
        "POST",
        "/api/session",
        None,
        Some(&format!(r#"{{"username":"inspector","password":"{PASSWORD}"}}"#)),
    )
    .await;
    status(&login, 401, "a disabled user's login");
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("PATCH", "/api/users/inspector", r#"{"disabled":"yes"}"#, 400, "disabled", "a disabled flag that is not a boolean"),
        ("PATCH", "/api/users/administrator", r#"{"disabled":true}"#, 409, "", "an administrator disabling themselves"),
        ("PATCH", "/api/users/ghost", r#"{"disabled":true}"#, 404, "", "an unknown user"),
        ("PATCH", "/api/users/inspector", r#"{"disabled":false}"#, 200, "", "a user enabled again"),
    ];
    answers(addr, a, asked).await;
    api.login("inspector").await;
    // A refused new user names the field first, for the page to show the message next to it.
    for (body, field) in [
        (
            r#"{"username":"two words","password":"long enough","role":"dispatcher"}"#,
            "username",
        ),
        (
            r#"{"username":"short","password":"short","role":"dispatcher"}"#,
            "password",
        ),
        (
            r#"{"username":"sup","password":"long enough","role":"supervisor"}"#,
            "unit",
        ),
        (
            r#"{"username":"sup","password":"long enough","role":"supervisor","unit":987654}"#,
            "unit",
        ),
    ] {
        let r = http(addr, "POST", "/api/users", a, Some(body)).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(
            msg.starts_with(&format!("{field}: ")),
            "{body}: {msg:?} starts with {field:?}"
        );
    }
}

/// Every change is in the chained audit log; a supervisor cannot write orders.
async fn audit(api: &TestApi, sup: &str) {
    let addr = api.addr;
    // Every change is in the chained audit log.
    let log = api.store.access().audit(0, 10_000).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    for want in [
        "unit.create",
        "unit.update",
        "unit.delete",
        "vehicle.create",
        "vehicle.update",
        "vehicle.delete",
        "terminal.create",
        "terminal.update",
        "terminal.delete",
        "driver.create",
        "driver.replace",
        "driver.delete",
        "geofence.create",
        "geofence.replace",
        "geofence.delete",
        "order.create",
        "order.state",
        "calendar.put",
        "trips",
        "user.disable",
        "user.enable",
    ] {
        assert!(actions.contains(&want), "{want} is audited: {actions:?}");
    }
    let order_record = log
        .iter()
        .find(|r| r.entry.action == "order.state")
        .expect("the approval's record");
    assert_eq!(
        order_record.entry.actor, "administrator",
        "the second person approved it"
    );
    assert_eq!(order_record.entry.vehicle, Some(api.vehicles[SUB_PLATE].id));
    assert_eq!(
        verify_stored_chain(api.store.access()).await.expect("chain"),
        Ok(log.len() as u64)
    );
    // Only the dispatcher's own unit scope rule applies to them: a supervisor cannot write orders.
    #[rustfmt::skip]
    let asked: &[Asked] = &[
        ("POST", "/api/orders", &order("PC-9", SUB_PLATE, "requested"), 403, "", "a supervisor writing an order"),
    ];
    answers(addr, Some(sup), asked).await;
    let _ = SUPERVISOR_UNIT;
}

async fn reference_data_through_the_api(api: &TestApi) {
    let admin = api.login("administrator").await;
    let a = Some(admin.as_str());
    let (root, sub) = units(api, a).await;
    let vid = vehicles(api, a, root, sub).await;
    terminals(api, a, vid).await;
    drivers(api, a, root, sub).await;
    geofences(api, a, root).await;
    let sup = orders(api).await;
    calendars(api, a).await;
    let inspector = trips(api).await;
    users(api, a, &inspector).await;
    audit(api, &sup).await;
}

async fn reference_data(scratch: Scratch) {
    reference_data_through_the_api(&TestApi::seeded(scratch).await).await;
}

on_both_backends!(reference_data_through_the_api, reference_data, "api_admin");

/// Creates users (name, role) with [`PASSWORD`] in the store at `url`, with no unit.
async fn seed_users(url: &str, users: &[(&str, Role)]) {
    let store = Store::open(url).await.expect("opening the store");
    for &(username, role) in users {
        create_user(&store, username, role, None).await;
    }
}

/// The store at `url` holds the session of `cookie` under its hash, never under the token.
async fn assert_stored_hashed(url: &str, cookie: &str) {
    let token = cookie.split_once('=').map(|(_, v)| v).expect("token");
    let store = Store::open(url).await.expect("opening the store");
    let hash = tianshu_store::access::session_token_hash(token);
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let session = |key: String| {
        let store = store.clone();
        async move { store.access().session(&key, now).await.expect("session") }
    };
    assert!(session(hash).await.is_some(), "stored under its hash");
    assert!(
        session(token.to_string()).await.is_none(),
        "not under the token itself"
    );
}

/// Creates terminal `i`'s car in `unit` and its terminal through the API as `cookie`, the terminal bound
/// by plate or (unless `by_plate`) by vehicle id; returns the vehicle id.
async fn provision_terminal(
    addr: SocketAddr,
    cookie: Option<&str>,
    unit: i64,
    i: u32,
    by_plate: bool,
) -> i64 {
    use tianshu_e2e::gateway::{phone, plate, terminal_id};
    let plate = plate(i);
    let body = format!(r#"{{"plate":"{plate}","unit":{unit},"class":"general"}}"#);
    let r = http(addr, "POST", "/api/vehicles", cookie, Some(&body)).await;
    status(&r, 201, "a vehicle");
    let vehicle = r.json()["id"].as_i64().expect("vehicle id");
    let bind = if by_plate {
        format!(r#""plate":"{plate}""#)
    } else {
        format!(r#""vehicle":{vehicle}"#)
    };
    let body = format!(
        r#"{{"phone":"{}","terminal_id":"{}",{bind}}}"#,
        phone(i),
        terminal_id(i)
    );
    let r = http(addr, "POST", "/api/terminals", cookie, Some(&body)).await;
    status(&r, 201, "a terminal");
    vehicle
}

/// The real binary: a unit, a vehicle and a terminal created through the API; the terminal registers and
/// reports over JT/T 808; the administrator's session survives a restart; a reset terminal must register
/// again; logout ends the session for good.
async fn provisioned_terminal(scratch: Scratch) {
    let dir = ScratchDir::new("api-admin-e2e");
    let dir = dir.path();
    let url = scratch.url();
    seed_users(&url, &[("admin", Role::Administrator)]).await;
    let server = tianshu_e2e::gateway::serve(&url, "", dir);
    let cookie = login_at(server.http, "admin").await;
    let c = Some(cookie.as_str());
    let r = http(server.http, "POST", "/api/units", c, Some(r#"{"name":"黄石市"}"#)).await;
    status(&r, 201, "a unit");
    let unit = r.json()["id"].as_i64().expect("unit id");
    let i = 7;
    provision_terminal(server.http, c, unit, i, true).await;

    let mut t = tianshu_e2e::gateway::Terminal::connect(server.jt808, tianshu_e2e::gateway::phone(i))
        .await
        .expect("connecting the terminal");
    let code = t.login(i).await;
    let serial = t.report(&tianshu_e2e::gateway::point(i, 0)).await;
    assert_eq!(
        t.ack_of(serial, std::time::Duration::from_secs(10)).await,
        Some(0),
        "a position of the provisioned terminal is acknowledged"
    );
    drop(t);
    let r = http(server.http, "GET", "/api/terminals", c, None).await;
    assert_eq!(r.json()[0]["registered"], true, "{}", r.body);

    // A restart keeps the session.
    let mut server = server;
    server.terminate();
    let server = tianshu_e2e::gateway::serve(&url, "", dir);
    let me = http(server.http, "GET", "/api/me", c, None).await;
    status(&me, 200, "the session after a restart");
    assert_eq!(me.json()["username"], "admin");

    // A reset auth code: the old one no longer authenticates; registering again works.
    let r = http(
        server.http,
        "PATCH",
        &format!("/api/terminals/{}", tianshu_e2e::gateway::phone(i)),
        c,
        Some(r#"{"reset_auth_code":true}"#),
    )
    .await;
    status(&r, 200, "an auth code reset");
    assert_eq!(r.json()["registered"], false);
    let mut t = tianshu_e2e::gateway::Terminal::connect(server.jt808, tianshu_e2e::gateway::phone(i))
        .await
        .expect("connecting the terminal");
    assert_ne!(
        t.try_authenticate(&code).await,
        Some(0),
        "the old auth code is refused"
    );
    drop(t);
    let mut t = tianshu_e2e::gateway::Terminal::connect(server.jt808, tianshu_e2e::gateway::phone(i))
        .await
        .expect("connecting the terminal");
    t.login(i).await;
    drop(t);

    // The store holds the session's hash, never the token.
    assert_stored_hashed(&url, &cookie).await;

    // Logout ends it, across restarts too.
    status(
        &http(server.http, "DELETE", "/api/session", c, None).await,
        204,
        "logout",
    );
    status(
        &http(server.http, "GET", "/api/me", c, None).await,
        401,
        "after logout",
    );
    let mut server = server;
    server.terminate();
    let server = tianshu_e2e::gateway::serve(&url, "", dir);
    status(
        &http(server.http, "GET", "/api/me", c, None).await,
        401,
        "after logout and a restart",
    );
}

on_both_backends!(
    provisioned_terminal_registers_and_sessions_survive_a_restart,
    provisioned_terminal,
    "api_admin_e2e"
);

/// A rest-day trip (Saturday 2026-11-21, 10:00-10:30 Beijing time), then parked: the rules' out-of-hours
/// episode, as the rules' own command-line test drives it.
fn saturday_trip(phone: tianshu_model::Phone) -> Vec<tianshu_model::Position> {
    let t0 = Timestamp::parse_rfc3339("2026-11-21T10:00:00+08:00").expect("time");
    tianshu_e2e::trip(t0, (30_200_500, 115_000_500), 1000, true, 80)
        .into_iter()
        .map(|f| f.phone(phone).build())
        .collect()
}

/// Polls `path` as `cookie` until `done` holds for its JSON, for at most `secs` seconds.
async fn wait_for(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: &str,
    secs: u64,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let limit = std::time::Duration::from_secs(secs);
    tianshu_e2e::wait_for(&format!("{path} to get there"), limit, || async {
        let r = http(addr, "GET", path, Some(cookie), None).await;
        (r.status == 200 && done(&r.json())).then(|| r.json())
    })
    .await
}

/// The real binary with its rules running: the unit `unit` under a city, a car with a terminal in it,
/// and a rest-day trip of that car that raises an out-of-hours case. Returns the server, the
/// administrator's session, the car's plate and the case's id.
async fn a_case_to_withdraw(
    url: &str,
    dir: &std::path::Path,
) -> (tianshu_e2e::Tianshu, String, String, String) {
    let server = tianshu_e2e::gateway::serve(url, "\n[alerts]\nreference_reload_secs = 1", dir);
    let admin = login_at(server.http, "admin").await;
    let a = Some(admin.as_str());
    let r = http(server.http, "POST", "/api/units", a, Some(r#"{"name":"黄石市"}"#)).await;
    let city = r.json()["id"].as_i64().expect("unit id");
    let body = format!(r#"{{"name":"市委办公室","parent":{city}}}"#);
    let r = http(server.http, "POST", "/api/units", a, Some(&body)).await;
    let unit = r.json()["id"].as_i64().expect("unit id");
    let i = 11;
    let vehicle = provision_terminal(server.http, a, unit, i, false).await;
    // The trip arrives as a blind-area backfill, every batch acknowledged after commit.
    let mut t = tianshu_e2e::gateway::Terminal::connect(server.jt808, tianshu_e2e::gateway::phone(i))
        .await
        .expect("connecting the terminal");
    t.login(i).await;
    for chunk in saturday_trip(tianshu_e2e::gateway::phone(i)).chunks(20) {
        let serial = t.batch(chunk, true).await;
        let ack = t.ack_of(serial, std::time::Duration::from_secs(10)).await;
        assert_eq!(ack, Some(0), "a batch acknowledged");
    }
    let path = format!("/api/cases?vehicle={vehicle}");
    let cases = wait_for(server.http, &path, &admin, 60, |j| {
        j.as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(cases[0]["rule"], "out_of_hours", "{}", cases[0]);
    let case = cases[0]["id"].as_str().expect("case id").to_string();
    (server, admin, tianshu_e2e::gateway::plate(i), case)
}

/// Separation of duties against the real binary: a dispatcher files an order for the past and cannot
/// approve it alone (it would have withdrawn the case of the trip at once); a second dispatcher approves
/// it, the running rules withdraw the case, and its history names the order and the approver.
async fn order_withdraws_case(scratch: Scratch) {
    let dir = ScratchDir::new("api-admin-withdraw");
    let url = scratch.url();
    let users = [
        ("admin", Role::Administrator),
        ("disp", Role::Dispatcher),
        ("disp2", Role::Dispatcher),
    ];
    seed_users(&url, &users).await;
    let (server, admin, plate, case_id) = a_case_to_withdraw(&url, dir.path()).await;
    let disp = login_at(server.http, "disp").await;
    let body = format!(
        r#"{{"id":"PC-2026-000777","kind":"order","plate":"{plate}","purpose":"周末送文件","start":"2026-11-21T01:30:00Z","end":"2026-11-21T03:00:00Z","state":"requested"}}"#
    );
    let r = http(server.http, "POST", "/api/orders", Some(&disp), Some(&body)).await;
    status(&r, 201, "an order requested after the fact");
    let approve = |who: String| async move {
        let path = "/api/orders/PC-2026-000777";
        http(
            server.http,
            "PATCH",
            path,
            Some(&who),
            Some(r#"{"state":"approved"}"#),
        )
        .await
    };
    let alone = approve(disp.clone()).await;
    status(&alone, 403, "the filer approving their own backdated order");
    let message = alone.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("second person"), "{message}");
    let r = http(
        server.http,
        "GET",
        &format!("/api/cases/{case_id}"),
        Some(&admin),
        None,
    )
    .await;
    let case = r.json();
    assert_eq!(case["state"], "open", "nothing was withdrawn: {}", r.body);
    // The case reads for a person: the rule's name in both languages, its evidence in degrees and km/h.
    assert_eq!(case["title_zh"], "非工作时间用车", "{case}");
    assert_eq!(case["title_en"], "Use outside working hours", "{case}");
    let evidence = case["evidence"].as_array().cloned().unwrap_or_default();
    assert!(!evidence.is_empty(), "the evidence points: {case}");
    for e in &evidence {
        let (lat, lon) = (e["latitude"].as_f64(), e["longitude"].as_f64());
        assert!(
            lat.is_some_and(|v| (-90.0..=90.0).contains(&v) && v.fract() != 0.0),
            "{e}"
        );
        assert!(lon.is_some_and(|v| (70.0..=140.0).contains(&v)), "{e}");
        assert!(
            e["speed_kmh"].is_number() && e["fix_time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{e}"
        );
    }

    let disp2 = login_at(server.http, "disp2").await;
    status(&approve(disp2).await, 200, "a second person approves it");
    let withdrawn = wait_for(server.http, &format!("/api/cases/{case_id}"), &admin, 60, |j| {
        j["state"] == "withdrawn"
    })
    .await;
    let history = withdrawn["history"].as_array().cloned().unwrap_or_default();
    let withdrawal = history
        .iter()
        .find(|e| e["action"] == "withdrawn")
        .unwrap_or_else(|| panic!("a withdrawal in the history: {withdrawn}"));
    let note = withdrawal["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("PC-2026-000777") && note.contains("approved by disp2"),
        "the withdrawal names the order and its approver: {note}"
    );
}

on_both_backends!(
    a_backdated_order_needs_a_second_approver_to_withdraw_the_case,
    order_withdraws_case,
    "api_admin_withdraw"
);

/// The per-unit switch: with `second_person_approval` off for a unit, a dispatcher files and approves an
/// order of its cars for the past alone; the units left at the default still want a second person.
async fn one_person_flow(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let admin = api.login("administrator").await;
    let disp = api.login("dispatcher").await;
    let sub_unit = api.units["黄石市/市委办公室/机要科"].0;
    let path = format!("/api/units/{sub_unit}/settings");
    let r = http(api.addr, "GET", &path, Some(&disp), None).await;
    status(&r, 200, "the settings read");
    assert_eq!(
        r.json(),
        serde_json::json!({"unit": sub_unit, "second_person_approval": true})
    );
    let off = r#"{"second_person_approval":false}"#;
    status(
        &http(api.addr, "PUT", &path, Some(&disp), Some(off)).await,
        403,
        "a dispatcher",
    );
    let r = http(api.addr, "PUT", &path, Some(&admin), Some(off)).await;
    status(&r, 200, "the switch turned off");
    assert_eq!(r.json()["second_person_approval"], false);
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    assert!(log.iter().any(|r| r.entry.action == "unit.settings"), "audited");
    let d = Some(disp.as_str());
    for (id, plate, want) in [("PC-S1", SUB_PLATE, 200), ("PC-S2", OWN_PLATE, 403)] {
        let r = http(
            api.addr,
            "POST",
            "/api/orders",
            d,
            Some(&order(id, plate, "requested")),
        )
        .await;
        status(&r, 201, "an order for the past");
        let path = format!("/api/orders/{id}");
        let r = http(api.addr, "PATCH", &path, d, Some(r#"{"state":"approved"}"#)).await;
        status(&r, want, "approved by who filed it");
    }
    let r = http(
        api.addr,
        "POST",
        "/api/orders",
        d,
        Some(&order("PC-S3", SUB_PLATE, "approved")),
    )
    .await;
    status(&r, 201, "filed approved in one step, alone");
    assert_eq!(r.json()["approved_by"], "dispatcher");
}

on_both_backends!(
    a_unit_may_let_one_person_file_and_approve,
    one_person_flow,
    "api_admin_alone"
);

/// `tianshu rules evaluate` of `plate` on Thursday 2026-11-26 (a working day): the rules of its episodes.
fn evaluated_rules(url: &str, plate: &str) -> Vec<String> {
    let out = std::process::Command::new(tianshu_e2e::tianshu_bin())
        .args([
            "rules",
            "evaluate",
            "--store",
            url,
            "--plate",
            plate,
            "--from",
            "2026-11-26T00:00:00+08:00",
            "--to",
            "2026-11-27T00:00:00+08:00",
        ])
        .output()
        .expect("running tianshu rules evaluate");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "rules evaluate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("an episode line");
            v["rule"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

/// Whether `tianshu rules evaluate` finds the car of `OWN_PLATE` out of hours.
fn out_of_hours(url: &str) -> bool {
    evaluated_rules(url, OWN_PLATE).contains(&"out_of_hours".to_string())
}

/// A 13-minute trip of `car` from 17:45 Beijing time, then parked with the engine off.
fn late_trip(car: tianshu_model::VehicleId) -> Vec<tianshu_model::Position> {
    let t0 = Timestamp::parse_rfc3339("2026-11-26T17:45:00+08:00").expect("time");
    (0..=40i64)
        .map(|i| {
            let moving = i <= 26;
            let mut p = tianshu_e2e::api::point(car, 0, 115_000_000 + i.min(26) as i32 * 1000);
            p.fix_time = t0.add_millis(i * 30_000);
            p.recv_time = p.fix_time;
            if !moving {
                p.speed_dkmh = 0;
                p.status = tianshu_model::StatusFlags(tianshu_model::StatusFlags::FIXED);
            }
            p
        })
        .collect()
}

/// `tianshu calendar timetable --store URL FILE`: (success, stdout, stderr).
fn import_timetables(url: &str, dir: &std::path::Path, name: &str, text: &str) -> (bool, String, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).expect("writing a timetable file");
    let out = std::process::Command::new(tianshu_e2e::tianshu_bin())
        .args(["calendar", "timetable", "--store", url])
        .arg(&file)
        .output()
        .expect("running tianshu calendar timetable");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Timetables imported from files: a file with one bad entry changes nothing and names the entry's
/// line; a good one stores the timetable at `path`.
async fn timetables_from_files(api: &TestApi, dir: &std::path::Path, path: &str, a: Option<&str>) {
    let addr = api.addr;
    let url = api.scratch.url();
    // A file with a bad entry is refused whole, naming the entry's line.
    let good_entry =
        "[[unit_timetables]]\nunit = \"黄石市/市委办公室\"\nperiods = [\"08:30-12:00\", \"14:00-18:00\"]\n";
    let (ok, _, err) = import_timetables(
        &url,
        dir,
        "unknown-unit.toml",
        &format!(
            "{good_entry}\n[[unit_timetables]]\nunit = \"黄石市/不存在\"\nperiods = [\"08:30-12:00\"]\n"
        ),
    );
    assert!(!ok, "an unknown unit is refused");
    assert!(
        err.contains("line 6: unit \"黄石市/不存在\" is not in the registry"),
        "{err}"
    );
    let (ok, _, err) = import_timetables(
        &url,
        dir,
        "bad-period.toml",
        &format!("{good_entry}[[unit_timetables]]\nunit = \"黄石市/公安局\"\nperiods = [\"14:00-12:00\"]\n"),
    );
    assert!(!ok, "a bad period is refused");
    assert!(
        err.contains("line 6:") && err.contains("ends before it starts"),
        "{err}"
    );
    assert_eq!(
        http(addr, "GET", path, a, None).await.json()["source"],
        "configuration"
    );
    assert!(out_of_hours(&url));

    // A good file stores it.
    let (ok, out, err) = import_timetables(&url, dir, "good.toml", good_entry);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "unit timetables imported: 1 new, 0 replaced");
    assert_eq!(http(addr, "GET", path, a, None).await.json()["source"], "own");
    assert!(!out_of_hours(&url));
}

/// A unit whose office hours end at 18:00: under the city default (until 17:30) its car's 17:45 trip
/// is out of hours; with the unit's timetable stored through the API it is not, and the sub-unit
/// inherits it; deleted, the city default applies again; imported from a file it applies again, and a
/// file with one bad entry changes nothing and names the entry's line.
async fn unit_timetables_through_the_api_and_the_cli(api: &TestApi, dir: &std::path::Path) {
    let addr = api.addr;
    let url = api.scratch.url();
    let admin = api.login("administrator").await;
    let sup = api.login("supervisor").await;
    let a = Some(admin.as_str());
    let office = api.units[SUPERVISOR_UNIT].0;
    let sub = api.units["黄石市/市委办公室/机要科"].0;
    let path = format!("/api/units/{office}/timetable");

    let trip = late_trip(api.vehicles[OWN_PLATE].id);
    api.store.append_points(&trip).await.expect("the trip");
    assert!(
        out_of_hours(&url),
        "under the city default a 17:45 trip is out of hours"
    );

    let r = http(addr, "GET", &path, a, None).await;
    status(&r, 200, "no stored timetable");
    assert_eq!(r.json()["source"], "configuration", "{}", r.body);
    assert_eq!(
        r.json()["timetable"]["periods"],
        serde_json::json!(["08:30-12:00", "14:00-17:30"]),
        "the city default the rules use: {}",
        r.body
    );

    // Bad bodies are 400 naming the field; an unknown unit is 404; nothing is stored.
    for (body, field) in [
        (r#"{"periods":[]}"#, "periods"),
        (r#"{"periods":["18:00-08:00"]}"#, "periods[0]"),
        (r#"{"periods":["8h-12h"]}"#, "periods[0]"),
        (r#"{"seasons":[]}"#, "periods"),
        (r#"{"periods":["08:30-12:00"],"hours":1}"#, "hours"),
        (
            r#"{"periods":["08:30-12:00"],"seasons":[{"name":"summer","from":"05-01","to":"09-30","periods":[]}]}"#,
            "seasons[0].periods",
        ),
        (
            r#"{"periods":["08:30-12:00"],"seasons":[{"name":"summer","from":"13-01","to":"09-30","periods":["08:00-12:00"]}]}"#,
            "seasons[0].from",
        ),
    ] {
        bad(&http(addr, "PUT", &path, a, Some(body)).await, field, body);
    }
    let hours = r#"{"periods":["08:30-12:00","14:00-18:00"]}"#;
    status(
        &http(addr, "PUT", "/api/units/999999/timetable", a, Some(hours)).await,
        404,
        "an unknown unit",
    );
    status(
        &http(addr, "DELETE", &path, a, None).await,
        404,
        "deleting a timetable that is not there",
    );
    status(
        &http(addr, "PUT", &path, Some(&sup), Some(hours)).await,
        403,
        "a supervisor writing a timetable",
    );

    // Stored: office hours until 18:00, the trip is within them.
    let r = http(addr, "PUT", &path, a, Some(hours)).await;
    status(&r, 201, "a unit timetable");
    assert_eq!(r.json()["timetable"]["periods"][1], "14:00-18:00", "{}", r.body);
    status(&http(addr, "PUT", &path, a, Some(hours)).await, 200, "replaced");
    let r = http(addr, "GET", &path, Some(&sup), None).await;
    status(&r, 200, "the own timetable");
    assert_eq!(r.json()["source"], "own", "{}", r.body);
    let r = http(
        addr,
        "GET",
        &format!("/api/units/{sub}/timetable"),
        Some(&sup),
        None,
    )
    .await;
    status(&r, 200, "the sub-unit's timetable");
    let j = r.json();
    assert_eq!(
        (
            j["source"].as_str(),
            j["from_unit"].as_i64(),
            j["from_path"].as_str()
        ),
        (Some("inherited"), Some(office), Some(SUPERVISOR_UNIT)),
        "{}",
        r.body
    );
    let foreign = api.units["黄石市/公安局"].0;
    status(
        &http(
            addr,
            "GET",
            &format!("/api/units/{foreign}/timetable"),
            Some(&sup),
            None,
        )
        .await,
        403,
        "another unit's timetable, to a supervisor",
    );
    assert!(
        !out_of_hours(&url),
        "with office hours until 18:00 a 17:45 trip is not out of hours"
    );

    // Deleted: the city default again.
    status(&http(addr, "DELETE", &path, a, None).await, 204, "deleted");
    assert_eq!(
        http(addr, "GET", &path, a, None).await.json()["source"],
        "configuration"
    );
    assert!(out_of_hours(&url));

    timetables_from_files(api, dir, &path, a).await;

    let log = api.store.access().audit(0, 10_000).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    for want in ["unit_timetable.put", "unit_timetable.delete"] {
        assert!(actions.contains(&want), "{want} is audited: {actions:?}");
    }
}

async fn unit_timetables(scratch: Scratch) {
    let dir = ScratchDir::new("api-admin-timetables");
    unit_timetables_through_the_api_and_the_cli(&TestApi::seeded(scratch).await, dir.path()).await;
}

on_both_backends!(
    unit_timetables_through_the_api_and_the_cli,
    unit_timetables,
    "api_admin_timetables"
);

/// A text to the driver must say something: refused with 400 before anything is sent. A text with
/// content passes the check and reaches the downlink (none runs in this test: 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_text_to_the_driver_is_refused() {
    let api = TestApi::seeded(Scratch::embedded("api-empty-text")).await;
    let dispatcher = api.login("dispatcher").await;
    let path = format!("/api/vehicles/{}/commands", api.vid(OWN_PLATE));
    for text in ["", "   "] {
        let body = serde_json::json!({"kind": "text", "text": text}).to_string();
        let r = http(api.addr, "POST", &path, Some(&dispatcher), Some(&body)).await;
        status(&r, 400, "an empty text");
        assert!(r.body.contains("empty"), "{}", r.body);
    }
    let body = serde_json::json!({"kind": "text", "text": "请回单位"}).to_string();
    let r = http(api.addr, "POST", &path, Some(&dispatcher), Some(&body)).await;
    status(&r, 503, "a text with content, no gateway");
}

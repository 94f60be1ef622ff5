//! The OpenAPI document against the API itself: every route's answer and every write's body
//! documented, every path parameter typed, every query parameter the handlers' query types take
//! described (required as the handler needs it), every field of the types the schemas are read from
//! described; every answer the document gives a schema for checked against what the real route sends,
//! every download's content type declared, every request body sent here fitting the documented one,
//! and the live feed's first message fitting its documented shape.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tianshu_api::cases::CaseView;
use tianshu_api::{ROUTES, openapi, schemas};
use tianshu_e2e::api::*;
use tianshu_e2e::openapi::check;
use tianshu_model::Timestamp;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn one_case(api: &TestApi) -> Arc<MemoryCases> {
    let mut detail = serde_json::Map::new();
    detail.insert("rule".into(), "out_of_hours".into());
    detail.insert("severity".into(), "medium".into());
    detail.insert("start".into(), "2026-11-18T01:00:00Z".into());
    Arc::new(MemoryCases(std::sync::Mutex::new(vec![CaseView {
        id: "case-1".into(),
        vehicle: api.vehicles[OWN_PLATE].id,
        state: "open".into(),
        detail,
    }])))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_fits_the_schema_the_document_gives_it() {
    let probe = TestApi::seeded(Scratch::embedded("api-openapi-probe")).await;
    let api = TestApi::start(Scratch::embedded("api-openapi"), one_case(&probe)).await;
    assert_eq!(
        probe.vehicles[OWN_PLATE].id, api.vehicles[OWN_PLATE].id,
        "the same seeding"
    );
    let doc = http(api.addr, "GET", "/api/openapi.json", None, None)
        .await
        .json();
    parameters_are_described(&doc);

    // Every answer with a schema, as the route sends it.
    let c = Ctx::prepare(&api).await;
    let mut covered = Vec::new();
    let mut answers = HashMap::new();
    let calls = [
        session_and_registry(&c),
        tracking_and_reference(&c),
        orders_terminals_and_settings(&c),
        cases_access_and_reports(&c),
        fuel(&c),
        drivers_channels_commands_and_complaints(&c),
        downloads(&c),
    ]
    .concat();
    run(&api, &doc, &calls, &mut covered, &mut answers).await;

    // The complaint through its steps, the driver and channel replaced, a case opened from the complaint.
    let calls = complaint_steps(&c, &answers);
    run(&api, &doc, &calls, &mut covered, &mut answers).await;

    // The case explained, its finding recorded and read; the office's figures.
    let case_id = answers[&("POST".to_string(), "/api/complaints/{id}/cases".to_string())]["cases"][0]
        .as_i64()
        .expect("the case opened");
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    explain_case(&api.store, case_id, "supervisor", "周末用车", now).await;
    run(&api, &doc, &casework(&c, case_id), &mut covered, &mut answers).await;
    let summary = &answers[&("GET".to_string(), "/api/casework/summary".to_string())];
    assert_eq!(summary["total"]["findings"], 1, "{summary}");

    live_feed_first_message(&api, &doc, &c.admin).await;
    command_outcomes(&doc, c.own);
    covered.push(("POST", "/api/vehicles/{id}/commands"));
    every_answer_schema_is_checked(&doc, &covered);
}

/// Path parameters typed, query parameters described and required as their handlers need them.
fn parameters_are_described(doc: &Value) {
    for spec in ROUTES {
        let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
        for p in op["parameters"].as_array().expect("parameters") {
            assert!(
                p["schema"]["type"].is_string(),
                "{} {}: {p}",
                spec.method,
                spec.path
            );
        }
    }
    assert_eq!(schemas::undescribed(doc), Vec::<String>::new());
    let report = &doc["paths"]["/api/vehicles/{id}/report"]["get"]["parameters"];
    let q: Vec<(&str, &str, bool)> = report
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name"),
                p["in"].as_str().expect("in"),
                p["required"] == true,
            )
        })
        .collect();
    assert_eq!(
        q,
        [
            ("id", "path", true),
            ("month", "query", true),
            ("format", "query", false),
            ("lang", "query", false)
        ]
    );
    let positions = &doc["paths"]["/api/positions"]["get"]["parameters"];
    let required: Vec<&str> = positions
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["required"] == true)
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(required, ["from", "to"]);
    assert_eq!(doc["components"]["securitySchemes"]["token"]["scheme"], "bearer");
}

/// The sessions, ids and stored data the calls use: the administrator's, the inspector's and the
/// dispatcher's sessions, a token to revoke, a pending re-registration to decide on, and a card, a
/// station and a statement whose fill overfills the tank (a finding to describe).
struct Ctx {
    admin: String,
    inspector: String,
    dispatcher: String,
    own: i64,
    unit: i64,
    token_id: i64,
}

impl Ctx {
    async fn prepare(api: &TestApi) -> Self {
        let admin = api.login("administrator").await;
        let inspector = api.login("inspector").await;
        let own = api.vid(OWN_PLATE);
        let unit = api.units["黄石市"].0;
        let created = http(
            api.addr,
            "POST",
            "/api/tokens",
            Some(&admin),
            Some(r#"{"name":"schema check"}"#),
        )
        .await;
        let token_id = created.json()["id"].as_i64().expect("a token");
        // A pending re-registration to decide on.
        let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        api.registered_again(tianshu_model::Phone(13_900_000_001), now)
            .await;
        // A card, a station and a statement whose fill overfills the tank: a finding to describe.
        let cards = tianshu_model::fuel::parse_cards_csv(&format!(
            "unit,number,issuer,plate,state,state_date,state_reason,limit_fill_yuan,limit_month_yuan\n\
             黄石市/市委办公室,1000000000000001,sinopec,{OWN_PLATE},,,,500,\n"
        ))
        .expect("a card");
        api.store
            .fuel()
            .import_cards(&cards, now)
            .await
            .expect("storing the card");
        let stations = tianshu_model::fuel::parse_stations_csv(
            "code,name,brand,lon,lat,datum\nHS001,团城山加油站,中国石化,115.005,30.2,wgs84\n",
        )
        .expect("a station");
        api.store
            .fuel()
            .import_stations(&stations, now)
            .await
            .expect("storing the station");
        let dispatcher = api.login("dispatcher").await;
        Ctx {
            admin,
            inspector,
            dispatcher,
            own,
            unit,
            token_id,
        }
    }
}

/// The session, the caller, units and vehicles.
fn session_and_registry(c: &Ctx) -> Vec<Call<'_>> {
    let (admin, unit, own) = (&c.admin, c.unit, c.own);
    let login = json!({"username": "inspector", "password": PASSWORD}).to_string();
    vec![
        ("POST", "/api/session", "/api/session".into(), Some(login), ""),
        ("GET", "/api/me", "/api/me".into(), None, admin),
        ("GET", "/api/units", "/api/units".into(), None, admin),
        (
            "POST",
            "/api/units",
            "/api/units".into(),
            Some(r#"{"name":"新单位"}"#.into()),
            admin,
        ),
        ("GET", "/api/vehicles", "/api/vehicles".into(), None, admin),
        (
            "POST",
            "/api/vehicles",
            "/api/vehicles".into(),
            Some(format!(
                r#"{{"plate":"鄂B99999","unit":{unit},"class":"general"}}"#
            )),
            admin,
        ),
        (
            "PATCH",
            "/api/vehicles/{id}",
            format!("/api/vehicles/{own}"),
            Some(r#"{"class":"emergency"}"#.into()),
            admin,
        ),
        (
            "PATCH",
            "/api/units/{id}",
            format!("/api/units/{unit}"),
            Some(r#"{"name":"黄石市"}"#.into()),
            admin,
        ),
    ]
}

/// Positions, a vehicle and its trips, terminals, the configuration, geofences, timetables, calendars.
fn tracking_and_reference(c: &Ctx) -> Vec<Call<'_>> {
    let (admin, inspector, unit, own) = (&c.admin, &c.inspector, c.unit, c.own);
    vec![
        (
            "GET",
            "/api/positions/latest",
            "/api/positions/latest".into(),
            None,
            admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}",
            format!("/api/vehicles/{own}"),
            None,
            admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}/trips",
            format!("/api/vehicles/{own}/trips?from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z"),
            None,
            inspector,
        ),
        ("GET", "/api/terminals", "/api/terminals".into(), None, admin),
        ("GET", "/api/config", "/api/config".into(), None, admin),
        (
            "POST",
            "/api/geofences",
            "/api/geofences".into(),
            Some(r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[115.0,30.2],[115.01,30.2],[115.01,30.21],[115.0,30.2]]]},"properties":{"name":"禁区","kind":"prohibited"}}"#.into()),
            admin,
        ),
        (
            "PUT",
            "/api/geofences/{id}",
            "/api/geofences/1".into(),
            Some(r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[115.0,30.2],[115.02,30.2],[115.02,30.21],[115.0,30.2]]]},"properties":{"name":"禁区","kind":"prohibited"}}"#.into()),
            admin,
        ),
        (
            "POST",
            "/api/terminals",
            "/api/terminals".into(),
            Some(r#"{"phone":"13700000001","terminal_id":"V1"}"#.into()),
            admin,
        ),
        ("GET", "/api/geofences", "/api/geofences".into(), None, admin),
        (
            "GET",
            "/api/units/{id}/timetable",
            format!("/api/units/{unit}/timetable"),
            None,
            admin,
        ),
        ("GET", "/api/calendars", "/api/calendars".into(), None, admin),
    ]
}

/// Orders, a terminal's reset and re-registration, a replay, a unit's settings, positions.
fn orders_terminals_and_settings(c: &Ctx) -> Vec<Call<'_>> {
    let (admin, inspector, unit, own) = (&c.admin, &c.inspector, c.unit, c.own);
    vec![
        (
            "POST",
            "/api/orders",
            "/api/orders".into(),
            Some(format!(
                r#"{{"id":"PC-1","kind":"order","plate":"{OWN_PLATE}","purpose":"会议","start":"2026-11-18T00:00:00Z","end":"2026-11-18T04:00:00Z","state":"requested"}}"#
            )),
            admin,
        ),
        ("GET", "/api/orders", "/api/orders".into(), None, admin),
        (
            "PATCH",
            "/api/orders/{id}",
            "/api/orders/PC-1".into(),
            Some(r#"{"state":"cancelled"}"#.into()),
            admin,
        ),
        (
            "PATCH",
            "/api/terminals/{phone}",
            "/api/terminals/13900000003".into(),
            Some(r#"{"reset_auth_code":true}"#.into()),
            admin,
        ),
        (
            "POST",
            "/api/terminals/{phone}/reregistration",
            "/api/terminals/13900000001/reregistration".into(),
            Some(r#"{"decision":"reject"}"#.into()),
            admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}/replay",
            format!("/api/vehicles/{own}/replay?from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z"),
            None,
            inspector,
        ),
        (
            "GET",
            "/api/units/{id}/settings",
            format!("/api/units/{unit}/settings"),
            None,
            admin,
        ),
        (
            "PUT",
            "/api/units/{id}/settings",
            format!("/api/units/{unit}/settings"),
            Some(r#"{"second_person_approval":true}"#.into()),
            admin,
        ),
        (
            "GET",
            "/api/positions",
            format!("/api/positions?vehicle={own}&from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z"),
            None,
            admin,
        ),
    ]
}

/// Cases, users, the audit log, tokens and the monthly reports.
fn cases_access_and_reports(c: &Ctx) -> Vec<Call<'_>> {
    let (admin, inspector, unit, own, token_id) = (&c.admin, &c.inspector, c.unit, c.own, c.token_id);
    vec![
        ("GET", "/api/cases", "/api/cases".into(), None, admin),
        ("GET", "/api/cases/{id}", "/api/cases/case-1".into(), None, admin),
        (
            "POST",
            "/api/cases/{id}/actions",
            "/api/cases/case-1/actions".into(),
            Some(r#"{"action":"acknowledge"}"#.into()),
            inspector,
        ),
        ("GET", "/api/users", "/api/users".into(), None, admin),
        (
            "POST",
            "/api/users",
            "/api/users".into(),
            Some(r#"{"username":"new","password":"long enough","role":"inspector","unit":null}"#.into()),
            admin,
        ),
        (
            "PATCH",
            "/api/users/{username}",
            "/api/users/new".into(),
            Some(r#"{"disabled":true}"#.into()),
            admin,
        ),
        ("GET", "/api/audit", "/api/audit?last=50".into(), None, admin),
        ("GET", "/api/tokens", "/api/tokens".into(), None, admin),
        (
            "POST",
            "/api/tokens",
            "/api/tokens".into(),
            Some(r#"{"name":"another"}"#.into()),
            admin,
        ),
        (
            "DELETE",
            "/api/tokens/{id}",
            format!("/api/tokens/{token_id}"),
            None,
            admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}/report",
            format!("/api/vehicles/{own}/report?month=2026-11"),
            None,
            inspector,
        ),
        (
            "GET",
            "/api/units/{id}/report",
            format!("/api/units/{unit}/report?month=2026-11"),
            None,
            inspector,
        ),
    ]
}

/// Fuel cards, stations, profiles, a statement and its findings.
fn fuel(c: &Ctx) -> Vec<Call<'_>> {
    let (admin, inspector, own) = (&c.admin, &c.inspector, c.own);
    let statement = "card,time,station,product,litres,unit_price,amount\n\
                     1000000000000001,2026-11-18T11:08:00Z,HS001,92#,90.00,7.50,675.00\n\
                     1000000000000001,yesterday,HS001,92#,9.00,7.50,67.50\n";
    vec![
        ("GET", "/api/fuel/cards", "/api/fuel/cards".into(), None, admin),
        (
            "PATCH",
            "/api/fuel/cards/{number}",
            "/api/fuel/cards/1000000000000001".into(),
            Some(r#"{"limit_month_fen":300000}"#.into()),
            admin,
        ),
        (
            "GET",
            "/api/fuel/stations",
            "/api/fuel/stations".into(),
            None,
            inspector,
        ),
        (
            "PUT",
            "/api/fuel/profiles/{vehicle}",
            format!("/api/fuel/profiles/{own}"),
            Some(r#"{"tank_litres":60,"rated_l_per_100km":8,"fuel":"petrol"}"#.into()),
            admin,
        ),
        (
            "GET",
            "/api/fuel/profiles",
            "/api/fuel/profiles".into(),
            None,
            admin,
        ),
        (
            "POST",
            "/api/fuel/statements",
            "/api/fuel/statements?name=s.csv".into(),
            Some(statement.into()),
            inspector,
        ),
        (
            "GET",
            "/api/fuel/findings",
            "/api/fuel/findings".into(),
            None,
            inspector,
        ),
        (
            "GET",
            "/api/fuel/report",
            "/api/fuel/report?year=2026".into(),
            None,
            inspector,
        ),
    ]
}

/// The document, a logout, glyphs, drivers, channels, a timetable and a calendar written, commands,
/// a complaint entered.
fn drivers_channels_commands_and_complaints(c: &Ctx) -> Vec<Call<'_>> {
    let (admin, dispatcher, unit, own) = (&c.admin, &c.dispatcher, c.unit, c.own);
    let toml = "year = 2031\nnotice = \"test notice\"\n\n[[holiday]]\nname = \"元旦\"\nname_en = \"New Year's Day\"\nfirst = \"2031-01-01\"\nlast = \"2031-01-01\"\n";
    let window = "\"window_from\":\"2026-11-18T00:00:00Z\",\"window_to\":\"2026-11-19T00:00:00Z\"";
    vec![
        ("GET", "/api/openapi.json", "/api/openapi.json".to_string(), None, ""),
        ("DELETE", "/api/session", "/api/session".into(), None, dispatcher.as_str()),
        (
            "GET",
            "/api/basemap/glyphs/{fontstack}/{range}",
            "/api/basemap/glyphs/Noto%20Sans/0-255.pbf".into(),
            None,
            admin,
        ),
        (
            "POST",
            "/api/drivers",
            "/api/drivers".into(),
            Some(format!(r#"{{"name":"张师傅","certificate":"a-42","phone":"13800000000","unit":{unit}}}"#)),
            admin,
        ),
        ("GET", "/api/drivers", "/api/drivers".into(), None, admin),
        (
            "POST",
            "/api/drivers/import",
            "/api/drivers/import".into(),
            Some("name,certificate,phone,licence,unit,active\n李师傅,A-44,13800000044,C1,黄石市/市委办公室,\n".into()),
            admin,
        ),
        (
            "POST",
            "/api/channels",
            "/api/channels".into(),
            Some(format!(r#"{{"name":"值班群","kind":"webhook","url":"https://robot.example.cn/send?access_token=x","format":"dingtalk","units":[{unit}],"min_severity":"medium"}}"#)),
            admin,
        ),
        ("GET", "/api/channels", "/api/channels".into(), None, admin),
        (
            "PUT",
            "/api/units/{id}/timetable",
            format!("/api/units/{unit}/timetable"),
            Some(r#"{"periods":["08:30-12:00","14:30-17:30"],"seasons":[{"name":"summer","from":"05-01","to":"09-30","periods":["08:00-12:00","15:00-18:00"]}]}"#.into()),
            admin,
        ),
        ("PUT", "/api/calendars/{year}", "/api/calendars/2031".into(), Some(toml.into()), admin),
        (
            "POST",
            "/api/vehicles/{id}/commands",
            format!("/api/vehicles/{own}/commands"),
            Some(r#"{"kind":"set_parameters","parameters":[{"id":1,"value":30},{"id":19,"value":"gw.example.cn:6808"},{"id":50,"hex":"16320a1e"}]}"#.into()),
            admin,
        ),
        (
            "POST",
            "/api/vehicles/{id}/commands",
            format!("/api/vehicles/{own}/commands"),
            Some(r#"{"kind":"temporary_tracking","interval_secs":10,"duration_secs":600}"#.into()),
            admin,
        ),
        (
            "POST",
            "/api/complaints",
            "/api/complaints".into(),
            Some(format!(r#"{{"channel":"12345","reporter_name":"王某","text":"周末公车停在商场","place":"万达广场","plates":["{OWN_PLATE}","京A99999"],{window}}}"#)),
            admin,
        ),
    ]
}

/// A track in each format and a report in each download format.
fn downloads(c: &Ctx) -> Vec<Call<'_>> {
    let (inspector, own) = (&c.inspector, c.own);
    let mut calls: Vec<Call> = Vec::new();
    for format in ["geojson", "gpx", "kml", "csv"] {
        calls.push((
            "GET",
            "/api/vehicles/{id}/track",
            format!(
                "/api/vehicles/{own}/track?format={format}&from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z"
            ),
            None,
            inspector,
        ));
    }
    for format in ["csv", "xlsx"] {
        calls.push((
            "GET",
            "/api/vehicles/{id}/report",
            format!("/api/vehicles/{own}/report?month=2026-11&format={format}"),
            None,
            inspector,
        ));
    }
    calls
}

/// The complaint entered above through its steps, the driver and channel entered above replaced, a
/// case opened from the complaint.
fn complaint_steps<'a>(c: &'a Ctx, answers: &HashMap<(String, String), Value>) -> Vec<Call<'a>> {
    let (admin, unit, own) = (&c.admin, c.unit, c.own);
    let id_of = |method: &str, route: &str| answers[&(method.to_string(), route.to_string())]["id"].clone();
    let complaint = id_of("POST", "/api/complaints");
    let (driver, channel) = (id_of("POST", "/api/drivers"), id_of("POST", "/api/channels"));
    let step = |action: &str, body: &str| {
        (
            "POST",
            match action {
                "forward" => "/api/complaints/{id}/forward",
                "answer" => "/api/complaints/{id}/answer",
                "review" => "/api/complaints/{id}/review",
                "reply" => "/api/complaints/{id}/reply",
                _ => "/api/complaints/{id}/cases",
            },
            format!("/api/complaints/{complaint}/{action}"),
            Some(body.to_string()),
            admin.as_str(),
        )
    };
    vec![
        (
            "PUT",
            "/api/drivers/{id}",
            format!("/api/drivers/{driver}"),
            Some(format!(
                r#"{{"name":"张师傅","certificate":"A-43","phone":null,"unit":{unit}}}"#
            )),
            admin.as_str(),
        ),
        (
            "PUT",
            "/api/channels/{id}",
            format!("/api/channels/{channel}"),
            Some(r#"{"name":"值班邮箱","kind":"email","address":"duty@example.cn","enabled":false}"#.into()),
            admin,
        ),
        (
            "GET",
            "/api/complaints",
            "/api/complaints?unresolved=true&limit=10".into(),
            None,
            admin,
        ),
        (
            "GET",
            "/api/complaints/{id}",
            format!("/api/complaints/{complaint}"),
            None,
            admin,
        ),
        (
            "GET",
            "/api/complaints/{id}/evidence",
            format!("/api/complaints/{complaint}/evidence"),
            None,
            admin,
        ),
        (
            "GET",
            "/api/complaints/{id}/reporter",
            format!("/api/complaints/{complaint}/reporter"),
            None,
            admin,
        ),
        step("forward", r#"{"days":5}"#),
        step("answer", r#"{"text":"已核实，已责令整改"}"#),
        step("review", r#"{"decision":"accept"}"#),
        step("reply", r#"{"how":"phone","text":"已电话告知处理结果"}"#),
        step("cases", &format!(r#"{{"open":{own}}}"#)),
    ]
}

/// The case's finding recorded and read; the office's figures, as JSON and CSV.
fn casework(c: &Ctx, case_id: i64) -> Vec<Call<'_>> {
    let (inspector, unit) = (&c.inspector, c.unit);
    let finding = r#"{"outcome":"confirmed","violation":"公车私用","people":[{"name":"张三","post":"驾驶员","unit":"市委办公室","measure":"党纪处分"}],"recovered_yuan":1234.5,"decided":"2026-11-20","note":"周末私用"}"#;
    vec![
        (
            "PUT",
            "/api/cases/{id}/finding",
            format!("/api/cases/{case_id}/finding"),
            Some(finding.to_string()),
            inspector.as_str(),
        ),
        (
            "GET",
            "/api/cases/{id}/finding",
            format!("/api/cases/{case_id}/finding"),
            None,
            inspector,
        ),
        (
            "GET",
            "/api/casework/summary",
            "/api/casework/summary?from=2026-01-01&to=2027-01-01".into(),
            None,
            inspector,
        ),
        (
            "GET",
            "/api/casework/summary",
            format!("/api/casework/summary?from=2026-01-01T00:00:00Z&to=2027-01-01&unit={unit}&format=csv"),
            None,
            inspector,
        ),
    ]
}

/// The live feed's first message, in the shape the document gives its messages.
async fn live_feed_first_message(api: &TestApi, doc: &Value, admin: &str) {
    let mut req = format!("ws://{}/api/live", api.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut().insert("cookie", admin.parse().expect("header"));
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connecting the live feed");
    let live = &doc["paths"]["/api/live"]["get"];
    assert!(live["responses"][resp.status().as_u16().to_string()].is_object());
    let snapshot = next_json(&mut ws).await;
    assert_eq!(snapshot["type"], "snapshot");
    let mut errors = Vec::new();
    check(doc, &live["x-messages"], &snapshot, "$", &mut errors);
    assert!(errors.is_empty(), "live: {errors:#?}");
}

/// No terminal connects in this file: the outcomes of a command (the refusal without a gateway was
/// checked above) as their type writes them.
fn command_outcomes(doc: &Value, own: i64) {
    let commands = &doc["paths"]["/api/vehicles/{id}/commands"]["post"]["responses"];
    let position = tianshu_api::WirePosition::from(&point(tianshu_model::VehicleId(own), 0, 115_000_000));
    let parameters = vec![tianshu_api::ParameterEntry {
        id: 1,
        value: Some(tianshu_api::ParameterValue::Number(30)),
        hex: Some("0000001e".into()),
    }];
    let outcomes = [
        ("200", tianshu_api::CommandOutcome::DONE),
        (
            "200",
            tianshu_api::CommandOutcome::Answered {
                position: Some(position),
                parameters: Some(parameters),
                attributes: None,
            },
        ),
        ("200", tianshu_api::CommandOutcome::Refused { result: 3 }),
        ("409", tianshu_api::CommandOutcome::NotConnected),
        ("504", tianshu_api::CommandOutcome::TimedOut),
    ];
    for (status, outcome) in outcomes {
        let mut v = serde_json::to_value(&outcome).expect("an outcome");
        if status != "200" {
            v["error"] = json!("the handler's message");
        }
        let mut errors = Vec::new();
        let schema = &commands[status]["content"]["application/json"]["schema"];
        check(doc, schema, &v, "$", &mut errors);
        assert!(errors.is_empty(), "{status} {v}: {errors:#?}");
    }
}

/// Every route whose answer has a JSON schema was checked here.
fn every_answer_schema_is_checked(doc: &Value, covered: &[(&str, &str)]) {
    for spec in ROUTES {
        let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
        let has_schema = op["responses"]
            .as_object()
            .expect("responses")
            .iter()
            .any(|(s, r)| {
                s.starts_with('2')
                    && r["content"]
                        .as_object()
                        .is_some_and(|c| c.keys().any(|m| is_json(m)))
            });
        if has_schema && !CHECKED_ELSEWHERE.contains(&(spec.method, spec.path)) {
            assert!(
                covered.contains(&(spec.method, spec.path)),
                "{} {} has an answer schema no call here checks",
                spec.method,
                spec.path
            );
        }
    }
}

/// Whether a media type is JSON.
fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// (method, route, path, body, session cookie)
type Call<'a> = (&'a str, &'static str, String, Option<String>, &'a str);

/// Makes `calls` in order, each checked against `doc`: its body against the documented request body,
/// its answer's status declared, its content type among those declared for that status (or no body
/// where none is), a JSON answer against its schema; the routes of the 2xx answers checked go to
/// `covered`, and each route's last JSON answer to `answers`.
/// Routes whose documented answers are checked elsewhere, against the same document: the car pool's by
/// `api_carpool.rs` and `carpool_settle.rs`, which check every success answer they get (they need a
/// pool, drivers and a settled trip), the public intake's by `api_report.rs` (it is off in this test's configuration), and
/// the JT/T 809 platform requests' by `jt809_business.rs` (they need two linked instances). Each is
/// named so that a new route cannot slip past the check.
const CHECKED_ELSEWHERE: &[(&str, &str)] = &[
    ("POST", "/api/report"),
    ("GET", "/api/carpool/requests"),
    ("POST", "/api/carpool/requests"),
    ("GET", "/api/carpool/requests/{id}"),
    ("GET", "/api/carpool/requests/{id}/offers"),
    ("POST", "/api/carpool/requests/{id}/assign"),
    ("POST", "/api/carpool/requests/{id}/settle"),
    ("PUT", "/api/carpool/requests/{id}/settlement"),
    ("PUT", "/api/carpool/requests/{id}/rating"),
    ("POST", "/api/carpool/maintenance"),
    ("GET", "/api/vehicles/{id}/fleet"),
    ("PUT", "/api/vehicles/{id}/fleet"),
    ("GET", "/api/report/yearly"),
    ("GET", "/api/jt809/requests"),
    ("GET", "/api/jt809/alarms"),
    ("POST", "/api/jt809/requests/{id}/answer"),
    ("POST", "/api/jt809/checks"),
    ("POST", "/api/jt809/supervisions"),
];

async fn run(
    api: &TestApi,
    doc: &Value,
    calls: &[Call<'_>],
    covered: &mut Vec<(&'static str, &'static str)>,
    answers: &mut HashMap<(String, String), Value>,
) {
    let mut misfits = Vec::new();
    for (method, route, path, body, cookie) in calls {
        let method: &'static str = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .into_iter()
            .find(|m| m == method)
            .expect("a method");
        let op = &doc["paths"][*route][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {route}: not in the document");
        if let Some(body) = body {
            let content = op["requestBody"]["content"]
                .as_object()
                .expect("a documented body");
            let (media, declared) = content.iter().next().expect("a body's media type");
            let mut errors = Vec::new();
            if is_json(media) {
                let sent: Value = serde_json::from_str(body).expect("a JSON body");
                check(doc, &declared["schema"], &sent, "body", &mut errors);
            } else {
                check(doc, &declared["schema"], &json!(body), "body", &mut errors);
            }
            assert!(
                errors.is_empty(),
                "{method} {path}: the body sent here: {errors:#?}"
            );
        }
        let cookie = (!cookie.is_empty()).then_some(*cookie);
        let r = http(api.addr, method, path, cookie, body.as_deref()).await;
        let status = r.status.to_string();
        let declared = &op["responses"][&status];
        assert!(
            declared.is_object(),
            "{method} {path} answered {status}, not declared: {}",
            r.body
        );
        let Some(content) = declared["content"].as_object() else {
            assert!(
                r.bytes.is_empty(),
                "{method} {path}: {status} declared without a body: {}",
                r.body
            );
            continue;
        };
        let media = r
            .header("content-type")
            .and_then(|t| t.split(';').next())
            .unwrap_or_default()
            .trim()
            .to_string();
        let schema = &content.get(&media).unwrap_or_else(|| {
            panic!(
                "{method} {path}: {status} in {media}, declared {:?}",
                content.keys()
            )
        })["schema"];
        assert!(
            schema.is_object(),
            "{method} {route}: no schema for {status} {media}"
        );
        if is_json(&media) {
            let v = r.json();
            let mut errors = Vec::new();
            check(doc, schema, &v, "$", &mut errors);
            if !errors.is_empty() {
                misfits.push(format!("{method} {path}: {errors:#?}\n{}", r.body));
            }
            if status.starts_with('2') {
                covered.push((method, *route));
                answers.insert((method.to_string(), route.to_string()), v);
            }
        }
    }
    assert!(misfits.is_empty(), "{}", misfits.join("\n"));
}

/// Every route documents what it answers on success (a JSON schema, a declared content type, or no
/// content; a WebSocket its messages) and every write its request body.
#[test]
fn every_route_documents_its_answer_and_every_write_its_body() {
    let doc = openapi::document(ROUTES);
    let mut missing = Vec::new();
    for spec in ROUTES {
        let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
        let responses = op["responses"].as_object().expect("responses");
        let answered = responses.iter().any(|(status, r)| {
            let content = r["content"].as_object();
            status.starts_with('2')
                && match content {
                    Some(c) => !c.is_empty() && c.values().all(|m| m["schema"].is_object()),
                    None => status == "204",
                }
        });
        let websocket = responses.contains_key("101") && op["x-messages"].is_object();
        if !answered && !websocket {
            missing.push(format!("{} {}: what it answers", spec.method, spec.path));
        }
        let body = op["requestBody"]["content"]
            .as_object()
            .is_some_and(|c| !c.is_empty() && c.values().all(|m| m["schema"].is_object()));
        if matches!(spec.method, "POST" | "PUT" | "PATCH") && !body {
            missing.push(format!("{} {}: its request body", spec.method, spec.path));
        }
    }
    assert_eq!(missing, Vec::<String>::new());
    assert_eq!(schemas::undescribed(&doc), Vec::<String>::new());
}

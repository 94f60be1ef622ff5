//! The OpenAPI document against the API itself: every path parameter typed, every query parameter the
//! handlers' query types take described (required as the handler needs it), and every answer the
//! document gives a schema for checked against what the route really sends.

use std::sync::Arc;

use serde_json::{Value, json};
use tianshu_api::cases::CaseView;
use tianshu_api::{ROUTES, schemas};
use tianshu_e2e::api::*;

/// Checks `v` against `schema` (the subset of JSON Schema the document uses), resolving `$ref`s in
/// `doc`; the paths of what does not fit.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "{at}: no schema {name}");
        return check(doc, target, v, at, errors);
    }
    if let Some(any) = schema["anyOf"].as_array() {
        let fits = any.iter().any(|s| {
            let mut e = Vec::new();
            check(doc, s, v, at, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: {v} fits none of {}", schema["anyOf"]));
        }
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(v)
    {
        errors.push(format!("{at}: {v} not one of {values:?}"));
    }
    let fits = match schema["type"].as_str() {
        None => true,
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some("null") => v.is_null(),
        Some("array") => v.is_array(),
        Some("object") => v.is_object(),
        Some(t) => panic!("{at}: type {t}"),
    };
    if !fits {
        errors.push(format!("{at}: {v} is not {}", schema["type"]));
        return;
    }
    if schema["format"] == "date-time"
        && let Some(s) = v.as_str()
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        errors.push(format!("{at}: {s:?} is not RFC 3339"));
    }
    if let Some(items) = v.as_array() {
        for (i, item) in items.iter().enumerate() {
            check(doc, &schema["items"], item, &format!("{at}[{i}]"), errors);
        }
    }
    if let Some(o) = v.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().expect("a name");
            if !o.contains_key(name) {
                errors.push(format!("{at}: no {name}"));
            }
        }
        for (k, field) in o {
            let declared = &schema["properties"][k];
            if declared.is_object() {
                check(doc, declared, field, &format!("{at}.{k}"), errors);
            } else if schema["additionalProperties"].is_object() {
                check(
                    doc,
                    &schema["additionalProperties"],
                    field,
                    &format!("{at}.{k}"),
                    errors,
                );
            }
        }
    }
}

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

    // Path parameters typed, query parameters described and required as their handlers need them.
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
    assert_eq!(schemas::undescribed_query_parameters(&doc), Vec::<String>::new());
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

    // Every answer with a schema, as the route sends it.
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
    let statement = "card,time,station,product,litres,unit_price,amount\n\
                     1000000000000001,2026-11-18T11:08:00Z,HS001,92#,90.00,7.50,675.00\n\
                     1000000000000001,yesterday,HS001,92#,9.00,7.50,67.50\n";
    let login = json!({"username": "inspector", "password": PASSWORD}).to_string();
    let calls: Vec<(&str, &str, String, Option<String>, &str)> = vec![
        ("POST", "/api/session", "/api/session".into(), Some(login), ""),
        ("GET", "/api/me", "/api/me".into(), None, &admin),
        ("GET", "/api/units", "/api/units".into(), None, &admin),
        (
            "POST",
            "/api/units",
            "/api/units".into(),
            Some(r#"{"name":"新单位"}"#.into()),
            &admin,
        ),
        ("GET", "/api/vehicles", "/api/vehicles".into(), None, &admin),
        (
            "POST",
            "/api/vehicles",
            "/api/vehicles".into(),
            Some(format!(r#"{{"plate":"鄂B99999","unit":{unit}}}"#)),
            &admin,
        ),
        (
            "PATCH",
            "/api/vehicles/{id}",
            format!("/api/vehicles/{own}"),
            Some(r#"{"class":"emergency"}"#.into()),
            &admin,
        ),
        (
            "PATCH",
            "/api/units/{id}",
            format!("/api/units/{unit}"),
            Some(r#"{"name":"黄石市"}"#.into()),
            &admin,
        ),
        (
            "GET",
            "/api/positions/latest",
            "/api/positions/latest".into(),
            None,
            &admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}",
            format!("/api/vehicles/{own}"),
            None,
            &admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}/trips",
            format!("/api/vehicles/{own}/trips?from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z"),
            None,
            &inspector,
        ),
        ("GET", "/api/terminals", "/api/terminals".into(), None, &admin),
        ("GET", "/api/config", "/api/config".into(), None, &admin),
        (
            "POST",
            "/api/geofences",
            "/api/geofences".into(),
            Some(r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[115.0,30.2],[115.01,30.2],[115.01,30.21],[115.0,30.2]]]},"properties":{"name":"禁区","kind":"prohibited"}}"#.into()),
            &admin,
        ),
        (
            "PUT",
            "/api/geofences/{id}",
            "/api/geofences/1".into(),
            Some(r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[115.0,30.2],[115.02,30.2],[115.02,30.21],[115.0,30.2]]]},"properties":{"name":"禁区","kind":"prohibited"}}"#.into()),
            &admin,
        ),
        (
            "POST",
            "/api/terminals",
            "/api/terminals".into(),
            Some(r#"{"phone":"13700000001","terminal_id":"V1"}"#.into()),
            &admin,
        ),
        ("GET", "/api/geofences", "/api/geofences".into(), None, &admin),
        (
            "GET",
            "/api/units/{id}/timetable",
            format!("/api/units/{unit}/timetable"),
            None,
            &admin,
        ),
        ("GET", "/api/calendars", "/api/calendars".into(), None, &admin),
        (
            "POST",
            "/api/orders",
            "/api/orders".into(),
            Some(format!(r#"{{"id":"PC-1","kind":"order","plate":"{OWN_PLATE}","purpose":"会议","start":"2026-11-18T00:00:00Z","end":"2026-11-18T04:00:00Z","state":"requested"}}"#)),
            &admin,
        ),
        ("GET", "/api/orders", "/api/orders".into(), None, &admin),
        (
            "PATCH",
            "/api/orders/{id}",
            "/api/orders/PC-1".into(),
            Some(r#"{"state":"cancelled"}"#.into()),
            &admin,
        ),
        (
            "PATCH",
            "/api/terminals/{phone}",
            "/api/terminals/13900000003".into(),
            Some(r#"{"reset_auth_code":true}"#.into()),
            &admin,
        ),
        (
            "POST",
            "/api/terminals/{phone}/reregistration",
            "/api/terminals/13900000001/reregistration".into(),
            Some(r#"{"decision":"reject"}"#.into()),
            &admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}/replay",
            format!("/api/vehicles/{own}/replay?from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z"),
            None,
            &inspector,
        ),
        (
            "GET",
            "/api/units/{id}/settings",
            format!("/api/units/{unit}/settings"),
            None,
            &admin,
        ),
        (
            "PUT",
            "/api/units/{id}/settings",
            format!("/api/units/{unit}/settings"),
            Some(r#"{"second_person_approval":true}"#.into()),
            &admin,
        ),
        (
            "GET",
            "/api/positions",
            format!("/api/positions?vehicle={own}&from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z"),
            None,
            &admin,
        ),
        ("GET", "/api/cases", "/api/cases".into(), None, &admin),
        ("GET", "/api/cases/{id}", "/api/cases/case-1".into(), None, &admin),
        (
            "POST",
            "/api/cases/{id}/actions",
            "/api/cases/case-1/actions".into(),
            Some(r#"{"action":"acknowledge"}"#.into()),
            &inspector,
        ),
        ("GET", "/api/users", "/api/users".into(), None, &admin),
        (
            "POST",
            "/api/users",
            "/api/users".into(),
            Some(r#"{"username":"new","password":"long enough","role":"inspector","unit":null}"#.into()),
            &admin,
        ),
        (
            "PATCH",
            "/api/users/{username}",
            "/api/users/new".into(),
            Some(r#"{"disabled":true}"#.into()),
            &admin,
        ),
        ("GET", "/api/audit", "/api/audit?last=50".into(), None, &admin),
        ("GET", "/api/tokens", "/api/tokens".into(), None, &admin),
        (
            "POST",
            "/api/tokens",
            "/api/tokens".into(),
            Some(r#"{"name":"another"}"#.into()),
            &admin,
        ),
        (
            "DELETE",
            "/api/tokens/{id}",
            format!("/api/tokens/{token_id}"),
            None,
            &admin,
        ),
        (
            "GET",
            "/api/vehicles/{id}/report",
            format!("/api/vehicles/{own}/report?month=2026-11"),
            None,
            &inspector,
        ),
        (
            "GET",
            "/api/units/{id}/report",
            format!("/api/units/{unit}/report?month=2026-11"),
            None,
            &inspector,
        ),
        ("GET", "/api/fuel/cards", "/api/fuel/cards".into(), None, &admin),
        (
            "PATCH",
            "/api/fuel/cards/{number}",
            "/api/fuel/cards/1000000000000001".into(),
            Some(r#"{"limit_month_fen":300000}"#.into()),
            &admin,
        ),
        ("GET", "/api/fuel/stations", "/api/fuel/stations".into(), None, &inspector),
        (
            "PUT",
            "/api/fuel/profiles/{vehicle}",
            format!("/api/fuel/profiles/{own}"),
            Some(r#"{"tank_litres":60,"rated_l_per_100km":8,"fuel":"petrol"}"#.into()),
            &admin,
        ),
        ("GET", "/api/fuel/profiles", "/api/fuel/profiles".into(), None, &admin),
        (
            "POST",
            "/api/fuel/statements",
            "/api/fuel/statements?name=s.csv".into(),
            Some(statement.into()),
            &inspector,
        ),
        ("GET", "/api/fuel/findings", "/api/fuel/findings".into(), None, &inspector),
    ];
    let mut covered = Vec::new();
    for (method, route, path, body, cookie) in &calls {
        let cookie = (!cookie.is_empty()).then_some(*cookie);
        let r = http(api.addr, method, path, cookie, body.as_deref()).await;
        let responses = &doc["paths"][*route][method.to_ascii_lowercase()]["responses"];
        let status = r.status.to_string();
        let declared = &responses[&status];
        assert!(
            declared.is_object(),
            "{method} {path} answered {status}, not declared: {}",
            r.body
        );
        let schema = &declared["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {route}: no schema for {status}");
        let mut errors = Vec::new();
        check(&doc, schema, &r.json(), "$", &mut errors);
        assert!(errors.is_empty(), "{method} {path}: {errors:#?}\n{}", r.body);
        covered.push((*method, *route));
    }
    // Every route whose answer has a schema was checked here.
    for spec in ROUTES {
        let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
        let has_schema = op["responses"]
            .as_object()
            .expect("responses")
            .iter()
            .any(|(s, r)| s.starts_with('2') && r["content"].is_object());
        if has_schema {
            assert!(
                covered.contains(&(spec.method, spec.path)),
                "{} {} has an answer schema no call here checks",
                spec.method,
                spec.path
            );
        }
    }
}

//! Alert cases as JT/T 809 alarm reports between two real Tianshu binaries on loopback (2019 edition): a
//! city's cases of its covered cars reach its province once each, also a case raised while the province
//! was down; a case of a car the city does not forward never does, nor does one raised before the link
//! first came up.

use std::time::Duration;

use serde_json::{Value, json};
use tianshu_e2e::api::{create_user, http, login_at, status, status_json};
use tianshu_e2e::gateway::plate;
use tianshu_e2e::jt809::{COVERED, Pair};
use tianshu_e2e::openapi::assert_documented;
use tianshu_e2e::{Tianshu, wait_until};
use tianshu_model::Timestamp;
use tianshu_model::case::NewCase;
use tianshu_store::Store;
use tianshu_store::access::Role;

const LIMIT: Duration = Duration::from_secs(90);

/// Opens a case of rule `rule` on car `plate` at the city; its number.
async fn raise(city: &Store, plate: &str, rule: &str, why: &str) -> i64 {
    let car = city
        .vehicle_by_plate(plate)
        .await
        .expect("reading")
        .expect("the car");
    let case = NewCase {
        vehicle: car.id,
        unit: car.unit,
        rule: rule.into(),
        start: Timestamp::now().add_millis(-600_000),
        end: None,
        severity: "high".into(),
        late: false,
        reasoning: why.into(),
        reasoning_zh: why.into(),
        episode: json!({}),
        escalate_at: None,
    };
    let (id, fresh) = city
        .cases()
        .record_case(&case, &[], Timestamp::now())
        .await
        .expect("the case");
    assert!(fresh);
    id
}

/// The alarm reports the province lists, newest first, checked against the OpenAPI document.
async fn alarms(province: &Tianshu, cookie: &str) -> Vec<Value> {
    let r = http(province.http, "GET", "/api/jt809/alarms", Some(cookie), None).await;
    let list = status_json(&r, 200, "listing the alarm reports");
    assert_documented("GET", "/api/jt809/alarms", 200, &list);
    list.as_array().expect("a list").clone()
}

/// The province's inspector supervises alarm report `alarm`: the request names its car, type and time; a
/// report of no such number, or one with the car named again, is refused.
async fn supervise_an_alarm(province: &Tianshu, cookie: &str, alarm: &Value) {
    let post = |body: Value| async move {
        http(
            province.http,
            "POST",
            "/api/jt809/supervisions",
            Some(cookie),
            Some(&body.to_string()),
        )
        .await
    };
    for body in [
        json!({"peer": "huangshi", "alarm_id": 999_999}),
        json!({"peer": "huangshi", "alarm_id": alarm["id"], "plate": "鄂B1"}),
        json!({"peer": "huangshi"}),
    ] {
        let r = post(body).await;
        status(&r, 400, "a supervision of no alarm");
    }
    let r = post(json!({"peer": "huangshi", "alarm_id": alarm["id"], "answer_minutes": 30})).await;
    let sent = status_json(&r, 201, "supervising the alarm");
    assert_documented("POST", "/api/jt809/supervisions", 201, &sent);
    assert_eq!(sent["plate"], alarm["plate"]);
    assert_eq!(sent["warn_type"], alarm["warn_type"]);
    assert_eq!(sent["warn_time"], alarm["warn_time"]);
}

/// Waits until the city has passed case `id` in its reports to the province.
async fn city_passed(city: &Store, id: i64) {
    wait_until("the city to pass the case", LIMIT, || async {
        city.jt809_alarms()
            .position("province")
            .await
            .expect("reading the position")
            .is_some_and(|p| p >= id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citys_cases_reach_its_province_once_as_alarm_reports_through_a_province_crash() {
    let pair = Pair::new("jt809a", "edition = \"2019\"\n").await;
    let city_store = Store::open(&pair.city_db.url()).await.expect("the city's store");
    // Raised before the link ever came up: not reported.
    raise(&city_store, &plate(0), "out_of_hours", "链路建立前的案件").await;
    let province_store = Store::open(&pair.province_db.url())
        .await
        .expect("the province's store");
    create_user(&province_store, "inspector", Role::Inspector, None).await;
    let mut province = pair.province();
    let city = pair.city();
    wait_until("the city's alarm position", LIMIT, || async {
        city_store
            .jt809_alarms()
            .position("province")
            .await
            .expect("reading")
            .is_some()
    })
    .await;

    let speeding = raise(&city_store, &plate(1), "overspeed", "车辆超速行驶").await;
    let elsewhere = raise(&city_store, &plate(COVERED), "off_route", "不转发单位的车辆").await;
    let cookie = login_at(province.http, "inspector").await;
    wait_until("the first report at the province", LIMIT, || async {
        !alarms(&province, &cookie).await.is_empty()
    })
    .await;
    city_passed(&city_store, elsewhere).await;

    // The province dies; a case raised meanwhile arrives after its restart.
    province.kill();
    let outside = raise(&city_store, &plate(2), "region_exit", "驶出允许区域").await;
    wait_until("the city to find the link broken", LIMIT, || async {
        city.metric("tianshu_jt809_links_closed_total", "reason=\"upper_link\"")
            .await
            >= 1.0
    })
    .await;
    let province = pair.province();
    let cookie = login_at(province.http, "inspector").await;
    wait_until("the backlog's report at the province", LIMIT, || async {
        alarms(&province, &cookie).await.len() >= 2
    })
    .await;
    city_passed(&city_store, outside).await;

    let list = alarms(&province, &cookie).await;
    let seen: Vec<(String, i64, String)> = list
        .iter()
        .map(|a| {
            (
                a["plate"].as_str().unwrap_or_default().to_string(),
                a["warn_type"].as_i64().unwrap_or(-1),
                a["info"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (plate(2), 0x0008, "[region_exit] 驶出允许区域".to_string()),
            (plate(1), 0x0001, "[overspeed] 车辆超速行驶".to_string()),
        ],
        "each covered case once, newest first; case {speeding} and {outside}"
    );
    assert_eq!(list[0]["peer"], "huangshi");
    assert_eq!(list[0]["warn_type_name"], "越界报警");
    assert_eq!(list[0]["info_id"], 0, "a 2019 report has no INFO_ID");
    assert!(!list[1]["start"].is_null(), "a 2019 report carries its period");
    supervise_an_alarm(&province, &cookie, &list[0]).await;
    assert_eq!(
        city.metric("tianshu_jt809_alarms_total", "outcome=\"forwarded\"")
            .await,
        2.0
    );
}

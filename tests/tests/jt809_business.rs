//! Platform checks (平台查岗) and supervision requests (报警督办) between two real Tianshu binaries on
//! loopback, linked by JT/T 809 (2011, whose supervision names its car): the province asks its city through the API, the
//! request appears in the city's list, the city's dispatcher answers, and the province has the answer; a
//! supervision of a car with an open case at the city is answered once the unit explains the case.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tianshu_e2e::api::{Resp, create_user, explain_case, http, login_at, status, status_json};
use tianshu_e2e::gateway::plate;
use tianshu_e2e::jt809::Pair;
use tianshu_e2e::openapi::assert_documented;
use tianshu_e2e::{Tianshu, wait_until};
use tianshu_model::Timestamp;
use tianshu_model::case::NewCase;
use tianshu_store::Store;
use tianshu_store::access::Role;

const LIMIT: Duration = Duration::from_secs(60);

/// One side: its HTTP address and a logged-in user's cookie.
struct Office {
    http: SocketAddr,
    cookie: String,
}

impl Office {
    async fn new(instance: &Tianshu, url: &str, user: &str, role: Role) -> Office {
        let store = Store::open(url).await.expect("opening the store");
        create_user(&store, user, role, None).await;
        store.close().await.expect("closing");
        Office {
            http: instance.http,
            cookie: login_at(instance.http, user).await,
        }
    }

    /// POSTs `body`; a success's answer is checked against the OpenAPI document.
    async fn post(&self, path: &str, body: Value) -> Resp {
        let r = http(
            self.http,
            "POST",
            path,
            Some(&self.cookie),
            Some(&body.to_string()),
        )
        .await;
        if (200..300).contains(&r.status) {
            assert_documented("POST", path, r.status, &r.json());
        }
        r
    }

    /// The requests of `kind` listed, newest first.
    async fn requests(&self, kind: &str) -> Vec<Value> {
        let r = http(
            self.http,
            "GET",
            &format!("/api/jt809/requests?kind={kind}"),
            Some(&self.cookie),
            None,
        )
        .await;
        let list = status_json(&r, 200, "listing the platform requests");
        assert_documented("GET", "/api/jt809/requests", 200, &list);
        list.as_array().expect("a list").clone()
    }

    /// Waits for the newest request of `kind` to satisfy `done`, and returns it.
    async fn wait_for(&self, what: &str, kind: &str, done: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, LIMIT, || async {
            self.requests(kind).await.first().is_some_and(&done)
        })
        .await;
        self.requests(kind).await.remove(0)
    }
}

/// The province's inspector sends a check; bad ones are refused with the field named.
async fn province_asks(province: &Office) -> Value {
    for (body, field) in [
        (json!({"peer": "wuhan", "question": "在岗?"}), "peer"),
        (json!({"peer": "huangshi", "question": "  "}), "question"),
        (
            json!({"peer": "huangshi", "question": "在岗?", "answer_minutes": 0}),
            "answer_minutes",
        ),
    ] {
        let r = province.post("/api/jt809/checks", body).await;
        status(&r, 400, "a bad check");
        assert!(r.body.contains(field), "the refusal names {field}: {}", r.body);
    }
    let body = json!({"peer": "huangshi", "question": "请报告当前值班人员", "answer_minutes": 5});
    let sent = status_json(
        &province.post("/api/jt809/checks", body).await,
        201,
        "sending a check",
    );
    assert_eq!(sent["direction"], "sent");
    assert_eq!(
        sent["sent"],
        Value::Null,
        "not on the wire before the link takes it"
    );
    sent
}

/// The city's dispatcher answers the check; a second answer and the wrong kind of answer are refused.
async fn city_answers(city: &Office) -> Value {
    let check = city
        .wait_for("the check at the city", "check", |r| {
            r["question"] == "请报告当前值班人员"
        })
        .await;
    assert_eq!(check["direction"], "received");
    assert_eq!(check["peer"], "province");
    assert_eq!(check["answer"], Value::Null);
    assert_eq!(check["late"], false);
    let path = format!("/api/jt809/requests/{}/answer", check["id"]);
    status(
        &city.post(&path, json!({"result": "handled"})).await,
        400,
        "a check answered with a result",
    );
    let answered = status_json(
        &city.post(&path, json!({"text": " 值班员王五在岗 "})).await,
        200,
        "answering the check",
    );
    assert_eq!(answered["answer"], "值班员王五在岗");
    assert_eq!(answered["answered_by"], "duty");
    status(
        &city.post(&path, json!({"text": "again"})).await,
        409,
        "answering twice",
    );
    answered
}

/// A case of the city's car `plate`, open.
async fn open_case(city: &Store, plate: &str) -> i64 {
    let car = city
        .vehicle_by_plate(plate)
        .await
        .expect("reading")
        .expect("the car");
    let case = NewCase {
        vehicle: car.id,
        unit: car.unit,
        rule: "out_of_hours".into(),
        start: Timestamp::now().add_millis(-3_600_000),
        end: None,
        severity: "medium".into(),
        late: false,
        reasoning: "out of hours".into(),
        reasoning_zh: "非工作时间用车".into(),
        episode: json!({}),
        escalate_at: None,
    };
    let (id, _) = city
        .cases()
        .record_case(&case, &[], Timestamp::now())
        .await
        .expect("the case");
    id
}

/// Two supervisions: one of a car without a case, answered by the dispatcher; one of a car with an open
/// case, answered by itself once the unit explains the case.
async fn supervision_round(province: &Office, city: &Office, city_store: &Store) {
    let supervise =
        |plate: String| json!({"peer": "huangshi", "plate": plate, "warn_type": 1, "answer_minutes": 30});
    status(
        &province
            .post("/api/jt809/supervisions", supervise(plate(2)))
            .await,
        201,
        "sending a supervision",
    );
    let asked = city
        .wait_for("the supervision at the city", "supervision", |r| {
            r["direction"] == "received"
        })
        .await;
    assert_eq!(asked["warn_type"], 1);
    assert_eq!(asked["case_id"], Value::Null, "the car has no case");
    let path = format!("/api/jt809/requests/{}/answer", asked["id"]);
    status(
        &city.post(&path, json!({"result": "done"})).await,
        400,
        "an unknown result",
    );
    status(
        &city.post(&path, json!({"result": "handled"})).await,
        200,
        "answering the supervision",
    );
    province
        .wait_for("the supervision's result at the province", "supervision", |r| {
            r["answer"] == "handled"
        })
        .await;

    let case = open_case(city_store, &plate(1)).await;
    status(
        &province
            .post("/api/jt809/supervisions", supervise(plate(1)))
            .await,
        201,
        "supervising a car with a case",
    );
    let case_id = case.to_string();
    city.wait_for("the case's supervision at the city", "supervision", |r| {
        r["case_id"] == case_id.as_str()
    })
    .await;
    explain_case(
        city_store,
        case,
        "supervisor",
        "会议用车，已补登记",
        Timestamp::now(),
    )
    .await;
    let back = province
        .wait_for("the case's outcome at the province", "supervision", |r| {
            r["plate"] == plate(1) && r["answer"] == "handled"
        })
        .await;
    assert!(!back["answered"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_province_checks_and_supervises_its_city_and_has_the_answers() {
    let pair = Pair::new("jt809b", "edition = \"2011\"\n").await;
    let (province, city) = (pair.province(), pair.city());
    let province_office = Office::new(&province, &pair.province_db.url(), "inspector", Role::Inspector).await;
    let city_office = Office::new(&city, &pair.city_db.url(), "duty", Role::Dispatcher).await;
    // A dispatcher answers; only the office above sends checks.
    status(
        &city_office
            .post("/api/jt809/checks", json!({"peer": "huangshi", "question": "?"}))
            .await,
        403,
        "a dispatcher sending a check",
    );

    let sent = province_asks(&province_office).await;
    city_answers(&city_office).await;
    let back = province_office
        .wait_for("the answer at the province", "check", |r| !r["answer"].is_null())
        .await;
    assert_eq!(back["id"], sent["id"]);
    assert_eq!(back["answer"], "值班员王五在岗");
    assert_eq!(
        back["answered_by"], "huangshi",
        "a 2011 answer names no responder: the peer answered"
    );
    assert!(!back["sent"].is_null());

    let city_store = Store::open(&pair.city_db.url()).await.expect("the city's store");
    supervision_round(&province_office, &city_office, &city_store).await;
    for (instance, outcome, n) in [
        (&city, "received", 3.0),
        (&city, "answered", 3.0),
        (&city, "late", 0.0),
        (&province, "sent", 3.0),
        (&province, "answer_received", 3.0),
    ] {
        assert_eq!(
            instance
                .metric("tianshu_jt809_requests_total", &format!("outcome=\"{outcome}\""))
                .await,
            n,
            "{outcome}"
        );
    }
}

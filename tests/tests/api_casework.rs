//! The office's casework over HTTP on both backends: a complaint entered with a known and an unknown
//! plate, its evidence, forwarded with a deadline in working days, answered by the unit's supervisor
//! (and by no other unit's), sent back, accepted and replied to; a case opened from it that takes a
//! finding with two people only once explained; the reporter's number sealed at rest, masked in
//! answers, never shown to the unit, unmasked only with an audit record; bad input refused with nothing
//! changed; and the summary (API and command line) counting a planted year exactly.

use std::collections::BTreeMap;

use serde_json::Value;
use tianshu_e2e::api::{
    OWN_PLATE, Resp, Scratch, T0_SECS, TestApi, contains, create_user, explain_case, http, stored_bytes,
};
use tianshu_model::case::NewCase;
use tianshu_model::complaint::{Accountable, Channel, Measure, NamedCar, NewComplaint};
use tianshu_model::{CaseState, Timestamp, UnitId};
use tianshu_rules::casework::{ComplaintAction, FindingInput};
use tianshu_store::access::Role;
use tianshu_store::casework::{ComplaintStep, FindingWrite};

const KEY: &str = "5f0e2d9c8b7a69584736251403f2e1d0c9b8a7968574635241302f1e0d0c0b0a";
const PHONE: &str = "13812345678";

#[track_caller]
fn status(r: &Resp, want: u16, what: &str) -> Value {
    assert_eq!(r.status, want, "{what}: {}", r.body);
    r.json()
}

/// `POST /api/complaints/{id}/{action}` as `who`.
async fn step(api: &TestApi, id: i64, action: &str, who: Option<&str>, body: Option<&str>) -> Resp {
    http(
        api.addr,
        "POST",
        &format!("/api/complaints/{id}/{action}"),
        who,
        body,
    )
    .await
}

fn rfc(secs: i64) -> String {
    Timestamp::from_millis(secs * 1000).to_rfc3339()
}

async fn start(scratch: Scratch) -> TestApi {
    let api = TestApi::seeded(scratch).await;
    api.state
        .set_reporter_key(tianshu_api::reporter::ReporterKey::parse(KEY).expect("the key"));
    api
}

async fn count(api: &TestApi) -> u64 {
    let f = tianshu_model::complaint::ComplaintFilter::default();
    api.store.casework().complaints(&f).await.expect("listing").1
}

async fn a_complaint_goes_through_its_workflow(scratch: Scratch) {
    let api = start(scratch).await;
    let desk = api.login("dispatcher").await;
    let inspector = api.login("inspector").await;
    let supervisor = api.login("supervisor").await;
    create_user(
        &api.store,
        "other_unit",
        Role::Supervisor,
        Some(api.units["黄石市/公安局"]),
    )
    .await;
    let other = api.login("other_unit").await;
    let (d, i, s, o) = (
        Some(desk.as_str()),
        Some(inspector.as_str()),
        Some(supervisor.as_str()),
        Some(other.as_str()),
    );
    let own = api.vid(OWN_PLATE);
    let own_unit = api.units["黄石市/市委办公室"].0;

    // The page is told the forms' choices: the configured violation types, the measures, the default days.
    let config = status(
        &http(api.addr, "GET", "/api/config", d, None).await,
        200,
        "config",
    );
    assert_eq!(
        config["casework"]["violation_types"][1], "节假日违规用车",
        "{config}"
    );
    assert_eq!(config["casework"]["measures"].as_array().map(Vec::len), Some(7));
    assert_eq!(config["casework"]["answer_days"], 5);
    assert_eq!(
        config["casework"]["unmask_roles"],
        serde_json::json!(["administrator", "inspector"])
    );

    // Bad input: the window's end before its start; nothing stored.
    let bad = format!(
        r#"{{"channel":"hotline","reporter_phone":"{PHONE}","text":"公车停在商场","plates":["{OWN_PLATE}"],"window_from":"{}","window_to":"{}"}}"#,
        rfc(T0_SECS + 600),
        rfc(T0_SECS)
    );
    let e = status(
        &http(api.addr, "POST", "/api/complaints", d, Some(&bad)).await,
        400,
        "window reversed",
    );
    assert!(e["error"].as_str().unwrap_or_default().contains("window"), "{e}");
    assert_eq!(count(&api).await, 0, "nothing stored");

    // Entered with a partial plate of a known car and an unknown plate: the unknown one kept, flagged.
    let partial = &OWN_PLATE[OWN_PLATE.len() - 5..];
    let body = format!(
        r#"{{"channel":"12345","reporter_name":"王某","reporter_phone":"{PHONE}","text":"周末公车停在商场","place":"万达广场","plates":["{partial}","京A99999"],"window_from":"{}","window_to":"{}"}}"#,
        rfc(T0_SECS - 60),
        rfc(T0_SECS + 700)
    );
    let c = status(
        &http(api.addr, "POST", "/api/complaints", d, Some(&body)).await,
        201,
        "entered",
    );
    let id = c["id"].as_i64().expect("id");
    assert_eq!(c["cars"][0]["vehicle"], own, "the partial plate resolved: {c}");
    assert_eq!(c["cars"][1]["vehicle"], Value::Null);
    assert_eq!(c["cars"][1]["text"], "京A99999");
    assert_eq!(c["unresolved"], true);
    assert_eq!(c["reporter_phone"], "138****5678");
    assert_eq!(c["state"], "received");

    // Its evidence: the car's track over the window, where it was, the replay link.
    let ev = status(
        &http(
            api.addr,
            "GET",
            &format!("/api/complaints/{id}/evidence"),
            d,
            None,
        )
        .await,
        200,
        "evidence",
    );
    assert_eq!(ev["cars"][0]["points"], 60, "{ev}");
    assert_eq!(ev["unresolved"][0], "京A99999");
    assert!(
        ev["cars"][0]["replay"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("/api/vehicles/{own}/replay"))
    );
    assert!(ev["cars"][0]["at_time"]["latitude"].is_number(), "{ev}");

    // Not yet forwarded: the unit's supervisor does not see it.
    let r = status(
        &http(api.addr, "GET", "/api/complaints", s, None).await,
        200,
        "inbox",
    );
    assert_eq!(r["total"], 0);

    // Forward with a deadline in the past: refused, nothing changed.
    let past = format!(r#"{{"deadline":"{}"}}"#, rfc(T0_SECS));
    status(
        &step(&api, id, "forward", d, Some(&past)).await,
        400,
        "deadline in the past",
    );
    let r = status(
        &http(api.addr, "GET", &format!("/api/complaints/{id}"), d, None).await,
        200,
        "detail",
    );
    assert_eq!(r["state"], "received");

    let f = status(&step(&api, id, "forward", d, Some("{}")).await, 200, "forwarded");
    assert_eq!(f["state"], "forwarded");
    assert_eq!(f["unit"], own_unit, "to the car's unit");
    let deadline = Timestamp::parse_rfc3339(f["deadline"].as_str().unwrap_or_default()).unwrap_or_default();
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    assert!(
        deadline.0 > now.0 + 5 * 86_400_000,
        "five working days and more: {f}"
    );

    // The unit's supervisor sees it, without the reporter; another unit's does not, and may not answer.
    let inbox = http(api.addr, "GET", "/api/complaints?state=forwarded", s, None).await;
    let r = status(&inbox, 200, "inbox");
    assert_eq!(r["total"], 1);
    for (name, resp) in [
        ("list", inbox),
        (
            "detail",
            http(api.addr, "GET", &format!("/api/complaints/{id}"), s, None).await,
        ),
        (
            "evidence",
            http(
                api.addr,
                "GET",
                &format!("/api/complaints/{id}/evidence"),
                s,
                None,
            )
            .await,
        ),
    ] {
        assert_eq!(resp.status, 200, "{name}: {}", resp.body);
        assert!(
            !resp.body.contains(PHONE) && !resp.body.contains("138****5678") && !resp.body.contains("王某"),
            "{name} to the supervisor: {}",
            resp.body
        );
    }
    let r = status(
        &http(api.addr, "GET", "/api/complaints", o, None).await,
        200,
        "other inbox",
    );
    assert_eq!(r["total"], 0);
    let answer = r#"{"text":"已核实，司机私用，已责令整改"}"#;
    status(
        &step(&api, id, "answer", o, Some(answer)).await,
        403,
        "another unit answers",
    );
    status(
        &http(
            api.addr,
            "GET",
            &format!("/api/complaints/{id}/reporter"),
            s,
            None,
        )
        .await,
        403,
        "the unit unmasks",
    );

    // Answered, sent back, answered again, accepted, replied.
    let a = status(&step(&api, id, "answer", s, Some(answer)).await, 200, "answered");
    assert_eq!(
        (a["state"].as_str(), a["answered_in_time"].as_bool()),
        (Some("answered"), Some(true))
    );
    status(
        &step(&api, id, "answer", s, Some(answer)).await,
        409,
        "answered twice",
    );
    let back = r#"{"decision":"send_back","text":"请说明整改措施"}"#;
    status(&step(&api, id, "review", i, Some(back)).await, 200, "sent back");
    status(
        &step(&api, id, "answer", s, Some(answer)).await,
        200,
        "answered again",
    );
    status(
        &step(&api, id, "review", s, Some(r#"{"decision":"accept"}"#)).await,
        403,
        "the unit accepts its own answer",
    );
    status(
        &step(&api, id, "review", i, Some(r#"{"decision":"accept"}"#)).await,
        200,
        "accepted",
    );
    let reply = r#"{"how":"phone","text":"已电话告知处理结果"}"#;
    let r = status(&step(&api, id, "reply", d, Some(reply)).await, 200, "replied");
    assert_eq!(r["state"], "replied");
    let steps: Vec<&str> = r["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        steps,
        [
            "received",
            "forwarded",
            "answered",
            "sent_back",
            "answered",
            "accepted",
            "replied"
        ]
    );

    // A case opened from it: no finding while open; explained, it takes one and closes.
    let r = status(
        &step(&api, id, "cases", d, Some(&format!(r#"{{"open":{own}}}"#))).await,
        200,
        "case opened",
    );
    let case_id = r["cases"][0].as_i64().expect("the case");
    let finding = r#"{"outcome":"confirmed","violation":"公车私用","people":[{"name":"张三","post":"驾驶员","unit":"市委办公室","measure":"党纪处分"},{"name":"李四","post":"科长","unit":"市委办公室","measure":"诫勉谈话"}],"recovered_yuan":1234.5,"note":"周末私用"}"#;
    let path = format!("/api/cases/{case_id}/finding");
    status(
        &http(api.addr, "PUT", &path, i, Some(finding)).await,
        409,
        "finding on an open case",
    );
    status(
        &http(api.addr, "GET", &path, i, None).await,
        404,
        "no finding stored",
    );
    explain_case(&api.store, case_id, "supervisor", "周末用车", now).await;
    status(
        &http(api.addr, "PUT", &path, s, Some(finding)).await,
        403,
        "the unit records its own finding",
    );
    let unknown_type = finding.replace("公车私用", "其他");
    status(
        &http(api.addr, "PUT", &path, i, Some(&unknown_type)).await,
        400,
        "a violation type not configured",
    );
    let f = status(
        &http(api.addr, "PUT", &path, i, Some(finding)).await,
        200,
        "finding",
    );
    assert_eq!(f["recovered_fen"], 123_450);
    let closed = api
        .store
        .cases()
        .case(case_id)
        .await
        .expect("reading")
        .expect("the case");
    assert_eq!(closed.state, CaseState::Closed);
    let seen = status(
        &http(api.addr, "GET", &path, s, None).await,
        200,
        "the unit reads it",
    );
    assert_eq!(seen["people"].as_array().map(Vec::len), Some(2));

    // Unmasked only for the configured role, audited.
    let r = status(
        &http(
            api.addr,
            "GET",
            &format!("/api/complaints/{id}/reporter"),
            i,
            None,
        )
        .await,
        200,
        "unmasked",
    );
    assert_eq!(r["phone"], PHONE);

    // The figures count exactly that.
    let year = chrono::Utc::now().format("%Y").to_string();
    let next: i32 = year.parse::<i32>().unwrap_or_default() + 1;
    let q = format!("/api/casework/summary?from={year}-01-01&to={next}-01-01");
    let sum = status(&http(api.addr, "GET", &q, i, None).await, 200, "summary");
    let t = &sum["total"];
    let got = totals(t);
    assert_eq!(got, [1, 1, 1, 0, 1, 1, 1, 2, 1, 0, 123_450], "{sum}");
    assert_eq!(t["confirmed_by_type"]["公车私用"], 1);
    let csv = http(api.addr, "GET", &format!("{q}&format=csv"), i, None).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body.contains("合计,,1,1,1,0,1,1,1,2,1,0,1234.50,公车私用=1"),
        "{}",
        csv.body
    );
    // The same as a workbook titled in English: the total line's cells as numbers, the amount in yuan.
    let xlsx = http(api.addr, "GET", &format!("{q}&format=xlsx&lang=en"), i, None).await;
    assert_eq!(xlsx.status, 200);
    let files = tianshu_e2e::xlsx::unzip(&xlsx.bytes);
    let sheet = tianshu_e2e::xlsx::sheet_cells(&files["xl/worksheets/sheet1.xml"]);
    assert_eq!(sheet["A1"], "Unit");
    assert_eq!(sheet["C1"], "Complaints received");
    let last = sheet
        .iter()
        .find(|(_, v)| v.as_str() == "Total")
        .map(|(k, _)| k.trim_start_matches('A').to_string())
        .expect("a total line");
    let total: Vec<&str> = "CDEFGHIJKLMN"
        .chars()
        .map(|c| sheet[&format!("{c}{last}")].as_str())
        .collect();
    assert_eq!(
        total,
        [
            "1",
            "1",
            "1",
            "0",
            "1",
            "1",
            "1",
            "2",
            "1",
            "0",
            "1234.5",
            "公车私用=1"
        ]
    );
    assert!(
        !files.values().any(|x| x.contains(PHONE)),
        "no number in the export"
    );
    let other_sum = status(
        &http(api.addr, "GET", &q, o, None).await,
        200,
        "another unit's figures",
    );
    assert_eq!(other_sum["total"]["received"], 0, "{other_sum}");

    // Every step audited; the number in clear nowhere: not in the log, the outbox, the stored bytes.
    let log = api.store.access().audit(0, 10_000).await.expect("audit log");
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    for want in [
        "complaint.create",
        "complaint.forward",
        "complaint.answer",
        "complaint.send_back",
        "complaint.accept",
        "complaint.reply",
        "complaint.case_open",
        "complaint.evidence",
        "case.finding",
        "complaint.unmask",
    ] {
        assert!(actions.contains(&want), "{want} audited: {actions:?}");
    }
    assert!(
        !actions.contains(&"complaint.unmask")
            || actions.iter().filter(|a| **a == "complaint.unmask").count() == 1
    );
    let log_text = serde_json::to_string(&log).unwrap_or_default();
    assert!(!log_text.contains(PHONE), "the audit log");
    let deliveries = api.store.cases().deliveries(case_id).await.expect("outbox");
    assert!(deliveries.iter().all(|d| !d.payload.contains(PHONE)));
    api.store.flush().await.expect("flush");
    let bytes = stored_bytes(&api).await;
    assert!(contains(&bytes, "万达广场"), "the grep reads the stored rows");
    assert!(
        !contains(&bytes, PHONE),
        "the number in clear in the stored database"
    );
}

async fn bad_input_changes_nothing(scratch: Scratch) {
    let api = start(scratch).await;
    let desk = api.login("dispatcher").await;
    let d = Some(desk.as_str());
    for (body, what) in [
        (r#"{"channel":"hotline","text":""}"#, "no text"),
        (r#"{"channel":"fax","text":"x"}"#, "unknown channel"),
        (
            r#"{"channel":"hotline","text":"x","reporter_phone":"call me"}"#,
            "not a phone",
        ),
        (
            r#"{"channel":"hotline","text":"x","window_from":"2026-05-01T00:00:00Z"}"#,
            "half a window",
        ),
        (
            r#"{"channel":"hotline","text":"x","window_from":"2026-05-01T00:00:00Z","window_to":"2026-05-01T00:00:00Z"}"#,
            "empty window",
        ),
    ] {
        status(
            &http(api.addr, "POST", "/api/complaints", d, Some(body)).await,
            400,
            what,
        );
    }
    assert_eq!(count(&api).await, 0, "nothing stored");
    // An unknown plate alone is kept, flagged; the listing finds it by the flag.
    let r = status(
        &http(
            api.addr,
            "POST",
            "/api/complaints",
            d,
            Some(r#"{"channel":"letter","text":"一辆白色轿车","plates":["京A99999"]}"#),
        )
        .await,
        201,
        "unknown plate",
    );
    assert_eq!(r["unresolved"], true);
    let list = status(
        &http(api.addr, "GET", "/api/complaints?unresolved=true", d, None).await,
        200,
        "flagged",
    );
    assert_eq!(list["total"], 1);
    // Nothing resolved, no unit given: it cannot be forwarded, and says why.
    let path = format!("/api/complaints/{}/forward", r["id"]);
    let e = status(
        &http(api.addr, "POST", &path, d, Some("{}")).await,
        400,
        "no unit",
    );
    assert!(e["error"].as_str().unwrap_or_default().contains("unit"), "{e}");
    status(
        &http(
            api.addr,
            "POST",
            &path.replace("forward", "answer"),
            d,
            Some(r#"{"text":"x"}"#),
        )
        .await,
        403,
        "the desk answers",
    );
}

/// One planted complaint: month (1-12), unit index, and what became of it.
struct Plant {
    month: u32,
    unit: usize,
    forwarded: bool,
    late: bool,
    replied: bool,
}

async fn the_summary_counts_a_planted_year(scratch: Scratch) {
    let api = start(scratch).await;
    let store = &api.store;
    let units = [api.units["黄石市/市委办公室"], api.units["黄石市/公安局"]];
    let plates = [OWN_PLATE, tianshu_e2e::api::FOREIGN_PLATE];
    let at = |m: u32, d: u32| {
        Timestamp::parse_rfc3339(&format!("2025-{m:02}-{d:02}T10:00:00+08:00")).expect("a date")
    };
    // A year of complaints: every month, both units, a known mix of outcomes.
    let mut plants = Vec::new();
    for month in 1..=12u32 {
        for k in 0..(month % 4 + 1) as usize {
            plants.push(Plant {
                month,
                unit: k % 2,
                forwarded: k != 3,
                late: k == 2,
                replied: k == 0,
            });
        }
    }
    for p in &plants {
        let v = &api.vehicles[plates[p.unit]];
        let new = NewComplaint {
            received: at(p.month, 3),
            channel: Channel::Hotline,
            reporter_name: None,
            phone_sealed: None,
            phone_masked: None,
            text: "planted".into(),
            place: String::new(),
            window: None,
            cars: vec![NamedCar {
                text: v.plate.clone(),
                vehicle: Some(v.id),
                plate: Some(v.plate.clone()),
                unit: Some(v.unit),
                candidates: Vec::new(),
            }],
            entered_by: "planter".into(),
        };
        let c = store
            .casework()
            .create(&new, at(p.month, 3))
            .await
            .expect("planted");
        let step = |action, unit: Option<UnitId>, deadline: Option<Timestamp>| ComplaintStep {
            id: c.id,
            action,
            actor: "planter".into(),
            note: "planted".into(),
            unit,
            deadline,
            answering_units: None,
            deliveries: Vec::new(),
        };
        if !p.forwarded {
            continue;
        }
        let due = at(p.month, 10);
        store
            .casework()
            .step(
                &step(ComplaintAction::Forward, Some(units[p.unit]), Some(due)),
                at(p.month, 3),
            )
            .await
            .expect("forward");
        let answered = if p.late { at(p.month, 20) } else { at(p.month, 5) };
        store
            .casework()
            .step(&step(ComplaintAction::Answer, None, None), answered)
            .await
            .expect("answer");
        if p.replied {
            store
                .casework()
                .step(&step(ComplaintAction::Accept, None, None), at(p.month, 21))
                .await
                .expect("accept");
            store
                .casework()
                .step(&step(ComplaintAction::Reply, None, None), at(p.month, 22))
                .await
                .expect("reply");
        }
    }
    // Findings: one confirmed case per quarter with known people and amounts, two unfounded.
    let mut want_people = 0u64;
    let (mut want_sanctioned, mut want_judiciary, mut want_fen) = (0u64, 0u64, 0i64);
    let measures = [
        Measure::PartySanction,
        Measure::Criticism,
        Measure::Judiciary,
        Measure::AdministrativeSanction,
    ];
    for q in 0..6u32 {
        let month = q * 2 + 1;
        let v = &api.vehicles[plates[(q % 2) as usize]];
        let (id, _) = store
            .cases()
            .record_case(
                &NewCase {
                    vehicle: v.id,
                    unit: v.unit,
                    rule: "holiday_seal".into(),
                    start: at(month, 1),
                    end: None,
                    severity: "high".into(),
                    late: false,
                    reasoning: "planted".into(),
                    reasoning_zh: "planted".into(),
                    episode: serde_json::json!({}),
                    escalate_at: None,
                },
                &[],
                at(month, 1),
            )
            .await
            .expect("a case");
        explain_case(store, id, "planter", "planted", at(month, 2)).await;
        let confirmed = q < 4;
        let people: Vec<Accountable> = if confirmed {
            (0..=q as usize)
                .map(|n| Accountable {
                    name: format!("人{q}{n}"),
                    post: String::new(),
                    unit: String::new(),
                    measure: measures[n % measures.len()],
                })
                .collect()
        } else {
            Vec::new()
        };
        if confirmed {
            want_people += people.len() as u64;
            want_sanctioned += people.iter().filter(|p| p.measure.is_sanction()).count() as u64;
            want_judiciary += people.iter().filter(|p| p.measure == Measure::Judiciary).count() as u64;
            want_fen += i64::from(q + 1) * 10_000;
        }
        let input = FindingInput {
            outcome: if confirmed {
                tianshu_model::complaint::FindingOutcome::Confirmed
            } else {
                tianshu_model::complaint::FindingOutcome::Unfounded
            },
            violation: confirmed.then(|| "节假日违规用车".to_string()),
            people,
            recovered_fen: if confirmed { i64::from(q + 1) * 10_000 } else { 0 },
        };
        let decided = chrono::NaiveDate::from_ymd_opt(2025, month, 15).expect("a date");
        store
            .casework()
            .record_finding(
                &FindingWrite {
                    case_id: id,
                    input,
                    decided,
                    note: String::new(),
                    actor: "planter".into(),
                },
                at(month, 15),
            )
            .await
            .expect("finding");
    }
    // What the plan says, counted here by hand.
    let received = plants.len() as i64;
    let forwarded = plants.iter().filter(|p| p.forwarded).count() as i64;
    let late = plants.iter().filter(|p| p.forwarded && p.late).count() as i64;
    let replied = plants.iter().filter(|p| p.forwarded && p.replied).count() as i64;
    let mut by_month: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for p in &plants {
        *by_month
            .entry((units[p.unit].0, format!("2025-{:02}", p.month)))
            .or_default() += 1;
    }

    let inspector = api.login("inspector").await;
    let sum = status(
        &http(
            api.addr,
            "GET",
            "/api/casework/summary?from=2025-01-01&to=2026-01-01",
            Some(&inspector),
            None,
        )
        .await,
        200,
        "summary",
    );
    let t = &sum["total"];
    let got = totals(t);
    let want = [
        received,
        forwarded,
        forwarded - late,
        late,
        replied,
        6,
        4,
        want_people as i64,
        want_sanctioned as i64,
        want_judiciary as i64,
        want_fen,
    ];
    assert_eq!(got, want, "{sum}");
    assert_eq!(t["confirmed_by_type"]["节假日违规用车"], 4);
    let rows: BTreeMap<(i64, String), i64> = sum["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["received"].as_i64() > Some(0))
        .map(|r| {
            (
                (
                    r["unit"].as_i64().unwrap_or(-1),
                    r["month"].as_str().unwrap_or_default().to_string(),
                ),
                r["received"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(rows, by_month, "by unit and month");
    // One unit only.
    let police = units[1].0;
    let sum = status(
        &http(
            api.addr,
            "GET",
            &format!("/api/casework/summary?from=2025-01-01&to=2026-01-01&unit={police}"),
            Some(&inspector),
            None,
        )
        .await,
        200,
        "one unit",
    );
    let want_police = plants.iter().filter(|p| p.unit == 1).count() as i64;
    assert_eq!(sum["total"]["received"], want_police);
    assert_eq!(sum["total"]["findings"], 3);

    // The command line counts the same.
    let out = std::process::Command::new(tianshu_e2e::tianshu_bin())
        .args([
            "casework",
            "summary",
            "--store",
            &api.scratch.url(),
            "--from",
            "2025-01-01",
            "--to",
            "2026-01-01",
        ])
        .output()
        .expect("running tianshu");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let total = text.lines().last().unwrap_or_default();
    let want_line = format!(
        "合计,,{received},{forwarded},{},{late},{replied},6,4,{want_people},{want_sanctioned},{want_judiciary},{}.{:02},节假日违规用车=4",
        forwarded - late,
        want_fen / 100,
        want_fen % 100
    );
    assert_eq!(total, want_line, "{text}");
}

/// A case linked by its number: an unknown number is not found, a case of a unit the complaint does not
/// concern is refused with both units named and nothing linked, a case of its car's unit is linked.
async fn a_case_is_linked_by_its_number_within_the_complaints_unit(scratch: Scratch) {
    let api = start(scratch).await;
    let desk = api.login("dispatcher").await;
    let d = Some(desk.as_str());
    let case_of = |plate: &str| {
        let v = api.vehicles[plate].clone();
        let store = api.store.clone();
        async move {
            let at = Timestamp::from_millis(T0_SECS * 1000);
            let case = NewCase {
                vehicle: v.id,
                unit: v.unit,
                rule: "holiday_seal".into(),
                start: at,
                end: None,
                severity: "high".into(),
                late: false,
                reasoning: "out on a holiday".into(),
                reasoning_zh: "节假日出车".into(),
                episode: serde_json::json!({}),
                escalate_at: None,
            };
            store.cases().record_case(&case, &[], at).await.expect("a case").0
        }
    };
    let own_case = case_of(OWN_PLATE).await;
    let foreign_case = case_of(tianshu_e2e::api::FOREIGN_PLATE).await;
    let body = format!(r#"{{"channel":"hotline","text":"公车私用","plates":["{OWN_PLATE}"]}}"#);
    let c = status(
        &http(api.addr, "POST", "/api/complaints", d, Some(&body)).await,
        201,
        "entered",
    );
    let id = c["id"].as_i64().expect("id");
    let api = &api;
    let post = |case: i64| {
        let body = format!(r#"{{"case":{case}}}"#);
        async move { step(api, id, "cases", d, Some(&body)).await }
    };
    let e = status(
        &post(own_case + foreign_case + 1000).await,
        404,
        "an unknown case",
    );
    assert!(
        e["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("case {}", own_case + foreign_case + 1000)),
        "{e}"
    );
    let e = status(&post(foreign_case).await, 400, "another unit's case");
    assert_eq!(
        e["error"],
        format!("case: case {foreign_case} is of 公安局, not of the complaint's unit (市委办公室)"),
        "{e}"
    );
    let c = status(
        &http(api.addr, "GET", &format!("/api/complaints/{id}"), d, None).await,
        200,
        "read",
    );
    assert_eq!(c["cases"], serde_json::json!([]), "nothing linked: {c}");
    let c = status(&post(own_case).await, 200, "its unit's case");
    assert_eq!(c["cases"], serde_json::json!([own_case]), "{c}");
}

/// Marking numbers (标识号) come with the registry file's `marking` column (imported by the command
/// line) and through the vehicles' API; a complaint naming a marking number, whole or in part, or part
/// of a plate, resolves to the car; what names no car, or several, is kept as written and flagged.
async fn marking_numbers_and_partial_plates_name_cars(scratch: Scratch) {
    let api = start(scratch).await;
    let admin = api.login("administrator").await;
    let desk = api.login("dispatcher").await;
    let (a, d) = (Some(admin.as_str()), Some(desk.as_str()));

    // The registry file: the seeded car gets its marking number, a new car comes with one.
    let csv = "unit,plate,phone,terminal_id,vehicle_class,marking\n\
               黄石市/市委办公室,鄂B10001,13900000001,T13900000001,general,HS-GW-0815\n\
               黄石市/公安局,鄂B30003,13900000009,T13900000009,general,HS-GA-0999\n";
    let file = std::env::temp_dir().join(format!(
        "tianshu-markings-{}-{}.csv",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::write(&file, csv).expect("writing the registry file");
    let out = std::process::Command::new(tianshu_e2e::tianshu_bin())
        .args(["registry", "import", "--store", &api.scratch.url()])
        .arg(&file)
        .output()
        .expect("running tianshu");
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let own = api.vid(OWN_PLATE);
    let r = status(
        &http(api.addr, "GET", &format!("/api/vehicles/{own}"), a, None).await,
        200,
        "the car",
    );
    assert_eq!(r["marking"], "HS-GW-0815", "{r}");

    // Through the API: set on a car, given with a new one; a bad one refused naming it.
    let foreign = api.vid(tianshu_e2e::api::FOREIGN_PLATE);
    let path = format!("/api/vehicles/{foreign}");
    let r = status(
        &http(api.addr, "PATCH", &path, a, Some(r#"{"marking":"HS-GA-0001"}"#)).await,
        200,
        "marking set",
    );
    assert_eq!(r["marking"], "HS-GA-0001");
    let e = status(
        &http(api.addr, "PATCH", &path, a, Some(r#"{"marking":"HS,GA"}"#)).await,
        400,
        "a marking with a separator",
    );
    assert!(e["error"].as_str().unwrap_or_default().contains("marking"), "{e}");
    let unit = api.units["黄石市/公安局"].0;
    let body = format!(r#"{{"plate":"鄂B40004","unit":{unit},"class":"general","marking":"HS-GA-0404"}}"#);
    let r = status(
        &http(api.addr, "POST", "/api/vehicles", a, Some(&body)).await,
        201,
        "a car with its marking",
    );
    assert_eq!(r["marking"], "HS-GA-0404");
    let fourth = r["id"].as_i64().expect("id");

    // A complaint naming cars as the public does.
    let body = r#"{"channel":"hotline","text":"几辆公车在钓鱼","plates":["hs gw 0815","0999","B2000","GA-0","HS-ZF-7777","0404"]}"#;
    let c = status(
        &http(api.addr, "POST", "/api/complaints", d, Some(body)).await,
        201,
        "entered",
    );
    let third = api
        .store
        .vehicle_by_plate("鄂B30003")
        .await
        .expect("reading")
        .expect("the imported car")
        .id
        .0;
    let resolved: Vec<Value> = c["cars"]
        .as_array()
        .expect("cars")
        .iter()
        .map(|n| n["vehicle"].clone())
        .collect();
    assert_eq!(
        resolved,
        [
            Value::from(own),
            Value::from(third),
            Value::from(foreign),
            Value::Null,
            Value::Null,
            Value::from(fourth)
        ],
        "{c}"
    );
    assert_eq!(c["cars"][0]["plate"], OWN_PLATE, "shown by its plate");
    assert_eq!(
        c["cars"][3]["candidates"],
        serde_json::json!(["鄂B20001", "鄂B30003", "鄂B40004"]),
        "several cars: kept, with the candidates"
    );
    assert_eq!(c["cars"][4]["text"], "HS-ZF-7777");
    assert_eq!(c["unresolved"], true);
    let listed = status(
        &http(api.addr, "GET", "/api/complaints?unresolved=true", d, None).await,
        200,
        "flagged",
    );
    assert_eq!(listed["total"], 1);
}

tianshu_e2e::on_both_backends!(
    marking_numbers_and_partial_plates_name_cars,
    a_complaint_goes_through_its_workflow,
    bad_input_changes_nothing,
    the_summary_counts_a_planted_year,
    a_case_is_linked_by_its_number_within_the_complaints_unit,
);

/// A summary's totals in a fixed order: received, forwarded, answered in time, overdue, replied, findings,
/// confirmed, people, sanctioned, judiciary, recovered (fen); -1 for a figure missing.
fn totals(t: &serde_json::Value) -> Vec<i64> {
    [
        "received",
        "forwarded",
        "answered_in_time",
        "overdue",
        "replied",
        "findings",
        "confirmed",
        "people",
        "sanctioned",
        "judiciary",
        "recovered_fen",
    ]
    .iter()
    .map(|k| t[k].as_i64().unwrap_or(-1))
    .collect()
}

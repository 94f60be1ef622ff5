//! The figures the issue quotes for casework, measured over HTTP on both backends: a year of 10,000
//! complaints filtered and paged (each page timed, p50 and p99 printed), and the evidence of a complaint
//! naming two cars over a day. They are printed, not asserted, and run by hand (a measurement, not a
//! test: a loaded machine must not fail it, and CI need not spend a minute on it):
//! `TIANSHU_BIN=target/debug/tianshu cargo test -p tianshu-e2e --test casework_figures -- --ignored --nocapture`

use std::time::Instant;

use tianshu_e2e::api::{FOREIGN_PLATE, OWN_PLATE, Scratch, T0_SECS, TestApi, http};
use tianshu_model::Timestamp;
use tianshu_model::complaint::{Channel, NamedCar, NewComplaint};
use tianshu_rules::casework::ComplaintAction;
use tianshu_store::casework::ComplaintStep;

const COMPLAINTS: usize = 10_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn a_year_of_complaints_pages_and_evidence_shows(scratch: Scratch) {
    let backend = if matches!(scratch, Scratch::Embedded(_)) {
        "embedded"
    } else {
        "postgres"
    };
    let api = TestApi::seeded(scratch).await;
    let cars: Vec<_> = [OWN_PLATE, FOREIGN_PLATE]
        .iter()
        .map(|p| api.vehicles[*p].clone())
        .collect();
    let year_start = Timestamp::parse_rfc3339("2025-01-01T00:00:00+08:00").expect("a date");
    let step_ms = 365 * 86_400_000 / COMPLAINTS as i64;
    let planted = Instant::now();
    for k in 0..COMPLAINTS {
        let v = &cars[k % 2];
        let received = Timestamp(year_start.0 + k as i64 * step_ms);
        let new = NewComplaint {
            received,
            channel: Channel::ALL[k % Channel::ALL.len()],
            reporter_name: None,
            phone_sealed: None,
            phone_masked: None,
            text: format!("第{k}号举报"),
            place: "某地".into(),
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
        let c = api
            .store
            .casework()
            .create(&new, received)
            .await
            .expect("planted");
        if k % 3 == 0 {
            let step = ComplaintStep {
                id: c.id,
                action: ComplaintAction::Forward,
                actor: "planter".into(),
                note: String::new(),
                unit: Some(v.unit),
                deadline: Some(Timestamp(received.0 + 7 * 86_400_000)),
                answering_units: None,
                deliveries: Vec::new(),
            };
            api.store
                .casework()
                .step(&step, received)
                .await
                .expect("forwarded");
        }
    }
    eprintln!(
        "{backend}: {COMPLAINTS} complaints planted in {:.1} s",
        planted.elapsed().as_secs_f64()
    );

    let inspector = api.login("inspector").await;
    let supervisor = api.login("supervisor").await;
    let queries = [
        ("inspector", "/api/complaints?limit=50"),
        ("inspector", "/api/complaints?state=forwarded&limit=50&offset=200"),
        (
            "inspector",
            "/api/complaints?from=2025-06-01T00:00:00Z&to=2025-07-01T00:00:00Z&channel=hotline",
        ),
        ("inspector", "/api/complaints?q=%E7%AC%AC9999%E5%8F%B7"),
        ("supervisor", "/api/complaints?limit=50&offset=1000"),
    ];
    let mut times = Vec::new();
    let mut per_query = vec![Vec::new(); queries.len()];
    for round in 0..40 {
        for (n, (who, q)) in queries.iter().enumerate() {
            let cookie = if *who == "inspector" {
                &inspector
            } else {
                &supervisor
            };
            let t = Instant::now();
            let r = http(api.addr, "GET", q, Some(cookie), None).await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            times.push(ms);
            per_query[n].push(ms);
            assert_eq!(r.status, 200, "{q}: {}", r.body);
            if round == 0 {
                let total = r.json()["total"].as_u64().unwrap_or_default();
                assert!(total > 0, "{q} finds planted complaints");
            }
        }
    }
    for ((_, q), mut t) in queries.iter().zip(per_query) {
        t.sort_by(f64::total_cmp);
        eprintln!(
            "{backend}:   {q}: p50 {:.1} ms, max {:.1} ms",
            percentile(&t, 0.5),
            t[t.len() - 1]
        );
    }
    times.sort_by(f64::total_cmp);
    eprintln!(
        "{backend}: complaints list of {COMPLAINTS}, {} filtered pages: p50 {:.1} ms, p99 {:.1} ms",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );

    // Evidence: two cars over a day around the seeded tracks.
    let desk = api.login("dispatcher").await;
    let body = format!(
        r#"{{"channel":"hotline","text":"两辆车","plates":["{OWN_PLATE}","{FOREIGN_PLATE}"],"window_from":"{}","window_to":"{}"}}"#,
        Timestamp((T0_SECS - 43_200) * 1000).to_rfc3339(),
        Timestamp((T0_SECS + 43_200) * 1000).to_rfc3339()
    );
    let c = http(api.addr, "POST", "/api/complaints", Some(&desk), Some(&body)).await;
    assert_eq!(c.status, 201, "{}", c.body);
    let path = format!("/api/complaints/{}/evidence", c.json()["id"]);
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = http(api.addr, "GET", &path, Some(&inspector), None).await;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["cars"].as_array().map(Vec::len), Some(2));
    }
    times.sort_by(f64::total_cmp);
    eprintln!(
        "{backend}: evidence of two cars over a day: p50 {:.1} ms, max {:.1} ms",
        percentile(&times, 0.5),
        times[times.len() - 1]
    );
}

#[ignore = "a measurement: run by hand"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_complaints_embedded() {
    a_year_of_complaints_pages_and_evidence_shows(Scratch::embedded("casework_figures")).await;
}

#[ignore = "a measurement: run by hand"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_complaints_postgres() {
    a_year_of_complaints_pages_and_evidence_shows(Scratch::postgres("casework_figures").await).await;
}

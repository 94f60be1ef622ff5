//! The fuel checks outside the upload, on both backends: `tianshu order import` bringing an approved
//! filing checks again the fills it explains and withdraws their case (as the API's approval does);
//! and new fuel cases reach the units' alert channels from the real binary (stored webhooks, real HTTP
//! listeners on loopback), each unit's channel told of its own units' cases only.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use tianshu_e2e::api::{
    FOREIGN_PLATE, OWN_PLATE, SUB_PLATE, SUPERVISOR_UNIT, Scratch, T0_SECS, TestApi, http, login_at,
    post_bytes, status_json,
};
use tianshu_e2e::fuel::{import_cards_and_stations, local, statement};
use tianshu_e2e::sinks::{Received, http_receiver};
use tianshu_e2e::{Fix, ScratchDir, WAIT, serve_args, spawn_listening, text, wait_for};
use tianshu_model::case::CaseFilter;
use tianshu_model::{CaseState, Timestamp, VehicleId};

async fn order_import_rechecks(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let url = api.scratch.url();
    let dir = ScratchDir::new("fuel-order-import");
    let dir = dir.path().to_path_buf();
    import_cards_and_stations(&url, &dir);
    // The car stands at HS001 at 01:00 at night, and is filled there: off hours, nothing else.
    let night = 6 * 3600;
    let own = VehicleId(api.vid(OWN_PLATE));
    let track: Vec<_> = (-10..=10)
        .map(|k| tianshu_model::Position {
            vehicle: own,
            ..Fix::at(T0_SECS + night + k * 60)
                .at_e6(30_200_000, 115_005_000)
                .build()
        })
        .collect();
    api.store.append_points(&track).await.unwrap();
    api.store.flush().await.unwrap();
    let file = dir.join("night.csv");
    let row = format!("1000000000000001,{},HS001,92#,30.00,7.50,225.00\n", local(night));
    std::fs::write(&file, format!("卡号,交易时间,加油站,油品,数量,单价,金额\n{row}")).unwrap();
    let out = tianshu_e2e::run(
        &["fuel", "import", "--store", &url, file.to_str().unwrap()],
        None,
        &[],
    );
    assert!(
        text(&out.stdout).contains("1 findings, 1 cases opened"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let fuel_cases = |state: CaseState| {
        let store = api.store.clone();
        async move {
            let filter = CaseFilter {
                rule: Some("fuel".into()),
                states: vec![state],
                ..CaseFilter::default()
            };
            store.cases().cases(&filter).await.unwrap().len()
        }
    };
    assert_eq!(fuel_cases(CaseState::Open).await, 1);

    // A filing requested, not approved, explains nothing; imported approved, it withdraws the case.
    let filing = |state: &str| {
        format!(
            r#"{{"id":"BB-9","kind":"filing","plate":"{OWN_PLATE}","purpose":"夜间应急","start":"{}","end":"{}","state":"{state}"}}"#,
            Timestamp::from_secs(T0_SECS + night - 3600).to_rfc3339(),
            Timestamp::from_secs(T0_SECS + night + 3600).to_rfc3339()
        ) + "\n"
    };
    let orders = dir.join("orders.jsonl");
    for (state, want, open) in [
        (
            "requested",
            "orders imported: 1 created, 0 updated, 0 unchanged\n",
            1,
        ),
        (
            "approved",
            "orders imported: 0 created, 1 updated, 0 unchanged; fuel fills checked again: 1, cases withdrawn: 1\n",
            0,
        ),
    ] {
        std::fs::write(&orders, filing(state)).unwrap();
        let out = tianshu_e2e::run(
            &["order", "import", "--store", &url, orders.to_str().unwrap()],
            None,
            &[],
        );
        assert_eq!(text(&out.stdout), want, "{}", text(&out.stderr));
        assert_eq!(
            fuel_cases(CaseState::Open).await,
            open,
            "after the {state} filing"
        );
    }
    assert_eq!(fuel_cases(CaseState::Withdrawn).await, 1);
    let f = api.store.fuel().findings(&Default::default()).await.unwrap();
    assert!(f.is_empty(), "{f:?}");
}

tianshu_e2e::on_both_backends!(order_import, order_import_rechecks, "fuel_order_import");

/// The fuel notices `hook` received: (plate, reasoning).
fn fuel_notices(hook: &Received<String>) -> Vec<(String, String)> {
    hook.all()
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter(|n| n["rule"] == "fuel" && n["event"] == "opened")
        .map(|n| {
            (
                n["plate"].as_str().unwrap().to_string(),
                n["reasoning"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn new_cases_are_notified(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let url = api.scratch.url();
    let dir = ScratchDir::new("fuel-notices");
    import_cards_and_stations(&url, dir.path());
    let mut server = spawn_listening(serve_args(&url));
    let admin = login_at(server.http, "administrator").await;
    let inspector = login_at(server.http, "inspector").await;
    let mut hooks = Vec::new();
    for (name, unit) in [("市委办值班", SUPERVISOR_UNIT), ("公安局值班", "黄石市/公安局")] {
        let (hook_url, hook) = http_receiver().await;
        let body = format!(
            r#"{{"name":"{name}","kind":"webhook","url":"{hook_url}","format":"generic","units":[{}]}}"#,
            api.units[unit].0
        );
        status_json(
            &http(server.http, "POST", "/api/channels", Some(&admin), Some(&body)).await,
            201,
            name,
        );
        hooks.push(hook);
    }
    let r = post_bytes(
        server.http,
        "/api/fuel/statements?name=s.csv",
        Some(&inspector),
        statement().as_bytes(),
    )
    .await;
    assert_eq!(status_json(&r, 200, "upload")["cases_opened"], 3, "{}", r.body);

    // 市委办公室's channel hears of its car's fill and its sub-unit's cancelled card; 公安局's of its car's.
    let own = wait_for("the office's two fuel notices", WAIT, || async {
        let n = fuel_notices(&hooks[0]);
        (n.len() >= 2).then_some(n)
    })
    .await;
    let other = wait_for("the police's fuel notice", WAIT, || async {
        let n = fuel_notices(&hooks[1]);
        (!n.is_empty()).then_some(n)
    })
    .await;
    let mut plates: Vec<&str> = own.iter().map(|(p, _)| p.as_str()).collect();
    plates.sort_unstable();
    assert_eq!(plates, [OWN_PLATE, SUB_PLATE], "{own:?}");
    assert!(own.iter().any(|(_, r)| r.contains("cancelled")), "{own:?}");
    assert_eq!(other.len(), 1, "{other:?}");
    assert_eq!(other[0].0, FOREIGN_PLATE);
    assert_eq!(
        fuel_notices(&hooks[0]).len(),
        2,
        "no other unit's case on the office's channel"
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
}

tianshu_e2e::on_both_backends!(notices, new_cases_are_notified, "fuel_notices");

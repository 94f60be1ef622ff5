//! The platform-check tab (平台查岗) in a real browser over the real binary: a check from the upper
//! platform past its deadline is shown in red to the dispatcher, who answers it on the page; the store
//! then holds the answer, owed to the link; an alarm report a lower platform sent is listed on the tab.

use serde_json::json;
use tianshu_e2e::api::{PASSWORD, Scratch, TestApi};
use tianshu_e2e::browser::{drive, says};
use tianshu_e2e::{serve_args, spawn_listening};
use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::jt809_alarms::NewAlarm;
use tianshu_store::jt809_requests::{Direction, NewRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_answers_an_overdue_platform_check_on_the_page() {
    let api = TestApi::seeded(Scratch::embedded("browser-jt809")).await;
    let asked = Timestamp::now().add_millis(-20 * 60_000);
    let check = NewRequest {
        direction: Direction::Received,
        kind: "check",
        peer: "province".into(),
        ref_id: Some(7),
        msg_sn: 7,
        object_type: 1,
        object_id: "4200".into(),
        plate: None,
        question: "请报告当前值班人员".into(),
        created: asked,
        deadline: asked.add_millis(10 * 60_000),
        warn_type: None,
        warn_time: None,
        case_id: None,
    };
    let requests = api.store.platform_requests();
    let (check, _) = requests.record(check).await.expect("the check");
    let alarm = NewAlarm {
        peer: "huangshi".into(),
        plate: "鄂B00001".into(),
        vehicle: VehicleId(1),
        warn_src: 2,
        warn_type: 0x0008,
        warn_time: asked,
        start: None,
        end: None,
        info_id: 12,
        info: "[region_exit] 驶出允许区域".into(),
        received: asked,
    };
    assert!(api.store.jt809_alarms().record(alarm).await.expect("the alarm"));
    let alarm = api.store.jt809_alarms().list(None, 1).await.expect("the alarms")[0]
        .id
        .to_string();
    let mut server = spawn_listening(serve_args(&api.scratch.url()));
    let (url, id) = (format!("http://{}/", server.http), check.id.to_string());
    let logins = json!({"dispatcher": {"username": "dispatcher", "password": PASSWORD}});
    let out = tokio::task::spawn_blocking(move || {
        drive(
            "jt809",
            &url,
            &logins,
            &[("TIANSHU_CHECK", &id), ("TIANSHU_ALARM", &alarm)],
        )
    })
    .await
    .expect("the driver");
    let _ = server.child.kill();
    let _ = server.child.wait();
    says(
        &out,
        &[
            "ok the overdue check is shown in red",
            "ok an empty answer is refused",
            "ok the answer is shown in its row",
            "ok the answered check is no longer red",
            "ok a lower platform's alarm report is listed with its type",
        ],
    );
    let answered = requests.get(check.id).await.expect("the check");
    assert_eq!(answered.answer.as_deref(), Some("值班员王五在岗"));
    assert_eq!(answered.answered_by.as_deref(), Some("dispatcher"));
    let owed = requests
        .owed(Direction::Received, "province")
        .await
        .expect("owed answers");
    assert_eq!(owed.len(), 1, "the answer waits for the link");
}

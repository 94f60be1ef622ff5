//! A driver file (CSV) imported on both backends, over HTTP (`POST /api/drivers/import`, the
//! administrators') and by `tianshu drivers import`: the drivers are registered; the same file again
//! changes nothing; a changed row updates the driver holding its certificate; a bad row is named by its
//! line and column and nothing of the file is kept, the good rows before it included.

use serde_json::Value;
use tianshu_e2e::api::{Scratch, TestApi, http, status_json};
use tianshu_e2e::{ScratchDir, run_tianshu};

const HEADER: &str = "name,certificate,phone,licence,unit,active\n";

/// The registry's drivers as (name, certificate, phone, licence, unit, active), by certificate.
async fn drivers(api: &TestApi, admin: &str) -> Vec<(String, String, Value, Value, i64, bool)> {
    let r = http(api.addr, "GET", "/api/drivers", Some(admin), None).await;
    let mut all: Vec<_> = status_json(&r, 200, "the drivers")
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or_default().to_string(),
                d["certificate"].as_str().unwrap_or_default().to_string(),
                d["phone"].clone(),
                d["licence"].clone(),
                d["unit"].as_i64().unwrap_or_default(),
                d["active"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    all.sort_by(|a, b| a.1.cmp(&b.1));
    all
}

async fn import(api: &TestApi, cookie: &str, csv: &str) -> tianshu_e2e::api::Resp {
    http(api.addr, "POST", "/api/drivers/import", Some(cookie), Some(csv)).await
}

async fn a_driver_file_is_imported_whole_or_not_at_all(scratch: Scratch) {
    let api = TestApi::seeded(scratch).await;
    let admin = api.login("administrator").await;
    let dispatcher = api.login("dispatcher").await;
    let (office, police) = (api.units["黄石市/市委办公室"].0, api.units["黄石市/公安局"].0);
    let file = format!("{HEADER}张三,d-1,13800000001,C1,黄石市/市委办公室,\n李四,D-2,,b1,黄石市/公安局,否\n");

    let r = import(&api, &dispatcher, &file).await;
    assert_eq!(r.status, 403, "a dispatcher may not import: {}", r.body);
    let done = status_json(&import(&api, &admin, &file).await, 200, "the import");
    assert_eq!(
        done,
        serde_json::json!({"created": 2, "updated": 0, "unchanged": 0})
    );
    let stored = drivers(&api, &admin).await;
    assert_eq!(
        stored,
        vec![
            (
                "张三".into(),
                "D-1".into(),
                "13800000001".into(),
                "C1".into(),
                office,
                true
            ),
            (
                "李四".into(),
                "D-2".into(),
                Value::Null,
                "B1".into(),
                police,
                false
            ),
        ]
    );

    let again = status_json(&import(&api, &admin, &file).await, 200, "the same file again");
    assert_eq!(
        again,
        serde_json::json!({"created": 0, "updated": 0, "unchanged": 2})
    );
    assert_eq!(drivers(&api, &admin).await, stored);

    // A good row, then a changed one and a bad one: nothing of the file is kept.
    for (bad, line, column) in [
        ("王五,D-3,,C1,黄石市/无此单位,", 4, "unit (5)"),
        ("王五,D-3,13800000001,C1,黄石市/公安局,", 4, "phone (3)"),
        ("王五,D-3,,Z9,黄石市/公安局,", 4, "licence (4)"),
        ("王五,D 3,,C1,黄石市/公安局,", 4, "certificate (2)"),
    ] {
        let file = format!(
            "{HEADER}张三,D-1,13800000001,C1,黄石市/市委办公室,\n李四,D-2,13900000002,B1,黄石市/公安局,是\n{bad}\n"
        );
        let r = import(&api, &admin, &file).await;
        let e = status_json(&r, 400, bad)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            e.contains(&format!("line {line}")) && e.contains(column),
            "{bad}: {e}"
        );
        assert_eq!(drivers(&api, &admin).await, stored, "{bad}: nothing kept");
    }

    // The changed row alone updates 李四 and leaves 张三.
    let file = format!(
        "{HEADER}张三,D-1,13800000001,C1,黄石市/市委办公室,\n李四,D-2,13900000002,B1,黄石市/公安局,是\n"
    );
    let changed = status_json(&import(&api, &admin, &file).await, 200, "a changed row");
    assert_eq!(
        changed,
        serde_json::json!({"created": 0, "updated": 1, "unchanged": 1})
    );
    let now = drivers(&api, &admin).await;
    assert_eq!(now[0], stored[0]);
    assert_eq!(
        now[1],
        (
            "李四".into(),
            "D-2".into(),
            "13900000002".into(),
            "B1".into(),
            police,
            true
        )
    );

    // The command line reads the same file the same way.
    let dir = ScratchDir::new("drivers-import");
    let path = dir.path().join("drivers.csv");
    let url = api.scratch.url();
    std::fs::write(&path, format!("{file}赵六,D-4,,A1,黄石市/市委办公室,1\n")).expect("the file");
    let args = [
        "drivers",
        "import",
        "--store",
        &url,
        path.to_str().expect("a path"),
    ];
    let (ok, out, err) = run_tianshu(&args, &[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("drivers imported: 1 created, 0 updated, 2 unchanged"),
        "{out}"
    );
    std::fs::write(&path, format!("{HEADER}赵六,D-4,,A1,黄石市,1\n孙七,D-5,,A1,,1\n")).expect("the file");
    let (ok, out, err) = run_tianshu(&args, &[]);
    assert!(!ok, "a bad file is refused: {out}");
    assert!(err.contains("line 3: column unit (5)"), "{err}");
    assert_eq!(
        drivers(&api, &admin).await.len(),
        3,
        "nothing of the bad file kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_file_is_imported_whole_or_not_at_all_embedded() {
    a_driver_file_is_imported_whole_or_not_at_all(Scratch::embedded("drivers_import")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_file_is_imported_whole_or_not_at_all_postgres() {
    a_driver_file_is_imported_whole_or_not_at_all(Scratch::postgres("drivers_import").await).await;
}

//! The page in a real browser: Debian's chromium, driven by `tests/browser/drive.mjs` (playwright-core
//! from npm), against the real `tianshu demo` (gateway, store, simulated fleet, API) and, for the
//! alert inbox, the API over a case book with open cases; downlink commands go through the gateway to the
//! demo's simulated terminals over TCP. Screenshots go to `tests/artifacts/`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use tianshu_api::cases::CaseView;
use tianshu_e2e::api::*;
use tianshu_e2e::browser::{drive, says};
use tianshu_testkit::ScratchDir;

/// Runs `scenario` against the API served at `addr`, logged in as the seeded users of `roles` (each
/// named as its role), off the async runtime (the driver blocks).
async fn drive_served(scenario: &str, addr: SocketAddr, roles: &[&str], env: &[(&str, &str)]) -> String {
    let logins: serde_json::Map<String, serde_json::Value> = roles
        .iter()
        .map(|r| {
            (
                r.to_string(),
                serde_json::json!({"username": r, "password": PASSWORD}),
            )
        })
        .collect();
    let logins = serde_json::Value::Object(logins);
    let url = format!("http://{addr}/");
    let scenario = scenario.to_string();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        drive(&scenario, &url, &logins, &env)
    })
    .await
    .expect("the driver")
}

/// The demo as a child process, killed when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tianshu demo` on a fresh store in a fresh directory, which lives as long as the first value.
fn fresh_demo(name: &str) -> (ScratchDir, Demo, String, serde_json::Value) {
    let scratch = ScratchDir::new(name);
    let (demo, url, logins) = start_demo(scratch.path(), &scratch.path().join("demo.db"));
    (scratch, demo, url, logins)
}

/// Starts `tianshu demo` (150 cars, x8) on `store`; returns it with its URL and the logins it printed.
fn start_demo(dir: &Path, store: &Path) -> (Demo, String, serde_json::Value) {
    let child = Command::new(tianshu_e2e::tianshu_bin())
        .args([
            "demo",
            "--http",
            "127.0.0.1:0",
            "--vehicles",
            "150",
            "--speedup",
            "8",
            "--store",
        ])
        .arg(store)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting tianshu demo");
    let mut demo = Demo(child);
    let stdout = demo.0.stdout.take().expect("the demo's stdout");
    let mut url = None;
    let mut logins = serde_json::Map::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("reading the demo's output");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Open", u] => url = Some(u.to_string()),
            [role, user, password, ..]
                if ["administrator", "dispatcher", "inspector", "supervisor"].contains(role) =>
            {
                logins.insert(
                    role.to_string(),
                    serde_json::json!({"username": user, "password": password}),
                );
            }
            _ if line.starts_with("JT/T 808 terminals connect") => break,
            _ => {}
        }
    }
    // The rest of the demo's output is read to the end: a closed pipe would fail its later prints.
    std::thread::spawn(move || lines.for_each(drop));
    let url = url.expect("the demo printed its URL");
    assert_eq!(logins.len(), 4, "the demo printed a login per role");
    (demo, url, serde_json::Value::Object(logins))
}

#[test]
fn every_role_sees_cars_move_and_an_inspector_replays_a_track() {
    let (_scratch, demo, url, logins) = fresh_demo("browser-demo");
    let out = drive("live-replay", &url, &logins, &[]);
    for role in ["administrator", "dispatcher", "inspector", "supervisor"] {
        assert!(
            out.contains(&format!("ok {role} sees cars move")),
            "{role} saw cars move"
        );
    }
    assert!(out.contains("ok inspector picks play speeds as multiples of real time"));
    assert!(out.contains("ok inspector reads the time axis"));
    assert!(out.contains("ok inspector sees the speed chart under the track"));
    assert!(out.contains("ok inspector replay plays on the time axis"));
    drop(demo);
}

#[test]
fn with_the_network_closed_the_demo_draws_its_own_basemap_and_labels_plates_at_street_zoom() {
    let (scratch, demo, url, logins) = fresh_demo("browser-basemap");
    // The demo wrote its basemap beside its store, and serves it by ranges.
    let archive = std::fs::read(scratch.path().join("demo.basemap.pmtiles")).expect("the demo's basemap");
    assert_eq!(&archive[..7], b"PMTiles");
    let out = drive("basemap", &url, &logins, &[]);
    says(
        &out,
        &[
            "ok the screenshot differs from the empty map along the roads",
            "ok nothing was asked of the network beyond the server",
            "is labelled at street zoom",
            "ok no plate labels below street zoom",
        ],
    );
    drop(demo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_basemap_s_tiles_fail_the_page_says_so_once_and_keeps_working() {
    let api = TestApi::seeded(Scratch::embedded("browser-tiles-fail")).await;
    let dir = ScratchDir::new("browser-tiles-fail-files");
    let missing = dir.path().join("no-such-extract.pmtiles");
    let config = tianshu_api::ApiConfig {
        basemap: tianshu_api::config::BasemapConfig {
            pmtiles: missing.to_string_lossy().into_owned(),
            // Nothing listens on port 1.
            tile_url: "http://127.0.0.1:1/{z}/{x}/{y}.png".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let addr = api.serve_with_config(config).await;
    let out = drive_served("tiles-fail", addr, &["administrator"], &[]).await;
    says(
        &out,
        &[
            "ok the page says once that the tiles fail",
            "ok the notice reads in English after switching",
            "ok the map keeps working",
            "ok a closed notice does not come back",
            "ok the console is not flooded",
        ],
    );
}

#[test]
fn a_dispatcher_finds_cars_by_state_plate_and_unit_and_every_press_takes_effect_during_live_updates() {
    let (_scratch, demo, url, logins) = fresh_demo("browser-clicks");
    let out = drive("clicks", &url, &logins, &[]);
    assert!(out.contains("ok the state chips count every car once"));
    assert!(out.contains("ok \"moving\" lists the moving cars only"));
    assert!(out.contains("ok the map fits the unit's cars"));
    assert!(out.contains("ok 20 presses on the car list opened 20 cards"));
    assert!(out.contains("ok 20 presses on Follow each took effect"));
    assert!(out.contains("ok panning the map by hand stops Follow"));
    assert!(out.contains("ok opening replay stops Follow"));
    // The same page in both languages, every screen.
    let out = drive("languages", &url, &logins, &[]);
    assert!(out.contains("ok the audit table filtered by"));
    for lang in ["zh", "en"] {
        for screen in [
            "live",
            "replay",
            "alerts",
            "reports",
            "terminals",
            "audit",
            "tokens",
            "orders",
            "manage units",
            "manage vehicles",
            "manage terminals",
            "manage drivers",
            "manage geofences",
            "manage users",
            "manage calendars",
            "manage channels",
            "complaints",
            "casework figures",
            "carpool",
            "carpool form",
            "yearly figures",
            "fuel",
        ] {
            assert!(out.contains(&format!("ok {lang} {screen}: ")), "{lang} {screen}");
        }
    }
    drop(demo);
}

#[test]
fn an_administrator_adds_a_unit_a_vehicle_a_terminal_and_a_drawn_geofence_and_a_dispatcher_steps_orders() {
    let (_scratch, demo, url, logins) = fresh_demo("browser-manage");
    let out = drive("manage", &url, &logins, &[]);
    says(
        &out,
        &[
            "ok a unit name with '/' is refused next to the name field",
            "ok the new unit hangs below the parent chosen",
            "ok an empty plate is refused next to the plate field",
            "ok the new vehicle is listed with its unit",
            "ok a phone that is not digits is refused next to the phone field",
            "ok the new terminal is listed, bound to the car",
            "ok a certificate with a space is refused next to the certificate field",
            "ok the new driver is listed with their unit",
            "ok a webhook URL that is not http(s) is refused next to the url field",
            "ok the new channel is listed with its unit",
            "ok a geofence without a shape is refused next to the shape",
            "ok the stored polygon is the one clicked on the map",
            "ok dragging a vertex moved that vertex only, and the change was saved",
            "ok the vehicle's record names the car in its own column",
        ],
    );
    for action in [
        "unit.create",
        "vehicle.create",
        "terminal.create",
        "driver.create",
        "channel.create",
        "geofence.create",
        "geofence.replace",
    ] {
        assert!(
            out.contains(&format!("ok the audit table shows {action} of ")),
            "the audit table shows {action}"
        );
    }
    for screen in [
        "units",
        "vehicles",
        "terminals",
        "drivers",
        "geofences",
        "users",
        "calendars",
        "channels",
    ] {
        assert!(
            out.contains(&format!("ok the {screen} screen fits a 390 px phone")),
            "{screen} on a phone"
        );
    }
    let out = drive("orders", &url, &logins, &[]);
    says(
        &out,
        &[
            "ok an order ending before its start is refused next to the end",
            "ok approving one's own order is refused, saying why",
            "ok the dispatcher approved ",
            "ok the dispatcher cancelled ",
            "ok the API has ",
        ],
    );
    drop(demo);
}

/// A registered car whose terminal never connects (imported before the demo adds its own fleet).
const OFFLINE_PLATE: &str = "鄂BZZ001";

#[test]
fn a_dispatcher_sends_commands_to_a_connected_terminal_and_sees_its_answers() {
    let scratch = ScratchDir::new("browser-commands");
    let dir = scratch.path();
    let store = dir.join("demo.db");
    let registry = dir.join("offline.csv");
    std::fs::write(
        &registry,
        format!(
            "unit,plate,phone,terminal_id,vehicle_class\n黄石市/备用车辆,{OFFLINE_PLATE},13900000001,ZZ00001,general\n"
        ),
    )
    .expect("writing the registry file");
    let import = Command::new(tianshu_e2e::tianshu_bin())
        .args(["registry", "import", "--store"])
        .arg(&store)
        .arg(&registry)
        .output()
        .expect("running tianshu registry import");
    assert!(
        import.status.success(),
        "registry import: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let (demo, url, logins) = start_demo(dir, &store);
    let out = drive(
        "commands",
        &url,
        &logins,
        &[("TIANSHU_OFFLINE_PLATE", OFFLINE_PLATE)],
    );
    says(
        &out,
        &[
            "ok the terminal answered the position query",
            "ok the card shows the reported position",
            "ok the terminal accepted temporary tracking",
            "ok the terminal acknowledged the text",
            "ok the card shows the 0x0001 result",
            "ok a car whose terminal is not connected says so",
            "ok an inspector's card has no command buttons",
            "ok the API refuses an inspector's command (403)",
        ],
    );
    drop(demo);
    // Every command went to the audit log with what came of it.
    let audit = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let store = tianshu_store::Store::open(store.to_str().expect("a UTF-8 path"))
                .await
                .expect("opening the demo's store");
            store
                .access()
                .audit(0, 100_000)
                .await
                .expect("reading the audit log")
        });
    let commands: Vec<&str> = audit
        .iter()
        .filter(|r| r.entry.action == "command")
        .map(|r| r.entry.detail.as_str())
        .collect();
    for (kind, outcome) in [
        ("query_position", "outcome=answered"),
        ("temporary_tracking", "outcome=answered"),
        ("text", "outcome=answered"),
        ("query_position", "outcome=not_connected"),
    ] {
        assert!(
            commands.iter().any(|d| d.contains(kind) && d.contains(outcome)),
            "{kind} {outcome} in {commands:?}"
        );
    }
}

/// An open out-of-hours case of `vehicle` with its evidence, as the alerts engine gives it.
fn one_open_case(vehicle: tianshu_model::VehicleId) -> Arc<MemoryCases> {
    let mut detail = serde_json::Map::new();
    detail.insert("title_zh".into(), "非工作时间用车".into());
    detail.insert("title_en".into(), "Use outside working hours".into());
    detail.insert("rule".into(), "out_of_hours".into());
    detail.insert("severity".into(), "high".into());
    detail.insert(
        "evidence".into(),
        serde_json::json!([
            {"fix_time": "2026-11-18T13:05:00Z", "longitude": 115.038312, "latitude": 30.199871, "speed_kmh": 36.5, "acc_on": true, "alarm": 0},
            {"fix_time": "2026-11-18T13:06:00Z", "longitude": 115.045107, "latitude": 30.203002, "speed_kmh": 41.0, "acc_on": true, "alarm": 0},
            {"fix_time": "2026-11-18T14:10:00Z", "longitude": 115.061220, "latitude": 30.214518, "speed_kmh": 0.0, "acc_on": false, "alarm": 0}
        ]),
    );
    detail.insert("start".into(), "2026-11-18T13:05:00Z".into());
    detail.insert("end".into(), "2026-11-18T14:10:00Z".into());
    detail.insert(
        "reasoning".into(),
        serde_json::json!([
            "工作日下班后 21:05-22:10（北京时间）用车，无已批准的派车单",
            "21:05-22:10 (UTC+8) on a working day, after working hours; no approved order covers the trip"
        ]),
    );
    Arc::new(MemoryCases(std::sync::Mutex::new(vec![CaseView {
        id: "case-1".into(),
        vehicle,
        state: "open".into(),
        detail,
    }])))
}

/// A case of `vehicle` with `rule`, its titles, its span and its evidence (longitude, latitude, time).
fn case_of(
    id: &str,
    vehicle: tianshu_model::VehicleId,
    (rule, zh, en): (&str, &str, &str),
    (start, end): (tianshu_model::Timestamp, tianshu_model::Timestamp),
    evidence: &[(f64, f64, tianshu_model::Timestamp)],
) -> CaseView {
    let mut detail = serde_json::Map::new();
    detail.insert("rule".into(), rule.into());
    detail.insert("title_zh".into(), zh.into());
    detail.insert("title_en".into(), en.into());
    detail.insert("severity".into(), "high".into());
    detail.insert("start".into(), start.to_rfc3339().into());
    detail.insert("end".into(), end.to_rfc3339().into());
    let points: Vec<serde_json::Value> = evidence
        .iter()
        .map(|(lon, lat, t)| {
            serde_json::json!({"fix_time": t.to_rfc3339(), "longitude": lon, "latitude": lat,
                "speed_kmh": 40.0, "acc_on": true, "alarm": 0})
        })
        .collect();
    detail.insert("evidence".into(), points.into());
    CaseView {
        id: id.into(),
        vehicle,
        state: "open".into(),
        detail,
    }
}

/// The inspector's month: thirty days of one car (a trip each morning and evening, one at night), a
/// case of five days' silence, the night trip's case and a holiday's; replayed whole, then a case jumped
/// to from the replay and opened with its map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_replays_a_month_jumps_to_a_case_and_reads_it_with_its_map() {
    use tianshu_model::Timestamp;
    let api = TestApi::seeded(Scratch::embedded("browser-month")).await;
    let vehicle = api.vehicles[OWN_PLATE].id;
    const DAY: i64 = 86_400;
    const CN: i64 = 8 * 3600;
    // The thirty China days before the seeded day.
    let from = ((T0_SECS + CN) / DAY - 30) * DAY - CN;
    let to = from + 30 * DAY;
    let at = |day: i64, cn_hour: f64| Timestamp::from_secs(from + day * DAY + (cn_hour * 3600.0) as i64);
    let origin = (30_200_000, 115_000_000);
    let mut trips: Vec<Timestamp> = (0..30).flat_map(|d| [at(d, 8.5), at(d, 17.5)]).collect();
    let night = at(12, 21.0);
    trips.push(night);
    let mut points = Vec::new();
    for start in &trips {
        let trip = tianshu_testkit::trip(*start, origin, 300, true, 120);
        points.extend(trip.into_iter().map(|f| f.vehicle(vehicle.0).build()));
    }
    api.store.append_points(&points).await.expect("the month stored");
    // The night trip's evidence: its start, its turn and its return (a fix every 30 s, 300 µ° a fix).
    let fix = |i: i64| {
        let k = if i > 30 { 60 - i } else { i };
        (
            (origin.1 + k as i32 * 300) as f64 / 1e6,
            origin.0 as f64 / 1e6,
            night.add_millis(i * 30_000),
        )
    };
    let evidence = [fix(0), fix(30), fix(50)];
    let book = Arc::new(MemoryCases(std::sync::Mutex::new(vec![
        case_of(
            "case-silence",
            vehicle,
            ("silence", "长时间无信号", "Long silence"),
            (at(3, 0.0), at(8, 0.0)),
            &[],
        ),
        case_of(
            "case-night",
            vehicle,
            ("out_of_hours", "非工作时间用车", "Use outside working hours"),
            (night, night.add_millis(1_800_000)),
            &evidence,
        ),
        case_of(
            "case-holiday",
            vehicle,
            ("holiday", "节假日用车", "Use on a day off"),
            (at(20, 8.5), at(20, 9.0)),
            &[],
        ),
    ])));
    let addr = api.serve_again(book, None).await;
    let evidence_json = serde_json::to_string(
        &evidence
            .iter()
            .map(|(lon, lat, _)| [lon, lat])
            .collect::<Vec<_>>(),
    )
    .expect("evidence");
    let case_time = night.to_china().format("%Y-%m-%d %H:%M:%S").to_string();
    let (from_ms, to_ms, stored) = (
        (from * 1000).to_string(),
        (to * 1000).to_string(),
        points.len().to_string(),
    );
    let env = [
        ("TIANSHU_PLATE", OWN_PLATE),
        ("TIANSHU_FROM", from_ms.as_str()),
        ("TIANSHU_TO", to_ms.as_str()),
        ("TIANSHU_POINTS", stored.as_str()),
        ("TIANSHU_CASE", "case-night"),
        ("TIANSHU_CASE_TIME", case_time.as_str()),
        ("TIANSHU_EVIDENCE", evidence_json.as_str()),
    ];
    let out = drive_served("month", addr, &["inspector"], &env).await;
    says(
        &out,
        &[
            "ok every stored point of the month is counted",
            "ok the month's track is drawn on the map",
            "ok the fitted track lies above the replay's bar",
            "ok a month's axis reads in dates",
            "ok each rule's episode has its own lane",
            "ok a press on the case takes the replay to its start",
            "ok the car's arrow stands where the episode began",
            "ok the case opens titled with its rule's name",
            "ok the case lists its 3 evidence points",
            "ok the map went to the episode",
        ],
    );
    // The month's replay is audited as one look at the car.
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    assert!(
        log.iter().any(|r| r.entry.action == "replay"),
        "the replay is audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_opens_and_closes_an_alert_case() {
    let api = TestApi::seeded(Scratch::embedded("browser-case")).await;
    let vehicle = api.vehicles[SUB_PLATE].id;
    let book = one_open_case(vehicle);
    // Serve the same store again, now with the case.
    let addr = api.serve_again(book.clone(), None).await;
    let out = drive_served("case", addr, &["supervisor"], &[]).await;
    assert!(out.contains("ok the case is titled with the rule's name"));
    assert!(out.contains("ok the evidence reads in degrees and km/h"));
    assert!(out.contains("ok the map went to the evidence"));
    assert!(out.contains("ok the history shows each step with its note"));
    assert!(out.contains("ok the case was closed"));
    let closed = book.0.lock().expect("cases")[0].state.clone();
    assert_eq!(closed, "closed");
    // Both actions are in the audit log.
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    assert!(
        actions.contains(&"case.acknowledge") && actions.contains(&"case.close"),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_on_the_feed_opens_its_case_or_for_a_dispatcher_its_car() {
    let api = TestApi::seeded(Scratch::embedded("browser-alert-feed")).await;
    let vehicle = api.vehicles[SUB_PLATE].id;
    let addr = api.serve_again(one_open_case(vehicle), None).await;
    // The alerts engine's notice, published while the pages are open.
    let hub = api.state.live().clone();
    let publisher = tokio::spawn(async move {
        loop {
            let mut detail = serde_json::Map::new();
            for (k, v) in [
                ("case_id", "case-1"),
                ("rule", "out_of_hours"),
                ("title", "Use outside working hours"),
                ("title_zh", "非工作时间用车"),
                ("start", "2026-11-18T13:05:00Z"),
            ] {
                detail.insert(k.into(), v.into());
            }
            hub.publish_alert(tianshu_api::live::AlertEvent {
                vehicle,
                severity: "high".into(),
                detail,
            });
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
    let out = drive_served("alert-feed", addr, &["supervisor", "dispatcher"], &[]).await;
    publisher.abort();
    says(
        &out,
        &[
            "ok supervisor reads the alert by the rule's name",
            "ok supervisor's press on the alert opens the case",
            "ok dispatcher reads the alert by the rule's name",
            "ok dispatcher's press on the alert opens the car",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_handles_a_case_on_a_phone() {
    let api = TestApi::seeded(Scratch::embedded("browser-phone")).await;
    let book = one_open_case(api.vehicles[SUB_PLATE].id);
    let addr = api.serve_again(book.clone(), None).await;
    let out = drive_served("phone", addr, &["supervisor"], &[]).await;
    says(
        &out,
        &[
            "ok the inbox fits the screen's width",
            "ok a case in the inbox is a full-width touch target",
            "ok the case opens as a sheet with the map above it",
            "ok every button of the case is at least 44 px",
            "ok the evidence shows on the map above the sheet",
            "ok the case was acknowledged by touch",
        ],
    );
    assert_eq!(book.0.lock().expect("cases")[0].state, "acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_approves_a_reregistration_in_the_terminals_view() {
    let api = TestApi::seeded(Scratch::embedded("browser-rereg")).await;
    let phone = tianshu_model::Phone(13_900_000_002);
    let admin = api.store.registry_admin();
    // The sub-unit requires approval; its terminal registered, then registered again from elsewhere.
    let desk = api.units["黄石市/市委办公室/机要科"];
    let require = tianshu_store::registry_admin::UnitChange {
        reregistration_approval: Some(true),
        ..Default::default()
    };
    admin
        .update_unit(desk, &require)
        .await
        .expect("approval required");
    let r = api
        .registered_again(phone, tianshu_model::Timestamp::from_secs(T0_SECS))
        .await;
    assert_eq!(r.state, tianshu_model::PendingState::AwaitingApproval);
    // The page requires approval for the city (above the desk) and approves the pending registration.
    let city = api.units["黄石市"].0.to_string();
    let roles = ["administrator", "dispatcher"];
    let out = drive_served("reregistration", api.addr, &roles, &[("TIANSHU_UNIT", &city)]).await;
    assert!(out.contains("ok the re-registration was approved"), "{out}");
    let t = api
        .store
        .terminal(phone)
        .await
        .expect("read")
        .expect("the terminal");
    assert_eq!(
        t.pending.map(|p| p.state),
        Some(tianshu_model::PendingState::Approved)
    );
    let units = api.store.units().await.expect("units");
    assert!(
        units
            .iter()
            .any(|u| u.id == api.units["黄石市"] && u.reregistration_approval)
    );
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    assert!(
        actions.contains(&"terminal.reregistration.approve") && actions.contains(&"unit.update"),
        "{actions:?}"
    );
}

/// A downlink whose terminal refuses texts (0x0001 result 3, unsupported) and never answers a query.
struct RefusingTerminal;

#[async_trait::async_trait]
impl tianshu_api::Downlink for RefusingTerminal {
    async fn send(
        &self,
        _vehicle: tianshu_model::VehicleId,
        command: &tianshu_api::TerminalCommand,
    ) -> Result<tianshu_api::CommandOutcome, String> {
        Ok(match command {
            tianshu_api::TerminalCommand::Text { .. } => tianshu_api::CommandOutcome::Refused { result: 3 },
            _ => tianshu_api::CommandOutcome::TimedOut,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_says_when_a_terminal_refuses_or_does_not_answer() {
    let api = TestApi::seeded(Scratch::embedded("browser-refusal")).await;
    let addr = api
        .serve_again(Arc::new(tianshu_api::NoCases), Some(Arc::new(RefusingTerminal)))
        .await;
    let plate = [("TIANSHU_PLATE", OWN_PLATE)];
    let out = drive_served("command-failures", addr, &["dispatcher"], &plate).await;
    assert!(out.contains("ok a query the terminal does not answer says so"));
    assert!(out.contains("ok a text the terminal refuses says so, with its result"));
}

/// A terminal behind the API that answers parameter and attribute queries and acknowledges the rest,
/// keeping what it was sent.
#[derive(Default)]
struct AnsweringTerminal(std::sync::Mutex<Vec<tianshu_api::TerminalCommand>>);

#[async_trait::async_trait]
impl tianshu_api::Downlink for AnsweringTerminal {
    async fn send(
        &self,
        _vehicle: tianshu_model::VehicleId,
        command: &tianshu_api::TerminalCommand,
    ) -> Result<tianshu_api::CommandOutcome, String> {
        use tianshu_api::{CommandOutcome, ParameterEntry, ParameterValue, TerminalCommand};
        self.0.lock().expect("commands").push(command.clone());
        let entry = |id, value, hex: &str| ParameterEntry {
            id,
            value: Some(value),
            hex: Some(hex.into()),
        };
        Ok(match command {
            TerminalCommand::QueryParameters { .. } => CommandOutcome::Answered {
                position: None,
                parameters: Some(vec![
                    entry(1, ParameterValue::Number(30), "0000001e"),
                    entry(
                        19,
                        ParameterValue::Text("gw.example.cn:6808".into()),
                        "67772e6578616d706c652e636e3a36383038",
                    ),
                ]),
                attributes: None,
            },
            TerminalCommand::QueryAttributes => CommandOutcome::Answered {
                position: None,
                parameters: None,
                attributes: Some(Box::new(tianshu_model::Attributes {
                    terminal_type: 4,
                    maker_id: "70111".into(),
                    model: "BSJ-A6".into(),
                    terminal_id: "T000001".into(),
                    iccid: "89860012345678901234".into(),
                    hardware_version: "H1.2".into(),
                    firmware_version: "F3.4.5".into(),
                    gnss: 3,
                    network: 1,
                })),
            },
            _ => CommandOutcome::DONE,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_corrects_a_terminal_s_clock_and_reads_and_sets_its_parameters() {
    let api = TestApi::seeded(Scratch::embedded("browser-terminal")).await;
    let terminal = api
        .store
        .terminals()
        .await
        .expect("terminals")
        .into_iter()
        .find(|t| t.vehicle == Some(api.vehicles[OWN_PLATE].id))
        .expect("the car's terminal");
    let now = tianshu_model::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    api.store
        .save_clock_found(terminal.phone, 28_800, now)
        .await
        .expect("recording the offset found");
    let downlink = Arc::new(AnsweringTerminal::default());
    let addr = api
        .serve_again(Arc::new(tianshu_api::NoCases), Some(downlink.clone()))
        .await;
    let plate = [("TIANSHU_PLATE", OWN_PLATE)];
    let out = drive_served("terminal", addr, &["administrator"], &plate).await;
    says(
        &out,
        &[
            "ok the administrator corrected the clock by +8 h",
            "ok the panel shows the parameters decoded",
            "ok the panel shows the attributes",
            "ok the terminal acknowledged the parameter",
        ],
    );
    let stored = api
        .store
        .terminal(terminal.phone)
        .await
        .expect("reading")
        .expect("the terminal");
    assert_eq!(stored.clock_offset_secs, 28_800);
    let sent = downlink.0.lock().expect("commands").clone();
    let set = tianshu_api::TerminalCommand::SetParameters {
        parameters: vec![tianshu_api::ParameterEntry {
            id: 0x0055,
            value: Some(tianshu_api::ParameterValue::Number(100)),
            hex: None,
        }],
    };
    assert!(sent.contains(&set), "{sent:?}");
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    assert!(
        log.iter().any(
            |r| r.entry.action == "terminal.update" && r.entry.detail.contains("clock_offset_secs 28800")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_reads_a_units_month_and_a_cars_with_charts_and_downloads() {
    let api = TestApi::seeded(Scratch::embedded("browser-reports")).await;
    let month = tianshu_model::Timestamp::from_millis(T0_SECS * 1000)
        .to_china()
        .format("%Y-%m")
        .to_string();
    let unit = api.units["黄石市"].0.to_string();
    let env = [
        ("TIANSHU_MONTH", month.as_str()),
        ("TIANSHU_UNIT", unit.as_str()),
        ("TIANSHU_PLATE", OWN_PLATE),
    ];
    let out = drive_served("reports", api.addr, &["inspector"], &env).await;
    says(
        &out,
        &[
            "ok the unit's month is charted",
            "ok the unit's figures: 3 trips over 3 cars",
            "ok the downloads are offered",
            "ok the XLSX link downloads a workbook",
            "ok the CSV link downloads a line per car and the total (5 lines)",
            "ok the car's month: 1 trips, charted",
        ],
    );
    // Each look at a car's month is in the audit log: the unit's three cars shown, downloaded as XLSX
    // and as CSV, then the one car.
    let log = api.store.access().audit(0, 1000).await.expect("audit");
    let looks = log.iter().filter(|r| r.entry.action == "report").count();
    assert_eq!(looks, 3 + 3 + 3 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_makes_uses_and_revokes_a_personal_api_token_on_the_page() {
    let api = TestApi::seeded(Scratch::embedded("browser-tokens")).await;
    let out = drive_served("tokens", api.addr, &["supervisor", "administrator"], &[]).await;
    says(
        &out,
        &[
            "ok a token without a name is refused next to the name",
            "ok the new token is shown once, in full",
            "ok the token reads the supervisor's",
            "ok the secret is not shown again",
            "ok the revoked token is refused (401)",
            "ok the audit log has the supervisor's token made and revoked",
        ],
    );
    // What the page showed as the supervisor's cars is their unit's, not the whole fleet.
    let scoped = out
        .lines()
        .find(|l| l.starts_with("ok the token reads the supervisor's"))
        .expect("the token's read");
    let all = api.store.vehicles().await.expect("vehicles").len();
    assert!(!scoped.contains(&format!("supervisor's {all} cars")), "{scoped}");
}

/// A simulated day off: National Day 2026, 07:00 to 19:00 China time.
const HOLIDAY_START: &str = "2026-10-02T07:00:00+08:00";
const HOLIDAY_END: &str = "2026-10-02T19:00:00+08:00";
/// Simulated seconds per real second: the 12 hours take 36 s.
const HOLIDAY_SPEEDUP: f64 = 1200.0;
/// The simulator's world for the casework scenario: 12 cars, some out on the holiday without a filing.
const HOLIDAY_WORLD: [&str; 10] = [
    "--terminals",
    "12",
    "--vehicles",
    "12",
    "--seed",
    "1702",
    "--start",
    HOLIDAY_START,
    "--scenarios",
    "holiday=0.5,holiday_filing=0",
];

/// China local time of `t` as a `datetime-local` input takes it, to the minute.
fn local_minute(t: tianshu_model::Timestamp) -> String {
    t.to_china().format("%Y-%m-%dT%H:%M").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_about_a_car_out_on_a_holiday_goes_to_its_unit_and_ends_in_a_finding_the_figures_count() {
    use std::ffi::OsStr;
    use std::time::Duration;
    use tianshu_model::Timestamp;
    use tianshu_model::case::NewCase;
    use tianshu_store::access::Role;
    use tianshu_store::rules::CaseFilter;

    let dir = ScratchDir::new("browser-casework");
    let world = dir.path().join("world");
    let store_url = dir.path().join("tianshu.db").display().to_string();
    // The world: its registry imported, what each car will do on purpose written down.
    let mut args = vec![
        "simulate",
        "--write-world",
        world.to_str().expect("path"),
        "--days",
        "1",
    ];
    args.extend_from_slice(&HOLIDAY_WORLD);
    tianshu_e2e::tianshu_ok(&args);
    tianshu_e2e::tianshu_ok(&[
        "registry",
        "import",
        "--store",
        &store_url,
        world.join("registry.csv").to_str().expect("path"),
    ]);
    // A car the simulator takes out on the holiday with no filing.
    let ts = |s: &str| Timestamp::parse_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    let (day_from, day_to) = (ts(HOLIDAY_START), ts(HOLIDAY_END));
    let outing = std::fs::read_to_string(world.join("scripted.jsonl"))
        .expect("scripted.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a scripted record"))
        .find(|s| {
            let named = |k: &str| {
                s[k].as_array()
                    .is_some_and(|a| a.iter().any(|r| r == "holiday_seal"))
            };
            let from = ts(s["from"].as_str().unwrap_or_default());
            s["what"] == "holiday"
                && (named("rules") || named("may"))
                && from >= day_from
                && ts(s["to"].as_str().unwrap_or_default()) < day_to
        })
        .expect("the simulator takes a car out on the holiday");
    let plate = outing["plate"].as_str().expect("plate").to_string();
    let (out_from, out_to) = (
        ts(outing["from"].as_str().unwrap_or_default()),
        ts(outing["to"].as_str().unwrap_or_default()),
    );

    // The users: the desk, an inspector, the car's unit's supervisor and another unit's.
    let store = tianshu_store::Store::open(&store_url).await.expect("the store");
    let vehicles = store.vehicles().await.expect("vehicles");
    let car = vehicles
        .iter()
        .find(|v| v.plate == plate)
        .expect("the car")
        .clone();
    let units = store.units().await.expect("units");
    let other_unit = units
        .iter()
        .find(|u| u.id != car.unit && !units.iter().any(|c| c.parent == Some(u.id)))
        .expect("another leaf unit")
        .id;
    for (name, role, unit) in [
        ("dispatcher", Role::Dispatcher, None),
        ("inspector", Role::Inspector, None),
        ("supervisor", Role::Supervisor, Some(car.unit)),
        ("other", Role::Supervisor, Some(other_unit)),
    ] {
        create_user(&store, name, role, unit).await;
    }
    let key_file = dir.path().join("reporter.key");
    std::fs::write(
        &key_file,
        "5f0e2d9c8b7a69584736251403f2e1d0c9b8a7968574635241302f1e0d0c0b0a\n",
    )
    .expect("the key");
    let config_file = dir.path().join("tianshu.toml");
    std::fs::write(
        &config_file,
        format!(
            "[alerts]\ntick_secs = 1\n\n[web.casework]\nreporter_key_file = {:?}\n",
            key_file.display().to_string()
        ),
    )
    .expect("the config");
    let serve = tianshu_e2e::serve_args(&store_url);
    let config_arg = [OsStr::new("--config"), config_file.as_os_str()];
    let mut server = tianshu_e2e::spawn_listening(serve.iter().map(OsStr::new).chain(config_arg));

    // The holiday driven over TCP into the server, whose rules raise the holiday case.
    tianshu_e2e::drive_fleet(server.jt808, (day_from, day_to), HOLIDAY_SPEEDUP, &HOLIDAY_WORLD).await;
    let case = tianshu_e2e::wait_for("the holiday case of the car", Duration::from_secs(120), || {
        let store = store.clone();
        async move {
            let filter = CaseFilter {
                vehicle: Some(car.id),
                rule: Some("holiday_seal".into()),
                limit: 10,
                ..Default::default()
            };
            let cases = store.cases().cases(&filter).await.ok()?;
            cases
                .into_iter()
                .find(|c| c.start <= out_to && c.end.is_none_or(|e| e >= out_from))
        }
    })
    .await;

    // A case of a car of another unit, which the complaint's page must refuse to link.
    let below_the_cars_unit = |mut u: Option<tianshu_model::UnitId>| {
        while let Some(id) = u {
            if id == car.unit {
                return true;
            }
            u = units.iter().find(|x| x.id == id).and_then(|x| x.parent);
        }
        false
    };
    let other_car = vehicles
        .iter()
        .find(|v| !below_the_cars_unit(Some(v.unit)))
        .expect("a car of another unit");
    let other_case = NewCase {
        vehicle: other_car.id,
        unit: other_car.unit,
        rule: "holiday_seal".into(),
        start: day_from,
        end: None,
        severity: "high".into(),
        late: false,
        reasoning: "out on a holiday".into(),
        reasoning_zh: "节假日出车".into(),
        episode: serde_json::json!({}),
        escalate_at: None,
    };
    let (other_case, _) = store
        .cases()
        .record_case(&other_case, &[], day_from)
        .await
        .expect("the other unit's case");

    let logins = serde_json::json!({
        "dispatcher": {"username": "dispatcher", "password": PASSWORD},
        "inspector": {"username": "inspector", "password": PASSWORD},
        "supervisor": {"username": "supervisor", "password": PASSWORD},
        "other": {"username": "other", "password": PASSWORD},
    });
    let url = format!("http://{}/", server.http);
    let case_id = case.id.to_string();
    let other_case = other_case.to_string();
    let (from, to) = (local_minute(out_from), local_minute(Timestamp(out_to.0 + 60_000)));
    let out = tokio::task::spawn_blocking(move || {
        let env = [
            ("TIANSHU_PLATE", plate.as_str()),
            ("TIANSHU_FROM", from.as_str()),
            ("TIANSHU_TO", to.as_str()),
            ("TIANSHU_CASE", case_id.as_str()),
            ("TIANSHU_OTHER_CASE", other_case.as_str()),
        ];
        drive("casework", &url, &logins, &env)
    })
    .await
    .expect("the driver");
    says(
        &out,
        &[
            "ok the named plate resolved to the car",
            "ok the evidence shows the car's track on the map",
            "ok the holiday case already raised is in the evidence",
            "ok the dispatcher sees the number masked and cannot unmask it",
            "ok an unknown case number is refused",
            "ok another unit's case is refused",
            "ok the holiday case is linked to the complaint by its number",
            "ok the complaint was forwarded with a deadline",
            "ok another unit's supervisor sees no complaint",
            "ok on a phone the inbox of complaints fits the screen",
            "ok the complaint opens as a sheet under its map",
            "ok the unit's supervisor sees it without the reporter",
            "ok the unit answered",
            "ok the inspector unmasked the number",
            "ok the inspector accepted the answer",
            "ok the finding was recorded with two people",
            "ok the reply to the reporter was recorded",
            "ok the figures count exactly that",
            "ok the unit's supervisor reads the finding",
        ],
    );
    let _ = server.child.kill();
    let _ = server.child.wait();

    // What the page did is in the store: the finding on the holiday case, one look at the number.
    let finding = store
        .casework()
        .finding(case.id)
        .await
        .expect("reading the finding")
        .expect("the finding");
    assert_eq!(finding.people.len(), 2);
    assert_eq!(finding.violation.as_deref(), Some("节假日违规用车"));
    let log = store.access().audit(0, 10_000).await.expect("audit");
    let unmasked: Vec<_> = log
        .iter()
        .filter(|r| r.entry.action == "complaint.unmask")
        .collect();
    assert_eq!(unmasked.len(), 1);
    assert_eq!(unmasked[0].entry.actor, "inspector");
}

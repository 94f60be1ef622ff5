//! A terminal's administration through the served binary (`tianshu serve`), over real TCP with a terminal
//! that answers: its parameters queried (0x8104, 0x8106) and set (0x8103), its attributes (0x8107), each
//! answer decoded for the API; and its clock, found off by whole hours and corrected once an administrator
//! sets its offset.

use std::time::Duration;

use serde_json::{Value, json};
use tianshu_e2e::api::{self as api_support, Resp};
use tianshu_e2e::gateway::{Terminal, phone, plate, provision, serve};
use tianshu_jt808::{GeneralAck, Message, Parameter, ParameterList, Params, TerminalAttributes, Text, id};
use tianshu_store::Store;
use tianshu_store::access::Role;

const WAIT: Duration = Duration::from_secs(10);

/// The next frame with `msg_id` the terminal receives: the command the platform sent it.
async fn command(terminal: &mut Terminal, msg_id: u16) -> tianshu_jt808::Frame {
    let f = terminal.recv_id(msg_id, WAIT).await;
    f.unwrap_or_else(|| panic!("a {msg_id:#06x} from the platform"))
}

/// Provisions terminal 0 with its car, an administrator and a dispatcher; returns the vehicle id.
async fn seed(url: &str) -> i64 {
    provision(url, 1).await;
    let store = Store::open(url).await.expect("opening the store");
    for (username, role) in [
        ("administrator", Role::Administrator),
        ("dispatcher", Role::Dispatcher),
    ] {
        api_support::create_user(&store, username, role, None).await;
    }
    let v = store
        .vehicle_by_plate(&plate(0))
        .await
        .expect("reading")
        .expect("the car");
    v.id.0
}

/// Posts `command` to the vehicle's terminal in the background (the API waits for the terminal's answer).
fn post(
    http: std::net::SocketAddr,
    vehicle: i64,
    cookie: &str,
    command: Value,
) -> tokio::task::JoinHandle<Resp> {
    let (path, cookie) = (format!("/api/vehicles/{vehicle}/commands"), cookie.to_string());
    tokio::spawn(async move {
        api_support::http(http, "POST", &path, Some(&cookie), Some(&command.to_string())).await
    })
}

/// Bytes as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers a parameter query with `list`.
async fn answer_parameters(terminal: &mut Terminal, serial: u16, list: &[Parameter<'_>]) {
    let answer = Message::Parameters {
        reply_serial: serial,
        list: ParameterList {
            count: list.len() as u8,
            params: Params::List(list),
        },
    };
    terminal.send(&answer).await;
}

/// A served binary over a fresh store with terminal 0 connected and logged in, and the logins of an
/// administrator and a dispatcher.
struct Running {
    /// The store (removed when dropped).
    scratch: api_support::Scratch,
    /// The binary.
    server: tianshu_e2e::Tianshu,
    /// Terminal 0, online.
    terminal: Terminal,
    /// Its car.
    vehicle: i64,
    /// The administrator's session cookie.
    admin: String,
    /// The dispatcher's session cookie.
    dispatcher: String,
}

async fn start(name: &str) -> Running {
    let scratch = api_support::Scratch::embedded(name);
    let vehicle = seed(&scratch.url()).await;
    let dir = tianshu_testkit::unique_dir(&format!("{name}-config"));
    let server = serve(&scratch.url(), "", &dir);
    let mut terminal = Terminal::connect(server.jt808, phone(0))
        .await
        .expect("connecting");
    terminal.login(0).await;
    let admin = api_support::login_at(server.http, "administrator").await;
    let dispatcher = api_support::login_at(server.http, "dispatcher").await;
    Running {
        scratch,
        server,
        terminal,
        vehicle,
        admin,
        dispatcher,
    }
}

/// The details of the audited commands.
async fn audited_commands(url: &str) -> Vec<String> {
    let store = Store::open(url).await.expect("opening the store");
    let audit = store.access().audit(0, 1000).await.expect("the audit log");
    audit
        .into_iter()
        .filter(|r| r.entry.action == "command")
        .map(|r| r.entry.detail)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_and_attribute_queries_reach_the_terminal_and_its_answers_come_back_decoded() {
    let Running {
        scratch,
        server,
        mut terminal,
        vehicle,
        dispatcher,
        ..
    } = start("terminal-queries").await;
    let heartbeat = 30u32.to_be_bytes();
    // Every parameter (0x8104), answered by a 0x0104 naming the query's serial.
    let asked = post(
        server.http,
        vehicle,
        &dispatcher,
        json!({"kind": "query_parameters"}),
    );
    let f = command(&mut terminal, id::QUERY_PARAMETERS).await;
    let list = [
        Parameter {
            id: 0x0001,
            value: &heartbeat,
        },
        Parameter {
            id: 0x0013,
            value: b"gw.example.cn:6808",
        },
        Parameter {
            id: 0x0084,
            value: &[2],
        },
        Parameter {
            id: 0xF001,
            value: &[1, 2, 3],
        },
    ];
    answer_parameters(&mut terminal, f.header.serial, &list).await;
    let r = asked.await.expect("the request");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"outcome": "answered", "parameters": [
            {"id": 1, "value": 30, "hex": "0000001e"},
            {"id": 19, "value": "gw.example.cn:6808", "hex": hex(b"gw.example.cn:6808")},
            {"id": 132, "value": 2, "hex": "02"},
            {"id": 61441, "hex": "010203"},
        ]})
    );

    // Some parameters (0x8106 with their ids).
    let asked = post(
        server.http,
        vehicle,
        &dispatcher,
        json!({"kind": "query_parameters", "ids": [1, 85]}),
    );
    let f = command(&mut terminal, id::QUERY_PARAMETER_IDS).await;
    let Ok(Message::QueryParameterIds(ids)) = f.message() else {
        panic!("0x8106 decodes")
    };
    assert_eq!(ids.iter().collect::<Vec<_>>(), [1, 85]);
    let speed = 120u32.to_be_bytes();
    let list = [
        Parameter {
            id: 0x0001,
            value: &heartbeat,
        },
        Parameter {
            id: 0x0055,
            value: &speed,
        },
    ];
    answer_parameters(&mut terminal, f.header.serial, &list).await;
    let r = asked.await.expect("the request");
    assert_eq!(
        r.json()["parameters"][1],
        json!({"id": 85, "value": 120, "hex": "00000078"})
    );

    // The attributes (0x8107, answered by a 0x0107 that names no serial).
    let asked = post(
        server.http,
        vehicle,
        &dispatcher,
        json!({"kind": "query_attributes"}),
    );
    command(&mut terminal, id::QUERY_ATTRIBUTES).await;
    let attributes = TerminalAttributes {
        terminal_type: 0x0004,
        maker_id: Text(b"70111"),
        model: Text(b"BSJ-A6"),
        terminal_id: Text(b"T000000"),
        iccid: 89_860_012_345_678_901_234,
        hardware_version: Text(b"H1.2"),
        firmware_version: Text(b"F3.4.5"),
        gnss: 0b0011,
        network: 0b0001,
    };
    terminal.send(&Message::Attributes(attributes)).await;
    let r = asked.await.expect("the request");
    // A dispatcher sees the terminal id masked, as everywhere (only administrators see it in full).
    assert_eq!(
        r.json()["attributes"],
        json!({"terminal_type": 4, "maker_id": "70111", "model": "BSJ-A6", "terminal_id": "T*****0",
               "iccid": "89860012345678901234", "hardware_version": "H1.2", "firmware_version": "F3.4.5",
               "gnss": 3, "network": 1})
    );

    let details = audited_commands(&scratch.url()).await;
    for kind in ["query_parameters", "query_attributes"] {
        assert!(
            details
                .iter()
                .any(|d| d.contains(kind) && d.contains("outcome=answered")),
            "{kind} in {details:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_set_parameters_each_value_checked_against_its_kind_and_passwords_unaudited() {
    let Running {
        scratch,
        server,
        mut terminal,
        vehicle,
        admin,
        dispatcher,
    } = start("terminal-set").await;
    // Setting parameters is for administrators; a value that does not fit its parameter never leaves.
    let set = json!({"kind": "set_parameters", "parameters": [
        {"id": 85, "value": 100},
        {"id": 131, "value": "鄂B12345"},
        {"id": 50, "hex": "16320a1e"},
        {"id": 18, "value": "apn-secret"},
    ]});
    let r = post(server.http, vehicle, &dispatcher, set.clone())
        .await
        .expect("the request");
    assert_eq!(r.status, 403, "{}", r.body);
    let bad = json!({"kind": "set_parameters", "parameters": [{"id": 19, "value": 6808}]});
    let r = post(server.http, vehicle, &admin, bad)
        .await
        .expect("the request");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("0x0013 is text"), "{}", r.body);
    let asked = post(server.http, vehicle, &admin, set);
    let f = command(&mut terminal, id::SET_PARAMETERS).await;
    let Ok(Message::SetParameters(list)) = f.message() else {
        panic!("0x8103 decodes")
    };
    let sent: Vec<(u32, Vec<u8>)> = list
        .iter()
        .map(|p| p.map(|p| (p.id, p.value.to_vec())))
        .collect::<Result<_, _>>()
        .expect("parameters");
    let plate_gbk = encoding_rs::GBK.encode("鄂B12345").0.to_vec();
    assert_eq!(
        sent,
        [
            (85, vec![0, 0, 0, 100]),
            (131, plate_gbk),
            (50, vec![0x16, 0x32, 0x0a, 0x1e]),
            (18, b"apn-secret".to_vec())
        ]
    );
    let ack = GeneralAck {
        reply_serial: f.header.serial,
        reply_msg_id: id::SET_PARAMETERS,
        result: 0,
    };
    terminal.send(&Message::TerminalAck(ack)).await;
    let r = asked.await.expect("the request");
    assert_eq!((r.status, r.json()), (200, json!({"outcome": "answered"})));

    let details = audited_commands(&scratch.url()).await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("set_parameters") && d.contains("outcome=answered")),
        "{details:?}"
    );
    assert!(details.iter().all(|d| !d.contains("apn-secret")), "{details:?}");
}

/// The terminal's stored fixes: (fix time, receive time) in milliseconds.
async fn stored(url: &str) -> Vec<(i64, i64)> {
    let store = Store::open(url).await.expect("opening the store");
    let points = tianshu_e2e::gateway::stored_points(&store, 0).await;
    points.iter().map(|p| (p.fix_time.0, p.recv_time.0)).collect()
}

/// A live fix of now (plus `k` seconds) from a clock that sends UTC as China time, acknowledged.
async fn utc_as_china_time(terminal: &mut Terminal, k: i64) {
    // The wall clock's digits in UTC, read as China time: eight hours early.
    let now = chrono::Utc::now().timestamp();
    let p = tianshu_e2e::gateway::point(0, now - 8 * 3_600 - 1_795_000_000 + k);
    let serial = terminal.report(&p).await;
    assert_eq!(
        terminal.ack_of(serial, WAIT).await,
        Some(0),
        "report {k} acknowledged"
    );
}

/// The terminal's view in `GET /api/terminals`.
async fn terminal_view(http: std::net::SocketAddr, cookie: &str) -> Value {
    let r = api_support::http(http, "GET", "/api/terminals", Some(cookie), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_sending_utc_as_china_time_is_found_eight_hours_off_and_corrected_once_its_offset_is_set() {
    let Running {
        scratch,
        server,
        mut terminal,
        admin,
        dispatcher,
        ..
    } = start("terminal-clock").await;
    let url = scratch.url();

    // Nine live fixes: stored as sent (eight hours early), and the offset is found.
    for k in 0..9 {
        utc_as_china_time(&mut terminal, k).await;
    }
    let lag_hours = |(fix, recv): (i64, i64)| (recv - fix) as f64 / 3_600_000.0;
    assert!(
        stored(&url)
            .await
            .into_iter()
            .all(|p| (lag_hours(p) - 8.0).abs() < 0.1)
    );
    tianshu_testkit::wait_until("the offset found", WAIT, || async {
        terminal_view(server.http, &dispatcher).await["clock_offset_found_secs"] == json!(28_800)
    })
    .await;
    let view = terminal_view(server.http, &dispatcher).await;
    assert_eq!(view["clock_offset_secs"], json!(0));
    assert!(view["clock_offset_found_at"].is_string(), "{view}");
    assert!(
        server
            .metric("tianshu_clock_offsets_found_total", r#"configured="differs""#)
            .await
            >= 1.0
    );

    // Only an administrator sets the offset, and only whole or half hours.
    let path = format!("/api/terminals/{}", phone(0));
    let set = |cookie: &str, body: Value| {
        let (path, cookie, http) = (path.clone(), cookie.to_string(), server.http);
        async move { api_support::http(http, "PATCH", &path, Some(&cookie), Some(&body.to_string())).await }
    };
    assert_eq!(
        set(&dispatcher, json!({"clock_offset_secs": 28_800}))
            .await
            .status,
        403
    );
    let r = set(&admin, json!({"clock_offset_secs": 1_000})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("clock_offset_secs"), "{}", r.body);
    let r = set(&admin, json!({"clock_offset_secs": 28_800})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["clock_offset_secs"], json!(28_800));

    // The connection stays; its next fix is corrected at once, before the checks and the store.
    utc_as_china_time(&mut terminal, 9).await;
    let newest = stored(&url)
        .await
        .into_iter()
        .max_by_key(|(fix, _)| *fix)
        .expect("a point");
    assert!(lag_hours(newest).abs() < 0.1, "corrected: {newest:?}");
    assert!(server.metric("tianshu_points_clock_corrected_total", "").await >= 1.0);

    // The change is audited.
    let store = Store::open(&url).await.expect("opening the store");
    let audit = store.access().audit(0, 1000).await.expect("the audit log");
    assert!(
        audit.iter().any(
            |r| r.entry.action == "terminal.update" && r.entry.detail.contains("clock_offset_secs 28800")
        ),
        "{audit:?}"
    );
}

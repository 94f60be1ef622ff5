//! Downlink commands across instances over a bus, end to end: a NATS JetStream node, two gateway
//! processes and an API process of the real binary against PostgreSQL. A terminal connected to the second
//! gateway gets a text sent through the API instance (which holds no terminal), and its answer comes back;
//! a terminal connected nowhere is "not connected".

use std::time::Duration;

use serde_json::json;
use tianshu_e2e::api as api_support;
use tianshu_e2e::gateway::{Terminal, phone, plate, provision};
use tianshu_e2e::{Scratch, ScratchDir, Tianshu, wait_until};
use tianshu_jt808::{GeneralAck, Message, id};
use tianshu_store::Store;
use tianshu_store::access::Role;
use tianshu_testkit::nats::NatsNode;

const WAIT: Duration = Duration::from_secs(30);

fn config(server: &str) -> String {
    format!(
        "[jt808]\nheartbeat_interval_secs = 60\ndownlink_timeout_secs = 10\n\n[bus]\nservers = [{server:?}]\npartitions = 4\ntimeout_secs = 2\nroute_secs = 3\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_through_any_api_instance_reaches_the_gateway_holding_the_terminal() {
    let node = NatsNode::start();
    let scratch = Scratch::postgres("bus_downlink").await;
    let url = scratch.url();
    provision(&url, 2).await;
    let store = Store::open(&url).await.expect("open the store");
    api_support::create_user(&store, "dispatcher", Role::Dispatcher, None).await;
    let vehicle = |i: u32| {
        let store = store.clone();
        async move {
            let v = store.vehicle_by_plate(&plate(i)).await.expect("reading");
            v.expect("the car").id.0
        }
    };
    let dir = ScratchDir::new("bus-downlink");
    let toml = config(&node.url());
    let start = |roles: &str| Tianshu::start(&url, &toml, &["--roles", roles], dir.path());
    let _gateway_a = start("gateway,writer");
    let gateway_b = start("gateway");
    let api = start("api");

    let mut terminal = Terminal::connect(gateway_b.jt808, phone(0))
        .await
        .expect("connect");
    terminal.login(0).await;
    let bus = tianshu_bus::Bus::connect(&tianshu_bus::BusConfig {
        servers: vec![node.url()],
        ..Default::default()
    })
    .await
    .expect("the bus");
    let routes = tianshu_bus::route::Routes::open(&bus)
        .await
        .expect("the terminals bucket");
    wait_until("the terminal's gateway written on the bus", WAIT, || async {
        routes.gateway_of(phone(0)).await.is_some()
    })
    .await;

    let cookie = api_support::login_at(api.http, "dispatcher").await;
    let path = format!("/api/vehicles/{}/commands", vehicle(0).await);
    let body = json!({"kind": "text", "text": "请回单位"}).to_string();
    let asked = {
        let (http, cookie) = (api.http, cookie.clone());
        tokio::spawn(async move { api_support::http(http, "POST", &path, Some(&cookie), Some(&body)).await })
    };
    let f = terminal
        .recv_id(id::TEXT_MESSAGE, WAIT)
        .await
        .expect("the text from the platform, through the other gateway");
    let ack = GeneralAck {
        reply_serial: f.header.serial,
        reply_msg_id: id::TEXT_MESSAGE,
        result: 0,
    };
    terminal.send(&Message::TerminalAck(ack)).await;
    let r = asked.await.expect("the request");
    assert_eq!((r.status, r.json()), (200, json!({"outcome": "answered"})));

    // Terminal 1 is connected nowhere.
    let path = format!("/api/vehicles/{}/commands", vehicle(1).await);
    let body = json!({"kind": "query_position"}).to_string();
    let r = api_support::http(api.http, "POST", &path, Some(&cookie), Some(&body)).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["outcome"], "not_connected", "{}", r.body);
}

//! The live feed over a real WebSocket: a snapshot of what the user may see, then position and alert
//! deltas of committed points; a supervisor never receives another unit's vehicle.

use tianshu_api::live::AlertEvent;
use tianshu_e2e::api::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn connect(
    api: &TestApi,
    cookie: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://{}/api/live", api.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("cookie", cookie.parse().expect("header"));
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connecting the live feed");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_gets_their_units_snapshot_and_deltas_only() {
    let api = TestApi::seeded(Scratch::embedded("api-live")).await;
    let sup = api.login("supervisor").await;
    let admin = api.login("administrator").await;
    let mut sup_ws = connect(&api, &sup).await;
    let mut admin_ws = connect(&api, &admin).await;

    let snap = next_json(&mut sup_ws).await;
    assert_eq!(snap["type"], "snapshot");
    let mut plates = texts(&snap["vehicles"], "plate");
    plates.sort();
    assert_eq!(plates, [OWN_PLATE, SUB_PLATE]);
    assert_eq!(snap["positions"].as_array().map(Vec::len), Some(2));
    let admin_snap = next_json(&mut admin_ws).await;
    assert_eq!(admin_snap["positions"].as_array().map(Vec::len), Some(3));

    // One commit with a point of every car: the supervisor hears of two, the administrator of three.
    let foreign = api.vehicles[FOREIGN_PLATE].id;
    let pts: Vec<_> = api
        .vehicles
        .values()
        .map(|v| point(v.id, 3600, 115_500_000))
        .collect();
    api.store.append_points(&pts).await.expect("append");
    let delta = next_json(&mut sup_ws).await;
    assert_eq!(delta["type"], "positions");
    let ids: Vec<i64> = delta["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["vehicle"].as_i64())
        .collect();
    assert_eq!(ids.len(), 2, "{delta}");
    assert!(!ids.contains(&foreign.0));
    // The one position shape: units in the field names, the time as RFC 3339.
    let p = &delta["points"][0];
    assert_eq!(p["lon_deg"].as_f64(), Some(115.5), "{p}");
    assert_eq!(p["lat_deg"].as_f64(), Some(30.2), "{p}");
    assert_eq!(p["speed_kmh"].as_f64(), Some(40.0), "{p}");
    assert!(p["fix_time"].as_str().is_some_and(|t| t.ends_with('Z')), "{p}");
    let admin_delta = next_json(&mut admin_ws).await;
    assert_eq!(admin_delta["points"].as_array().map(Vec::len), Some(3));

    // Alerts follow the same scope: the foreign one is not delivered, the own one is.
    let alert = |vehicle, title: &str| {
        let mut detail = serde_json::Map::new();
        detail.insert("title".into(), title.into());
        AlertEvent {
            vehicle,
            severity: "severe".into(),
            detail,
        }
    };
    api.state.live().publish_alert(alert(foreign, "foreign"));
    api.state
        .live()
        .publish_alert(alert(api.vehicles[OWN_PLATE].id, "own"));
    let a = next_json(&mut sup_ws).await;
    assert_eq!(a["type"], "alert");
    assert_eq!(a["alert"]["title"], "own");
    let a = next_json(&mut admin_ws).await;
    assert_eq!(a["alert"]["title"], "foreign");

    // A reconnect starts from a fresh snapshot that already has the new positions.
    drop(sup_ws);
    let mut again = connect(&api, &sup).await;
    let snap = next_json(&mut again).await;
    assert!(
        snap["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .all(|p| p["lon_deg"].as_f64() == Some(115.5))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_no_feed() {
    let api = TestApi::seeded(Scratch::embedded("api-live-anon")).await;
    let req = format!("ws://{}/api/live", api.addr)
        .into_client_request()
        .expect("request");
    let err = tokio_tungstenite::connect_async(req).await.expect_err("refused");
    assert!(err.to_string().contains("401"), "{err}");
}

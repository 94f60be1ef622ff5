//! A measurement, run by hand (see BENCHMARKS.md): the car pool's free-car query for one window over
//! 700 pool cars with five orders each around it, a maintenance window on every tenth car and 100 drivers,
//! on both backends: the store's read of the candidates and the rules' offers together, and the same
//! over HTTP (`GET /api/carpool/requests/{id}/offers`).

use std::time::Instant;

use tianshu_e2e::api::{TestApi, http, point};
use tianshu_e2e::{Scratch, registry_record};
use tianshu_model::carpool::{FleetFields, Ownership, RequestFields};
use tianshu_model::{Timestamp, VehicleId};
use tianshu_store::carpool::Maintenance;

const CARS: usize = 700;
const H: i64 = 3_600_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn the_free_car_query_over_700_cars(scratch: Scratch) {
    let backend = match &scratch {
        Scratch::Embedded(_) => "embedded",
        Scratch::Postgres(_) => "postgres",
    };
    let api = TestApi::seeded(scratch).await;
    let records: Vec<_> = (0..CARS)
        .map(|i| {
            registry_record(
                "黄石市/市委办公室",
                &format!("鄂P{i:05}"),
                14_000_000_000 + i as u128,
                &format!("P{i}"),
            )
        })
        .collect();
    api.store
        .import_registry(&records)
        .await
        .expect("the pool's cars");
    let cars: Vec<_> = api
        .store
        .vehicles()
        .await
        .expect("vehicles")
        .into_iter()
        .filter(|v| v.plate.starts_with("鄂P"))
        .collect();
    assert_eq!(cars.len(), CARS);
    let day = (chrono::Utc::now().timestamp_millis() / (24 * H) + 2) * 24 * H;
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let pool = api.store.carpool();
    let fleet = FleetFields {
        ownership: Ownership::Pool,
        ..FleetFields::default()
    };
    let mut orders = String::new();
    let mut pts = Vec::new();
    for (i, v) in cars.iter().enumerate() {
        pool.put_fleet(v.id, &fleet).await.expect("fleet");
        // Five orders a day apart, one of every third car's inside the window.
        for k in 0..5i64 {
            let start = day + (k - 2) * 24 * H + if i % 3 == 0 { 7 * H } else { 12 * H };
            orders.push_str(&format!(
                r#"{{"id":"PC-{i}-{k}","kind":"order","plate":"{}","driver":"司机{}","purpose":"会议","start":"{}","end":"{}","state":"approved"}}"#,
                v.plate,
                i % 100,
                Timestamp::from_millis(start).to_rfc3339(),
                Timestamp::from_millis(start + 2 * H).to_rfc3339(),
            ));
            orders.push('\n');
        }
        if i % 10 == 5 {
            let m = Maintenance {
                id: 0,
                vehicle: v.id,
                start: Timestamp::from_millis(day),
                end: Timestamp::from_millis(day + 24 * H),
                note: "保养".into(),
            };
            pool.add_maintenance(&m).await.expect("maintenance");
        }
        pts.push(point(VehicleId(v.id.0), 3_600, 115_000_000 + i as i32 * 100));
    }
    api.store
        .rules()
        .import_orders(&orders, now)
        .await
        .expect("orders");
    api.store.append_points(&pts).await.expect("positions");
    for i in 0..100 {
        let d: tianshu_store::drivers::DriverFields = serde_json::from_value(serde_json::json!({
            "name": format!("司机{i}"), "certificate": format!("P-{i}"), "unit": cars[0].unit, "licence": "C1"
        }))
        .expect("driver");
        api.store.drivers().create(&d).await.expect("driver");
    }
    let fields: RequestFields = serde_json::from_value(serde_json::json!({
        "start": Timestamp::from_millis(day + 8 * H), "end": Timestamp::from_millis(day + 10 * H),
        "from": {"name": "市委", "lon": 115.03, "lat": 30.2},
        "destinations": [{"name": "阳新县", "lon": 115.2, "lat": 29.85}],
        "passengers": 2, "purpose": "会议", "kind": "regular", "unit": cars[0].unit
    }))
    .expect("request");
    let request = pool
        .create_request(&fields, "requester", now)
        .await
        .expect("request");

    let mut times = Vec::new();
    let mut free = 0;
    for _ in 0..200 {
        let t = Instant::now();
        let (cars, drivers) = pool
            .candidates(fields.start, fields.end)
            .await
            .expect("candidates");
        let offers = tianshu_rules::carpool::offers(&request.fields, &cars, &drivers);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        free = offers.cars.len();
    }
    // Every third car's order falls in the window, every tenth car is in maintenance.
    let blocked = (0..CARS).filter(|i| i % 3 == 0 || i % 10 == 5).count();
    assert_eq!(free, CARS - blocked);
    times.sort_by(f64::total_cmp);
    eprintln!(
        "{backend}: free-car query over {CARS} cars, {} orders: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({free} free)",
        CARS * 5,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );

    let dispatcher = api.login("dispatcher").await;
    let path = format!("/api/carpool/requests/{}/offers", request.id);
    let mut times = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let r = http(api.addr, "GET", &path, Some(&dispatcher), None).await;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    times.sort_by(f64::total_cmp);
    eprintln!(
        "{backend}: GET offers over HTTP: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}

#[ignore = "a measurement: run by hand, see BENCHMARKS.md"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_free_cars_embedded() {
    the_free_car_query_over_700_cars(Scratch::embedded("carpool_figures")).await;
}

#[ignore = "a measurement: run by hand, see BENCHMARKS.md"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_free_cars_postgres() {
    the_free_car_query_over_700_cars(Scratch::postgres("carpool_figures").await).await;
}

//! A measurement, run by hand (see BENCHMARKS.md): the yearly figures of 700 cars read from a year of
//! their daily summaries (700 x 365 rows) on PostgreSQL, against the target of 10 s.

use std::collections::BTreeMap;
use std::time::Instant;

use tianshu_e2e::{Scratch, registry_record};
use tianshu_rules::calendar::{day_number, instant_of};
use tianshu_rules::summary::DaySummary;

const CARS: usize = 700;

#[ignore = "a measurement: run by hand, see BENCHMARKS.md"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_yearly_figures_from_summaries_postgres() {
    let scratch = Scratch::postgres("summaries_figures").await;
    let store = tianshu_store::Store::open(&scratch.url()).await.expect("store");
    let records: Vec<_> = (0..CARS)
        .map(|i| {
            registry_record(
                "黄石市/市委办公室",
                &format!("鄂S{i:05}"),
                15_000_000_000 + i as u128,
                &format!("S{i}"),
            )
        })
        .collect();
    store.import_registry(&records).await.expect("cars");
    let cars = store.vehicles().await.expect("vehicles");
    assert_eq!(cars.len(), CARS);
    let first = day_number(chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date"));
    let t = Instant::now();
    let mut metres = 0i64;
    for day in first..first + 365 {
        // Every car but each seventh online every day, 12.345 km a car and day, a case on every tenth.
        let rows: Vec<DaySummary> = cars
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let on = !(i + day as usize).is_multiple_of(7);
                DaySummary {
                    vehicle: v.id,
                    day,
                    metres: if on { 12_345 } else { 0 },
                    online_secs: if on { 8 * 3600 } else { 0 },
                    points: if on { 2880 } else { 0 },
                    trips: i64::from(on) * 4,
                    cases: if i.is_multiple_of(10) {
                        BTreeMap::from([("off_hours".to_string(), 1)])
                    } else {
                        BTreeMap::new()
                    },
                }
            })
            .collect();
        metres += rows.iter().map(|r| r.metres).sum::<i64>();
        store.summaries().replace(rows).await.expect("a day's summaries");
    }
    eprintln!(
        "postgres: {} daily summaries written in {:.1} s",
        CARS * 365,
        t.elapsed().as_secs_f64()
    );
    let year = tianshu_rules::yearly::china_year(instant_of(first, 0));
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let f = tianshu_api::resources::yearly::figures(&store, year, None)
            .await
            .expect("figures");
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(f.days.days, 365);
        assert_eq!(f.days.km, (metres as f64 / 100.0).round() / 10.0);
        assert_eq!(f.days.cases, [("off_hours".to_string(), 70 * 365)]);
    }
    eprintln!(
        "postgres: yearly figures of {CARS} cars from {} daily summaries: {:.2} s, {:.2} s, {:.2} s",
        CARS * 365,
        times[0],
        times[1],
        times[2]
    );
}

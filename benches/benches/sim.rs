//! The simulator's own cost, so that thousands of virtual terminals fit in one process beside the
//! platform they load: per reported point (motion state along the day plan + the 0x0200 frame), per
//! car-day (the day plan: trips, shortest paths, motion), and the world (700 cars, 75 units, roads).

#![allow(clippy::unwrap_used)] // bench setup: a panic is a broken bench
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tianshu_jt808::Header;
use tianshu_model::{Position, StatusFlags, Timestamp};
use tianshu_sim::plan::{day_plan, local_ms};
use tianshu_sim::terminal::encode_location;
use tianshu_sim::{World, WorldConfig};

fn world() -> World {
    // A Friday, so cars drive.
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    World::generate(&WorldConfig::from_date(friday, 0))
}

fn sim(c: &mut Criterion) {
    let w = world();
    let date = w.config.start_date;
    let plans: Vec<_> = (0..w.vehicles.len()).map(|v| day_plan(&w, v, date)).collect();
    let mut g = c.benchmark_group("sim");

    g.throughput(Throughput::Elements(1));
    let day_start = local_ms(date, 8 * 3600);
    let mut k: usize = 0;
    g.bench_function("point_state_and_0200_frame", |b| {
        b.iter(|| {
            k = k.wrapping_add(1);
            let v = k % plans.len();
            let t = day_start + ((k / plans.len()) % 3600) as i64 * 10_000;
            let s = plans[v].state_at(t);
            let mut status = StatusFlags::GPS | StatusFlags::BEIDOU | StatusFlags::FIXED;
            if s.acc_on {
                status |= StatusFlags::ACC_ON;
            }
            let p = Position {
                phone: w.vehicles[v].phone,
                fix_time: Timestamp::from_secs(t / 1000),
                lat_e6: s.pos.lat_e6(),
                lon_e6: s.pos.lon_e6(),
                speed_dkmh: (s.speed_kmh * 10.0) as u16,
                course_deg: s.course_deg as u16,
                status: StatusFlags(status),
                mileage_dkm: Some(123_456),
                rssi: Some(24),
                satellites: Some(11),
                ..Default::default()
            };
            let h = Header::new(0x0200, p.phone, k as u16, w.vehicles[v].edition);
            black_box(encode_location(&h, &p).unwrap())
        })
    });

    let mut v = 0;
    g.bench_function("day_plan_per_car", |b| {
        b.iter(|| {
            v = (v + 1) % w.vehicles.len();
            black_box(day_plan(&w, v, date))
        })
    });

    g.sample_size(10);
    g.bench_function("world_700_cars_75_units", |b| b.iter(|| black_box(world())));
    g.finish();
}

criterion_group!(benches, sim);
criterion_main!(benches);

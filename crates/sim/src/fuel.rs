//! A planted year of fuel-card statements for the world's cars: a card per car of the first half of the
//! fleet, stations by the units' depots, a Sinopec statement of weekly fills in working hours (clean),
//! and misuse planted on cards and cars of their own so that each is the only thing wrong with its
//! fill: a cancelled card used, a card filling another official car or a private one, diesel for a
//! petrol car, a fill over the card's limit, more litres than the tank holds, a second fill an hour
//! after the first, a fill at night or on a day off, and a fill while the car's terminal shows it
//! parked 5 km away (the truth file says where).
//!
//! The truth file has a line per statement row: its card and time, the check that must find it (none
//! for a clean fill) and, for a car elsewhere, where the car stood (WGS-84) for the test to feed as
//! its terminal's fixes. The year is the calendar year before the world's start date.

use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tianshu_model::{LonLat, VehicleClass};

use crate::files::WriteError;
use crate::plan::local_ms;
use crate::world::{World, mix_seed};

/// The card registry file.
pub const FUEL_CARDS_FILE: &str = "fuel_cards.csv";
/// The station registry file.
pub const FUEL_STATIONS_FILE: &str = "fuel_stations.csv";
/// The statement.
pub const FUEL_STATEMENT_FILE: &str = "fuel_statement.csv";
/// What each statement row is.
pub const FUEL_TRUTH_FILE: &str = "fuel_truth.jsonl";

/// One statement row's truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillTruth {
    /// The statement's line (the header is line 1).
    pub line: usize,
    /// The card.
    pub card: String,
    /// The fill's time, UTC ms.
    pub time_ms: i64,
    /// The misuse planted (`None`: a clean fill).
    pub planted: Option<&'static str>,
    /// The check that must find it.
    pub misuse: Option<&'static str>,
    /// Where the car stood around the fill, when not at the station (WGS-84 `[lon, lat]`).
    pub car_at: Option<[f64; 2]>,
}

struct Fill {
    card: String,
    time_ms: i64,
    station: usize,
    diesel: bool,
    litres_cl: i64,
    plate: Option<String>,
    planted: Option<&'static str>,
    misuse: Option<&'static str>,
    car_at: Option<[f64; 2]>,
}

/// The misuse kinds planted, each on `PER_KIND` cards of its own, with the check that must find it.
const KINDS: [(&str, &str); 10] = [
    ("cancelled_card", "card_state"),
    ("another_official_car", "other_car"),
    ("private_car", "other_car"),
    ("wrong_product", "product"),
    ("over_limit", "over_limit"),
    ("over_tank", "over_tank"),
    ("double_fill", "double_fill"),
    ("night_fill", "off_hours"),
    ("holiday_fill", "off_hours"),
    ("car_elsewhere", "not_at_station"),
];
const PER_KIND: usize = 2;

fn card_number(i: usize) -> String {
    format!("10001133{i:08}")
}

fn is_diesel(class: VehicleClass) -> bool {
    tianshu_model::fuel::FuelProfile::default_for(class).fuel == tianshu_model::fuel::FuelKind::Diesel
}

/// The world's stations: one 150 m east of each of the first units' depots.
fn stations(world: &World) -> Vec<LonLat> {
    let mut out: Vec<LonLat> = world
        .units
        .iter()
        .filter_map(|u| u.depot.first())
        .take(8)
        .map(|p| LonLat::new(p.lon + 0.0015, p.lat))
        .collect();
    if out.is_empty() {
        out.push(LonLat::new(115.04, 30.2));
    }
    out
}

/// A working day of `year` at random (Monday to Friday, not a day off).
fn working_day(world: &World, rng: &mut StdRng, year: i32) -> NaiveDate {
    loop {
        let d = NaiveDate::from_yo_opt(year, rng.gen_range(1..=365)).unwrap_or_default();
        if !world.config.is_day_off(d) {
            return d;
        }
    }
}

/// The planted year: the cards and stations files, the statement and its truth.
fn planted(world: &World) -> (String, String, Vec<Fill>) {
    let year = world.config.start_date.year() - 1;
    let mut rng = StdRng::seed_from_u64(mix_seed(&[world.config.seed, 0xF0E1]));
    let stations = stations(world);
    let n = world.vehicles.len();
    let planted_cards = KINDS.len() * PER_KIND;
    let clean_cards = (n / 2).saturating_sub(planted_cards).max(1);
    let mut cards = String::from(
        "unit,number,issuer,plate,state,state_date,state_reason,limit_fill_yuan,limit_month_yuan\n",
    );
    let mut fills = Vec::new();
    let fill_at =
        |rng: &mut StdRng, date: NaiveDate, secs: u32| local_ms(date, secs + rng.gen_range(0..3600));
    for i in 0..(clean_cards + planted_cards).min(n) {
        let v = &world.vehicles[i];
        let unit = &world.units[v.unit].path;
        let planted_kind = i.checked_sub(clean_cards).map(|k| KINDS[k / PER_KIND]);
        let kind = planted_kind.map(|(k, _)| k);
        let (state, limit) = match kind {
            Some("cancelled_card") => ("cancelled,2024-12-31,人员调离", "600,3000"),
            Some("over_limit") => (",,", "200,3000"),
            Some("over_tank") => (",,", ","),
            _ => (",,", "600,3000"),
        };
        cards += &format!("{unit},{},中石化,{},{state},{limit}\n", card_number(i), v.plate);
        let diesel = is_diesel(v.class);
        let base = |rng: &mut StdRng, time_ms: i64| Fill {
            card: card_number(i),
            time_ms,
            station: rng.gen_range(0..stations.len()),
            diesel,
            litres_cl: rng.gen_range(2500..4500),
            plate: None,
            planted: None,
            misuse: None,
            car_at: None,
        };
        let Some((kind, check)) = planted_kind else {
            // A clean card: a fill a week, on a working day between 08:30 and 16:30.
            let mut d =
                NaiveDate::from_ymd_opt(year, 1, 2).unwrap_or_default() + Duration::days((i % 7) as i64);
            while d.year() == year {
                if !world.config.is_day_off(d) {
                    let hour = rng.gen_range(0..7u32);
                    let t = fill_at(&mut rng, d, 8 * 3600 + 1800 + hour * 3600);
                    fills.push(base(&mut rng, t));
                }
                d += Duration::days(7);
            }
            continue;
        };
        let mut d = working_day(world, &mut rng, year);
        if kind == "holiday_fill" {
            while !world.config.is_day_off(d) {
                d += Duration::days(1);
            }
        }
        let t = fill_at(&mut rng, d, 10 * 3600);
        let mut f = base(&mut rng, t);
        f.misuse = Some(check);
        f.planted = Some(kind);
        match kind {
            "another_official_car" => {
                // A car of the second half of the fleet, which has no card of its own.
                let other = &world.vehicles[n - 1 - (i % (n / 4).max(1))];
                f.plate = Some(other.plate.clone());
                f.diesel = is_diesel(other.class);
            }
            "private_car" => f.plate = Some(format!("鄂A{:05}", 90_000 + i)),
            "wrong_product" => f.diesel = !diesel,
            "over_limit" => f.litres_cl = 4000,
            "over_tank" => f.litres_cl = 10_000,
            "night_fill" => f.time_ms = local_ms(d, 22 * 3600 + 1800),
            "car_elsewhere" => {
                let s = stations[f.station];
                f.car_at = Some([s.lon + 0.05, s.lat]);
            }
            _ => {}
        }
        if kind == "double_fill" {
            let mut first = base(&mut rng, f.time_ms - 3_600_000);
            first.station = f.station;
            fills.push(first);
        }
        fills.push(f);
    }
    fills.sort_by_key(|f| f.time_ms);
    let mut st = String::from("code,name,brand,lon,lat,datum\n");
    for (k, s) in stations.iter().enumerate() {
        st += &format!(
            "HS{k:03},黄石第{}加油站,中国石化,{:.6},{:.6},wgs84\n",
            k + 1,
            s.lon,
            s.lat
        );
    }
    (cards, st, fills)
}

/// The statement (Sinopec's layout, with the plate column) and its truth, line by line.
fn statement(fills: &[Fill]) -> (String, Vec<FillTruth>) {
    let mut text = String::from("卡号,交易时间,加油站,油品,数量,单价,金额,车牌号\n");
    let mut truth = Vec::with_capacity(fills.len());
    for (k, f) in fills.iter().enumerate() {
        let (product, price) = if f.diesel { ("0#", 720) } else { ("92#", 750) };
        let local = tianshu_model::Timestamp(f.time_ms)
            .to_china()
            .format("%Y-%m-%d %H:%M:%S");
        let amount = (f.litres_cl * price + 50) / 100;
        text += &format!(
            "{},{local},HS{:03},{product},{},{},{},{}\n",
            f.card,
            f.station,
            tianshu_model::fuel::format_hundredths(f.litres_cl),
            tianshu_model::fuel::format_hundredths(price),
            tianshu_model::fuel::format_hundredths(amount),
            f.plate.as_deref().unwrap_or_default()
        );
        truth.push(FillTruth {
            line: k + 2,
            card: f.card.clone(),
            time_ms: f.time_ms,
            planted: f.planted,
            misuse: f.misuse,
            car_at: f.car_at,
        });
    }
    (text, truth)
}

/// Writes the cards, the stations, the statement and its truth into `dir`; their paths.
pub fn write_planted_fuel(world: &World, dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    let (cards, stations, fills) = planted(world);
    let (text, truth) = statement(&fills);
    let truth: String = truth
        .iter()
        .map(|t| serde_json::to_string(t).unwrap_or_default() + "\n")
        .collect();
    let files = [
        (FUEL_CARDS_FILE, cards),
        (FUEL_STATIONS_FILE, stations),
        (FUEL_STATEMENT_FILE, text),
        (FUEL_TRUTH_FILE, truth),
    ];
    let mut out = Vec::new();
    for (name, body) in files {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
        out.push(path);
    }
    Ok(out)
}

//! The fuel cards' fixtures the end-to-end tests share, over the seeded world of [`crate::api`]: two stations
//! (one by the seeded cars' track, one 20 km east), a card of each seeded car (the sub-unit's cancelled)
//! and a Sinopec statement with a clean fill, planted misuse and three bad rows.

use tianshu_model::Timestamp;

use crate::api::{FOREIGN_PLATE, OWN_PLATE, SUB_PLATE, T0_SECS};

/// The seeded cars stand near (115.000..115.012, 30.2) from T0 for ten minutes.
pub const STATIONS: &str = "code,name,brand,lon,lat,datum\n\
                        HS001,团城山加油站,中国石化,115.0050,30.2000,wgs84\n\
                        HS002,大冶加油站,中国石油,115.2000,30.2000,wgs84\n";

/// The card registry file: a card of each seeded car, the sub-unit's cancelled, the own car's with a
/// 500 yuan limit per fill.
pub fn cards_csv() -> String {
    format!(
        "unit,number,issuer,plate,state,state_date,state_reason,limit_fill_yuan,limit_month_yuan\n\
         黄石市/市委办公室,1000000000000001,中石化,{OWN_PLATE},,,,500,\n\
         黄石市/公安局,1000000000000002,中石化,{FOREIGN_PLATE},,,,,\n\
         黄石市/市委办公室/机要科,1000000000000003,中石化,{SUB_PLATE},cancelled,2026-01-01,人员调离,,\n"
    )
}

/// China local time of T0 + `secs`, as a statement writes it.
pub fn local(secs: i64) -> String {
    Timestamp::from_secs(T0_SECS + secs)
        .to_china()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A Sinopec statement: line 2 clean, 3 the car far from the station (and a double fill), 4 into a
/// 60 L tank 90 L, 5 a cancelled card, 6 a bad date, 7 negative litres, 8 an unknown card.
pub fn statement() -> String {
    let mut s = String::from("卡号,交易时间,加油站,油品,数量,单价,金额\n");
    let row = |card: &str, time: &str, station: &str, litres: &str, amount: &str| {
        format!("{card},{time},{station},92#,{litres},7.50,{amount}\n")
    };
    s += &row("1000000000000001", &local(300), "HS001", "40.00", "300.00");
    s += &row("1000000000000001", &local(420), "大冶加油站", "8.00", "60.00");
    s += &row("1000000000000002", &local(300), "HS001", "90.00", "675.00");
    s += &row("1000000000000003", &local(300), "HS003", "30.00", "225.00");
    s += &row(
        "1000000000000002",
        "2026-11-31 10:00:00",
        "HS001",
        "30.00",
        "225.00",
    );
    s += &row("1000000000000002", &local(500), "HS001", "-30.00", "225.00");
    s += &row("9999999999999999", &local(300), "HS001", "30.00", "225.00");
    s
}

/// [`cards_csv`] and [`STATIONS`] imported into the store at `url` with the command line (the files
/// written into `dir`).
pub fn import_cards_and_stations(url: &str, dir: &std::path::Path) {
    for (what, name, body) in [
        ("cards", "cards.csv", cards_csv()),
        ("stations", "stations.csv", STATIONS.to_string()),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, body).expect("writing the file");
        let path = file.to_str().expect("a path");
        let out = crate::run(&["fuel", what, "import", "--store", url, path], None, &[]);
        assert!(out.status.success(), "{what}: {}", crate::text(&out.stderr));
    }
}

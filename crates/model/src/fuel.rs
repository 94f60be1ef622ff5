//! Official fuel cards (公务加油卡): cards, stations, issuers' statements and the cars' fuel profiles,
//! as imported and stored, with the checks every import makes before touching the database.
//!
//! Quantities are integers so that a statement re-imported compares equal to the first import: litres
//! in centilitres (0.01 L), prices and amounts in fen (0.01 yuan). Times in statements are local China
//! time (GMT+8) unless they carry an offset. Station positions are stored in WGS-84 (as the terminals
//! report); a file may give them in GCJ-02 (Chinese web maps and statements), converted on reading by
//! [`crate::geo::gcj02_to_wgs84`]. Reading the files is in [`read`]: the types here, the files there.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

use crate::{LonLat, Timestamp, UnitId, VehicleClass, VehicleId, china_offset};

mod read;
pub use read::{
    CARD_HEADER, CardRecord, FIELDS, ParsedStatement, STATEMENT_FORMATS, STATION_HEADER, StatementFormat,
    TextEncoding, csv_rows, decode_text, parse_cards_csv, parse_stations_csv, parse_stations_geojson,
    read_statement, read_statement_csv, read_statement_xlsx,
};
pub(crate) use read::{column_err, registry_rows};

/// Declares a string enum: its variants, their ids and the other spellings files use.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $id:literal $(| $alt:literal)*,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $id)] $v,)* }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            /// The id used in files, the API and the database.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$v => $id,)* }
            }

            /// Parses an id or another common spelling (Chinese included), ignoring case and spaces.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim().to_lowercase();
                $(if s == $id $(|| s == $alt)* { return Some($name::$v); })*
                None
            }

            /// What [`Self::parse`] accepts, for error messages.
            pub fn expected() -> String {
                [$($id),*].join(", ")
            }
        }
    };
}

string_enum! {
    /// Who issued a card.
    Issuer {
        /// 中国石化.
        Sinopec = "sinopec" | "中石化" | "中国石化",
        /// 中国石油.
        PetroChina = "petrochina" | "中石油" | "中国石油",
        /// Any other issuer.
        Other = "other" | "其他",
    }
}

string_enum! {
    /// A card's state.
    CardState {
        /// In use.
        Active = "active" | "正常",
        /// Suspended (挂失, 冻结): not to be used until reactivated.
        Suspended = "suspended" | "冻结" | "挂失",
        /// Cancelled (注销): never to be used again.
        Cancelled = "cancelled" | "注销",
    }
}

string_enum! {
    /// What a car burns.
    FuelKind {
        /// Petrol (汽油).
        Petrol = "petrol" | "汽油",
        /// Diesel (柴油).
        Diesel = "diesel" | "柴油",
    }
}

string_enum! {
    /// A product on a statement.
    Product {
        /// 92# petrol.
        Petrol92 = "92#" | "92" | "92号" | "92号汽油" | "92#汽油" | "汽油92#",
        /// 95# petrol.
        Petrol95 = "95#" | "95" | "95号" | "95号汽油" | "95#汽油" | "汽油95#",
        /// 98# petrol.
        Petrol98 = "98#" | "98" | "98号" | "98号汽油" | "98#汽油" | "汽油98#",
        /// 0# diesel.
        Diesel0 = "0#" | "0" | "0号" | "0号柴油" | "0#柴油" | "柴油" | "柴油0#",
    }
}

impl Product {
    /// The fuel it is.
    pub const fn fuel(self) -> FuelKind {
        match self {
            Product::Diesel0 => FuelKind::Diesel,
            _ => FuelKind::Petrol,
        }
    }
}

/// A car's tank and rated consumption, as the fuel checks use them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FuelProfile {
    /// Tank capacity in litres.
    pub tank_litres: f64,
    /// Rated consumption in litres per 100 km.
    pub rated_l_per_100km: f64,
    /// What it burns.
    pub fuel: FuelKind,
}

impl FuelProfile {
    /// The profile of a car of `class` nobody entered one for: a mid-size sedan (60 L, 8 L/100 km,
    /// petrol) for ordinary and confidential cars, an SUV for emergency and enforcement (70 L,
    /// 10 L/100 km), a diesel utility vehicle for special technical cars (80 L, 12 L/100 km).
    pub const fn default_for(class: VehicleClass) -> FuelProfile {
        match class {
            VehicleClass::General | VehicleClass::Confidential => FuelProfile {
                tank_litres: 60.0,
                rated_l_per_100km: 8.0,
                fuel: FuelKind::Petrol,
            },
            VehicleClass::Emergency | VehicleClass::LawEnforcement => FuelProfile {
                tank_litres: 70.0,
                rated_l_per_100km: 10.0,
                fuel: FuelKind::Petrol,
            },
            VehicleClass::Special => FuelProfile {
                tank_litres: 80.0,
                rated_l_per_100km: 12.0,
                fuel: FuelKind::Diesel,
            },
        }
    }

    /// Checks a profile entered for a car.
    pub fn check(&self) -> Result<(), String> {
        if !(self.tank_litres > 0.0 && self.tank_litres <= 1000.0) {
            return Err(format!(
                "tank_litres {} must be above 0 and at most 1000",
                self.tank_litres
            ));
        }
        if !(self.rated_l_per_100km > 0.0 && self.rated_l_per_100km <= 100.0) {
            return Err(format!(
                "rated_l_per_100km {} must be above 0 and at most 100",
                self.rated_l_per_100km
            ));
        }
        Ok(())
    }
}

/// A card as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// Card number, as printed (digits).
    pub number: String,
    /// Issuer.
    pub issuer: Issuer,
    /// The unit holding it.
    pub unit: UnitId,
    /// The car it is bound to; `None` for a pool card.
    pub vehicle: Option<VehicleId>,
    /// State.
    pub state: CardState,
    /// The date the state took effect (a cancellation's date), when known.
    pub state_date: Option<NaiveDate>,
    /// Why (a cancellation's or suspension's reason).
    pub state_reason: String,
    /// Most one fill may cost, fen.
    pub limit_fill_fen: Option<i64>,
    /// Most a calendar month's fills may cost, fen.
    pub limit_month_fen: Option<i64>,
}

/// Changes to a card; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardChange {
    /// New binding (`Some(None)`: a pool card).
    #[serde(default)]
    pub vehicle: Option<Option<VehicleId>>,
    /// New state.
    #[serde(default)]
    pub state: Option<CardState>,
    /// New state date (`Some(None)`: none).
    #[serde(default)]
    pub state_date: Option<Option<NaiveDate>>,
    /// New reason.
    #[serde(default)]
    pub state_reason: Option<String>,
    /// New per-fill limit in fen (`Some(None)`: none).
    #[serde(default)]
    pub limit_fill_fen: Option<Option<i64>>,
    /// New monthly limit in fen (`Some(None)`: none).
    #[serde(default)]
    pub limit_month_fen: Option<Option<i64>>,
}

impl Card {
    /// The card with `change` applied, or why it cannot be.
    pub fn changed(&self, change: &CardChange) -> Result<Card, String> {
        let mut c = self.clone();
        if let Some(v) = change.vehicle {
            c.vehicle = v;
        }
        if let Some(s) = change.state {
            c.state = s;
        }
        if let Some(d) = change.state_date {
            c.state_date = d;
        }
        if let Some(r) = &change.state_reason {
            c.state_reason = r.trim().to_string();
        }
        if let Some(l) = change.limit_fill_fen {
            c.limit_fill_fen = l;
        }
        if let Some(l) = change.limit_month_fen {
            c.limit_month_fen = l;
        }
        for (name, l) in [
            ("limit_fill_fen", c.limit_fill_fen),
            ("limit_month_fen", c.limit_month_fen),
        ] {
            if l.is_some_and(|l| l <= 0) {
                return Err(format!("{name} must be positive"));
            }
        }
        if c.state == CardState::Cancelled && c.state_reason.is_empty() {
            return Err("a cancelled card needs a state_reason".into());
        }
        Ok(c)
    }
}

/// A problem in one cell (or row) of an imported file: its 1-based line (a CSV line or a sheet's
/// row), the column (its header as written in the file, when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("line {line}{}: {reason}", column.as_ref().map(|c| format!(", column {c}")).unwrap_or_default())]
pub struct RowError {
    /// 1-based line or sheet row.
    pub line: usize,
    /// The column's header, with its 1-based position: `交易时间 (2)`.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl RowError {
    /// A problem with a whole row.
    pub fn row(line: usize, reason: impl Into<String>) -> Self {
        RowError {
            line,
            column: None,
            reason: reason.into(),
        }
    }
}

/// Parses a decimal with up to two places (`45.6`, `-3`, `1,234.50`) into hundredths.
pub fn parse_hundredths(s: &str) -> Result<i64, String> {
    let t: String = s
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '¥' && *c != '￥')
        .collect();
    let bad = || format!("{:?} is not a number with at most two decimals", s.trim());
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.as_str()),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || int.len() > 12
    {
        return Err(bad());
    }
    // More places than two are accepted only when they are zeros (spreadsheets write 45.600000001 as
    // 45.6 anyway; a real third digit is a unit mistake).
    let (keep, rest) = frac.split_at(frac.len().min(2));
    if rest.chars().any(|c| c != '0') {
        // Spreadsheet floats: round to hundredths when the excess is noise.
        let v: f64 = format!("{int}.{frac}").parse().map_err(|_| bad())?;
        let h = (v * 100.0).round();
        if (v * 100.0 - h).abs() > 1e-6 {
            return Err(bad());
        }
        return Ok(if neg { -(h as i64) } else { h as i64 });
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac: i64 = format!("{keep:0<2}").parse().map_err(|_| bad())?;
    let v = int * 100 + frac;
    Ok(if neg { -v } else { v })
}

/// Formats hundredths as a decimal with two places.
pub fn format_hundredths(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", v.abs() / 100, v.abs() % 100)
}

/// Parses a statement's time: `2026-03-05 08:12:00`, `2026/3/5 8:12`, `2026-03-05T08:12:00` (local
/// China time) or RFC 3339 with an offset.
pub fn parse_local_time(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Ok(t);
    }
    let norm = s.replace('/', "-").replace('T', " ");
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&norm, f) {
            return china_offset()
                .from_local_datetime(&dt)
                .single()
                .map(|d| Timestamp::from_datetime(&d))
                .ok_or_else(|| format!("{s:?} is not a time"));
        }
    }
    Err(format!(
        "{s:?} is not a time like 2026-03-05 08:12:00 (China time) or 2026-03-05T00:12:00Z"
    ))
}

/// The instant of a spreadsheet's date serial (days since 1899-12-30, local China time).
pub fn excel_serial_time(serial: f64) -> Option<Timestamp> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let ms = ((serial - 25_569.0) * 86_400_000.0).round() as i64;
    Some(Timestamp(ms - i64::from(crate::CHINA_OFFSET_SECS) * 1000))
}

/// One transaction of a statement, as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FuelTransaction {
    /// Card number.
    pub card: String,
    /// When.
    pub time: Timestamp,
    /// Station name or code, as on the statement.
    pub station: String,
    /// Product.
    pub product: Product,
    /// Litres, in centilitres.
    pub litres_cl: i64,
    /// Unit price, fen per litre.
    pub unit_price_fen: i64,
    /// Amount, fen.
    pub amount_fen: i64,
    /// The plate written on the statement, when the issuer records one.
    pub plate: Option<String>,
}

/// A station as stored (its position in WGS-84).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Station {
    /// The issuer's code for it (or its name when it has none): statements name a station by either.
    pub code: String,
    /// Name.
    pub name: String,
    /// Brand (中国石化, 中国石油, ...).
    pub brand: String,
    /// Position, WGS-84.
    pub position: LonLat,
}

/// The datum of coordinates in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datum {
    /// WGS-84, as GNSS receivers report.
    Wgs84,
    /// GCJ-02, as Chinese web maps and statements publish.
    Gcj02,
}

impl Datum {
    /// Parses `wgs84`/`WGS-84` or `gcj02`/`GCJ-02`.
    pub fn parse(s: &str) -> Option<Datum> {
        match s.trim().to_lowercase().replace(['-', '_'], "").as_str() {
            "wgs84" => Some(Datum::Wgs84),
            "gcj02" => Some(Datum::Gcj02),
            _ => None,
        }
    }

    /// `lon, lat` in this datum as a WGS-84 point.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> LonLat {
        match self {
            Datum::Wgs84 => LonLat::new(lon, lat),
            Datum::Gcj02 => crate::geo::gcj02_to_wgs84(LonLat::new(lon, lat)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_to_hundredths_and_garbage_is_refused() {
        assert_eq!(parse_hundredths("45.6"), Ok(4560));
        assert_eq!(parse_hundredths("1,234.50"), Ok(123_450));
        assert_eq!(parse_hundredths("-3"), Ok(-300));
        assert_eq!(parse_hundredths(".5"), Ok(50));
        assert_eq!(parse_hundredths("45.600000001"), Ok(4560));
        assert!(parse_hundredths("45.678").is_err());
        assert!(parse_hundredths("abc").is_err());
        assert!(parse_hundredths("").is_err());
        assert_eq!(format_hundredths(-4560), "-45.60");
    }

    #[test]
    fn times_are_china_time_unless_they_say_otherwise() {
        let t = parse_local_time("2026-03-05 08:12:00").unwrap();
        assert_eq!(t, Timestamp::parse_rfc3339("2026-03-05T00:12:00Z").unwrap());
        assert_eq!(parse_local_time("2026/3/5 8:12").unwrap(), t);
        assert_eq!(parse_local_time("2026-03-05T00:12:00Z").unwrap(), t);
        assert!(parse_local_time("2026-13-05 08:12").is_err());
        // 2026-03-05 08:12 China time as a spreadsheet serial.
        let serial = 46_086.0 + (8.0 * 60.0 + 12.0) / 1440.0;
        assert_eq!(excel_serial_time(serial), Some(t));
    }

    #[test]
    fn a_card_change_keeps_a_cancellation_explained() {
        let card = Card {
            number: "1".into(),
            issuer: Issuer::Sinopec,
            unit: UnitId(1),
            vehicle: None,
            state: CardState::Active,
            state_date: None,
            state_reason: String::new(),
            limit_fill_fen: None,
            limit_month_fen: None,
        };
        let cancel = CardChange {
            state: Some(CardState::Cancelled),
            ..CardChange::default()
        };
        assert!(card.changed(&cancel).is_err());
        let cancel = CardChange {
            state_reason: Some("人员调离".into()),
            ..cancel
        };
        assert_eq!(card.changed(&cancel).unwrap().state, CardState::Cancelled);
    }
}

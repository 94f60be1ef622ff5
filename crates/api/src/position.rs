//! The one shape of a position on the wire.
//!
//! Every JSON answer that carries a position (a vehicle's latest fix, the stored points of a range, the
//! position a terminal reports when asked) and the live feed's snapshots and deltas write it with
//! [`WirePosition`]: the unit of each quantity is in its field's name, times are RFC 3339 UTC as
//! everywhere in the API, and what a terminal reports only sometimes (odometer, fuel, satellites,
//! signal) is left out when it did not:
//!
//! ```json
//! {"vehicle":7,"phone":"13800000001","fix_time":"2026-11-27T08:00:00Z","receive_time":"2026-11-27T08:00:01Z",
//!  "latitude":30.2,"longitude":115.040001,"recv_time":"2026-11-27T08:00:01Z","lon_deg":115.040001,
//!  "lat_deg":30.2,"altitude_m":30,"speed_kmh":42.0,"course_deg":90,
//!  "acc_on":true,"alarm":0,"alarms":[],"status":3,"status_flags":["acc_on","fixed"],"mileage_km":12345.6,
//!  "source":"live"}
//! ```
//!
//! The `phone` is shown in full to administrators only; every other role gets it masked under the same name
//! (`"139******01"`, [`Identity`]): whoever knows a terminal's phone and id can register as it.
//!
//! **Deprecated**: `recv_time`, `lon_deg` and `lat_deg` are the earlier names of `receive_time`,
//! `longitude` and `latitude`, sent beside them for one release so that clients can move; new clients read
//! the new names.
//!
//! The alarm and status words go as the terminal sent them (`alarm`, `status`) and decoded, the names of
//! the bits set (`alarms`: the alarm bits' names of the model, e.g. `power_lost`; `status_flags`: e.g.
//! `acc_on`, `fixed`, `beidou`).
//!
//! Coordinates are the stored micro-degrees divided by a million, which JSON writes back as the same
//! six decimals; speeds and the odometer are the protocol's tenths divided by ten.
//!
//! One answer is compact instead, for size: the replay view's points are rows ([`ReplayRow`]) whose
//! columns are named once per answer ([`REPLAY_COLUMNS`], the units in the names as here). A month of
//! 10-second points asked for with every point is 259,200 positions: as rows 12.6 MB in 196 ms, as
//! objects 69 MB in 393 ms (web bench `web/replay_month_json_every_point`, see BENCHMARKS.md). The
//! page interpolates over the rows as they come. The coordinates' columns are `longitude` and `latitude`
//! like the objects' fields (they were `lon_deg` and `lat_deg` before: a client that reads the rows by the
//! names in `columns`, as it should, finds the new names there).
//!
//! A stop (of the trips and stops, and of the replay) writes its place the same way ([`WireStop`]).

use serde::ser::{Serialize, SerializeStruct, Serializer};
use tianshu_model::access::{Role, mask_phone, mask_terminal_id};
use tianshu_model::{Phone, Position};
use tianshu_rules::track::Stop;

use crate::text::write_time;

/// Whether a terminal's identity (its phone, its terminal id) is shown in full or masked: in full to the
/// roles that may see it ([`Role::sees_terminal_identity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// As stored.
    Full,
    /// Masked ([`mask_phone`], [`mask_terminal_id`]).
    Masked,
}

impl Identity {
    /// How `role` sees terminals' identities.
    pub const fn for_role(role: Role) -> Self {
        if role.sees_terminal_identity() {
            Identity::Full
        } else {
            Identity::Masked
        }
    }

    /// A phone number as this shows it.
    pub fn phone(self, phone: Phone) -> String {
        match self {
            Identity::Full => phone.to_string(),
            Identity::Masked => mask_phone(&phone.to_string()),
        }
    }

    /// A terminal id as this shows it.
    pub fn terminal_id(self, id: &str) -> String {
        match self {
            Identity::Full => id.to_string(),
            Identity::Masked => mask_terminal_id(id),
        }
    }
}

/// A position as the API sends it, its phone shown as [`Identity`] says; see the module documentation
/// for the shape. A position made `from` one is masked: full only where a handler knows its caller may.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WirePosition(pub Position, pub Identity);

impl From<&Position> for WirePosition {
    fn from(p: &Position) -> Self {
        WirePosition(*p, Identity::Masked)
    }
}

impl From<Position> for WirePosition {
    fn from(p: Position) -> Self {
        WirePosition(p, Identity::Masked)
    }
}

/// Positions as the API sends them, their phones shown as `identity` says.
pub fn wire_positions(points: &[Position], identity: Identity) -> Vec<WirePosition> {
    points.iter().map(|p| WirePosition(*p, identity)).collect()
}

/// RFC 3339, written without a formatter (the live feed and the stored points write many).
fn time_text(t: tianshu_model::Timestamp) -> String {
    let mut s = String::with_capacity(24);
    write_time(&mut s, t);
    s
}

/// The names of the bits set in a word, written as a JSON array without collecting them first.
struct Names<F>(F);

impl<F, I> Serialize for Names<F>
where
    F: Fn() -> I,
    I: Iterator<Item = &'static str>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

impl Serialize for WirePosition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = &self.0;
        let mut o = s.serialize_struct("WirePosition", 22)?;
        o.serialize_field("vehicle", &p.vehicle)?;
        o.serialize_field("phone", &self.1.phone(p.phone))?;
        o.serialize_field("fix_time", &time_text(p.fix_time))?;
        o.serialize_field("receive_time", &time_text(p.recv_time))?;
        o.serialize_field("latitude", &p.lat())?;
        o.serialize_field("longitude", &p.lon())?;
        // Deprecated names of the same values, kept for one release (see the module documentation).
        o.serialize_field("recv_time", &time_text(p.recv_time))?;
        o.serialize_field("lon_deg", &p.lon())?;
        o.serialize_field("lat_deg", &p.lat())?;
        o.serialize_field("altitude_m", &p.altitude_m)?;
        o.serialize_field("speed_kmh", &p.speed_kmh())?;
        o.serialize_field("course_deg", &p.course_deg)?;
        o.serialize_field("acc_on", &p.status.acc_on())?;
        o.serialize_field("alarm", &p.alarm.0)?;
        o.serialize_field("alarms", &Names(|| p.alarm.iter().map(|b| b.name())))?;
        o.serialize_field("status", &p.status.0)?;
        o.serialize_field("status_flags", &Names(|| p.status.names()))?;
        match p.mileage_dkm {
            Some(m) => o.serialize_field("mileage_km", &(f64::from(m) / 10.0))?,
            None => o.skip_field("mileage_km")?,
        }
        match p.fuel_dl {
            Some(f) => o.serialize_field("fuel_l", &(f64::from(f) / 10.0))?,
            None => o.skip_field("fuel_l")?,
        }
        match p.satellites {
            Some(n) => o.serialize_field("satellites", &n)?,
            None => o.skip_field("satellites")?,
        }
        match p.rssi {
            Some(n) => o.serialize_field("rssi", &n)?,
            None => o.skip_field("rssi")?,
        }
        o.serialize_field("source", &p.source)?;
        o.end()
    }
}

/// A stop on the wire: `from`, `to`, `latitude`, `longitude`, `idling`, and the deprecated `lon_deg` and
/// `lat_deg` beside them for one release, as in [`WirePosition`].
#[derive(Debug, Clone, PartialEq)]
pub struct WireStop(pub Stop);

impl Serialize for WireStop {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = &self.0;
        let mut o = s.serialize_struct("WireStop", 7)?;
        o.serialize_field("from", &p.from)?;
        o.serialize_field("to", &p.to)?;
        o.serialize_field("latitude", &p.latitude)?;
        o.serialize_field("longitude", &p.longitude)?;
        o.serialize_field("idling", &p.idling)?;
        o.serialize_field("lon_deg", &p.longitude)?;
        o.serialize_field("lat_deg", &p.latitude)?;
        o.end()
    }
}

/// The columns of a [`ReplayRow`], in order, sent with the rows.
pub const REPLAY_COLUMNS: [&str; 7] = [
    "fix_time_ms",
    "longitude",
    "latitude",
    "speed_kmh",
    "course_deg",
    "acc_on",
    "alarm",
];

/// A position as a row of the replay view: `[fix_time_ms, longitude, latitude, speed_kmh, course_deg,
/// acc_on (1 or 0), alarm]`, as [`REPLAY_COLUMNS`] names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayRow(pub Position);

impl Serialize for ReplayRow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let p = &self.0;
        let mut t = s.serialize_tuple(REPLAY_COLUMNS.len())?;
        t.serialize_element(&p.fix_time.millis())?;
        t.serialize_element(&p.lon())?;
        t.serialize_element(&p.lat())?;
        t.serialize_element(&p.speed_kmh())?;
        t.serialize_element(&p.course_deg)?;
        t.serialize_element(&u8::from(p.status.acc_on()))?;
        t.serialize_element(&p.alarm.0)?;
        t.end()
    }
}

#[cfg(test)]
mod tests {
    use tianshu_model::{AlarmBit, AlarmFlags, Phone, StatusFlags, Timestamp, VehicleId};

    use super::*;

    fn sample() -> Position {
        Position {
            vehicle: VehicleId(7),
            phone: Phone(13_800_000_001),
            fix_time: Timestamp::from_secs(1_795_766_400),
            recv_time: Timestamp::from_millis(1_795_766_401_250),
            lat_e6: -30_200_000,
            lon_e6: 115_040_001,
            altitude_m: -3,
            speed_dkmh: 456,
            course_deg: 359,
            status: StatusFlags(
                StatusFlags::ACC_ON | StatusFlags::FIXED | StatusFlags::SOUTH | StatusFlags::BEIDOU,
            ),
            alarm: AlarmFlags((1 << AlarmBit::PowerLost as u8) | (1 << AlarmBit::GnssAntennaCut as u8)),
            mileage_dkm: Some(123_456),
            ..Default::default()
        }
    }

    #[test]
    fn every_quantity_carries_its_unit_and_exact_value() {
        let j = serde_json::to_value(WirePosition(sample(), Identity::Full)).unwrap_or_default();
        assert_eq!(j["vehicle"], 7);
        assert_eq!(j["phone"], "13800000001");
        assert_eq!(j["fix_time"], "2026-11-27T08:00:00Z");
        assert_eq!(j["receive_time"], "2026-11-27T08:00:01.250Z");
        assert_eq!(j["latitude"].as_f64(), Some(-30.2));
        assert_eq!(j["longitude"].as_f64(), Some(115.040001));
        assert_eq!(
            j["recv_time"], j["receive_time"],
            "the deprecated name, the same value"
        );
        assert_eq!(j["lon_deg"].as_f64(), Some(115.040001));
        assert_eq!(j["lat_deg"].as_f64(), Some(-30.2));
        assert_eq!(j["altitude_m"], -3);
        assert_eq!(j["speed_kmh"].as_f64(), Some(45.6));
        assert_eq!(j["course_deg"], 359);
        assert_eq!(j["acc_on"], true);
        assert_eq!(j["alarm"], 0x120);
        assert_eq!(j["alarms"], serde_json::json!(["gnss_antenna_cut", "power_lost"]));
        assert_eq!(j["status"], 0x80007);
        assert_eq!(
            j["status_flags"],
            serde_json::json!(["acc_on", "fixed", "south", "beidou"])
        );
        assert_eq!(j["mileage_km"].as_f64(), Some(12345.6));
        assert_eq!(j["source"], "live");
        // Not reported: not sent.
        assert!(j.get("fuel_l").is_none() && j.get("satellites").is_none() && j.get("rssi").is_none());
        let text = serde_json::to_string(&WirePosition(sample(), Identity::Full)).unwrap_or_default();
        let masked = serde_json::to_value(WirePosition::from(sample())).unwrap_or_default();
        assert_eq!(
            masked["phone"], "138******01",
            "masked unless the caller may see it"
        );
        assert!(
            text.contains(r#""lon_deg":115.040001,"lat_deg":-30.2,"#),
            "{text}"
        );
    }

    #[test]
    fn a_replay_row_holds_the_named_columns_in_order() {
        let row = serde_json::to_value(ReplayRow(sample())).unwrap_or_default();
        let p = serde_json::to_value(WirePosition(sample(), Identity::Full)).unwrap_or_default();
        let cells = row.as_array().cloned().unwrap_or_default();
        assert_eq!(cells.len(), REPLAY_COLUMNS.len());
        assert_eq!(cells[0], 1_795_766_400_000_i64);
        // Every other column is the field of the same name in the one shape (acc_on as 1 or 0).
        for (name, cell) in REPLAY_COLUMNS.iter().zip(&cells).skip(1) {
            let want = match &p[*name] {
                serde_json::Value::Bool(b) => serde_json::json!(u8::from(*b)),
                v => v.clone(),
            };
            assert_eq!(cell, &want, "{name}");
        }
    }

    #[test]
    fn a_stop_reads_its_place_like_a_position() {
        let p = Position {
            speed_dkmh: 0,
            ..sample()
        };
        let (trips, stops) = tianshu_rules::track::trips_and_stops(&[
            p,
            Position {
                fix_time: Timestamp::from_secs(1_795_766_400 + 600),
                ..p
            },
        ]);
        assert!(trips.is_empty());
        let stop = stops.into_iter().next().map(WireStop);
        let j = serde_json::to_value(&stop).unwrap_or_default();
        let w = serde_json::to_value(WirePosition(p, Identity::Full)).unwrap_or_default();
        for name in ["latitude", "longitude", "lat_deg", "lon_deg"] {
            assert_eq!(j[name], w[name], "{name} in {j}");
        }
        assert_eq!(j["from"], "2026-11-27T08:00:00Z");
        assert_eq!(j["to"], "2026-11-27T08:10:00Z");
        assert_eq!(j["idling"], true, "{j}");
    }
}

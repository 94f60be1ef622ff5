//! The JSON position a terminal or gateway publishes (`protocols/mqtt/position.schema.json`).
//!
//! Validation is strict: unknown members, wrong types, out-of-range values and times that are not RFC 3339
//! are refused with a short reason that becomes a metric label, so a publisher's mistake is visible on a
//! dashboard rather than quietly stored. Values are converted to the protocol's integer units, the same
//! units a 0x0200 frame carries, so a JSON point and a frame point de-duplicate alike.

use serde::Deserialize;
use tianshu_model::{AlarmFlags, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId};

/// Why a JSON payload was refused. The `reason` is a fixed label for metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct JsonRejection {
    /// A fixed label: `not_json`, `bad_field`, `bad_time`, `bad_coordinates`, `out_of_range`.
    pub reason: &'static str,
    /// What exactly, for the log line.
    pub detail: String,
}

fn reject(reason: &'static str, detail: impl Into<String>) -> JsonRejection {
    JsonRejection {
        reason,
        detail: detail.into(),
    }
}

/// The wire shape. Every member documented in the schema; nothing else accepted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    // Borrowed from the payload unless the text has escapes.
    #[serde(borrow)]
    terminal: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
    lat: f64,
    lon: f64,
    speed_kmh: f64,
    course_deg: f64,
    #[serde(default)]
    altitude_m: f64,
    #[serde(default)]
    alarm: u32,
    // Required: defaulting it to 0 would store every point as "not fixed", which the rules ignore.
    status: u32,
    #[serde(default)]
    mileage_km: Option<f64>,
    #[serde(default)]
    fuel_l: Option<f64>,
    #[serde(default)]
    satellites: Option<u8>,
    #[serde(default)]
    rssi: Option<u8>,
}

/// A validated JSON position, before it is bound to a vehicle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsonPosition {
    /// The terminal that reported it.
    pub phone: Phone,
    /// The point; `vehicle` and `recv_time` are filled when it is bound to its terminal's vehicle
    /// ([`tianshu_ingest::uplink::Uplink::from_points`]).
    pub point: Position,
}

/// Scales a non-negative decimal to integer tenths, refusing what does not fit.
fn tenths(name: &str, v: f64, max: f64) -> Result<u64, JsonRejection> {
    if !v.is_finite() || v < 0.0 || v > max {
        return Err(reject("out_of_range", format!("{name} {v} is outside 0..={max}")));
    }
    Ok((v * 10.0).round() as u64)
}

/// Refuses field `name` as `reason` unless `v` is finite and in `range` (`shown` is how the refusal
/// writes the range).
fn within(
    reason: &'static str,
    name: &str,
    v: f64,
    range: impl std::ops::RangeBounds<f64>,
    shown: &str,
) -> Result<(), JsonRejection> {
    if v.is_finite() && range.contains(&v) {
        Ok(())
    } else {
        Err(reject(reason, format!("{name} {v} is outside {shown}")))
    }
}

/// Parses and validates one JSON position.
pub fn parse_position(payload: &[u8]) -> Result<JsonPosition, JsonRejection> {
    let wire: Wire = serde_json::from_slice(payload).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            reject("not_json", e.to_string())
        } else {
            reject("bad_field", e.to_string())
        }
    })?;
    let phone = Phone::parse(&wire.terminal).map_err(|e| reject("bad_field", format!("terminal: {e}")))?;
    let time = chrono::DateTime::parse_from_rfc3339(&wire.time)
        .map_err(|e| reject("bad_time", format!("time {:?}: {e}", wire.time)))?;
    let fix_time = Timestamp::from_datetime(&time);
    within("bad_coordinates", "lat", wire.lat, -90.0..=90.0, "-90..=90")?;
    within("bad_coordinates", "lon", wire.lon, -180.0..=180.0, "-180..=180")?;
    let speed_dkmh = tenths("speed_kmh", wire.speed_kmh, 6553.5)? as u16;
    within(
        "out_of_range",
        "course_deg",
        wire.course_deg,
        0.0..360.0,
        "0..360",
    )?;
    within(
        "out_of_range",
        "altitude_m",
        wire.altitude_m,
        -32768.0..=32767.0,
        "-32768..=32767",
    )?;
    let mileage_dkm = wire
        .mileage_km
        .map(|v| tenths("mileage_km", v, f64::from(u32::MAX) / 10.0))
        .transpose()?;
    let fuel_dl = wire.fuel_l.map(|v| tenths("fuel_l", v, 6553.5)).transpose()?;
    let lat_e6 = (wire.lat * 1e6).round() as i32;
    let lon_e6 = (wire.lon * 1e6).round() as i32;
    // The hemisphere bits of the status word follow the signs, as a terminal would set them.
    let mut status = wire.status & !(StatusFlags::SOUTH | StatusFlags::WEST);
    if lat_e6 < 0 {
        status |= StatusFlags::SOUTH;
    }
    if lon_e6 < 0 {
        status |= StatusFlags::WEST;
    }
    let point = Position {
        vehicle: VehicleId::default(),
        phone,
        fix_time,
        recv_time: Timestamp::default(),
        lat_e6,
        lon_e6,
        altitude_m: wire.altitude_m.round() as i32,
        speed_dkmh,
        course_deg: wire.course_deg.floor() as u16,
        alarm: AlarmFlags(wire.alarm),
        status: StatusFlags(status),
        mileage_dkm: mileage_dkm.map(|v| v as u32),
        fuel_dl: fuel_dl.map(|v| v as u16),
        satellites: wire.satellites,
        rssi: wire.rssi,
        source: PositionSource::Json,
    };
    Ok(JsonPosition { phone, point })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"terminal":"013800138000","time":"2026-11-27T08:00:00Z","lat":30.2,"lon":115.04,
        "speed_kmh":40.5,"course_deg":90,"altitude_m":20,"alarm":0,"status":3}"#;

    #[test]
    fn the_documented_sample_parses() {
        let p = parse_position(SAMPLE.as_bytes()).unwrap();
        assert_eq!(p.phone, Phone(13_800_138_000));
        assert_eq!(p.point.lat_e6, 30_200_000);
        assert_eq!(p.point.lon_e6, 115_040_000);
        assert_eq!(p.point.speed_dkmh, 405);
        assert_eq!(p.point.course_deg, 90);
        assert_eq!(p.point.altitude_m, 20);
        assert_eq!(p.point.status, StatusFlags(3));
        assert_eq!(
            p.point.fix_time,
            Timestamp::parse_rfc3339("2026-11-27T08:00:00Z").unwrap()
        );
        assert_eq!(p.point.source, PositionSource::Json);
    }

    #[test]
    fn optional_items_convert_to_protocol_units() {
        let s = r#"{"terminal":"1","time":"2026-11-27T16:00:00+08:00","lat":-1.5,"lon":-2.25,"speed_kmh":0,
            "course_deg":359.9,"status":2,"mileage_km":12345.6,"fuel_l":40.2,"satellites":12,"rssi":25}"#;
        let p = parse_position(s.as_bytes()).unwrap().point;
        assert_eq!(p.mileage_dkm, Some(123_456));
        assert_eq!(p.fuel_dl, Some(402));
        assert_eq!(p.satellites, Some(12));
        assert_eq!(p.course_deg, 359);
        assert_eq!(
            p.status.0 & (StatusFlags::SOUTH | StatusFlags::WEST),
            StatusFlags::SOUTH | StatusFlags::WEST
        );
        assert_eq!(
            p.fix_time,
            Timestamp::parse_rfc3339("2026-11-27T08:00:00Z").unwrap()
        );
    }

    #[test]
    fn bad_payloads_have_reasons() {
        let cases: &[(&str, &str)] = &[
            ("not json", "not_json"),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00Z","lat":30,"lon":1,"speed_kmh":1,"course_deg":1}"#,
                "bad_field",
            ),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00Z","lat":"30","lon":1,"speed_kmh":1,"course_deg":1,"status":2}"#,
                "bad_field",
            ),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00Z","lat":30,"lon":1,"speed_kmh":1,"course_deg":1,"x":1}"#,
                "bad_field",
            ),
            (
                r#"{"terminal":"1","time":"yesterday","lat":30,"lon":1,"speed_kmh":1,"course_deg":1,"status":2}"#,
                "bad_time",
            ),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00","lat":30,"lon":1,"speed_kmh":1,"course_deg":1,"status":2}"#,
                "bad_time",
            ),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00Z","lat":91,"lon":1,"speed_kmh":1,"course_deg":1,"status":2}"#,
                "bad_coordinates",
            ),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00Z","lat":30,"lon":181,"speed_kmh":1,"course_deg":1,"status":2}"#,
                "bad_coordinates",
            ),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00Z","lat":30,"lon":1,"speed_kmh":-1,"course_deg":1,"status":2}"#,
                "out_of_range",
            ),
            (
                r#"{"terminal":"1","time":"2026-11-27T08:00:00Z","lat":30,"lon":1,"speed_kmh":1,"course_deg":360,"status":2}"#,
                "out_of_range",
            ),
            (
                r#"{"terminal":"x1","time":"2026-11-27T08:00:00Z","lat":30,"lon":1,"speed_kmh":1,"course_deg":1,"status":2}"#,
                "bad_field",
            ),
            (
                r#"{"time":"2026-11-27T08:00:00Z","lat":30,"lon":1,"speed_kmh":1,"course_deg":1,"status":2}"#,
                "bad_field",
            ),
        ];
        for (payload, reason) in cases {
            let e = parse_position(payload.as_bytes()).unwrap_err();
            assert_eq!(e.reason, *reason, "{payload}: {e}");
        }
    }
}

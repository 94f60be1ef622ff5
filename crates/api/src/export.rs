//! Track exports: GeoJSON (RFC 7946), GPX 1.1, KML 2.2 and CSV.
//!
//! Written straight into one buffer with exact decimal formatting of the stored micro-degrees (no
//! float round trip), because a month of 10-second points is a quarter of a million of them.

use std::fmt::Write as _;

use tianshu_model::{Position, Timestamp, Vehicle};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 7946 FeatureCollection with one LineString; per-point times and speeds as properties.
    Geojson,
    /// GPX 1.1 track.
    Gpx,
    /// KML 2.2 LineString placemark.
    Kml,
    /// CSV, one row per point.
    Csv,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [Format::Geojson, Format::Gpx, Format::Kml, Format::Csv];

    /// The lowercase name (`geojson`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Geojson => "geojson",
            Format::Gpx => "gpx",
            Format::Kml => "kml",
            Format::Csv => "csv",
        }
    }

    /// The registered media type.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Geojson => "application/geo+json",
            Format::Gpx => "application/gpx+xml",
            Format::Kml => "application/vnd.google-earth.kml+xml",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file extension.
    pub const fn extension(self) -> &'static str {
        self.as_str()
    }
}

/// Micro-degrees as an exact decimal (`115.040000`, `-0.000001`).
pub fn write_e6(out: &mut String, v: i32) {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:06}", a / 1_000_000, a % 1_000_000);
}

/// 0.1 km/h as a decimal.
fn write_d(out: &mut String, v: u32) {
    let _ = write!(out, "{}.{}", v / 10, v % 10);
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders `points` of `vehicle` in `format`.
pub fn render(
    format: Format,
    vehicle: &Vehicle,
    from: Timestamp,
    to: Timestamp,
    points: &[Position],
) -> String {
    match format {
        Format::Geojson => geojson(vehicle, from, to, points),
        Format::Gpx => gpx(vehicle, points),
        Format::Kml => kml(vehicle, from, to, points),
        Format::Csv => csv(vehicle, points),
    }
}

fn geojson(vehicle: &Vehicle, from: Timestamp, to: Timestamp, points: &[Position]) -> String {
    let mut o = String::with_capacity(64 * points.len() + 512);
    let props = serde_json::json!({
        "vehicle": vehicle.id,
        "plate": vehicle.plate,
        "from": from,
        "to": to,
        "points": points.len(),
    });
    let _ = write!(
        o,
        "{{\"type\":\"FeatureCollection\",\"features\":[{{\"type\":\"Feature\",\"properties\":"
    );
    // Drop the closing brace to append the per-point arrays.
    let p = props.to_string();
    o.push_str(&p[..p.len() - 1]);
    o.push_str(",\"times\":[");
    for (i, pt) in points.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(o, "\"{}\"", pt.fix_time);
    }
    o.push_str("],\"speeds_kmh\":[");
    for (i, pt) in points.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        write_d(&mut o, u32::from(pt.speed_dkmh));
    }
    o.push_str("]},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[");
    for (i, pt) in points.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push('[');
        write_e6(&mut o, pt.lon_e6);
        o.push(',');
        write_e6(&mut o, pt.lat_e6);
        o.push(']');
    }
    o.push_str("]}}]}");
    o
}

fn gpx(vehicle: &Vehicle, points: &[Position]) -> String {
    let mut o = String::with_capacity(110 * points.len() + 512);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.push_str("<gpx version=\"1.1\" creator=\"Tianshu\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n");
    let _ = writeln!(o, "<trk><name>{}</name><trkseg>", xml_escape(&vehicle.plate));
    for pt in points {
        o.push_str("<trkpt lat=\"");
        write_e6(&mut o, pt.lat_e6);
        o.push_str("\" lon=\"");
        write_e6(&mut o, pt.lon_e6);
        let _ = writeln!(
            o,
            "\"><ele>{}</ele><time>{}</time></trkpt>",
            pt.altitude_m, pt.fix_time
        );
    }
    o.push_str("</trkseg></trk>\n</gpx>\n");
    o
}

fn kml(vehicle: &Vehicle, from: Timestamp, to: Timestamp, points: &[Position]) -> String {
    let mut o = String::with_capacity(40 * points.len() + 512);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.push_str("<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document>\n");
    let _ = writeln!(
        o,
        "<Placemark><name>{}</name><TimeSpan><begin>{from}</begin><end>{to}</end></TimeSpan>",
        xml_escape(&vehicle.plate)
    );
    o.push_str("<LineString><tessellate>1</tessellate><coordinates>\n");
    for pt in points {
        write_e6(&mut o, pt.lon_e6);
        o.push(',');
        write_e6(&mut o, pt.lat_e6);
        let _ = writeln!(o, ",{}", pt.altitude_m);
    }
    o.push_str("</coordinates></LineString></Placemark>\n</Document></kml>\n");
    o
}

fn csv(vehicle: &Vehicle, points: &[Position]) -> String {
    let mut o = String::with_capacity(100 * points.len() + 128);
    o.push_str("plate,fix_time,lon,lat,speed_kmh,course_deg,altitude_m,acc_on,alarm,status,mileage_km\n");
    let plate = csv_field(&vehicle.plate);
    for pt in points {
        let _ = write!(o, "{plate},{},", pt.fix_time);
        write_e6(&mut o, pt.lon_e6);
        o.push(',');
        write_e6(&mut o, pt.lat_e6);
        o.push(',');
        write_d(&mut o, u32::from(pt.speed_dkmh));
        let _ = write!(
            o,
            ",{},{},{},{},{},",
            pt.course_deg,
            pt.altitude_m,
            u8::from(pt.status.acc_on()),
            pt.alarm.0,
            pt.status.0
        );
        if let Some(m) = pt.mileage_dkm {
            write_d(&mut o, m);
        }
        o.push('\n');
    }
    o
}

#[cfg(test)]
mod tests {
    use tianshu_model::{StatusFlags, UnitId, VehicleClass, VehicleId};

    use super::*;

    fn sample() -> (Vehicle, Vec<Position>) {
        let v = Vehicle {
            id: VehicleId(7),
            plate: "鄂B<1>".into(),
            unit: UnitId(1),
            class: VehicleClass::General,
        };
        let p = |s: i64, lon: i32, lat: i32| Position {
            vehicle: VehicleId(7),
            fix_time: Timestamp::from_secs(1_800_000_000 + s),
            lon_e6: lon,
            lat_e6: lat,
            speed_dkmh: 456,
            status: StatusFlags(StatusFlags::ACC_ON),
            ..Default::default()
        };
        (v, vec![p(0, 115_040_001, 30_200_000), p(10, -1, -30_000_500)])
    }

    #[test]
    fn decimals_are_exact() {
        let mut s = String::new();
        write_e6(&mut s, -1);
        s.push(' ');
        write_e6(&mut s, 115_040_001);
        assert_eq!(s, "-0.000001 115.040001");
    }

    #[test]
    fn geojson_is_rfc7946_lon_lat() {
        let (v, pts) = sample();
        let text = render(Format::Geojson, &v, pts[0].fix_time, pts[1].fix_time, &pts);
        let j: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(j["type"], "FeatureCollection");
        let f = &j["features"][0];
        assert_eq!(f["geometry"]["type"], "LineString");
        assert_eq!(f["geometry"]["coordinates"][0][0].as_f64(), Some(115.040001));
        assert_eq!(f["geometry"]["coordinates"][1][1].as_f64(), Some(-30.0005));
        assert_eq!(f["properties"]["plate"], "鄂B<1>");
        assert_eq!(f["properties"]["times"][1], "2027-01-15T08:00:10Z");
        assert_eq!(f["properties"]["speeds_kmh"][0].as_f64(), Some(45.6));
    }

    #[test]
    fn xml_formats_escape_the_plate() {
        let (v, pts) = sample();
        let gpx = render(Format::Gpx, &v, pts[0].fix_time, pts[1].fix_time, &pts);
        assert!(gpx.contains("<name>鄂B&lt;1&gt;</name>"));
        assert!(gpx.contains("<trkpt lat=\"30.200000\" lon=\"115.040001\">"));
        let kml = render(Format::Kml, &v, pts[0].fix_time, pts[1].fix_time, &pts);
        assert!(kml.contains("115.040001,30.200000,0\n"));
    }

    #[test]
    fn csv_has_one_row_per_point() {
        let (v, pts) = sample();
        let csv = render(Format::Csv, &v, pts[0].fix_time, pts[1].fix_time, &pts);
        let lines: Vec<_> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "鄂B<1>,2027-01-15T08:00:00Z,115.040001,30.200000,45.6,0,0,1,0,1,"
        );
    }
}

//! Track exports: `GET /api/vehicles/{id}/track?format=geojson|gpx|kml|csv&from=&to=`, in the
//! formats' own standard shapes (GeoJSON RFC 7946, GPX 1.1, KML 2.2, CSV), not the API's position.
//!
//! Written straight into one buffer while the rows stream from the store, with exact decimal
//! formatting of the stored micro-degrees (no float round trip), because a month of 10-second points
//! is a quarter of a million of them. Nothing leaves before the export's audit record is written.

use std::fmt::Write as _;

use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::Deserialize;
use tianshu_model::{Position, Timestamp, Vehicle, VehicleId};

use crate::audit;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{Path, Query};
use crate::resources::tracks::{count_served, parse_range};
use crate::scope::Scoped;
use crate::text::{csv_field, push_i64, push_u64, write_e6, write_tenths, write_time, xml_escape};

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

/// `lon,lat` in exact decimals: the order GeoJSON, KML and the CSV columns share.
fn write_lon_lat(o: &mut String, pt: &Position) {
    write_e6(o, pt.lon_e6);
    o.push(',');
    write_e6(o, pt.lat_e6);
}

/// Renders a track point by point as it streams from the store, so that formatting overlaps the
/// database read; [`TrackWriter::finish`] returns the document.
pub struct TrackWriter {
    format: Format,
    vehicle: Vehicle,
    from: Timestamp,
    to: Timestamp,
    /// Points pushed so far.
    points: usize,
    /// The document so far (GeoJSON: the coordinates).
    main: String,
    /// GeoJSON only: the per-point times.
    times: String,
    /// GeoJSON only: the per-point speeds.
    speeds: String,
}

impl TrackWriter {
    /// A writer for `vehicle`'s track over `from..to`.
    pub fn new(format: Format, vehicle: &Vehicle, from: Timestamp, to: Timestamp) -> Self {
        let mut main = String::with_capacity(1 << 16);
        match format {
            Format::Geojson => {}
            Format::Gpx => {
                main.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                main.push_str(
                    "<gpx version=\"1.1\" creator=\"Tianshu\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n",
                );
                let _ = writeln!(main, "<trk><name>{}</name><trkseg>", xml_escape(&vehicle.plate));
            }
            Format::Kml => {
                main.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                main.push_str("<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document>\n");
                let _ = writeln!(
                    main,
                    "<Placemark><name>{}</name><TimeSpan><begin>{from}</begin><end>{to}</end></TimeSpan>",
                    xml_escape(&vehicle.plate)
                );
                main.push_str("<LineString><tessellate>1</tessellate><coordinates>\n");
            }
            Format::Csv => {
                main.push_str(
                    "plate,fix_time,lon,lat,speed_kmh,course_deg,altitude_m,acc_on,alarm,status,mileage_km\n",
                );
            }
        }
        TrackWriter {
            format,
            vehicle: vehicle.clone(),
            from,
            to,
            points: 0,
            main,
            times: String::new(),
            speeds: String::new(),
        }
    }

    /// Points written so far.
    pub fn len(&self) -> usize {
        self.points
    }

    /// Whether no point was written.
    pub fn is_empty(&self) -> bool {
        self.points == 0
    }

    /// Appends one point (fix-time order).
    pub fn push(&mut self, pt: &Position) {
        let first = self.points == 0;
        self.points += 1;
        let o = &mut self.main;
        match self.format {
            Format::Geojson => {
                if !first {
                    o.push(',');
                    self.times.push(',');
                    self.speeds.push(',');
                }
                o.push('[');
                write_lon_lat(o, pt);
                o.push(']');
                self.times.push('"');
                write_time(&mut self.times, pt.fix_time);
                self.times.push('"');
                write_tenths(&mut self.speeds, u32::from(pt.speed_dkmh));
            }
            Format::Gpx => {
                o.push_str("<trkpt lat=\"");
                write_e6(o, pt.lat_e6);
                o.push_str("\" lon=\"");
                write_e6(o, pt.lon_e6);
                o.push_str("\"><ele>");
                push_i64(o, i64::from(pt.altitude_m));
                o.push_str("</ele><time>");
                write_time(o, pt.fix_time);
                o.push_str("</time></trkpt>\n");
            }
            Format::Kml => {
                write_lon_lat(o, pt);
                o.push(',');
                push_i64(o, i64::from(pt.altitude_m));
                o.push('\n');
            }
            Format::Csv => {
                o.push_str(&csv_field(&self.vehicle.plate));
                o.push(',');
                write_time(o, pt.fix_time);
                o.push(',');
                write_lon_lat(o, pt);
                o.push(',');
                write_tenths(o, u32::from(pt.speed_dkmh));
                o.push(',');
                push_u64(o, u64::from(pt.course_deg));
                o.push(',');
                push_i64(o, i64::from(pt.altitude_m));
                o.push(',');
                o.push(if pt.status.acc_on() { '1' } else { '0' });
                o.push(',');
                push_u64(o, u64::from(pt.alarm.0));
                o.push(',');
                push_u64(o, u64::from(pt.status.0));
                o.push(',');
                if let Some(m) = pt.mileage_dkm {
                    write_tenths(o, m);
                }
                o.push('\n');
            }
        }
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        match self.format {
            Format::Geojson => {
                let props = serde_json::json!({
                    "vehicle": self.vehicle.id,
                    "plate": self.vehicle.plate,
                    "from": self.from,
                    "to": self.to,
                    "points": self.points,
                });
                let p = props.to_string();
                let mut o =
                    String::with_capacity(self.main.len() + self.times.len() + self.speeds.len() + 512);
                o.push_str(
                    "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":",
                );
                // Drop the closing brace to append the per-point arrays.
                o.push_str(&p[..p.len() - 1]);
                o.push_str(",\"times\":[");
                o.push_str(&self.times);
                o.push_str("],\"speeds_kmh\":[");
                o.push_str(&self.speeds);
                o.push_str("]},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[");
                o.push_str(&self.main);
                o.push_str("]}}]}");
                o
            }
            Format::Gpx => {
                self.main.push_str("</trkseg></trk>\n</gpx>\n");
                self.main
            }
            Format::Kml => {
                self.main
                    .push_str("</coordinates></LineString></Placemark>\n</Document></kml>\n");
                self.main
            }
            Format::Csv => self.main,
        }
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
    let mut w = TrackWriter::new(format, vehicle, from, to);
    for p in points {
        w.push(p);
    }
    w.finish()
}

/// `GET /api/vehicles/{id}/track` query.
#[derive(Debug, Deserialize)]
pub struct TrackQuery {
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
    /// `geojson` (default), `gpx`, `kml` or `csv`.
    #[serde(default)]
    pub format: Option<Format>,
}

/// `GET /api/vehicles/{id}/track?from=&to=&format=`: a full-detail export, audited.
pub async fn track(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<TrackQuery>,
) -> ApiResult<Response> {
    let (from, to) = parse_range(&state, &q.from, &q.to)?;
    let format = q.format.unwrap_or(Format::Geojson);
    let scoped = Scoped::new(&state, &who).await?;
    let v = scoped.vehicle(VehicleId(id)).await?;
    // Format while the rows stream in; nothing leaves before the audit record is written.
    let mut writer = TrackWriter::new(format, &v, from, to);
    let mut rows = scoped.track(v.id, from, to).await?;
    while let Some(p) = rows.try_next().await? {
        writer.push(&p);
    }
    let action = format!("export.{}", format.as_str());
    let entry = audit::track_look(&who, client, action, v.id, (from, to), writer.len());
    audit::record(&state, entry).await?;
    count_served(format.as_str());
    let mut resp = writer.finish().into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let disposition = format!(
        "attachment; filename=\"track-{id}-{}.{}\"",
        from.secs(),
        format.extension()
    );
    if let Ok(h) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(CONTENT_DISPOSITION, h);
    }
    Ok(resp)
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

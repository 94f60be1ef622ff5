//! Track exports: `GET /api/vehicles/{id}/track?format=geojson|gpx|kml|csv&from=&to=`, in the
//! formats' own standard shapes (GeoJSON RFC 7946, GPX 1.1, KML 2.2, CSV), not the API's position.
//!
//! Streamed page by page as the client takes it ([`crate::download`]), with exact decimal formatting of
//! the stored micro-degrees (no float round trip), because a month at 1 Hz is 2.6 million points.
//! Nothing leaves before the export's audit record is written.

use std::fmt::Write as _;

use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tianshu_model::{Position, Timestamp, Vehicle, VehicleId};

use crate::auth::Caller;
use crate::download::{self, Document, render_all};
use crate::error::ApiResult;
use crate::extract::{Path, Query};
use crate::resources::tracks::{count_served, parse_range, start_download};
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

/// A track export as a streamed [`Document`]: GPX, KML and CSV in one read of the track; GeoJSON in
/// three (its per-point times and speeds come before the coordinates, in the shape it always had).
pub struct Export {
    format: Format,
    vehicle: Vehicle,
    from: Timestamp,
    to: Timestamp,
    /// The points announced (GeoJSON states it before them).
    count: u64,
    /// The plate as a CSV field, escaped once for every row.
    csv_plate: String,
}

impl Export {
    /// An export of `vehicle`'s `count` points over `from..to`.
    pub fn new(format: Format, vehicle: &Vehicle, from: Timestamp, to: Timestamp, count: u64) -> Self {
        Export {
            format,
            vehicle: vehicle.clone(),
            from,
            to,
            count,
            csv_plate: csv_field(&vehicle.plate),
        }
    }

    /// The GeoJSON head: the feature's properties up to its per-point times.
    fn geojson_head(&self, o: &mut String) {
        let props = serde_json::json!({
            "vehicle": self.vehicle.id,
            "plate": self.vehicle.plate,
            "from": self.from,
            "to": self.to,
            "points": self.count,
        });
        let p = props.to_string();
        o.push_str("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":");
        // Drop the closing brace to append the per-point arrays.
        o.push_str(&p[..p.len() - 1]);
        o.push_str(",\"times\":[");
    }
}

impl Document for Export {
    fn passes(&self) -> usize {
        match self.format {
            Format::Geojson => 3,
            Format::Gpx | Format::Kml | Format::Csv => 1,
        }
    }

    fn open(&mut self, pass: usize, main: &mut String) {
        match (self.format, pass) {
            (Format::Geojson, 0) => self.geojson_head(main),
            (Format::Geojson, 1) => main.push_str("],\"speeds_kmh\":["),
            (Format::Geojson, _) => {
                main.push_str("]},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[")
            }
            (Format::Gpx, _) => {
                main.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                main.push_str(
                    "<gpx version=\"1.1\" creator=\"Tianshu\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n",
                );
                let _ = writeln!(
                    main,
                    "<trk><name>{}</name><trkseg>",
                    xml_escape(&self.vehicle.plate)
                );
            }
            (Format::Kml, _) => {
                main.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                main.push_str("<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document>\n");
                let _ = writeln!(
                    main,
                    "<Placemark><name>{}</name><TimeSpan><begin>{}</begin><end>{}</end></TimeSpan>",
                    xml_escape(&self.vehicle.plate),
                    self.from,
                    self.to
                );
                main.push_str("<LineString><tessellate>1</tessellate><coordinates>\n");
            }
            (Format::Csv, _) => {
                main.push_str(
                    "plate,fix_time,lon,lat,speed_kmh,course_deg,altitude_m,acc_on,alarm,status,mileage_km\n",
                );
            }
        }
    }

    fn point(&mut self, pass: usize, index: u64, pt: &Position, o: &mut String) {
        match self.format {
            Format::Geojson => {
                if index > 0 {
                    o.push(',');
                }
                match pass {
                    0 => {
                        o.push('"');
                        write_time(o, pt.fix_time);
                        o.push('"');
                    }
                    1 => write_tenths(o, u32::from(pt.speed_dkmh)),
                    _ => {
                        o.push('[');
                        write_lon_lat(o, pt);
                        o.push(']');
                    }
                }
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
            Format::Csv => csv_row(o, &self.csv_plate, pt),
        }
    }

    fn close(&mut self, o: &mut String) {
        match self.format {
            Format::Geojson => o.push_str("]}}]}"),
            Format::Gpx => o.push_str("</trkseg></trk>\n</gpx>\n"),
            Format::Kml => o.push_str("</coordinates></LineString></Placemark>\n</Document></kml>\n"),
            Format::Csv => {}
        }
    }
}

/// One CSV row; `plate` is already a CSV field.
fn csv_row(o: &mut String, plate: &str, pt: &Position) {
    o.push_str(plate);
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

/// Renders `points` of `vehicle` in `format`, whole: what the download of the same points streams.
pub fn render(
    format: Format,
    vehicle: &Vehicle,
    from: Timestamp,
    to: Timestamp,
    points: &[Position],
) -> String {
    render_all(
        Export::new(format, vehicle, from, to, points.len() as u64),
        points,
    )
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

/// `GET /api/vehicles/{id}/track?from=&to=&format=`: a full-detail export, audited, streamed.
pub async fn track(
    Caller { state, who, client }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<TrackQuery>,
) -> ApiResult<Response> {
    let (from, to) = parse_range(&state, &q.from, &q.to)?;
    let format = q.format.unwrap_or(Format::Geojson);
    let scoped = Scoped::new(&state, &who).await?;
    let v = scoped.vehicle(VehicleId(id)).await?;
    let action = format!("export.{}", format.as_str());
    let (range, permit) = start_download(&state, &scoped, client, &action, &v, (from, to)).await?;
    count_served(format.as_str());
    let doc = Export::new(format, &v, from, to, range.count);
    let mut resp = download::body(&state, range, &action, doc, permit).into_response();
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
            marking: None,
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

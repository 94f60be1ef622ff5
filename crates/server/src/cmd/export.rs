//! `tianshu export`: one vehicle's track between two instants, to stdout, in time order.
//!
//! CSV (one row per point, `fix_time` first, UTC ISO-8601), GeoJSON (a FeatureCollection of Point
//! features, `[lon, lat]`) or GPX 1.1 (one track segment). Points are written as they stream from the
//! store, so a month of points never sits in memory; `--simplify-m` instead reads the track and reduces
//! it with the rules' simplification, keeping every stop and every alarm point.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use futures::{StreamExt, TryStreamExt};
use tianshu_api::text::{csv_field, xml_escape};
use tianshu_model::{Position, PositionSource, Timestamp};
use tianshu_rules::track::simplify_track;

use super::TrackArgs;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// A GeoJSON FeatureCollection of points.
    Geojson,
    /// GPX 1.1 with one track.
    Gpx,
}

/// Arguments of `tianshu export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The store, the vehicle and the range.
    #[command(flatten)]
    pub track: TrackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    /// Simplify the track to within this many metres (stops and alarm points are always kept).
    #[arg(long)]
    pub simplify_m: Option<f64>,
}

/// Runs `tianshu export`.
pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let (from, to) = args.track.range()?;
    if args.simplify_m.is_some_and(|m| !(m.is_finite() && m >= 0.0)) {
        bail!("--simplify-m must be a non-negative number of metres");
    }
    super::block_on(export(args, from, to))
}

async fn export(args: ExportArgs, from: Timestamp, to: Timestamp) -> anyhow::Result<ExitCode> {
    let TrackArgs { store, plate, .. } = &args.track;
    let store = store.open().await?;
    let Some(vehicle) = store.vehicle_by_plate(plate).await? else {
        bail!("no vehicle with plate {plate} in the registry");
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut writer = TrackWriter::new(args.format, plate);
    let written = async {
        writer.begin(&mut out)?;
        match args.simplify_m {
            Some(tolerance_m) => {
                let track: Vec<Position> = store.track(vehicle.id, from, to).await?.try_collect().await?;
                for p in simplify_track(&track, tolerance_m) {
                    writer.point(&mut out, &p)?;
                }
            }
            None => {
                let mut track = store.track(vehicle.id, from, to).await?;
                while let Some(p) = track.next().await {
                    writer.point(&mut out, &p?)?;
                }
            }
        }
        writer.end(&mut out)?;
        out.flush()?;
        anyhow::Ok(())
    }
    .await;
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The reader went away (`| head`): not an error of ours.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}

/// Writes points one at a time in one format.
struct TrackWriter {
    format: ExportFormat,
    plate: String,
    written: u64,
}

fn source_name(s: PositionSource) -> &'static str {
    match s {
        PositionSource::Live => "live",
        PositionSource::Backfill => "backfill",
        PositionSource::Json => "json",
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl TrackWriter {
    fn new(format: ExportFormat, plate: &str) -> Self {
        TrackWriter {
            format,
            plate: plate.to_string(),
            written: 0,
        }
    }

    fn begin(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        match self.format {
            ExportFormat::Csv => writeln!(
                out,
                "fix_time,recv_time,plate,phone,lat,lon,altitude_m,speed_kmh,course_deg,alarm,status,mileage_km,\
                 fuel_l,satellites,rssi,source"
            ),
            ExportFormat::Geojson => write!(out, "{{\"type\":\"FeatureCollection\",\"features\":["),
            ExportFormat::Gpx => write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"tianshu\" \
                 xmlns=\"http://www.topografix.com/GPX/1/1\">\n<trk><name>{}</name><trkseg>\n",
                xml_escape(&self.plate)
            ),
        }
    }

    fn point(&mut self, out: &mut impl Write, p: &Position) -> std::io::Result<()> {
        match self.format {
            ExportFormat::Csv => writeln!(
                out,
                "{},{},{},{},{:.6},{:.6},{},{:.1},{},0x{:08x},0x{:08x},{},{},{},{},{}",
                p.fix_time.to_rfc3339(),
                p.recv_time.to_rfc3339(),
                csv_field(&self.plate),
                p.phone,
                p.lat(),
                p.lon(),
                p.altitude_m,
                p.speed_kmh(),
                p.course_deg,
                p.alarm.0,
                p.status.0,
                opt(p.mileage_dkm.map(|d| f64::from(d) / 10.0)),
                opt(p.fuel_dl.map(|d| f64::from(d) / 10.0)),
                opt(p.satellites),
                opt(p.rssi),
                source_name(p.source),
            )?,
            ExportFormat::Geojson => {
                let alarms: Vec<&str> = p.alarm.iter().map(|b| b.name()).collect();
                let feature = serde_json::json!({
                    "type": "Feature",
                    "geometry": { "type": "Point", "coordinates": [p.lon(), p.lat()] },
                    "properties": {
                        "fix_time": p.fix_time.to_rfc3339(),
                        "recv_time": p.recv_time.to_rfc3339(),
                        "plate": self.plate,
                        "speed_kmh": p.speed_kmh(),
                        "course_deg": p.course_deg,
                        "altitude_m": p.altitude_m,
                        "alarms": alarms,
                        "alarm": p.alarm.0,
                        "status": p.status.0,
                        "source": source_name(p.source),
                    },
                });
                if self.written > 0 {
                    write!(out, ",")?;
                }
                write!(out, "\n{feature}")?;
            }
            ExportFormat::Gpx => writeln!(
                out,
                "<trkpt lat=\"{:.6}\" lon=\"{:.6}\"><ele>{}</ele><time>{}</time></trkpt>",
                p.lat(),
                p.lon(),
                p.altitude_m,
                p.fix_time.to_rfc3339()
            )?,
        }
        self.written += 1;
        Ok(())
    }

    fn end(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        match self.format {
            ExportFormat::Csv => Ok(()),
            ExportFormat::Geojson => writeln!(out, "\n]}}"),
            ExportFormat::Gpx => writeln!(out, "</trkseg></trk>\n</gpx>"),
        }
    }
}

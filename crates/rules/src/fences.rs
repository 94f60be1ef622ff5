//! Geofences as the rules see them, and their GeoJSON import format.
//!
//! A file is a GeoJSON FeatureCollection (WGS-84, `[lon, lat]`); each feature is a Polygon or
//! MultiPolygon whose `properties` carry `name` (required), `kind` (`region`, `depot`, `prohibited`,
//! `speed_zone`), `unit` (the unit path of a depot), `category` (of a prohibited place) and
//! `speed_limit_kmh` (of a speed zone). Parsing validates everything, including that each shape can be
//! indexed, and names the feature and its line when something is wrong; an import is all or nothing.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tianshu_model::reference::StoredFence;
use tianshu_model::{LonLat, Timestamp};

use crate::geo::PolygonIndex;

/// What a fence means to the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceKind {
    /// The permitted region (the city's boundary): leaving it is `region_exit`.
    Region,
    /// A unit's parking depot: where its cars spend the night.
    Depot,
    /// A prohibited place (entertainment venue, scenic spot, club, ...).
    Prohibited,
    /// A zone with its own speed limit.
    SpeedZone,
}

impl FenceKind {
    /// The id used in files and the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            FenceKind::Region => "region",
            FenceKind::Depot => "depot",
            FenceKind::Prohibited => "prohibited",
            FenceKind::SpeedZone => "speed_zone",
        }
    }

    /// Parses the id used in files and the store.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "region" => Some(FenceKind::Region),
            "depot" => Some(FenceKind::Depot),
            "prohibited" => Some(FenceKind::Prohibited),
            "speed_zone" => Some(FenceKind::SpeedZone),
            _ => None,
        }
    }
}

/// One geofence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geofence {
    /// Name, unique per kind (re-importing the same kind and name replaces the fence).
    pub name: String,
    /// What it means.
    pub kind: FenceKind,
    /// Unit path (`黄石市/市委办公室`) of a depot.
    pub unit: Option<String>,
    /// Category of a prohibited place (`entertainment`, `scenic`, `club`, `other`, ...).
    pub category: Option<String>,
    /// Speed limit of a speed zone, km/h.
    pub speed_limit_kmh: Option<f64>,
    /// Polygons, each a list of rings (outer first, then holes), each a list of points (`[lon, lat]`
    /// positions in JSON).
    #[serde(with = "crate::geo::geojson::polygons")]
    pub polygons: Vec<Vec<Vec<LonLat>>>,
}

impl Geofence {
    /// The fence as stored, written at `now` (the one mapping of a fence to its columns).
    pub fn stored(&self, now: Timestamp) -> Result<StoredFence, String> {
        Ok(StoredFence {
            kind: self.kind.as_str().to_string(),
            name: self.name.clone(),
            body: serde_json::to_value(self).map_err(|e| format!("JSON: {e}"))?,
            updated: now,
        })
    }
}

/// Why a GeoJSON file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}{reason}", feature.map(|f| format!("feature {f}: ")).unwrap_or_default())]
pub struct FenceError {
    /// 1-based line where the problem (or its feature) starts.
    pub line: usize,
    /// 1-based index of the feature, when the problem is inside one.
    pub feature: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

#[derive(Deserialize)]
struct RawCollection<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    features: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawFeature {
    #[serde(rename = "type")]
    kind: String,
    geometry: Option<RawGeometry>,
    properties: Option<RawProperties>,
}

#[derive(Deserialize)]
struct RawGeometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProperties {
    name: Option<String>,
    kind: Option<String>,
    unit: Option<String>,
    category: Option<String>,
    speed_limit_kmh: Option<f64>,
    /// Free text kept by editors; accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

fn coords_ring(v: &serde_json::Value) -> Result<Vec<LonLat>, String> {
    let arr = v.as_array().ok_or("a ring must be an array of positions")?;
    arr.iter()
        .map(|p| {
            let p = p.as_array().ok_or("a position must be an array [lon, lat]")?;
            match (
                p.first().and_then(|v| v.as_f64()),
                p.get(1).and_then(|v| v.as_f64()),
            ) {
                (Some(lon), Some(lat)) => Ok(LonLat::new(lon, lat)),
                _ => Err("a position must be [lon, lat] numbers".to_string()),
            }
        })
        .collect()
}

fn coords_polygon(v: &serde_json::Value) -> Result<Vec<Vec<LonLat>>, String> {
    let arr = v
        .as_array()
        .ok_or("Polygon coordinates must be an array of rings")?;
    if arr.is_empty() {
        return Err("a polygon has no rings".into());
    }
    arr.iter().map(coords_ring).collect()
}

/// Parses and validates a GeoJSON FeatureCollection of geofences.
pub fn parse_geojson(text: &str) -> Result<Vec<Geofence>, FenceError> {
    let whole = |reason: String| FenceError {
        line: 1,
        feature: None,
        reason,
    };
    let coll: RawCollection<'_> = serde_json::from_str(text).map_err(|e| FenceError {
        line: e.line().max(1),
        feature: None,
        reason: e.to_string(),
    })?;
    if coll.kind != "FeatureCollection" {
        return Err(whole(format!(
            "type is {:?}; expected \"FeatureCollection\"",
            coll.kind
        )));
    }
    let mut out: Vec<Geofence> = Vec::with_capacity(coll.features.len());
    for (i, raw) in coll.features.iter().enumerate() {
        // The raw value borrows from `text`, so its address tells where the feature starts.
        let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        let err = |reason: String| FenceError {
            line: crate::line_of(text, offset),
            feature: Some(i + 1),
            reason,
        };
        let f: RawFeature = serde_json::from_str(raw.get()).map_err(|e| err(e.to_string()))?;
        if f.kind != "Feature" {
            return Err(err(format!("type is {:?}; expected \"Feature\"", f.kind)));
        }
        let props = f.properties.ok_or_else(|| err("properties are missing".into()))?;
        let name = props.name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| err("properties.name is required".into()))?;
        let kind_s = props
            .kind
            .ok_or_else(|| err("properties.kind is required".into()))?;
        let kind = FenceKind::parse(&kind_s).ok_or_else(|| {
            err(format!(
                "properties.kind {kind_s:?} is not one of region, depot, prohibited, speed_zone"
            ))
        })?;
        let unit = props.unit.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
        if kind == FenceKind::Depot && unit.is_none() {
            return Err(err(format!(
                "depot {name:?} needs properties.unit (the unit path)"
            )));
        }
        if kind == FenceKind::SpeedZone {
            match props.speed_limit_kmh {
                Some(v) if v.is_finite() && v > 0.0 && v <= 300.0 => {}
                Some(v) => return Err(err(format!("speed_limit_kmh {v} is not in 1-300"))),
                None => {
                    return Err(err(format!(
                        "speed zone {name:?} needs properties.speed_limit_kmh"
                    )));
                }
            }
        }
        let geom = f.geometry.ok_or_else(|| err("geometry is missing".into()))?;
        let polygons = match geom.kind.as_str() {
            "Polygon" => vec![coords_polygon(&geom.coordinates).map_err(err)?],
            "MultiPolygon" => geom
                .coordinates
                .as_array()
                .ok_or_else(|| err("MultiPolygon coordinates must be an array of polygons".into()))?
                .iter()
                .map(coords_polygon)
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?,
            other => {
                return Err(err(format!(
                    "geometry type {other:?} is not Polygon or MultiPolygon"
                )));
            }
        };
        if polygons.is_empty() {
            return Err(err("MultiPolygon has no polygons".into()));
        }
        PolygonIndex::new(&polygons).map_err(|e| err(e.to_string()))?;
        if out.iter().any(|o| o.kind == kind && o.name == name) {
            return Err(err(format!(
                "{} {name:?} appears twice in the file",
                kind.as_str()
            )));
        }
        out.push(Geofence {
            name,
            kind,
            unit,
            category: props.category,
            speed_limit_kmh: props.speed_limit_kmh,
            polygons,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"黄石市","kind":"region"},
 "geometry":{"type":"Polygon","coordinates":[[[114.8,29.9],[115.3,29.9],[115.3,30.3],[114.8,30.3],[114.8,29.9]]]}},
{"type":"Feature","properties":{"name":"市委车库","kind":"depot","unit":"黄石市/市委办公室"},
 "geometry":{"type":"MultiPolygon","coordinates":[[[[115.0,30.2],[115.001,30.2],[115.001,30.201],[115.0,30.2]]]]}}
]}"#;

    #[test]
    fn parses_a_collection() {
        let f = parse_geojson(GOOD).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].kind, FenceKind::Region);
        assert_eq!(f[1].unit.as_deref(), Some("黄石市/市委办公室"));
        assert_eq!(f[1].polygons[0][0].len(), 4);
    }

    #[test]
    fn stored_fences_keep_geojson_positions() {
        let f = parse_geojson(GOOD).unwrap();
        let json = serde_json::to_value(&f[0]).unwrap();
        assert_eq!(json["polygons"][0][0][1], serde_json::json!([115.3, 29.9]));
        assert_eq!(serde_json::from_value::<Geofence>(json).unwrap(), f[0]);
    }

    #[test]
    fn errors_name_the_feature_and_line() {
        let bad = GOOD.replace(
            "\"kind\":\"depot\",\"unit\":\"黄石市/市委办公室\"",
            "\"kind\":\"depot\"",
        );
        let e = parse_geojson(&bad).unwrap_err();
        assert_eq!((e.line, e.feature), (4, Some(2)), "{e}");
        let bad = GOOD.replace("\"region\"", "\"regio\"");
        let e = parse_geojson(&bad).unwrap_err();
        assert_eq!((e.line, e.feature), (2, Some(1)), "{e}");
        let bad = GOOD.replace("[115.001,30.201],", "");
        let e = parse_geojson(&bad).unwrap_err();
        assert!(e.reason.contains("at least 3"), "{e}");
        let e = parse_geojson("{\"type\":\"FeatureCollection\",\n\"features\":[}").unwrap_err();
        assert_eq!(e.line, 2);
    }
}

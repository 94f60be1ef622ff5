//! Dispatch orders (派车单) and holiday filings (报备), and their JSON Lines import format.
//!
//! One object per line:
//! `{"id":"PC-2026-000123","kind":"order","plate":"鄂B12345","driver":"张三","purpose":"...",
//! "start":"2026-11-27T00:30:00Z","end":"2026-11-27T04:00:00Z","destinations":[{"name":"...","lon":115.0,
//! "lat":30.2}],"route":{"type":"LineString","coordinates":[[115.0,30.2],[115.1,30.25]]},"corridor_m":300,
//! "state":"approved","allow_region_exit":false}`.
//! A filing needs only `plate`, `start`, `end` and `purpose`. Re-importing an id updates it: that is how
//! an order approved after the fact arrives, and what makes the runtime re-evaluate the episodes it covers.
//!
//! Separation of duties: an order filed through the API records who filed it (`filed_by`), and its
//! approval who approved it (`approved_by`). Where a unit requires it ([`UnitSettings`], the default),
//! nobody approves their own order, and an order that covers the past (it starts more than
//! [`APPROVAL_GRACE_MS`] before its approval) is approved only by someone other than who filed it, a
//! filer on record; otherwise one person could file an order after the fact and withdraw the cases of
//! their own trip ([`Order::file`], and `Order::step` in `crate::workflow`).

use serde::{Deserialize, Serialize};
use tianshu_model::reference::StoredOrder;
use tianshu_model::{LonLat, Timestamp};

use crate::geo::Route;

/// How far before its approval an order may start and still not count as covering the past: the few
/// minutes between a car leaving and its order being approved on an ordinary day.
pub const APPROVAL_GRACE_MS: i64 = 10 * 60 * 1000;

/// Order or filing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// A dispatch order (派车单): a trip with a purpose, destinations and possibly a route.
    Order,
    /// A holiday filing (报备): permission to use the car on a day off.
    Filing,
}

impl OrderKind {
    /// The id used in files and the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderKind::Order => "order",
            OrderKind::Filing => "filing",
        }
    }
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Asked for, not yet approved: covers nothing.
    Requested,
    /// Approved: covers its window.
    Approved,
    /// Cancelled: covers nothing.
    Cancelled,
    /// Approved and done: still covers its window.
    Completed,
}

impl OrderState {
    /// The id used in files and the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderState::Requested => "requested",
            OrderState::Approved => "approved",
            OrderState::Cancelled => "cancelled",
            OrderState::Completed => "completed",
        }
    }

    /// Parses the id used in files and the store.
    pub fn parse(s: &str) -> Option<Self> {
        [
            OrderState::Requested,
            OrderState::Approved,
            OrderState::Cancelled,
            OrderState::Completed,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// Whether the stored state `s` is one that permits the use it describes (an unknown state does
    /// not).
    pub fn parse_covers(s: &str) -> bool {
        OrderState::parse(s).is_some_and(OrderState::covers)
    }

    /// Whether an order in this state permits the use it describes.
    pub const fn covers(self) -> bool {
        matches!(self, OrderState::Approved | OrderState::Completed)
    }
}

/// A destination of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Name of the place.
    pub name: String,
    /// Longitude, degrees WGS-84.
    pub lon: f64,
    /// Latitude, degrees WGS-84.
    pub lat: f64,
}

/// A GeoJSON LineString.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineString {
    /// Always `"LineString"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Vertices (`[lon, lat]` positions in JSON).
    #[serde(with = "crate::geo::geojson::line")]
    pub coordinates: Vec<LonLat>,
}

/// An order or filing, as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Unique id (`PC-2026-000123`).
    pub id: String,
    /// Order or filing.
    pub kind: OrderKind,
    /// The car's plate.
    pub plate: String,
    /// The driver's name.
    #[serde(default)]
    pub driver: Option<String>,
    /// What the trip is for.
    #[serde(default)]
    pub purpose: Option<String>,
    /// Start of the permitted window (UTC).
    pub start: Timestamp,
    /// End of the permitted window (UTC), exclusive.
    pub end: Timestamp,
    /// Destinations.
    #[serde(default)]
    pub destinations: Vec<Destination>,
    /// The approved route, when there is one.
    #[serde(default)]
    pub route: Option<LineString>,
    /// Corridor half-width around the route, metres; the rules' default when absent.
    #[serde(default)]
    pub corridor_m: Option<f64>,
    /// State.
    pub state: OrderState,
    /// Whether the trip may leave the permitted region.
    #[serde(default)]
    pub allow_region_exit: bool,
    /// Who filed it through the API (recorded by the server, whatever a client sends); absent for an
    /// imported order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_by: Option<String>,
    /// Who approved it through the API (recorded by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

/// A unit's own settings, edited by administrators (`/api/units/{id}/settings`); a unit without stored
/// settings has the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitSettings {
    /// Whether approving an order of the unit's cars that covers the past, or one's own order, needs a
    /// second person. Default true; false lets one person file and approve alone.
    #[serde(default = "yes")]
    pub second_person_approval: bool,
}

const fn yes() -> bool {
    true
}

impl Default for UnitSettings {
    fn default() -> Self {
        UnitSettings {
            second_person_approval: yes(),
        }
    }
}

/// Why one person may not approve an order alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecondPersonNeeded {
    /// The approver filed it.
    #[error(
        "order {id} was filed by {by}: a second person must approve it (separation of duties; the unit's \
         second_person_approval setting)"
    )]
    OwnOrder {
        /// The order.
        id: String,
        /// Who filed it and tried to approve it.
        by: String,
    },
    /// It covers the past and nobody else is on record as having filed it.
    #[error(
        "order {id} starts at {start}, before its approval at {at}: an order that covers the past is \
         approved by a second person, and it has no other filer on record (separation of duties; the \
         unit's second_person_approval setting)"
    )]
    CoversPast {
        /// The order.
        id: String,
        /// Its start.
        start: Timestamp,
        /// The approval's time.
        at: Timestamp,
    },
}

impl Order {
    /// The order as stored, written at `stamp` (the one mapping of an order to its columns).
    pub fn stored(&self, stamp: Timestamp) -> Result<StoredOrder, String> {
        Ok(StoredOrder {
            id: self.id.clone(),
            plate: self.plate.trim().to_string(),
            kind: self.kind.as_str().to_string(),
            state: self.state.as_str().to_string(),
            start: self.start,
            end: self.end,
            body: serde_json::to_value(self).map_err(|e| format!("JSON: {e}"))?,
            updated: stamp,
        })
    }

    /// Whether the order permits use at `t`.
    #[inline]
    pub fn covers(&self, t: Timestamp) -> bool {
        self.state.covers() && self.start <= t && t < self.end
    }

    /// Files the order as `by` at `at` (through the API): recorded as its filer; an order filed as approved
    /// is approved by its filer, as `Order::step` (`crate::workflow`) allows an approval under `settings`.
    pub fn file(
        &mut self,
        by: &str,
        at: Timestamp,
        settings: UnitSettings,
    ) -> Result<(), SecondPersonNeeded> {
        self.filed_by = Some(by.to_string());
        self.approved_by = None;
        if self.state.covers() {
            self.approve(by, at, settings)?;
        }
        Ok(())
    }

    /// Records `by` as the approver, unless `settings` want a second person and `by` is alone.
    pub(crate) fn approve(
        &mut self,
        by: &str,
        at: Timestamp,
        settings: UnitSettings,
    ) -> Result<(), SecondPersonNeeded> {
        if settings.second_person_approval {
            let filer = self.filed_by.as_deref();
            if filer == Some(by) {
                return Err(SecondPersonNeeded::OwnOrder {
                    id: self.id.clone(),
                    by: by.to_string(),
                });
            }
            if self.start < at.add_millis(-APPROVAL_GRACE_MS) && filer.is_none() {
                return Err(SecondPersonNeeded::CoversPast {
                    id: self.id.clone(),
                    start: self.start,
                    at,
                });
            }
        }
        self.approved_by = Some(by.to_string());
        Ok(())
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("id is empty".into());
        }
        if self.plate.trim().is_empty() {
            return Err("plate is empty".into());
        }
        if self.end <= self.start {
            return Err(format!("end {} is not after start {}", self.end, self.start));
        }
        if self.kind == OrderKind::Filing && self.purpose.as_deref().is_none_or(|p| p.trim().is_empty()) {
            return Err("purpose: a filing needs a purpose".into());
        }
        for d in &self.destinations {
            if !((-180.0..=180.0).contains(&d.lon) && (-90.0..=90.0).contains(&d.lat)) {
                return Err(format!("destination {:?} has invalid coordinates", d.name));
            }
        }
        if let Some(c) = self.corridor_m
            && !(c.is_finite() && c > 0.0 && c <= 50_000.0)
        {
            return Err(format!("corridor_m {c} is not in (0, 50000]"));
        }
        if let Some(r) = &self.route {
            if r.kind != "LineString" {
                return Err(format!("route type is {:?}; expected \"LineString\"", r.kind));
            }
            Route::new(&r.coordinates, 100.0).map_err(|e| format!("route: {e}"))?;
        }
        Ok(())
    }
}

/// Why an orders file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct OrderError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses and validates a JSON Lines file of orders and filings; blank lines are skipped. Returns every
/// error found (up to 100), so one run of the import shows all that needs fixing.
pub fn parse_jsonl(text: &str) -> Result<Vec<Order>, Vec<OrderError>> {
    Ok(parse_jsonl_lines(text)?.into_iter().map(|(_, o)| o).collect())
}

/// [`parse_jsonl`], each order with its 1-based line.
pub fn parse_jsonl_lines(text: &str) -> Result<Vec<(usize, Order)>, Vec<OrderError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let res = serde_json::from_str::<Order>(line)
            .map_err(|e| e.to_string())
            .and_then(|o| {
                o.validate()?;
                Ok(o)
            });
        match res {
            Ok(o) => {
                if let Some(prev) = seen.insert(o.id.clone(), line_no) {
                    errors.push(OrderError {
                        line: line_no,
                        reason: format!("id {:?} already on line {prev}", o.id),
                    });
                }
                out.push((line_no, o));
            }
            Err(reason) => errors.push(OrderError {
                line: line_no,
                reason,
            }),
        }
        if errors.len() >= 100 {
            break;
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"id":"PC-2026-000123","kind":"order","plate":"鄂B12345","driver":"张三","purpose":"检查","start":"2026-11-27T00:30:00Z","end":"2026-11-27T04:00:00Z","destinations":[{"name":"阳新县","lon":115.2,"lat":29.85}],"route":{"type":"LineString","coordinates":[[115.0,30.2],[115.1,30.25]]},"corridor_m":300,"state":"approved","allow_region_exit":false}"#;

    #[test]
    fn parses_the_shared_format() {
        let text = format!(
            "{LINE}\n\n{}\n",
            r#"{"id":"BB-1","kind":"filing","plate":"鄂B12345","purpose":"值班","start":"2026-10-01T00:00:00Z","end":"2026-10-02T00:00:00Z","state":"approved"}"#
        );
        let o = parse_jsonl(&text).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].corridor_m, Some(300.0));
        assert!(o[0].covers(Timestamp::parse_rfc3339("2026-11-27T01:00:00Z").unwrap()));
        assert!(!o[0].covers(Timestamp::parse_rfc3339("2026-11-27T04:00:00Z").unwrap()));
        assert_eq!(o[1].kind, OrderKind::Filing);
        // Stored as imported: the route keeps its GeoJSON positions.
        let json = serde_json::to_value(&o[0]).unwrap();
        assert_eq!(json["route"]["coordinates"][1], serde_json::json!([115.1, 30.25]));
        assert_eq!(serde_json::from_value::<Order>(json).unwrap(), o[0]);
    }

    #[test]
    fn filed_approved_is_approved_by_its_filer() {
        let mut o = parse_jsonl(LINE).unwrap().remove(0);
        let before = Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").unwrap();
        let second = UnitSettings::default();
        let e = o.clone().file("wang", before, second).unwrap_err();
        assert!(matches!(e, SecondPersonNeeded::OwnOrder { .. }), "{e}");
        let alone = UnitSettings {
            second_person_approval: false,
        };
        o.file("wang", before, alone).unwrap();
        assert_eq!(
            (o.filed_by.as_deref(), o.approved_by.as_deref()),
            (Some("wang"), Some("wang"))
        );
    }

    #[test]
    fn unit_settings_default_to_a_second_person() {
        assert!(UnitSettings::default().second_person_approval);
        assert_eq!(
            serde_json::from_str::<UnitSettings>("{}").unwrap(),
            UnitSettings::default()
        );
        assert!(serde_json::from_str::<UnitSettings>(r#"{"second_person":false}"#).is_err());
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text = [
            LINE.to_string(),
            LINE.replace("approved", "aproved").replace("000123", "1"),
            LINE.replace("\"end\":\"2026-11-27T04:00:00Z\"", "\"end\":\"2026-11-26T04:00:00Z\"").replace("000123", "2"),
            r#"{"id":"BB-2","kind":"filing","plate":"鄂B1","start":"2026-10-01T00:00:00Z","end":"2026-10-02T00:00:00Z","state":"approved"}"#.into(),
            LINE.to_string(),
        ]
        .join("\n");
        let e = parse_jsonl(&text).unwrap_err();
        assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert!(e[1].reason.contains("not after"), "{}", e[1]);
        assert!(e[2].reason.contains("purpose"), "{}", e[2]);
        assert!(e[3].reason.contains("already on line 1"), "{}", e[3]);
    }
}

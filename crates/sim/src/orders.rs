//! The paperwork that covers the planned trips: dispatch orders (派车单) and holiday filings (报备), in
//! the form `tianshu order import` reads.
//!
//! Orders are derived from the day plans, never drawn on their own: an order's window, destinations and
//! approved route are those of the trip it covers, and a trip without one is a scripted misuse. The
//! numbering follows (date, vehicle, trip), so the same world always writes the same ids.

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::geo::to_geojson;
use crate::plan::day_plan;
use crate::world::World;

/// A dispatch order (派车单) or a holiday filing (报备), as written to the orders file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// `PC-YYYY-NNNNNN` for orders, `BB-YYYY-NNNNNN` for filings.
    pub id: String,
    /// `order` or `filing`.
    pub kind: String,
    /// The vehicle's plate.
    pub plate: String,
    /// The driver's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Why the car is used.
    pub purpose: String,
    /// Start of the approved use, RFC 3339 UTC.
    pub start: String,
    /// End of the approved use, RFC 3339 UTC.
    pub end: String,
    /// Destinations, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<OrderDestination>>,
    /// The approved route as a GeoJSON LineString.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<LineString>,
    /// Half-width of the corridor around the route, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corridor_m: Option<u32>,
    /// `requested`, `approved`, `cancelled` or `completed`.
    pub state: String,
    /// Whether the trip may leave the permitted region.
    pub allow_region_exit: bool,
}

/// One destination of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDestination {
    /// Place name.
    pub name: String,
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

/// A GeoJSON LineString.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineString {
    /// Always `LineString`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `[lon, lat]` pairs.
    pub coordinates: Vec<[f64; 2]>,
}

/// The dispatch orders and filings covering every planned trip over the world's days, numbered in
/// (date, vehicle, trip) order.
pub fn orders_for(world: &World) -> Vec<Order> {
    let mut out = Vec::new();
    let (mut n_order, mut n_filing) = (0u32, 0u32);
    for date in world.dates() {
        for (vi, v) in world.vehicles.iter().enumerate() {
            for trip in day_plan(world, vi, date).trips {
                let Some(c) = trip.cover else { continue };
                let year = date.year();
                let common = |id: String, kind: &str| Order {
                    id,
                    kind: kind.to_string(),
                    plate: v.plate.clone(),
                    driver: None,
                    purpose: c.purpose.clone(),
                    start: c.start.to_rfc3339(),
                    end: c.end.to_rfc3339(),
                    destinations: None,
                    route: None,
                    corridor_m: None,
                    state: "approved".to_string(),
                    allow_region_exit: c.allow_region_exit,
                };
                if c.kind == "filing" {
                    n_filing += 1;
                    out.push(common(format!("BB-{year}-{n_filing:06}"), "filing"));
                    continue;
                }
                n_order += 1;
                let mut o = common(format!("PC-{year}-{n_order:06}"), "order");
                o.driver = Some(v.driver.clone());
                o.destinations = Some(
                    trip.stops
                        .iter()
                        .map(|s| {
                            let p = to_geojson(world.roads.pos(s.node));
                            OrderDestination {
                                name: s.name.clone(),
                                lon: p[0],
                                lat: p[1],
                            }
                        })
                        .collect(),
                );
                o.route = c.route.as_ref().map(|r| LineString {
                    kind: "LineString".to_string(),
                    coordinates: r.iter().map(|&n| to_geojson(world.roads.pos(n))).collect(),
                });
                o.corridor_m = Some(300);
                out.push(o);
            }
        }
    }
    out
}

//! The one geometry of Tianshu: WGS-84 points, distances and a local flat projection.
//!
//! Every crate that measures a distance or projects a point uses these functions, so the rules, the
//! simulator, trips and track simplification agree to the metre. Two distances exist on purpose:
//! - [`LonLat::distance_m`], the great circle (haversine), for any two points;
//! - [`LonLat::approx_distance_m`] and [`LocalFrame`], an equirectangular projection around a point,
//!   which at city scale (< 200 km) stays far below GPS noise and costs a few multiplications; the
//!   rules ask it for every point.
//!
//! Coordinates are WGS-84 degrees, as the terminals send them (BeiDou/GPS). Chinese web maps and many
//! statements use GCJ-02; converting is the job of whoever reads such a source, never of this module.

use serde::{Deserialize, Serialize};

/// Mean Earth radius in metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres per degree of latitude (and of longitude at the equator) on the mean sphere.
pub const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// A WGS-84 point in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LonLat {
    /// Longitude in degrees, east positive.
    pub lon: f64,
    /// Latitude in degrees, north positive.
    pub lat: f64,
}

impl LonLat {
    /// A point from longitude and latitude in degrees.
    pub const fn new(lon: f64, lat: f64) -> Self {
        LonLat { lon, lat }
    }

    /// A point from the protocol's micro-degrees.
    pub fn from_e6(lon_e6: i32, lat_e6: i32) -> Self {
        LonLat {
            lon: f64::from(lon_e6) / 1e6,
            lat: f64::from(lat_e6) / 1e6,
        }
    }

    /// Latitude in micro-degrees, the protocol's unit.
    pub fn lat_e6(self) -> i32 {
        (self.lat * 1e6).round() as i32
    }

    /// Longitude in micro-degrees, the protocol's unit.
    pub fn lon_e6(self) -> i32 {
        (self.lon * 1e6).round() as i32
    }

    /// Great-circle distance in metres (haversine).
    pub fn distance_m(self, other: LonLat) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().asin()
    }

    /// Distance in metres on a local equirectangular projection: cheap, and within 0.1 % of the great
    /// circle below a few tens of kilometres.
    #[inline]
    pub fn approx_distance_m(self, other: LonLat) -> f64 {
        let kx = M_PER_DEG * ((self.lat + other.lat) / 2.0).to_radians().cos();
        let (dx, dy) = ((other.lon - self.lon) * kx, (other.lat - self.lat) * M_PER_DEG);
        (dx * dx + dy * dy).sqrt()
    }

    /// Initial bearing towards `other`, degrees clockwise from north in `0..360`.
    pub fn bearing_deg(self, other: LonLat) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dl = (other.lon - self.lon).to_radians();
        let y = dl.sin() * p2.cos();
        let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
        y.atan2(x).to_degrees().rem_euclid(360.0)
    }

    /// The point a fraction `f` (0..=1) of the way towards `other` (linear in degrees: fine for the short
    /// edges of a road network or a track).
    pub fn lerp(self, other: LonLat, f: f64) -> LonLat {
        LonLat {
            lon: self.lon + (other.lon - self.lon) * f,
            lat: self.lat + (other.lat - self.lat) * f,
        }
    }

    /// `[lon, lat]`, the GeoJSON position order.
    pub fn to_array(self) -> [f64; 2] {
        [self.lon, self.lat]
    }

    /// A point from a GeoJSON `[lon, lat]` pair.
    pub fn from_array(a: [f64; 2]) -> Self {
        LonLat { lon: a[0], lat: a[1] }
    }
}

impl From<[f64; 2]> for LonLat {
    fn from(a: [f64; 2]) -> Self {
        LonLat::from_array(a)
    }
}

/// A local plane around an origin: metres east (`x`) and north (`y`), equirectangular.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    /// The point at (0, 0).
    origin: LonLat,
    /// Metres per degree of longitude at the origin's latitude.
    kx: f64,
}

impl LocalFrame {
    /// A frame centred on `origin`.
    pub fn new(origin: LonLat) -> Self {
        LocalFrame {
            origin,
            kx: M_PER_DEG * origin.lat.to_radians().cos(),
        }
    }

    /// The frame's origin.
    pub fn origin(&self) -> LonLat {
        self.origin
    }

    /// Metres east and north of the origin.
    #[inline]
    pub fn to_xy(&self, p: LonLat) -> (f64, f64) {
        (
            (p.lon - self.origin.lon) * self.kx,
            (p.lat - self.origin.lat) * M_PER_DEG,
        )
    }

    /// The point `x_m` east and `y_m` north of the origin.
    pub fn to_lonlat(&self, x_m: f64, y_m: f64) -> LonLat {
        LonLat {
            lon: self.origin.lon + x_m / self.kx,
            lat: self.origin.lat + y_m / M_PER_DEG,
        }
    }
}

/// Squared distance from `p` to the segment `a`-`b`, all in plane metres.
#[inline]
pub fn segment_distance2(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    qx * qx + qy * qy
}

/// Distance in metres from `p` to the segment `a`-`b` (in a local frame around `a`).
pub fn distance_to_segment_m(p: LonLat, a: LonLat, b: LonLat) -> f64 {
    let frame = LocalFrame::new(a);
    segment_distance2(frame.to_xy(p), (0.0, 0.0), frame.to_xy(b)).sqrt()
}

/// Krasovsky 1940 semi-major axis and eccentricity squared, the constants of the GCJ-02 offset.
const GCJ_A: f64 = 6_378_245.0;
const GCJ_EE: f64 = 0.006_693_421_622_965_943;

/// The GCJ-02 point (the datum of Chinese web maps and of many statements) of a WGS-84 point in China.
pub fn wgs84_to_gcj02(p: LonLat) -> LonLat {
    use std::f64::consts::PI;
    let (x, y) = (p.lon - 105.0, p.lat - 35.0);
    let waves = |a: f64, b: f64| (20.0 * (6.0 * a * PI).sin() + 20.0 * (2.0 * a * PI).sin()) * 2.0 / 3.0 + b;
    let dlat = -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * x.abs().sqrt()
        + waves(x, 0.0)
        + (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0
        + (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let dlon = 300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * x.abs().sqrt()
        + waves(x, 0.0)
        + (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0
        + (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    let rad = p.lat.to_radians();
    let magic = 1.0 - GCJ_EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = dlat * 180.0 / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * PI);
    let dlon = dlon * 180.0 / (GCJ_A / sqrt_magic * rad.cos() * PI);
    LonLat::new(p.lon + dlon, p.lat + dlat)
}

/// The WGS-84 point of a GCJ-02 point, found by inverting [`wgs84_to_gcj02`] (to well under a
/// centimetre after a few steps).
pub fn gcj02_to_wgs84(g: LonLat) -> LonLat {
    let mut w = g;
    for _ in 0..8 {
        let f = wgs84_to_gcj02(w);
        w = LonLat::new(w.lon - (f.lon - g.lon), w.lat - (f.lat - g.lat));
    }
    w
}

/// Whether `p` lies inside the ring (even-odd rule; the ring may or may not repeat its first point).
pub fn point_in_ring(p: LonLat, ring: &[LonLat]) -> bool {
    let n = ring.len();
    if n < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (ring[i], ring[j]);
        if (a.lat > p.lat) != (b.lat > p.lat) {
            let x = (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon;
            if p.lon < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcj02_round_trips_and_shifts_huangshi_by_hundreds_of_metres() {
        let w = LonLat::new(115.038_52, 30.199_65);
        let g = wgs84_to_gcj02(w);
        let shift = w.distance_m(g);
        assert!((300.0..700.0).contains(&shift), "{shift}");
        assert!(gcj02_to_wgs84(g).distance_m(w) < 0.01);
    }

    #[test]
    fn a_degree_of_latitude_is_about_111_km() {
        let (a, b) = (LonLat::new(115.0, 30.0), LonLat::new(115.0, 31.0));
        assert!((a.distance_m(b) - 111_195.0).abs() < 10.0, "{}", a.distance_m(b));
        assert!((a.approx_distance_m(b) - a.distance_m(b)).abs() < 1.0);
        assert!((a.bearing_deg(LonLat::new(115.1, 30.0)) - 90.0).abs() < 0.1);
    }

    #[test]
    fn the_cheap_distance_stays_within_a_thousandth_at_city_scale() {
        let a = LonLat::new(115.04, 30.2);
        for (dx, dy) in [(0.3, 0.0), (0.0, 0.3), (0.2, -0.2), (-0.01, 0.004)] {
            let b = LonLat::new(a.lon + dx, a.lat + dy);
            let (exact, cheap) = (a.distance_m(b), a.approx_distance_m(b));
            assert!((exact - cheap).abs() / exact < 1e-3, "{exact} vs {cheap}");
        }
    }

    #[test]
    fn local_frame_round_trips() {
        let f = LocalFrame::new(LonLat::new(115.04, 30.2));
        let p = f.to_lonlat(1234.0, -567.0);
        let (x, y) = f.to_xy(p);
        assert!((x - 1234.0).abs() < 1e-6 && (y + 567.0).abs() < 1e-6);
        assert!((f.origin().distance_m(p) - 1234.0f64.hypot(567.0)).abs() < 2.0);
    }

    #[test]
    fn micro_degrees_round_trip() {
        let p = LonLat::from_e6(115_038_123, 30_199_876);
        assert_eq!((p.lon_e6(), p.lat_e6()), (115_038_123, 30_199_876));
    }

    #[test]
    fn ring_and_segment() {
        let sq = [
            LonLat::new(0.0, 0.0),
            LonLat::new(1.0, 0.0),
            LonLat::new(1.0, 1.0),
            LonLat::new(0.0, 1.0),
        ];
        assert!(point_in_ring(LonLat::new(0.5, 0.5), &sq));
        assert!(!point_in_ring(LonLat::new(1.5, 0.5), &sq));
        let (a, b) = (LonLat::new(115.0, 30.0), LonLat::new(115.01, 30.0));
        let p = LonLat::new(115.005, 30.001);
        assert!((distance_to_segment_m(p, a, b) - 111.2).abs() < 1.0);
    }
}

//! Small WGS-84 helpers: distances, bearings, a local flat projection and polygon tests.
//!
//! The demo world spans about 100 km, where an equirectangular projection around the city centre is
//! accurate to well under a metre per kilometre; that is plenty for a simulator and keeps everything
//! cheap and deterministic.

/// Mean Earth radius in metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS-84 point in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
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

    /// Great-circle distance in metres (haversine).
    pub fn distance_m(self, other: LonLat) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().asin()
    }

    /// Initial bearing towards `other`, degrees clockwise from north in `0..360`.
    pub fn bearing_deg(self, other: LonLat) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dl = (other.lon - self.lon).to_radians();
        let y = dl.sin() * p2.cos();
        let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
        y.atan2(x).to_degrees().rem_euclid(360.0)
    }

    /// The point a fraction `f` (0..=1) of the way towards `other` (linear in degrees; fine for road edges).
    pub fn lerp(self, other: LonLat, f: f64) -> LonLat {
        LonLat {
            lon: self.lon + (other.lon - self.lon) * f,
            lat: self.lat + (other.lat - self.lat) * f,
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

    /// `[lon, lat]` rounded to 6 decimals (about 0.1 m), the GeoJSON position order.
    pub fn to_geojson(self) -> [f64; 2] {
        [round6(self.lon), round6(self.lat)]
    }
}

/// Rounds to 6 decimals so files stay short and identical across runs.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// An equirectangular projection around an origin: metres east (`x`) and north (`y`).
#[derive(Debug, Clone, Copy)]
pub struct LocalFrame {
    origin: LonLat,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
}

impl LocalFrame {
    /// A frame centred on `origin`.
    pub fn new(origin: LonLat) -> Self {
        let m_per_deg_lat = EARTH_RADIUS_M.to_radians();
        LocalFrame {
            origin,
            m_per_deg_lon: m_per_deg_lat * origin.lat.to_radians().cos(),
            m_per_deg_lat,
        }
    }

    /// Metres east and north of the origin to a WGS-84 point.
    pub fn to_lonlat(&self, x_m: f64, y_m: f64) -> LonLat {
        LonLat {
            lon: self.origin.lon + x_m / self.m_per_deg_lon,
            lat: self.origin.lat + y_m / self.m_per_deg_lat,
        }
    }

    /// A WGS-84 point to metres east and north of the origin.
    pub fn to_xy(&self, p: LonLat) -> (f64, f64) {
        (
            (p.lon - self.origin.lon) * self.m_per_deg_lon,
            (p.lat - self.origin.lat) * self.m_per_deg_lat,
        )
    }
}

/// Whether `p` lies inside the ring `ring` (even-odd rule; the ring may or may not repeat its first point).
pub fn point_in_ring(p: LonLat, ring: &[LonLat]) -> bool {
    let mut inside = false;
    let n = ring.len();
    if n < 3 {
        return false;
    }
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

/// Distance in metres from `p` to the segment `a`-`b` (in a local frame around `a`).
pub fn distance_to_segment_m(p: LonLat, a: LonLat, b: LonLat) -> f64 {
    let frame = LocalFrame::new(a);
    let (px, py) = frame.to_xy(p);
    let (bx, by) = frame.to_xy(b);
    let len2 = bx * bx + by * by;
    let t = if len2 > 0.0 {
        ((px * bx + py * by) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (px - t * bx, py - t * by);
    (dx * dx + dy * dy).sqrt()
}

/// Distance in metres from `p` to a polyline (infinite for an empty line).
pub fn distance_to_polyline_m(p: LonLat, line: &[LonLat]) -> f64 {
    match line {
        [] => f64::INFINITY,
        [only] => p.distance_m(*only),
        _ => line
            .windows(2)
            .map(|w| distance_to_segment_m(p, w[0], w[1]))
            .fold(f64::INFINITY, f64::min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degree_of_latitude_is_about_111_km() {
        let d = LonLat::new(115.0, 30.0).distance_m(LonLat::new(115.0, 31.0));
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
        assert!((LonLat::new(115.0, 30.0).bearing_deg(LonLat::new(115.1, 30.0)) - 90.0).abs() < 0.1);
    }

    #[test]
    fn local_frame_round_trips() {
        let f = LocalFrame::new(LonLat::new(115.04, 30.2));
        let p = f.to_lonlat(1234.0, -567.0);
        let (x, y) = f.to_xy(p);
        assert!((x - 1234.0).abs() < 1e-6 && (y + 567.0).abs() < 1e-6);
        assert!((LonLat::new(115.04, 30.2).distance_m(p) - (1234.0f64.hypot(567.0))).abs() < 2.0);
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
        let a = LonLat::new(115.0, 30.0);
        let b = LonLat::new(115.01, 30.0);
        let p = LonLat::new(115.005, 30.001);
        assert!((distance_to_segment_m(p, a, b) - 111.2).abs() < 1.0);
    }
}

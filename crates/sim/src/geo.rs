//! What the simulator adds to the model's geometry ([`tianshu_model::geo`]): positions as its files write
//! them, and the distance to a polyline it measures detours with.
//!
//! Points, distances, the local frame and the ring test are the model's, the very functions the rules
//! judge the fleet's tracks with, so a world built to the metre here is measured the same way there.

use tianshu_model::geo::{LonLat, distance_to_segment_m};

/// Rounds to 6 decimals (about 0.1 m) so files stay short and identical across runs.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `[lon, lat]` rounded to 6 decimals, the GeoJSON position order, as the world's files write it.
pub fn to_geojson(p: LonLat) -> [f64; 2] {
    [round6(p.lon), round6(p.lat)]
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
    fn positions_round_to_a_tenth_of_a_metre() {
        assert_eq!(
            to_geojson(LonLat::new(115.038_123_49, 30.199_876_51)),
            [115.038_123, 30.199_877]
        );
    }

    #[test]
    fn polyline_distance_is_the_nearest_segment() {
        let line = [
            LonLat::new(115.0, 30.0),
            LonLat::new(115.01, 30.0),
            LonLat::new(115.01, 30.01),
        ];
        let p = LonLat::new(115.005, 30.001);
        assert!((distance_to_polyline_m(p, &line) - 111.2).abs() < 1.0);
        assert_eq!(distance_to_polyline_m(p, &line[..1]), p.distance_m(line[0]));
        assert!(distance_to_polyline_m(p, &[]).is_infinite());
    }
}

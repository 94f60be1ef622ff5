//! Geometry for the rules: point in polygon, distance to a boundary, distance to a route.
//!
//! Points, distances and the local projection are the model's ([`tianshu_model::geo`]); this module
//! holds the indexes the rules build on them. Distances are metres on a local equirectangular
//! projection centred on each shape: at city scale (< 200 km) the error is far below GPS noise, and it
//! keeps every test a few multiplications. Shapes are indexed once when built, because the rules ask for
//! every point:
//! - a polygon keeps its edges in horizontal bands, so a ray-casting test looks only at the edges that
//!   cross the point's latitude band (a 10,000-vertex city boundary costs a handful of edge tests);
//! - a route keeps its segments in a uniform grid of square cells, so "is this point within the corridor"
//!   looks only at the cells around the point;
//! - a set of fences keeps, per grid cell, the fences whose bounding box touches it.

use serde::{Deserialize, Deserializer, Serializer};
use tianshu_model::geo::{LocalFrame, LonLat, segment_distance2};

/// An axis-aligned box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// West edge.
    pub min_lon: f64,
    /// South edge.
    pub min_lat: f64,
    /// East edge.
    pub max_lon: f64,
    /// North edge.
    pub max_lat: f64,
}

impl BBox {
    const EMPTY: BBox = BBox {
        min_lon: f64::INFINITY,
        min_lat: f64::INFINITY,
        max_lon: f64::NEG_INFINITY,
        max_lat: f64::NEG_INFINITY,
    };

    fn add(&mut self, p: LonLat) {
        self.min_lon = self.min_lon.min(p.lon);
        self.max_lon = self.max_lon.max(p.lon);
        self.min_lat = self.min_lat.min(p.lat);
        self.max_lat = self.max_lat.max(p.lat);
    }

    /// Whether the point is inside or on the box.
    #[inline]
    pub fn contains(&self, p: LonLat) -> bool {
        p.lon >= self.min_lon && p.lon <= self.max_lon && p.lat >= self.min_lat && p.lat <= self.max_lat
    }

    fn center(&self) -> LonLat {
        LonLat::new(
            (self.min_lon + self.max_lon) / 2.0,
            (self.min_lat + self.max_lat) / 2.0,
        )
    }
}

/// Why a shape cannot be indexed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    /// A ring needs at least 3 distinct vertices.
    #[error("a polygon ring has {0} vertices; at least 3 are needed")]
    RingTooShort(usize),
    /// A route needs at least 2 vertices.
    #[error("a route has {0} vertices; at least 2 are needed")]
    RouteTooShort(usize),
    /// A coordinate is not a finite WGS-84 longitude/latitude.
    #[error("coordinate [{0}, {1}] is not a valid [lon, lat]")]
    BadCoordinate(f64, f64),
}

fn check_coord(p: LonLat) -> Result<(), GeometryError> {
    if p.lon.is_finite()
        && p.lat.is_finite()
        && (-180.0..=180.0).contains(&p.lon)
        && (-90.0..=90.0).contains(&p.lat)
    {
        Ok(())
    } else {
        Err(GeometryError::BadCoordinate(p.lon, p.lat))
    }
}

/// One edge, in degrees, stored flat for the crossing test.
#[derive(Debug, Clone, Copy)]
struct Edge {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

/// A (multi)polygon with holes, indexed for point-in-polygon tests and boundary distances.
///
/// Rings of all parts are tested together by the even-odd rule, which handles holes and disjoint parts.
#[derive(Debug, Clone)]
pub struct PolygonIndex {
    bbox: BBox,
    edges: Vec<Edge>,
    band_min_lat: f64,
    band_height: f64,
    /// CSR: `band_start[i]..band_start[i+1]` indexes `band_edges` for band `i`.
    band_start: Vec<u32>,
    band_edges: Vec<u32>,
    frame: LocalFrame,
}

impl PolygonIndex {
    /// Indexes polygons given as rings of `[lon, lat]` (GeoJSON Polygon or MultiPolygon coordinates;
    /// the closing vertex may be repeated or not).
    pub fn new(polygons: &[Vec<Vec<LonLat>>]) -> Result<Self, GeometryError> {
        let mut bbox = BBox::EMPTY;
        let mut edges = Vec::new();
        for rings in polygons {
            for ring in rings {
                let mut r: &[LonLat] = ring;
                if r.len() > 1 && r.first() == r.last() {
                    r = &r[..r.len() - 1];
                }
                if r.len() < 3 {
                    return Err(GeometryError::RingTooShort(r.len()));
                }
                for (i, p) in r.iter().enumerate() {
                    check_coord(*p)?;
                    bbox.add(*p);
                    let q = r[(i + 1) % r.len()];
                    edges.push(Edge {
                        x1: p.lon,
                        y1: p.lat,
                        x2: q.lon,
                        y2: q.lat,
                    });
                }
            }
        }
        if edges.is_empty() {
            return Err(GeometryError::RingTooShort(0));
        }
        let n_bands = (edges.len() / 4).clamp(1, 8192);
        let band_height = ((bbox.max_lat - bbox.min_lat) / n_bands as f64).max(1e-12);
        let band_of = |lat: f64| (((lat - bbox.min_lat) / band_height) as usize).min(n_bands - 1);
        let mut counts = vec![0u32; n_bands + 1];
        for e in &edges {
            let (lo, hi) = (band_of(e.y1.min(e.y2)), band_of(e.y1.max(e.y2)));
            for c in &mut counts[lo + 1..=hi + 1] {
                *c += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut band_edges = vec![0u32; counts[n_bands] as usize];
        for (i, e) in edges.iter().enumerate() {
            let (lo, hi) = (band_of(e.y1.min(e.y2)), band_of(e.y1.max(e.y2)));
            for b in lo..=hi {
                band_edges[fill[b] as usize] = i as u32;
                fill[b] += 1;
            }
        }
        Ok(PolygonIndex {
            frame: LocalFrame::new(bbox.center()),
            bbox,
            edges,
            band_min_lat: bbox.min_lat,
            band_height,
            band_start: counts,
            band_edges,
        })
    }

    /// The bounding box.
    pub fn bbox(&self) -> BBox {
        self.bbox
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Whether `p` is inside (even-odd rule; points exactly on an edge may go either way).
    #[inline]
    pub fn contains(&self, p: LonLat) -> bool {
        if !self.bbox.contains(p) {
            return false;
        }
        let n_bands = self.band_start.len() - 1;
        let b = (((p.lat - self.band_min_lat) / self.band_height) as usize).min(n_bands - 1);
        let (lo, hi) = (self.band_start[b] as usize, self.band_start[b + 1] as usize);
        let mut inside = false;
        for &i in &self.band_edges[lo..hi] {
            let e = &self.edges[i as usize];
            if (e.y1 > p.lat) != (e.y2 > p.lat) {
                let x = e.x1 + (p.lat - e.y1) * (e.x2 - e.x1) / (e.y2 - e.y1);
                if p.lon < x {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// Distance in metres from `p` to the nearest edge (whether `p` is inside or outside).
    pub fn boundary_distance_m(&self, p: LonLat) -> f64 {
        let q = self.frame.to_xy(p);
        let mut best = f64::INFINITY;
        for e in &self.edges {
            let a = self.frame.to_xy(LonLat::new(e.x1, e.y1));
            let b = self.frame.to_xy(LonLat::new(e.x2, e.y2));
            best = best.min(segment_distance2(q, a, b));
        }
        best.sqrt()
    }
}

/// A uniform grid over a box, each cell listing items (CSR layout).
#[derive(Debug, Clone)]
struct Grid {
    min_x: f64,
    min_y: f64,
    cell: f64,
    nx: usize,
    ny: usize,
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Grid {
    /// Builds a grid over `[min_x, max_x] x [min_y, max_y]` with cells of at least `cell` units and at
    /// most `max_cells_per_axis` cells per axis; `boxes` are item bounding boxes `(x0, y0, x1, y1)`.
    fn build(
        min_x: f64,
        min_y: f64,
        max_x: f64,
        max_y: f64,
        cell: f64,
        max_cells_per_axis: usize,
        boxes: &[(f64, f64, f64, f64)],
    ) -> Grid {
        let extent = (max_x - min_x).max(max_y - min_y).max(1e-9);
        let cell = cell.max(extent / max_cells_per_axis as f64);
        let nx = (((max_x - min_x) / cell) as usize + 1).min(max_cells_per_axis + 1);
        let ny = (((max_y - min_y) / cell) as usize + 1).min(max_cells_per_axis + 1);
        let mut g = Grid {
            min_x,
            min_y,
            cell,
            nx,
            ny,
            start: Vec::new(),
            items: Vec::new(),
        };
        let mut counts = vec![0u32; nx * ny + 1];
        for b in boxes {
            let (x0, y0, x1, y1) = g.cell_range(b);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    counts[y * nx + x + 1] += 1;
                }
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut items = vec![0u32; counts[nx * ny] as usize];
        for (i, b) in boxes.iter().enumerate() {
            let (x0, y0, x1, y1) = g.cell_range(b);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let c = y * nx + x;
                    items[fill[c] as usize] = i as u32;
                    fill[c] += 1;
                }
            }
        }
        g.start = counts;
        g.items = items;
        g
    }

    fn clamp_cell(&self, v: f64, origin: f64, n: usize) -> usize {
        let c = ((v - origin) / self.cell).floor();
        if c <= 0.0 { 0 } else { (c as usize).min(n - 1) }
    }

    fn cell_range(&self, b: &(f64, f64, f64, f64)) -> (usize, usize, usize, usize) {
        (
            self.clamp_cell(b.0, self.min_x, self.nx),
            self.clamp_cell(b.1, self.min_y, self.ny),
            self.clamp_cell(b.2, self.min_x, self.nx),
            self.clamp_cell(b.3, self.min_y, self.ny),
        )
    }

    /// The items of the cell holding `(x, y)`, or nothing outside the grid.
    #[inline]
    fn at(&self, x: f64, y: f64) -> &[u32] {
        let (fx, fy) = ((x - self.min_x) / self.cell, (y - self.min_y) / self.cell);
        if !(fx >= 0.0 && fy >= 0.0) {
            return &[];
        }
        let (cx, cy) = (fx as usize, fy as usize);
        if cx >= self.nx || cy >= self.ny {
            return &[];
        }
        let c = cy * self.nx + cx;
        &self.items[self.start[c] as usize..self.start[c + 1] as usize]
    }
}

/// A route (approved line of an order), indexed for corridor tests.
#[derive(Debug, Clone)]
pub struct Route {
    frame: LocalFrame,
    /// Vertices in plane metres.
    xy: Vec<(f64, f64)>,
    /// Segment `i` joins `xy[i]` and `xy[i+1]`; the grid lists segments by cell.
    grid: Grid,
    /// First vertex, for the tolerance zone around the start.
    first: LonLat,
    /// Last vertex, for the tolerance zone around the destination.
    last: LonLat,
}

impl Route {
    /// Indexes a line; `cell_m` is the grid cell size in metres (the corridor width is a good choice).
    pub fn new(line: &[LonLat], cell_m: f64) -> Result<Self, GeometryError> {
        if line.len() < 2 {
            return Err(GeometryError::RouteTooShort(line.len()));
        }
        let mut bbox = BBox::EMPTY;
        for p in line {
            check_coord(*p)?;
            bbox.add(*p);
        }
        let frame = LocalFrame::new(bbox.center());
        let xy: Vec<(f64, f64)> = line.iter().map(|p| frame.to_xy(*p)).collect();
        let boxes: Vec<_> = xy
            .windows(2)
            .map(|w| {
                (
                    w[0].0.min(w[1].0),
                    w[0].1.min(w[1].1),
                    w[0].0.max(w[1].0),
                    w[0].1.max(w[1].1),
                )
            })
            .collect();
        let (min_x, min_y) = xy.iter().fold((f64::INFINITY, f64::INFINITY), |a, p| {
            (a.0.min(p.0), a.1.min(p.1))
        });
        let (max_x, max_y) = xy.iter().fold((f64::NEG_INFINITY, f64::NEG_INFINITY), |a, p| {
            (a.0.max(p.0), a.1.max(p.1))
        });
        let grid = Grid::build(min_x, min_y, max_x, max_y, cell_m.max(10.0), 1024, &boxes);
        Ok(Route {
            frame,
            xy,
            grid,
            first: line[0],
            last: line[line.len() - 1],
        })
    }

    /// First vertex.
    pub fn start(&self) -> LonLat {
        self.first
    }

    /// Last vertex.
    pub fn end(&self) -> LonLat {
        self.last
    }

    /// The distance in metres from `p` to the route if it is at most `radius_m`, else `None`.
    /// Looks only at the grid cells within `radius_m` of the point.
    #[inline]
    pub fn distance_within_m(&self, p: LonLat, radius_m: f64) -> Option<f64> {
        let q = self.frame.to_xy(p);
        let g = &self.grid;
        let r = radius_m.max(0.0);
        let x0 = ((q.0 - r - g.min_x) / g.cell).floor();
        let y0 = ((q.1 - r - g.min_y) / g.cell).floor();
        let x1 = ((q.0 + r - g.min_x) / g.cell).floor();
        let y1 = ((q.1 + r - g.min_y) / g.cell).floor();
        if x1 < 0.0 || y1 < 0.0 || x0 >= g.nx as f64 || y0 >= g.ny as f64 {
            return None;
        }
        let (x0, y0) = (x0.max(0.0) as usize, y0.max(0.0) as usize);
        let (x1, y1) = ((x1 as usize).min(g.nx - 1), (y1 as usize).min(g.ny - 1));
        if (x1 - x0 + 1) * (y1 - y0 + 1) > 4096 {
            // A radius far larger than the cells: scanning every segment is cheaper.
            let d = self.distance_m(p);
            return (d <= r).then_some(d);
        }
        let r2 = r * r;
        let mut best = f64::INFINITY;
        for cy in y0..=y1 {
            let row = cy * g.nx;
            for cx in x0..=x1 {
                let c = row + cx;
                for &s in &g.items[g.start[c] as usize..g.start[c + 1] as usize] {
                    let s = s as usize;
                    let d2 = segment_distance2(q, self.xy[s], self.xy[s + 1]);
                    if d2 < best {
                        best = d2;
                    }
                }
            }
        }
        (best <= r2).then(|| best.sqrt())
    }

    /// The exact distance in metres from `p` to the route (scans every segment; for reasoning texts).
    pub fn distance_m(&self, p: LonLat) -> f64 {
        let q = self.frame.to_xy(p);
        self.xy
            .windows(2)
            .map(|w| segment_distance2(q, w[0], w[1]))
            .fold(f64::INFINITY, f64::min)
            .sqrt()
    }
}

/// A spatial index over many polygons: which of them may contain a point.
#[derive(Debug, Clone)]
pub struct PolygonSet {
    polygons: Vec<PolygonIndex>,
    grid: Option<Grid>,
}

impl PolygonSet {
    /// Indexes the polygons; their position in `polygons` is their id in answers.
    pub fn new(polygons: Vec<PolygonIndex>) -> Self {
        if polygons.is_empty() {
            return PolygonSet { polygons, grid: None };
        }
        let boxes: Vec<_> = polygons
            .iter()
            .map(|p| (p.bbox.min_lon, p.bbox.min_lat, p.bbox.max_lon, p.bbox.max_lat))
            .collect();
        let (min_x, min_y) = boxes.iter().fold((f64::INFINITY, f64::INFINITY), |a, b| {
            (a.0.min(b.0), a.1.min(b.1))
        });
        let (max_x, max_y) = boxes.iter().fold((f64::NEG_INFINITY, f64::NEG_INFINITY), |a, b| {
            (a.0.max(b.2), a.1.max(b.3))
        });
        // Cells of about 0.005 degrees (500 m), at most 512 per axis.
        let grid = Grid::build(min_x, min_y, max_x, max_y, 0.005, 512, &boxes);
        PolygonSet {
            polygons,
            grid: Some(grid),
        }
    }

    /// The polygon with id `i`.
    pub fn get(&self, i: u32) -> Option<&PolygonIndex> {
        self.polygons.get(i as usize)
    }

    /// Number of polygons.
    pub fn len(&self) -> usize {
        self.polygons.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.polygons.is_empty()
    }

    /// Ids of the polygons whose bounding box may contain `p` (a superset of those containing it).
    #[inline]
    pub fn candidates(&self, p: LonLat) -> &[u32] {
        match &self.grid {
            Some(g) => g.at(p.lon, p.lat),
            None => &[],
        }
    }

    /// Ids of the polygons containing `p`.
    #[inline]
    pub fn containing(&self, p: LonLat) -> impl Iterator<Item = u32> + '_ {
        self.candidates(p)
            .iter()
            .copied()
            .filter(move |&i| self.polygons[i as usize].contains(p))
    }
}

/// Serde for GeoJSON coordinates: each point is written and read as a `[lon, lat]` position, the
/// format of imported files and of the documents the store keeps.
pub(crate) mod geojson {
    use super::*;

    fn rings_of(v: Vec<Vec<[f64; 2]>>) -> Vec<Vec<LonLat>> {
        v.into_iter()
            .map(|ring| ring.into_iter().map(LonLat::from_array).collect())
            .collect()
    }

    fn arrays_of(rings: &[Vec<LonLat>]) -> Vec<Vec<[f64; 2]>> {
        rings
            .iter()
            .map(|ring| ring.iter().map(|p| p.to_array()).collect())
            .collect()
    }

    /// A LineString's coordinates: `[[lon, lat], ...]`.
    pub(crate) mod line {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(line: &[LonLat], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(line.iter().map(|p| p.to_array()))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<LonLat>, D::Error> {
            let v = Vec::<[f64; 2]>::deserialize(d)?;
            Ok(v.into_iter().map(LonLat::from_array).collect())
        }
    }

    /// MultiPolygon coordinates: polygons, each a list of rings of `[lon, lat]`.
    pub(crate) mod polygons {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(
            polygons: &[Vec<Vec<LonLat>>],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.collect_seq(polygons.iter().map(|rings| arrays_of(rings)))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Vec<Vec<LonLat>>>, D::Error> {
            let v = Vec::<Vec<Vec<[f64; 2]>>>::deserialize(d)?;
            Ok(v.into_iter().map(rings_of).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use tianshu_model::geo::point_in_ring;

    use super::*;

    fn ll(lon: f64, lat: f64) -> LonLat {
        LonLat::new(lon, lat)
    }

    fn square(cx: f64, cy: f64, half: f64) -> Vec<Vec<LonLat>> {
        vec![vec![
            ll(cx - half, cy - half),
            ll(cx + half, cy - half),
            ll(cx + half, cy + half),
            ll(cx - half, cy + half),
            ll(cx - half, cy - half),
        ]]
    }

    #[test]
    fn point_in_polygon_with_hole() {
        let mut rings = square(115.0, 30.0, 0.1);
        rings.push(square(115.0, 30.0, 0.02).remove(0));
        let p = PolygonIndex::new(&[rings]).unwrap();
        assert!(p.contains(ll(115.05, 30.05)));
        assert!(!p.contains(ll(115.0, 30.0)), "inside the hole");
        assert!(!p.contains(ll(115.2, 30.0)));
        assert!(!p.contains(ll(115.0, 30.11)));
    }

    #[test]
    fn large_polygon_matches_brute_force() {
        // A 5,000-vertex star-shaped ring: the band index must agree with a plain scan everywhere.
        let n = 5_000;
        let ring: Vec<LonLat> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = 0.5 + 0.1 * (a * 37.0).sin();
                ll(115.0 + r * a.cos(), 30.0 + r * a.sin())
            })
            .collect();
        let p = PolygonIndex::new(&[vec![ring.clone()]]).unwrap();
        let brute = |q: LonLat| point_in_ring(q, &ring);
        let mut inside = 0;
        for i in 0..100 {
            for j in 0..100 {
                let q = ll(114.3 + i as f64 * 0.014, 29.3 + j as f64 * 0.014);
                assert_eq!(p.contains(q), brute(q), "{q:?}");
                inside += usize::from(brute(q));
            }
        }
        assert!(inside > 2_500 && inside < 7_500, "{inside}");
    }

    #[test]
    fn boundary_distance_in_metres() {
        let p = PolygonIndex::new(&[square(115.0, 30.0, 0.01)]).unwrap();
        // 0.001 degree of latitude is about 111 m.
        let d = p.boundary_distance_m(ll(115.0, 30.011));
        assert!((d - 111.2).abs() < 0.5, "{d}");
    }

    #[test]
    fn route_corridor_matches_exact_distance() {
        let line: Vec<LonLat> = (0..1000)
            .map(|i| ll(115.0 + i as f64 * 0.0005, 30.0 + (i as f64 * 0.05).sin() * 0.01))
            .collect();
        let r = Route::new(&line, 300.0).unwrap();
        for i in 0..2000 {
            let q = ll(114.99 + (i % 50) as f64 * 0.011, 29.98 + (i / 50) as f64 * 0.001);
            let exact = r.distance_m(q);
            match r.distance_within_m(q, 300.0) {
                Some(d) => assert!((d - exact).abs() < 1e-6 && d <= 300.0),
                None => assert!(exact > 300.0, "{q:?} {exact}"),
            }
        }
        assert!(Route::new(&line[..1], 300.0).is_err());
    }

    #[test]
    fn polygon_set_finds_only_containing() {
        let polys: Vec<_> = (0..100)
            .map(|i| {
                PolygonIndex::new(&[square(
                    115.0 + (i % 10) as f64 * 0.01,
                    30.0 + (i / 10) as f64 * 0.01,
                    0.002,
                )])
                .unwrap()
            })
            .collect();
        let set = PolygonSet::new(polys);
        assert_eq!(set.containing(ll(115.03, 30.05)).collect::<Vec<_>>(), [53]);
        assert_eq!(set.containing(ll(115.035, 30.05)).count(), 0);
        assert_eq!(set.containing(ll(120.0, 30.0)).count(), 0);
        // A large polygon next to a small one: its far corner is still found.
        let big = PolygonIndex::new(&[square(115.0, 30.0, 0.25)]).unwrap();
        let small = PolygonIndex::new(&[square(114.8, 29.8, 0.001)]).unwrap();
        let set = PolygonSet::new(vec![big, small]);
        assert_eq!(set.containing(ll(115.24, 30.24)).collect::<Vec<_>>(), [0]);
        assert_eq!(set.containing(ll(114.8, 29.8)).collect::<Vec<_>>(), [0, 1]);
    }
}

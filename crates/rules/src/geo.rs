//! Geometry for the rules: point in polygon, distance to a boundary, distance to a route.
//!
//! Everything works on WGS-84 degrees (`[lon, lat]`), and distances are metres on a local equirectangular
//! projection centred on each shape: at city scale (< 200 km) the error is far below GPS noise, and it
//! keeps every test a few multiplications. Shapes are indexed once when built, because the rules ask for
//! every point:
//! - a polygon keeps its edges in horizontal bands, so a ray-casting test looks only at the edges that
//!   cross the point's latitude band (a 10,000-vertex city boundary costs a handful of edge tests);
//! - a route keeps its segments in a uniform grid of square cells, so "is this point within the corridor"
//!   looks only at the cells around the point;
//! - a set of fences keeps, per grid cell, the fences whose bounding box touches it.

/// Mean Earth radius in metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// A `[lon, lat]` pair in degrees.
pub type LonLat = [f64; 2];

/// Great-circle distance in metres (haversine).
pub fn haversine_m(a: LonLat, b: LonLat) -> f64 {
    let (la1, la2) = (a[1].to_radians(), b[1].to_radians());
    let dlat = la2 - la1;
    let dlon = (b[0] - a[0]).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().asin()
}

/// Distance in metres on a local equirectangular projection: cheap, and within 0.1 % of the great
/// circle below a few tens of kilometres.
#[inline]
pub fn approx_distance_m(a: LonLat, b: LonLat) -> f64 {
    let kx = M_PER_DEG * ((a[1] + b[1]) / 2.0).to_radians().cos();
    let (dx, dy) = ((b[0] - a[0]) * kx, (b[1] - a[1]) * M_PER_DEG);
    (dx * dx + dy * dy).sqrt()
}

/// A local plane around a reference point: metres east and north.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    lon0: f64,
    lat0: f64,
    kx: f64,
}

impl LocalFrame {
    /// A frame centred on `origin`.
    pub fn new(origin: LonLat) -> Self {
        LocalFrame {
            lon0: origin[0],
            lat0: origin[1],
            kx: M_PER_DEG * origin[1].to_radians().cos(),
        }
    }

    /// Metres east and north of the origin.
    #[inline]
    pub fn to_xy(&self, p: LonLat) -> (f64, f64) {
        ((p[0] - self.lon0) * self.kx, (p[1] - self.lat0) * M_PER_DEG)
    }
}

/// Squared distance from `p` to the segment `a`-`b`, all in plane metres.
#[inline]
fn seg_dist2(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
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
        self.min_lon = self.min_lon.min(p[0]);
        self.max_lon = self.max_lon.max(p[0]);
        self.min_lat = self.min_lat.min(p[1]);
        self.max_lat = self.max_lat.max(p[1]);
    }

    /// Whether the point is inside or on the box.
    #[inline]
    pub fn contains(&self, p: LonLat) -> bool {
        p[0] >= self.min_lon && p[0] <= self.max_lon && p[1] >= self.min_lat && p[1] <= self.max_lat
    }

    fn center(&self) -> LonLat {
        [
            (self.min_lon + self.max_lon) / 2.0,
            (self.min_lat + self.max_lat) / 2.0,
        ]
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
    if p[0].is_finite()
        && p[1].is_finite()
        && (-180.0..=180.0).contains(&p[0])
        && (-90.0..=90.0).contains(&p[1])
    {
        Ok(())
    } else {
        Err(GeometryError::BadCoordinate(p[0], p[1]))
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
                        x1: p[0],
                        y1: p[1],
                        x2: q[0],
                        y2: q[1],
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
        let b = (((p[1] - self.band_min_lat) / self.band_height) as usize).min(n_bands - 1);
        let (lo, hi) = (self.band_start[b] as usize, self.band_start[b + 1] as usize);
        let mut inside = false;
        for &i in &self.band_edges[lo..hi] {
            let e = &self.edges[i as usize];
            if (e.y1 > p[1]) != (e.y2 > p[1]) {
                let x = e.x1 + (p[1] - e.y1) * (e.x2 - e.x1) / (e.y2 - e.y1);
                if p[0] < x {
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
            let a = self.frame.to_xy([e.x1, e.y1]);
            let b = self.frame.to_xy([e.x2, e.y2]);
            best = best.min(seg_dist2(q, a, b));
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
                    let d2 = seg_dist2(q, self.xy[s], self.xy[s + 1]);
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
            .map(|w| seg_dist2(q, w[0], w[1]))
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
            Some(g) => g.at(p[0], p[1]),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn square(cx: f64, cy: f64, half: f64) -> Vec<Vec<LonLat>> {
        vec![vec![
            [cx - half, cy - half],
            [cx + half, cy - half],
            [cx + half, cy + half],
            [cx - half, cy + half],
            [cx - half, cy - half],
        ]]
    }

    #[test]
    fn point_in_polygon_with_hole() {
        let mut rings = square(115.0, 30.0, 0.1);
        rings.push(square(115.0, 30.0, 0.02).remove(0));
        let p = PolygonIndex::new(&[rings]).unwrap();
        assert!(p.contains([115.05, 30.05]));
        assert!(!p.contains([115.0, 30.0]), "inside the hole");
        assert!(!p.contains([115.2, 30.0]));
        assert!(!p.contains([115.0, 30.11]));
    }

    #[test]
    fn large_polygon_matches_brute_force() {
        // A 5,000-vertex star-shaped ring: the band index must agree with a plain scan everywhere.
        let n = 5_000;
        let ring: Vec<LonLat> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = 0.5 + 0.1 * (a * 37.0).sin();
                [115.0 + r * a.cos(), 30.0 + r * a.sin()]
            })
            .collect();
        let p = PolygonIndex::new(&[vec![ring.clone()]]).unwrap();
        let brute = |q: LonLat| {
            let mut inside = false;
            for i in 0..ring.len() {
                let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                if (a[1] > q[1]) != (b[1] > q[1])
                    && q[0] < a[0] + (q[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
                {
                    inside = !inside;
                }
            }
            inside
        };
        let mut inside = 0;
        for i in 0..100 {
            for j in 0..100 {
                let q = [114.3 + i as f64 * 0.014, 29.3 + j as f64 * 0.014];
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
        let d = p.boundary_distance_m([115.0, 30.011]);
        assert!((d - 111.2).abs() < 0.5, "{d}");
    }

    #[test]
    fn route_corridor_matches_exact_distance() {
        let line: Vec<LonLat> = (0..1000)
            .map(|i| [115.0 + i as f64 * 0.0005, 30.0 + (i as f64 * 0.05).sin() * 0.01])
            .collect();
        let r = Route::new(&line, 300.0).unwrap();
        for i in 0..2000 {
            let q = [114.99 + (i % 50) as f64 * 0.011, 29.98 + (i / 50) as f64 * 0.001];
            let exact = r.distance_m(q);
            match r.distance_within_m(q, 300.0) {
                Some(d) => assert!((d - exact).abs() < 1e-6 && d <= 300.0),
                None => assert!(exact > 300.0, "{q:?} {exact}"),
            }
        }
        assert!(Route::new(&line[..1], 300.0).is_err());
        let d = haversine_m([115.0, 30.0], [115.0, 30.001]);
        assert!((d - 111.19).abs() < 0.1, "{d}");
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
        assert_eq!(set.containing([115.03, 30.05]).collect::<Vec<_>>(), [53]);
        assert_eq!(set.containing([115.035, 30.05]).count(), 0);
        assert_eq!(set.containing([120.0, 30.0]).count(), 0);
        // A large polygon next to a small one: its far corner is still found.
        let big = PolygonIndex::new(&[square(115.0, 30.0, 0.25)]).unwrap();
        let small = PolygonIndex::new(&[square(114.8, 29.8, 0.001)]).unwrap();
        let set = PolygonSet::new(vec![big, small]);
        assert_eq!(set.containing([115.24, 30.24]).collect::<Vec<_>>(), [0]);
        assert_eq!(set.containing([114.8, 29.8]).collect::<Vec<_>>(), [0, 1]);
    }
}

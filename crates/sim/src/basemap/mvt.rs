//! Mapbox Vector Tile (MVT 2.1) encoding: the protobuf of one tile, its layers, features, keys and
//! values, and the geometry command stream, written by hand (the format is a few fields).
//!
//! Coordinates are tile units (`0..EXTENT` inside the tile, y pointing down); geometry may reach a little
//! past the edges (the buffer), which renderers clip.

/// Tile units across one tile.
pub const EXTENT: u32 = 4096;

/// A feature's geometry in tile units.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// One or more points.
    Points(Vec<(i32, i32)>),
    /// One or more lines, each at least two points.
    Lines(Vec<Vec<(i32, i32)>>),
    /// One polygon: its exterior ring (not closed: the first point is not repeated), wound either way
    /// (the encoder winds it as MVT wants).
    Polygon(Vec<(i32, i32)>),
}

/// A feature: geometry and string properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Its geometry.
    pub geometry: Geometry,
    /// `(key, value)` string properties.
    pub properties: Vec<(String, String)>,
}

/// A named layer of features.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layer {
    /// The layer's name (what a style's `source-layer` names).
    pub name: String,
    /// Its features.
    pub features: Vec<Feature>,
}

/// Appends `v` as a protobuf base-128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zig-zag encoding of a signed parameter (small magnitudes become small varints).
pub const fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

const fn command(id: u32, count: u32) -> u32 {
    (id & 0x7) | (count << 3)
}
const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

fn put_key(out: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(out, u64::from((field << 3) | wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_packed(out: &mut Vec<u8>, field: u32, values: &[u32]) {
    let mut body = Vec::with_capacity(values.len() * 2);
    for &v in values {
        put_varint(&mut body, u64::from(v));
    }
    put_bytes(out, field, &body);
}

/// Twice the signed area of a ring in tile units (positive: clockwise on screen, y down).
fn signed_area2(ring: &[(i32, i32)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (x0, y0) = ring[i];
            let (x1, y1) = ring[(i + 1) % n];
            i64::from(x0) * i64::from(y1) - i64::from(x1) * i64::from(y0)
        })
        .sum()
}

/// The command stream of a geometry and its MVT type (1 point, 2 line, 3 polygon).
pub fn encode_geometry(g: &Geometry) -> (u32, Vec<u32>) {
    let mut out = Vec::new();
    let mut cursor = (0i32, 0i32);
    let mut step = |out: &mut Vec<u32>, p: (i32, i32)| {
        out.push(zigzag(p.0 - cursor.0));
        out.push(zigzag(p.1 - cursor.1));
        cursor = p;
    };
    match g {
        Geometry::Points(points) => {
            out.push(command(MOVE_TO, points.len() as u32));
            for &p in points {
                step(&mut out, p);
            }
            (1, out)
        }
        Geometry::Lines(lines) => {
            for line in lines.iter().filter(|l| l.len() >= 2) {
                out.push(command(MOVE_TO, 1));
                step(&mut out, line[0]);
                out.push(command(LINE_TO, (line.len() - 1) as u32));
                for &p in &line[1..] {
                    step(&mut out, p);
                }
            }
            (2, out)
        }
        Geometry::Polygon(ring) => {
            // An exterior ring has a positive area in MVT's screen coordinates.
            let mut ring = ring.clone();
            if signed_area2(&ring) < 0 {
                ring[1..].reverse();
            }
            out.push(command(MOVE_TO, 1));
            step(&mut out, ring[0]);
            out.push(command(LINE_TO, (ring.len() - 1) as u32));
            for &p in &ring[1..] {
                step(&mut out, p);
            }
            out.push(command(CLOSE_PATH, 1));
            (3, out)
        }
    }
}

/// Whether a geometry has anything to draw (a line of two points, a ring of three).
pub fn drawable(g: &Geometry) -> bool {
    match g {
        Geometry::Points(p) => !p.is_empty(),
        Geometry::Lines(l) => l.iter().any(|l| l.len() >= 2),
        Geometry::Polygon(r) => r.len() >= 3,
    }
}

/// One layer's protobuf (`Tile.Layer`).
pub fn encode_layer(layer: &Layer) -> Vec<u8> {
    fn index<'a>(list: &mut Vec<&'a str>, s: &'a str) -> u32 {
        match list.iter().position(|k| *k == s) {
            Some(i) => i as u32,
            None => {
                list.push(s);
                (list.len() - 1) as u32
            }
        }
    }
    let mut keys: Vec<&str> = Vec::new();
    let mut values: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    put_key(&mut out, 15, 0);
    put_varint(&mut out, 2);
    put_bytes(&mut out, 1, layer.name.as_bytes());
    for (id, f) in layer.features.iter().enumerate() {
        if !drawable(&f.geometry) {
            continue;
        }
        let mut tags = Vec::with_capacity(f.properties.len() * 2);
        for (k, v) in &f.properties {
            tags.push(index(&mut keys, k));
            tags.push(index(&mut values, v));
        }
        let (kind, geometry) = encode_geometry(&f.geometry);
        let mut body = Vec::new();
        put_key(&mut body, 1, 0);
        put_varint(&mut body, id as u64 + 1);
        if !tags.is_empty() {
            put_packed(&mut body, 2, &tags);
        }
        put_key(&mut body, 3, 0);
        put_varint(&mut body, u64::from(kind));
        put_packed(&mut body, 4, &geometry);
        put_bytes(&mut out, 2, &body);
    }
    for k in &keys {
        put_bytes(&mut out, 3, k.as_bytes());
    }
    for v in &values {
        let mut value = Vec::new();
        put_bytes(&mut value, 1, v.as_bytes());
        put_bytes(&mut out, 4, &value);
    }
    put_key(&mut out, 5, 0);
    put_varint(&mut out, u64::from(EXTENT));
    out
}

/// A tile's protobuf: its non-empty layers, in order.
pub fn encode_tile(layers: &[Layer]) -> Vec<u8> {
    let mut out = Vec::new();
    for layer in layers
        .iter()
        .filter(|l| l.features.iter().any(|f| drawable(&f.geometry)))
    {
        put_bytes(&mut out, 3, &encode_layer(layer));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_match_the_protobuf_examples() {
        let enc = |v| {
            let mut o = Vec::new();
            put_varint(&mut o, v);
            o
        };
        assert_eq!(enc(1), [0x01]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(150), [0x96, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::from(u32::MAX)), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(
            [
                zigzag(0),
                zigzag(-1),
                zigzag(1),
                zigzag(-2),
                zigzag(2147483647),
                zigzag(-2147483648)
            ],
            [0, 1, 2, 3, 4294967294, 4294967295]
        );
    }

    // The examples of the MVT 2.1 specification, section 4.3.5.
    #[test]
    fn geometry_commands_match_the_specification_s_examples() {
        assert_eq!(
            encode_geometry(&Geometry::Points(vec![(25, 17)])),
            (1, vec![9, 50, 34])
        );
        assert_eq!(
            encode_geometry(&Geometry::Points(vec![(5, 7), (3, 2)])),
            (1, vec![17, 10, 14, 3, 9])
        );
        assert_eq!(
            encode_geometry(&Geometry::Lines(vec![vec![(2, 2), (2, 10), (10, 10)]])),
            (2, vec![9, 4, 4, 18, 0, 16, 16, 0])
        );
        assert_eq!(
            encode_geometry(&Geometry::Lines(vec![
                vec![(2, 2), (2, 10), (10, 10)],
                vec![(1, 1), (3, 5)]
            ])),
            (2, vec![9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8])
        );
        // The specification's polygon, given once wound the wrong way round: the encoder turns it.
        let ring = vec![(3, 6), (8, 12), (20, 34)];
        let expected = (3, vec![9, 6, 12, 18, 10, 12, 24, 44, 15]);
        assert_eq!(encode_geometry(&Geometry::Polygon(ring.clone())), expected);
        let mut reversed = ring;
        reversed.reverse();
        reversed.rotate_right(1);
        assert_eq!(encode_geometry(&Geometry::Polygon(reversed)), expected);
    }

    #[test]
    fn a_layer_shares_its_keys_and_values_and_skips_empty_features() {
        let f = |kind: &str, name: &str| Feature {
            geometry: Geometry::Points(vec![(1, 1)]),
            properties: vec![("kind".into(), kind.into()), ("name".into(), name.into())],
        };
        let layer = Layer {
            name: "places".into(),
            features: vec![
                f("locality", "大冶"),
                f("locality", "阳新"),
                Feature {
                    geometry: Geometry::Lines(vec![vec![(1, 1)]]),
                    properties: vec![],
                },
            ],
        };
        let bytes = encode_layer(&layer);
        let count = |needle: &[u8]| bytes.windows(needle.len()).filter(|w| *w == needle).count();
        assert_eq!(count(b"kind"), 1);
        assert_eq!(count(b"locality"), 1);
        assert_eq!(count("大冶".as_bytes()), 1);
        // Version 2 first, extent 4096 last.
        assert_eq!(&bytes[..2], &[0x78, 0x02]);
        assert_eq!(&bytes[bytes.len() - 3..], &[0x28, 0x80, 0x20]);
        // A tile holds the non-empty layers only (field 3, wire type 2).
        let tile = encode_tile(&[layer, Layer::default()]);
        assert_eq!(tile[0], 0x1a);
        assert!(encode_tile(&[Layer::default()]).is_empty());
    }
}

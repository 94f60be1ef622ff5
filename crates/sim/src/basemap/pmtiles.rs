//! PMTiles version 3 archives: one file holding a tile pyramid, read by range requests (the 127-byte
//! header, a root directory within the first 16 KiB, leaf directories, JSON metadata, tile data).
//!
//! Written uncompressed (internal and tile compression "none"), tiles clustered in tile-id order.

use super::mvt::put_varint;

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 127;
/// The header and the root directory must fit in this many bytes (what a reader fetches first).
pub const ROOT_LIMIT: usize = 16_384;

/// The Hilbert-curve tile id of `z/x/y`: the tiles of lower zooms first, then the position on the
/// curve at `z`.
pub fn tile_id(z: u8, x: u32, y: u32) -> u64 {
    let n = 1u64 << z;
    let mut id = (n * n - 1) / 3;
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    let mut s = n / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        id += s * s * ((3 * rx) ^ ry);
        // Rotate the quadrant (only the bits below `s` matter from here on).
        if ry == 0 {
            if rx == 1 {
                x = s.wrapping_sub(1).wrapping_sub(x);
                y = s.wrapping_sub(1).wrapping_sub(y);
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    id
}

/// One directory entry: a run of tiles, or (`run_length` 0) a leaf directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The first tile id.
    pub tile_id: u64,
    /// Offset in the tile data (or the leaf directories) section.
    pub offset: u64,
    /// Length in bytes.
    pub length: u32,
    /// How many consecutive tile ids share these bytes; 0 for a leaf directory.
    pub run_length: u32,
}

/// A directory's bytes: the count, then columns of tile-id deltas, run lengths, lengths and offsets (0
/// for "right after the previous entry", otherwise offset + 1).
pub fn encode_directory(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, entries.len() as u64);
    let mut last = 0;
    for e in entries {
        put_varint(&mut out, e.tile_id - last);
        last = e.tile_id;
    }
    for e in entries {
        put_varint(&mut out, u64::from(e.run_length));
    }
    for e in entries {
        put_varint(&mut out, u64::from(e.length));
    }
    for (i, e) in entries.iter().enumerate() {
        let follows = i > 0 && e.offset == entries[i - 1].offset + u64::from(entries[i - 1].length);
        put_varint(&mut out, if follows { 0 } else { e.offset + 1 });
    }
    out
}

/// The root directory and the leaf directories for `entries` (sorted by tile id): everything in the
/// root when it fits beside the header in [`ROOT_LIMIT`], otherwise leaves of a size that makes the
/// root fit.
fn directories(entries: &[Entry]) -> (Vec<u8>, Vec<u8>) {
    let root = encode_directory(entries);
    if HEADER_LEN + root.len() <= ROOT_LIMIT {
        return (root, Vec::new());
    }
    let mut leaf_size = 4096;
    loop {
        let mut leaves = Vec::new();
        let mut root_entries = Vec::new();
        for chunk in entries.chunks(leaf_size) {
            let leaf = encode_directory(chunk);
            root_entries.push(Entry {
                tile_id: chunk[0].tile_id,
                offset: leaves.len() as u64,
                length: leaf.len() as u32,
                run_length: 0,
            });
            leaves.extend_from_slice(&leaf);
        }
        let root = encode_directory(&root_entries);
        if HEADER_LEN + root.len() <= ROOT_LIMIT {
            return (root, leaves);
        }
        leaf_size *= 2;
    }
}

/// What the header says besides the sections.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveInfo {
    /// Lowest and highest zoom with tiles.
    pub zooms: (u8, u8),
    /// `[west, south, east, north]` in degrees.
    pub bounds: [f64; 4],
    /// Where a viewer starts: `[lon, lat]` and zoom.
    pub center: ([f64; 2], u8),
    /// The JSON metadata (`vector_layers`, `name`, `attribution`...).
    pub metadata: String,
}

/// An archive of MVT tiles `(z, x, y, bytes)`, in any order; empty tiles are left out (a reader treats a
/// missing vector tile as empty), equal tiles stored once.
pub fn write_archive(mut tiles: Vec<(u8, u32, u32, Vec<u8>)>, info: &ArchiveInfo) -> Vec<u8> {
    tiles.retain(|t| !t.3.is_empty());
    let mut tiles: Vec<(u64, Vec<u8>)> = tiles
        .into_iter()
        .map(|(z, x, y, b)| (tile_id(z, x, y), b))
        .collect();
    tiles.sort_by_key(|t| t.0);
    tiles.dedup_by_key(|t| t.0);
    let mut data = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut stored: std::collections::HashMap<&[u8], (u64, u32)> = std::collections::HashMap::new();
    for (id, bytes) in &tiles {
        let (offset, length) = *stored.entry(bytes.as_slice()).or_insert_with(|| {
            let at = data.len() as u64;
            data.extend_from_slice(bytes);
            (at, bytes.len() as u32)
        });
        match entries.last_mut() {
            // The next tile id with the very same bytes lengthens the run.
            Some(last) if last.offset == offset && last.tile_id + u64::from(last.run_length) == *id => {
                last.run_length += 1;
            }
            _ => entries.push(Entry {
                tile_id: *id,
                offset,
                length,
                run_length: 1,
            }),
        }
    }
    let (root, leaves) = directories(&entries);
    let metadata = info.metadata.as_bytes();
    let root_at = HEADER_LEN as u64;
    let metadata_at = root_at + root.len() as u64;
    let leaves_at = metadata_at + metadata.len() as u64;
    let data_at = leaves_at + leaves.len() as u64;

    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(b"PMTiles");
    h.push(3);
    for v in [
        root_at,
        root.len() as u64,
        metadata_at,
        metadata.len() as u64,
        leaves_at,
        leaves.len() as u64,
        data_at,
        data.len() as u64,
        tiles.len() as u64,
        entries.len() as u64,
        stored.len() as u64,
    ] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    // Clustered; internal and tile compression none (1); tile type MVT (1).
    h.extend_from_slice(&[1, 1, 1, 1, info.zooms.0, info.zooms.1]);
    let e7 = |d: f64| ((d * 1e7).round() as i32).to_le_bytes();
    for d in info.bounds {
        h.extend_from_slice(&e7(d));
    }
    h.push(info.center.1);
    h.extend_from_slice(&e7(info.center.0[0]));
    h.extend_from_slice(&e7(info.center.0[1]));
    debug_assert_eq!(h.len(), HEADER_LEN);

    let mut out = h;
    out.extend_from_slice(&root);
    out.extend_from_slice(metadata);
    out.extend_from_slice(&leaves);
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
pub(crate) mod read {
    //! A reader of what the writer writes, for the tests: header fields, directories, tiles.

    use super::*;

    pub fn varint(b: &[u8], pos: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*pos];
            *pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    pub fn decode_directory(b: &[u8]) -> Vec<Entry> {
        let mut pos = 0;
        let n = varint(b, &mut pos) as usize;
        let mut entries = vec![
            Entry {
                tile_id: 0,
                offset: 0,
                length: 0,
                run_length: 0
            };
            n
        ];
        let mut last = 0;
        for e in entries.iter_mut() {
            last += varint(b, &mut pos);
            e.tile_id = last;
        }
        for e in entries.iter_mut() {
            e.run_length = varint(b, &mut pos) as u32;
        }
        for e in entries.iter_mut() {
            e.length = varint(b, &mut pos) as u32;
        }
        for i in 0..n {
            let v = varint(b, &mut pos);
            entries[i].offset = if v == 0 && i > 0 {
                entries[i - 1].offset + u64::from(entries[i - 1].length)
            } else {
                v - 1
            };
        }
        assert_eq!(pos, b.len(), "trailing bytes after a directory");
        entries
    }

    pub fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    /// The bytes of tile `z/x/y`, following leaf directories as a reader does.
    pub fn tile(archive: &[u8], z: u8, x: u32, y: u32) -> Option<Vec<u8>> {
        let id = tile_id(z, x, y);
        let (mut at, mut len) = (u64_at(archive, 8), u64_at(archive, 16));
        let leaves = u64_at(archive, 40);
        let data = u64_at(archive, 56);
        for _ in 0..4 {
            let dir = decode_directory(&archive[at as usize..(at + len) as usize]);
            let e = dir.iter().rev().find(|e| e.tile_id <= id)?;
            if e.run_length == 0 {
                (at, len) = (leaves + e.offset, u64::from(e.length));
                continue;
            }
            if id >= e.tile_id + u64::from(e.run_length) {
                return None;
            }
            let from = (data + e.offset) as usize;
            return Some(archive[from..from + e.length as usize].to_vec());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::read::*;
    use super::*;

    // Values of the specification's `zxyToTileId` (the reference reader's own function).
    #[test]
    fn tile_ids_follow_the_hilbert_curve_of_the_specification() {
        for (z, x, y, id) in [
            (0, 0, 0, 0u64),
            (1, 0, 0, 1),
            (1, 0, 1, 2),
            (1, 1, 1, 3),
            (1, 1, 0, 4),
            (2, 0, 0, 5),
            (3, 3, 5, 49),
            (12, 3345, 1712, 19_088_216),
            (14, 13371, 6845, 305_405_937),
            (20, 1_000_000, 500_000, 1_194_873_097_215),
        ] {
            assert_eq!(tile_id(z, x, y), id, "{z}/{x}/{y}");
        }
    }

    #[test]
    fn a_directory_round_trips_with_contiguous_and_shared_offsets() {
        let entries = vec![
            Entry {
                tile_id: 5,
                offset: 0,
                length: 10,
                run_length: 1,
            },
            Entry {
                tile_id: 6,
                offset: 10,
                length: 20,
                run_length: 3,
            },
            Entry {
                tile_id: 20,
                offset: 0,
                length: 10,
                run_length: 1,
            },
            Entry {
                tile_id: 1000,
                offset: 30,
                length: 5,
                run_length: 0,
            },
        ];
        let bytes = encode_directory(&entries);
        // count; id deltas; run lengths; lengths; offsets (+1, 0 = right after the previous one).
        assert_eq!(
            bytes,
            [4, 5, 1, 14, 0xd4, 0x07, 1, 3, 1, 0, 10, 20, 10, 5, 1, 0, 1, 31]
        );
        assert_eq!(decode_directory(&bytes), entries);
    }

    fn info() -> ArchiveInfo {
        ArchiveInfo {
            zooms: (0, 14),
            bounds: [114.5, 29.5, 115.5, 30.5],
            center: ([115.04, 30.2], 10),
            metadata: r#"{"name":"t"}"#.into(),
        }
    }

    #[test]
    fn the_header_names_every_section_and_equal_tiles_are_stored_once() {
        let tiles = vec![
            (1, 1, 0, b"b".to_vec()),
            (0, 0, 0, b"a".to_vec()),
            (1, 0, 0, b"same".to_vec()),
            (1, 0, 1, b"same".to_vec()),
            (1, 1, 1, Vec::new()),
        ];
        let a = write_archive(tiles, &info());
        assert_eq!(&a[..8], b"PMTiles\x03");
        assert_eq!(u64_at(&a, 8), HEADER_LEN as u64);
        let meta = u64_at(&a, 24) as usize;
        assert_eq!(&a[meta..meta + u64_at(&a, 32) as usize], br#"{"name":"t"}"#);
        // Addressed tiles, entries (1/0/0 and 1/0/1 are one run), contents.
        assert_eq!((u64_at(&a, 72), u64_at(&a, 80), u64_at(&a, 88)), (4, 3, 3));
        assert_eq!(&a[96..102], &[1, 1, 1, 1, 0, 14]);
        assert_eq!(i32::from_le_bytes(a[102..106].try_into().unwrap()), 1_145_000_000);
        assert_eq!(i32::from_le_bytes(a[123..127].try_into().unwrap()), 302_000_000);
        assert_eq!(a[118], 10);
        assert_eq!(u64_at(&a, 64), 6);
        assert_eq!(tile(&a, 0, 0, 0).as_deref(), Some(&b"a"[..]));
        assert_eq!(tile(&a, 1, 0, 1).as_deref(), Some(&b"same"[..]));
        assert_eq!(tile(&a, 1, 1, 0).as_deref(), Some(&b"b"[..]));
        assert_eq!(tile(&a, 1, 1, 1), None);
        assert_eq!(tile(&a, 2, 0, 0), None);
    }

    #[test]
    fn a_root_too_big_for_the_first_16_kib_is_split_into_leaves() {
        // 20,000 distinct tiles at zoom 10 (ids far apart enough to need several bytes each).
        let tiles: Vec<_> = (0..20_000u32)
            .map(|i| (10, (i * 7) % 1024, (i * 7) / 1024, i.to_le_bytes().to_vec()))
            .collect();
        let a = write_archive(tiles.clone(), &info());
        assert!(u64_at(&a, 48) > 0, "leaf directories written");
        assert!(HEADER_LEN as u64 + u64_at(&a, 16) <= ROOT_LIMIT as u64);
        for (z, x, y, b) in tiles.iter().step_by(97) {
            assert_eq!(tile(&a, *z, *x, *y).as_ref(), Some(b), "{z}/{x}/{y}");
        }
    }
}

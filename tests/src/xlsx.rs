//! Reading back the workbooks the API writes: the zip's entries and a sheet's cells.

use std::collections::BTreeMap;
use std::io::Read as _;

/// The entries of a zip archive by name, each inflated and its CRC checked.
pub fn unzip(zip: &[u8]) -> BTreeMap<String, String> {
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes([zip[i], zip[i + 1], zip[i + 2], zip[i + 3]]);
    // The end of the central directory: its entries and where they start.
    let end = (0..zip.len() - 3)
        .rev()
        .find(|&i| u32_at(i) == 0x0605_4b50)
        .expect("an end of central directory");
    let (count, mut at) = (u16_at(end + 10), u32_at(end + 16) as usize);
    let mut out = BTreeMap::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50, "a central directory entry");
        let (method, crc) = (u16_at(at + 10), u32_at(at + 16));
        let (packed, size) = (u32_at(at + 20) as usize, u32_at(at + 24) as usize);
        let (name_len, extra, comment) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let local = u32_at(at + 42) as usize;
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).expect("a UTF-8 name");
        at += 46 + name_len + extra + comment;
        assert_eq!(u32_at(local), 0x0403_4b50, "{name}: a local header");
        let data_at = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let raw = &zip[data_at..data_at + packed];
        let mut data = Vec::new();
        match method {
            0 => data.extend_from_slice(raw),
            8 => {
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut data)
                    .expect("inflating");
            }
            m => panic!("{name}: method {m}"),
        }
        assert_eq!(data.len(), size, "{name}: size");
        let mut c = flate2::Crc::new();
        c.update(&data);
        assert_eq!(c.sum(), crc, "{name}: CRC");
        out.insert(name, String::from_utf8(data).expect("UTF-8 XML"));
    }
    out
}

/// A sheet's cells by reference (`A1`), their text or number as written.
pub fn sheet_cells(xml: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in xml.split("<c r=\"").skip(1) {
        let (r, rest) = c.split_once('"').expect("a cell reference");
        let body = rest.split("</c>").next().unwrap_or_default();
        let value = if let Some(v) = body.split("<v>").nth(1) {
            v.split("</v>").next().unwrap_or_default()
        } else {
            let t = body.split("<t").nth(1).expect("an inline string");
            t.split_once('>')
                .map(|x| x.1)
                .unwrap_or_default()
                .split("</t>")
                .next()
                .unwrap_or_default()
        };
        out.insert(
            r.to_string(),
            value
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        );
    }
    out
}

//! A report as a table, and the two files it downloads as: CSV (UTF-8 with a byte-order mark, so that a
//! spreadsheet opens Chinese text as such) and XLSX (one sheet of SpreadsheetML in a zip, written here:
//! inline strings and plain numbers need no shared-string table, no styles and no library).

use std::io::Write as _;

use flate2::Crc;
use flate2::write::DeflateEncoder;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// Nothing (an odometer the terminal does not report).
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<f64> for Cell {
    fn from(n: f64) -> Self {
        Cell::Number(n)
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Self {
        Cell::Number(n as f64)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Empty, Into::into)
    }
}

/// A header row and the rows under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet's name (at most 31 characters in a workbook).
    pub sheet: String,
    /// Column titles.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
}

fn number(n: f64) -> String {
    // Whole numbers without a decimal point; the rest as Rust prints them (shortest round trip).
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

impl Table {
    /// The table as CSV: a byte-order mark, the header, one line per row, CRLF as RFC 4180 says.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("\u{feff}");
        let header = self.header.iter().map(|h| Cell::Text(h.clone()));
        let lines = std::iter::once(header.collect::<Vec<_>>()).chain(self.rows.iter().cloned());
        for row in lines {
            for (i, c) in row.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match c {
                    Cell::Text(s) => csv_field(&mut out, s),
                    Cell::Number(n) => out.push_str(&number(*n)),
                    Cell::Empty => {}
                }
            }
            out.push_str("\r\n");
        }
        out
    }

    /// The table as an XLSX workbook of one sheet.
    pub fn to_xlsx(&self) -> Vec<u8> {
        workbook_xlsx(std::slice::from_ref(self))
    }

    fn sheet_xml(&self) -> String {
        let mut x = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
        );
        let header: Vec<Cell> = self.header.iter().map(|h| Cell::Text(h.clone())).collect();
        for (r, row) in std::iter::once(&header).chain(&self.rows).enumerate() {
            x.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{}", column_name(c), r + 1);
                match cell {
                    Cell::Text(s) => x.push_str(&format!(
                        "<c r=\"{at}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>",
                        xml_escape(s)
                    )),
                    Cell::Number(n) if n.is_finite() => {
                        x.push_str(&format!("<c r=\"{at}\"><v>{}</v></c>", number(*n)))
                    }
                    Cell::Number(_) | Cell::Empty => {}
                }
            }
            x.push_str("</row>");
        }
        x.push_str("</sheetData></worksheet>");
        x
    }
}

/// `A`, `B`, ... `Z`, `AA`, ... for a column index from 0.
pub fn column_name(mut i: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// Text for XML (and HTML): the five escapes, and the control characters XML 1.0 cannot hold dropped.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// A sheet's name as a workbook holds it: at most 31 characters, none of []:*?/\, not empty.
fn sheet_name(sheet: &str, i: usize) -> String {
    let name: String = sheet
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    if name.is_empty() {
        format!("Sheet{}", i + 1)
    } else {
        name
    }
}

/// Several tables as one XLSX workbook, one sheet each, in order.
pub fn workbook_xlsx(tables: &[Table]) -> Vec<u8> {
    let n = tables.len();
    let mut zip = Zip::default();
    let overrides: String = (1..=n)
        .map(|i| {
            format!(
                "<Override PartName=\"/xl/worksheets/sheet{i}.xml\" \
                 ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
            )
        })
        .collect();
    let types = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" \
         ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
         {overrides}</Types>"
    );
    let sheets: String = tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "<sheet name=\"{}\" sheetId=\"{}\" r:id=\"rId{}\"/>",
                xml_escape(&sheet_name(&t.sheet, i)),
                i + 1,
                i + 1
            )
        })
        .collect();
    let workbook = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
         <sheets>{sheets}</sheets></workbook>"
    );
    let rels: String = (1..=n)
        .map(|i| {
            format!(
                "<Relationship Id=\"rId{i}\" \
                 Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" \
                 Target=\"worksheets/sheet{i}.xml\"/>"
            )
        })
        .collect();
    let workbook_rels = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{rels}</Relationships>"
    );
    zip.add("[Content_Types].xml", types.as_bytes());
    zip.add("_rels/.rels", ROOT_RELS.as_bytes());
    zip.add("xl/workbook.xml", workbook.as_bytes());
    zip.add("xl/_rels/workbook.xml.rels", workbook_rels.as_bytes());
    for (i, t) in tables.iter().enumerate() {
        zip.add(
            &format!("xl/worksheets/sheet{}.xml", i + 1),
            t.sheet_xml().as_bytes(),
        );
    }
    zip.finish()
}

const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>\
</Relationships>";

/// A zip archive written in memory: deflated entries, UTF-8 names, no timestamps (1980-01-01).
#[derive(Default)]
struct Zip {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl Zip {
    fn add(&mut self, name: &str, data: &[u8]) {
        let mut crc = Crc::new();
        crc.update(data);
        let mut enc = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let packed = enc
            .write_all(data)
            .and_then(|()| enc.finish())
            .unwrap_or_default();
        let offset = self.out.len() as u32;
        let (crc, packed_len, len) = (crc.sum(), packed.len() as u32, data.len() as u32);
        // Version 2.0, flag 11 (UTF-8 names), method 8 (deflate), time 0, date 1980-01-01.
        let common = |b: &mut Vec<u8>| {
            b.extend_from_slice(&20u16.to_le_bytes());
            b.extend_from_slice(&0x0800u16.to_le_bytes());
            b.extend_from_slice(&8u16.to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
            b.extend_from_slice(&0x0021u16.to_le_bytes());
            b.extend_from_slice(&crc.to_le_bytes());
            b.extend_from_slice(&packed_len.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
        };
        self.out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(&packed);
        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&20u16.to_le_bytes());
        common(c);
        // Comment length, disk, internal and external attributes, the local header's offset.
        c.extend_from_slice(&[0; 8]);
        c.extend_from_slice(&[0; 2]);
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let at = self.out.len() as u32;
        let size = self.central.len() as u32;
        self.out.append(&mut self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&[0; 4]);
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&size.to_le_bytes());
        self.out.extend_from_slice(&at.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            sheet: "鄂B1 2026-11".into(),
            header: vec!["车牌".into(), "km".into()],
            rows: vec![
                vec!["鄂B1, \"x\"".into(), 1.5.into()],
                vec!["<&>".into(), Cell::Empty],
            ],
        }
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            table().to_csv(),
            "\u{feff}车牌,km\r\n\"鄂B1, \"\"x\"\"\",1.5\r\n<&>,\r\n"
        );
    }

    #[test]
    fn columns_past_z_take_two_letters() {
        let names: Vec<String> = [0, 25, 26, 27, 51, 52, 701, 702].map(column_name).into();
        assert_eq!(names, ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }

    #[test]
    fn the_sheet_escapes_text_and_leaves_empty_cells_out() {
        let x = table().sheet_xml();
        assert!(x.contains(
            "<c r=\"A3\" t=\"inlineStr\"><is><t xml:space=\"preserve\">&lt;&amp;&gt;</t></is></c></row>"
        ));
        assert!(x.contains("<c r=\"B2\"><v>1.5</v></c>"));
        assert!(!x.contains("B3"));
    }

    #[test]
    fn a_workbook_holds_one_sheet_per_table() {
        let mut second = table();
        second.sheet = "第二[表]".into();
        let zip = workbook_xlsx(&[table(), second]);
        let has = |name: &str| zip.windows(name.len()).any(|w| w == name.as_bytes());
        assert!(has("xl/worksheets/sheet1.xml") && has("xl/worksheets/sheet2.xml"));
        assert!(!has("xl/worksheets/sheet3.xml"));
        assert_eq!(sheet_name("第二[表]", 1), "第二表");
        assert_eq!(sheet_name("", 2), "Sheet3");
    }
}

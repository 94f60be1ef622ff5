//! Reading the fuel files: issuers' statements (CSV in UTF-8 or GBK, XLSX, in any of the known
//! column layouts), the card registry's CSV and the stations' CSV or GeoJSON, each bad row named by
//! its line and column.

use serde::{Deserialize, Serialize};

use super::*;

/// The fields of a statement row, in the order of [`StatementFormat::columns`].
pub const FIELDS: [&str; 8] = [
    "card",
    "time",
    "station",
    "product",
    "litres",
    "unit_price",
    "amount",
    "plate",
];

/// How an issuer's statement names its columns: for each of [`FIELDS`], the headers it may use
/// (the last field, the plate, is optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementFormat {
    /// The format's id (`--format`).
    pub id: &'static str,
    /// Headers of each field.
    pub columns: [&'static [&'static str]; 8],
}

/// The statement formats known: Tianshu's own, Sinopec's and PetroChina's card-management exports.
pub const STATEMENT_FORMATS: [StatementFormat; 3] = [
    StatementFormat {
        id: "tianshu",
        columns: [
            &["card"],
            &["time"],
            &["station"],
            &["product"],
            &["litres"],
            &["unit_price"],
            &["amount"],
            &["plate"],
        ],
    },
    StatementFormat {
        id: "sinopec",
        columns: [
            &["卡号"],
            &["交易时间"],
            &["加油站", "油站名称"],
            &["油品", "油品名称"],
            &["数量", "数量(升)", "加油量"],
            &["单价", "单价(元)"],
            &["金额", "金额(元)", "交易金额"],
            &["车牌号", "车牌"],
        ],
    },
    StatementFormat {
        id: "petrochina",
        columns: [
            &["卡号", "加油卡号"],
            &["交易日期时间", "交易时间"],
            &["网点名称", "网点编码"],
            &["商品名称"],
            &["数量(升)", "数量"],
            &["单价(元/升)", "单价"],
            &["应付金额", "金额(元)"],
            &["车牌号码", "车牌号"],
        ],
    },
];

/// A statement's rows, read: the transactions with their lines, and the rows refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedStatement {
    /// The format read.
    pub format: &'static str,
    /// Each transaction with its 1-based line.
    pub rows: Vec<(usize, FuelTransaction)>,
    /// Each row that could not be read.
    pub errors: Vec<RowError>,
}

/// Which column of a header holds each field of `format`, or `None` when a required one is missing.
fn map_header(format: &StatementFormat, header: &[String]) -> Option<[Option<usize>; 8]> {
    let mut at = [None; 8];
    for (i, names) in format.columns.iter().enumerate() {
        at[i] = header.iter().position(|h| names.contains(&h.trim()));
        if at[i].is_none() && i < 7 {
            return None;
        }
    }
    Some(at)
}

/// Reads a statement given as rows of cells (`(line, cells)`, the first one the header), in `format`
/// or the first of [`STATEMENT_FORMATS`] whose headers it has. Each bad row is reported with its line
/// and column and left out; the others are read. `Err` when the header fits no format.
pub fn read_statement(
    mut rows: impl Iterator<Item = (usize, Vec<String>)>,
    format: Option<&str>,
) -> Result<ParsedStatement, RowError> {
    let Some((hline, header)) = rows.next() else {
        return Err(RowError::row(1, "the statement is empty: no header row"));
    };
    let header: Vec<String> = header
        .into_iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let candidates: Vec<&StatementFormat> = match format {
        Some(id) => {
            let f = STATEMENT_FORMATS.iter().find(|f| f.id == id).ok_or_else(|| {
                let known: Vec<&str> = STATEMENT_FORMATS.iter().map(|f| f.id).collect();
                RowError::row(
                    hline,
                    format!("unknown format {id:?}; known: {}", known.join(", ")),
                )
            })?;
            vec![f]
        }
        None => STATEMENT_FORMATS.iter().collect(),
    };
    let Some((fmt, at)) = candidates
        .into_iter()
        .find_map(|f| map_header(f, &header).map(|a| (f, a)))
    else {
        let expected: Vec<String> = STATEMENT_FORMATS
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.id,
                    f.columns[..7].iter().map(|c| c[0]).collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        return Err(RowError::row(
            hline,
            format!(
                "the header {:?} fits no statement format; expected the columns of {}",
                header.join(","),
                expected.join(" or ")
            ),
        ));
    };
    let mut out = ParsedStatement {
        format: fmt.id,
        ..ParsedStatement::default()
    };
    for (line, cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match read_row(line, &header, &at, &cells) {
            Ok(t) => out.rows.push((line, t)),
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

fn read_row(
    line: usize,
    header: &[String],
    at: &[Option<usize>; 8],
    cells: &[String],
) -> Result<FuelTransaction, RowError> {
    let cell = |f: usize| -> (&str, Option<String>) {
        match at[f] {
            Some(i) => (
                cells.get(i).map_or("", |c| c.trim()),
                Some(format!("{} ({})", header[i], i + 1)),
            ),
            None => ("", None),
        }
    };
    let err = |f: usize, reason: String| RowError {
        line,
        column: cell(f).1,
        reason,
    };
    let required = |f: usize| -> Result<&str, RowError> {
        let (v, _) = cell(f);
        if v.is_empty() {
            Err(err(f, format!("{} is empty", FIELDS[f])))
        } else {
            Ok(v)
        }
    };
    let card = required(0)?;
    if !card.chars().all(|c| c.is_ascii_alphanumeric()) || card.len() > 32 {
        return Err(err(
            0,
            format!("card number {card:?} must be up to 32 letters or digits"),
        ));
    }
    let time = parse_local_time(required(1)?).map_err(|e| err(1, e))?;
    let station = required(2)?.to_string();
    let product = Product::parse(required(3)?).ok_or_else(|| {
        err(
            3,
            format!(
                "unknown product {:?}; expected {}",
                cell(3).0,
                Product::expected()
            ),
        )
    })?;
    let positive = |f: usize| -> Result<i64, RowError> {
        let v = parse_hundredths(required(f)?).map_err(|e| err(f, e))?;
        if v <= 0 {
            return Err(err(f, format!("{} {} must be positive", FIELDS[f], cell(f).0)));
        }
        Ok(v)
    };
    let litres_cl = positive(4)?;
    let unit_price_fen = positive(5)?;
    let amount_fen = positive(6)?;
    // The amount is litres × price, rounded to the fen by the pump; a larger gap is a garbled row.
    let expected = (litres_cl as i128 * unit_price_fen as i128 + 50) / 100;
    let slack = (expected / 100).max(2);
    if (amount_fen as i128 - expected).abs() > slack {
        return Err(err(
            6,
            format!(
                "amount {} is not litres {} × unit price {} = {}",
                format_hundredths(amount_fen),
                format_hundredths(litres_cl),
                format_hundredths(unit_price_fen),
                format_hundredths(expected as i64)
            ),
        ));
    }
    let plate = Some(cell(7).0.to_string()).filter(|p| !p.is_empty());
    Ok(FuelTransaction {
        card: card.to_string(),
        time,
        station,
        product,
        litres_cl,
        unit_price_fen,
        amount_fen,
        plate,
    })
}

/// The text encodings a statement may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    /// UTF-8 (with or without a byte-order mark).
    Utf8,
    /// GBK / GB18030, as Chinese spreadsheets save CSV.
    Gbk,
}

/// Decodes a text file: in `encoding`, or UTF-8 when it is valid UTF-8 and GBK (GB18030) otherwise.
/// Text that is not valid in the encoding asked for is an error naming its line.
pub fn decode_text(bytes: &[u8], encoding: Option<TextEncoding>) -> Result<(String, TextEncoding), RowError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let line_of = |offset: usize| {
        bytes[..offset.min(bytes.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    };
    match (std::str::from_utf8(bytes), encoding) {
        (Ok(s), None | Some(TextEncoding::Utf8)) => Ok((s.to_string(), TextEncoding::Utf8)),
        (Err(e), Some(TextEncoding::Utf8)) => Err(RowError::row(
            line_of(e.valid_up_to()),
            "the text is not valid UTF-8 (a GBK file? say --encoding gbk)",
        )),
        (_, None | Some(TextEncoding::Gbk)) => {
            let (text, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                let at = text.find('\u{fffd}').unwrap_or(0);
                let line = text[..at].matches('\n').count() + 1;
                return Err(RowError::row(line, "the text is neither UTF-8 nor GBK"));
            }
            Ok((text.into_owned(), TextEncoding::Gbk))
        }
    }
}

/// The rows of a CSV text as `(line, cells)`; a row the CSV reader cannot split is an error row.
pub fn csv_rows(text: &str) -> Vec<Result<(usize, Vec<String>), RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| match r {
            Ok(rec) => Ok((
                rec.position().map_or(0, |p| p.line() as usize),
                rec.iter().map(str::to_string).collect(),
            )),
            Err(e) => Err(RowError::row(
                e.position().map_or(0, |p| p.line() as usize),
                e.to_string(),
            )),
        })
        .collect()
}

/// Reads a CSV statement (already decoded): its rows, and rows the CSV reader could not split
/// counted among the errors.
pub fn read_statement_csv(text: &str, format: Option<&str>) -> Result<ParsedStatement, RowError> {
    let mut broken = Vec::new();
    let rows: Vec<(usize, Vec<String>)> = csv_rows(text)
        .into_iter()
        .filter_map(|r| r.map_err(|e| broken.push(e)).ok())
        .collect();
    let mut parsed = read_statement(rows.into_iter(), format)?;
    parsed.errors.extend(broken);
    parsed.errors.sort_by_key(|e| e.line);
    Ok(parsed)
}

/// Reads an XLSX statement (its first sheet): each sheet row is a line (the sheet's own row number);
/// date cells are read as China time. A file that is not a readable workbook (a truncated upload) is an
/// error naming what the reader found.
pub fn read_statement_xlsx(bytes: &[u8], format: Option<&str>) -> Result<ParsedStatement, RowError> {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let broken = |e: String| RowError::row(1, format!("not a readable XLSX workbook: {e}"));
    let mut book: Xlsx<std::io::Cursor<&[u8]>> = open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| broken(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| broken("it has no sheet".into()))?
        .map_err(|e| broken(e.to_string()))?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let rows = range.rows().enumerate().map(move |(i, cells)| {
        let mut out = vec![String::new(); first_col];
        out.extend(cells.iter().map(|c| {
            match c {
                Data::Empty => String::new(),
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                Data::Int(v) => v.to_string(),
                Data::Float(v) => v.to_string(),
                Data::Bool(v) => v.to_string(),
                Data::DateTime(d) => excel_serial_time(d.as_f64())
                    .map(|t| t.to_china().format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| d.as_f64().to_string()),
                Data::Error(e) => format!("#{e:?}"),
            }
        }));
        (first_row + i + 1, out)
    });
    read_statement(rows, format)
}

/// One row of a card import (`unit,number,issuer,plate,state,state_date,state_reason,limit_fill_yuan,
/// limit_month_yuan`; the last five may be empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardRecord {
    /// The unit's path (`黄石市/市委办公室`).
    pub unit: String,
    /// Card number.
    pub number: String,
    /// Issuer.
    pub issuer: Issuer,
    /// The plate of the car it is bound to; `None` for a pool card.
    pub plate: Option<String>,
    /// State (active when empty).
    pub state: CardState,
    /// The date the state took effect.
    pub state_date: Option<NaiveDate>,
    /// Why.
    pub state_reason: String,
    /// Per-fill limit, fen.
    pub limit_fill_fen: Option<i64>,
    /// Monthly limit, fen.
    pub limit_month_fen: Option<i64>,
}

/// The header of a card file.
pub const CARD_HEADER: [&str; 9] = [
    "unit",
    "number",
    "issuer",
    "plate",
    "state",
    "state_date",
    "state_reason",
    "limit_fill_yuan",
    "limit_month_yuan",
];

/// The header of a station file.
pub const STATION_HEADER: [&str; 6] = ["code", "name", "brand", "lon", "lat", "datum"];

/// Checks the header of an imported registry file and gives each row's cells with a function that
/// names a column for an error.
pub(crate) fn registry_rows<'h>(
    text: &str,
    header: &'h [&'h str],
) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    let rows = csv_rows(text);
    let mut out = Vec::with_capacity(rows.len());
    let mut iter = rows.into_iter();
    match iter.next() {
        Some(Ok((line, h))) => {
            let h: Vec<String> = h
                .iter()
                .map(|c| c.trim_start_matches('\u{feff}').trim().to_string())
                .collect();
            if h != header {
                return Err(RowError::row(
                    line,
                    format!("header must be {:?}, found {:?}", header.join(","), h.join(",")),
                ));
            }
        }
        Some(Err(e)) => return Err(e),
        None => return Err(RowError::row(1, "the file is empty: no header row")),
    }
    for r in iter {
        let (line, cells) = r?;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.push((line, cells.into_iter().map(|c| c.trim().to_string()).collect()));
    }
    Ok(out)
}

pub(crate) fn column_err(header: &[&str], line: usize, i: usize, reason: String) -> RowError {
    RowError {
        line,
        column: Some(format!("{} ({})", header[i], i + 1)),
        reason,
    }
}

/// Parses a card file; the first bad row is reported with its line and column and nothing is read
/// (a card import is all or nothing). A number given twice is an error naming both lines.
pub fn parse_cards_csv(text: &str) -> Result<Vec<(usize, CardRecord)>, RowError> {
    let mut out: Vec<(usize, CardRecord)> = Vec::new();
    for (line, c) in registry_rows(text, &CARD_HEADER)? {
        let get = |i: usize| c.get(i).map_or("", String::as_str);
        let bad = |i: usize, reason: String| column_err(&CARD_HEADER, line, i, reason);
        if get(0).is_empty() || get(0).split('/').any(|s| s.trim().is_empty()) {
            return Err(bad(
                0,
                format!("unit {:?} is empty or has an empty name in its path", get(0)),
            ));
        }
        let number = get(1);
        if number.is_empty() || number.len() > 32 || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(
                1,
                format!("card number {number:?} must be 1 to 32 letters or digits"),
            ));
        }
        if let Some((l, _)) = out.iter().find(|(_, r)| r.number == number) {
            return Err(bad(1, format!("card {number} is also on line {l}")));
        }
        let issuer = Issuer::parse(get(2)).ok_or_else(|| {
            bad(
                2,
                format!("unknown issuer {:?}; expected {}", get(2), Issuer::expected()),
            )
        })?;
        let state = if get(4).is_empty() {
            CardState::Active
        } else {
            CardState::parse(get(4)).ok_or_else(|| {
                bad(
                    4,
                    format!("unknown state {:?}; expected {}", get(4), CardState::expected()),
                )
            })?
        };
        let state_date = match get(5) {
            "" => None,
            d => Some(
                NaiveDate::parse_from_str(&d.replace('/', "-"), "%Y-%m-%d")
                    .map_err(|_| bad(5, format!("{d:?} is not a date like 2026-03-05")))?,
            ),
        };
        let money = |i: usize| -> Result<Option<i64>, RowError> {
            match get(i) {
                "" => Ok(None),
                v => match parse_hundredths(v) {
                    Ok(f) if f > 0 => Ok(Some(f)),
                    Ok(_) => Err(bad(i, format!("{v} must be positive"))),
                    Err(e) => Err(bad(i, e)),
                },
            }
        };
        let record = CardRecord {
            unit: get(0).to_string(),
            number: number.to_string(),
            issuer,
            plate: Some(get(3).to_string()).filter(|p| !p.is_empty()),
            state,
            state_date,
            state_reason: get(6).to_string(),
            limit_fill_fen: money(7)?,
            limit_month_fen: money(8)?,
        };
        if record.state == CardState::Cancelled && record.state_reason.is_empty() {
            return Err(bad(6, "a cancelled card needs a state_reason".into()));
        }
        out.push((line, record));
    }
    Ok(out)
}

fn check_station(line: usize, code: &str, name: &str, lon: f64, lat: f64) -> Result<(), RowError> {
    if code.is_empty() || name.is_empty() {
        return Err(RowError::row(line, "a station needs a code and a name"));
    }
    if !((73.0..=136.0).contains(&lon) && (3.0..=54.0).contains(&lat)) {
        return Err(RowError::row(
            line,
            format!("position {lon},{lat} is not in China (lon 73..136, lat 3..54)"),
        ));
    }
    Ok(())
}

/// Parses a station CSV (`code,name,brand,lon,lat,datum`, datum `wgs84` or `gcj02`); positions are
/// converted to WGS-84. The first bad row is reported with its line and column; nothing is read.
pub fn parse_stations_csv(text: &str) -> Result<Vec<Station>, RowError> {
    let mut out = Vec::new();
    for (line, c) in registry_rows(text, &STATION_HEADER)? {
        let get = |i: usize| c.get(i).map_or("", String::as_str);
        let bad = |i: usize, reason: String| column_err(&STATION_HEADER, line, i, reason);
        let num = |i: usize| {
            get(i)
                .parse::<f64>()
                .map_err(|_| bad(i, format!("{:?} is not a number", get(i))))
        };
        let (lon, lat) = (num(3)?, num(4)?);
        let datum = Datum::parse(get(5))
            .ok_or_else(|| bad(5, format!("datum {:?} must be wgs84 or gcj02", get(5))))?;
        check_station(line, get(0), get(1), lon, lat)?;
        out.push(Station {
            code: get(0).to_string(),
            name: get(1).to_string(),
            brand: get(2).to_string(),
            position: datum.to_wgs84(lon, lat),
        });
    }
    Ok(out)
}

/// Parses a GeoJSON FeatureCollection of station points (properties `code`, `name`, `brand`, and
/// `datum`, `wgs84` by default as GeoJSON says, or `gcj02`). A bad feature is reported by its 1-based
/// position in the collection (as its line).
pub fn parse_stations_geojson(text: &str) -> Result<Vec<Station>, RowError> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| RowError::row(e.line(), format!("not JSON: {e}")))?;
    let features = doc
        .get("features")
        .and_then(|f| f.as_array())
        .ok_or_else(|| RowError::row(1, "expected a GeoJSON FeatureCollection"))?;
    let mut out = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let n = i + 1;
        let bad = |r: String| RowError::row(n, format!("feature {n}: {r}"));
        let coords = f
            .pointer("/geometry/coordinates")
            .and_then(|c| c.as_array())
            .filter(|_| f.pointer("/geometry/type").and_then(|t| t.as_str()) == Some("Point"))
            .ok_or_else(|| bad("needs a Point geometry".into()))?;
        let (Some(lon), Some(lat)) = (
            coords.first().and_then(|v| v.as_f64()),
            coords.get(1).and_then(|v| v.as_f64()),
        ) else {
            return Err(bad("coordinates must be [lon, lat]".into()));
        };
        let prop = |k: &str| {
            f.pointer(&format!("/properties/{k}"))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let datum = match prop("datum").as_str() {
            "" => Datum::Wgs84,
            d => Datum::parse(d).ok_or_else(|| bad(format!("datum {d:?} must be wgs84 or gcj02")))?,
        };
        let (code, name) = (prop("code"), prop("name"));
        let code = if code.is_empty() { name.clone() } else { code };
        check_station(n, &code, &name, lon, lat).map_err(|e| bad(e.reason))?;
        out.push(Station {
            code,
            name,
            brand: prop("brand"),
            position: datum.to_wgs84(lon, lat),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_reads_its_good_rows_and_names_each_bad_one_by_line_and_column() {
        let text = "卡号,交易时间,加油站,油品,数量,单价,金额\n\
                    1000113300001234,2026-03-05 08:12:00,黄石团城山加油站,92#,40.00,7.50,300.00\n\
                    1000113300001234,2026-03-0x 08:12:00,黄石团城山加油站,92#,40.00,7.50,300.00\n\
                    1000113300001234,2026-03-06 08:12:00,黄石团城山加油站,92#,-4,7.50,300.00\n\
                    1000113300001234,2026-03-07 08:12:00,黄石团城山加油站,93#,40,7.50,300.00\n\
                    1000113300001234,2026-03-08 08:12:00,黄石团城山加油站,0#,40,7.50,500.00\n";
        let p = read_statement_csv(text, None).unwrap();
        assert_eq!(p.format, "sinopec");
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].0, 2);
        assert_eq!(p.rows[0].1.litres_cl, 4000);
        let msgs: Vec<String> = p.errors.iter().map(ToString::to_string).collect();
        assert!(msgs[0].starts_with("line 3, column 交易时间 (2):"), "{msgs:?}");
        assert!(
            msgs[1].starts_with("line 4, column 数量 (5):") && msgs[1].contains("positive"),
            "{msgs:?}"
        );
        assert!(msgs[2].starts_with("line 5, column 油品 (4):"), "{msgs:?}");
        assert!(msgs[3].starts_with("line 6, column 金额 (7):"), "{msgs:?}");
        let e = read_statement_csv("a,b\n1,2\n", None).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("fits no statement format"), "{e}");
    }

    #[test]
    fn gbk_text_is_detected_and_a_wrong_encoding_named() {
        let (bytes, _, _) = encoding_rs::GBK.encode("卡号,交易时间\n1,2\n");
        let (text, enc) = decode_text(&bytes, None).unwrap();
        assert_eq!(enc, TextEncoding::Gbk);
        assert!(text.starts_with("卡号"));
        let e = decode_text(&bytes, Some(TextEncoding::Utf8)).unwrap_err();
        assert_eq!(e.line, 1);
        let (text, enc) = decode_text("\u{feff}卡号".as_bytes(), None).unwrap();
        assert_eq!((text.as_str(), enc), ("卡号", TextEncoding::Utf8));
    }

    #[test]
    fn card_files_name_the_bad_cell() {
        let ok = "unit,number,issuer,plate,state,state_date,state_reason,limit_fill_yuan,limit_month_yuan\n\
                  黄石市/市委办公室,1000113300001234,中石化,鄂B12345,,,,500,3000\n\
                  黄石市/市委办公室,9000000000000001,petrochina,,cancelled,2026-02-01,人员调离,,\n";
        let cards = parse_cards_csv(ok).unwrap();
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[0].1.limit_fill_fen, Some(50_000));
        assert_eq!(cards[1].1.state, CardState::Cancelled);
        let dup = format!("{ok}黄石市,1000113300001234,sinopec,,,,,,\n");
        let e = parse_cards_csv(&dup).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (4, Some("number (2)")), "{e}");
        let bad = format!("{ok}黄石市,1,shell,,,,,,\n");
        assert_eq!(
            parse_cards_csv(&bad).unwrap_err().column.as_deref(),
            Some("issuer (3)")
        );
    }

    #[test]
    fn stations_in_gcj02_are_stored_in_wgs84() {
        let text = "code,name,brand,lon,lat,datum\nS1,团城山站,中国石化,115.0410,30.2050,gcj02\nS2,下陆站,中国石油,114.96,30.18,wgs84\n";
        let s = parse_stations_csv(text).unwrap();
        // GCJ-02 is shifted by a few hundred metres around Huangshi; the stored point is the true one.
        let shift = s[0].position.distance_m(LonLat::new(115.0410, 30.2050));
        assert!((200.0..800.0).contains(&shift), "{shift}");
        assert_eq!(s[1].position, LonLat::new(114.96, 30.18));
        let e = parse_stations_csv("code,name,brand,lon,lat,datum\nS1,x,y,115,30,bd09\n").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("datum (6)"));
        let gj = r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[115.04,30.2]},"properties":{"code":"S1","name":"团城山站","datum":"gcj02"}}]}"#;
        let s = parse_stations_geojson(gj).unwrap();
        assert_eq!(s[0].code, "S1");
        assert!(s[0].position.lon < 115.04);
    }
}

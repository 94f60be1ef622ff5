//! The registry's records as imported and edited: registry files (`unit,plate,phone,terminal_id,
//! vehicle_class` as CSV, or a JSON array of objects with the same keys), the checks every import makes
//! before touching the database (so that a bad row is reported with its line and nothing is
//! half-imported), and the one-record changes an administrator makes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Edition, Phone, Timestamp, UnitId, VehicleClass, VehicleId};

/// One row of a registry import (`unit,plate,phone,terminal_id,vehicle_class`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRecord {
    /// Unit name; a `/`-separated path (`黄石市/市委办公室`) places it in the tree.
    pub unit: String,
    /// Licence plate.
    pub plate: String,
    /// Terminal phone number.
    pub phone: Phone,
    /// Terminal id as the terminal will send it in 0x0100.
    pub terminal_id: String,
    /// Vehicle class.
    pub vehicle_class: VehicleClass,
    /// The car's marking number (标识号); absent: kept as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marking: Option<String>,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Units created.
    pub units_created: u64,
    /// Vehicles created or updated.
    pub vehicles_upserted: u64,
    /// Terminals created or updated.
    pub terminals_upserted: u64,
}

/// A driver sign-in or sign-out (0x0702).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverEvent {
    /// The vehicle.
    pub vehicle: VehicleId,
    /// The terminal that reported it.
    pub phone: Phone,
    /// When the card was inserted or removed (terminal time).
    pub time: Timestamp,
    /// True for sign-in (card inserted), false for sign-out.
    pub signed_in: bool,
    /// Driver name, when read.
    pub name: Option<String>,
    /// Qualification certificate number, when read.
    pub certificate: Option<String>,
}

/// Changes to a unit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitChange {
    /// New name.
    pub name: Option<String>,
    /// New parent (`Some(None)`: make it a root).
    pub parent: Option<Option<UnitId>>,
    /// Whether re-registrations of its cars' terminals that cannot be proven wait for approval.
    #[serde(default)]
    pub reregistration_approval: Option<bool>,
}

/// Changes to a vehicle; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleChange {
    /// New plate.
    pub plate: Option<String>,
    /// New unit.
    pub unit: Option<UnitId>,
    /// New class.
    pub class: Option<VehicleClass>,
    /// New marking number; empty: none any more.
    pub marking: Option<String>,
}

/// A terminal to provision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTerminal {
    /// Phone number in the JT/T 808 header.
    pub phone: Phone,
    /// Terminal id as the terminal will send it in 0x0100.
    pub terminal_id: String,
    /// The vehicle it is fitted to.
    pub vehicle: Option<VehicleId>,
    /// The edition it speaks, when known before it registers.
    pub edition: Option<Edition>,
}

/// Changes to a terminal; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalChange {
    /// New terminal id.
    pub terminal_id: Option<String>,
    /// New binding (`Some(None)`: unbind). A different vehicle clears the auth code.
    pub vehicle: Option<Option<VehicleId>>,
    /// Clear the auth code even without a rebinding: the terminal must register again.
    pub reset_auth_code: bool,
    /// New clock offset (seconds added to its fix times; see [`crate::clock::check_clock_offset`]).
    #[serde(default)]
    pub clock_offset_secs: Option<i32>,
}

/// The path of a unit placed below `parent_path` (or at the root).
pub fn child_path(parent_path: Option<&str>, name: &str) -> String {
    match parent_path {
        Some(p) => format!("{p}/{name}"),
        None => name.to_string(),
    }
}

/// What follows `old` in `path` when `path` is `old` or below it.
pub fn below<'p>(path: &'p str, old: &str) -> Option<&'p str> {
    path.strip_prefix(old)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Rewrites the `"unit"` path of a JSON document (a depot's fence) from below `old` to below `new`;
/// whether it named a unit there.
pub fn move_unit_path(body: &mut serde_json::Value, old: &str, new: &str) -> bool {
    let path = body.get("unit").and_then(|u| u.as_str());
    let Some(rest) = path.and_then(|u| below(u, old)) else {
        return false;
    };
    body["unit"] = format!("{new}{rest}").into();
    true
}

/// A record that cannot be imported; `line` is 1-based when the input came from a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct InvalidRecord {
    /// The line of the offending record in the input file, when known.
    pub line: Option<usize>,
    /// What is wrong with it.
    pub reason: String,
}

type Result<T, E = InvalidRecord> = std::result::Result<T, E>;

/// The CSV header, in order.
const HEADER: [&str; 5] = ["unit", "plate", "phone", "terminal_id", "vehicle_class"];

/// The names of a `/`-separated unit path, trimmed.
pub fn unit_path_segments(unit: &str) -> Vec<&str> {
    unit.split('/').map(str::trim).collect()
}

fn invalid(line: Option<usize>, reason: impl Into<String>) -> InvalidRecord {
    InvalidRecord {
        line,
        reason: reason.into(),
    }
}

/// Checks a licence plate (imports and the API share it); returns it trimmed.
pub fn check_plate(plate: &str) -> Result<&str, String> {
    let p = plate.trim();
    if p.is_empty() {
        return Err("plate is empty".into());
    }
    if p.chars().count() > 16 {
        return Err(format!("plate {p:?} is longer than 16 characters"));
    }
    Ok(p)
}

/// Checks a car's marking number (标识号): at most 20 characters, letters, digits, `-` and the like
/// (no separators a file or a list would split on); returns it trimmed, `None` when empty.
pub fn check_marking(marking: &str) -> Result<Option<&str>, String> {
    let m = marking.trim();
    if m.is_empty() {
        return Ok(None);
    }
    if m.chars().count() > 20 {
        return Err(format!("marking {m:?} is longer than 20 characters"));
    }
    if m.chars().any(|c| c.is_control() || matches!(c, ',' | ';' | '"')) {
        return Err(format!("marking {m:?} holds a separator"));
    }
    Ok(Some(m))
}

/// Checks a terminal id as the terminal sends it in 0x0100; returns it trimmed.
pub fn check_terminal_id(id: &str) -> Result<&str, String> {
    let id = id.trim();
    if id.is_empty() || id.chars().count() > 30 {
        return Err(format!("terminal_id {id:?} must have 1 to 30 characters"));
    }
    Ok(id)
}

/// Checks one unit's own name (one segment of a unit path); returns it trimmed.
pub fn check_unit_name(name: &str) -> Result<&str, String> {
    let n = name.trim();
    if n.is_empty() {
        return Err("name is empty".into());
    }
    if n.contains('/') {
        return Err(format!("name {n:?} contains '/', which separates unit paths"));
    }
    if n.chars().count() > 100 {
        return Err(format!("name {n:?} is longer than 100 characters"));
    }
    Ok(n)
}

/// Checks one record on its own.
fn check_record(r: &RegistryRecord, line: Option<usize>) -> Result<()> {
    let segments = unit_path_segments(&r.unit);
    if segments.iter().any(|s| s.is_empty()) {
        return Err(invalid(
            line,
            format!("unit {:?} has an empty name in its path", r.unit),
        ));
    }
    check_plate(&r.plate).map_err(|e| invalid(line, e))?;
    check_terminal_id(&r.terminal_id).map_err(|e| invalid(line, e))?;
    if let Some(m) = &r.marking {
        check_marking(m).map_err(|e| invalid(line, e))?;
    }
    Ok(())
}

/// Checks records together: a plate names one vehicle (one unit, one class), a phone one terminal.
/// `lines[i]` is the file line of `records[i]`, when known.
fn check_consistent(records: &[RegistryRecord], lines: &[Option<usize>]) -> Result<()> {
    let mut plates: HashMap<&str, usize> = HashMap::new();
    let mut phones: HashMap<Phone, usize> = HashMap::new();
    let at = |i: usize| lines.get(i).copied().flatten();
    let name = |i: usize| at(i).map_or_else(|| format!("record {}", i + 1), |l| format!("line {l}"));
    for (i, r) in records.iter().enumerate() {
        check_record(r, at(i))?;
        if let Some(&j) = plates.get(r.plate.trim()) {
            let first = &records[j];
            if unit_path_segments(&first.unit) != unit_path_segments(&r.unit)
                || first.vehicle_class != r.vehicle_class
            {
                return Err(invalid(
                    at(i),
                    format!(
                        "plate {} is also on {} with another unit or class",
                        r.plate.trim(),
                        name(j)
                    ),
                ));
            }
        } else {
            plates.insert(r.plate.trim(), i);
        }
        if let Some(&j) = phones.get(&r.phone) {
            let first = &records[j];
            if first.plate.trim() != r.plate.trim() || first.terminal_id.trim() != r.terminal_id.trim() {
                return Err(invalid(
                    at(i),
                    format!("phone {} is also on {}", r.phone, name(j)),
                ));
            }
        } else {
            phones.insert(r.phone, i);
        }
    }
    Ok(())
}

/// Checks records handed to an import (without file lines).
pub fn validate_records(records: &[RegistryRecord]) -> Result<()> {
    check_consistent(records, &[])
}

/// Parses a registry CSV with the header `unit,plate,phone,terminal_id,vehicle_class` (and, optionally,
/// `marking`: the car's marking number, an empty cell none); the first bad row is reported with its
/// 1-based line number.
pub fn parse_registry_csv(text: &str) -> Result<Vec<RegistryRecord>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| invalid(Some(1), e.to_string()))?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    let with_marking = names.len() == HEADER.len() + 1 && names.last() == Some(&"marking");
    if names[..names.len().min(HEADER.len())] != HEADER
        || names.len() < HEADER.len()
        || (names.len() > HEADER.len() && !with_marking)
    {
        return Err(invalid(
            Some(1),
            format!(
                "header must be {:?} (optionally followed by \"marking\"), found {:?}",
                HEADER.join(","),
                names.join(",")
            ),
        ));
    }
    let mut records = Vec::new();
    let mut lines = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            invalid(line, e.to_string())
        })?;
        let line = row.position().map(|p| p.line() as usize);
        let field = |i: usize| row.get(i).unwrap_or_default();
        let phone = Phone::parse(field(2)).map_err(|e| invalid(line, format!("phone: {e}")))?;
        let vehicle_class: VehicleClass = field(4)
            .parse()
            .map_err(|e| invalid(line, format!("vehicle_class: {e}")))?;
        records.push(RegistryRecord {
            unit: field(0).to_string(),
            plate: field(1).to_string(),
            phone,
            terminal_id: field(3).to_string(),
            vehicle_class,
            marking: with_marking.then(|| field(5).to_string()),
        });
        lines.push(line);
    }
    check_consistent(&records, &lines)?;
    Ok(records)
}

/// Parses a JSON array of registry records; the first bad record is reported with the line it starts on.
pub fn parse_registry_json(text: &str) -> Result<Vec<RegistryRecord>> {
    let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(text)
        .map_err(|e| invalid(Some(e.line()), format!("expected a JSON array of objects: {e}")))?;
    let mut records = Vec::with_capacity(raw.len());
    let mut lines = Vec::with_capacity(raw.len());
    for item in raw {
        // The raw value borrows from `text`, so its offset there gives its line.
        let offset = (item.get().as_ptr() as usize)
            .saturating_sub(text.as_ptr() as usize)
            .min(text.len());
        let line = Some(text.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() + 1);
        let record: RegistryRecord =
            serde_json::from_str(item.get()).map_err(|e| invalid(line, e.to_string()))?;
        records.push(record);
        lines.push(line);
    }
    check_consistent(&records, &lines)?;
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_parse_and_bad_rows_name_their_line() {
        let ok = "unit,plate,phone,terminal_id,vehicle_class\n黄石市/市委办公室,鄂B12345,013800138000,T000001,general\n\
                  黄石市/公安局,鄂B0001警,13800138001,T000002,law_enforcement\n";
        let records = parse_registry_csv(ok).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].phone, Phone(13_800_138_000));
        assert_eq!(records[1].vehicle_class, VehicleClass::LawEnforcement);

        let bad_class = format!("{ok}黄石市,鄂B99999,13800138009,T9,limousine\n");
        let e = parse_registry_csv(&bad_class).unwrap_err();
        assert!(matches!(e, InvalidRecord { line: Some(4), .. }), "{e}");
        assert!(e.to_string().starts_with("line 4: vehicle_class"), "{e}");

        let dup_phone = format!("{ok}黄石市,鄂B99999,13800138000,T9,general\n");
        let e = parse_registry_csv(&dup_phone).unwrap_err();
        assert!(
            e.to_string().contains("line 4") && e.to_string().contains("line 2"),
            "{e}"
        );

        let e = parse_registry_csv("unit,plate,phone\nx,y,1\n").unwrap_err();
        assert!(matches!(e, InvalidRecord { line: Some(1), .. }), "{e}");
        let e = parse_registry_csv("unit,plate,phone,terminal_id,vehicle_class\n黄石市//x,P,1,T,general\n")
            .unwrap_err();
        assert!(matches!(e, InvalidRecord { line: Some(2), .. }), "{e}");
    }

    #[test]
    fn json_records_name_their_line() {
        let text = r#"[
  {"unit": "黄石市", "plate": "鄂B1", "phone": "1", "terminal_id": "T1", "vehicle_class": "general"},
  {"unit": "黄石市", "plate": "鄂B2", "phone": "2", "terminal_id": "T2",
   "vehicle_class": "special"},
  {"unit": "黄石市", "plate": "鄂B3", "phone": "x3", "terminal_id": "T3", "vehicle_class": "general"}
]"#;
        let e = parse_registry_json(text).unwrap_err();
        assert!(matches!(e, InvalidRecord { line: Some(5), .. }), "{e}");
        let fixed = text.replace("x3", "3");
        let records = parse_registry_json(&fixed).unwrap();
        assert_eq!(records[1].vehicle_class, VehicleClass::Special);
    }
}

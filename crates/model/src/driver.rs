//! Drivers (驾驶员) as the registry keeps them: who drives a unit's cars, with the number of their
//! qualification certificate (从业资格证), the number a terminal's card sign-in (0x0702) reports. The
//! checks every write makes live here (with the licence class and whether they are dispatched, for the
//! office's pool); the store applies them (and keeps certificates unique). A driver file (CSV, one driver
//! a row, [`DRIVER_HEADER`]) is read here too, each bad row named by its line and column.

use serde::{Deserialize, Serialize};

use crate::UnitId;
use crate::carpool::LicenceClass;
use crate::fuel::{RowError, column_err, registry_rows};

/// A registered driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    /// Registry id.
    pub id: i64,
    /// What is recorded of them.
    #[serde(flatten)]
    pub fields: DriverFields,
}

/// A driver's recorded fields, as created or replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverFields {
    /// Full name, 1 to 50 characters.
    pub name: String,
    /// Qualification certificate number: 1 to 40 letters, digits or `-`, unique in the registry.
    pub certificate: String,
    /// Mobile phone: 5 to 20 digits, optionally after a `+`.
    #[serde(default)]
    pub phone: Option<String>,
    /// The unit whose cars they drive.
    pub unit: UnitId,
    /// Their driving licence's class (准驾车型); a driver without one on record is not dispatched.
    #[serde(default)]
    pub licence: Option<LicenceClass>,
    /// Whether they are dispatched at all (an inactive driver stays on record).
    #[serde(default = "yes")]
    pub active: bool,
}

const fn yes() -> bool {
    true
}

impl DriverFields {
    /// The fields trimmed (an empty phone is none), or what is wrong, the field first.
    pub fn checked(&self) -> Result<DriverFields, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 50 {
            return Err("name: a driver's name has 1 to 50 characters".into());
        }
        let certificate = self.certificate.trim();
        if certificate.is_empty()
            || certificate.len() > 40
            || !certificate.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!(
                "certificate: {certificate:?} is not 1 to 40 letters, digits or '-'"
            ));
        }
        let phone = self.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
        if let Some(p) = phone {
            let digits = p.strip_prefix('+').unwrap_or(p);
            if !(5..=20).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("phone: {p:?} is not 5 to 20 digits"));
            }
        }
        Ok(DriverFields {
            name: name.to_string(),
            certificate: certificate.to_ascii_uppercase(),
            phone: phone.map(str::to_string),
            unit: self.unit,
            licence: self.licence,
            active: self.active,
        })
    }
}

/// The columns of a driver file, in order: the unit is a unit path (`黄石市/市委办公室`), the certificate
/// is the driver's code (a re-import updates the driver holding it), licence and active may be empty
/// (none; active).
pub const DRIVER_HEADER: [&str; 6] = ["name", "certificate", "phone", "licence", "unit", "active"];

/// A driver as a file gives them: the fields checked, the unit still a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverRecord {
    /// The unit's path, as written.
    pub unit: String,
    /// The other fields, checked; their unit is set by [`DriverRecord::fields`].
    fields: DriverFields,
}

impl DriverRecord {
    /// The driver's fields, in `unit` (the id of the record's unit path).
    pub fn fields(&self, unit: UnitId) -> DriverFields {
        DriverFields {
            unit,
            ..self.fields.clone()
        }
    }

    /// The driver's code (certificate), already checked.
    pub fn certificate(&self) -> &str {
        &self.fields.certificate
    }
}

/// Whether a driver file's `active` cell says yes: empty is yes.
fn active_cell(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "y" | "1" | "是" | "在岗" => Some(true),
        "false" | "no" | "n" | "0" | "否" | "停用" => Some(false),
        _ => None,
    }
}

/// Parses a driver file; the first bad row is reported with its line and column and nothing is read
/// (a driver import is all or nothing). A certificate or a phone given twice names both lines.
pub fn parse_drivers_csv(text: &str) -> Result<Vec<(usize, DriverRecord)>, RowError> {
    let mut out: Vec<(usize, DriverRecord)> = Vec::new();
    for (line, c) in registry_rows(text, &DRIVER_HEADER)? {
        let get = |i: usize| c.get(i).map_or("", String::as_str);
        let bad = |i: usize, reason: String| column_err(&DRIVER_HEADER, line, i, reason);
        let licence = match get(3) {
            "" => None,
            l => Some(LicenceClass::parse(&l.to_ascii_uppercase()).ok_or_else(|| {
                let all: Vec<&str> = LicenceClass::ALL.iter().map(|c| c.as_str()).collect();
                bad(
                    3,
                    format!("unknown licence class {l:?}; expected one of {}", all.join(", ")),
                )
            })?),
        };
        let unit = get(4);
        if unit.is_empty() || unit.split('/').any(|s| s.trim().is_empty()) {
            return Err(bad(
                4,
                format!("unit {unit:?} is empty or has an empty name in its path"),
            ));
        }
        let active = active_cell(get(5)).ok_or_else(|| {
            bad(
                5,
                format!("{:?} is not yes or no (true/false, 1/0, 是/否)", get(5)),
            )
        })?;
        let given = DriverFields {
            name: get(0).to_string(),
            certificate: get(1).to_string(),
            phone: Some(get(2).to_string()),
            unit: UnitId(0),
            licence,
            active,
        };
        // The field a check names (`phone: ...`) is the column it is reported in.
        let fields = given.checked().map_err(|e| {
            let field = e.split(':').next().unwrap_or_default();
            let i = DRIVER_HEADER.iter().position(|h| *h == field).unwrap_or(0);
            bad(i, e)
        })?;
        if let Some((l, _)) = out
            .iter()
            .find(|(_, r)| r.fields.certificate == fields.certificate)
        {
            return Err(bad(
                1,
                format!("certificate {} is also on line {l}", fields.certificate),
            ));
        }
        if let Some(p) = &fields.phone
            && let Some((l, _)) = out.iter().find(|(_, r)| r.fields.phone.as_ref() == Some(p))
        {
            return Err(bad(2, format!("phone {p} is also on line {l}")));
        }
        let record = DriverRecord {
            unit: unit.split('/').map(str::trim).collect::<Vec<_>>().join("/"),
            fields,
        };
        out.push((line, record));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str, certificate: &str, phone: Option<&str>) -> DriverFields {
        DriverFields {
            name: name.into(),
            certificate: certificate.into(),
            phone: phone.map(Into::into),
            unit: UnitId(1),
            licence: None,
            active: true,
        }
    }

    #[test]
    fn a_driver_is_trimmed_and_each_bad_field_is_named_first() {
        let ok = fields(" 张三 ", " 420200abc-1 ", Some(" ")).checked().unwrap();
        assert_eq!(
            (ok.name.as_str(), ok.certificate.as_str(), ok.phone),
            ("张三", "420200ABC-1", None)
        );
        for (f, field) in [
            (fields("", "A1", None), "name: "),
            (fields(&"长".repeat(51), "A1", None), "name: "),
            (fields("张三", "证 1", None), "certificate: "),
            (fields("张三", "", None), "certificate: "),
            (fields("张三", "A1", Some("13x")), "phone: "),
            (fields("张三", "A1", Some("1234")), "phone: "),
        ] {
            let e = f.checked().unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
        assert!(fields("张三", "A1", Some("+8613800000000")).checked().is_ok());
    }

    #[test]
    fn a_driver_file_is_read_and_a_bad_row_is_named_by_line_and_column() {
        let ok = "name,certificate,phone,licence,unit,active\n\
                  张三,d-1,13800000001,c1,黄石市/ 市委办公室,\n\
                  李四,D-2,,B1,黄石市/公安局,否\n";
        let rows = parse_drivers_csv(ok).unwrap();
        assert_eq!(rows.len(), 2);
        let (line, first) = &rows[0];
        assert_eq!(
            (*line, first.unit.as_str(), first.certificate()),
            (2, "黄石市/市委办公室", "D-1")
        );
        let f = first.fields(UnitId(7));
        assert_eq!(
            (f.unit, f.licence, f.active),
            (UnitId(7), Some(LicenceClass::C1), true)
        );
        let (line, second) = &rows[1];
        assert_eq!(*line, 3);
        let f = second.fields(UnitId(8));
        assert_eq!((f.phone, f.active), (None, false));

        let head = "name,certificate,phone,licence,unit,active\n张三,D-1,13800000001,C1,黄石市,\n";
        for (row, column) in [
            (",D-2,,,黄石市,", "name (1)"),
            ("王五,证 2,,,黄石市,", "certificate (2)"),
            ("王五,D-1,,,黄石市,", "certificate (2)"),
            ("王五,D-2,13800000001,,黄石市,", "phone (3)"),
            ("王五,D-2,12ab,,黄石市,", "phone (3)"),
            ("王五,D-2,,Z9,黄石市,", "licence (4)"),
            ("王五,D-2,,,黄石市//x,", "unit (5)"),
            ("王五,D-2,,,黄石市,maybe", "active (6)"),
        ] {
            let e = parse_drivers_csv(&format!("{head}{row}\n")).unwrap_err();
            assert_eq!(
                (e.line, e.column.as_deref()),
                (3, Some(column)),
                "{row}: {}",
                e.reason
            );
        }
        let e = parse_drivers_csv("name,phone\n张三,1\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, None), "{}", e.reason);
    }
}

//! Drivers (驾驶员) as the registry keeps them: who drives a unit's cars, with the number of their
//! qualification certificate (从业资格证), the number a terminal's card sign-in (0x0702) reports. The
//! checks every write makes live here (with the licence class and whether they are dispatched, for the
//! office's pool); the store applies them (and keeps certificates unique).

use serde::{Deserialize, Serialize};

use crate::UnitId;
use crate::carpool::LicenceClass;

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
}

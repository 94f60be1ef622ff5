//! Registry files: the parsing and the checks are the model's ([`tianshu_model::registry_file`]); the
//! store reports what they refuse as [`Error::Invalid`].

use tianshu_model::registry_file::{self as file, InvalidRecord};
pub(crate) use tianshu_model::registry_file::{
    check_plate, check_terminal_id, check_unit_name, unit_path_segments,
};

use crate::{Error, RegistryRecord, Result};

impl From<InvalidRecord> for Error {
    fn from(e: InvalidRecord) -> Error {
        Error::Invalid {
            line: e.line,
            reason: e.reason,
        }
    }
}

/// Checks records handed to an import (without file lines).
pub(crate) fn validate_records(records: &[RegistryRecord]) -> Result<()> {
    Ok(file::validate_records(records)?)
}

/// Parses a registry CSV with the header `unit,plate,phone,terminal_id,vehicle_class`; the first
/// bad row is reported with its 1-based line number.
pub fn parse_registry_csv(text: &str) -> Result<Vec<RegistryRecord>> {
    Ok(file::parse_registry_csv(text)?)
}

/// Parses a JSON array of registry records; the first bad record is reported with the line it starts on.
pub fn parse_registry_json(text: &str) -> Result<Vec<RegistryRecord>> {
    Ok(file::parse_registry_json(text)?)
}

//! The packed form of a stored point is the model's ([`tianshu_model::record`]); a record that does not
//! decode is [`Error::Corrupt`] here.

use tianshu_model::Position;
pub(crate) use tianshu_model::record::{REC_FIXED, encode_rec};

use crate::{Error, Result};

/// Unpacks a stored point from its key and its `rec` column.
pub(crate) fn decode_rec(vehicle: i64, fix_time_ms: i64, rec: &[u8]) -> Result<Position> {
    tianshu_model::record::decode_rec(vehicle, fix_time_ms, rec).map_err(Error::Corrupt)
}

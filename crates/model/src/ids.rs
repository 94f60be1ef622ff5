//! Identifiers.
//!
//! A terminal is known by its phone number, the BCD field of every JT/T 808 header (6 bytes, 12 digits in
//! 2011/2013; 10 bytes, 20 digits in 2019). Devices disagree about leading zeros (`013800138000` and
//! `13800138000` are the same terminal), so a [`Phone`] is the number's *value*: leading zeros carry no
//! meaning, 20 digits fit in a `u128`, and the type is `Copy` and allocation-free on the hot path.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A terminal's phone number (SIM number or terminal number), compared by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Phone(pub u128);

/// Why a text is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParsePhoneError {
    /// Empty text.
    #[error("phone number is empty")]
    Empty,
    /// More than 20 digits do not fit the 2019 header's BCD[10].
    #[error("phone number has {0} digits; at most 20 fit a JT/T 808 header")]
    TooLong(usize),
    /// A character other than 0-9.
    #[error("phone number contains {0:?}; only digits 0-9 are allowed")]
    NotDigit(char),
}

impl Phone {
    /// The largest number a 20-digit BCD field holds.
    pub const MAX: u128 = 99_999_999_999_999_999_999;

    /// Parses decimal digits; leading zeros are accepted and carry no meaning.
    pub fn parse(s: &str) -> Result<Self, ParsePhoneError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParsePhoneError::Empty);
        }
        if s.len() > 20 {
            return Err(ParsePhoneError::TooLong(s.len()));
        }
        let mut v: u128 = 0;
        for c in s.chars() {
            let d = c.to_digit(10).ok_or(ParsePhoneError::NotDigit(c))?;
            v = v * 10 + u128::from(d);
        }
        Ok(Phone(v))
    }

    /// The number zero-padded to `width` digits (12 for a 2013 header, 20 for 2019).
    pub fn padded(self, width: usize) -> String {
        format!("{:0width$}", self.0, width = width)
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Phone {
    type Err = ParsePhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Phone::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A vehicle's id in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VehicleId(pub i64);

/// A unit's (organisation's) id in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitId(pub i64);

impl std::fmt::Display for VehicleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::fmt::Display for UnitId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros_do_not_matter() {
        assert_eq!(
            Phone::parse("013800138000").unwrap(),
            Phone::parse("13800138000").unwrap()
        );
        assert_eq!(Phone::parse("13800138000").unwrap().padded(12), "013800138000");
        assert_eq!(Phone::parse("99999999999999999999").unwrap().0, Phone::MAX);
    }

    #[test]
    fn bad_phones_are_named() {
        assert_eq!(Phone::parse(""), Err(ParsePhoneError::Empty));
        assert_eq!(Phone::parse("123x"), Err(ParsePhoneError::NotDigit('x')));
        assert_eq!(Phone::parse(&"1".repeat(21)), Err(ParsePhoneError::TooLong(21)));
    }
}

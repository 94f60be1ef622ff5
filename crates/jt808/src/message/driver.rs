//! 0x0702: driver identity (IC card inserted or removed), in its three edition layouts.
//!
//! 2011: name, ID card \[20\], qualification \[40\], agency. 2013: status, time, read result and, when
//! the card was read, name, qualification \[20\], agency, validity. 2019 adds the ID card \[20\]. Some
//! devices append more (face-match score, UID); that is kept as `trailer`.

use bytes::{BufMut, BytesMut};
use tianshu_model::{Edition, Timestamp};

use super::text::Text;
use crate::Error;
use crate::bcd::decode_china_time;
use crate::reader::{Reader, put_fixed, put_u8_prefixed, trim_nul};

/// 0x0702 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DriverIdentity<'a> {
    /// (2013+) 1 card inserted (driver on duty), 2 card removed.
    pub status: Option<u8>,
    /// (2013+) when the card was inserted or removed, BCD GMT+8 as sent (see [`DriverIdentity::time`]).
    pub time_bcd: Option<[u8; 6]>,
    /// (2013+, when present) 0 read ok, 1 key mismatch, 2 card locked, 3 card removed, 4 checksum error.
    pub read_result: Option<u8>,
    /// Driver name.
    pub name: Text<'a>,
    /// Qualification certificate number.
    pub qualification: Text<'a>,
    /// Issuing agency.
    pub agency: Text<'a>,
    /// (2013+) certificate validity, BCD `YYYYMMDD` as sent.
    pub validity_bcd: Option<[u8; 4]>,
    /// (2011, 2019) driver ID card number.
    pub id_card: Option<Text<'a>>,
    /// Vendor bytes after the standard fields.
    pub trailer: &'a [u8],
}

impl<'a> DriverIdentity<'a> {
    /// Card inserted.
    pub const STATUS_INSERTED: u8 = 1;
    /// Card removed.
    pub const STATUS_REMOVED: u8 = 2;

    /// From 2013 on the body starts with the status, 0x01 or 0x02; 2011 starts with a name length.
    pub(crate) fn guess_edition(body: &[u8], header_edition: Edition) -> Edition {
        match (header_edition, body.first()) {
            (Edition::V2019, _) => Edition::V2019,
            (_, Some(1 | 2)) => Edition::V2013,
            _ => Edition::V2011,
        }
    }

    /// The card event time as UTC.
    pub fn time(&self) -> Option<Result<Timestamp, Error>> {
        self.time_bcd.map(|t| decode_china_time(&t, 1))
    }

    pub(crate) fn decode(r: &mut Reader<'a>, edition: Edition) -> Result<Self, Error> {
        let mut d = DriverIdentity::default();
        if edition == Edition::V2011 {
            d.name = Text(r.u8_prefixed()?);
            d.id_card = Some(Text(trim_nul(r.bytes(20)?)));
            d.qualification = Text(trim_nul(r.bytes(40)?));
            d.agency = Text(r.u8_prefixed()?);
            d.trailer = r.rest();
            return Ok(d);
        }
        d.status = Some(r.u8()?);
        d.time_bcd = Some(r.array()?);
        // The standard fills the rest only for status 1, but devices (and test suites) fill it for
        // status 2 as well: read whatever is there.
        if r.is_empty() {
            return Ok(d);
        }
        let result = r.u8()?;
        d.read_result = Some(result);
        if result != 0 || r.is_empty() {
            d.trailer = r.rest();
            return Ok(d);
        }
        // Length-prefixed fields keep their bytes as sent (some devices count padding in the length).
        d.name = Text(r.u8_prefixed()?);
        d.qualification = Text(trim_nul(r.bytes(20)?));
        d.agency = Text(r.u8_prefixed()?);
        d.validity_bcd = Some(r.array()?);
        if edition == Edition::V2019 {
            d.id_card = Some(Text(trim_nul(r.bytes(20)?)));
        }
        d.trailer = r.rest();
        Ok(d)
    }

    pub(crate) fn write(&self, out: &mut BytesMut, edition: Edition) -> Result<(), Error> {
        if edition == Edition::V2011 {
            put_u8_prefixed(out, self.name.as_bytes(), "name")?;
            put_fixed(out, self.id_card.unwrap_or_default().as_bytes(), 20, "id_card")?;
            put_fixed(out, self.qualification.as_bytes(), 40, "qualification")?;
            put_u8_prefixed(out, self.agency.as_bytes(), "agency")?;
            out.put_slice(self.trailer);
            return Ok(());
        }
        out.put_u8(self.status.unwrap_or(Self::STATUS_INSERTED));
        out.put_slice(&self.time_bcd.unwrap_or_default());
        if let Some(result) = self.read_result {
            out.put_u8(result);
            if result == 0 && self.validity_bcd.is_some() {
                put_u8_prefixed(out, self.name.as_bytes(), "name")?;
                put_fixed(out, self.qualification.as_bytes(), 20, "qualification")?;
                put_u8_prefixed(out, self.agency.as_bytes(), "agency")?;
                out.put_slice(&self.validity_bcd.unwrap_or_default());
                if edition == Edition::V2019 {
                    put_fixed(out, self.id_card.unwrap_or_default().as_bytes(), 20, "id_card")?;
                }
            }
        }
        out.put_slice(self.trailer);
        Ok(())
    }
}

//! Registration and authentication: 0x0100, 0x0102, 0x0107.

use bytes::{BufMut, BytesMut};
use tianshu_model::Edition;

use super::text::Text;
use crate::Error;
use crate::reader::{Reader, put_fixed, put_u8_prefixed, trim_nul};

/// Fixed field widths of 0x0100 (maker, model, terminal id) per edition.
const fn register_widths(edition: Edition) -> (usize, usize, usize) {
    match edition {
        Edition::V2011 => (5, 8, 7),
        Edition::V2013 => (5, 20, 7),
        Edition::V2019 => (11, 30, 30),
    }
}

/// 0x0100: terminal registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Register<'a> {
    /// Province (GB/T 2260 first two digits).
    pub province_id: u16,
    /// City or county (GB/T 2260 last four digits).
    pub city_id: u16,
    /// Maker id (5 bytes; 11 in 2019), padding removed.
    pub maker_id: Text<'a>,
    /// Terminal model (8/20/30 bytes by edition), padding removed from both ends.
    pub model: Text<'a>,
    /// Terminal id (7 bytes; 30 in 2019), padding removed.
    pub terminal_id: Text<'a>,
    /// Plate colour (JT/T 697.7); 0 means `plate` holds the VIN.
    pub plate_color: u8,
    /// Plate (GBK) or VIN.
    pub plate: Text<'a>,
}

impl<'a> Register<'a> {
    /// 2011 and 2013 share a header; the body length tells them apart (2011's fixed part is 25
    /// bytes, 2013's 37).
    pub(crate) fn guess_edition(body: &[u8], header_edition: Edition) -> Edition {
        match header_edition {
            Edition::V2019 => Edition::V2019,
            _ if body.len() < 37 => Edition::V2011,
            _ => Edition::V2013,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'a>, edition: Edition) -> Result<Self, Error> {
        let (maker, model, id) = register_widths(edition);
        Ok(Register {
            province_id: r.u16()?,
            city_id: r.u16()?,
            maker_id: Text(trim_nul(r.bytes(maker)?)),
            model: Text(trim_nul(r.bytes(model)?)),
            terminal_id: Text(trim_nul(r.bytes(id)?)),
            plate_color: r.u8()?,
            plate: Text(r.rest()),
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut, edition: Edition) -> Result<(), Error> {
        let (maker, model, id) = register_widths(edition);
        out.put_u16(self.province_id);
        out.put_u16(self.city_id);
        put_fixed(out, self.maker_id.as_bytes(), maker, "maker_id")?;
        put_fixed(out, self.model.as_bytes(), model, "model")?;
        put_fixed(out, self.terminal_id.as_bytes(), id, "terminal_id")?;
        out.put_u8(self.plate_color);
        out.put_slice(self.plate.as_bytes());
        Ok(())
    }
}

/// 0x0102: authentication with the code from 0x8100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Authenticate<'a> {
    /// The auth code.
    pub auth_code: Text<'a>,
    /// (2019) IMEI, 15 bytes, padding removed.
    pub imei: Option<Text<'a>>,
    /// (2019) software version, 20 bytes, padding removed.
    pub software_version: Option<Text<'a>>,
}

impl<'a> Authenticate<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>, edition: Edition) -> Result<Self, Error> {
        if edition != Edition::V2019 {
            return Ok(Authenticate {
                auth_code: Text(r.rest()),
                imei: None,
                software_version: None,
            });
        }
        let auth_code = Text(r.u8_prefixed()?);
        let imei = Text(trim_nul(r.bytes(15)?));
        let software_version = Text(trim_nul(r.bytes(20)?));
        Ok(Authenticate {
            auth_code,
            imei: Some(imei),
            software_version: Some(software_version),
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut, edition: Edition) -> Result<(), Error> {
        if edition != Edition::V2019 {
            out.put_slice(self.auth_code.as_bytes());
            return Ok(());
        }
        put_u8_prefixed(out, self.auth_code.as_bytes(), "auth_code")?;
        put_fixed(out, self.imei.unwrap_or_default().as_bytes(), 15, "imei")?;
        put_fixed(
            out,
            self.software_version.unwrap_or_default().as_bytes(),
            20,
            "software_version",
        )
    }
}

/// 0x0107: terminal attributes (answer to 0x8107).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TerminalAttributes<'a> {
    /// Terminal type bits (passenger/dangerous goods/freight/taxi, video, all-in-one...).
    pub terminal_type: u16,
    /// Maker id (5 bytes; 11 in 2019).
    pub maker_id: Text<'a>,
    /// Model (20 bytes; 30 in 2019).
    pub model: Text<'a>,
    /// Terminal id (7 bytes; 30 in 2019).
    pub terminal_id: Text<'a>,
    /// SIM ICCID, BCD\[10\], as 20 digits.
    pub iccid: u128,
    /// Hardware version.
    pub hardware_version: Text<'a>,
    /// Firmware version.
    pub firmware_version: Text<'a>,
    /// GNSS module attributes (bit 0 GPS, 1 BeiDou, 2 GLONASS, 3 Galileo).
    pub gnss: u8,
    /// Communication module attributes.
    pub network: u8,
}

impl<'a> TerminalAttributes<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>, edition: Edition) -> Result<Self, Error> {
        if edition != Edition::V2019 {
            return Self::decode_widths(r, (5, 20, 7));
        }
        // 2019 says the maker id is 11 bytes; some terminals keep 2013's 5. The one that consumes the
        // body exactly wins.
        let mut standard = r.clone();
        match Self::decode_widths(&mut standard, (11, 30, 30)) {
            Ok(a) if standard.is_empty() => {
                *r = standard;
                Ok(a)
            }
            first => {
                let mut short = r.clone();
                match Self::decode_widths(&mut short, (5, 30, 30)) {
                    Ok(a) if short.is_empty() => {
                        *r = short;
                        Ok(a)
                    }
                    _ => {
                        let a = first?;
                        *r = standard;
                        Ok(a)
                    }
                }
            }
        }
    }

    fn decode_widths(r: &mut Reader<'a>, (maker, model, id): (usize, usize, usize)) -> Result<Self, Error> {
        let terminal_type = r.u16()?;
        let maker_id = Text(trim_nul(r.bytes(maker)?));
        let model = Text(trim_nul(r.bytes(model)?));
        let terminal_id = Text(trim_nul(r.bytes(id)?));
        let at = r.abs_pos();
        let iccid_bytes = r.bytes(10)?;
        let iccid = crate::bcd::bcd_value(iccid_bytes).map_err(|i| Error::InvalidBcd {
            offset: at + i,
            byte: iccid_bytes[i],
        })?;
        Ok(TerminalAttributes {
            terminal_type,
            maker_id,
            model,
            terminal_id,
            iccid,
            hardware_version: Text(r.u8_prefixed()?),
            firmware_version: Text(r.u8_prefixed()?),
            gnss: r.u8()?,
            network: r.u8()?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut, edition: Edition) -> Result<(), Error> {
        let (maker, model, id) = if edition == Edition::V2019 {
            (11, 30, 30)
        } else {
            (5, 20, 7)
        };
        out.put_u16(self.terminal_type);
        put_fixed(out, self.maker_id.as_bytes(), maker, "maker_id")?;
        put_fixed(out, self.model.as_bytes(), model, "model")?;
        put_fixed(out, self.terminal_id.as_bytes(), id, "terminal_id")?;
        let mut iccid = [0u8; 10];
        crate::bcd::write_bcd(self.iccid, &mut iccid)?;
        out.put_slice(&iccid);
        put_u8_prefixed(out, self.hardware_version.as_bytes(), "hardware_version")?;
        put_u8_prefixed(out, self.firmware_version.as_bytes(), "firmware_version")?;
        out.put_u8(self.gnss);
        out.put_u8(self.network);
        Ok(())
    }
}

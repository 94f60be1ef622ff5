//! Dynamic vehicle information (0x1200/0x9200): registration, real-time and backfilled positions in
//! either edition's layout, track requests and their answers.

use serde::Serialize;

use super::*;
use crate::wire::{Reader, fill_len, len_placeholder, put_fixed, put_u16, put_u32, put_u64};
use crate::{Edition, Error};

/// A vehicle: plate (GBK, 21 bytes) and plate colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vehicle {
    /// VEHICLE_NO.
    pub plate: String,
    /// VEHICLE_COLOR (1 blue, 2 yellow, 3 black, 4 white, 9 other in 2011; 2019 adds codes).
    pub color: u8,
}

impl Vehicle {
    /// VEHICLE_COLOR of a blue plate, the plate of a private or official passenger car (an official car
    /// carries one: the registry records no plate colour, so every car Tianshu names goes up as blue).
    pub const BLUE: u8 = 1;

    /// A car with a blue plate.
    pub fn blue(plate: impl Into<String>) -> Vehicle {
        Vehicle {
            plate: plate.into(),
            color: Vehicle::BLUE,
        }
    }
}

/// A position in the 2011 layout (36 bytes). Date and time are the vehicle's local time (GMT+8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gnss2011 {
    /// ENCRYPT: 1 when the coordinates are encrypted.
    pub encrypt: u8,
    /// Day of month.
    pub day: u8,
    /// Month.
    pub month: u8,
    /// Year.
    pub year: u16,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Longitude, millionths of a degree.
    pub lon_e6: u32,
    /// Latitude, millionths of a degree.
    pub lat_e6: u32,
    /// VEC1: satellite speed, km/h.
    pub speed_kmh: u16,
    /// VEC2: recorder speed, km/h.
    pub recorder_speed_kmh: u16,
    /// VEC3: odometer, km.
    pub mileage_km: u32,
    /// DIRECTION, degrees from north.
    pub direction_deg: u16,
    /// ALTITUDE, metres.
    pub altitude_m: u16,
    /// STATE bits (as JT/T 808).
    pub state: u32,
    /// ALARM bits (as JT/T 808).
    pub alarm: u32,
}

/// Length of a 2011 position.
pub const GNSS_2011_LEN: usize = 36;

/// One platform's alarm flags in a 2019 position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformAlarm {
    /// PLATFORM_ID, 11 bytes (empty when unused).
    pub platform_id: String,
    /// ALARM bits that platform set.
    pub alarm: u32,
}

/// A position in the 2019 layout: the JT/T 808 location body as the terminal sent it, then the alarm
/// flags of up to three platforms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gnss2019 {
    /// ENCRYPT.
    pub encrypt: u8,
    /// GNSS_DATA: a JT/T 808 0x0200 body, hex in JSON.
    #[serde(serialize_with = "as_hex")]
    pub location: Vec<u8>,
    /// PLATFORM_ID1..3 and ALARM1..3.
    pub platforms: [PlatformAlarm; 3],
}

fn as_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    s.serialize_str(&text)
}

/// A position in either edition's layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Gnss {
    /// 2011.
    V2011(Gnss2011),
    /// 2019.
    V2019(Gnss2019),
}

impl Gnss {
    #[inline]
    pub(crate) fn decode(r: &mut Reader<'_>, edition: Edition) -> Result<Gnss, Error> {
        Ok(match edition {
            Edition::V2011 => {
                // One bounds check for the fixed 36 bytes, then the fields from the array.
                let a: [u8; GNSS_2011_LEN] = r.array()?;
                let u16_at = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
                let u32_at = |i: usize| u32::from_be_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]]);
                Gnss::V2011(Gnss2011 {
                    encrypt: a[0],
                    day: a[1],
                    month: a[2],
                    year: u16_at(3),
                    hour: a[5],
                    minute: a[6],
                    second: a[7],
                    lon_e6: u32_at(8),
                    lat_e6: u32_at(12),
                    speed_kmh: u16_at(16),
                    recorder_speed_kmh: u16_at(18),
                    mileage_km: u32_at(20),
                    direction_deg: u16_at(24),
                    altitude_m: u16_at(26),
                    state: u32_at(28),
                    alarm: u32_at(32),
                })
            }
            Edition::V2019 => {
                let encrypt = r.u8()?;
                let len = r.u32()?;
                let location = r.bytes(len as usize)?.to_vec();
                let mut platform = || -> Result<PlatformAlarm, Error> {
                    Ok(PlatformAlarm {
                        platform_id: r.fixed(11)?,
                        alarm: r.u32()?,
                    })
                };
                let platforms = [platform()?, platform()?, platform()?];
                Gnss::V2019(Gnss2019 {
                    encrypt,
                    location,
                    platforms,
                })
            }
        })
    }

    pub(crate) fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match (self, edition) {
            (Gnss::V2011(g), Edition::V2011) => {
                out.push(g.encrypt);
                out.push(g.day);
                out.push(g.month);
                put_u16(out, g.year);
                out.extend_from_slice(&[g.hour, g.minute, g.second]);
                put_u32(out, g.lon_e6);
                put_u32(out, g.lat_e6);
                put_u16(out, g.speed_kmh);
                put_u16(out, g.recorder_speed_kmh);
                put_u32(out, g.mileage_km);
                put_u16(out, g.direction_deg);
                put_u16(out, g.altitude_m);
                put_u32(out, g.state);
                put_u32(out, g.alarm);
            }
            (Gnss::V2019(g), Edition::V2019) => {
                out.push(g.encrypt);
                let at = len_placeholder(out);
                out.extend_from_slice(&g.location);
                fill_len(out, at)?;
                for p in &g.platforms {
                    put_fixed(out, &p.platform_id, 11, "PLATFORM_ID")?;
                    put_u32(out, p.alarm);
                }
            }
            (_, e) => {
                return Err(Error::WrongEdition {
                    what: "a position in the other edition's layout",
                    edition: e.as_str(),
                });
            }
        }
        Ok(())
    }
}

/// 0x1201: a vehicle's registration (its terminal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Register {
    /// PLATFORM_ID, 11 bytes.
    pub platform_id: String,
    /// PRODUCER_ID, 11 bytes.
    pub producer_id: String,
    /// TERMINAL_MODEL_TYPE, 20 bytes (30 in 2019).
    pub terminal_model: String,
    /// IMEI of the communication module, 15 bytes (2019 only; empty in 2011).
    pub imei: String,
    /// TERMINAL_ID, 7 bytes (30 in 2019).
    pub terminal_id: String,
    /// TERMINAL_SIMCODE, 12 bytes (13 in 2019).
    pub sim: String,
}

impl Register {
    const fn widths(edition: Edition) -> [usize; 5] {
        match edition {
            Edition::V2011 => [11, 11, 20, 7, 12],
            Edition::V2019 => [11, 11, 30, 30, 13],
        }
    }
}

/// A period, UTC seconds (0x1207, 0x1209).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// START_TIME.
    pub start_utc: u64,
    /// END_TIME.
    pub end_utc: u64,
}

/// The 0x1200 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpExg {
    /// 0x1201.
    Register(Register),
    /// 0x1202.
    RealLocation(Gnss),
    /// 0x1203: 1 to 255 positions (the standard sends up to 5 per message).
    HistoryLocation(Vec<Gnss>),
    /// 0x1205.
    ReturnStartupAck,
    /// 0x1206.
    ReturnEndAck,
    /// 0x1207: asks the upper platform for a car's positions over a period.
    ApplyForMonitorStartup(Period),
    /// 0x1208.
    ApplyForMonitorEnd,
    /// 0x1209: asks for positions missed while the link was down.
    ApplyHistory(Period),
    /// Any other DATA_TYPE: the data as sent.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

/// The 0x9200 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownExg {
    /// 0x9201: a car's position exchanged down.
    CarLocation(Gnss),
    /// 0x9202: positions of a car crossing areas.
    HistoryArcossArea(Vec<Gnss>),
    /// 0x9205: start sending the car's positions (REASON_CODE).
    ReturnStartup {
        /// REASON_CODE.
        reason_code: u8,
    },
    /// 0x9206: stop sending them.
    ReturnEnd {
        /// REASON_CODE.
        reason_code: u8,
    },
    /// 0x9207.
    ApplyForMonitorStartupAck {
        /// RESULT.
        result: u8,
    },
    /// 0x9208.
    ApplyForMonitorEndAck {
        /// RESULT.
        result: u8,
    },
    /// 0x9209.
    ApplyHistoryAck {
        /// RESULT.
        result: u8,
    },
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

impl SubBody for UpExg {
    fn data_type(&self) -> u16 {
        match self {
            UpExg::Register(_) => sub::REGISTER,
            UpExg::RealLocation(_) => sub::REAL_LOCATION,
            UpExg::HistoryLocation(_) => sub::HISTORY_LOCATION,
            UpExg::ReturnStartupAck => sub::RETURN_STARTUP_ACK,
            UpExg::ReturnEndAck => sub::RETURN_END_ACK,
            UpExg::ApplyForMonitorStartup(_) => sub::APPLY_FOR_MONITOR_STARTUP,
            UpExg::ApplyForMonitorEnd => sub::APPLY_FOR_MONITOR_END,
            UpExg::ApplyHistory(_) => sub::APPLY_HISGNSSDATA_REQ,
            UpExg::Other { data_type, .. } => *data_type,
        }
    }

    #[inline]
    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::REGISTER => {
                    let [p, m, t, id, sim] = Register::widths(edition);
                    Register {
                        platform_id: r.fixed(p)?,
                        producer_id: r.fixed(m)?,
                        terminal_model: r.fixed(t)?,
                        imei: match edition {
                            Edition::V2011 => String::new(),
                            Edition::V2019 => r.fixed(15)?,
                        },
                        terminal_id: r.fixed(id)?,
                        sim: r.fixed(sim)?,
                    }
                    .into()
                }
                sub::REAL_LOCATION => UpExg::RealLocation(Gnss::decode(r, edition)?),
                sub::HISTORY_LOCATION => UpExg::HistoryLocation(gnss_list(r, edition)?),
                sub::RETURN_STARTUP_ACK => UpExg::ReturnStartupAck,
                sub::RETURN_END_ACK => UpExg::ReturnEndAck,
                sub::APPLY_FOR_MONITOR_STARTUP => UpExg::ApplyForMonitorStartup(period(r)?),
                sub::APPLY_FOR_MONITOR_END => UpExg::ApplyForMonitorEnd,
                sub::APPLY_HISGNSSDATA_REQ => UpExg::ApplyHistory(period(r)?),
                _ => UpExg::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            UpExg::Register(g) => {
                let [p, m, t, id, sim] = Register::widths(edition);
                put_fixed(out, &g.platform_id, p, "PLATFORM_ID")?;
                put_fixed(out, &g.producer_id, m, "PRODUCER_ID")?;
                put_fixed(out, &g.terminal_model, t, "TERMINAL_MODEL_TYPE")?;
                match edition {
                    Edition::V2011 if !g.imei.is_empty() => {
                        return Err(Error::WrongEdition {
                            what: "an IMEI in a registration",
                            edition: edition.as_str(),
                        });
                    }
                    Edition::V2011 => {}
                    Edition::V2019 => put_fixed(out, &g.imei, 15, "IMEI")?,
                }
                put_fixed(out, &g.terminal_id, id, "TERMINAL_ID")?;
                put_fixed(out, &g.sim, sim, "TERMINAL_SIMCODE")?;
            }
            UpExg::RealLocation(g) => g.write(edition, out)?,
            UpExg::HistoryLocation(list) => put_gnss_list(out, list, edition)?,
            UpExg::ReturnStartupAck | UpExg::ReturnEndAck | UpExg::ApplyForMonitorEnd => {}
            UpExg::ApplyForMonitorStartup(p) | UpExg::ApplyHistory(p) => put_period(out, p),
            UpExg::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

impl From<Register> for UpExg {
    fn from(r: Register) -> Self {
        UpExg::Register(r)
    }
}

fn period(r: &mut Reader<'_>) -> Result<Period, Error> {
    Ok(Period {
        start_utc: r.u64()?,
        end_utc: r.u64()?,
    })
}

fn put_period(out: &mut Vec<u8>, p: &Period) {
    put_u64(out, p.start_utc);
    put_u64(out, p.end_utc);
}

impl SubBody for DownExg {
    fn data_type(&self) -> u16 {
        match self {
            DownExg::CarLocation(_) => sub::CAR_LOCATION,
            DownExg::HistoryArcossArea(_) => sub::HISTORY_ARCOSSAREA,
            DownExg::ReturnStartup { .. } => sub::RETURN_STARTUP,
            DownExg::ReturnEnd { .. } => sub::RETURN_END,
            DownExg::ApplyForMonitorStartupAck { .. } => sub::APPLY_FOR_MONITOR_STARTUP_ACK,
            DownExg::ApplyForMonitorEndAck { .. } => sub::APPLY_FOR_MONITOR_END_ACK,
            DownExg::ApplyHistoryAck { .. } => sub::APPLY_HISGNSSDATA_ACK,
            DownExg::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::CAR_LOCATION => DownExg::CarLocation(Gnss::decode(r, edition)?),
                sub::HISTORY_ARCOSSAREA => DownExg::HistoryArcossArea(gnss_list(r, edition)?),
                sub::RETURN_STARTUP => DownExg::ReturnStartup { reason_code: r.u8()? },
                sub::RETURN_END => DownExg::ReturnEnd { reason_code: r.u8()? },
                sub::APPLY_FOR_MONITOR_STARTUP_ACK => DownExg::ApplyForMonitorStartupAck { result: r.u8()? },
                sub::APPLY_FOR_MONITOR_END_ACK => DownExg::ApplyForMonitorEndAck { result: r.u8()? },
                sub::APPLY_HISGNSSDATA_ACK => DownExg::ApplyHistoryAck { result: r.u8()? },
                _ => DownExg::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DownExg::CarLocation(g) => g.write(edition, out)?,
            DownExg::HistoryArcossArea(list) => put_gnss_list(out, list, edition)?,
            DownExg::ReturnStartup { reason_code: b }
            | DownExg::ReturnEnd { reason_code: b }
            | DownExg::ApplyForMonitorStartupAck { result: b }
            | DownExg::ApplyForMonitorEndAck { result: b }
            | DownExg::ApplyHistoryAck { result: b } => out.push(*b),
            DownExg::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

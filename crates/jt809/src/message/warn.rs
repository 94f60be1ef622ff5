//! Alarms (0x1400/0x9400): alarm reports, supervision requests (报警督办) and their answers, warnings.

use serde::Serialize;

use super::*;
use crate::wire::{Reader, put_fixed, put_u16, put_u32, put_u64, put_var};
use crate::{Edition, Error};

/// 0x1402: an alarm report. The 2011 layout has WARN_SRC and INFO_ID; the 2019 one names platforms,
/// a period, the vehicle and a line; the fields of the other edition are zero or empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmReport {
    /// WARN_SRC (2011): 1 terminal, 2 enterprise platform, 3 government platform, 9 other.
    pub warn_src: u8,
    /// SOURCE_PLATFORM_ID, 11 bytes (2019).
    pub source_platform_id: String,
    /// WARN_TYPE.
    pub warn_type: u16,
    /// WARN_TIME, UTC seconds.
    pub warn_time_utc: u64,
    /// START_TIME (2019), UTC seconds.
    pub start_utc: u64,
    /// END_TIME (2019), UTC seconds.
    pub end_utc: u64,
    /// VEHICLE_NO and VEHICLE_COLOR (2019; in 2011 the container carries the vehicle).
    pub vehicle: Option<Vehicle>,
    /// DESTINATION_PLATFORM_ID, 11 bytes (2019).
    pub destination_platform_id: String,
    /// DRV_LINE_ID (2019).
    pub line_id: u32,
    /// INFO_ID (2011).
    pub info_id: u32,
    /// INFO_CONTENT.
    pub info: String,
}

/// The 0x1400 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpWarn {
    /// 0x1401: the answer to a supervision request.
    UrgeTodoAck {
        /// SUPERVISION_ID.
        supervision_id: u32,
        /// RESULT: 0 handling, 1 handled, 2 not handled, 3 to be handled later.
        result: u8,
    },
    /// 0x1402.
    AlarmReport(AlarmReport),
    /// 0x1403: how an alarm was handled.
    AlarmHandled {
        /// INFO_ID of the alarm.
        info_id: u32,
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

/// 0x9401: a supervision request (报警督办).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Supervision {
    /// WARN_SRC.
    pub warn_src: u8,
    /// WARN_TYPE.
    pub warn_type: u16,
    /// WARN_TIME, UTC seconds.
    pub warn_time_utc: u64,
    /// SUPERVISION_ID.
    pub supervision_id: u32,
    /// SUPERVISION_ENDTIME, UTC seconds: the deadline.
    pub deadline_utc: u64,
    /// SUPERVISION_LEVEL: 0 urgent, 1 normal.
    pub level: u8,
    /// SUPERVISOR, 16 bytes.
    pub supervisor: String,
    /// SUPERVISOR_TEL, 20 bytes.
    pub supervisor_tel: String,
    /// SUPERVISOR_EMAIL, 32 bytes.
    pub supervisor_email: String,
}

/// 0x9402 and 0x9403: an alarm told down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarnNotice {
    /// WARN_SRC.
    pub warn_src: u8,
    /// WARN_TYPE.
    pub warn_type: u16,
    /// WARN_TIME, UTC seconds.
    pub warn_time_utc: u64,
    /// WARN_CONTENT.
    pub content: String,
}

/// The 0x9400 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownWarn {
    /// 0x9401.
    Supervision(Supervision),
    /// 0x9402.
    InformTips(WarnNotice),
    /// 0x9403.
    ExgInform(WarnNotice),
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

impl SubBody for UpWarn {
    fn data_type(&self) -> u16 {
        match self {
            UpWarn::UrgeTodoAck { .. } => sub::URGE_TODO_ACK,
            UpWarn::AlarmReport(_) => sub::ADPT_INFO,
            UpWarn::AlarmHandled { .. } => sub::ADPT_TODO_INFO,
            UpWarn::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::URGE_TODO_ACK => UpWarn::UrgeTodoAck {
                    supervision_id: r.u32()?,
                    result: r.u8()?,
                },
                sub::ADPT_INFO => {
                    let mut a = AlarmReport {
                        warn_src: 0,
                        source_platform_id: String::new(),
                        warn_type: 0,
                        warn_time_utc: 0,
                        start_utc: 0,
                        end_utc: 0,
                        vehicle: None,
                        destination_platform_id: String::new(),
                        line_id: 0,
                        info_id: 0,
                        info: String::new(),
                    };
                    match edition {
                        Edition::V2011 => {
                            a.warn_src = r.u8()?;
                            a.warn_type = r.u16()?;
                            a.warn_time_utc = r.u64()?;
                            a.info_id = r.u32()?;
                        }
                        Edition::V2019 => {
                            a.source_platform_id = r.fixed(11)?;
                            a.warn_type = r.u16()?;
                            a.warn_time_utc = r.u64()?;
                            a.start_utc = r.u64()?;
                            a.end_utc = r.u64()?;
                            a.vehicle = Some(vehicle(r)?);
                            a.destination_platform_id = r.fixed(11)?;
                            a.line_id = r.u32()?;
                        }
                    }
                    a.info = r.var_text("INFO_LENGTH")?;
                    UpWarn::AlarmReport(a)
                }
                sub::ADPT_TODO_INFO => UpWarn::AlarmHandled {
                    info_id: r.u32()?,
                    result: r.u8()?,
                },
                _ => UpWarn::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            UpWarn::UrgeTodoAck {
                supervision_id,
                result,
            } => {
                put_u32(out, *supervision_id);
                out.push(*result);
            }
            UpWarn::AlarmReport(a) => {
                match edition {
                    Edition::V2011 => {
                        out.push(a.warn_src);
                        put_u16(out, a.warn_type);
                        put_u64(out, a.warn_time_utc);
                        put_u32(out, a.info_id);
                    }
                    Edition::V2019 => {
                        put_fixed(out, &a.source_platform_id, 11, "SOURCE_PLATFORM_ID")?;
                        put_u16(out, a.warn_type);
                        put_u64(out, a.warn_time_utc);
                        put_u64(out, a.start_utc);
                        put_u64(out, a.end_utc);
                        let none = Vehicle {
                            plate: String::new(),
                            color: 0,
                        };
                        put_vehicle(out, a.vehicle.as_ref().unwrap_or(&none))?;
                        put_fixed(out, &a.destination_platform_id, 11, "DESTINATION_PLATFORM_ID")?;
                        put_u32(out, a.line_id);
                    }
                }
                put_var(out, &a.info, "INFO_CONTENT")?;
            }
            UpWarn::AlarmHandled { info_id, result } => {
                put_u32(out, *info_id);
                out.push(*result);
            }
            UpWarn::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

impl WarnNotice {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(WarnNotice {
            warn_src: r.u8()?,
            warn_type: r.u16()?,
            warn_time_utc: r.u64()?,
            content: r.var_text("WARN_LENGTH")?,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        out.push(self.warn_src);
        put_u16(out, self.warn_type);
        put_u64(out, self.warn_time_utc);
        put_var(out, &self.content, "WARN_CONTENT")
    }
}

impl SubBody for DownWarn {
    fn data_type(&self) -> u16 {
        match self {
            DownWarn::Supervision(_) => sub::URGE_TODO_REQ,
            DownWarn::InformTips(_) => sub::INFORM_TIPS,
            DownWarn::ExgInform(_) => sub::EXG_INFORM,
            DownWarn::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, _edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::URGE_TODO_REQ => DownWarn::Supervision(Supervision {
                    warn_src: r.u8()?,
                    warn_type: r.u16()?,
                    warn_time_utc: r.u64()?,
                    supervision_id: r.u32()?,
                    deadline_utc: r.u64()?,
                    level: r.u8()?,
                    supervisor: r.fixed(16)?,
                    supervisor_tel: r.fixed(20)?,
                    supervisor_email: r.fixed(32)?,
                }),
                sub::INFORM_TIPS => DownWarn::InformTips(WarnNotice::read(r)?),
                sub::EXG_INFORM => DownWarn::ExgInform(WarnNotice::read(r)?),
                _ => DownWarn::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, _edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DownWarn::Supervision(s) => {
                out.push(s.warn_src);
                put_u16(out, s.warn_type);
                put_u64(out, s.warn_time_utc);
                put_u32(out, s.supervision_id);
                put_u64(out, s.deadline_utc);
                out.push(s.level);
                put_fixed(out, &s.supervisor, 16, "SUPERVISOR")?;
                put_fixed(out, &s.supervisor_tel, 20, "SUPERVISOR_TEL")?;
                put_fixed(out, &s.supervisor_email, 32, "SUPERVISOR_EMAIL")?;
            }
            DownWarn::InformTips(n) | DownWarn::ExgInform(n) => n.write(out)?,
            DownWarn::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

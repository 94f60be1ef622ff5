//! Message bodies: the link layer (login, logout, keep-alive, disconnect notices on both links) and the
//! business families Tianshu exchanges (0x1200/0x9200 dynamic vehicle information, 0x1300/0x9300
//! platform checks, 0x1400/0x9400 alarms and supervision, 0x1600/0x9600 static vehicle information).
//!
//! A business message is a container (vehicle plate and colour for the vehicle families, then
//! DATA_TYPE and DATA_LENGTH) around a sub-business body. Sub-business types this codec does not
//! lay out decode to `Other` with their bytes; an unknown MSG_ID decodes to [`Message::Raw`].

use serde::Serialize;

use crate::wire::{Reader, fill_len, len_placeholder, put_fixed, put_u16, put_u32, put_u64};
use crate::{Edition, Error};

mod base;
mod exg;
mod link;
mod platform;
mod warn;

pub use base::*;
pub use exg::*;
pub use link::*;
pub use platform::*;
pub use warn::*;

/// Message ids (MSG_ID, the business data type).
pub mod id {
    /// UP_CONNECT_REQ: main-link login.
    pub const UP_CONNECT_REQ: u16 = 0x1001;
    /// UP_CONNECT_RSP: its answer.
    pub const UP_CONNECT_RSP: u16 = 0x1002;
    /// UP_DISCONNECT_REQ: main-link logout.
    pub const UP_DISCONNECT_REQ: u16 = 0x1003;
    /// UP_DISCONNECT_RSP: its answer.
    pub const UP_DISCONNECT_RSP: u16 = 0x1004;
    /// UP_LINKTEST_REQ: main-link keep-alive.
    pub const UP_LINKTEST_REQ: u16 = 0x1005;
    /// UP_LINKTEST_RSP: its answer.
    pub const UP_LINKTEST_RSP: u16 = 0x1006;
    /// UP_DISCONNECT_INFORM: the lower platform tells the main link is broken.
    pub const UP_DISCONNECT_INFORM: u16 = 0x1007;
    /// UP_CLOSELINK_INFORM: the lower platform closes the links.
    pub const UP_CLOSELINK_INFORM: u16 = 0x1008;
    /// DOWN_CONNECT_REQ: sub-link login.
    pub const DOWN_CONNECT_REQ: u16 = 0x9001;
    /// DOWN_CONNECT_RSP: its answer.
    pub const DOWN_CONNECT_RSP: u16 = 0x9002;
    /// DOWN_DISCONNECT_REQ: sub-link logout.
    pub const DOWN_DISCONNECT_REQ: u16 = 0x9003;
    /// DOWN_DISCONNECT_RSP: its answer.
    pub const DOWN_DISCONNECT_RSP: u16 = 0x9004;
    /// DOWN_LINKTEST_REQ: sub-link keep-alive.
    pub const DOWN_LINKTEST_REQ: u16 = 0x9005;
    /// DOWN_LINKTEST_RSP: its answer.
    pub const DOWN_LINKTEST_RSP: u16 = 0x9006;
    /// DOWN_DISCONNECT_INFORM: the upper platform tells the sub-link is broken.
    pub const DOWN_DISCONNECT_INFORM: u16 = 0x9007;
    /// DOWN_CLOSELINK_INFORM: the upper platform closes the links.
    pub const DOWN_CLOSELINK_INFORM: u16 = 0x9008;
    /// DOWN_TOTAL_RECV_BACK_MSG: how many messages the upper platform received in a period.
    pub const DOWN_TOTAL_RECV_BACK_MSG: u16 = 0x9101;
    /// UP_EXG_MSG: dynamic vehicle information, lower to upper.
    pub const UP_EXG_MSG: u16 = 0x1200;
    /// DOWN_EXG_MSG: dynamic vehicle information, upper to lower.
    pub const DOWN_EXG_MSG: u16 = 0x9200;
    /// UP_PLATFORM_MSG: platform messages, lower to upper.
    pub const UP_PLATFORM_MSG: u16 = 0x1300;
    /// DOWN_PLATFORM_MSG: platform checks and messages, upper to lower.
    pub const DOWN_PLATFORM_MSG: u16 = 0x9300;
    /// UP_WARN_MSG: alarms, lower to upper.
    pub const UP_WARN_MSG: u16 = 0x1400;
    /// DOWN_WARN_MSG: supervision and warnings, upper to lower.
    pub const DOWN_WARN_MSG: u16 = 0x9400;
    /// UP_BASE_MSG: static vehicle information, lower to upper.
    pub const UP_BASE_MSG: u16 = 0x1600;
    /// DOWN_BASE_MSG: static vehicle information requests, upper to lower.
    pub const DOWN_BASE_MSG: u16 = 0x9600;
}

/// Sub-business data types (DATA_TYPE) laid out by this codec.
pub mod sub {
    /// UP_EXG_MSG_REGISTER: vehicle registration.
    pub const REGISTER: u16 = 0x1201;
    /// UP_EXG_MSG_REAL_LOCATION: real-time position.
    pub const REAL_LOCATION: u16 = 0x1202;
    /// UP_EXG_MSG_HISTORY_LOCATION: backfilled positions.
    pub const HISTORY_LOCATION: u16 = 0x1203;
    /// UP_EXG_MSG_RETURN_STARTUP_ACK.
    pub const RETURN_STARTUP_ACK: u16 = 0x1205;
    /// UP_EXG_MSG_RETURN_END_ACK.
    pub const RETURN_END_ACK: u16 = 0x1206;
    /// UP_EXG_MSG_APPLY_FOR_MONITOR_STARTUP.
    pub const APPLY_FOR_MONITOR_STARTUP: u16 = 0x1207;
    /// UP_EXG_MSG_APPLY_FOR_MONITOR_END.
    pub const APPLY_FOR_MONITOR_END: u16 = 0x1208;
    /// UP_EXG_MSG_APPLY_HISGNSSDATA_REQ.
    pub const APPLY_HISGNSSDATA_REQ: u16 = 0x1209;
    /// DOWN_EXG_MSG_CAR_LOCATION.
    pub const CAR_LOCATION: u16 = 0x9201;
    /// DOWN_EXG_MSG_HISTORY_ARCOSSAREA.
    pub const HISTORY_ARCOSSAREA: u16 = 0x9202;
    /// DOWN_EXG_MSG_RETURN_STARTUP: start sending a car's positions (a track request).
    pub const RETURN_STARTUP: u16 = 0x9205;
    /// DOWN_EXG_MSG_RETURN_END: stop sending them.
    pub const RETURN_END: u16 = 0x9206;
    /// DOWN_EXG_MSG_APPLY_FOR_MONITOR_STARTUP_ACK.
    pub const APPLY_FOR_MONITOR_STARTUP_ACK: u16 = 0x9207;
    /// DOWN_EXG_MSG_APPLY_FOR_MONITOR_END_ACK.
    pub const APPLY_FOR_MONITOR_END_ACK: u16 = 0x9208;
    /// DOWN_EXG_MSG_APPLY_HISGNSSDATA_ACK.
    pub const APPLY_HISGNSSDATA_ACK: u16 = 0x9209;
    /// UP_PLATFORM_MSG_POST_QUERY_ACK: answer to a platform check.
    pub const POST_QUERY_ACK: u16 = 0x1301;
    /// UP_PLATFORM_MSG_INFO_ACK: receipt of a message to the platform.
    pub const INFO_ACK: u16 = 0x1302;
    /// DOWN_PLATFORM_MSG_POST_QUERY_REQ: platform check (平台查岗).
    pub const POST_QUERY_REQ: u16 = 0x9301;
    /// DOWN_PLATFORM_MSG_INFO_REQ: a message to the platform.
    pub const INFO_REQ: u16 = 0x9302;
    /// UP_WARN_MSG_URGE_TODO_ACK: answer to a supervision request.
    pub const URGE_TODO_ACK: u16 = 0x1401;
    /// UP_WARN_MSG_ADPT_INFO: alarm report.
    pub const ADPT_INFO: u16 = 0x1402;
    /// UP_WARN_MSG_ADPT_TODO_INFO: the outcome of handling an alarm.
    pub const ADPT_TODO_INFO: u16 = 0x1403;
    /// DOWN_WARN_MSG_URGE_TODO_REQ: supervision request (报警督办).
    pub const URGE_TODO_REQ: u16 = 0x9401;
    /// DOWN_WARN_MSG_INFORM_TIPS: alarm warning.
    pub const INFORM_TIPS: u16 = 0x9402;
    /// DOWN_WARN_MSG_EXG_INFORM: real-time exchanged alarm.
    pub const EXG_INFORM: u16 = 0x9403;
    /// UP_BASE_MSG_VEHICLE_ADDED_ACK: a vehicle's static information.
    pub const VEHICLE_ADDED_ACK: u16 = 0x1601;
    /// DOWN_BASE_MSG_VEHICLE_ADDED: asks for a vehicle's static information.
    pub const VEHICLE_ADDED: u16 = 0x9601;
}

/// Width of a plate (VEHICLE_NO).
pub const PLATE_WIDTH: usize = 21;

/// A business message about one vehicle: its plate and colour, then the sub-business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForVehicle<T> {
    /// The vehicle.
    pub vehicle: Vehicle,
    /// The sub-business.
    pub data: T,
}

/// A 0x1400/0x9400 message: in 2011 the container names a vehicle, in 2019 it does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warn<T> {
    /// The vehicle (2011; `None` in 2019).
    pub vehicle: Option<Vehicle>,
    /// The sub-business.
    pub data: T,
}

/// A decoded message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Message {
    /// 0x1001.
    Login(Login),
    /// 0x1002.
    LoginAnswer(LoginAnswer),
    /// 0x1003.
    Logout(Logout),
    /// 0x1004.
    LogoutAnswer,
    /// 0x1005.
    KeepAlive,
    /// 0x1006.
    KeepAliveAnswer,
    /// 0x1007: the main link is broken (ERROR_CODE: 0 main link down, 1 other).
    DisconnectInform {
        /// ERROR_CODE.
        error_code: u8,
    },
    /// 0x1008: the lower platform closes the links (REASON_CODE: 0 restart, 1 other).
    CloseLinkInform {
        /// REASON_CODE.
        reason_code: u8,
    },
    /// 0x9001.
    SubLogin {
        /// VERIFY_CODE from the login answer.
        verify_code: u32,
    },
    /// 0x9002: RESULT 0 ok, 1 verify code wrong, 2 resources short, 3 other.
    SubLoginAnswer {
        /// RESULT.
        result: u8,
    },
    /// 0x9003.
    SubLogout {
        /// VERIFY_CODE.
        verify_code: u32,
    },
    /// 0x9004.
    SubLogoutAnswer,
    /// 0x9005.
    SubKeepAlive,
    /// 0x9006.
    SubKeepAliveAnswer,
    /// 0x9007: the sub-link is broken (REASON_CODE).
    SubDisconnectInform {
        /// REASON_CODE.
        reason_code: u8,
    },
    /// 0x9008: the upper platform closes the links (REASON_CODE).
    SubCloseLinkInform {
        /// REASON_CODE.
        reason_code: u8,
    },
    /// 0x9101.
    TotalReceived(TotalReceived),
    /// 0x1200.
    UpExg(ForVehicle<UpExg>),
    /// 0x9200.
    DownExg(ForVehicle<DownExg>),
    /// 0x1300.
    UpPlatform(UpPlatform),
    /// 0x9300.
    DownPlatform(DownPlatform),
    /// 0x1400.
    UpWarn(Warn<UpWarn>),
    /// 0x9400.
    DownWarn(Warn<DownWarn>),
    /// 0x1600.
    UpBase(ForVehicle<UpBase>),
    /// 0x9600.
    DownBase(ForVehicle<DownBase>),
    /// Any other MSG_ID: the body as sent.
    Raw {
        /// MSG_ID.
        msg_id: u16,
        /// The body.
        body: Vec<u8>,
    },
}

/// Reads the DATA_TYPE, DATA_LENGTH and data of a business container; the data must be exactly
/// DATA_LENGTH bytes.
fn container<'a>(r: &mut Reader<'a>, msg_id: u16) -> Result<(u16, &'a [u8]), Error> {
    let data_type = r.u16()?;
    let declared = r.u32()?;
    let data = r.rest();
    if data.len() != declared as usize {
        return Err(Error::DataLengthMismatch {
            msg_id,
            field: "DATA_LENGTH",
            declared,
            actual: data.len(),
        });
    }
    Ok((data_type, data))
}

#[inline]
fn vehicle(r: &mut Reader<'_>) -> Result<Vehicle, Error> {
    Ok(Vehicle {
        plate: r.fixed(PLATE_WIDTH)?,
        color: r.u8()?,
    })
}

fn put_vehicle(out: &mut Vec<u8>, v: &Vehicle) -> Result<(), Error> {
    put_fixed(out, &v.plate, PLATE_WIDTH, "VEHICLE_NO")?;
    out.push(v.color);
    Ok(())
}

fn gnss_list(r: &mut Reader<'_>, edition: Edition) -> Result<Vec<Gnss>, Error> {
    let n = r.u8()?;
    let mut list = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        list.push(Gnss::decode(r, edition)?);
    }
    Ok(list)
}

fn put_gnss_list(out: &mut Vec<u8>, list: &[Gnss], edition: Edition) -> Result<(), Error> {
    let n = u8::try_from(list.len()).map_err(|_| Error::InvalidValue {
        field: "GNSS_CNT",
        value: list.len() as u64,
    })?;
    out.push(n);
    for g in list {
        g.write(edition, out)?;
    }
    Ok(())
}

/// A sub-business body: its DATA_TYPE, how it reads and writes.
trait SubBody: Sized {
    fn data_type(&self) -> u16;
    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error>;
    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error>;
}

/// Decodes `data` with `f` and refuses bytes left over.
#[inline]
fn exact<T>(
    data_type: u16,
    data: &[u8],
    f: impl FnOnce(&mut Reader<'_>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut r = Reader::new(data, data_type);
    let v = f(&mut r)?;
    r.end()?;
    Ok(v)
}

#[inline]
fn read_vehicle_msg<T: SubBody>(
    r: &mut Reader<'_>,
    msg_id: u16,
    edition: Edition,
) -> Result<ForVehicle<T>, Error> {
    let vehicle = vehicle(r)?;
    let (data_type, data) = container(r, msg_id)?;
    Ok(ForVehicle {
        vehicle,
        data: T::read(data_type, edition, data)?,
    })
}

fn write_vehicle_msg<T: SubBody>(
    m: &ForVehicle<T>,
    edition: Edition,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    put_vehicle(out, &m.vehicle)?;
    write_container(&m.data, edition, out)
}

fn write_container<T: SubBody>(data: &T, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
    put_u16(out, data.data_type());
    let at = len_placeholder(out);
    data.write(edition, out)?;
    fill_len(out, at)
}

fn read_platform_msg<T: SubBody>(r: &mut Reader<'_>, msg_id: u16, edition: Edition) -> Result<T, Error> {
    let (data_type, data) = container(r, msg_id)?;
    T::read(data_type, edition, data)
}

fn read_warn_msg<T: SubBody>(r: &mut Reader<'_>, msg_id: u16, edition: Edition) -> Result<Warn<T>, Error> {
    let vehicle = match edition {
        Edition::V2011 => Some(vehicle(r)?),
        Edition::V2019 => None,
    };
    let (data_type, data) = container(r, msg_id)?;
    Ok(Warn {
        vehicle,
        data: T::read(data_type, edition, data)?,
    })
}

fn write_warn_msg<T: SubBody>(m: &Warn<T>, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
    match (edition, &m.vehicle) {
        (Edition::V2011, Some(v)) => put_vehicle(out, v)?,
        (Edition::V2011, None) => {
            return Err(Error::WrongEdition {
                what: "an alarm message without a vehicle",
                edition: edition.as_str(),
            });
        }
        (Edition::V2019, None) => {}
        (Edition::V2019, Some(_)) => {
            return Err(Error::WrongEdition {
                what: "a vehicle in the 0x1400/0x9400 container",
                edition: edition.as_str(),
            });
        }
    }
    write_container(&m.data, edition, out)
}

impl Message {
    /// Decodes `body` (unescaped, decrypted) of message `msg_id` in `edition`'s layout.
    pub fn decode(msg_id: u16, edition: Edition, body: &[u8]) -> Result<Message, Error> {
        let mut r = Reader::new(body, msg_id);
        let r = &mut r;
        let m = match msg_id {
            id::UP_EXG_MSG => Message::UpExg(read_vehicle_msg(r, msg_id, edition)?),
            id::UP_CONNECT_REQ => {
                let user_id = r.u32()?;
                let password = r.fixed(8)?;
                let center_id = match edition {
                    Edition::V2011 => 0,
                    Edition::V2019 => r.u32()?,
                };
                Message::Login(Login {
                    user_id,
                    password,
                    center_id,
                    down_link_ip: r.fixed(32)?,
                    down_link_port: r.u16()?,
                })
            }
            id::UP_CONNECT_RSP => Message::LoginAnswer(LoginAnswer {
                result: r.u8()?,
                verify_code: r.u32()?,
            }),
            id::UP_DISCONNECT_REQ => Message::Logout(Logout {
                user_id: r.u32()?,
                password: r.fixed(8)?,
            }),
            id::UP_DISCONNECT_RSP => Message::LogoutAnswer,
            id::UP_LINKTEST_REQ => Message::KeepAlive,
            id::UP_LINKTEST_RSP => Message::KeepAliveAnswer,
            id::UP_DISCONNECT_INFORM => Message::DisconnectInform { error_code: r.u8()? },
            id::UP_CLOSELINK_INFORM => Message::CloseLinkInform { reason_code: r.u8()? },
            id::DOWN_CONNECT_REQ => Message::SubLogin {
                verify_code: r.u32()?,
            },
            id::DOWN_CONNECT_RSP => Message::SubLoginAnswer { result: r.u8()? },
            id::DOWN_DISCONNECT_REQ => Message::SubLogout {
                verify_code: r.u32()?,
            },
            id::DOWN_DISCONNECT_RSP => Message::SubLogoutAnswer,
            id::DOWN_LINKTEST_REQ => Message::SubKeepAlive,
            id::DOWN_LINKTEST_RSP => Message::SubKeepAliveAnswer,
            id::DOWN_DISCONNECT_INFORM => Message::SubDisconnectInform { reason_code: r.u8()? },
            id::DOWN_CLOSELINK_INFORM => Message::SubCloseLinkInform { reason_code: r.u8()? },
            id::DOWN_TOTAL_RECV_BACK_MSG => Message::TotalReceived(TotalReceived {
                total: r.u32()?,
                start_utc: r.u64()?,
                end_utc: r.u64()?,
            }),
            id::DOWN_EXG_MSG => Message::DownExg(read_vehicle_msg(r, msg_id, edition)?),
            id::UP_PLATFORM_MSG => Message::UpPlatform(read_platform_msg(r, msg_id, edition)?),
            id::DOWN_PLATFORM_MSG => Message::DownPlatform(read_platform_msg(r, msg_id, edition)?),
            id::UP_WARN_MSG => Message::UpWarn(read_warn_msg(r, msg_id, edition)?),
            id::DOWN_WARN_MSG => Message::DownWarn(read_warn_msg(r, msg_id, edition)?),
            id::UP_BASE_MSG => Message::UpBase(read_vehicle_msg(r, msg_id, edition)?),
            id::DOWN_BASE_MSG => Message::DownBase(read_vehicle_msg(r, msg_id, edition)?),
            _ => Message::Raw {
                msg_id,
                body: r.rest().to_vec(),
            },
        };
        r.end()?;
        Ok(m)
    }

    /// Appends the body in `edition`'s layout.
    pub fn encode_body(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            Message::Login(l) => {
                put_u32(out, l.user_id);
                put_fixed(out, &l.password, 8, "PASSWORD")?;
                match edition {
                    Edition::V2011 if l.center_id != 0 => {
                        return Err(Error::WrongEdition {
                            what: "an access code in the login body",
                            edition: edition.as_str(),
                        });
                    }
                    Edition::V2011 => {}
                    Edition::V2019 => put_u32(out, l.center_id),
                }
                put_fixed(out, &l.down_link_ip, 32, "DOWN_LINK_IP")?;
                put_u16(out, l.down_link_port);
            }
            Message::LoginAnswer(a) => {
                out.push(a.result);
                put_u32(out, a.verify_code);
            }
            Message::Logout(l) => {
                put_u32(out, l.user_id);
                put_fixed(out, &l.password, 8, "PASSWORD")?;
            }
            Message::LogoutAnswer
            | Message::KeepAlive
            | Message::KeepAliveAnswer
            | Message::SubLogoutAnswer
            | Message::SubKeepAlive
            | Message::SubKeepAliveAnswer => {}
            Message::DisconnectInform { error_code: b }
            | Message::CloseLinkInform { reason_code: b }
            | Message::SubLoginAnswer { result: b }
            | Message::SubDisconnectInform { reason_code: b }
            | Message::SubCloseLinkInform { reason_code: b } => out.push(*b),
            Message::SubLogin { verify_code } | Message::SubLogout { verify_code } => {
                put_u32(out, *verify_code)
            }
            Message::TotalReceived(t) => {
                put_u32(out, t.total);
                put_u64(out, t.start_utc);
                put_u64(out, t.end_utc);
            }
            Message::UpExg(m) => write_vehicle_msg(m, edition, out)?,
            Message::DownExg(m) => write_vehicle_msg(m, edition, out)?,
            Message::UpPlatform(p) => write_container(p, edition, out)?,
            Message::DownPlatform(p) => write_container(p, edition, out)?,
            Message::UpWarn(m) => write_warn_msg(m, edition, out)?,
            Message::DownWarn(m) => write_warn_msg(m, edition, out)?,
            Message::UpBase(m) => write_vehicle_msg(m, edition, out)?,
            Message::DownBase(m) => write_vehicle_msg(m, edition, out)?,
            Message::Raw { body, .. } => out.extend_from_slice(body),
        }
        Ok(())
    }

    /// The message id.
    pub const fn msg_id(&self) -> u16 {
        match self {
            Message::Login(_) => id::UP_CONNECT_REQ,
            Message::LoginAnswer(_) => id::UP_CONNECT_RSP,
            Message::Logout(_) => id::UP_DISCONNECT_REQ,
            Message::LogoutAnswer => id::UP_DISCONNECT_RSP,
            Message::KeepAlive => id::UP_LINKTEST_REQ,
            Message::KeepAliveAnswer => id::UP_LINKTEST_RSP,
            Message::DisconnectInform { .. } => id::UP_DISCONNECT_INFORM,
            Message::CloseLinkInform { .. } => id::UP_CLOSELINK_INFORM,
            Message::SubLogin { .. } => id::DOWN_CONNECT_REQ,
            Message::SubLoginAnswer { .. } => id::DOWN_CONNECT_RSP,
            Message::SubLogout { .. } => id::DOWN_DISCONNECT_REQ,
            Message::SubLogoutAnswer => id::DOWN_DISCONNECT_RSP,
            Message::SubKeepAlive => id::DOWN_LINKTEST_REQ,
            Message::SubKeepAliveAnswer => id::DOWN_LINKTEST_RSP,
            Message::SubDisconnectInform { .. } => id::DOWN_DISCONNECT_INFORM,
            Message::SubCloseLinkInform { .. } => id::DOWN_CLOSELINK_INFORM,
            Message::TotalReceived(_) => id::DOWN_TOTAL_RECV_BACK_MSG,
            Message::UpExg(_) => id::UP_EXG_MSG,
            Message::DownExg(_) => id::DOWN_EXG_MSG,
            Message::UpPlatform(_) => id::UP_PLATFORM_MSG,
            Message::DownPlatform(_) => id::DOWN_PLATFORM_MSG,
            Message::UpWarn(_) => id::UP_WARN_MSG,
            Message::DownWarn(_) => id::DOWN_WARN_MSG,
            Message::UpBase(_) => id::UP_BASE_MSG,
            Message::DownBase(_) => id::DOWN_BASE_MSG,
            Message::Raw { msg_id, .. } => *msg_id,
        }
    }

    /// The DATA_TYPE of a business message (`None` for the link layer and raw bodies).
    pub fn data_type(&self) -> Option<u16> {
        Some(match self {
            Message::UpExg(m) => m.data.data_type(),
            Message::DownExg(m) => m.data.data_type(),
            Message::UpPlatform(p) => p.data_type(),
            Message::DownPlatform(p) => p.data_type(),
            Message::UpWarn(m) => m.data.data_type(),
            Message::DownWarn(m) => m.data.data_type(),
            Message::UpBase(m) => m.data.data_type(),
            Message::DownBase(m) => m.data.data_type(),
            _ => return None,
        })
    }
}

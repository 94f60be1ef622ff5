//! Message bodies: the link layer (login, logout, keep-alive, disconnect notices on both links) and the
//! business families Tianshu exchanges (0x1200/0x9200 dynamic vehicle information, 0x1300/0x9300
//! platform checks, 0x1400/0x9400 alarms and supervision, 0x1600/0x9600 static vehicle information).
//!
//! A business message is a container (vehicle plate and colour for the vehicle families, then
//! DATA_TYPE and DATA_LENGTH) around a sub-business body. Sub-business types this codec does not
//! lay out decode to `Other` with their bytes; an unknown MSG_ID decodes to [`Message::Raw`].

use serde::Serialize;

use crate::wire::{Reader, fill_len, len_placeholder, put_fixed, put_u16, put_u32, put_u64, put_var};
use crate::{Edition, Error};

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

/// 0x1001: main-link login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Login {
    /// USERID.
    pub user_id: u32,
    /// PASSWORD, 8 bytes.
    pub password: String,
    /// MSG_GNSSCENTERID in the body (2019 only; 0 in 2011).
    pub center_id: u32,
    /// DOWN_LINK_IP: where the upper platform opens the sub-link, 32 bytes.
    pub down_link_ip: String,
    /// DOWN_LINK_PORT.
    pub down_link_port: u16,
}

/// 0x1002: the login answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoginAnswer {
    /// RESULT: see the `LOGIN_*` constants.
    pub result: u8,
    /// VERIFY_CODE, which the upper platform then presents on the sub-link.
    pub verify_code: u32,
}

impl LoginAnswer {
    /// Login accepted.
    pub const OK: u8 = 0x00;
    /// IP address not allowed.
    pub const BAD_IP: u8 = 0x01;
    /// Access code (接入码) wrong.
    pub const BAD_ACCESS_CODE: u8 = 0x02;
    /// User not registered.
    pub const UNKNOWN_USER: u8 = 0x03;
    /// Password wrong.
    pub const BAD_PASSWORD: u8 = 0x04;
    /// Resources short; try later.
    pub const BUSY: u8 = 0x05;
    /// Another reason.
    pub const OTHER: u8 = 0x06;
}

/// 0x1003: main-link logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logout {
    /// USERID.
    pub user_id: u32,
    /// PASSWORD.
    pub password: String,
}

/// 0x9101: how many messages the upper platform received between two times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TotalReceived {
    /// DYNAMIC_INFO_TOTAL.
    pub total: u32,
    /// START_TIME, UTC seconds.
    pub start_utc: u64,
    /// END_TIME, UTC seconds.
    pub end_utc: u64,
}

/// A vehicle: plate (GBK, 21 bytes) and plate colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vehicle {
    /// VEHICLE_NO.
    pub plate: String,
    /// VEHICLE_COLOR (1 blue, 2 yellow, 3 black, 4 white, 9 other in 2011; 2019 adds codes).
    pub color: u8,
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
    fn decode(r: &mut Reader<'_>, edition: Edition) -> Result<Gnss, Error> {
        Ok(match edition {
            Edition::V2011 => Gnss::V2011(Gnss2011 {
                encrypt: r.u8()?,
                day: r.u8()?,
                month: r.u8()?,
                year: r.u16()?,
                hour: r.u8()?,
                minute: r.u8()?,
                second: r.u8()?,
                lon_e6: r.u32()?,
                lat_e6: r.u32()?,
                speed_kmh: r.u16()?,
                recorder_speed_kmh: r.u16()?,
                mileage_km: r.u32()?,
                direction_deg: r.u16()?,
                altitude_m: r.u16()?,
                state: r.u32()?,
                alarm: r.u32()?,
            }),
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

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
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

/// 0x1301: the answer to a platform check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostQueryAck {
    /// OBJECT_TYPE.
    pub object_type: u8,
    /// RESPONDER, 16 bytes (2019 only).
    pub responder: String,
    /// RESPONDER_TEL, 20 bytes (2019 only).
    pub responder_tel: String,
    /// OBJECT_ID, 12 bytes (20 in 2019).
    pub object_id: String,
    /// SOURCE_DATA_TYPE (2019 only): the check's DATA_TYPE.
    pub source_data_type: u16,
    /// SOURCE_MSG_SN (2019 only): the check's MSG_SN.
    pub source_msg_sn: u32,
    /// INFO_ID (2011 only): the check's.
    pub info_id: u32,
    /// INFO_CONTENT: the answer.
    pub info: String,
}

/// The 0x1300 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpPlatform {
    /// 0x1301.
    PostQueryAck(PostQueryAck),
    /// 0x1302.
    InfoAck {
        /// INFO_ID of the message received.
        info_id: u32,
    },
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

/// 0x9301 (platform check) and 0x9302 (message to the platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformQuery {
    /// OBJECT_TYPE (who is asked: 1 the platform's operators, 2 a platform, ...).
    pub object_type: u8,
    /// OBJECT_ID, 12 bytes (20 in 2019 for 0x9301).
    pub object_id: String,
    /// ANSWER_TIME (2019 0x9301 only): the deadline to answer, minutes.
    pub answer_minutes: u8,
    /// INFO_ID.
    pub info_id: u32,
    /// INFO_CONTENT: the question or message.
    pub info: String,
}

/// The 0x9300 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownPlatform {
    /// 0x9301.
    PostQuery(PlatformQuery),
    /// 0x9302 (laid out as in 2011 in both editions).
    Info(PlatformQuery),
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

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

/// The 0x1600 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpBase {
    /// 0x1601: the vehicle's static information (`key:=value;` pairs, as the standard writes them).
    VehicleAddedAck {
        /// CAR_INFO.
        car_info: String,
    },
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

/// The 0x9600 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownBase {
    /// 0x9601: asks for the vehicle's static information.
    VehicleAdded,
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

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

impl SubBody for UpPlatform {
    fn data_type(&self) -> u16 {
        match self {
            UpPlatform::PostQueryAck(_) => sub::POST_QUERY_ACK,
            UpPlatform::InfoAck { .. } => sub::INFO_ACK,
            UpPlatform::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::POST_QUERY_ACK => {
                    let object_type = r.u8()?;
                    let mut a = PostQueryAck {
                        object_type,
                        responder: String::new(),
                        responder_tel: String::new(),
                        object_id: String::new(),
                        source_data_type: 0,
                        source_msg_sn: 0,
                        info_id: 0,
                        info: String::new(),
                    };
                    match edition {
                        Edition::V2011 => {
                            a.object_id = r.fixed(12)?;
                            a.info_id = r.u32()?;
                        }
                        Edition::V2019 => {
                            a.responder = r.fixed(16)?;
                            a.responder_tel = r.fixed(20)?;
                            a.object_id = r.fixed(20)?;
                            a.source_data_type = r.u16()?;
                            a.source_msg_sn = r.u32()?;
                        }
                    }
                    a.info = r.var_text("INFO_LENGTH")?;
                    UpPlatform::PostQueryAck(a)
                }
                sub::INFO_ACK => UpPlatform::InfoAck { info_id: r.u32()? },
                _ => UpPlatform::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            UpPlatform::PostQueryAck(a) => {
                out.push(a.object_type);
                match edition {
                    Edition::V2011 => {
                        put_fixed(out, &a.object_id, 12, "OBJECT_ID")?;
                        put_u32(out, a.info_id);
                    }
                    Edition::V2019 => {
                        put_fixed(out, &a.responder, 16, "RESPONDER")?;
                        put_fixed(out, &a.responder_tel, 20, "RESPONDER_TEL")?;
                        put_fixed(out, &a.object_id, 20, "OBJECT_ID")?;
                        put_u16(out, a.source_data_type);
                        put_u32(out, a.source_msg_sn);
                    }
                }
                put_var(out, &a.info, "INFO_CONTENT")?;
            }
            UpPlatform::InfoAck { info_id } => put_u32(out, *info_id),
            UpPlatform::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

impl PlatformQuery {
    fn read(r: &mut Reader<'_>, check_2019: bool) -> Result<Self, Error> {
        let object_type = r.u8()?;
        let object_id = r.fixed(if check_2019 { 20 } else { 12 })?;
        let answer_minutes = if check_2019 { r.u8()? } else { 0 };
        Ok(PlatformQuery {
            object_type,
            object_id,
            answer_minutes,
            info_id: r.u32()?,
            info: r.var_text("INFO_LENGTH")?,
        })
    }

    fn write(&self, check_2019: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        out.push(self.object_type);
        put_fixed(
            out,
            &self.object_id,
            if check_2019 { 20 } else { 12 },
            "OBJECT_ID",
        )?;
        if check_2019 {
            out.push(self.answer_minutes);
        }
        put_u32(out, self.info_id);
        put_var(out, &self.info, "INFO_CONTENT")
    }
}

impl SubBody for DownPlatform {
    fn data_type(&self) -> u16 {
        match self {
            DownPlatform::PostQuery(_) => sub::POST_QUERY_REQ,
            DownPlatform::Info(_) => sub::INFO_REQ,
            DownPlatform::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::POST_QUERY_REQ => {
                    DownPlatform::PostQuery(PlatformQuery::read(r, edition == Edition::V2019)?)
                }
                sub::INFO_REQ => DownPlatform::Info(PlatformQuery::read(r, false)?),
                _ => DownPlatform::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DownPlatform::PostQuery(q) => q.write(edition == Edition::V2019, out)?,
            DownPlatform::Info(q) => q.write(false, out)?,
            DownPlatform::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
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

impl SubBody for UpBase {
    fn data_type(&self) -> u16 {
        match self {
            UpBase::VehicleAddedAck { .. } => sub::VEHICLE_ADDED_ACK,
            UpBase::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, _edition: Edition, data: &[u8]) -> Result<Self, Error> {
        Ok(match data_type {
            sub::VEHICLE_ADDED_ACK => UpBase::VehicleAddedAck {
                car_info: crate::wire::gbk_decode(data),
            },
            _ => UpBase::Other {
                data_type,
                data: data.to_vec(),
            },
        })
    }

    fn write(&self, _edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            UpBase::VehicleAddedAck { car_info } => {
                out.extend_from_slice(&crate::wire::gbk_encode(car_info, "CAR_INFO")?);
            }
            UpBase::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

impl SubBody for DownBase {
    fn data_type(&self) -> u16 {
        match self {
            DownBase::VehicleAdded => sub::VEHICLE_ADDED,
            DownBase::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, _edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::VEHICLE_ADDED => DownBase::VehicleAdded,
                _ => DownBase::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, _edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DownBase::VehicleAdded => {}
            DownBase::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

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

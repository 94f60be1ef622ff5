//! Alert cases as alarm reports (0x1400/0x1402), decided once and without I/O: which WARN_TYPE a rule's
//! case goes up as, what the report carries in either edition, and what an upper platform keeps of a
//! report it receives. The links (`tianshu-platform`) only carry these out.
//!
//! WARN_TYPE follows the standard's alarm code table (报警类型编码表); a rule with no code of its own
//! goes as 0x000E (其他报警), its rule named in the report's text.

use serde::Serialize;
use tianshu_model::Timestamp;
use tianshu_model::case::AlertCase;

use crate::Edition;
use crate::duty::truncate_bytes;
use crate::message::{AlarmReport, Message, UpWarn, Vehicle, Warn};

/// 0x0001 超速报警.
pub const WARN_OVERSPEED: u16 = 0x0001;
/// 0x0004 进入指定区域报警.
pub const WARN_ENTER_AREA: u16 = 0x0004;
/// 0x0008 越界报警.
pub const WARN_OUT_OF_BOUNDS: u16 = 0x0008;
/// 0x000B 偏离路线报警.
pub const WARN_OFF_ROUTE: u16 = 0x000B;
/// 0x000E 其他报警.
pub const WARN_OTHER: u16 = 0x000E;

/// WARN_SRC of a report Tianshu makes (2011): 2, a monitoring platform's own finding.
pub const WARN_SRC_PLATFORM: u8 = 2;

/// Longest INFO_CONTENT of a report, in characters (the case's Chinese reasoning, cut).
pub const MAX_INFO_CHARS: usize = 300;

/// The WARN_TYPE a case of rule `rule` goes up as.
pub fn warn_type_of(rule: &str) -> u16 {
    match rule {
        "overspeed" => WARN_OVERSPEED,
        "prohibited_place" => WARN_ENTER_AREA,
        "region_exit" => WARN_OUT_OF_BOUNDS,
        "off_route" => WARN_OFF_ROUTE,
        _ => WARN_OTHER,
    }
}

/// The standard's Chinese name of a WARN_TYPE, for the page; `None` for a code not in the table.
pub fn warn_type_name(warn_type: u16) -> Option<&'static str> {
    Some(match warn_type {
        0x0001 => "超速报警",
        0x0002 => "疲劳驾驶报警",
        0x0003 => "紧急报警",
        0x0004 => "进入指定区域报警",
        0x0005 => "离开指定区域报警",
        0x0006 => "路段堵塞报警",
        0x0007 => "危险路段报警",
        0x0008 => "越界报警",
        0x0009 => "盗警",
        0x000A => "劫警",
        0x000B => "偏离路线报警",
        0x000C => "车辆移动报警",
        0x000D => "超时驾驶报警",
        0x000E => "其他报警",
        _ => return None,
    })
}

fn secs(t: Timestamp) -> u64 {
    u64::try_from(t.secs()).unwrap_or(0)
}

/// Where a report goes and comes from (2019's SOURCE_PLATFORM_ID and DESTINATION_PLATFORM_ID: the
/// lower platform's access code and the upper platform's name for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRoute<'a> {
    /// The lower platform's id (its access code, in digits).
    pub source: &'a str,
    /// The upper platform's id.
    pub destination: &'a str,
}

/// The 0x1402 reporting `case` of the car `vehicle`: INFO_ID is the case's number (2011), the report's
/// period the case's episode (2019), the text the case's Chinese reasoning with its rule.
pub fn alarm_report(
    case: &AlertCase,
    vehicle: &Vehicle,
    route: ReportRoute<'_>,
    edition: Edition,
) -> Message {
    let info = format!("[{}] {}", case.rule, case.reasoning_zh);
    let info: String = info.chars().take(MAX_INFO_CHARS).collect();
    let v2019 = edition == Edition::V2019;
    let report = AlarmReport {
        warn_src: if v2019 { 0 } else { WARN_SRC_PLATFORM },
        source_platform_id: if v2019 {
            truncate_bytes(route.source, 11)
        } else {
            String::new()
        },
        warn_type: warn_type_of(&case.rule),
        warn_time_utc: secs(case.start),
        start_utc: if v2019 { secs(case.start) } else { 0 },
        end_utc: if v2019 { case.end.map_or(0, secs) } else { 0 },
        vehicle: v2019.then(|| vehicle.clone()),
        destination_platform_id: if v2019 {
            truncate_bytes(route.destination, 11)
        } else {
            String::new()
        },
        line_id: 0,
        info_id: if v2019 {
            0
        } else {
            u32::try_from(case.id).unwrap_or(0)
        },
        info,
    };
    Message::UpWarn(Warn {
        vehicle: (!v2019).then(|| vehicle.clone()),
        data: UpWarn::AlarmReport(report),
    })
}

/// An alarm report as an upper platform keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmReceived {
    /// The car's plate.
    pub plate: String,
    /// WARN_SRC (2011; 0 in 2019).
    pub warn_src: u8,
    /// WARN_TYPE.
    pub warn_type: u16,
    /// WARN_TIME.
    pub warn_time: Timestamp,
    /// START_TIME and END_TIME (2019), when given.
    pub start: Option<Timestamp>,
    /// END_TIME (2019), when given.
    pub end: Option<Timestamp>,
    /// INFO_ID (2011; 0 in 2019).
    pub info_id: u32,
    /// INFO_CONTENT.
    pub info: String,
}

/// What an upper platform keeps of a message, `None` for anything but an alarm report naming a car.
pub fn alarm_received(m: &Message) -> Option<AlarmReceived> {
    let Message::UpWarn(Warn {
        vehicle,
        data: UpWarn::AlarmReport(a),
    }) = m
    else {
        return None;
    };
    let plate = vehicle.as_ref().or(a.vehicle.as_ref())?.plate.clone();
    if plate.is_empty() {
        return None;
    }
    let time = |s: u64| (s != 0).then(|| Timestamp::from_secs(i64::try_from(s).unwrap_or(0)));
    Some(AlarmReceived {
        plate,
        warn_src: a.warn_src,
        warn_type: a.warn_type,
        warn_time: time(a.warn_time_utc).unwrap_or(Timestamp(0)),
        start: time(a.start_utc),
        end: time(a.end_utc),
        info_id: a.info_id,
        info: a.info.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tianshu_model::case::NewCase;
    use tianshu_model::{CaseState, UnitId, VehicleId};

    use super::*;
    use crate::{Codec, Header};

    fn case(rule: &str) -> AlertCase {
        AlertCase {
            id: 42,
            raised: NewCase {
                vehicle: VehicleId(1),
                unit: UnitId(1),
                rule: rule.into(),
                start: Timestamp::from_secs(1_796_000_000),
                end: Some(Timestamp::from_secs(1_796_000_600)),
                severity: "high".into(),
                late: false,
                reasoning: "speeding".into(),
                reasoning_zh: "车辆超速行驶".into(),
                episode: json!({}),
                escalate_at: None,
            },
            state: CaseState::Open,
            created: Timestamp::from_secs(1_796_000_700),
            updated: Timestamp::from_secs(1_796_000_700),
        }
    }

    #[test]
    fn rules_map_to_the_standards_warn_types() {
        assert_eq!(warn_type_of("overspeed"), 0x0001);
        assert_eq!(warn_type_of("off_route"), 0x000B);
        assert_eq!(warn_type_of("region_exit"), 0x0008);
        assert_eq!(warn_type_of("prohibited_place"), 0x0004);
        for other in [
            "out_of_hours",
            "no_order",
            "night_parking",
            "holiday_seal",
            "tamper",
            "silence",
            "x",
        ] {
            assert_eq!(warn_type_of(other), WARN_OTHER, "{other}");
        }
        assert_eq!(warn_type_name(warn_type_of("off_route")), Some("偏离路线报警"));
        assert_eq!(warn_type_name(0x00ff), None);
    }

    #[test]
    fn a_case_goes_up_and_is_kept_the_same_in_both_editions() {
        let v = Vehicle {
            plate: "鄂B12345".into(),
            color: 1,
        };
        let route = ReportRoute {
            source: "4200",
            destination: "province",
        };
        for edition in [Edition::V2011, Edition::V2019] {
            let m = alarm_report(&case("overspeed"), &v, route, edition);
            let codec = Codec::new(edition);
            let frame = codec
                .encode(&Header::new(edition, m.msg_id(), 1, 4200), &m)
                .unwrap();
            let back = codec.decode_frame(&frame).unwrap().message().unwrap();
            assert_eq!(back, m);
            let kept = alarm_received(&back).unwrap();
            assert_eq!(kept.plate, "鄂B12345");
            assert_eq!(kept.warn_type, WARN_OVERSPEED);
            assert_eq!(kept.warn_time, Timestamp::from_secs(1_796_000_000));
            assert_eq!(kept.info, "[overspeed] 车辆超速行驶");
            match edition {
                Edition::V2011 => {
                    assert_eq!((kept.info_id, kept.warn_src), (42, WARN_SRC_PLATFORM));
                    assert_eq!(kept.end, None);
                }
                Edition::V2019 => {
                    assert_eq!(kept.info_id, 0);
                    assert_eq!(kept.end, Some(Timestamp::from_secs(1_796_000_600)));
                }
            }
        }
    }

    #[test]
    fn a_long_reasoning_is_cut_and_other_messages_are_not_alarms() {
        let mut c = case("tamper");
        c.raised.reasoning_zh = "长".repeat(1000);
        let v = Vehicle {
            plate: "鄂B1".into(),
            color: 1,
        };
        let route = ReportRoute {
            source: "",
            destination: "",
        };
        let m = alarm_report(&c, &v, route, Edition::V2011);
        assert_eq!(alarm_received(&m).unwrap().info.chars().count(), MAX_INFO_CHARS);
        assert_eq!(alarm_received(&Message::KeepAlive), None);
    }
}

//! One sample of every message the codec lays out, in the layout of a given edition.

use tianshu_jt809::*;

pub const CIPHER: Cipher = Cipher {
    m1: 30_000_000,
    ia1: 20_000_000,
    ic1: 20_000_000,
};

fn vehicle() -> Vehicle {
    Vehicle {
        plate: "京A12345".into(),
        color: 2,
    }
}

pub fn gnss(edition: Edition, i: u32) -> Gnss {
    match edition {
        Edition::V2011 => Gnss::V2011(Gnss2011 {
            encrypt: 0,
            day: 6,
            month: 12,
            year: 2026,
            hour: 8,
            minute: 30,
            second: (i % 60) as u8,
            lon_e6: 116_397_128 + i,
            lat_e6: 39_916_527,
            speed_kmh: 42,
            recorder_speed_kmh: 41,
            mileage_km: 12_345,
            direction_deg: 90,
            altitude_m: 44,
            state: 0x0000_0003,
            alarm: 0,
        }),
        Edition::V2019 => Gnss::V2019(Gnss2019 {
            encrypt: 0,
            // A JT/T 808 0x0200 body: alarm, status, lat, lon, altitude, speed, direction, BCD time.
            location: hex::decode(format!(
                "0000000000000003026111ef06f00a{:02x}002c01a4005a261206083000",
                0x48 + (i % 100) as u8
            ))
            .expect("hex"),
            platforms: [
                PlatformAlarm {
                    platform_id: "11000000001".into(),
                    alarm: 0,
                },
                PlatformAlarm {
                    platform_id: String::new(),
                    alarm: 0,
                },
                PlatformAlarm {
                    platform_id: String::new(),
                    alarm: 0,
                },
            ],
        }),
    }
}

/// `(name, message)` for every message, in `edition`'s layout.
pub fn all(edition: Edition) -> Vec<(&'static str, Message)> {
    let is19 = edition == Edition::V2019;
    let for_vehicle = |m: UpExg| {
        Message::UpExg(ForVehicle {
            vehicle: vehicle(),
            data: m,
        })
    };
    let down_exg = |m: DownExg| {
        Message::DownExg(ForVehicle {
            vehicle: vehicle(),
            data: m,
        })
    };
    let warn_vehicle = if is19 { None } else { Some(vehicle()) };
    let up_warn = |m: UpWarn| {
        Message::UpWarn(Warn {
            vehicle: warn_vehicle.clone(),
            data: m,
        })
    };
    let down_warn = |m: DownWarn| {
        Message::DownWarn(Warn {
            vehicle: warn_vehicle.clone(),
            data: m,
        })
    };
    let period = Period {
        start_utc: 1_796_000_000,
        end_utc: 1_796_003_600,
    };
    vec![
        (
            "login",
            Message::Login(Login {
                user_id: 10_001,
                password: "pa55word".into(),
                center_id: if is19 { 3_201_000 } else { 0 },
                down_link_ip: "127.0.0.1".into(),
                down_link_port: 8090,
            }),
        ),
        (
            "login_answer",
            Message::LoginAnswer(LoginAnswer {
                result: LoginAnswer::OK,
                verify_code: 0x1234_5678,
            }),
        ),
        (
            "login_answer_bad_password",
            Message::LoginAnswer(LoginAnswer {
                result: LoginAnswer::BAD_PASSWORD,
                verify_code: 0,
            }),
        ),
        (
            "logout",
            Message::Logout(Logout {
                user_id: 10_001,
                password: "pa55word".into(),
            }),
        ),
        ("logout_answer", Message::LogoutAnswer),
        ("keep_alive", Message::KeepAlive),
        ("keep_alive_answer", Message::KeepAliveAnswer),
        ("disconnect_inform", Message::DisconnectInform { error_code: 0 }),
        ("close_link_inform", Message::CloseLinkInform { reason_code: 1 }),
        (
            "sub_login",
            Message::SubLogin {
                verify_code: 0x1234_5678,
            },
        ),
        ("sub_login_answer", Message::SubLoginAnswer { result: 0 }),
        (
            "sub_logout",
            Message::SubLogout {
                verify_code: 0x1234_5678,
            },
        ),
        ("sub_logout_answer", Message::SubLogoutAnswer),
        ("sub_keep_alive", Message::SubKeepAlive),
        ("sub_keep_alive_answer", Message::SubKeepAliveAnswer),
        (
            "sub_disconnect_inform",
            Message::SubDisconnectInform { reason_code: 0 },
        ),
        (
            "sub_close_link_inform",
            Message::SubCloseLinkInform { reason_code: 1 },
        ),
        (
            "total_received",
            Message::TotalReceived(TotalReceived {
                total: 1200,
                start_utc: period.start_utc,
                end_utc: period.end_utc,
            }),
        ),
        (
            "register",
            for_vehicle(UpExg::Register(Register {
                platform_id: "11000000001".into(),
                producer_id: "70111".into(),
                terminal_model: "TS-808".into(),
                imei: if is19 {
                    "861234567890123".into()
                } else {
                    String::new()
                },
                terminal_id: "A123456".into(),
                sim: "013800138000".into(),
            })),
        ),
        (
            "real_location",
            for_vehicle(UpExg::RealLocation(gnss(edition, 0))),
        ),
        (
            "history_location",
            for_vehicle(UpExg::HistoryLocation((0..3).map(|i| gnss(edition, i)).collect())),
        ),
        ("return_startup_ack", for_vehicle(UpExg::ReturnStartupAck)),
        ("return_end_ack", for_vehicle(UpExg::ReturnEndAck)),
        (
            "apply_for_monitor_startup",
            for_vehicle(UpExg::ApplyForMonitorStartup(period)),
        ),
        ("apply_for_monitor_end", for_vehicle(UpExg::ApplyForMonitorEnd)),
        ("apply_history", for_vehicle(UpExg::ApplyHistory(period))),
        ("car_location", down_exg(DownExg::CarLocation(gnss(edition, 7)))),
        (
            "history_arcoss_area",
            down_exg(DownExg::HistoryArcossArea(vec![
                gnss(edition, 1),
                gnss(edition, 2),
            ])),
        ),
        (
            "return_startup",
            down_exg(DownExg::ReturnStartup { reason_code: 0 }),
        ),
        ("return_end", down_exg(DownExg::ReturnEnd { reason_code: 1 })),
        (
            "apply_for_monitor_startup_ack",
            down_exg(DownExg::ApplyForMonitorStartupAck { result: 0 }),
        ),
        (
            "apply_for_monitor_end_ack",
            down_exg(DownExg::ApplyForMonitorEndAck { result: 0 }),
        ),
        (
            "apply_history_ack",
            down_exg(DownExg::ApplyHistoryAck { result: 0 }),
        ),
        (
            "post_query_ack",
            Message::UpPlatform(UpPlatform::PostQueryAck(PostQueryAck {
                object_type: 1,
                responder: if is19 { "张三".into() } else { String::new() },
                responder_tel: if is19 { "13800138000".into() } else { String::new() },
                object_id: "11000000001".into(),
                source_data_type: if is19 { sub::POST_QUERY_REQ } else { 0 },
                source_msg_sn: if is19 { 42 } else { 0 },
                info_id: if is19 { 0 } else { 77 },
                info: "在岗，值班员张三".into(),
            })),
        ),
        (
            "info_ack",
            Message::UpPlatform(UpPlatform::InfoAck { info_id: 78 }),
        ),
        (
            "post_query",
            Message::DownPlatform(DownPlatform::PostQuery(PlatformQuery {
                object_type: 1,
                object_id: "11000000001".into(),
                answer_minutes: if is19 { 10 } else { 0 },
                info_id: 77,
                info: "请回答：今日值班人员？".into(),
            })),
        ),
        (
            "platform_info",
            Message::DownPlatform(DownPlatform::Info(PlatformQuery {
                object_type: 2,
                object_id: "11000000001".into(),
                answer_minutes: 0,
                info_id: 78,
                info: "节假日加强值守".into(),
            })),
        ),
        (
            "urge_todo_ack",
            up_warn(UpWarn::UrgeTodoAck {
                supervision_id: 0x123F_FAA1,
                result: 1,
            }),
        ),
        (
            "alarm_report",
            up_warn(UpWarn::AlarmReport(AlarmReport {
                warn_src: if is19 { 0 } else { 1 },
                source_platform_id: if is19 { "11000000001".into() } else { String::new() },
                warn_type: 0x0001,
                warn_time_utc: period.start_utc,
                start_utc: if is19 { period.start_utc } else { 0 },
                end_utc: if is19 { period.end_utc } else { 0 },
                vehicle: if is19 { Some(vehicle()) } else { None },
                destination_platform_id: String::new(),
                line_id: 0,
                info_id: if is19 { 0 } else { 9 },
                info: "超速报警".into(),
            })),
        ),
        (
            "alarm_handled",
            up_warn(UpWarn::AlarmHandled {
                info_id: 9,
                result: 1,
            }),
        ),
        (
            "supervision",
            down_warn(DownWarn::Supervision(Supervision {
                warn_src: 1,
                warn_type: 2,
                warn_time_utc: period.start_utc,
                supervision_id: 0x123F_FAA1,
                deadline_utc: period.end_utc,
                level: 0,
                supervisor: "李四".into(),
                supervisor_tel: "010-12345678".into(),
                supervisor_email: "duty@example.invalid".into(),
            })),
        ),
        (
            "inform_tips",
            down_warn(DownWarn::InformTips(WarnNotice {
                warn_src: 3,
                warn_type: 0x0002,
                warn_time_utc: period.start_utc,
                content: "疲劳驾驶预警".into(),
            })),
        ),
        (
            "exg_inform",
            down_warn(DownWarn::ExgInform(WarnNotice {
                warn_src: 2,
                warn_type: 0x0001,
                warn_time_utc: period.start_utc,
                content: "超速".into(),
            })),
        ),
        (
            "vehicle_added_ack",
            Message::UpBase(ForVehicle {
                vehicle: vehicle(),
                data: UpBase::VehicleAddedAck {
                    car_info: "VIN:=LSVAM4187C2184847;VEHICLE_TYPE:=小型轿车;OWERS_NAME:=市政府办公室".into(),
                },
            }),
        ),
        (
            "vehicle_added",
            Message::DownBase(ForVehicle {
                vehicle: vehicle(),
                data: DownBase::VehicleAdded,
            }),
        ),
    ]
}

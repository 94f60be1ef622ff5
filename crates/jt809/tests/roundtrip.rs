//! Property: every message the codec lays out, with arbitrary field values the wire can carry,
//! encodes to a frame (either edition, plain or encrypted, any seed) that decodes to the same header
//! and message; and arbitrary bytes fed to the decoders never panic.

use bytes::BytesMut;
use proptest::prelude::*;
use tianshu_jt809::*;

/// Text that fits `width` bytes in GBK (each character here is one or two bytes).
fn text(width: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9 .:@京沪粤苏值班报警]{{0,{}}}", width / 2))
        .expect("regex")
        .boxed()
}

fn any_edition() -> impl Strategy<Value = Edition> {
    prop_oneof![Just(Edition::V2011), Just(Edition::V2019)]
}

fn gnss(edition: Edition) -> BoxedStrategy<Gnss> {
    match edition {
        Edition::V2011 => (
            (
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u16>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
            ),
            (
                any::<u32>(),
                any::<u32>(),
                any::<u16>(),
                any::<u16>(),
                any::<u32>(),
            ),
            (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>()),
        )
            .prop_map(
                |(
                    (encrypt, day, month, year, hour, minute, second),
                    (lon, lat, v1, v2, v3),
                    (d, a, s, al),
                )| {
                    Gnss::V2011(Gnss2011 {
                        encrypt,
                        day,
                        month,
                        year,
                        hour,
                        minute,
                        second,
                        lon_e6: lon,
                        lat_e6: lat,
                        speed_kmh: v1,
                        recorder_speed_kmh: v2,
                        mileage_km: v3,
                        direction_deg: d,
                        altitude_m: a,
                        state: s,
                        alarm: al,
                    })
                },
            )
            .boxed(),
        Edition::V2019 => (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..64),
            [
                (text(11), any::<u32>()),
                (text(11), any::<u32>()),
                (text(11), any::<u32>()),
            ],
        )
            .prop_map(|(encrypt, location, p)| {
                Gnss::V2019(Gnss2019 {
                    encrypt,
                    location,
                    platforms: p.map(|(platform_id, alarm)| PlatformAlarm { platform_id, alarm }),
                })
            })
            .boxed(),
    }
}

fn vehicle() -> BoxedStrategy<Vehicle> {
    (text(21), any::<u8>())
        .prop_map(|(plate, color)| Vehicle { plate, color })
        .boxed()
}

fn message(edition: Edition) -> BoxedStrategy<Message> {
    let is19 = edition == Edition::V2019;
    let period = (any::<u64>(), any::<u64>()).prop_map(|(start_utc, end_utc)| Period { start_utc, end_utc });
    let up_exg = prop_oneof![
        (
            text(11),
            text(11),
            text(20),
            text(if is19 { 15 } else { 0 }),
            text(7),
            text(12)
        )
            .prop_map(
                |(platform_id, producer_id, terminal_model, imei, terminal_id, sim)| {
                    UpExg::Register(Register {
                        platform_id,
                        producer_id,
                        terminal_model,
                        imei,
                        terminal_id,
                        sim,
                    })
                }
            ),
        gnss(edition).prop_map(UpExg::RealLocation),
        proptest::collection::vec(gnss(edition), 0..6).prop_map(UpExg::HistoryLocation),
        Just(UpExg::ReturnStartupAck),
        Just(UpExg::ReturnEndAck),
        period.clone().prop_map(UpExg::ApplyForMonitorStartup),
        Just(UpExg::ApplyForMonitorEnd),
        period.prop_map(UpExg::ApplyHistory),
        (0x1280u16..0x12ff, proptest::collection::vec(any::<u8>(), 0..32))
            .prop_map(|(data_type, data)| UpExg::Other { data_type, data }),
    ];
    let down_exg = prop_oneof![
        gnss(edition).prop_map(DownExg::CarLocation),
        proptest::collection::vec(gnss(edition), 0..4).prop_map(DownExg::HistoryArcossArea),
        any::<u8>().prop_map(|reason_code| DownExg::ReturnStartup { reason_code }),
        any::<u8>().prop_map(|reason_code| DownExg::ReturnEnd { reason_code }),
        any::<u8>().prop_map(|result| DownExg::ApplyForMonitorStartupAck { result }),
        any::<u8>().prop_map(|result| DownExg::ApplyForMonitorEndAck { result }),
        any::<u8>().prop_map(|result| DownExg::ApplyHistoryAck { result }),
    ];
    let query = (any::<u8>(), text(12), any::<u8>(), any::<u32>(), text(200));
    let warn_vehicle = if is19 {
        Just(None).boxed()
    } else {
        vehicle().prop_map(Some).boxed()
    };
    let notice = (any::<u8>(), any::<u16>(), any::<u64>(), text(100)).prop_map(
        |(warn_src, warn_type, warn_time_utc, content)| WarnNotice {
            warn_src,
            warn_type,
            warn_time_utc,
            content,
        },
    );
    prop_oneof![
        (any::<u32>(), text(8), any::<u32>(), text(32), any::<u16>()).prop_map(
            move |(user_id, password, c, ip, port)| {
                Message::Login(Login {
                    user_id,
                    password,
                    center_id: if is19 { c } else { 0 },
                    down_link_ip: ip,
                    down_link_port: port,
                })
            }
        ),
        (any::<u8>(), any::<u32>())
            .prop_map(|(result, verify_code)| Message::LoginAnswer(LoginAnswer { result, verify_code })),
        (any::<u32>(), text(8)).prop_map(|(user_id, password)| Message::Logout(Logout { user_id, password })),
        Just(Message::KeepAlive),
        Just(Message::SubKeepAliveAnswer),
        any::<u8>().prop_map(|error_code| Message::DisconnectInform { error_code }),
        any::<u32>().prop_map(|verify_code| Message::SubLogin { verify_code }),
        (any::<u32>(), any::<u64>(), any::<u64>()).prop_map(|(total, start_utc, end_utc)| {
            Message::TotalReceived(TotalReceived {
                total,
                start_utc,
                end_utc,
            })
        }),
        (vehicle(), up_exg).prop_map(|(vehicle, data)| Message::UpExg(ForVehicle { vehicle, data })),
        (vehicle(), down_exg).prop_map(|(vehicle, data)| Message::DownExg(ForVehicle { vehicle, data })),
        (
            any::<u8>(),
            text(16),
            text(20),
            text(12),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            text(300)
        )
            .prop_map(
                move |(object_type, responder, responder_tel, object_id, sdt, ssn, info_id, info)| {
                    Message::UpPlatform(UpPlatform::PostQueryAck(PostQueryAck {
                        object_type,
                        responder: if is19 { responder } else { String::new() },
                        responder_tel: if is19 { responder_tel } else { String::new() },
                        object_id,
                        source_data_type: if is19 { sdt } else { 0 },
                        source_msg_sn: if is19 { ssn } else { 0 },
                        info_id: if is19 { 0 } else { info_id },
                        info,
                    }))
                }
            ),
        query
            .clone()
            .prop_map(move |(object_type, object_id, m, info_id, info)| {
                Message::DownPlatform(DownPlatform::PostQuery(PlatformQuery {
                    object_type,
                    object_id,
                    answer_minutes: if is19 { m } else { 0 },
                    info_id,
                    info,
                }))
            }),
        query.prop_map(|(object_type, object_id, _, info_id, info)| {
            Message::DownPlatform(DownPlatform::Info(PlatformQuery {
                object_type,
                object_id,
                answer_minutes: 0,
                info_id,
                info,
            }))
        }),
        (warn_vehicle.clone(), any::<u32>(), any::<u8>()).prop_map(|(vehicle, supervision_id, result)| {
            Message::UpWarn(Warn {
                vehicle,
                data: UpWarn::UrgeTodoAck {
                    supervision_id,
                    result,
                },
            })
        }),
        (
            warn_vehicle.clone(),
            (
                any::<u8>(),
                text(11),
                any::<u16>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>()
            ),
            (vehicle(), text(11), any::<u32>(), any::<u32>(), text(200))
        )
            .prop_map(
                move |(
                    v,
                    (warn_src, spid, warn_type, warn_time_utc, s, e),
                    (inner, dpid, line_id, info_id, info),
                )| {
                    Message::UpWarn(Warn {
                        vehicle: v,
                        data: UpWarn::AlarmReport(AlarmReport {
                            warn_src: if is19 { 0 } else { warn_src },
                            source_platform_id: if is19 { spid } else { String::new() },
                            warn_type,
                            warn_time_utc,
                            start_utc: if is19 { s } else { 0 },
                            end_utc: if is19 { e } else { 0 },
                            vehicle: if is19 { Some(inner) } else { None },
                            destination_platform_id: if is19 { dpid } else { String::new() },
                            line_id: if is19 { line_id } else { 0 },
                            info_id: if is19 { 0 } else { info_id },
                            info,
                        }),
                    })
                }
            ),
        (
            warn_vehicle.clone(),
            (
                any::<u8>(),
                any::<u16>(),
                any::<u64>(),
                any::<u32>(),
                any::<u64>(),
                any::<u8>()
            ),
            (text(16), text(20), text(32))
        )
            .prop_map(
                |(
                    vehicle,
                    (warn_src, warn_type, warn_time_utc, supervision_id, deadline_utc, level),
                    (supervisor, supervisor_tel, supervisor_email),
                )| {
                    Message::DownWarn(Warn {
                        vehicle,
                        data: DownWarn::Supervision(Supervision {
                            warn_src,
                            warn_type,
                            warn_time_utc,
                            supervision_id,
                            deadline_utc,
                            level,
                            supervisor,
                            supervisor_tel,
                            supervisor_email,
                        }),
                    })
                }
            ),
        (warn_vehicle, notice).prop_map(|(vehicle, n)| Message::DownWarn(Warn {
            vehicle,
            data: DownWarn::InformTips(n)
        })),
        (vehicle(), text(400)).prop_map(|(vehicle, car_info)| Message::UpBase(ForVehicle {
            vehicle,
            data: UpBase::VehicleAddedAck { car_info },
        })),
        vehicle().prop_map(|vehicle| Message::DownBase(ForVehicle {
            vehicle,
            data: DownBase::VehicleAdded
        })),
        (0xa000u16..0xafff, proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(msg_id, body)| Message::Raw { msg_id, body }),
    ]
    .boxed()
}

fn case() -> impl Strategy<Value = (Edition, Message, bool, u32, u32, u64)> {
    any_edition().prop_flat_map(|e| {
        (
            Just(e),
            message(e),
            any::<bool>(),
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn encode_then_decode_is_identity((edition, m, encrypted, seed, sn, time) in case(), m1 in any::<u32>(), ia1 in any::<u32>(), ic1 in any::<u32>()) {
        let codec = Codec::new(edition).with_cipher(Some(Cipher { m1, ia1, ic1 }));
        let mut h = Header::new(edition, m.msg_id(), sn, seed ^ 0x5a5e);
        h.encrypted = encrypted;
        h.encrypt_key = seed;
        h.time_utc = if edition == Edition::V2019 { time } else { 0 };
        let raw = codec.encode(&h, &m).expect("encodes");
        // No delimiter inside the frame.
        prop_assert!(!raw[1..raw.len() - 1].iter().any(|&b| b == 0x5b || b == 0x5d));
        let f = codec.decode_frame(&raw).expect("decodes");
        prop_assert_eq!(f.header, h);
        prop_assert_eq!(f.message().expect("body"), m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        tianshu_jt809::fuzz_entry::frame_splitter(&data);
        tianshu_jt809::fuzz_entry::body_decoder(&data);
        let mut framed = vec![0x5b];
        framed.extend_from_slice(&data);
        framed.push(0x5d);
        for edition in [Edition::V2011, Edition::V2019] {
            let _ = Codec::new(edition).decode_frame(&framed).map(|f| f.message());
            let mut d = FrameDecoder::new(Codec::new(edition));
            let mut buf = BytesMut::from(&framed[..]);
            while let Ok(Some(_)) | Err(_) = d.decode(&mut buf) {
                if buf.is_empty() { break; }
            }
        }
    }
}

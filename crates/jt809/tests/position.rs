//! Track points to JT/T 809 positions and back, in both layouts: what the lower platform forwards is
//! what the upper platform stores (to the units each layout carries).

use tianshu_jt809::*;
use tianshu_model::{AlarmFlags, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId};

fn point(lat_e6: i32, lon_e6: i32) -> Position {
    Position {
        vehicle: VehicleId(7),
        phone: Phone(13_800_138_000),
        // 2026-12-06 08:30:15 in GMT+8.
        fix_time: Timestamp::from_secs(1_796_517_015),
        recv_time: Timestamp::from_secs(1_796_517_016),
        lat_e6,
        lon_e6,
        altitude_m: 44,
        speed_dkmh: 420,
        course_deg: 271,
        alarm: AlarmFlags(0b10),
        status: StatusFlags(0b11),
        mileage_dkm: Some(123_450),
        fuel_dl: None,
        satellites: None,
        rssi: None,
        source: PositionSource::Live,
    }
}

#[test]
fn a_point_survives_both_layouts_and_the_wire() {
    for edition in [Edition::V2011, Edition::V2019] {
        for p in [point(32_060_255, 118_796_877), point(-33_868_820, -151_209_296)] {
            let gnss = Gnss::from_position(&p, edition);
            // Through a whole frame, as the link carries it.
            let codec = Codec::new(edition);
            let m = Message::UpExg(ForVehicle {
                vehicle: Vehicle {
                    plate: "苏A12345".into(),
                    color: 2,
                },
                data: UpExg::RealLocation(gnss),
            });
            let raw = codec.encode(&Header::new(edition, 0, 1, 1), &m).unwrap();
            let Message::UpExg(ForVehicle {
                data: UpExg::RealLocation(back),
                ..
            }) = codec.decode_frame(&raw).unwrap().message().unwrap()
            else {
                panic!("a position")
            };
            let q = back
                .to_position(VehicleId(9), p.recv_time, PositionSource::Backfill)
                .unwrap();
            assert_eq!((q.lat_e6, q.lon_e6), (p.lat_e6, p.lon_e6), "{edition:?}");
            assert_eq!(q.fix_time, p.fix_time);
            assert_eq!(q.speed_dkmh, 420);
            assert_eq!(q.course_deg, 271);
            assert_eq!(q.altitude_m, 44);
            assert_eq!(q.alarm, p.alarm);
            assert_eq!(q.mileage_dkm, Some(123_450));
            assert_eq!((q.vehicle, q.source), (VehicleId(9), PositionSource::Backfill));
            assert_eq!(q.status.south(), p.lat_e6 < 0);
            assert_eq!(q.status.west(), p.lon_e6 < 0);
        }
    }
}

#[test]
fn the_2011_layout_rounds_to_whole_kmh_and_km() {
    let mut p = point(32_060_255, 118_796_877);
    p.speed_dkmh = 425;
    p.mileage_dkm = Some(123_456);
    let Gnss::V2011(g) = Gnss::from_position(&p, Edition::V2011) else {
        panic!("2011")
    };
    assert_eq!((g.speed_kmh, g.mileage_km), (43, 12_346));
    assert_eq!(
        (g.year, g.month, g.day, g.hour, g.minute, g.second),
        (2026, 12, 6, 8, 30, 15)
    );
}

#[test]
fn a_position_that_is_no_track_point_is_refused() {
    let Gnss::V2011(mut g) = Gnss::from_position(&point(1, 1), Edition::V2011) else {
        panic!("2011")
    };
    g.month = 13;
    let err = Gnss::V2011(g)
        .to_position(VehicleId(1), Timestamp(0), PositionSource::Live)
        .unwrap_err();
    assert_eq!(err.kind(), "bad_location");
    g.month = 12;
    g.lat_e6 = 90_000_001;
    assert!(
        Gnss::V2011(g)
            .to_position(VehicleId(1), Timestamp(0), PositionSource::Live)
            .is_err()
    );
    let short = Gnss::V2019(Gnss2019 {
        encrypt: 0,
        location: vec![0; 10],
        platforms: std::array::from_fn(|_| PlatformAlarm {
            platform_id: String::new(),
            alarm: 0,
        }),
    });
    assert_eq!(
        short
            .to_position(VehicleId(1), Timestamp(0), PositionSource::Live)
            .unwrap_err()
            .kind(),
        "bad_location"
    );
}

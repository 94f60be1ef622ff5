//! Positions between JT/T 809 and Tianshu's track points: what a lower platform forwards and an upper
//! platform stores. The 2011 layout carries GMT+8 calendar fields, whole km/h and km; the 2019 layout
//! carries the terminal's JT/T 808 0x0200 body, read and written with `tianshu-jt808`.

use chrono::{Datelike, TimeZone, Timelike};
use tianshu_model::{
    AlarmFlags, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId, china_offset,
};

use crate::{Edition, Error, Gnss, Gnss2011, Gnss2019, PlatformAlarm};

fn bcd(v: u32) -> u8 {
    (((v / 10 % 10) << 4) | (v % 10)) as u8
}

impl Gnss {
    /// The track point of this position for `vehicle` (the caller resolved the plate), received at
    /// `recv_time`. Signs come from status bits 2 (south) and 3 (west) as in JT/T 808; a calendar
    /// time that does not exist, or coordinates out of range, is an error.
    pub fn to_position(
        &self,
        vehicle: VehicleId,
        recv_time: Timestamp,
        source: PositionSource,
    ) -> Result<Position, Error> {
        match self {
            Gnss::V2011(g) => g.to_position(vehicle, recv_time, source),
            Gnss::V2019(g) => {
                let report = tianshu_jt808::LocationReport::decode(&g.location, 0x0200, 0).map_err(|e| {
                    Error::BadLocation {
                        reason: e.to_string(),
                    }
                })?;
                report
                    .to_position(Phone(0), vehicle, recv_time, source)
                    .map_err(|e| Error::BadLocation {
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// The position of a track point in `edition`'s layout (2011: speed rounded to whole km/h, odometer
    /// to whole km; 2019: a 0x0200 body with the odometer item when the point has one).
    pub fn from_position(p: &Position, edition: Edition) -> Gnss {
        let local = p.fix_time.to_china();
        match edition {
            Edition::V2011 => Gnss::V2011(Gnss2011 {
                encrypt: 0,
                day: local.day() as u8,
                month: local.month() as u8,
                year: u16::try_from(local.year()).unwrap_or(0),
                hour: local.hour() as u8,
                minute: local.minute() as u8,
                second: local.second() as u8,
                lon_e6: p.lon_e6.unsigned_abs(),
                lat_e6: p.lat_e6.unsigned_abs(),
                speed_kmh: p.speed_dkmh.saturating_add(5) / 10,
                recorder_speed_kmh: p.speed_dkmh.saturating_add(5) / 10,
                mileage_km: p.mileage_dkm.map_or(0, |d| d.saturating_add(5) / 10),
                direction_deg: p.course_deg,
                altitude_m: u16::try_from(p.altitude_m.max(0)).unwrap_or(u16::MAX),
                state: status_with_signs(p).0,
                alarm: p.alarm.0,
            }),
            Edition::V2019 => {
                let mut location = Vec::with_capacity(34);
                location.extend_from_slice(&p.alarm.0.to_be_bytes());
                location.extend_from_slice(&status_with_signs(p).0.to_be_bytes());
                location.extend_from_slice(&p.lat_e6.unsigned_abs().to_be_bytes());
                location.extend_from_slice(&p.lon_e6.unsigned_abs().to_be_bytes());
                location.extend_from_slice(
                    &u16::try_from(p.altitude_m.max(0))
                        .unwrap_or(u16::MAX)
                        .to_be_bytes(),
                );
                location.extend_from_slice(&p.speed_dkmh.to_be_bytes());
                location.extend_from_slice(&p.course_deg.to_be_bytes());
                let year = u32::try_from(local.year()).unwrap_or(0);
                location.extend_from_slice(&[
                    bcd(year),
                    bcd(local.month()),
                    bcd(local.day()),
                    bcd(local.hour()),
                    bcd(local.minute()),
                    bcd(local.second()),
                ]);
                if let Some(m) = p.mileage_dkm {
                    location.extend_from_slice(&[0x01, 4]);
                    location.extend_from_slice(&m.to_be_bytes());
                }
                let none = || PlatformAlarm {
                    platform_id: String::new(),
                    alarm: 0,
                };
                Gnss::V2019(Gnss2019 {
                    encrypt: 0,
                    location,
                    platforms: [none(), none(), none()],
                })
            }
        }
    }
}

/// The status word with bits 2 (south) and 3 (west) set from the signs of the coordinates.
fn status_with_signs(p: &Position) -> StatusFlags {
    let mut s = p.status.0 & !0b1100;
    if p.lat_e6 < 0 {
        s |= 0b0100;
    }
    if p.lon_e6 < 0 {
        s |= 0b1000;
    }
    StatusFlags(s)
}

impl Gnss2011 {
    fn to_position(
        self,
        vehicle: VehicleId,
        recv_time: Timestamp,
        source: PositionSource,
    ) -> Result<Position, Error> {
        let fix = china_offset()
            .with_ymd_and_hms(
                i32::from(self.year),
                u32::from(self.month),
                u32::from(self.day),
                u32::from(self.hour),
                u32::from(self.minute),
                u32::from(self.second),
            )
            .single()
            .ok_or_else(|| Error::BadLocation {
                reason: format!(
                    "no such time {:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    self.year, self.month, self.day, self.hour, self.minute, self.second
                ),
            })?;
        let status = StatusFlags(self.state);
        let signed = |v: u32, negative: bool, max: u32| -> Result<i32, Error> {
            if v > max {
                return Err(Error::BadLocation {
                    reason: format!("coordinate {v} above {max} micro-degrees"),
                });
            }
            let v = v as i32;
            Ok(if negative { -v } else { v })
        };
        Ok(Position {
            vehicle,
            phone: Phone(0),
            fix_time: Timestamp::from_datetime(&fix),
            recv_time,
            lat_e6: signed(self.lat_e6, status.south(), 90_000_000)?,
            lon_e6: signed(self.lon_e6, status.west(), 180_000_000)?,
            altitude_m: i32::from(self.altitude_m),
            speed_dkmh: self.speed_kmh.saturating_mul(10),
            course_deg: self.direction_deg,
            alarm: AlarmFlags(self.alarm),
            status,
            mileage_dkm: Some(self.mileage_km.saturating_mul(10)),
            fuel_dl: None,
            satellites: None,
            rssi: None,
            source,
        })
    }
}

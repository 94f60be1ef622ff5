//! The point a terminal records at an instant: its car's state from the day plan, with what the day's
//! events do to it (an antenna cut repeats the last good position with no fix, lost power weakens the
//! signal), and the odometer it keeps.

use tianshu_model::{
    AlarmBit, AlarmFlags, Edition, Position, PositionSource, StatusFlags, Timestamp, VehicleId,
};

use super::Terminal;
use crate::events::EventKind;

impl Terminal {
    /// The point the terminal records at `t_ms`.
    pub(crate) fn fix(&mut self, t_ms: i64) -> Position {
        self.ensure_day(t_ms);
        let (state, alarm_bits) = match self.day.as_ref() {
            Some((_, plan, events)) => {
                let bits = events
                    .iter()
                    .filter(|e| e.contains(t_ms))
                    .fold(0u32, |acc, e| match e.kind {
                        EventKind::Alarm(b) => acc | 1 << b as u32,
                        _ => acc,
                    });
                (plan.state_at(t_ms), bits)
            }
            None => return Position::default(),
        };
        let alarm = AlarmFlags(alarm_bits);
        let antenna_cut = alarm.has(AlarmBit::GnssAntennaCut);
        // With the antenna cut there is no fix: the terminal repeats its last good position.
        let pos = if antenna_cut {
            self.last_good_pos.unwrap_or(state.pos)
        } else {
            state.pos
        };
        if !antenna_cut {
            self.last_good_pos = Some(state.pos);
        }
        if let Some(prev) = self.last_pos {
            self.odometer_dkm += prev.distance_m(state.pos) / 100.0;
        }
        self.last_pos = Some(state.pos);
        let mut status = StatusFlags::GPS | StatusFlags::BEIDOU;
        if state.acc_on {
            status |= StatusFlags::ACC_ON;
        }
        if !antenna_cut {
            status |= StatusFlags::FIXED;
        }
        if self.edition == Edition::V2019 && state.speed_kmh > 0.5 {
            status |= StatusFlags::MOVING_2019;
        }
        let moving = state.speed_kmh > 0.0;
        Position {
            vehicle: VehicleId(0),
            phone: self.phone,
            fix_time: Timestamp::from_secs(t_ms.div_euclid(1000)),
            recv_time: Timestamp(0),
            lat_e6: pos.lat_e6(),
            lon_e6: pos.lon_e6(),
            altitude_m: 25 + ((pos.lat * 900.0).sin() * 12.0 + (pos.lon * 700.0).cos() * 8.0) as i32,
            speed_dkmh: if antenna_cut {
                0
            } else {
                (state.speed_kmh * 10.0).round() as u16
            },
            course_deg: (state.course_deg.round() as u16) % 360,
            alarm,
            status: StatusFlags(status),
            mileage_dkm: Some(self.odometer_dkm as u32),
            fuel_dl: None,
            satellites: Some(if antenna_cut {
                0
            } else if moving {
                11
            } else {
                9
            }),
            rssi: Some(if alarm.has(AlarmBit::PowerLost) { 8 } else { 24 }),
            source: PositionSource::Live,
        }
    }
}

//! The JT/T 808 alarm and status words (0x0200 basic block, offsets 0 and 4).
//!
//! Both are kept as the raw `u32` the terminal sent, so nothing is lost between editions; the named
//! accessors follow the 2013 text with the 2019 meanings noted where they differ.

use serde::{Deserialize, Serialize};

/// The 32-bit alarm word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlarmFlags(pub u32);

/// The 32-bit status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatusFlags(pub u32);

/// Alarm bits by position (2013 names; 2019 differences in the docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AlarmBit {
    /// 0: emergency (SOS) button.
    Sos = 0,
    /// 1: overspeed.
    Overspeed = 1,
    /// 2: fatigue driving.
    Fatigue = 2,
    /// 3: danger warning (2019: dangerous driving behaviour).
    DangerWarning = 3,
    /// 4: GNSS module fault.
    GnssFault = 4,
    /// 5: GNSS antenna cut or not connected.
    GnssAntennaCut = 5,
    /// 6: GNSS antenna short-circuited.
    GnssAntennaShort = 6,
    /// 7: main power under-voltage.
    PowerUndervoltage = 7,
    /// 8: main power lost.
    PowerLost = 8,
    /// 9: display fault.
    LcdFault = 9,
    /// 10: TTS module fault.
    TtsFault = 10,
    /// 11: camera fault.
    CameraFault = 11,
    /// 12: IC-card module fault (2013+).
    IcCardFault = 12,
    /// 13: overspeed warning (2013+).
    OverspeedWarning = 13,
    /// 14: fatigue warning (2013+).
    FatigueWarning = 14,
    /// 15: illegal driving (2019).
    IllegalDriving = 15,
    /// 16: tyre pressure warning (2019).
    TyrePressure = 16,
    /// 17: right-turn blind zone (2019).
    RightTurnBlindZone = 17,
    /// 18: daily driving time exceeded.
    DrivingTimeExceeded = 18,
    /// 19: overtime parking.
    OvertimeParking = 19,
    /// 20: entering or leaving an area.
    AreaInOut = 20,
    /// 21: entering or leaving a route.
    RouteInOut = 21,
    /// 22: route segment drive time too short or too long.
    RouteDriveTime = 22,
    /// 23: route deviation.
    RouteDeviation = 23,
    /// 24: vehicle speed sensor fault.
    VssFault = 24,
    /// 25: abnormal fuel level.
    FuelAbnormal = 25,
    /// 26: vehicle stolen (anti-theft).
    Theft = 26,
    /// 27: illegal ignition.
    IllegalIgnition = 27,
    /// 28: illegal displacement.
    IllegalDisplacement = 28,
    /// 29: collision warning (2019: collision or rollover).
    Collision = 29,
    /// 30: rollover warning.
    Rollover = 30,
    /// 31: illegal door opening (reserved in 2019).
    IllegalDoorOpen = 31,
}

impl AlarmBit {
    /// Every bit, in order.
    pub const ALL: [AlarmBit; 32] = [
        AlarmBit::Sos,
        AlarmBit::Overspeed,
        AlarmBit::Fatigue,
        AlarmBit::DangerWarning,
        AlarmBit::GnssFault,
        AlarmBit::GnssAntennaCut,
        AlarmBit::GnssAntennaShort,
        AlarmBit::PowerUndervoltage,
        AlarmBit::PowerLost,
        AlarmBit::LcdFault,
        AlarmBit::TtsFault,
        AlarmBit::CameraFault,
        AlarmBit::IcCardFault,
        AlarmBit::OverspeedWarning,
        AlarmBit::FatigueWarning,
        AlarmBit::IllegalDriving,
        AlarmBit::TyrePressure,
        AlarmBit::RightTurnBlindZone,
        AlarmBit::DrivingTimeExceeded,
        AlarmBit::OvertimeParking,
        AlarmBit::AreaInOut,
        AlarmBit::RouteInOut,
        AlarmBit::RouteDriveTime,
        AlarmBit::RouteDeviation,
        AlarmBit::VssFault,
        AlarmBit::FuelAbnormal,
        AlarmBit::Theft,
        AlarmBit::IllegalIgnition,
        AlarmBit::IllegalDisplacement,
        AlarmBit::Collision,
        AlarmBit::Rollover,
        AlarmBit::IllegalDoorOpen,
    ];

    /// A stable snake_case name for JSON output and logs.
    pub const fn name(self) -> &'static str {
        match self {
            AlarmBit::Sos => "sos",
            AlarmBit::Overspeed => "overspeed",
            AlarmBit::Fatigue => "fatigue",
            AlarmBit::DangerWarning => "danger_warning",
            AlarmBit::GnssFault => "gnss_fault",
            AlarmBit::GnssAntennaCut => "gnss_antenna_cut",
            AlarmBit::GnssAntennaShort => "gnss_antenna_short",
            AlarmBit::PowerUndervoltage => "power_undervoltage",
            AlarmBit::PowerLost => "power_lost",
            AlarmBit::LcdFault => "lcd_fault",
            AlarmBit::TtsFault => "tts_fault",
            AlarmBit::CameraFault => "camera_fault",
            AlarmBit::IcCardFault => "ic_card_fault",
            AlarmBit::OverspeedWarning => "overspeed_warning",
            AlarmBit::FatigueWarning => "fatigue_warning",
            AlarmBit::IllegalDriving => "illegal_driving",
            AlarmBit::TyrePressure => "tyre_pressure",
            AlarmBit::RightTurnBlindZone => "right_turn_blind_zone",
            AlarmBit::DrivingTimeExceeded => "driving_time_exceeded",
            AlarmBit::OvertimeParking => "overtime_parking",
            AlarmBit::AreaInOut => "area_in_out",
            AlarmBit::RouteInOut => "route_in_out",
            AlarmBit::RouteDriveTime => "route_drive_time",
            AlarmBit::RouteDeviation => "route_deviation",
            AlarmBit::VssFault => "vss_fault",
            AlarmBit::FuelAbnormal => "fuel_abnormal",
            AlarmBit::Theft => "theft",
            AlarmBit::IllegalIgnition => "illegal_ignition",
            AlarmBit::IllegalDisplacement => "illegal_displacement",
            AlarmBit::Collision => "collision",
            AlarmBit::Rollover => "rollover",
            AlarmBit::IllegalDoorOpen => "illegal_door_open",
        }
    }
}

impl AlarmFlags {
    /// Whether `bit` is set.
    pub const fn has(self, bit: AlarmBit) -> bool {
        self.0 & (1 << bit as u8) != 0
    }

    /// The bits that signal tampering with the terminal: power lost, GNSS antenna cut or shorted,
    /// GNSS fault, illegal ignition or displacement.
    pub const TAMPER_MASK: u32 = (1 << AlarmBit::GnssFault as u8)
        | (1 << AlarmBit::GnssAntennaCut as u8)
        | (1 << AlarmBit::GnssAntennaShort as u8)
        | (1 << AlarmBit::PowerLost as u8)
        | (1 << AlarmBit::IllegalIgnition as u8)
        | (1 << AlarmBit::IllegalDisplacement as u8);

    /// The set bits, in order.
    pub fn iter(self) -> impl Iterator<Item = AlarmBit> {
        AlarmBit::ALL.into_iter().filter(move |b| self.has(*b))
    }
}

impl StatusFlags {
    /// Bit 0: ignition (ACC) on.
    pub const ACC_ON: u32 = 1 << 0;
    /// Bit 1: the position is a valid fix.
    pub const FIXED: u32 = 1 << 1;
    /// Bit 2: south latitude.
    pub const SOUTH: u32 = 1 << 2;
    /// Bit 3: west longitude.
    pub const WEST: u32 = 1 << 3;
    /// Bit 4: vehicle out of service.
    pub const OUT_OF_SERVICE: u32 = 1 << 4;
    /// Bit 5: coordinates encrypted by a confidentiality plug-in.
    pub const ENCRYPTED: u32 = 1 << 5;
    /// Bit 10: fuel line cut.
    pub const OIL_CUT: u32 = 1 << 10;
    /// Bit 11: vehicle circuit cut.
    pub const CIRCUIT_CUT: u32 = 1 << 11;
    /// Bit 12: doors locked.
    pub const DOORS_LOCKED: u32 = 1 << 12;
    /// Bit 18: GPS used.
    pub const GPS: u32 = 1 << 18;
    /// Bit 19: BeiDou used.
    pub const BEIDOU: u32 = 1 << 19;
    /// Bit 20: GLONASS used.
    pub const GLONASS: u32 = 1 << 20;
    /// Bit 21: Galileo used.
    pub const GALILEO: u32 = 1 << 21;
    /// Bit 22 (2019): vehicle moving.
    pub const MOVING_2019: u32 = 1 << 22;

    /// The status bits that are flags, with their names in the API (the load state, bits 8-9, is a
    /// number, not a flag).
    pub const NAMED: [(u32, &'static str); 19] = [
        (Self::ACC_ON, "acc_on"),
        (Self::FIXED, "fixed"),
        (Self::SOUTH, "south"),
        (Self::WEST, "west"),
        (Self::OUT_OF_SERVICE, "out_of_service"),
        (Self::ENCRYPTED, "encrypted"),
        (Self::OIL_CUT, "oil_cut"),
        (Self::CIRCUIT_CUT, "circuit_cut"),
        (Self::DOORS_LOCKED, "doors_locked"),
        (1 << 13, "door1_open"),
        (1 << 14, "door2_open"),
        (1 << 15, "door3_open"),
        (1 << 16, "door4_open"),
        (1 << 17, "door5_open"),
        (Self::GPS, "gps"),
        (Self::BEIDOU, "beidou"),
        (Self::GLONASS, "glonass"),
        (Self::GALILEO, "galileo"),
        (Self::MOVING_2019, "moving"),
    ];

    /// The names of the flags set, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED
            .into_iter()
            .filter(move |(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| name)
    }

    /// Ignition on.
    pub const fn acc_on(self) -> bool {
        self.0 & Self::ACC_ON != 0
    }
    /// The position is a valid fix.
    pub const fn fixed(self) -> bool {
        self.0 & Self::FIXED != 0
    }
    /// South latitude.
    pub const fn south(self) -> bool {
        self.0 & Self::SOUTH != 0
    }
    /// West longitude.
    pub const fn west(self) -> bool {
        self.0 & Self::WEST != 0
    }
    /// Load state, bits 8-9: 0 empty, 1 half, 3 full.
    pub const fn load(self) -> u8 {
        ((self.0 >> 8) & 0b11) as u8
    }
    /// Door `n` (1-5) open, bits 13-17.
    pub const fn door_open(self, n: u8) -> bool {
        n >= 1 && n <= 5 && self.0 & (1 << (12 + n as u32)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_line_up() {
        for (i, b) in AlarmBit::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i);
            assert!(AlarmFlags(1 << i).has(*b));
        }
        assert_eq!(
            AlarmFlags(0x0000_0120)
                .iter()
                .map(AlarmBit::name)
                .collect::<Vec<_>>(),
            ["gnss_antenna_cut", "power_lost"]
        );
        let s = StatusFlags(0b1111 | 3 << 8 | 1 << 13);
        assert!(s.acc_on() && s.fixed() && s.south() && s.west());
        assert_eq!(s.load(), 3);
        assert!(s.door_open(1) && !s.door_open(2));
    }
}

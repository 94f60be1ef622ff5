//! Location: the 0x0200 report, its 28-byte basic block and additional items, 0x0201, 0x0704.
//!
//! Decoding borrows: the additional items stay a byte slice until iterated, and each item is a typed
//! view of its bytes. Unknown, vendor (0xE0-0xFF) and odd-length items come out as raw id + bytes,
//! never as an error; a last item whose length runs past the body comes out as `Truncated`.

use bytes::{BufMut, BytesMut};
use tianshu_model::{AlarmFlags, Phone, Position, PositionSource, StatusFlags, Timestamp, VehicleId};

use super::WireOrList;
use crate::bcd::decode_china_time;
use crate::reader::Reader;
use crate::{Error, Leniencies};

/// Length of the basic location block.
pub const BASIC_LEN: usize = 28;

/// The 28-byte basic location block, fields as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BasicLocation {
    /// Alarm word.
    pub alarm: AlarmFlags,
    /// Status word (bit 2 south, bit 3 west).
    pub status: StatusFlags,
    /// Latitude magnitude in micro-degrees as sent (see [`BasicLocation::coordinates_e6`] for the sign).
    pub lat_raw: u32,
    /// Longitude magnitude in micro-degrees as sent.
    pub lon_raw: u32,
    /// Altitude WORD as sent (see [`BasicLocation::altitude_m`]).
    pub altitude_raw: u16,
    /// Speed in 0.1 km/h.
    pub speed_dkmh: u16,
    /// Course in degrees, 0-359.
    pub course_deg: u16,
    /// Fix time, BCD `YYMMDDhhmmss` in GMT+8 as sent (see [`BasicLocation::fix_time`]).
    pub time_bcd: [u8; 6],
}

impl BasicLocation {
    /// Reads the block from its 28 bytes.
    #[inline]
    pub fn from_bytes(b: &[u8; BASIC_LEN]) -> Self {
        let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let h = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        BasicLocation {
            alarm: AlarmFlags(w(0)),
            status: StatusFlags(w(4)),
            lat_raw: w(8),
            lon_raw: w(12),
            altitude_raw: h(16),
            speed_dkmh: h(18),
            course_deg: h(20),
            time_bcd: [b[22], b[23], b[24], b[25], b[26], b[27]],
        }
    }

    /// The 28 wire bytes.
    pub fn to_bytes(&self) -> [u8; BASIC_LEN] {
        let mut b = [0u8; BASIC_LEN];
        b[0..4].copy_from_slice(&self.alarm.0.to_be_bytes());
        b[4..8].copy_from_slice(&self.status.0.to_be_bytes());
        b[8..12].copy_from_slice(&self.lat_raw.to_be_bytes());
        b[12..16].copy_from_slice(&self.lon_raw.to_be_bytes());
        b[16..18].copy_from_slice(&self.altitude_raw.to_be_bytes());
        b[18..20].copy_from_slice(&self.speed_dkmh.to_be_bytes());
        b[20..22].copy_from_slice(&self.course_deg.to_be_bytes());
        b[22..28].copy_from_slice(&self.time_bcd);
        b
    }

    /// Altitudes above this are flagged ([`Leniencies::IMPLAUSIBLE_ALTITUDE`]): higher than any road.
    pub const MAX_PLAUSIBLE_ALTITUDE_M: i32 = 9_000;

    /// Altitude in metres. The standard's WORD is unsigned, so it is read unsigned (0xFFF2 is 65,522 m, not
    /// -14 m: a terminal that sends a negative altitude is flagged, not second-guessed).
    #[inline]
    pub const fn altitude_m(&self) -> i32 {
        self.altitude_raw as i32
    }

    /// The fix time as a UTC instant (the wire time is GMT+8); an invalid BCD digit or date is an error.
    #[inline]
    pub fn fix_time(&self) -> Result<Timestamp, Error> {
        decode_china_time(&self.time_bcd, 22)
    }

    /// Signed latitude and longitude in micro-degrees, signs from status bits 2 (south) and 3 (west).
    /// A value with its top bit set is a two's-complement negative some devices send; it is taken as
    /// such and reported in the `bool`. Out-of-range results are errors.
    #[inline]
    pub fn coordinates_e6(&self) -> Result<(i32, i32, bool), Error> {
        let (lat, lat_twos) = signed(self.lat_raw, self.status.south());
        let (lon, lon_twos) = signed(self.lon_raw, self.status.west());
        if lat.unsigned_abs() > 90_000_000 || lon.unsigned_abs() > 180_000_000 {
            return Err(Error::CoordinatesOutOfRange {
                lat_e6: lat.into(),
                lon_e6: lon.into(),
            });
        }
        Ok((lat, lon, lat_twos || lon_twos))
    }

    /// Leniencies this block needed (two's-complement coordinates) or deserves (an implausible altitude).
    pub fn leniencies(&self) -> Leniencies {
        let mut l = Leniencies::NONE;
        if (self.lat_raw as i32) < 0 || (self.lon_raw as i32) < 0 {
            l |= Leniencies::TWOS_COMPLEMENT_COORDINATES;
        }
        if self.altitude_m() > Self::MAX_PLAUSIBLE_ALTITUDE_M {
            l |= Leniencies::IMPLAUSIBLE_ALTITUDE;
        }
        l
    }
}

#[inline]
fn signed(raw: u32, negative: bool) -> (i32, bool) {
    let v = raw as i32;
    if v < 0 {
        (v, true)
    } else if negative {
        (-v, false)
    } else {
        (v, false)
    }
}

/// One additional item of a location report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdditionalItem<'a> {
    /// 0x01: odometer, 0.1 km.
    Mileage {
        /// Odometer in 0.1 km.
        mileage_dkm: u32,
    },
    /// 0x02: fuel, 0.1 L.
    Fuel {
        /// Fuel in 0.1 L.
        fuel_dl: u16,
    },
    /// 0x03: speed from the tachograph, 0.1 km/h.
    RecorderSpeed {
        /// Speed in 0.1 km/h.
        speed_dkmh: u16,
    },
    /// 0x04: id of an alarm event that needs manual confirmation.
    AlarmEventId {
        /// Event id.
        event_id: u16,
    },
    /// 0x05 (2019): tyre pressure, 30 bytes, one per tyre (0xFF = invalid).
    TyrePressure {
        /// The 30 bytes.
        pressures: &'a [u8],
    },
    /// 0x06 (2019): cabin temperature, degrees Celsius (sign-magnitude on the wire).
    CabinTemperature {
        /// Degrees Celsius.
        temperature_c: i16,
    },
    /// 0x11: overspeed alarm detail (1 or 5 bytes).
    OverspeedAlarm {
        /// 0 no specific place, 1 circle, 2 rectangle, 3 polygon, 4 route.
        location_type: u8,
        /// Area or route id, absent when `location_type` is 0.
        area_id: Option<u32>,
    },
    /// 0x12: entering or leaving an area or route.
    AreaAlarm {
        /// 1 circle, 2 rectangle, 3 polygon, 4 route.
        location_type: u8,
        /// Area or route id.
        area_id: u32,
        /// 0 entering, 1 leaving.
        direction: u8,
    },
    /// 0x13: route segment drive time too short or too long.
    RouteDriveTime {
        /// Segment id.
        route_id: u32,
        /// Drive time in seconds.
        drive_time_secs: u16,
        /// 0 too short, 1 too long.
        result: u8,
    },
    /// 0x25: extended vehicle signal word.
    ExtendedSignals {
        /// The signal bits.
        signals: u32,
    },
    /// 0x2A: IO status word.
    IoStatus {
        /// The IO bits.
        io: u16,
    },
    /// 0x2B: analogue inputs.
    Analog {
        /// AD0 (bits 0-15 of the DWORD).
        ad0: u16,
        /// AD1 (bits 16-31).
        ad1: u16,
    },
    /// 0x30: wireless signal strength.
    Rssi {
        /// Signal strength.
        rssi: u8,
    },
    /// 0x31: GNSS satellites in use.
    Satellites {
        /// Count.
        count: u8,
    },
    /// Any other id (0xE0-0xFF vendor items, JT/T 1078 0x14-0x18, ...) or a standard id with a
    /// nonstandard length: the bytes as sent.
    Raw {
        /// Item id.
        id: u8,
        /// Value bytes.
        value: &'a [u8],
    },
    /// The last item declared more bytes than remain; `value` is what remains.
    Truncated {
        /// Item id.
        id: u8,
        /// Declared length.
        declared_len: u8,
        /// The bytes present.
        value: &'a [u8],
    },
}

impl<'a> AdditionalItem<'a> {
    /// Decodes an item from its id and value.
    #[inline]
    pub fn decode(id: u8, v: &'a [u8]) -> Self {
        let h = |i: usize| u16::from_be_bytes([v[i], v[i + 1]]);
        let w = |i: usize| u32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
        match (id, v.len()) {
            (0x01, 4) => AdditionalItem::Mileage { mileage_dkm: w(0) },
            (0x02, 2) => AdditionalItem::Fuel { fuel_dl: h(0) },
            (0x03, 2) => AdditionalItem::RecorderSpeed { speed_dkmh: h(0) },
            (0x04, 2) => AdditionalItem::AlarmEventId { event_id: h(0) },
            (0x05, 30) => AdditionalItem::TyrePressure { pressures: v },
            (0x06, 2) => {
                let raw = h(0);
                let magnitude = (raw & 0x7fff) as i16;
                AdditionalItem::CabinTemperature {
                    temperature_c: if raw & 0x8000 != 0 { -magnitude } else { magnitude },
                }
            }
            (0x11, 1) => AdditionalItem::OverspeedAlarm {
                location_type: v[0],
                area_id: None,
            },
            (0x11, 5) => AdditionalItem::OverspeedAlarm {
                location_type: v[0],
                area_id: Some(w(1)),
            },
            (0x12, 6) => AdditionalItem::AreaAlarm {
                location_type: v[0],
                area_id: w(1),
                direction: v[5],
            },
            (0x13, 7) => AdditionalItem::RouteDriveTime {
                route_id: w(0),
                drive_time_secs: h(4),
                result: v[6],
            },
            (0x25, 4) => AdditionalItem::ExtendedSignals { signals: w(0) },
            (0x2a, 2) => AdditionalItem::IoStatus { io: h(0) },
            (0x2b, 4) => AdditionalItem::Analog { ad0: h(2), ad1: h(0) },
            (0x30, 1) => AdditionalItem::Rssi { rssi: v[0] },
            (0x31, 1) => AdditionalItem::Satellites { count: v[0] },
            _ => AdditionalItem::Raw { id, value: v },
        }
    }

    /// The item id.
    pub const fn id(&self) -> u8 {
        match self {
            AdditionalItem::Mileage { .. } => 0x01,
            AdditionalItem::Fuel { .. } => 0x02,
            AdditionalItem::RecorderSpeed { .. } => 0x03,
            AdditionalItem::AlarmEventId { .. } => 0x04,
            AdditionalItem::TyrePressure { .. } => 0x05,
            AdditionalItem::CabinTemperature { .. } => 0x06,
            AdditionalItem::OverspeedAlarm { .. } => 0x11,
            AdditionalItem::AreaAlarm { .. } => 0x12,
            AdditionalItem::RouteDriveTime { .. } => 0x13,
            AdditionalItem::ExtendedSignals { .. } => 0x25,
            AdditionalItem::IoStatus { .. } => 0x2a,
            AdditionalItem::Analog { .. } => 0x2b,
            AdditionalItem::Rssi { .. } => 0x30,
            AdditionalItem::Satellites { .. } => 0x31,
            AdditionalItem::Raw { id, .. } | AdditionalItem::Truncated { id, .. } => *id,
        }
    }

    /// Whether the item's id is a standard one but its length was not.
    pub fn is_nonstandard_length(&self) -> bool {
        matches!(self, AdditionalItem::Raw { id, .. }
            if matches!(id, 0x01..=0x06 | 0x11..=0x13 | 0x25 | 0x2a | 0x2b | 0x30 | 0x31))
    }

    /// Appends id, length and value.
    pub fn write(&self, out: &mut BytesMut) -> Result<(), Error> {
        let id = self.id();
        let mut put = |v: &[u8]| -> Result<(), Error> {
            let len = u8::try_from(v.len()).map_err(|_| Error::FieldTooLong {
                field: "additional item",
                len: v.len(),
                max: 255,
            })?;
            out.put_u8(id);
            out.put_u8(len);
            out.put_slice(v);
            Ok(())
        };
        match *self {
            AdditionalItem::Mileage { mileage_dkm } => put(&mileage_dkm.to_be_bytes()),
            AdditionalItem::Fuel { fuel_dl } => put(&fuel_dl.to_be_bytes()),
            AdditionalItem::RecorderSpeed { speed_dkmh } => put(&speed_dkmh.to_be_bytes()),
            AdditionalItem::AlarmEventId { event_id } => put(&event_id.to_be_bytes()),
            AdditionalItem::TyrePressure { pressures } => put(pressures),
            AdditionalItem::CabinTemperature { temperature_c } => {
                let magnitude = temperature_c.unsigned_abs() & 0x7fff;
                let raw = if temperature_c < 0 {
                    magnitude | 0x8000
                } else {
                    magnitude
                };
                put(&raw.to_be_bytes())
            }
            AdditionalItem::OverspeedAlarm {
                location_type,
                area_id: None,
            } => put(&[location_type]),
            AdditionalItem::OverspeedAlarm {
                location_type,
                area_id: Some(a),
            } => {
                let a = a.to_be_bytes();
                put(&[location_type, a[0], a[1], a[2], a[3]])
            }
            AdditionalItem::AreaAlarm {
                location_type,
                area_id,
                direction,
            } => {
                let a = area_id.to_be_bytes();
                put(&[location_type, a[0], a[1], a[2], a[3], direction])
            }
            AdditionalItem::RouteDriveTime {
                route_id,
                drive_time_secs,
                result,
            } => {
                let a = route_id.to_be_bytes();
                let t = drive_time_secs.to_be_bytes();
                put(&[a[0], a[1], a[2], a[3], t[0], t[1], result])
            }
            AdditionalItem::ExtendedSignals { signals } => put(&signals.to_be_bytes()),
            AdditionalItem::IoStatus { io } => put(&io.to_be_bytes()),
            AdditionalItem::Analog { ad0, ad1 } => {
                put(&((u32::from(ad1) << 16) | u32::from(ad0)).to_be_bytes())
            }
            AdditionalItem::Rssi { rssi } => put(&[rssi]),
            AdditionalItem::Satellites { count } => put(&[count]),
            AdditionalItem::Raw { value, .. } => put(value),
            AdditionalItem::Truncated {
                declared_len, value, ..
            } => {
                // Re-emit exactly what was received: the declared length and the short value.
                out.put_u8(id);
                out.put_u8(declared_len);
                out.put_slice(value);
                Ok(())
            }
        }
    }
}

/// Additional items: the TLV bytes after the basic block, or items to encode.
pub type Items<'a> = WireOrList<'a, AdditionalItem<'a>>;

impl Default for Items<'_> {
    fn default() -> Self {
        Items::Wire(&[])
    }
}

impl<'a> Items<'a> {
    /// The items in order.
    #[inline]
    pub fn iter(&self) -> ItemIter<'a> {
        match *self {
            Items::Wire(b) => ItemIter { wire: b, list: &[] },
            Items::List(l) => ItemIter { wire: &[], list: l },
        }
    }
}

impl PartialEq for Items<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Items<'_> {}

/// Iterator over additional items.
#[derive(Debug, Clone)]
pub struct ItemIter<'a> {
    wire: &'a [u8],
    list: &'a [AdditionalItem<'a>],
}

impl<'a> Iterator for ItemIter<'a> {
    type Item = AdditionalItem<'a>;

    #[inline]
    fn next(&mut self) -> Option<AdditionalItem<'a>> {
        if let Some((&[id, len], rest)) = self.wire.split_first_chunk::<2>() {
            let len = usize::from(len);
            if len <= rest.len() {
                let (value, tail) = rest.split_at(len);
                self.wire = tail;
                return Some(AdditionalItem::decode(id, value));
            }
            self.wire = &[];
            return Some(AdditionalItem::Truncated {
                id,
                declared_len: len as u8,
                value: rest,
            });
        }
        if let [id] = *self.wire {
            self.wire = &[];
            return Some(AdditionalItem::Truncated {
                id,
                declared_len: 0,
                value: &[],
            });
        }
        let (first, rest) = self.list.split_first()?;
        self.list = rest;
        Some(*first)
    }
}

/// A location report (0x0200 body; also the item of 0x0201 and 0x0704).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocationReport<'a> {
    /// The basic block.
    pub basic: BasicLocation,
    /// The additional items.
    pub items: Items<'a>,
}

impl<'a> LocationReport<'a> {
    /// Decodes a 0x0200 body (`offset` places errors within an enclosing body).
    #[inline]
    pub fn decode(body: &'a [u8], msg_id: u16, offset: usize) -> Result<Self, Error> {
        match body.split_first_chunk::<BASIC_LEN>() {
            Some((basic, items)) => Ok(LocationReport {
                basic: BasicLocation::from_bytes(basic),
                items: Items::Wire(items),
            }),
            None => Err(Error::Truncated {
                msg_id,
                offset: offset + body.len(),
                needed: BASIC_LEN - body.len(),
            }),
        }
    }

    /// Appends the body.
    pub fn write(&self, out: &mut BytesMut) -> Result<(), Error> {
        out.put_slice(&self.basic.to_bytes());
        match self.items {
            Items::Wire(b) => out.put_slice(b),
            Items::List(l) => {
                for item in l {
                    item.write(out)?;
                }
            }
        }
        Ok(())
    }

    /// What this report needed beyond the standard (two's-complement coordinates, odd items).
    pub fn leniencies(&self) -> Leniencies {
        let mut l = self.basic.leniencies();
        for item in self.items.iter() {
            if matches!(item, AdditionalItem::Truncated { .. }) {
                l |= Leniencies::TRUNCATED_ITEM;
            } else if item.is_nonstandard_length() {
                l |= Leniencies::NONSTANDARD_ITEM_LENGTH;
            }
        }
        l
    }

    /// The track point this report describes: signed coordinates (status bits 2/3), UTC fix time
    /// (from GMT+8 BCD), odometer, fuel, satellites and signal strength from the items.
    pub fn to_position(
        &self,
        phone: Phone,
        vehicle: VehicleId,
        recv_time: Timestamp,
        source: PositionSource,
    ) -> Result<Position, Error> {
        let b = &self.basic;
        let (lat_e6, lon_e6, _) = b.coordinates_e6()?;
        let mut p = Position {
            vehicle,
            phone,
            fix_time: b.fix_time()?,
            recv_time,
            lat_e6,
            lon_e6,
            altitude_m: b.altitude_m(),
            speed_dkmh: b.speed_dkmh,
            course_deg: b.course_deg,
            alarm: b.alarm,
            status: b.status,
            mileage_dkm: None,
            fuel_dl: None,
            satellites: None,
            rssi: None,
            source,
        };
        for item in self.items.iter() {
            match item {
                AdditionalItem::Mileage { mileage_dkm } => p.mileage_dkm = Some(mileage_dkm),
                AdditionalItem::Fuel { fuel_dl } => p.fuel_dl = Some(fuel_dl),
                AdditionalItem::Satellites { count } => p.satellites = Some(count),
                AdditionalItem::Rssi { rssi } => p.rssi = Some(rssi),
                _ => {}
            }
        }
        Ok(p)
    }
}

/// 0x0201: the answer to a position query (0x8201).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationReply<'a> {
    /// Serial of the 0x8201 answered.
    pub reply_serial: u16,
    /// The report.
    pub report: LocationReport<'a>,
}

/// Items of a 0x0704 batch: the `[length WORD, 0x0200 body]` sequence, or reports to encode.
pub type BatchItems<'a> = WireOrList<'a, LocationReport<'a>>;

/// 0x0704: a batch of location reports, live (type 0) or a blind-area backfill (type 1).
#[derive(Debug, Clone, Copy)]
pub struct LocationBatch<'a> {
    /// The count field as sent (encoding with a list writes the list's length).
    pub count: u16,
    /// 0 normal batch, 1 blind-area backfill.
    pub location_type: u8,
    /// The reports.
    pub items: BatchItems<'a>,
}

impl<'a> LocationBatch<'a> {
    /// Whether this is a blind-area backfill (type 1).
    pub const fn is_backfill(&self) -> bool {
        self.location_type == 1
    }

    /// The position source for these reports.
    pub const fn source(&self) -> PositionSource {
        if self.is_backfill() {
            PositionSource::Backfill
        } else {
            PositionSource::Live
        }
    }

    /// Decodes a 0x0704 body.
    pub fn decode(body: &'a [u8], msg_id: u16) -> Result<Self, Error> {
        let mut r = Reader::new(body, msg_id);
        let count = r.u16()?;
        let location_type = r.u8()?;
        Ok(LocationBatch {
            count,
            location_type,
            items: BatchItems::Wire(r.rest()),
        })
    }

    /// The reports in order; an item that does not decode yields its error and the next ones still come.
    /// After an item whose length runs past the body, iteration ends.
    pub fn iter(&self) -> BatchIter<'a> {
        match self.items {
            BatchItems::Wire(b) => BatchIter {
                wire: b,
                offset: 3,
                list: &[],
            },
            BatchItems::List(l) => BatchIter {
                wire: &[],
                offset: 3,
                list: l,
            },
        }
    }

    /// Appends the body.
    pub fn write(&self, out: &mut BytesMut) -> Result<(), Error> {
        match self.items {
            BatchItems::Wire(b) => {
                out.put_u16(self.count);
                out.put_u8(self.location_type);
                out.put_slice(b);
            }
            BatchItems::List(l) => {
                let count = u16::try_from(l.len()).map_err(|_| Error::FieldTooLong {
                    field: "batch",
                    len: l.len(),
                    max: 65_535,
                })?;
                out.put_u16(count);
                out.put_u8(self.location_type);
                for report in l {
                    let len_at = out.len();
                    out.put_u16(0);
                    report.write(out)?;
                    let n = out.len() - len_at - 2;
                    let n16 = u16::try_from(n).map_err(|_| Error::FieldTooLong {
                        field: "batch item",
                        len: n,
                        max: 65_535,
                    })?;
                    out[len_at..len_at + 2].copy_from_slice(&n16.to_be_bytes());
                }
            }
        }
        Ok(())
    }

    /// Leniencies: items that did not decode, a count that disagrees, odd items inside.
    pub fn leniencies(&self) -> Leniencies {
        let mut l = Leniencies::NONE;
        let mut n = 0usize;
        for item in self.iter() {
            n += 1;
            match item {
                Ok(report) => l |= report.leniencies(),
                Err(_) => l |= Leniencies::BAD_BATCH_ITEM,
            }
        }
        if n != usize::from(self.count) {
            l |= Leniencies::BATCH_COUNT_MISMATCH;
        }
        l
    }
}

impl PartialEq for LocationBatch<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.location_type == other.location_type
            && self.iter().eq(other.iter())
            && (matches!(self.items, BatchItems::List(_))
                || matches!(other.items, BatchItems::List(_))
                || self.count == other.count)
    }
}

impl Eq for LocationBatch<'_> {}

/// Iterator over a batch's reports.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    wire: &'a [u8],
    offset: usize,
    list: &'a [LocationReport<'a>],
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<LocationReport<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((first, rest)) = self.list.split_first() {
            self.list = rest;
            return Some(Ok(*first));
        }
        if self.wire.is_empty() {
            return None;
        }
        let at = self.offset;
        let Some((len_bytes, rest)) = self.wire.split_first_chunk::<2>() else {
            self.wire = &[];
            return Some(Err(Error::Truncated {
                msg_id: 0x0704,
                offset: at,
                needed: 1,
            }));
        };
        let len = usize::from(u16::from_be_bytes(*len_bytes));
        if rest.len() < len {
            self.wire = &[];
            return Some(Err(Error::Truncated {
                msg_id: 0x0704,
                offset: at + 2,
                needed: len - rest.len(),
            }));
        }
        let (item, tail) = rest.split_at(len);
        self.wire = tail;
        self.offset = at + 2 + len;
        Some(LocationReport::decode(item, 0x0704, at + 2))
    }
}

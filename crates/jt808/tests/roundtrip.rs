//! Property tests: encoding then decoding is the identity for every message and edition; escaping
//! round-trips and never leaves a bare 0x7e; a stream split at arbitrary points yields the same frames.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use tianshu_jt808::*;
use tianshu_model::{AlarmFlags, Edition, Phone, StatusFlags, Timestamp};

const EDITIONS: [Edition; 3] = [Edition::V2011, Edition::V2013, Edition::V2019];

/// Bytes that survive NUL-trimming of fixed-width fields: no 0x00 at either end.
fn text(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max).prop_map(|mut v| {
        for b in v.iter_mut() {
            if *b == 0 {
                *b = b'0';
            }
        }
        v
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn bcd6() -> impl Strategy<Value = [u8; 6]> {
    (0u8..100, 1u8..13, 1u8..29, 0u8..24, 0u8..60, 0u8..60).prop_map(|(y, mo, d, h, mi, s)| {
        let b = |v: u8| ((v / 10) << 4) | (v % 10);
        [b(y), b(mo), b(d), b(h), b(mi), b(s)]
    })
}

fn basic() -> impl Strategy<Value = BasicLocation> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        bcd6(),
    )
        .prop_map(|(a, s, lat, lon, alt, speed, course, t)| BasicLocation {
            alarm: AlarmFlags(a),
            status: StatusFlags(s),
            lat_raw: lat,
            lon_raw: lon,
            altitude_raw: alt,
            speed_dkmh: speed,
            course_deg: course,
            time_bcd: t,
        })
}

/// Owned data an item borrows from.
#[derive(Debug, Clone)]
enum ItemSpec {
    Mileage(u32),
    Fuel(u16),
    RecorderSpeed(u16),
    AlarmEventId(u16),
    Tyres([u8; 30]),
    Cabin(i16),
    Overspeed(u8, Option<u32>),
    Area(u8, u32, u8),
    Route(u32, u16, u8),
    Signals(u32),
    Io(u16),
    Analog(u16, u16),
    Rssi(u8),
    Satellites(u8),
    /// Vendor or unknown ids only (a standard id with its standard length would decode typed).
    Raw(u8, Vec<u8>),
}

impl ItemSpec {
    fn item(&self) -> AdditionalItem<'_> {
        match self {
            ItemSpec::Mileage(v) => AdditionalItem::Mileage { mileage_dkm: *v },
            ItemSpec::Fuel(v) => AdditionalItem::Fuel { fuel_dl: *v },
            ItemSpec::RecorderSpeed(v) => AdditionalItem::RecorderSpeed { speed_dkmh: *v },
            ItemSpec::AlarmEventId(v) => AdditionalItem::AlarmEventId { event_id: *v },
            ItemSpec::Tyres(v) => AdditionalItem::TyrePressure { pressures: v },
            ItemSpec::Cabin(v) => AdditionalItem::CabinTemperature { temperature_c: *v },
            ItemSpec::Overspeed(t, a) => AdditionalItem::OverspeedAlarm {
                location_type: *t,
                area_id: *a,
            },
            ItemSpec::Area(t, a, d) => AdditionalItem::AreaAlarm {
                location_type: *t,
                area_id: *a,
                direction: *d,
            },
            ItemSpec::Route(r, t, x) => AdditionalItem::RouteDriveTime {
                route_id: *r,
                drive_time_secs: *t,
                result: *x,
            },
            ItemSpec::Signals(v) => AdditionalItem::ExtendedSignals { signals: *v },
            ItemSpec::Io(v) => AdditionalItem::IoStatus { io: *v },
            ItemSpec::Analog(a, b) => AdditionalItem::Analog { ad0: *a, ad1: *b },
            ItemSpec::Rssi(v) => AdditionalItem::Rssi { rssi: *v },
            ItemSpec::Satellites(v) => AdditionalItem::Satellites { count: *v },
            ItemSpec::Raw(id, v) => AdditionalItem::Raw { id: *id, value: v },
        }
    }
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    prop_oneof![
        any::<u32>().prop_map(ItemSpec::Mileage),
        any::<u16>().prop_map(ItemSpec::Fuel),
        any::<u16>().prop_map(ItemSpec::RecorderSpeed),
        any::<u16>().prop_map(ItemSpec::AlarmEventId),
        any::<[u8; 30]>().prop_map(ItemSpec::Tyres),
        (-32_767i16..=32_767).prop_map(ItemSpec::Cabin),
        (any::<u8>(), proptest::option::of(any::<u32>())).prop_map(|(t, a)| ItemSpec::Overspeed(t, a)),
        (any::<u8>(), any::<u32>(), any::<u8>()).prop_map(|(t, a, d)| ItemSpec::Area(t, a, d)),
        (any::<u32>(), any::<u16>(), any::<u8>()).prop_map(|(r, t, x)| ItemSpec::Route(r, t, x)),
        any::<u32>().prop_map(ItemSpec::Signals),
        any::<u16>().prop_map(ItemSpec::Io),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| ItemSpec::Analog(a, b)),
        any::<u8>().prop_map(ItemSpec::Rssi),
        any::<u8>().prop_map(ItemSpec::Satellites),
        (prop_oneof![0x07u8..0x11, 0x14u8..0x25, 0x32u8..=0xff], bytes(40))
            .prop_map(|(id, v)| ItemSpec::Raw(id, v)),
    ]
}

#[derive(Debug, Clone)]
struct ReportSpec {
    basic: BasicLocation,
    items: Vec<ItemSpec>,
}

fn report_spec(max_items: usize) -> impl Strategy<Value = ReportSpec> {
    (basic(), vec(item_spec(), 0..=max_items)).prop_map(|(basic, items)| ReportSpec { basic, items })
}

/// A driver card as read: status, read result, name, ID card, qualification, validity, agency.
type Card = (u8, u8, Vec<u8>, Vec<u8>, Vec<u8>, [u8; 4], Vec<u8>);

/// Owned data for every message type.
#[derive(Debug, Clone)]
enum Spec {
    TerminalAck(u16, u16, u8),
    PlatformAck(u16, u16, u8),
    Empty(u16),
    ServerTime(i64),
    PacketRequest(bool, u16, Vec<u16>),
    Register(u16, u16, Vec<u8>, Vec<u8>, Vec<u8>, u8, Vec<u8>),
    RegisterAck(u16, u8, Vec<u8>),
    Authenticate(Vec<u8>, Vec<u8>, Vec<u8>),
    Parameters(Option<u16>, Vec<(u32, Vec<u8>)>),
    ParameterIds(Vec<u32>),
    Control(u8, Vec<u8>),
    Attributes(u16, Vec<u8>, Vec<u8>, Vec<u8>, u128, Vec<u8>, Vec<u8>, u8, u8),
    Location(ReportSpec),
    LocationReply(u16, ReportSpec),
    Track(u16, u32),
    Text(u8, u8, Vec<u8>),
    Driver(Option<Card>, u8, [u8; 6], Vec<u8>),
    Batch(u8, Vec<ReportSpec>),
    MediaEvent(u32, u8, u8, u8, u8),
    MediaUpload(u32, u8, u8, u8, u8, BasicLocation, Vec<u8>),
    MediaAck(u32, Vec<u16>),
    Passthrough(bool, u8, Vec<u8>),
    Raw(u16, Vec<u8>),
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(a, b, c)| Spec::TerminalAck(a, b, c)),
        (any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(a, b, c)| Spec::PlatformAck(a, b, c)),
        prop_oneof![
            Just(0x0002u16),
            Just(0x0003),
            Just(0x0004),
            Just(0x8104),
            Just(0x8107),
            Just(0x8201)
        ]
        .prop_map(Spec::Empty),
        // Whole seconds from 2000 to 2099, the span a two-digit year covers.
        (946_684_800i64..4_102_444_800).prop_map(Spec::ServerTime),
        (any::<bool>(), any::<u16>(), vec(any::<u16>(), 0..40))
            .prop_map(|(t, s, v)| Spec::PacketRequest(t, s, v)),
        (
            any::<u16>(),
            any::<u16>(),
            text(5),
            text(8),
            text(7),
            any::<u8>(),
            bytes(20)
        )
            .prop_map(|(p, c, m, mo, t, col, pl)| Spec::Register(p, c, m, mo, t, col, pl)),
        (any::<u16>(), any::<u8>(), bytes(30)).prop_map(|(s, r, c)| Spec::RegisterAck(s, r, c)),
        (bytes(40), text(15), text(20)).prop_map(|(c, i, v)| Spec::Authenticate(c, i, v)),
        (
            proptest::option::of(any::<u16>()),
            vec((any::<u32>(), bytes(20)), 0..20)
        )
            .prop_map(|(r, p)| Spec::Parameters(r, p)),
        vec(any::<u32>(), 0..40).prop_map(Spec::ParameterIds),
        (any::<u8>(), bytes(60)).prop_map(|(c, p)| Spec::Control(c, p)),
        (
            any::<u16>(),
            text(5),
            text(20),
            text(7),
            0u128..=99_999_999_999_999_999_999,
            text(30),
            text(30),
            any::<u8>(),
            any::<u8>()
        )
            .prop_map(|(t, m, mo, id, iccid, hw, fw, g, n)| Spec::Attributes(
                t, m, mo, id, iccid, hw, fw, g, n
            )),
        report_spec(12).prop_map(Spec::Location),
        (any::<u16>(), report_spec(6)).prop_map(|(s, r)| Spec::LocationReply(s, r)),
        (any::<u16>(), any::<u32>()).prop_map(|(i, v)| Spec::Track(i, v)),
        (any::<u8>(), any::<u8>(), bytes(60)).prop_map(|(f, t, x)| Spec::Text(f, t, x)),
        (
            proptest::option::of((
                1u8..=2,
                Just(0u8),
                text(20),
                text(20),
                text(40),
                any::<[u8; 4]>(),
                text(20)
            )),
            1u8..=2,
            bcd6(),
            bytes(10)
        )
            .prop_map(|(card, status, t, trailer)| Spec::Driver(card, status, t, trailer)),
        (0u8..=1, vec(report_spec(3), 0..5)).prop_map(|(t, r)| Spec::Batch(t, r)),
        (any::<u32>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(i, t, f, e, c)| Spec::MediaEvent(i, t, f, e, c)),
        (
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            basic(),
            bytes(100)
        )
            .prop_map(|(i, t, f, e, c, l, d)| Spec::MediaUpload(i, t, f, e, c, l, d)),
        (any::<u32>(), vec(any::<u16>(), 0..30)).prop_map(|(i, v)| Spec::MediaAck(i, v)),
        (any::<bool>(), any::<u8>(), bytes(80)).prop_map(|(up, k, c)| Spec::Passthrough(up, k, c)),
        (
            prop_oneof![0x0a00u16..0x0f00, 0x1200u16..0x1300, 0x9000u16..0x9300],
            bytes(80)
        )
            .prop_map(|(id, b)| Spec::Raw(id, b)),
    ]
}

fn items_of(r: &ReportSpec) -> Vec<AdditionalItem<'_>> {
    r.items.iter().map(ItemSpec::item).collect()
}

/// The driver identity report of a spec's card (or of a card removed) in `edition`'s layout.
fn driver_identity<'a>(
    edition: Edition,
    card: &'a Option<Card>,
    status: u8,
    t: &[u8; 6],
    trailer: &'a [u8],
) -> DriverIdentity<'a> {
    match (edition, card) {
        (Edition::V2011, Some((_, _, name, id_card, qual, _, agency))) => DriverIdentity {
            name: Text(name),
            id_card: Some(Text(id_card)),
            qualification: Text(qual),
            agency: Text(agency),
            trailer,
            ..DriverIdentity::default()
        },
        (Edition::V2011, None) => DriverIdentity {
            id_card: Some(Text(b"")),
            trailer,
            ..DriverIdentity::default()
        },
        (_, Some((st, result, name, id_card, qual, validity, agency))) => DriverIdentity {
            status: Some(*st),
            time_bcd: Some(*t),
            read_result: Some(*result),
            name: Text(name),
            qualification: Text(&qual[..qual.len().min(20)]),
            agency: Text(agency),
            validity_bcd: Some(*validity),
            id_card: (edition == Edition::V2019).then_some(Text(id_card)),
            trailer,
        },
        // A card removed: status and time only (no trailer, which would read as a result byte).
        (_, None) => DriverIdentity {
            status: Some(status),
            time_bcd: Some(*t),
            ..DriverIdentity::default()
        },
    }
}

/// A media event of its fields.
fn media_event(media_id: u32, media_type: u8, format: u8, event: u8, channel: u8) -> MediaEvent {
    MediaEvent {
        media_id,
        media_type,
        format,
        event,
        channel,
    }
}

/// A general acknowledgement of its fields.
fn ack(reply_serial: u16, reply_msg_id: u16, result: u8) -> GeneralAck {
    GeneralAck {
        reply_serial,
        reply_msg_id,
        result,
    }
}

/// Builds the message (and the item and report lists it borrows) from its owned spec, for `edition`.
fn with_message<R>(spec: &Spec, edition: Edition, f: impl FnOnce(Message<'_>) -> R) -> R {
    match spec {
        Spec::TerminalAck(s, i, r) => f(Message::TerminalAck(ack(*s, *i, *r))),
        Spec::PlatformAck(s, i, r) => f(Message::PlatformAck(ack(*s, *i, *r))),
        Spec::Empty(id) => f(Message::decode_as(*id, edition, &[]).expect("empty body")),
        Spec::ServerTime(secs) => f(Message::ServerTime(ServerTime {
            time: Timestamp::from_secs(*secs),
        })),
        Spec::PacketRequest(terminal, s, ids) => {
            let p = PacketRequest {
                first_serial: *s,
                packet_indexes: WordList::Values(ids),
            };
            f(if *terminal {
                Message::TerminalPacketRequest(p)
            } else {
                Message::PacketRequest(p)
            })
        }
        Spec::Register(p, c, m, mo, t, col, pl) => {
            // 2019 widths are larger; the 2011 model field is the narrowest (8).
            f(Message::Register(Register {
                province_id: *p,
                city_id: *c,
                maker_id: Text(m),
                model: Text(mo),
                terminal_id: Text(t),
                plate_color: *col,
                plate: Text(pl),
            }))
        }
        Spec::RegisterAck(s, r, c) => f(Message::RegisterAck(RegisterAck {
            reply_serial: *s,
            result: *r,
            auth_code: (*r == 0).then_some(Text(c)),
        })),
        Spec::Authenticate(c, i, v) => {
            let v2019 = edition == Edition::V2019;
            f(Message::Authenticate(Authenticate {
                auth_code: Text(c),
                imei: v2019.then_some(Text(i)),
                software_version: v2019.then_some(Text(v)),
            }))
        }
        Spec::Parameters(reply, params) => {
            let list: Vec<Parameter<'_>> = params
                .iter()
                .map(|(id, v)| Parameter { id: *id, value: v })
                .collect();
            let l = ParameterList {
                count: list.len() as u8,
                params: Params::List(&list),
            };
            f(match reply {
                Some(s) => Message::Parameters {
                    reply_serial: *s,
                    list: l,
                },
                None => Message::SetParameters(l),
            })
        }
        Spec::ParameterIds(ids) => f(Message::QueryParameterIds(ParameterIds(WireOrList::List(ids)))),
        Spec::Control(c, p) => f(Message::TerminalControl(TerminalControl {
            command: *c,
            parameters: p,
        })),
        Spec::Attributes(t, m, mo, id, iccid, hw, fw, g, n) => f(Message::Attributes(TerminalAttributes {
            terminal_type: *t,
            maker_id: Text(m),
            model: Text(mo),
            terminal_id: Text(id),
            iccid: *iccid,
            hardware_version: Text(hw),
            firmware_version: Text(fw),
            gnss: *g,
            network: *n,
        })),
        Spec::Location(r) => {
            let items = items_of(r);
            f(Message::Location(LocationReport {
                basic: r.basic,
                items: Items::List(&items),
            }))
        }
        Spec::LocationReply(s, r) => {
            let items = items_of(r);
            f(Message::LocationReply(LocationReply {
                reply_serial: *s,
                report: LocationReport {
                    basic: r.basic,
                    items: Items::List(&items),
                },
            }))
        }
        Spec::Track(i, v) => f(Message::TrackLocation(TrackLocation {
            interval_secs: *i,
            validity_secs: *v,
        })),
        Spec::Text(fl, t, x) => f(Message::TextMessage(TextMessage {
            flags: *fl,
            text_type: (edition == Edition::V2019).then_some(*t),
            text: Text(x),
        })),
        Spec::Driver(card, status, t, trailer) => f(Message::DriverIdentity(driver_identity(
            edition, card, *status, t, trailer,
        ))),
        Spec::Batch(t, reports) => {
            let item_lists: Vec<Vec<AdditionalItem<'_>>> = reports.iter().map(items_of).collect();
            let list: Vec<LocationReport<'_>> = reports
                .iter()
                .zip(&item_lists)
                .map(|(r, items)| LocationReport {
                    basic: r.basic,
                    items: Items::List(items),
                })
                .collect();
            f(Message::LocationBatch(LocationBatch {
                count: list.len() as u16,
                location_type: *t,
                items: BatchItems::List(&list),
            }))
        }
        Spec::MediaEvent(i, t, fo, e, c) => f(Message::MediaEvent(media_event(*i, *t, *fo, *e, *c))),
        Spec::MediaUpload(i, t, fo, e, c, l, d) => f(Message::MediaUpload(MediaUpload {
            event: media_event(*i, *t, *fo, *e, *c),
            location: (edition != Edition::V2011).then_some(*l),
            data: d,
        })),
        Spec::MediaAck(i, ids) => f(Message::MediaUploadAck(MediaUploadAck {
            media_id: *i,
            packet_indexes: WordList::Values(ids),
        })),
        Spec::Passthrough(up, k, c) => {
            let p = Passthrough { kind: *k, content: c };
            f(if *up {
                Message::UplinkPassthrough(p)
            } else {
                Message::DownlinkPassthrough(p)
            })
        }
        Spec::Raw(id, b) => f(Message::Raw { msg_id: *id, body: b }),
    }
}

fn header_strategy() -> impl Strategy<Value = (u128, u16, Option<Subpackage>, u16)> {
    (
        0u128..=999_999_999_999,
        any::<u16>(),
        proptest::option::of((1u16..50, 1u16..50).prop_map(|(a, b)| Subpackage {
            total: a.max(b),
            index: a.min(b),
        })),
        // Encryption bits and the reserved bit 15 travel through untouched.
        prop_oneof![Just(0u16), Just(1 << 10), Just(1 << 15)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity(spec in spec(), (phone, serial, sub, extra) in header_strategy(), wide_phone in 0u128..=99_999_999_999_999_999_999) {
        for edition in EDITIONS {
            with_message(&spec, edition, |msg| {
                let mut header = Header::new(0, Phone(phone), serial, edition);
                if edition == Edition::V2019 {
                    header.phone = Phone(wide_phone);
                }
                header.subpackage = sub;
                header.attributes = BodyAttributes(extra);
                let mut out = BytesMut::new();
                match encode_message_as(&header, edition, &msg, &mut out) {
                    Ok(()) => {}
                    // Some generated bodies exceed a field or the 1023-byte limit: that is an error, never a panic.
                    Err(Error::BodyTooLong { .. } | Error::FieldTooLong { .. }) => return Ok(()),
                    Err(e) => return Err(TestCaseError::fail(format!("{edition:?}: {e}"))),
                }
                let mut scratch = vec![0u8; out.len()];
                let frame = decode_frame(&out, &mut scratch, DecodeOptions::STRICT)
                    .map_err(|e| TestCaseError::fail(format!("{edition:?}: {e}")))?;
                prop_assert!(frame.leniencies.is_empty());
                prop_assert_eq!(frame.header.msg_id, msg.msg_id());
                prop_assert_eq!(frame.header.phone, header.phone);
                prop_assert_eq!(frame.header.serial, serial);
                prop_assert_eq!(frame.header.subpackage, sub);
                prop_assert_eq!(frame.header.protocol_version, header.protocol_version);
                prop_assert_eq!(frame.header.attributes.0 & !0x63ff, extra);
                let decoded = Message::decode_as(frame.header.msg_id, edition, frame.body)
                    .map_err(|e| TestCaseError::fail(format!("{edition:?}: {e}")))?;
                prop_assert_eq!(decoded, msg, "{:?}", edition);
                // The edition guess for the shared 2011/2013 layout agrees when the body is unambiguous.
                // (2011 bodies of 0x0702/0x0801 can look like 2013 ones by chance: only 2013 is checked there.)
                if edition != Edition::V2019 {
                    let guessed = body_edition(msg.msg_id(), Edition::V2013, frame.body);
                    let unambiguous = match msg {
                        Message::Register(r) => r.plate.len() < 12,
                        Message::MediaUpload(_) | Message::DriverIdentity(_) => edition == Edition::V2013,
                        _ => false,
                    };
                    if unambiguous {
                        prop_assert_eq!(guessed, edition);
                    }
                }
                Ok(())
            })?;
        }
    }

    #[test]
    fn unescape_inverts_escape(data in vec(any::<u8>(), 0..600)) {
        let escaped = escape::escape(&data);
        prop_assert!(!escaped.contains(&0x7e));
        // Every 0x7d starts a 7d 01 / 7d 02 pair.
        for (i, b) in escaped.iter().enumerate() {
            if *b == 0x7d {
                prop_assert!(matches!(escaped.get(i + 1), Some(1 | 2)));
            }
        }
        prop_assert_eq!(escape::unescape(&escaped), data);
    }

    #[test]
    fn arbitrary_chunking_yields_the_same_frames(
        specs in vec(spec(), 1..12),
        garbage in vec(prop_oneof![bytes(6), Just(vec![0x7e]), Just(vec![])], 12),
        cuts in vec(1usize..200, 0..40),
    ) {
        // A stream of frames with noise between some of them.
        let mut stream = BytesMut::new();
        let mut expected = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let edition = EDITIONS[i % 3];
            let garbage = garbage[i].iter().copied().filter(|b| *b != 0x7e).collect::<Vec<_>>();
            stream.extend_from_slice(&garbage);
            let header = Header::new(0, Phone(13_800_000_000 + i as u128), i as u16, edition);
            with_message(spec, edition, |msg| {
                let start = stream.len();
                if encode_message_as(&header, edition, &msg, &mut stream).is_ok() {
                    expected.push(stream[start..].to_vec());
                }
            });
        }
        // Everything at once.
        let mut whole = FrameDecoder::default();
        let mut buf = stream.clone();
        let mut all_at_once = Vec::new();
        while let Some(f) = whole.decode(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))? {
            all_at_once.push(f);
        }
        prop_assert_eq!(all_at_once.len(), expected.len());
        // The borrowed splitter agrees.
        let borrowed: Vec<&[u8]> = frames(&stream).collect();
        prop_assert_eq!(borrowed.len(), expected.len());
        for (b, e) in borrowed.iter().zip(&expected) {
            prop_assert_eq!(*b, &e[..]);
        }
        let mut scratch = vec![0u8; stream.len()];
        let mut rest = &stream[..];
        let mut via_next = Vec::new();
        while let Some((frame, used)) = decode_next(rest, &mut scratch, DecodeOptions::STRICT) {
            let frame = frame.map_err(|e| TestCaseError::fail(e.to_string()))?;
            via_next.push((frame.header, frame.body.to_vec()));
            rest = &rest[used..];
        }
        prop_assert_eq!(via_next.len(), expected.len());
        // In arbitrary chunks.
        let mut chunked = FrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut pieces = Vec::new();
        let mut at = 0;
        for cut in cuts.iter().chain(std::iter::repeat(&64)) {
            if at >= stream.len() {
                break;
            }
            let end = (at + cut).min(stream.len());
            buf.extend_from_slice(&stream[at..end]);
            at = end;
            while let Some(f) = chunked.decode(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))? {
                pieces.push(f);
            }
        }
        prop_assert_eq!(&pieces, &all_at_once);
        for (f, (h, b)) in pieces.iter().zip(&via_next) {
            prop_assert_eq!(&f.header, h);
            prop_assert_eq!(&f.body[..], &b[..]);
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in vec(any::<u8>(), 0..400)) {
        let mut d = FrameDecoder::new(DecodeOptions::LENIENT, 256);
        let mut buf = BytesMut::from(&data[..]);
        // Each call consumes bytes or asks for more, so this ends.
        for _ in 0..=data.len() {
            match d.decode(&mut buf) {
                Ok(Some(f)) => { let _ = f.message().map(|m| m.leniencies()); }
                Ok(None) => break,
                Err(_) => {}
            }
        }
        // What is kept waiting for more bytes never exceeds the cap.
        prop_assert!(buf.len() <= 256);
        for edition in EDITIONS {
            for id in [0x0100u16, 0x0102, 0x0104, 0x0107, 0x0200, 0x0201, 0x0702, 0x0704, 0x0801, 0x0900, 0x8003, 0x8103, 0x8800] {
                if let Ok(m) = Message::decode_as(id, edition, &data) {
                    let _ = m.leniencies();
                    if let Message::LocationBatch(b) = m { let _ = b.iter().count(); }
                    if let Message::Location(r) = m { let _ = r.to_position(Phone(1), Default::default(), Timestamp(0), Default::default()); }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The fuzz entry points on random input: a small stable-toolchain fuzz run on every test.
    #[test]
    fn fuzz_entries_hold_on_random_input(
        id in prop_oneof![
            Just(0x0001u16), Just(0x8001), Just(0x0005), Just(0x8003), Just(0x8004), Just(0x0100), Just(0x8100),
            Just(0x0102), Just(0x8103), Just(0x0104), Just(0x8105), Just(0x0107), Just(0x0200), Just(0x0201),
            Just(0x8202), Just(0x8300), Just(0x0702), Just(0x0704), Just(0x0800), Just(0x0801), Just(0x8800),
            Just(0x0900), Just(0x8900), any::<u16>()
        ],
        edition in 0u8..3,
        body in vec(any::<u8>(), 0..300),
        stream in vec(prop_oneof![Just(0x7eu8), Just(0x7d), Just(0x01), Just(0x02), any::<u8>()], 0..600),
    ) {
        let mut data = id.to_be_bytes().to_vec();
        data.push(edition);
        data.extend_from_slice(&body);
        tianshu_jt808::fuzz_entry::body_decoder(&data);
        tianshu_jt808::fuzz_entry::frame_splitter(&stream);
    }
}

#[test]
fn an_unterminated_run_past_the_cap_is_an_error_not_memory() {
    let mut d = FrameDecoder::new(DecodeOptions::STRICT, 64);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0x7e]);
    buf.extend_from_slice(&[0x30; 40]);
    assert_eq!(d.decode(&mut buf), Ok(None));
    buf.extend_from_slice(&[0x30; 40]);
    assert_eq!(
        d.decode(&mut buf),
        Err(Error::FrameTooLong {
            len: 81,
            max_bytes: 64
        })
    );
    assert!(buf.is_empty());
    // The next frame decodes normally.
    let mut out = BytesMut::new();
    encode_message(
        &Header::new(0, Phone(1), 1, Edition::V2013),
        &Message::Heartbeat,
        &mut out,
    )
    .expect("encodes");
    buf.extend_from_slice(&out);
    assert_eq!(
        d.decode(&mut buf).expect("ok").expect("frame").header.msg_id,
        0x0002
    );
    assert_eq!(d.discarded_bytes(), 81);
}

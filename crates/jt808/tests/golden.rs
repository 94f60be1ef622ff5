//! Golden fixtures: every record of `protocols/jt808/jt808-vectors.jsonl` (frames and bodies copied
//! from SmallChi/JT808, cuteLittleDevil/go-jt808 and yezhihao/jt808-server test suites).
//!
//! For each record: decoding must not panic; frames tagged `negative` must fail with the error the
//! source names; frames tagged `accepted-despite-bad-checksum-or-length` must fail by default and decode
//! in lenient mode; every value the source asserts (`expect`, in the source's own names and units) must
//! match what the codec decoded; clean frames must re-encode to the same bytes. An `expect` key this
//! test does not know fails the test, so no assertion is skipped silently.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};
use tianshu_jt808::*;
use tianshu_model::{Edition, Phone, Timestamp};

const VECTORS: &str = include_str!("../../../protocols/jt808/jt808-vectors.jsonl");

fn records() -> Vec<Value> {
    VECTORS
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

fn tags(r: &Value) -> Vec<&str> {
    r["tags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn gbk(b: &[u8]) -> String {
    let (s, _, _) = encoding_rs::GBK.decode(b);
    s.into_owned()
}

fn text(t: Text<'_>) -> Value {
    let b = t.as_bytes();
    let start = b.iter().position(|&c| c != 0).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != 0).map_or(start, |e| e + 1);
    Value::String(gbk(&b[start..end]))
}

fn bcd_local(t: &[u8; 6]) -> Value {
    Value::String(format!(
        "20{:02x}-{:02x}-{:02x} {:02x}:{:02x}:{:02x}",
        t[0], t[1], t[2], t[3], t[4], t[5]
    ))
}

fn item_value(item: &AdditionalItem<'_>) -> Value {
    match *item {
        AdditionalItem::Mileage { mileage_dkm } => json!(mileage_dkm),
        AdditionalItem::Fuel { fuel_dl } => json!(fuel_dl),
        AdditionalItem::RecorderSpeed { speed_dkmh } => json!(speed_dkmh),
        AdditionalItem::AlarmEventId { event_id } => json!(event_id),
        AdditionalItem::TyrePressure { pressures } => json!({ "value": pressures }),
        AdditionalItem::CabinTemperature { temperature_c } => json!(temperature_c),
        AdditionalItem::OverspeedAlarm {
            location_type,
            area_id,
        } => {
            json!({ "location_type": location_type, "area_id": area_id.unwrap_or(0) })
        }
        AdditionalItem::AreaAlarm {
            location_type,
            area_id,
            direction,
        } => {
            json!({ "location_type": location_type, "area_id": area_id, "direction": direction })
        }
        AdditionalItem::RouteDriveTime {
            route_id,
            drive_time_secs,
            result,
        } => {
            json!({ "route_id": route_id, "drive_time_secs": drive_time_secs, "result": result })
        }
        AdditionalItem::ExtendedSignals { signals } => json!(signals),
        AdditionalItem::IoStatus { io } => json!(io),
        AdditionalItem::Analog { ad0, ad1 } => json!((u32::from(ad1) << 16) | u32::from(ad0)),
        AdditionalItem::Rssi { rssi } => json!(rssi),
        AdditionalItem::Satellites { count } => json!(count),
        AdditionalItem::Raw { value, .. } | AdditionalItem::Truncated { value, .. } => {
            json!(hex::encode(value))
        }
        _ => Value::Null,
    }
}

fn basic_facts(b: &BasicLocation, f: &mut BTreeMap<String, Value>) {
    f.insert("alarm".into(), json!(b.alarm.0));
    f.insert("status".into(), json!(b.status.0));
    f.insert("lat_raw".into(), json!(b.lat_raw));
    f.insert("lon_raw".into(), json!(b.lon_raw));
    f.insert("altitude_raw".into(), json!(b.altitude_raw));
    f.insert("speed_dkmh".into(), json!(b.speed_dkmh));
    f.insert("course_deg".into(), json!(b.course_deg));
    f.insert("time_local".into(), bcd_local(&b.time_bcd));
    if let Ok((lat, lon, _)) = b.coordinates_e6() {
        f.insert("lat_e6".into(), json!(lat));
        f.insert("lon_e6".into(), json!(lon));
    }
}

fn report_facts(r: &LocationReport<'_>) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    basic_facts(&r.basic, &mut f);
    let (mut typed, mut raw, mut truncated, mut duplicates) = (0, 0, 0, 0);
    let mut items = serde_json::Map::new();
    let mut seen = [false; 256];
    for item in r.items.iter() {
        if std::mem::replace(&mut seen[usize::from(item.id())], true) {
            duplicates += 1;
        }
        match item {
            AdditionalItem::Raw { .. } => raw += 1,
            AdditionalItem::Truncated { .. } => truncated += 1,
            _ => typed += 1,
        }
        items.insert(item.id().to_string(), item_value(&item));
        let named = match item {
            AdditionalItem::Mileage { .. } => "mileage_dkm",
            AdditionalItem::Fuel { .. } => "fuel_dl",
            AdditionalItem::RecorderSpeed { .. } => "recorder_speed_dkmh",
            AdditionalItem::AlarmEventId { .. } => "alarm_event_id",
            AdditionalItem::OverspeedAlarm { .. } => "overspeed_alarm",
            AdditionalItem::AreaAlarm { .. } => "area_alarm",
            AdditionalItem::RouteDriveTime { .. } => "route_drive_time",
            AdditionalItem::ExtendedSignals { .. } => "extended_signals",
            AdditionalItem::IoStatus { .. } => "io_status",
            AdditionalItem::Analog { .. } => "analog",
            AdditionalItem::Rssi { .. } => "rssi",
            AdditionalItem::Satellites { .. } => "satellites",
            _ => "",
        };
        if !named.is_empty() {
            f.insert(named.into(), item_value(&item));
        }
        if let AdditionalItem::Analog { ad0, ad1 } = item {
            f.insert(
                "analog_wire".into(),
                json!(format!("{:08X}", (u32::from(ad1) << 16) | u32::from(ad0))),
            );
        }
        if let AdditionalItem::Raw { id: 0x07, value } = item {
            f.insert("item_0x07_len".into(), json!(value.len()));
            // Vendor satellite detail: [count, count x 4 bytes] for BeiDou, GPS, GLONASS, Galileo.
            let mut at = 0;
            let mut counts = Vec::new();
            for _ in 0..4 {
                let n = value.get(at).map_or(0, |&n| usize::from(n));
                counts.push(n);
                at += 1 + 4 * n;
            }
            if at == value.len() {
                for (name, n) in ["beidou", "gps", "glonass", "galileo"].iter().zip(counts) {
                    f.insert((*name).into(), json!(n));
                }
            }
        }
    }
    f.insert("items".into(), Value::Object(items));
    f.insert("typed_items".into(), json!(typed));
    f.insert("raw_items".into(), json!(raw));
    f.insert("truncated_items".into(), json!(truncated));
    // SmallChi files an item it cannot keep in its by-id table (a truncated one or a repeated id) as
    // an "exception" item.
    f.insert("unkeepable_items".into(), json!(truncated + duplicates));
    f
}

fn params_facts(list: &ParameterList<'_>, f: &mut BTreeMap<String, Value>) {
    f.insert("param_count".into(), json!(list.count));
    let mut m = serde_json::Map::new();
    for p in list.iter() {
        let p = p.expect("parameter decodes");
        let v = match p.as_u32() {
            Some(n) => json!(n),
            None => text(p.as_text()),
        };
        m.insert(format!("0x{:04X}", p.id), v);
    }
    f.insert("params".into(), Value::Object(m));
}

/// What the codec decoded, flattened under this test's canonical names.
fn facts(
    header: Option<&Header>,
    edition: Edition,
    msg: &Message<'_>,
    body: &[u8],
) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    if let Some(h) = header {
        header_facts(h, &mut f);
    }
    f.insert(
        "edition".into(),
        json!(body_edition(msg.msg_id(), edition, body).as_str()),
    );
    f.insert("message_name".into(), json!(msg.name()));
    f.insert("body_empty".into(), json!(body.is_empty()));
    match msg {
        Message::TerminalAck(a) | Message::PlatformAck(a) => {
            f.insert("reply_serial".into(), json!(a.reply_serial));
            f.insert("reply_msg_id".into(), json!(a.reply_msg_id));
            f.insert("result".into(), json!(a.result));
        }
        Message::Register(r) => {
            f.insert("province_id".into(), json!(r.province_id));
            f.insert("city_id".into(), json!(r.city_id));
            f.insert("maker_id".into(), text(r.maker_id));
            f.insert("model".into(), text(r.model));
            f.insert("terminal_id".into(), text(r.terminal_id));
            f.insert("plate_color".into(), json!(r.plate_color));
            f.insert("plate".into(), text(r.plate));
        }
        Message::RegisterAck(a) => {
            f.insert("reply_serial".into(), json!(a.reply_serial));
            f.insert("result".into(), json!(a.result));
            f.insert("auth_code".into(), a.auth_code.map_or(Value::Null, text));
        }
        Message::Authenticate(a) => {
            f.insert("auth_code".into(), text(a.auth_code));
            f.insert("auth_code_len".into(), json!(a.auth_code.len()));
            if let Some(i) = a.imei {
                f.insert("imei".into(), text(i));
            }
            if let Some(v) = a.software_version {
                f.insert("software_version".into(), text(v));
            }
        }
        Message::Location(r) => f.extend(report_facts(r)),
        Message::LocationReply(r) => {
            f.extend(report_facts(&r.report));
            f.insert("reply_serial".into(), json!(r.reply_serial));
        }
        Message::LocationBatch(b) => batch_facts(b, &mut f),
        Message::PacketRequest(p) | Message::TerminalPacketRequest(p) => {
            f.insert("first_serial".into(), json!(p.first_serial));
            f.insert("packet_count".into(), json!(p.packet_indexes.len()));
            f.insert("packet_indexes".into(), p.packet_indexes.iter().collect());
        }
        Message::MediaUploadAck(a) => {
            f.insert("media_id".into(), json!(a.media_id));
            f.insert("packet_count".into(), json!(a.packet_indexes.len()));
            f.insert("packet_indexes".into(), a.packet_indexes.iter().collect());
        }
        Message::MediaEvent(e) | Message::MediaUpload(MediaUpload { event: e, .. }) => {
            f.insert("media_id".into(), json!(e.media_id));
            f.insert("media_type".into(), json!(e.media_type));
            f.insert("format".into(), json!(e.format));
            f.insert("event".into(), json!(e.event));
            f.insert("channel".into(), json!(e.channel));
            if let Message::MediaUpload(m) = msg {
                f.insert("data".into(), json!(hex::encode(m.data)));
                if let Some(l) = &m.location {
                    let mut loc = BTreeMap::new();
                    basic_facts(l, &mut loc);
                    f.insert(
                        "location".into(),
                        Value::Object(loc.clone().into_iter().collect()),
                    );
                    f.extend(loc);
                }
            }
        }
        Message::UplinkPassthrough(p) | Message::DownlinkPassthrough(p) => {
            f.insert("passthrough_type".into(), json!(p.kind));
            f.insert("content".into(), json!(gbk(p.content)));
        }
        Message::TrackLocation(t) => {
            f.insert("interval_secs".into(), json!(t.interval_secs));
            f.insert("validity_secs".into(), json!(t.validity_secs));
        }
        Message::SetParameters(l) => params_facts(l, &mut f),
        Message::Parameters { reply_serial, list } => {
            f.insert("reply_serial".into(), json!(reply_serial));
            params_facts(list, &mut f);
        }
        Message::TerminalControl(c) => control_facts(c, &mut f),
        Message::TextMessage(t) => {
            f.insert("flags".into(), json!(t.flags));
            f.insert("text_type".into(), json!(t.text_type.unwrap_or(0)));
            f.insert("text".into(), text(t.text));
        }
        Message::DriverIdentity(d) => driver_facts(d, &mut f),
        Message::Attributes(a) => {
            f.insert("terminal_type".into(), json!(a.terminal_type));
            f.insert("maker_id".into(), text(a.maker_id));
            f.insert("model".into(), text(a.model));
            f.insert("terminal_id".into(), text(a.terminal_id));
            f.insert("iccid".into(), json!(a.iccid.to_string()));
            f.insert("hardware_version".into(), text(a.hardware_version));
            f.insert("firmware_version".into(), text(a.firmware_version));
            f.insert("gnss".into(), json!(a.gnss));
            f.insert("network".into(), json!(a.network));
        }
        // JT/T 1078 0x1206 (file upload finished) is not a JT/T 808 message: the codec keeps it raw, and
        // the source's values are read from those raw bytes by the 1078 layout (reply serial, result).
        Message::Raw {
            msg_id: 0x1206,
            body: [a, b, result],
        } => {
            f.insert("reply_serial".into(), json!(u16::from_be_bytes([*a, *b])));
            f.insert("result".into(), json!(*result));
        }
        _ => {}
    }
    f
}

/// The header's facts.
fn header_facts(h: &Header, f: &mut BTreeMap<String, Value>) {
    f.insert("phone".into(), json!(h.phone.0.to_string()));
    f.insert("serial".into(), json!(h.serial));
    f.insert("protocol_version".into(), json!(h.protocol_version.unwrap_or(0)));
    f.insert("version_flag".into(), json!(h.attributes.version_flag()));
    f.insert("body_len".into(), json!(h.attributes.body_len()));
    f.insert("attributes".into(), json!(h.attributes.0));
    f.insert("subpackage".into(), json!(h.subpackage.is_some()));
    f.insert("encryption".into(), json!(h.attributes.encryption()));
    f.insert("msg_id".into(), json!(h.msg_id));
    if let Some(s) = h.subpackage {
        f.insert("pkg_total".into(), json!(s.total));
        f.insert("pkg_index".into(), json!(s.index));
    }
}

/// A location batch's facts: its reports, and the first one's time.
fn batch_facts(b: &LocationBatch<'_>, f: &mut BTreeMap<String, Value>) {
    f.insert("count".into(), json!(b.count));
    f.insert("location_type".into(), json!(b.location_type));
    let mut items = Vec::new();
    let mut errors = 0;
    let mut lens = Vec::new();
    for item in b.iter() {
        match item {
            Ok(r) => {
                lens.push(json!(
                    r.basic.to_bytes().len()
                        + match r.items {
                            Items::Wire(w) => w.len(),
                            Items::List(_) => 0,
                        }
                ));
                items.push(Value::Object(report_facts(&r).into_iter().collect()));
            }
            Err(_) => errors += 1,
        }
    }
    f.insert("item_len".into(), Value::Array(lens));
    f.insert(
        "items_lat_raw".into(),
        items.iter().map(|i| i["lat_raw"].clone()).collect(),
    );
    f.insert(
        "items_lon_raw".into(),
        items.iter().map(|i| i["lon_raw"].clone()).collect(),
    );
    if let Some(first) = items.first() {
        f.insert("time_local".into(), first["time_local"].clone());
    }
    f.insert("items".into(), Value::Array(items));
    f.insert("bad_items".into(), json!(errors));
}

/// A terminal control command's facts, its parameters by SmallChi's names.
fn control_facts(c: &TerminalControl<'_>, f: &mut BTreeMap<String, Value>) {
    f.insert("command".into(), json!(c.command));
    f.insert("parameters".into(), json!(gbk(c.parameters)));
    // SmallChi's field order for a control command with parameters.
    let names = [
        "connection_control",
        "apn",
        "dial_user",
        "dial_pwd",
        "server",
        "tcp_port",
        "udp_port",
        "maker_id",
        "auth_code",
        "hw_version",
        "fw_version",
        "url",
        "time_limit_min",
    ];
    let fields: Vec<&[u8]> = c.fields().collect();
    if fields.len() >= names.len() {
        for (name, v) in names.iter().zip(&fields) {
            let value = match *name {
                "connection_control" => json!(v[0]),
                "tcp_port" | "udp_port" | "time_limit_min" => json!(u16::from_be_bytes([v[0], v[1]])),
                _ => json!(gbk(v)),
            };
            f.insert((*name).into(), value);
        }
    }
}

/// A driver identity report's facts.
fn driver_facts(d: &DriverIdentity<'_>, f: &mut BTreeMap<String, Value>) {
    if let Some(s) = d.status {
        f.insert("status".into(), json!(s));
    }
    if let Some(t) = &d.time_bcd {
        f.insert("time_local".into(), bcd_local(t));
        f.insert("time_bcd".into(), json!(hex::encode(t)));
    }
    if let Some(r) = d.read_result {
        f.insert("read_result".into(), json!(r));
    }
    f.insert("driver_name".into(), text(d.name));
    f.insert("qualification".into(), text(d.qualification));
    f.insert("agency".into(), text(d.agency));
    if let Some(v) = d.validity_bcd {
        f.insert("validity".into(), json!(hex::encode(v)));
    }
    f.insert("id_card".into(), d.id_card.map_or(json!(""), text));
    if d.trailer.len() == 21 {
        f.insert("face_match".into(), json!(d.trailer[0]));
        f.insert("uid".into(), text(Text(&d.trailer[1..])));
    }
}

/// The fact names an `expect` key may refer to, first present wins.
fn aliases(key: &str) -> &'static [&'static str] {
    match key {
        "msg_sn" | "serialNo" => &["serial"],
        "phone" | "clientId" => &["phone"],
        "protocol_version" | "protocolVersion" => &["protocol_version"],
        "version_flag" => &["version_flag"],
        "body_len" => &["body_len"],
        "properties" => &["attributes"],
        "subpackage" => &["subpackage"],
        "pkg_total" => &["pkg_total"],
        "pkg_index" => &["pkg_index"],
        "msg_id" | "messageId" => &["msg_id"],
        "alarm" | "warnBit" => &["alarm"],
        "status" | "statusBit" => &["status"],
        "lat_raw" | "latitude" => &["lat_raw"],
        "lon_raw" | "longitude" => &["lon_raw"],
        "lat" => &["lat_e6"],
        "lon" => &["lon_e6"],
        "altitude_m" | "altitude" | "altitude_m_unsigned" => &["altitude_raw"],
        "speed_raw_0.1kmh" | "speed_raw" | "speed" => &["speed_dkmh"],
        "course" | "direction" => &["course_deg"],
        "gps_time_local_gmt8" | "time" | "deviceTime" => &["time_local"],
        "attach_0x01_mileage_raw_0.1km" | "attach_0x01_mileage_raw" => &["mileage_dkm"],
        "attach_0x02_oil_raw_0.1L" | "attach_0x02_oil_raw" => &["fuel_dl"],
        "attach_0x03_speed_raw" => &["recorder_speed_dkmh"],
        "attach_0x04_event_id" => &["alarm_event_id"],
        "attach_0x11" => &["overspeed_alarm"],
        "attach_0x12" => &["area_alarm"],
        "attach_0x13" => &["route_drive_time"],
        "attach_0x25" => &["extended_signals"],
        "attach_0x2A" => &["io_status"],
        "attach_0x2B_wire" => &["analog_wire"],
        "attach_0x30" => &["rssi"],
        "attach_0x31" => &["satellites"],
        "attach_0x07_len" => &["item_0x07_len"],
        "beidou" => &["beidou"],
        "gps" => &["gps"],
        "glonass" => &["glonass"],
        "galileo" => &["galileo"],
        "ExceptionLocationAttachOriginalData_count" => &["unkeepable_items"],
        "BasicLocationAttachData_count" => &["typed_items"],
        "UnknownLocationAttachData_count" => &["raw_items"],
        "reply_msg_sn" | "ack_msg_sn" | "ack_sn" | "reply_sn" => &["reply_serial"],
        "responseSerialNo" => &["reply_serial", "first_serial"],
        "original_sn" => &["first_serial"],
        "reply_msg_id" | "ack_msg_id" | "ack_id" | "reply_id" | "responseMessageId" => &["reply_msg_id"],
        "result" | "resultCode" => &["result"],
        "auth_code" | "token" | "code" => &["auth_code"],
        "auth_code_len" | "code_len" => &["auth_code_len"],
        "imei" => &["imei"],
        "software_version" | "softwareVersion" => &["software_version"],
        "province_id" | "provinceId" => &["province_id"],
        "city_id" | "cityId" => &["city_id"],
        "maker_id" | "makerId" => &["maker_id"],
        "model" | "deviceModel" => &["model"],
        "terminal_id" | "deviceId" => &["terminal_id"],
        "plate_color" | "plateColor" => &["plate_color"],
        "plate" | "plateNo" => &["plate"],
        "version" => &["edition"],
        "count" | "total" => &["count"],
        "location_type" => &["location_type"],
        "type" => &["location_type", "media_type", "text_type"],
        "items" => &["items"],
        "item_len" => &["item_len"],
        "items_lat_raw" => &["items_lat_raw"],
        "items_lon_raw" => &["items_lon_raw"],
        "ErrorRemainPositions_count" => &["bad_items"],
        "param_count" => &["param_count"],
        "retransmit_count" => &["packet_count"],
        "ids" => &["packet_indexes"],
        "id" => &["media_id", "packet_indexes"],
        "multimedia_id" => &["media_id"],
        "format" => &["format"],
        "event" => &["event"],
        "channel" | "channelId" => &["channel"],
        "data" | "packet" => &["data"],
        "location" => &["location"],
        "interval_s" | "interval" => &["interval_secs"],
        "validity_s" | "validityPeriod" => &["validity_secs"],
        "passthrough_type" => &["passthrough_type"],
        "content" => &["content", "text"],
        "command_word" | "command" => &["command"],
        "parameter" => &["parameters"],
        "sign" => &["flags"],
        "name" => &["driver_name"],
        "qualification" | "licenseNo" => &["qualification"],
        "agency" | "institution" => &["agency"],
        "valid_until" | "licenseValidPeriod" => &["validity"],
        "driver_id_card" | "id_card" | "idCard" => &["id_card"],
        "read_result" | "cardStatus" => &["read_result"],
        "dateTime" => &["time_bcd"],
        "face_match" => &["face_match"],
        "uid" => &["uid"],
        "deviceType" => &["terminal_type"],
        "iccid" => &["iccid"],
        "hardwareVersion" => &["hardware_version"],
        "firmwareVersion" => &["firmware_version"],
        "gnssAttribute" => &["gnss"],
        "networkAttribute" => &["network"],
        "url" | "udp_port" | "tcp_port" | "server" | "hw_version" | "fw_version" | "dial_user"
        | "dial_pwd" | "apn" | "connection_control" | "time_limit_min" => &[
            "url",
            "udp_port",
            "tcp_port",
            "server",
            "hw_version",
            "fw_version",
            "dial_user",
            "dial_pwd",
            "apn",
            "connection_control",
            "time_limit_min",
        ],
        _ => &[],
    }
}

/// Whether an expected value matches a decoded one, normalising the sources' spellings
/// ("0x0200" vs 512, "2020-07-07T19:23:59" vs "2020-07-07 19:23:59", byte arrays vs hex).
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::Number(a)) => {
            let n = e
                .strip_prefix("0x")
                .map(|h| i64::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| e.parse::<i64>().ok());
            n.is_some() && n == a.as_i64()
        }
        (Value::Number(e), Value::String(a)) => a.parse::<i64>().ok() == e.as_i64(),
        (Value::String(e), Value::String(a)) => {
            let norm = |s: &str| s.replace('T', " ").replace('-', "").to_lowercase();
            // Numbers with leading zeros (phones) compare by value.
            if let (Ok(x), Ok(y)) = (e.parse::<u128>(), a.parse::<u128>()) {
                return x == y;
            }
            let e = e.split(" (").next().unwrap_or(e);
            e == a || norm(e) == norm(a)
        }
        (Value::Array(e), Value::String(a)) => {
            let bytes: Option<Vec<u8>> = e
                .iter()
                .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            bytes.is_some_and(|b| hex::encode(b) == *a)
        }
        (Value::Array(e), Value::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(x, y)| same(x, y)),
        (Value::Array(e), Value::Object(a)) if a.contains_key("value") => {
            same(&Value::Array(e.clone()), &a["value"])
        }
        // yezhihao's nested objects (batch items, media location) carry an empty header of their own.
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "messageId" | "properties" | "protocolVersion" | "serialNo" | "verified"
                )
            })
            .all(|(k, v)| match_key(k, v, a)),
        (e, a) => e == a,
    }
}

/// Checks one expected key against a decoded object (nested objects: items, location, attributes).
fn match_key(key: &str, expected: &Value, actual: &serde_json::Map<String, Value>) -> bool {
    if let Some(v) = actual.get(key) {
        return same(expected, v);
    }
    // Item detail objects use the sources' names.
    let mapped = match key {
        "areaType" => "location_type",
        "areaId" => {
            return ["area_id", "route_id"]
                .iter()
                .any(|k| actual.get(*k).is_some_and(|v| same(expected, v)));
        }
        "driveTime" | "drive_time_s" => "drive_time_secs",
        _ => "",
    };
    if let Some(v) = actual.get(mapped) {
        return same(expected, v);
    }
    aliases(key)
        .iter()
        .any(|k| actual.get(*k).is_some_and(|v| same(expected, v)))
}

/// Keys that state how the source was configured or describe, rather than assert, a value; each is
/// covered by a generic check named here.
fn informational(key: &str) -> bool {
    matches!(
        key,
        // Lenient acceptance is checked from the tags for every record.
        "decoder_config"
            // "decoded without exception" is the generic decode check.
            | "analyzed_without_exception" | "deserialized_without_exception" | "decode" | "assertions"
            // The source's verification flag of its own round trip: the re-encode check covers it.
            | "verified"
            // Covered by the dedicated reassembly and stream tests below.
            | "merge_group" | "after_both_parts_in_any_order" | "merge_timeout_s" | "completes_merge"
            | "merge_with" | "concat_body_then_parse" | "stream" | "frames" | "single_complete_frame"
            | "partial_prefix_pending" | "_truncated"
    )
}

fn check_expect(
    i: usize,
    expect: &serde_json::Map<String, Value>,
    f: &BTreeMap<String, Value>,
    failures: &mut Vec<String>,
) {
    let actual: serde_json::Map<String, Value> = f.clone().into_iter().collect();
    for (key, expected) in expect {
        if informational(key) {
            continue;
        }
        let ok = match key.as_str() {
            "yezhihao_decoded_json" => {
                let Value::Object(inner) = expected else {
                    unreachable!()
                };
                check_expect(i, inner, f, failures);
                true
            }
            "body" => expected.is_null() && f["body_empty"] == json!(true),
            "encryption" => {
                let want = if expected == "none" { 0 } else { 1 };
                f["encryption"] == json!(want)
            }
            "parsed_with" | "deserialized_with" => {
                let want = if expected.as_str().is_some_and(|s| s.contains("2019")) {
                    "2019"
                } else {
                    "2013"
                };
                f["edition"] == json!(want)
            }
            "then" => true, // re-serialisation of the corrected header: see `version_flag_is_cleared_on_reencode`
            "body_type" => f["message_name"] == json!("parameters"),
            "bodies_before_merge" => f["message_name"] == json!("raw"),
            "reply" => true, // see `heartbeat_reply_matches_source`
            "params" | "params_sample" => {
                let Value::Object(want) = expected else {
                    unreachable!()
                };
                let have = f["params"].as_object().cloned().unwrap_or_default();
                want.iter().all(|(k, v)| have.get(k).is_some_and(|h| same(v, h)))
            }
            "absent_in_2019" => {
                let have = f["params"].as_object().cloned().unwrap_or_default();
                expected
                    .as_array()
                    .is_some_and(|a| a.iter().all(|k| !have.contains_key(k.as_str().unwrap_or(""))))
            }
            "attributes" => {
                let Value::Object(want) = expected else {
                    unreachable!()
                };
                let items = f["items"].as_object().cloned().unwrap_or_default();
                want.iter().all(|(id, v)| {
                    let Some(have) = items.get(id) else { return false };
                    match (id.parse::<u8>(), v) {
                        // 0x64-0x67 are active-safety (not JT/T 808) items: kept raw; their first field,
                        // the alarm id DWORD, is checked against the raw bytes.
                        (Ok(0x64..=0x67), Value::Object(o)) => have.as_str().is_some_and(|h| {
                            h.get(..8) == Some(&format!("{:08x}", o["id"].as_u64().unwrap_or(0))[..])
                        }),
                        _ => same(v, have),
                    }
                })
            }
            k if k.ends_with("_after_TrimStart('0')") => {
                let field = k.trim_end_matches("_after_TrimStart('0')");
                f.get(field)
                    .and_then(Value::as_str)
                    .map(|s| s.trim_start_matches('0'))
                    == expected.as_str()
            }
            "message" => {
                // 0x0900 with a user-defined type: the type is asserted; its content layout is vendor-defined.
                same(&expected["key"], &f["passthrough_type"])
            }
            "error" => true, // checked with the negative tag
            key => {
                if aliases(key).is_empty() && !f.contains_key(key) {
                    failures.push(format!("record {i}: unknown expect key {key:?}"));
                    continue;
                }
                match_key(key, expected, &actual)
            }
        };
        if !ok {
            let have: Vec<_> = aliases(key)
                .iter()
                .filter_map(|k| f.get(*k).map(|v| format!("{k}={v}")))
                .collect();
            failures.push(format!("record {i}: {key} expected {expected} have {have:?}"));
        }
    }
}

fn error_name(e: &Error) -> &'static str {
    match e {
        Error::BadChecksum { .. } => "ErrCheckCode",
        Error::BodyLengthMismatch { .. } => "ErrBodyLengthInconsistency",
        Error::HeaderTooShort { .. } => "ErrHeaderLength2Short",
        _ => "other",
    }
}

fn decode(raw: &[u8], options: DecodeOptions) -> Result<(Header, Vec<u8>, Leniencies), Error> {
    let mut scratch = vec![0u8; raw.len()];
    let f = decode_frame(raw, &mut scratch, options)?;
    Ok((f.header, f.body.to_vec(), f.leniencies))
}

/// A record of a body alone: it decodes as its message, matches its source's facts and re-encodes byte
/// for byte.
fn check_body_record(
    i: usize,
    r: &Value,
    body_hex: &str,
    expect: &serde_json::Map<String, Value>,
    failures: &mut Vec<String>,
) {
    let body = hex::decode(body_hex).expect("hex");
    let msg_id =
        u16::from_str_radix(r["msg_id"].as_str().unwrap_or("").trim_start_matches("0x"), 16).expect("id");
    let edition = Edition::parse(r["edition"].as_str().unwrap_or("")).expect("edition");
    let msg = match Message::decode_as(msg_id, edition, &body) {
        Ok(m) => m,
        Err(e) => {
            failures.push(format!("record {i}: body does not decode: {e}"));
            return;
        }
    };
    check_expect(i, expect, &facts(None, edition, &msg, &body), failures);
    // Bodies re-encode byte for byte.
    let mut out = BytesMut::new();
    msg.encode_body(edition, &mut out).expect("encode");
    if out[..] != body[..] && !BODY_REENCODE_DIFFERS.contains(&i) {
        failures.push(format!("record {i}: body re-encodes as {}", hex::encode(&out)));
    }
}

/// The record's independent reading of the header, checksum and basic location agrees with the facts
/// decoded.
fn check_computed(
    i: usize,
    c: &Value,
    f: &BTreeMap<String, Value>,
    leniencies: Leniencies,
    failures: &mut Vec<String>,
) {
    let computed_facts = [
        ("msg_id", "msg_id"),
        ("msg_sn", "serial"),
        ("phone_bcd", "phone"),
        ("protocol_version", "protocol_version"),
        ("pkg_total", "pkg_total"),
        ("pkg_index", "pkg_index"),
        ("attr", "attributes"),
    ];
    for (ck, fk) in computed_facts {
        if let Some(v) = c.get(ck)
            && !same(v, &f[fk])
        {
            failures.push(format!(
                "record {i}: computed {ck}={v} but decoded {fk}={}",
                f[fk]
            ));
        }
    }
    if c["checksum_ok"] == json!(false) && !leniencies.contains(Leniencies::BAD_CHECKSUM) {
        failures.push(format!("record {i}: bad checksum not flagged"));
    }
    if let Some(b) = c.get("basic_location_std") {
        for (k, fk) in [
            ("alarm", "alarm"),
            ("status", "status"),
            ("lat_raw", "lat_raw"),
            ("lon_raw", "lon_raw"),
            ("course", "course_deg"),
        ] {
            if !same(&b[k], &f[fk]) {
                failures.push(format!("record {i}: basic {k}={} decoded {}", b[k], f[fk]));
            }
        }
    }
}

#[test]
fn every_record_decodes_and_matches_its_source() {
    let mut failures = Vec::new();
    let mut frames = 0;
    let mut bodies = 0;
    for (i, r) in records().iter().enumerate() {
        let expect = r["expect"].as_object().expect("expect object");
        let tags = tags(r);
        if let Some(body_hex) = r["body_hex"].as_str() {
            bodies += 1;
            check_body_record(i, r, body_hex, expect, &mut failures);
            continue;
        }
        frames += 1;
        let raw = hex::decode(r["hex"].as_str().expect("hex")).expect("hex");
        let strict = decode(&raw, DecodeOptions::STRICT);
        let lenient = decode(&raw, DecodeOptions::LENIENT);
        if tags.contains(&"negative") {
            let want = expect["error"].as_str().unwrap_or("");
            match &strict {
                Err(e) if error_name(e) == want => {}
                other => failures.push(format!("record {i}: expected {want}, got {other:?}")),
            }
            // Lenient mode accepts a bad checksum or length, flagged; a short header stays an error.
            let flagged = match want {
                "ErrCheckCode" => Leniencies::BAD_CHECKSUM,
                "ErrBodyLengthInconsistency" => Leniencies::BODY_LENGTH_MISMATCH,
                _ => Leniencies(u16::MAX),
            };
            match &lenient {
                Err(e) if error_name(e) == want => {}
                Ok((_, _, l)) if l.contains(flagged) => {}
                other => failures.push(format!(
                    "record {i}: lenient: expected {want} or a flag, got {other:?}"
                )),
            }
            continue;
        }
        if tags.contains(&"accepted-despite-bad-checksum-or-length") {
            if strict.is_ok() {
                failures.push(format!(
                    "record {i}: accepted in strict mode despite bad checksum or length"
                ));
            }
        } else if let Err(e) = &strict {
            failures.push(format!("record {i}: strict decode failed: {e}"));
            continue;
        }
        let (header, body, leniencies) = match lenient {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("record {i}: lenient decode failed: {e}"));
                continue;
            }
        };
        if tags.contains(&"accepted-despite-bad-checksum-or-length")
            && !leniencies.contains(Leniencies::BAD_CHECKSUM)
            && !leniencies.contains(Leniencies::BODY_LENGTH_MISMATCH)
        {
            failures.push(format!("record {i}: lenient acceptance is not flagged"));
        }
        if tags.contains(&"wrong-version-flag")
            && !leniencies.contains(Leniencies::VERSION_FLAG_ON_2013_LAYOUT)
        {
            failures.push(format!("record {i}: wrong version flag not flagged"));
        }
        if tags.contains(&"missing-version-flag") && !leniencies.contains(Leniencies::MISSING_VERSION_FLAG) {
            failures.push(format!("record {i}: missing version flag not flagged"));
        }
        if tags.contains(&"unescaped-7d") && !leniencies.contains(Leniencies::LONE_ESCAPE) {
            failures.push(format!("record {i}: lone 7d not flagged"));
        }
        let msg = match Message::decode(&header, &body) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("record {i}: body does not decode: {e}"));
                continue;
            }
        };
        // The independent reading of header and checksum agrees.
        let f = facts(Some(&header), header.edition(), &msg, &body);
        check_computed(i, &r["computed"], &f, leniencies, &mut failures);
        check_expect(i, expect, &f, &mut failures);
        // A clean frame re-encodes to the bytes received.
        if leniencies.is_empty() && !matches!(msg, Message::Raw { .. }) && !REENCODE_DIFFERS.contains(&i) {
            let mut out = BytesMut::new();
            match encode_message_as(
                &header,
                body_edition(header.msg_id, header.edition(), &body),
                &msg,
                &mut out,
            ) {
                Ok(()) if out[..] == raw[..] => {}
                Ok(()) => failures.push(format!("record {i}: re-encodes as {}", hex::encode(&out))),
                Err(e) => failures.push(format!("record {i}: re-encode failed: {e}")),
            }
        }
    }
    assert_eq!((frames, bodies), (128, 10), "every record was visited");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Frames whose bytes are not the canonical encoding of what they carry, with the reason.
const REENCODE_DIFFERS: &[usize] = &[
    99, // 0x0107 2019 with the 2013 maker-id width (5); the encoder writes the standard 11.
];

/// Bodies likewise.
const BODY_REENCODE_DIFFERS: &[usize] = &[
    131, // 0x0702 2019 with zero padding in front of the ID card; the encoder pads behind.
    132, // 0x0702 2011, same.
];

fn frame_of(i: usize) -> (Vec<u8>, Frame) {
    let raw = hex::decode(records()[i]["hex"].as_str().expect("hex")).expect("hex");
    let mut d = FrameDecoder::default();
    let mut buf = BytesMut::from(&raw[..]);
    let frame = d.decode(&mut buf).expect("decodes").expect("whole frame");
    (raw, frame)
}

#[test]
fn subpackaged_parameter_answer_reassembles_in_any_order() {
    // Records 44 and 45: SmallChi's real 0x0104 pair, serials 0x04D1 and 0x04E2.
    let (_, p1) = frame_of(44);
    let (_, p2) = frame_of(45);
    assert_eq!(
        p1.message().expect("part"),
        Message::Raw {
            msg_id: 0x0104,
            body: &p1.body[..]
        }
    );
    for order in [[&p1, &p2], [&p2, &p1]] {
        let mut r = Reassembler::default();
        let t = Timestamp::from_secs(1_700_000_000);
        assert_eq!(r.push(order[0], t), Ok(None));
        let whole = r.push(order[1], t).expect("accepted").expect("complete");
        assert_eq!(whole.header.serial, 0x04d1);
        let Message::Parameters { list, .. } = Message::decode(&whole.header, &whole.body).expect("decodes")
        else {
            panic!("a parameter answer");
        };
        let params: Vec<_> = list
            .iter()
            .collect::<Result<_, _>>()
            .expect("every parameter decodes");
        assert!(!params.is_empty());
        assert_eq!(params.len(), usize::from(list.count));
    }
    // SmallChi's merge timeout (5 s): a lone part is dropped after it, naming what was missing.
    let mut r = Reassembler::new(ReassemblyLimits {
        max_age_ms: 5_000,
        ..ReassemblyLimits::default()
    });
    r.push(&p2, Timestamp::from_secs(100)).expect("accepted");
    assert!(r.expire(Timestamp::from_secs(105)).is_empty());
    let gone = r.expire(Timestamp::from_secs(106));
    assert_eq!(gone[0].missing, vec![1]);
    assert!(!gone[0].first_serial_known);
}

#[test]
fn lone_second_part_names_the_missing_first() {
    // Record 46: JT/T 1078 0x1205 part 2 of 2 (serial 0x00EC); part 1 (0x00EB) is not in the fixtures.
    let (_, p) = frame_of(46);
    let mut r = Reassembler::default();
    assert_eq!(r.push(&p, Timestamp::from_secs(0)), Ok(None));
    let m = r.missing(p.header.phone, 0x1205).expect("in flight");
    assert_eq!(m.missing, vec![1]);
    assert_eq!(m.first_serial, 0x00eb, "estimated from part 2's serial");
}

#[test]
fn two_frames_in_one_read_and_a_partial_prefix() {
    // Records 75 and 76 (go-jt808's stream test): back to back, then the second kept pending.
    let (a, _) = frame_of(75);
    let (b, _) = frame_of(76);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&a);
    buf.extend_from_slice(&b[..17]);
    let mut d = FrameDecoder::default();
    assert_eq!(
        d.decode(&mut buf).expect("ok").expect("first").header.msg_id,
        0x0002
    );
    assert_eq!(d.decode(&mut buf).expect("ok"), None);
    assert_eq!(buf.len(), 17, "the partial prefix is kept pending");
    buf.extend_from_slice(&b[17..]);
    assert_eq!(
        d.decode(&mut buf).expect("ok").expect("second").header.msg_id,
        0x0100
    );
    assert!(buf.is_empty());
}

#[test]
fn heartbeat_reply_matches_source() {
    // Record 77: go-jt808's 2019 heartbeat and the 0x8001 its server sends back.
    let (_, hb) = frame_of(77);
    let ack = Message::PlatformAck(GeneralAck {
        reply_serial: hb.header.serial,
        reply_msg_id: hb.header.msg_id,
        result: GeneralAck::RESULT_OK,
    });
    let mut out = BytesMut::new();
    encode_message(&hb.header.reply(id::PLATFORM_ACK, 1), &ack, &mut out).expect("encodes");
    assert_eq!(
        hex::encode(&out),
        records()[77]["expect"]["reply"].as_str().expect("reply")
    );
}

#[test]
fn version_flag_is_cleared_on_reencode() {
    // Record 17: bit 14 set on a 2013 layout. Re-encoding writes a correct 2013 header.
    let (raw, f) = frame_of(17);
    assert!(f.leniencies.contains(Leniencies::VERSION_FLAG_ON_2013_LAYOUT));
    let mut out = BytesMut::new();
    encode_message(&f.header, &f.message().expect("decodes"), &mut out).expect("encodes");
    assert_ne!(out[..], raw[..]);
    let mut scratch = vec![0u8; out.len()];
    let again = decode_frame(&out, &mut scratch, DecodeOptions::STRICT).expect("strict decode");
    assert!(again.leniencies.is_empty());
    assert!(!again.header.attributes.version_flag());
    assert_eq!(again.body, &f.body[..]);
    let _ = (Bytes::new(), Phone(0));
}

#[test]
fn altitude_is_an_unsigned_word_and_an_implausible_one_is_flagged() {
    // Record 64: go-jt808's synthetic 0x0201 with altitude 0xBC73, which it reads unsigned (48,243 m).
    let (_, f) = frame_of(64);
    let Message::LocationReply(reply) = f.message().expect("decodes") else {
        panic!("a 0x0201");
    };
    assert_eq!(reply.report.basic.altitude_m(), 48_243);
    assert!(
        reply
            .report
            .leniencies()
            .contains(Leniencies::IMPLAUSIBLE_ALTITUDE)
    );
    // 0xFFF2 is 65,522 m (not -14 m) and flagged; 312 m is not.
    let mut basic = reply.report.basic;
    basic.altitude_raw = 0xfff2;
    assert_eq!(basic.altitude_m(), 65_522);
    assert!(basic.leniencies().contains(Leniencies::IMPLAUSIBLE_ALTITUDE));
    basic.altitude_raw = 312;
    assert!(!basic.leniencies().contains(Leniencies::IMPLAUSIBLE_ALTITUDE));
}

//! `tianshu decode`: JT/T 808 (or, with `--protocol jt809`, JT/T 809) frames in hex to JSON, one object
//! per frame, for captures from the field.
//!
//! Frames come as arguments or, with none, one line each on stdin (a line may hold several frames, as
//! a TCP capture does; spaces and a `0x` prefix are ignored). Every decoded field carries its unit in
//! its name (`speed_kmh`, `altitude_m`, `fix_time_utc`); text fields are decoded from GBK. A frame that
//! does not decode prints `{"input": N, "error": {"kind", "reason", "offset", "offset_in"}}` instead,
//! and the exit code is 0 only when every frame decoded.

mod jt809;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use serde_json::{Map, Value, json};
use tianshu_jt808::{
    AdditionalItem, BasicLocation, DecodeOptions, Error, FrameRef, Header, LocationReport, Message,
    ParameterList, Text, body_edition, decode_next,
};
use tianshu_model::AlarmFlags;

/// Arguments of `tianshu decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Frames in hex (`7e...7e`); without any, frames are read from stdin, one line each.
    pub frames: Vec<String>,
    /// Accept frames with a bad checksum or a body length that disagrees with the header (each is
    /// flagged in `leniencies`), as a lenient gateway would; by default they are errors.
    #[arg(long)]
    pub lenient: bool,
    /// The protocol of the frames: `jt808` (terminal to platform) or `jt809` (platform to platform).
    #[arg(long, value_enum, default_value_t = Protocol::Jt808)]
    pub protocol: Protocol,
    /// JT/T 809 only: the body cipher's parameters `M1,IA1,IC1` agreed between the platforms; without
    /// it an encrypted frame is reported as `no_key`.
    #[arg(long)]
    pub key: Option<String>,
    /// JT/T 809 only: the edition, `2011` or `2019`; without it each frame's is guessed from its header.
    #[arg(long)]
    pub edition: Option<String>,
}

/// The protocols `tianshu decode` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// JT/T 808, terminal to platform.
    Jt808,
    /// JT/T 809, platform to platform.
    Jt809,
}

/// Decodes one input (argument or stdin line) of the chosen protocol; whether all of it decoded.
type DecodeInput = Box<dyn FnMut(usize, &str, &mut dyn Write) -> anyhow::Result<bool>>;

/// Runs `tianshu decode`.
pub fn run(args: DecodeArgs) -> anyhow::Result<ExitCode> {
    let options = if args.lenient {
        DecodeOptions::LENIENT
    } else {
        DecodeOptions::STRICT
    };
    let mut decode: DecodeInput = match args.protocol {
        Protocol::Jt808 => Box::new(move |i, text, out| decode_input(i, text, options, out)),
        Protocol::Jt809 => {
            let options = jt809::Options::from_args(args.key.as_deref(), args.edition.as_deref())?;
            Box::new(move |i, text, out| jt809::decode_input(i, text, &options, out))
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut all_ok = true;
    if args.frames.is_empty() {
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            all_ok &= decode(i + 1, &line, &mut out)?;
        }
    } else {
        for (i, arg) in args.frames.iter().enumerate() {
            all_ok &= decode(i + 1, arg, &mut out)?;
        }
    }
    out.flush()?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Decodes every frame of one input (argument or line `input`), printing one JSON line per frame.
/// Returns whether everything in it decoded.
fn decode_input(
    input: usize,
    text: &str,
    options: DecodeOptions,
    out: &mut (impl Write + ?Sized),
) -> anyhow::Result<bool> {
    let Some(bytes) = parse_hex(input, text, out)? else {
        return Ok(false);
    };
    let mut scratch = vec![0u8; bytes.len()];
    let mut rest = &bytes[..];
    let mut at = 0usize;
    let mut frames = 0;
    let mut ok = true;
    while let Some((result, used)) = decode_next(rest, &mut scratch, options) {
        let raw = &rest[..used];
        let start = raw.iter().position(|&b| b == 0x7e).unwrap_or(0);
        let frame_hex = hex::encode(&raw[start..]);
        let line = match result {
            Ok(frame) => match render_frame(&frame) {
                Ok(mut v) => {
                    v.insert("input".into(), json!(input));
                    v.insert("frame_hex".into(), json!(frame_hex));
                    Value::Object(v)
                }
                Err(e) => {
                    ok = false;
                    json!({"input": input, "frame_hex": frame_hex, "header": header_json(&frame.header),
                           "error": error_json(&e, "body")})
                }
            },
            Err(e) => {
                ok = false;
                json!({"input": input, "frame_hex": frame_hex, "error": error_json(&e, "frame")})
            }
        };
        writeln!(out, "{line}")?;
        frames += 1;
        at += used;
        rest = &rest[used..];
    }
    if frames == 0 || rest.contains(&0x7e) {
        let error = json!({"kind": "incomplete_frame", "reason": "no closing 0x7e after the opening one",
                           "offset": at + rest.iter().position(|&b| b == 0x7e).unwrap_or(0), "offset_in": "input"});
        writeln!(out, "{}", json!({"input": input, "error": error}))?;
        ok = false;
    }
    Ok(ok)
}

/// The bytes of one input in hex (spaces and `0x` prefixes ignored); `None`, with the error printed as
/// that input's line, when it is not hex.
fn parse_hex(input: usize, text: &str, out: &mut (impl Write + ?Sized)) -> anyhow::Result<Option<Vec<u8>>> {
    let cleaned: String = text
        .split_whitespace()
        .map(|w| w.trim_start_matches("0x").trim_start_matches("0X"))
        .collect();
    match hex::decode(&cleaned) {
        Ok(b) => Ok(Some(b)),
        Err(e) => {
            let offset = match e {
                hex::FromHexError::InvalidHexCharacter { index, .. } => json!(index / 2),
                _ => Value::Null,
            };
            let error = json!({"kind": "invalid_hex", "reason": e.to_string(), "offset": offset, "offset_in": "input"});
            writeln!(out, "{}", json!({"input": input, "error": error}))?;
            Ok(None)
        }
    }
}

fn error_json(e: &Error, offset_in: &str) -> Value {
    // Frame-level offsets count unescaped bytes after the opening 0x7e; body-level ones, body bytes.
    json!({"kind": e.kind(), "reason": e.to_string(), "offset": e.offset(), "offset_in": offset_in})
}

fn gbk(bytes: &[u8]) -> String {
    let trimmed = {
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let end = bytes.iter().rposition(|&b| b != 0).map_or(start, |e| e + 1);
        &bytes[start..end]
    };
    encoding_rs::GBK.decode(trimmed).0.into_owned()
}

fn text(t: Text<'_>) -> Value {
    Value::String(gbk(t.as_bytes()))
}

fn header_json(h: &Header) -> Value {
    json!({
        "msg_id": format!("0x{:04x}", h.msg_id),
        "edition_layout": h.edition().as_str(),
        "protocol_version": h.protocol_version,
        "version_flag": h.attributes.version_flag(),
        "phone": h.phone.to_string(),
        "serial": h.serial,
        "body_len_bytes": h.attributes.body_len(),
        "encryption": h.attributes.encryption(),
        "subpackage": h.subpackage.map(|s| json!({"total": s.total, "index": s.index})),
    })
}

fn render_frame(frame: &FrameRef<'_>) -> Result<Map<String, Value>, Error> {
    let msg = frame.message()?;
    let mut leniencies: Vec<&str> = frame.leniencies.names().collect();
    leniencies.extend(msg.leniencies().names());
    let mut v = Map::new();
    v.insert("header".into(), header_json(&frame.header));
    v.insert("message".into(), json!(msg.name()));
    v.insert(
        "body_edition".into(),
        json!(body_edition(frame.header.msg_id, frame.header.edition(), frame.body).as_str()),
    );
    v.insert("body".into(), body_json(&msg));
    v.insert("leniencies".into(), json!(leniencies));
    Ok(v)
}

fn bcd_local(t: &[u8]) -> String {
    let h: Vec<String> = t.iter().map(|b| format!("{b:02x}")).collect();
    match h.as_slice() {
        [y, mo, d, hh, mi, s] => format!("20{y}-{mo}-{d} {hh}:{mi}:{s}"),
        _ => h.concat(),
    }
}

fn alarm_names(a: AlarmFlags) -> Vec<&'static str> {
    a.iter().map(|b| b.name()).collect()
}

fn basic_json(b: &BasicLocation) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("alarm".into(), json!(b.alarm.0));
    m.insert("alarms".into(), json!(alarm_names(b.alarm)));
    m.insert("status".into(), json!(b.status.0));
    m.insert("acc_on".into(), json!(b.status.acc_on()));
    m.insert("fixed".into(), json!(b.status.fixed()));
    match b.coordinates_e6() {
        Ok((lat, lon, _)) => {
            m.insert("lat_deg".into(), json!(f64::from(lat) / 1e6));
            m.insert("lon_deg".into(), json!(f64::from(lon) / 1e6));
        }
        Err(e) => {
            m.insert("coordinates_error".into(), json!(e.to_string()));
        }
    }
    m.insert("lat_raw_e6".into(), json!(b.lat_raw));
    m.insert("lon_raw_e6".into(), json!(b.lon_raw));
    m.insert("altitude_m".into(), json!(b.altitude_m()));
    m.insert("speed_kmh".into(), json!(f64::from(b.speed_dkmh) / 10.0));
    m.insert("course_deg".into(), json!(b.course_deg));
    m.insert("fix_time_local_gmt8".into(), json!(bcd_local(&b.time_bcd)));
    match b.fix_time() {
        Ok(t) => m.insert("fix_time_utc".into(), json!(t.to_rfc3339())),
        Err(e) => m.insert("fix_time_error".into(), json!(e.to_string())),
    };
    m
}

fn item_json(item: &AdditionalItem<'_>) -> Value {
    let id = format!("0x{:02x}", item.id());
    let fields = match *item {
        AdditionalItem::Mileage { mileage_dkm } => json!({"mileage_km": f64::from(mileage_dkm) / 10.0}),
        AdditionalItem::Fuel { fuel_dl } => json!({"fuel_l": f64::from(fuel_dl) / 10.0}),
        AdditionalItem::RecorderSpeed { speed_dkmh } => {
            json!({"recorder_speed_kmh": f64::from(speed_dkmh) / 10.0})
        }
        AdditionalItem::AlarmEventId { event_id } => json!({"alarm_event_id": event_id}),
        AdditionalItem::TyrePressure { pressures } => json!({"tyre_pressures": pressures}),
        AdditionalItem::CabinTemperature { temperature_c } => json!({"cabin_temperature_c": temperature_c}),
        AdditionalItem::OverspeedAlarm {
            location_type,
            area_id,
        } => {
            json!({"overspeed_location_type": location_type, "area_id": area_id})
        }
        AdditionalItem::AreaAlarm {
            location_type,
            area_id,
            direction,
        } => {
            json!({"area_location_type": location_type, "area_id": area_id, "leaving": direction == 1})
        }
        AdditionalItem::RouteDriveTime {
            route_id,
            drive_time_secs,
            result,
        } => {
            json!({"route_id": route_id, "drive_time_secs": drive_time_secs, "too_long": result == 1})
        }
        AdditionalItem::ExtendedSignals { signals } => json!({"extended_signals": signals}),
        AdditionalItem::IoStatus { io } => json!({"io_status": io}),
        AdditionalItem::Analog { ad0, ad1 } => json!({"analog_ad0": ad0, "analog_ad1": ad1}),
        AdditionalItem::Rssi { rssi } => json!({"rssi": rssi}),
        AdditionalItem::Satellites { count } => json!({"satellites": count}),
        AdditionalItem::Raw { value, .. } => json!({"raw_hex": hex::encode(value)}),
        AdditionalItem::Truncated {
            declared_len, value, ..
        } => {
            json!({"truncated": true, "declared_len_bytes": declared_len, "raw_hex": hex::encode(value)})
        }
        _ => json!({}),
    };
    let mut v = json!({"id": id});
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    v
}

fn report_json(r: &LocationReport<'_>) -> Map<String, Value> {
    let mut m = basic_json(&r.basic);
    m.insert("items".into(), r.items.iter().map(|i| item_json(&i)).collect());
    m
}

fn params_json(list: &ParameterList<'_>) -> Value {
    let params: Vec<Value> = list
        .iter()
        .map(|p| match p {
            Ok(p) => json!({"id": format!("0x{:04x}", p.id), "value_u32": p.as_u32(),
                             "value_text": gbk(p.value), "value_hex": hex::encode(p.value)}),
            Err(e) => json!({"error": e.to_string()}),
        })
        .collect();
    json!({"count": list.count, "params": params})
}

fn body_json(msg: &Message<'_>) -> Value {
    match msg {
        Message::TerminalAck(a) | Message::PlatformAck(a) => json!({
            "reply_serial": a.reply_serial, "reply_msg_id": format!("0x{:04x}", a.reply_msg_id), "result": a.result,
        }),
        Message::ServerTime(t) => json!({"server_time_utc": t.time.to_rfc3339()}),
        Message::PacketRequest(p) | Message::TerminalPacketRequest(p) => json!({
            "first_serial": p.first_serial, "packet_indexes": p.packet_indexes.iter().collect::<Vec<_>>(),
        }),
        Message::Register(r) => json!({
            "province_id": r.province_id, "city_id": r.city_id, "maker_id": text(r.maker_id), "model": text(r.model),
            "terminal_id": text(r.terminal_id), "plate_color": r.plate_color, "plate": text(r.plate),
        }),
        Message::RegisterAck(a) => json!({
            "reply_serial": a.reply_serial, "result": a.result, "auth_code": a.auth_code.map(text),
        }),
        Message::Authenticate(a) => json!({
            "auth_code": text(a.auth_code), "imei": a.imei.map(text), "software_version": a.software_version.map(text),
        }),
        Message::SetParameters(l) => params_json(l),
        Message::Parameters { reply_serial, list } => {
            let mut v = params_json(list);
            if let Some(o) = v.as_object_mut() {
                o.insert("reply_serial".into(), json!(reply_serial));
            }
            v
        }
        Message::TerminalControl(c) => json!({
            "command": c.command, "parameters_text": gbk(c.parameters), "parameters_hex": hex::encode(c.parameters),
        }),
        Message::Attributes(a) => json!({
            "terminal_type": a.terminal_type, "maker_id": text(a.maker_id), "model": text(a.model),
            "terminal_id": text(a.terminal_id), "iccid": a.iccid.to_string(),
            "hardware_version": text(a.hardware_version), "firmware_version": text(a.firmware_version),
            "gnss": a.gnss, "network": a.network,
        }),
        Message::Location(r) => Value::Object(report_json(r)),
        Message::LocationReply(r) => {
            let mut m = report_json(&r.report);
            m.insert("reply_serial".into(), json!(r.reply_serial));
            Value::Object(m)
        }
        Message::TrackLocation(t) => {
            json!({"interval_secs": t.interval_secs, "validity_secs": t.validity_secs})
        }
        Message::TextMessage(t) => json!({"flags": t.flags, "text_type": t.text_type, "text": text(t.text)}),
        Message::DriverIdentity(d) => json!({
            "status": d.status,
            "time_local_gmt8": d.time_bcd.map(|t| bcd_local(&t)),
            "time_utc": d.time().map(|t| t.map_or_else(|e| format!("invalid: {e}"), |t| t.to_rfc3339())),
            "read_result": d.read_result, "driver_name": text(d.name), "qualification": text(d.qualification),
            "agency": text(d.agency), "validity_yyyymmdd": d.validity_bcd.map(hex::encode),
            "id_card": d.id_card.map(text), "trailer_hex": hex::encode(d.trailer),
        }),
        Message::LocationBatch(b) => {
            let items: Vec<Value> = b
                .iter()
                .map(|r| match r {
                    Ok(r) => Value::Object(report_json(&r)),
                    Err(e) => json!({"error": error_json(&e, "body")}),
                })
                .collect();
            json!({"count": b.count, "blind_area_backfill": b.is_backfill(), "location_type": b.location_type, "items": items})
        }
        Message::MediaEvent(e) => json!({
            "media_id": e.media_id, "media_type": e.media_type, "format": e.format, "event": e.event, "channel": e.channel,
        }),
        Message::MediaUpload(m) => json!({
            "media_id": m.event.media_id, "media_type": m.event.media_type, "format": m.event.format,
            "event": m.event.event, "channel": m.event.channel, "location": m.location.as_ref().map(basic_json),
            "data_len_bytes": m.data.len(), "data_hex": hex::encode(m.data),
        }),
        Message::MediaUploadAck(a) => json!({
            "media_id": a.media_id, "packet_indexes": a.packet_indexes.iter().collect::<Vec<_>>(),
        }),
        Message::UplinkPassthrough(p) | Message::DownlinkPassthrough(p) => json!({
            "kind": p.kind, "content_hex": hex::encode(p.content), "content_text": gbk(p.content),
        }),
        Message::Raw { body, .. } => json!({"raw_hex": hex::encode(body)}),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str, options: DecodeOptions) -> (bool, Vec<Value>) {
        let mut out = Vec::new();
        let ok = decode_input(1, text, options, &mut out).expect("writes");
        let lines = String::from_utf8(out).expect("utf-8");
        (
            ok,
            lines
                .lines()
                .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
                .collect(),
        )
    }

    /// The frames of `text`, which decodes without an error in strict mode.
    fn decode_strict(text: &str) -> Vec<Value> {
        let (ok, v) = decode(text, DecodeOptions::STRICT);
        assert!(ok, "{v:?}");
        v
    }

    #[test]
    fn location_report_with_units() {
        let v = decode_strict(
            "7E0200005C11223344556622B8000000010000000200BA7F0E07E4F11C0028003C00001807151010100104000000640202003703020038040200011105010000000112060100000001011307000000020022012504000000172A0200F42B04000000F2300102310105167E",
        );
        let f = &v[0];
        assert_eq!(f["header"]["msg_id"], "0x0200");
        assert_eq!(f["header"]["phone"], "112233445566");
        assert_eq!(f["message"], "location");
        assert_eq!(f["body"]["lat_deg"], 12.222222);
        assert_eq!(f["body"]["speed_kmh"], 6.0);
        assert_eq!(f["body"]["fix_time_utc"], "2018-07-15T02:10:10Z");
        assert_eq!(f["body"]["items"][0], json!({"id": "0x01", "mileage_km": 10.0}));
        assert_eq!(f["body"]["items"].as_array().map(Vec::len), Some(12));
        assert_eq!(f["leniencies"], json!([]));
    }

    #[test]
    fn errors_name_offset_and_reason_and_lenient_mode_flags() {
        // go-jt808's frame with a wrong checksum (0x54, should be 0x53).
        let bad = "7e0801200500123456789002de001a00022808000102547e";
        let (ok, v) = decode(bad, DecodeOptions::STRICT);
        assert!(!ok);
        assert_eq!(v[0]["error"]["kind"], "bad_checksum");
        assert_eq!(v[0]["error"]["offset"], 21);
        let (ok, v) = decode(bad, DecodeOptions::LENIENT);
        assert!(ok);
        assert_eq!(v[0]["leniencies"], json!(["bad_checksum"]));
        for (input, kind) in [
            ("7e0002zz", "invalid_hex"),
            ("7e000200000123", "incomplete_frame"),
        ] {
            let (ok, v) = decode(input, DecodeOptions::STRICT);
            assert!(!ok, "{input}");
            assert_eq!(v[0]["error"]["kind"], kind, "{input}");
        }
    }

    #[test]
    fn several_frames_on_one_line_and_gbk_text() {
        let v = decode_strict(
            "7e000200000123456789017fff0a7e 7e0100002d0144199999990001000b0065373034343358485830303030320000000000000000000000006964303030303301d4c1413138383838927e",
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0]["message"], "heartbeat");
        assert_eq!(v[1]["body"]["plate"], "粤A18888");
    }
}

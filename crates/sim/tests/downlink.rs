//! The virtual terminal answers the platform's commands as a real one does: 0x8201 with 0x0201 (its
//! position, answering the command's serial), 0x8300 and 0x8202 with 0x0001 result 0, and after 0x8202 it
//! reports at the ordered interval until the validity runs out. Against a tiny platform on a real socket.
#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::sync::Arc;

use bytes::BytesMut;
use tianshu_jt808::{
    FrameDecoder, GeneralAck, Header, Message, RegisterAck, Text, TextMessage, TrackLocation, encode_message,
    id,
};
use tianshu_model::{PositionSource, Timestamp, VehicleId};
use tianshu_sim::scenario::TerminalScenarios;
use tianshu_sim::{Fleet, FleetConfig, World, WorldConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// 2026-11-27 09:30 in Huangshi, a Friday morning.
const FRIDAY_MORNING_MS: i64 = 1_795_743_000_000;

/// What the platform saw from the terminal.
#[derive(Debug)]
enum Seen {
    /// A 0x0200, with its fix time.
    Report(Timestamp),
    /// A 0x0001: (serial answered, message answered, result).
    Ack(u16, u16, u8),
    /// A 0x0201: (serial answered, latitude, longitude).
    Position(u16, f64, f64),
}

struct Platform {
    sock: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
    serial: u16,
    /// The terminal's header, to address commands to it.
    terminal: Option<Header>,
}

impl Platform {
    async fn send(&mut self, msg_id: u16, msg: &Message<'_>) {
        let h = self.terminal.unwrap().reply(msg_id, self.serial);
        self.serial = self.serial.wrapping_add(1);
        let mut out = BytesMut::new();
        encode_message(&h, msg, &mut out).unwrap();
        self.sock.write_all(&out).await.unwrap();
    }

    /// Reads frames, registering, authenticating and acknowledging reports, until one worth telling.
    async fn next(&mut self) -> Seen {
        loop {
            let frame = match self.decoder.decode(&mut self.buf).unwrap() {
                Some(f) => f,
                None => {
                    assert!(
                        self.sock.read_buf(&mut self.buf).await.unwrap() > 0,
                        "the terminal hung up"
                    );
                    continue;
                }
            };
            let h = frame.header;
            self.terminal = Some(h);
            let ack = |result| {
                Message::PlatformAck(GeneralAck {
                    reply_serial: h.serial,
                    reply_msg_id: h.msg_id,
                    result,
                })
            };
            match frame.message().unwrap() {
                Message::Register(_) => {
                    let answer = Message::RegisterAck(RegisterAck {
                        reply_serial: h.serial,
                        result: 0,
                        auth_code: Some(Text(b"CODE-1")),
                    });
                    self.send(id::REGISTER_ACK, &answer).await;
                }
                Message::Location(r) => {
                    self.send(id::PLATFORM_ACK, &ack(0)).await;
                    let p = r
                        .to_position(h.phone, VehicleId(1), Timestamp(0), PositionSource::Live)
                        .unwrap();
                    return Seen::Report(p.fix_time);
                }
                Message::TerminalAck(a) => return Seen::Ack(a.reply_serial, a.reply_msg_id, a.result),
                Message::LocationReply(r) => {
                    let p = r
                        .report
                        .to_position(h.phone, VehicleId(1), Timestamp(0), PositionSource::Live)
                        .unwrap();
                    return Seen::Position(r.reply_serial, p.lat(), p.lon());
                }
                // Authentication, heartbeats, backfill: acknowledged, not told.
                _ => self.send(id::PLATFORM_ACK, &ack(0)).await,
            }
        }
    }

    /// The next 0x0001 or 0x0201, skipping reports.
    async fn answer(&mut self) -> Seen {
        loop {
            match self.next().await {
                Seen::Report(_) => continue,
                other => return other,
            }
        }
    }
}

#[tokio::test]
async fn the_terminal_answers_query_text_and_tracking_and_tracks_at_the_ordered_interval() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let world = Arc::new(World::generate(&WorldConfig {
        vehicles: 3,
        ..WorldConfig::from_date(friday, 1)
    }));
    let fleet = Fleet::spawn(
        FleetConfig {
            target: listener.local_addr().unwrap(),
            terminals: 1,
            interval_secs: 30.0,
            parked_interval_secs: 30.0,
            speedup: 50.0,
            start_ms: Some(FRIDAY_MORNING_MS),
            connect_spread_secs: 0.0,
            scenarios: TerminalScenarios::none(),
            ..Default::default()
        },
        world,
    )
    .unwrap();
    let (sock, _) = listener.accept().await.unwrap();
    let mut p = Platform {
        sock,
        buf: BytesMut::new(),
        decoder: FrameDecoder::default(),
        serial: 0,
        terminal: None,
    };
    // Online once it reports.
    while !matches!(p.next().await, Seen::Report(_)) {}

    let query_serial = p.serial;
    p.send(id::QUERY_LOCATION, &Message::QueryLocation).await;
    match p.answer().await {
        Seen::Position(serial, lat, lon) => {
            assert_eq!(serial, query_serial, "0x0201 answers the 0x8201's serial");
            assert!(
                (29.0..31.0).contains(&lat) && (114.0..116.0).contains(&lon),
                "{lat},{lon}"
            );
        }
        other => panic!("0x8201 answered with {other:?}"),
    }

    let text_serial = p.serial;
    let (gbk, _, _) = encoding_rs::GBK.encode("请回单位");
    let text = Message::TextMessage(TextMessage {
        flags: 0x0C,
        text_type: None,
        text: Text(&gbk),
    });
    p.send(id::TEXT_MESSAGE, &text).await;
    match p.answer().await {
        Seen::Ack(serial, msg_id, result) => {
            assert_eq!((serial, msg_id, result), (text_serial, id::TEXT_MESSAGE, 0));
        }
        other => panic!("0x8300 answered with {other:?}"),
    }

    let track_serial = p.serial;
    let track = Message::TrackLocation(TrackLocation {
        interval_secs: 5,
        validity_secs: 60,
    });
    p.send(id::TRACK_LOCATION, &track).await;
    match p.answer().await {
        Seen::Ack(serial, msg_id, result) => {
            assert_eq!((serial, msg_id, result), (track_serial, id::TRACK_LOCATION, 0));
        }
        other => panic!("0x8202 answered with {other:?}"),
    }
    // Fix times of the reports that follow: every 5 s while tracking lasts (60 s), then 30 s again.
    let mut fixes = Vec::new();
    while fixes.len() < 20 {
        if let Seen::Report(t) = p.next().await {
            fixes.push(t.millis());
        }
    }
    fleet.stop().await.unwrap();
    let gaps: Vec<i64> = fixes.windows(2).map(|w| (w[1] - w[0]) / 1000).collect();
    let tracked = gaps.iter().take_while(|&&g| g == 5).count();
    assert!(
        (10..=12).contains(&tracked),
        "reports every 5 s for about 60 s after 0x8202: {gaps:?}"
    );
    assert!(
        gaps[tracked..].iter().all(|&g| g == 30) && gaps.len() > tracked,
        "then back to the configured 30 s: {gaps:?}"
    );
}

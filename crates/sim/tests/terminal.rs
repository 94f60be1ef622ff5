//! The virtual terminal against a tiny JT/T 808 platform on a real loopback socket, built with the codec.
#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tianshu_jt808::{FrameDecoder, GeneralAck, Message, RegisterAck, Text, encode_message, id};
use tianshu_model::{Phone, PositionSource, Timestamp, VehicleId};
use tianshu_sim::events::{EventKind, events_for};
use tianshu_sim::scenario::TerminalScenarios;
use tianshu_sim::{Fleet, FleetConfig, LedgerEntry, World, WorldConfig};
use tianshu_testkit::{WAIT, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// What the platform does with location frames.
#[derive(Clone, Copy, PartialEq)]
enum AckPolicy {
    /// Answer every frame.
    All,
    /// Never answer 0x0200/0x0704.
    None,
    /// Answer only frames with an even serial.
    EvenSerials,
}

#[derive(Debug, Clone)]
struct Seen {
    conn: usize,
    msg_id: u16,
    serial: u16,
    raw_body: Vec<u8>,
    at: Instant,
    /// Points carried (0x0200 / 0x0704), with the batch type for 0x0704.
    points: Vec<LedgerEntry>,
    batch_type: Option<u8>,
    acked: bool,
    /// (alarm, status, speed 0.1 km/h) of each point.
    words: Vec<(u32, u32, u16)>,
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
}

impl Log {
    fn count(&self, msg_id: u16) -> usize {
        self.seen.iter().filter(|s| s.msg_id == msg_id).count()
    }
    fn acked_points(&self) -> HashSet<LedgerEntry> {
        self.seen
            .iter()
            .filter(|s| s.acked)
            .flat_map(|s| s.points.iter().copied())
            .collect()
    }
}

/// A platform that registers anyone, accepts the code it issued, and acknowledges per `policy`.
async fn platform(policy: AckPolicy) -> (std::net::SocketAddr, Arc<Mutex<Log>>) {
    platform_with(policy, false).await
}

/// As [`platform`]; with `stale_first_code`, each 0x0100 is answered twice, first with a code the platform
/// no longer accepts (as when it processed a retransmitted 0x0100 after answering the first copy).
async fn platform_with(policy: AckPolicy, stale_first_code: bool) -> (std::net::SocketAddr, Arc<Mutex<Log>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let log2 = log.clone();
    tokio::spawn(async move {
        let mut conn_no = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            conn_no += 1;
            let log = log2.clone();
            let conn = conn_no;
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                let mut dec = FrameDecoder::default();
                let mut serial = 0u16;
                loop {
                    let frame = match dec.decode(&mut buf) {
                        Ok(Some(f)) => f,
                        Ok(None) => {
                            if sock.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                                return;
                            }
                            continue;
                        }
                        Err(e) => panic!("terminal sent an undecodable frame: {e}"),
                    };
                    let h = frame.header;
                    let msg = frame.message().expect("terminal body decodes");
                    let mut points = Vec::new();
                    let mut words = Vec::new();
                    let mut batch_type = None;
                    match msg {
                        Message::Location(r) => {
                            let p = r
                                .to_position(h.phone, VehicleId(1), Timestamp(0), PositionSource::Live)
                                .unwrap();
                            points.push(LedgerEntry::of(&p));
                            words.push((p.alarm.0, p.status.0, p.speed_dkmh));
                        }
                        Message::LocationBatch(b) => {
                            batch_type = Some(b.location_type);
                            for r in b.iter() {
                                let p = r
                                    .unwrap()
                                    .to_position(h.phone, VehicleId(1), Timestamp(0), b.source())
                                    .unwrap();
                                points.push(LedgerEntry::of(&p));
                            }
                            assert_eq!(points.len(), usize::from(b.count));
                        }
                        _ => {}
                    }
                    let is_location = matches!(h.msg_id, id::LOCATION | id::LOCATION_BATCH);
                    let answer = match h.msg_id {
                        id::REGISTER => Some(Message::RegisterAck(RegisterAck {
                            reply_serial: h.serial,
                            result: 0,
                            auth_code: Some(Text(b"CODE-0123456789abcdef")),
                        })),
                        id::AUTHENTICATE => {
                            let Message::Authenticate(a) = msg else {
                                panic!("0x0102 body")
                            };
                            let ok = a.auth_code.as_bytes() == b"CODE-0123456789abcdef";
                            Some(Message::PlatformAck(GeneralAck {
                                reply_serial: h.serial,
                                reply_msg_id: h.msg_id,
                                result: if ok { 0 } else { 1 },
                            }))
                        }
                        _ if is_location => {
                            let ack = match policy {
                                AckPolicy::All => true,
                                AckPolicy::None => false,
                                AckPolicy::EvenSerials => h.serial % 2 == 0,
                            };
                            ack.then_some(Message::PlatformAck(GeneralAck {
                                reply_serial: h.serial,
                                reply_msg_id: h.msg_id,
                                result: 0,
                            }))
                        }
                        _ => Some(Message::PlatformAck(GeneralAck {
                            reply_serial: h.serial,
                            reply_msg_id: h.msg_id,
                            result: 0,
                        })),
                    };
                    log.lock().unwrap().seen.push(Seen {
                        conn,
                        msg_id: h.msg_id,
                        serial: h.serial,
                        raw_body: frame.body.to_vec(),
                        at: Instant::now(),
                        points,
                        batch_type,
                        acked: answer.is_some() && is_location,
                        words,
                    });
                    if stale_first_code && h.msg_id == id::REGISTER {
                        let stale = Message::RegisterAck(RegisterAck {
                            reply_serial: h.serial,
                            result: 0,
                            auth_code: Some(Text(b"CODE-STALE")),
                        });
                        let mut out = BytesMut::new();
                        encode_message(&h.reply(id::REGISTER_ACK, serial), &stale, &mut out).unwrap();
                        serial = serial.wrapping_add(1);
                        if sock.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                    if let Some(m) = answer {
                        let mut out = BytesMut::new();
                        encode_message(&h.reply(id::PLATFORM_ACK, serial), &m, &mut out).unwrap();
                        serial = serial.wrapping_add(1);
                        if sock.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, log)
}

/// Terminal scenarios where nothing happens but what `set` says.
fn only(set: impl FnOnce(&mut TerminalScenarios)) -> TerminalScenarios {
    let mut s = TerminalScenarios::none();
    set(&mut s);
    s
}

fn world(vehicles: usize) -> Arc<World> {
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    Arc::new(World::generate(&WorldConfig {
        vehicles,
        ..WorldConfig::from_date(friday, 1)
    }))
}

/// 2026-11-27 09:30 in Huangshi, a Friday morning.
const FRIDAY_MORNING_MS: i64 = 1_795_743_000_000;

/// Waits until `cond` holds (the test kit's wait, for a plain condition).
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    wait_until(what, WAIT, || std::future::ready(cond())).await;
}

/// A fleet against `addr`: a fix every 10 s moving or parked, every terminal connecting at once, from
/// `start_ms` (simulated) at `speedup` times real time.
fn fleet_config(
    addr: std::net::SocketAddr,
    speedup: f64,
    start_ms: i64,
    scenarios: TerminalScenarios,
) -> FleetConfig {
    FleetConfig {
        target: addr,
        interval_secs: 10.0,
        parked_interval_secs: 10.0,
        speedup,
        start_ms: Some(start_ms),
        connect_spread_secs: 0.0,
        scenarios,
        ..Default::default()
    }
}

/// The first car of `w` that meets an event of `kind` today, and the event.
fn first_event(
    w: &World,
    scenarios: &TerminalScenarios,
    kind: EventKind,
) -> Option<(usize, tianshu_sim::events::Event)> {
    let date = w.config.start_date;
    (0..w.vehicles.len()).find_map(|v| {
        let plan = tianshu_sim::plan::day_plan(w, v, date);
        events_for(w.config.seed, v, date, &plan, scenarios)
            .into_iter()
            .find(|e| e.kind == kind)
            .map(|e| (v, e))
    })
}

/// A fleet of one car against `addr`: the first car of `w` that meets an event of `kind` under
/// `scenarios`, driven at `speedup` from `lead_ms` before the event. The fleet's settings, the car and
/// the event.
fn one_car_meeting(
    w: &World,
    addr: std::net::SocketAddr,
    scenarios: TerminalScenarios,
    kind: EventKind,
    (speedup, lead_ms): (f64, i64),
) -> Option<(FleetConfig, usize, tianshu_sim::events::Event)> {
    let (v, event) = first_event(w, &scenarios, kind)?;
    let cfg = FleetConfig {
        vehicles: vec![v],
        ..fleet_config(addr, speedup, event.start_ms - lead_ms, scenarios)
    };
    Some((cfg, v, event))
}

#[tokio::test]
async fn registers_authenticates_and_reports_and_the_ledger_holds_what_was_acknowledged() {
    assert_eq!(
        Timestamp(FRIDAY_MORNING_MS)
            .to_china()
            .format("%F %R")
            .to_string(),
        "2026-11-27 09:30"
    );
    let (addr, log) = platform(AckPolicy::All).await;
    let w = world(40);
    let cfg = FleetConfig {
        terminals: 6,
        ..fleet_config(addr, 100.0, FRIDAY_MORNING_MS, TerminalScenarios::none())
    };
    let fleet = Fleet::spawn(cfg, w.clone()).unwrap();
    let ledger = fleet.ledger();
    wait_for("30 acknowledged points", || ledger.recorded() >= 30).await;
    let stats = fleet.stop().await.unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.count(id::REGISTER), 6, "each terminal registers once");
    assert_eq!(log.count(id::AUTHENTICATE), 6);
    assert!(stats.authentications == 6 && stats.registrations == 6);
    // Both editions are in the mix and every frame decoded with the codec (else the platform panicked).
    let editions: HashSet<_> = w.vehicles[..6].iter().map(|v| v.edition).collect();
    assert_eq!(
        editions.len(),
        2,
        "the first six cars mix 2013 and 2019 terminals"
    );
    let entries = ledger.entries();
    let unique: HashSet<_> = entries.iter().copied().collect();
    assert_eq!(unique.len(), entries.len(), "no point is recorded twice");
    let acked = log.acked_points();
    assert!(
        unique.is_subset(&acked),
        "the ledger holds only points the platform acknowledged"
    );
    // Fix times follow simulated time, and reports of one terminal advance.
    let mut by_phone: HashMap<Phone, Vec<Timestamp>> = HashMap::new();
    for e in &entries {
        assert!(e.fix_time.millis() >= FRIDAY_MORNING_MS - 10_000);
        by_phone.entry(e.phone).or_default().push(e.fix_time);
    }
    for times in by_phone.values() {
        let mut sorted = times.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), times.len());
    }
}

#[tokio::test]
async fn the_ledger_records_only_acknowledged_points() {
    let (addr, log) = platform(AckPolicy::EvenSerials).await;
    let cfg = FleetConfig {
        target: addr,
        terminals: 3,
        interval_secs: 10.0,
        parked_interval_secs: 10.0,
        speedup: 100.0,
        start_ms: Some(FRIDAY_MORNING_MS),
        connect_spread_secs: 0.0,
        ack_timeout_secs: 60.0,
        scenarios: TerminalScenarios {
            retransmit: false,
            ..TerminalScenarios::none()
        },
        ..Default::default()
    };
    let fleet = Fleet::spawn(cfg, world(10)).unwrap();
    let ledger = fleet.ledger();
    wait_for("20 acknowledged points", || ledger.recorded() >= 20).await;
    fleet.stop().await.unwrap();
    let log = log.lock().unwrap();
    let acked = log.acked_points();
    let unacked: HashSet<LedgerEntry> = log
        .seen
        .iter()
        .filter(|s| !s.acked)
        .flat_map(|s| s.points.iter().copied())
        .collect();
    assert!(unacked.len() >= 10, "the platform left frames unanswered");
    let entries: HashSet<LedgerEntry> = ledger.entries().into_iter().collect();
    assert!(entries.is_subset(&acked));
    assert!(
        entries.is_disjoint(&unacked),
        "an unanswered point never enters the ledger"
    );
}

#[tokio::test(start_paused = true)]
async fn unanswered_reports_are_retransmitted_with_the_standards_backoff_then_the_link_is_renewed() {
    let (addr, log) = platform(AckPolicy::None).await;
    let cfg = FleetConfig {
        terminals: 1,
        ack_timeout_secs: 10.0,
        heartbeat_secs: 1000.0,
        max_retransmissions: 3,
        reconnect_secs: 5.0,
        ..fleet_config(addr, 1.0, FRIDAY_MORNING_MS, TerminalScenarios::none())
    };
    let fleet = Fleet::spawn(cfg, world(5)).unwrap();
    let ledger = fleet.ledger();
    let log2 = log.clone();
    wait_for("a second authentication", move || {
        log2.lock().unwrap().count(id::AUTHENTICATE) >= 2
    })
    .await;
    let stats = fleet.stop().await.unwrap();
    let log = log.lock().unwrap();
    let first = log
        .seen
        .iter()
        .find(|s| s.msg_id == id::LOCATION)
        .expect("a report")
        .clone();
    let copies: Vec<&Seen> = log
        .seen
        .iter()
        .filter(|s| s.conn == first.conn && s.msg_id == id::LOCATION && s.serial == first.serial)
        .collect();
    assert_eq!(copies.len(), 4, "sent once and retransmitted 3 times");
    assert!(
        copies.iter().all(|c| c.raw_body == first.raw_body),
        "a retransmission is the same message"
    );
    let gaps: Vec<u64> = copies.windows(2).map(|w| (w[1].at - w[0].at).as_secs()).collect();
    // T1 = 10 s, T2 = T1 x 2, T3 = T2 x 3 (virtual time: the clock is paused and advanced by tokio).
    assert_eq!(gaps, vec![10, 20, 60]);
    assert_eq!(
        log.count(id::REGISTER),
        1,
        "the auth code from 0x8100 is reused on reconnect"
    );
    assert!(
        log.seen
            .iter()
            .any(|s| s.msg_id == id::AUTHENTICATE && s.conn == 2)
    );
    assert_eq!(ledger.recorded(), 0);
    assert!(stats.retransmissions >= 3);
}

#[tokio::test]
async fn blind_area_points_are_buffered_and_sent_as_0704_type_1() {
    let (addr, log) = platform(AckPolicy::All).await;
    let scenarios = only(|s| s.blind_area_rate = 1.0);
    let w = world(20);
    // A car whose blind-area period falls on this day.
    let (cfg, _, event) = one_car_meeting(&w, addr, scenarios, EventKind::BlindArea, (300.0, 120_000))
        .expect("some car meets a blind area");
    let fleet = Fleet::spawn(cfg, w.clone()).unwrap();
    let ledger = fleet.ledger();
    let stats = fleet.stats();
    wait_for("the blind-area backlog to be acknowledged", || {
        stats.backfill_points_acked.get() > 0
            && stats.online.get() == 1
            && fleet.sim_now().millis() > event.end_ms + 60_000
            && stats.points_buffered.get() == stats.backfill_points_acked.get()
    })
    .await;
    fleet.stop().await.unwrap();
    let log = log.lock().unwrap();
    let batches: Vec<&Seen> = log
        .seen
        .iter()
        .filter(|s| s.msg_id == id::LOCATION_BATCH)
        .collect();
    assert!(!batches.is_empty());
    assert!(
        batches.iter().all(|b| b.batch_type == Some(1)),
        "blind-area uploads are type 1"
    );
    let backfilled: Vec<LedgerEntry> = batches.iter().flat_map(|b| b.points.iter().copied()).collect();
    // Every fix of the blind period went up as backfill (points recorded while connecting are backfill too),
    // and nothing was sent live then.
    let in_period = backfilled
        .iter()
        .filter(|p| (event.start_ms..event.end_ms).contains(&p.fix_time.millis()))
        .count();
    assert!(
        in_period >= ((event.end_ms - event.start_ms) / 10_000 - 1) as usize,
        "{in_period} points"
    );
    for s in log.seen.iter().filter(|s| s.msg_id == id::LOCATION) {
        for p in &s.points {
            assert!(
                !(event.start_ms..event.end_ms).contains(&p.fix_time.millis()),
                "live report in the blind area"
            );
        }
    }
    // The terminal came back on a new connection without registering again.
    assert_eq!(log.count(id::REGISTER), 1);
    assert!(log.count(id::AUTHENTICATE) >= 2);
    let entries: HashSet<LedgerEntry> = ledger.entries().into_iter().collect();
    for p in &backfilled {
        assert!(
            entries.contains(p),
            "an acknowledged backfill point is in the ledger"
        );
        assert_eq!(p.source, PositionSource::Backfill);
    }
}

#[tokio::test]
async fn tamper_alarm_bits_and_ignition_follow_the_scenario_and_the_motion() {
    use tianshu_model::{AlarmBit, AlarmFlags, StatusFlags};
    let (addr, log) = platform(AckPolicy::All).await;
    let scenarios = only(|s| s.alarm_rate = 1.0);
    let w = world(20);
    let date = w.config.start_date;
    let antenna_cut = EventKind::Alarm(AlarmBit::GnssAntennaCut);
    let (cfg, v, event) = one_car_meeting(&w, addr, scenarios, antenna_cut, (200.0, 60_000))
        .expect("some terminal loses its antenna today");
    let fleet = Fleet::spawn(cfg, w.clone()).unwrap();
    let stats = fleet.stats();
    wait_for("the alarm period to pass", || {
        fleet.sim_now().millis() > event.end_ms + 60_000 && stats.points_acked.get() > 0
    })
    .await;
    fleet.stop().await.unwrap();
    let log = log.lock().unwrap();
    let plan = tianshu_sim::plan::day_plan(&w, v, date);
    let (mut during, mut outside) = (0, 0);
    for s in log.seen.iter().filter(|s| s.msg_id == id::LOCATION) {
        for (p, &(alarm, status, speed)) in s.points.iter().zip(&s.words) {
            let t = p.fix_time.millis();
            let cut = AlarmFlags(alarm).has(AlarmBit::GnssAntennaCut);
            let status = StatusFlags(status);
            if (event.start_ms..event.end_ms).contains(&t) {
                during += 1;
                assert!(cut, "antenna-cut bit set during the period");
                assert!(!status.fixed(), "no valid fix without an antenna");
            } else if t < event.start_ms - 1000 || t >= event.end_ms + 1000 {
                outside += 1;
                assert!(!cut, "no alarm outside the period");
                assert!(status.fixed());
                // Ignition and speed agree with the plan's motion.
                let state = plan.state_at(t);
                assert_eq!(status.acc_on(), state.acc_on, "ACC at {}", p.fix_time);
                assert_eq!(speed, (state.speed_kmh * 10.0).round() as u16);
                if speed > 0 {
                    assert!(status.acc_on(), "moving with the ignition off");
                }
            }
        }
    }
    assert!(
        during > 0 && outside > 0,
        "{during} points in the period, {outside} outside"
    );
}

#[tokio::test]
async fn a_silent_terminal_sends_nothing_for_its_period_and_backfills_nothing_of_it() {
    let (addr, log) = platform(AckPolicy::All).await;
    let scenarios = only(|s| s.silent_rate = 1.0);
    let w = world(5);
    let (cfg, _, event) =
        one_car_meeting(&w, addr, scenarios, EventKind::Silent, (1200.0, 600_000)).expect("a silent period");
    let cfg = FleetConfig {
        parked_interval_secs: 60.0,
        ..cfg
    };
    let fleet = Fleet::spawn(cfg, w.clone()).unwrap();
    let stats = fleet.stats();
    wait_for("the silent period to pass", || {
        fleet.sim_now().millis() > event.end_ms + 600_000
            && stats.online.get() == 1
            && stats.points_acked.get() > 0
    })
    .await;
    fleet.stop().await.unwrap();
    let log = log.lock().unwrap();
    let times: Vec<i64> = log
        .seen
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.fix_time.millis()))
        .collect();
    assert!(
        times.iter().any(|&t| t < event.start_ms),
        "reports before the period"
    );
    assert!(
        times.iter().any(|&t| t >= event.end_ms),
        "reports after the period"
    );
    assert!(
        !times.iter().any(|&t| (event.start_ms..event.end_ms).contains(&t)),
        "nothing from the silent period"
    );
    assert!(
        log.seen.iter().filter(|s| s.msg_id == id::AUTHENTICATE).count() >= 2,
        "it came back online"
    );
}

#[tokio::test]
async fn a_newer_auth_code_replaces_a_stale_one_without_registering_again() {
    let (addr, log) = platform_with(AckPolicy::All, true).await;
    let cfg = FleetConfig {
        terminals: 1,
        reconnect_secs: 0.05,
        ..fleet_config(addr, 100.0, FRIDAY_MORNING_MS, TerminalScenarios::none())
    };
    let fleet = Fleet::spawn(cfg, world(3)).unwrap();
    let stats = fleet.stats();
    wait_for("an acknowledged point", || stats.points_acked.get() > 0).await;
    let s = fleet.stop().await.unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.count(id::REGISTER), 1, "no second registration");
    assert_eq!(
        log.count(id::AUTHENTICATE),
        2,
        "the stale code is refused, the newer one accepted"
    );
    assert_eq!((s.auth_refusals, s.authentications), (1, 1));
}

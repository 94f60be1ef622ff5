//! The connection's protocol without a socket: frames in, actions and encoded answers out, the time given.

use std::time::Duration;

use tianshu_jt808::{FrameDecoder, Register, RegisterAck};

use super::*;
use crate::uplink::tests::{T0, batch, garbled, report};

const PHONE: Phone = Phone(13_912_345_678);
const VEHICLE: VehicleId = VehicleId(42);

/// A machine and the clock it is driven by.
struct Driven {
    machine: Machine<'static>,
    start: Instant,
    serial: u16,
}

fn config() -> &'static GatewayConfig {
    static CONFIG: std::sync::LazyLock<GatewayConfig> = std::sync::LazyLock::new(|| GatewayConfig {
        error_budget: 2,
        ..GatewayConfig::default()
    });
    &CONFIG
}

impl Driven {
    fn new() -> Driven {
        let start = Instant::now();
        Driven {
            machine: Machine::new(config(), start),
            start,
            serial: 0,
        }
    }

    fn at(&self, secs: u64) -> Now {
        Now {
            at: self.start + Duration::from_secs(secs),
            wall: Timestamp::from_secs(T0 + secs as i64),
        }
    }

    /// Sends `message` from the terminal at `secs`; the flow, the actions and the serial it went with.
    fn send(&mut self, message: &Message<'_>, secs: u64) -> (Flow, Vec<Action>, u16) {
        self.serial += 1;
        let header = Header::new(message.msg_id(), PHONE, self.serial, Edition::V2013);
        let mut wire = BytesMut::new();
        encode_message(&header, message, &mut wire).unwrap();
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().unwrap();
        let mut actions = Vec::new();
        let now = self.at(secs);
        let flow = self.machine.on_frame(frame, now, &mut |a| actions.push(a));
        (flow, actions, self.serial)
    }

    /// Gives the machine the outcome of the login it asked for.
    fn login(&mut self, outcome: LoginOutcome, secs: u64) -> (Flow, Vec<Action>) {
        let mut actions = Vec::new();
        let now = self.at(secs);
        let flow = self.machine.on_login(outcome, now, &mut |a| actions.push(a));
        (flow, actions)
    }

    /// Authenticates at time 0 and drops the answer.
    fn online(&mut self) {
        let auth = Message::Authenticate(tianshu_jt808::Authenticate {
            auth_code: Text(b"code"),
            imei: None,
            software_version: None,
        });
        let (_, actions, serial) = self.send(&auth, 0);
        assert!(matches!(
            &actions[..],
            [Action::Login(LoginRequest::Authenticate(_))]
        ));
        let header = Header::new(id::AUTHENTICATE, PHONE, serial, Edition::V2013);
        let (flow, actions) = self.login(
            LoginOutcome::Authenticated {
                header,
                vehicle: VEHICLE,
                clock: Box::default(),
            },
            0,
        );
        assert_eq!(flow, Flow::Continue);
        assert!(matches!(&actions[..], [Action::Online(PHONE)]));
        assert_eq!(self.acks(), vec![(serial, GeneralAck::RESULT_OK)]);
    }

    /// The frames encoded so far (and empties the output).
    fn written(&mut self) -> Vec<Frame> {
        let out = self.machine.output();
        let mut decoder = FrameDecoder::default();
        let mut frames = Vec::new();
        while let Some(f) = decoder.decode(out).unwrap() {
            frames.push(f);
        }
        out.clear();
        frames
    }

    /// The 0x8001 answers encoded so far: (serial answered, result).
    fn acks(&mut self) -> Vec<(u16, u8)> {
        self.written()
            .iter()
            .map(|f| match f.message() {
                Ok(Message::PlatformAck(a)) => (a.reply_serial, a.result),
                other => panic!("not a 0x8001: {other:?}"),
            })
            .collect()
    }
}

fn appended(actions: Vec<Action>) -> (Vec<Position>, Owed) {
    match actions.into_iter().next() {
        Some(Action::Append { points, owed }) => (points, owed),
        other => panic!("expected an append, got {other:?}"),
    }
}

#[test]
fn a_report_before_authentication_closes_and_stores_nothing() {
    let mut d = Driven::new();
    let (flow, actions, _) = d.send(&Message::Location(report(0)), 1);
    assert_eq!(flow, Flow::Close("frame_before_auth"));
    assert!(actions.is_empty());
    assert!(d.written().is_empty());
}

#[test]
fn reports_are_answered_once_durable_and_never_when_the_store_failed() {
    let mut d = Driven::new();
    d.online();
    let (_, first, s1) = d.send(&Message::Location(report(1)), 1);
    let (_, second, _) = d.send(&Message::Location(report(2)), 2);
    assert!(d.written().is_empty(), "nothing is answered before it is durable");
    let (points, owed1) = appended(first);
    assert_eq!(points.len(), 1);
    assert_eq!((points[0].phone, points[0].vehicle), (PHONE, VEHICLE));
    assert_eq!(points[0].recv_time, Timestamp::from_secs(T0 + 1));
    let (_, owed2) = appended(second);
    d.machine
        .on_stored(owed1, Ok(AppendSummary::default()), d.at(3).at);
    assert_eq!(d.acks(), vec![(s1, GeneralAck::RESULT_OK)]);
    let failed = tianshu_store::Error::Unavailable("down".into());
    d.machine.on_stored(owed2, Err(failed), d.at(3).at);
    assert!(
        d.written().is_empty(),
        "a failed batch is not answered: the terminal retransmits"
    );
}

#[test]
fn a_steady_clock_offset_is_found_once_and_the_one_set_corrects_later_fixes_at_once() {
    let mut d = Driven::new();
    d.online();
    // UTC sent as China time: each fix eight hours before it arrives, stored as sent while nothing is set.
    let mut found = Vec::new();
    for secs in 1..=12u64 {
        let (_, actions, serial) = d.send(&Message::Location(report(secs as i64 - 28_800)), secs);
        for a in actions {
            match a {
                Action::ClockFound(phone, offset) => found.push((phone, offset, secs)),
                Action::Append { points, owed } => {
                    assert_eq!(
                        points[0].fix_time,
                        Timestamp::from_secs(T0 + secs as i64 - 28_800)
                    );
                    assert_eq!(owed.frames, [(serial, id::LOCATION)]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(found, [(PHONE, 28_800, 9)], "found once, when the window filled");
    // The administrator sets the offset: the next fix is corrected, no longer found anew.
    d.machine.set_clock_offset(28_800);
    let (_, actions, _) = d.send(&Message::Location(report(13 - 28_800)), 13);
    let (points, _) = appended(actions);
    assert_eq!(points[0].fix_time, Timestamp::from_secs(T0 + 13));
}

#[test]
fn a_garbled_batch_item_costs_only_itself() {
    let mut d = Driven::new();
    d.online();
    let reports = [report(10), garbled(11), report(12)];
    let (_, actions, _) = d.send(&batch(&reports, 1), 1);
    let (points, _) = appended(actions);
    let secs: Vec<i64> = points.iter().map(|p| p.fix_time.secs() - T0).collect();
    assert_eq!(secs, vec![10, 12]);
    let (_, actions, serial) = d.send(&batch(&[garbled(11)], 0), 2);
    assert!(actions.is_empty());
    assert_eq!(d.acks(), vec![(serial, GeneralAck::RESULT_BAD_MESSAGE)]);
}

#[test]
fn silence_closes_the_connection_at_its_deadline() {
    let mut d = Driven::new();
    let pre_auth = config().pre_auth_timeout().as_secs();
    assert_eq!(d.machine.wake_at(), d.at(pre_auth).at);
    assert_eq!(d.machine.on_timer(d.at(pre_auth - 1)), Flow::Continue);
    assert_eq!(
        d.machine.on_timer(d.at(pre_auth)),
        Flow::Close("pre_auth_timeout")
    );

    let mut d = Driven::new();
    d.online();
    let idle = config().idle_timeout().as_secs();
    let (_, _, _) = d.send(&Message::Heartbeat, 10);
    assert_eq!(
        d.machine.wake_at(),
        d.at(10 + idle).at,
        "a frame starts a new idle period"
    );
    assert_eq!(d.machine.on_timer(d.at(idle)), Flow::Continue);
    assert_eq!(d.machine.on_timer(d.at(10 + idle)), Flow::Close("idle_timeout"));
}

#[test]
fn a_retransmitted_registration_gets_the_same_code_again() {
    let mut d = Driven::new();
    let register = Message::Register(Register {
        province_id: 42,
        city_id: 200,
        maker_id: Text(b"TSHU1"),
        model: Text(b"M1"),
        terminal_id: Text(b"T000001"),
        plate_color: 0,
        plate: Text(b""),
    });
    let (_, actions, serial) = d.send(&register, 0);
    let Some(Action::Login(LoginRequest::Register(request))) = actions.into_iter().next() else {
        panic!("the registry decides a registration");
    };
    d.login(
        LoginOutcome::Registered {
            header: request.header,
            result: RegisterAck::RESULT_OK,
            code: Some("C0DE".into()),
        },
        0,
    );
    let code_of = |frames: Vec<Frame>| match frames[0].message() {
        Ok(Message::RegisterAck(a)) => (
            a.reply_serial,
            a.auth_code.and_then(|c| c.as_str().map(str::to_string)),
        ),
        other => panic!("not a 0x8100: {other:?}"),
    };
    assert_eq!(code_of(d.written()), (serial, Some("C0DE".into())));
    d.serial -= 1; // the terminal sends it again with the same serial
    let (_, actions, again) = d.send(&register, 1);
    assert_eq!(again, serial);
    assert!(actions.is_empty(), "answered without the registry");
    assert_eq!(code_of(d.written()), (serial, Some("C0DE".into())));
}

#[test]
fn refused_logins_are_answered_and_a_throttled_one_closes() {
    let mut d = Driven::new();
    let header = Header::new(id::AUTHENTICATE, PHONE, 7, Edition::V2013);
    let (flow, _) = d.login(
        LoginOutcome::Refused {
            header,
            reason: "wrong_code",
        },
        0,
    );
    assert_eq!(
        flow,
        Flow::Continue,
        "a terminal may try again before the deadline"
    );
    assert_eq!(d.acks(), vec![(7, GeneralAck::RESULT_FAILED)]);
    let (flow, _) = d.login(
        LoginOutcome::Refused {
            header,
            reason: "throttled",
        },
        0,
    );
    assert_eq!(flow, Flow::Close("auth_throttled"));
    assert_eq!(d.login(LoginOutcome::Unanswered, 0).0, Flow::Continue);
    assert!(d.written().iter().all(|f| f.header.msg_id == id::PLATFORM_ACK));
}

#[test]
fn commands_go_out_once_online_and_answers_resolve_them() {
    let mut d = Driven::new();
    assert_eq!(
        d.machine.send_command(&Command::QueryPosition),
        Err(DownlinkError::Closed(Phone(0)))
    );
    d.online();
    let (phone, serial) = d.machine.send_command(&Command::QueryPosition).unwrap();
    assert_eq!(phone, PHONE);
    let sent = d.written();
    assert_eq!((sent[0].header.msg_id, sent[0].header.serial), (0x8201, serial));
    let ack = Message::TerminalAck(GeneralAck {
        reply_serial: serial,
        reply_msg_id: 0x8201,
        result: 0,
    });
    let (_, actions, _) = d.send(&ack, 1);
    assert!(matches!(
        &actions[..],
        [Action::Resolve { serial: Some(s), reply_msg_id: id::TERMINAL_ACK, reply: Reply::General { result: 0 } }] if *s == serial
    ));
}

#[test]
fn protocol_errors_past_the_budget_close() {
    let mut d = Driven::new();
    let bad = bad_frame_error();
    assert_eq!(d.machine.on_bad_frame(&bad), Flow::Close("bad_frame_before_auth"));
    let mut d = Driven::new();
    d.online();
    assert_eq!(d.machine.on_bad_frame(&bad), Flow::Continue);
    assert_eq!(d.machine.on_bad_frame(&bad), Flow::Continue);
    assert_eq!(d.machine.on_bad_frame(&bad), Flow::Close("error_budget"));
}

#[test]
fn a_logout_is_answered_and_closes_after_the_owed_answers() {
    let mut d = Driven::new();
    d.online();
    let (flow, _, serial) = d.send(&Message::Logout, 1);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(d.machine.closing(), Some("logout"));
    assert_eq!(d.acks(), vec![(serial, GeneralAck::RESULT_OK)]);
}

#[test]
fn a_damaged_frame_after_authentication_is_answered_bad_message() {
    // A heartbeat with its checksum byte flipped, as the session's lenient codec hands it over (flagged).
    let damaged = |d: &mut Driven| {
        d.serial += 1;
        let header = Header::new(id::HEARTBEAT, PHONE, d.serial, Edition::V2013);
        let mut wire = BytesMut::new();
        encode_message(&header, &Message::Heartbeat, &mut wire).unwrap();
        let at = wire.len() - 2;
        wire[at] ^= 0x5a;
        let frame = FrameDecoder::new(tianshu_jt808::DecodeOptions::LENIENT, 4096)
            .decode(&mut wire)
            .unwrap()
            .unwrap();
        assert!(frame.leniencies.contains(Leniencies::BAD_CHECKSUM));
        let now = d.at(1);
        d.machine.on_frame(frame, now, &mut |_| {})
    };
    let mut d = Driven::new();
    assert_eq!(damaged(&mut d), Flow::Close("bad_frame_before_auth"));
    let mut d = Driven::new();
    d.online();
    assert_eq!(damaged(&mut d), Flow::Continue);
    let serial = d.serial;
    assert_eq!(d.acks(), vec![(serial, GeneralAck::RESULT_BAD_MESSAGE)]);
}

fn bad_frame_error() -> tianshu_jt808::Error {
    tianshu_jt808::Error::MissingDelimiter
}

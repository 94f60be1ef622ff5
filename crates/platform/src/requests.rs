//! Platform checks (平台查岗) and supervision requests (报警督办) between the links and the store: a
//! request received from an upper platform as a stored row, a stored answer or request as the message
//! that carries it. What the messages hold and when they are due is decided in `tianshu_jt809::duty`;
//! this only translates.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, Opts, register_int_counter_vec};
use tianshu_jt809::duty::{
    CheckReceived, SupervisionAsked, SupervisionResult, check_answer, check_deadline, check_request, is_late,
    supervision_answer, supervision_deadline, supervision_request,
};
use tianshu_jt809::{DownPlatform, DownWarn, Edition, Message, Vehicle, Warn};
use tianshu_model::Timestamp;
use tianshu_store::jt809_requests::{Direction, NewRequest, PlatformRequest};

/// Platform checks and supervision requests by kind (`check`, `supervision`) and outcome: `received`
/// from an upper platform, `answered` (the answer sent there), `late` (of those, after the deadline),
/// `sent` to a lower platform, `answer_received` from it.
/// An upper platform's start or stop of a car's positions is kind `positions`: `started`, `stopped`, or
/// `unknown_car` (a plate not in the registry, not answered).
pub static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "tianshu_jt809_requests_total",
            "JT/T 809 platform checks and supervision requests, by kind and outcome."
        ),
        &["kind", "outcome"]
    )
    .unwrap_or_else(|e| panic!("registering tianshu_jt809_requests_total: {e}"))
});

/// Counts one request of `kind` with `outcome`.
pub fn count(kind: &str, outcome: &str) {
    REQUESTS.with_label_values(&[kind, outcome]).inc();
}

/// The row a request from upper platform `peer` becomes, `None` for a message that is no such request.
/// `msg_sn` numbers the frame that carried it.
pub fn received(peer: &str, m: &Message, msg_sn: u32, now: Timestamp) -> Option<NewRequest> {
    let base = |kind: &'static str, ref_id: u32| NewRequest {
        direction: Direction::Received,
        kind,
        peer: peer.to_string(),
        ref_id: Some(i64::from(ref_id)),
        msg_sn: i64::from(msg_sn),
        object_type: 0,
        object_id: String::new(),
        plate: None,
        question: String::new(),
        created: now,
        deadline: now,
        warn_type: None,
        warn_time: None,
        case_id: None,
    };
    match m {
        Message::DownPlatform(DownPlatform::PostQuery(q)) => Some(NewRequest {
            object_type: i64::from(q.object_type),
            object_id: q.object_id.clone(),
            question: q.info.clone(),
            deadline: check_deadline(now, q.answer_minutes),
            ..base("check", q.info_id)
        }),
        Message::DownWarn(Warn {
            vehicle,
            data: DownWarn::Supervision(s),
        }) => Some(NewRequest {
            object_id: s.supervisor.clone(),
            plate: vehicle.as_ref().map(|v| v.plate.clone()),
            question: format!("报警督办: 报警类型 {:#06x}, 督办人 {}", s.warn_type, s.supervisor),
            deadline: supervision_deadline(s, now),
            warn_type: Some(i64::from(s.warn_type)),
            warn_time: Some(Timestamp::from_secs(i64::try_from(s.warn_time_utc).unwrap_or(0))),
            ..base("supervision", s.supervision_id)
        }),
        _ => None,
    }
}

fn vehicle_of(r: &PlatformRequest) -> Vehicle {
    Vehicle::blue(r.plate.clone().unwrap_or_default())
}

/// The message answering received request `r` (answered), `None` when its answer cannot be sent (a
/// supervision result the standard does not name: it stays owed and is logged by the caller).
pub fn answer_of(r: &PlatformRequest, edition: Edition) -> Option<Message> {
    let text = r.answer.as_deref()?;
    let ref_id = u32::try_from(r.ref_id).ok()?;
    match r.kind.as_str() {
        "check" => {
            let check = CheckReceived {
                object_type: u8::try_from(r.object_type).unwrap_or(0),
                object_id: r.object_id.clone(),
                info_id: ref_id,
                msg_sn: u32::try_from(r.msg_sn).unwrap_or(0),
            };
            let by = r.answered_by.as_deref().unwrap_or_default();
            Some(check_answer(&check, text, by, edition))
        }
        "supervision" => {
            let result = SupervisionResult::parse(text).ok()?;
            Some(supervision_answer(ref_id, &vehicle_of(r), result, edition))
        }
        _ => None,
    }
}

/// Counts an answer sent: `answered`, and `late` when after the request's deadline.
pub fn count_answer(r: &PlatformRequest) {
    count(&r.kind, "answered");
    if is_late(r.deadline, r.answered, r.answered.unwrap_or(r.deadline)) {
        count(&r.kind, "late");
    }
}

/// The message carrying request `r` made here to a lower platform whose access code is `access_code`.
pub fn request_of(r: &PlatformRequest, access_code: u32, edition: Edition) -> Option<Message> {
    let ref_id = u32::try_from(r.ref_id).ok()?;
    match r.kind.as_str() {
        "check" => {
            let minutes = (r.deadline.0 - r.created.0).div_euclid(60_000).clamp(1, 255);
            let minutes = u8::try_from(minutes).unwrap_or(u8::MAX);
            Some(check_request(
                ref_id,
                &access_code.to_string(),
                &r.question,
                minutes,
            ))
        }
        "supervision" => {
            let vehicle = vehicle_of(r);
            let asked = SupervisionAsked {
                supervision_id: ref_id,
                vehicle: &vehicle,
                warn_type: u16::try_from(r.warn_type.unwrap_or(0)).unwrap_or(0),
                warn_time: r.warn_time.unwrap_or(r.created),
                deadline: r.deadline,
                supervisor: &r.object_id,
            };
            Some(supervision_request(&asked, edition))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(n: NewRequest, id: i64) -> PlatformRequest {
        PlatformRequest {
            id,
            direction: n.direction,
            kind: n.kind.to_string(),
            peer: n.peer,
            ref_id: n.ref_id.unwrap_or(id),
            msg_sn: n.msg_sn,
            object_type: n.object_type,
            object_id: n.object_id,
            plate: n.plate,
            question: n.question,
            created: n.created,
            deadline: n.deadline,
            answer: None,
            answered: None,
            answered_by: None,
            warn_type: n.warn_type,
            warn_time: n.warn_time,
            case_id: n.case_id,
            sent: None,
        }
    }

    #[test]
    fn a_check_made_here_goes_down_is_stored_there_and_its_answer_comes_back_whole() {
        let now = Timestamp::from_secs(1_700_000_000);
        for edition in [Edition::V2011, Edition::V2019] {
            let made = PlatformRequest {
                deadline: now.add_millis(5 * 60_000),
                ..stored(
                    NewRequest {
                        direction: Direction::Sent,
                        kind: "check",
                        peer: "huangshi".into(),
                        ref_id: None,
                        msg_sn: 0,
                        object_type: 0,
                        object_id: String::new(),
                        plate: None,
                        question: "请报值班员姓名".into(),
                        created: now,
                        deadline: now,
                        warn_type: None,
                        warn_time: None,
                        case_id: None,
                    },
                    12,
                )
            };
            let down = request_of(&made, 4200, edition).expect("a check");
            // Through the wire, where the 2011 layout has no ANSWER_TIME.
            let codec = tianshu_jt809::Codec::new(edition);
            let header = tianshu_jt809::Header::new(edition, down.msg_id(), 12, 4200);
            let frame = codec.encode(&header, &down).expect("encoding");
            let down = codec
                .decode_frame(&frame)
                .and_then(|f| f.message())
                .expect("decoding");
            let there = received("province", &down, 12, now).expect("a request");
            assert_eq!(there.ref_id, Some(12));
            assert_eq!(there.question, "请报值班员姓名");
            let deadline = if edition == Edition::V2019 {
                now.add_millis(5 * 60_000)
            } else {
                check_deadline(now, 0)
            };
            assert_eq!(there.deadline, deadline, "{edition:?}");
            let mut there = stored(there, 3);
            there.answer = Some("李四在岗".into());
            there.answered_by = Some("li".into());
            let Some(Message::UpPlatform(tianshu_jt809::UpPlatform::PostQueryAck(a))) =
                answer_of(&there, edition)
            else {
                panic!("no answer")
            };
            assert_eq!(tianshu_jt809::duty::answered_check(&a, edition), 12);
            assert_eq!(a.info, "李四在岗");
        }
    }
}

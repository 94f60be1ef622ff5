//! What a platform owes the other end of a link for the upper platform's requests, decided once and
//! without I/O: a platform check's (平台查岗, 0x9301) deadline, what its answer (0x1301) must carry, a
//! supervision request's (报警督办, 0x9401) answer (0x1401) and its results, and the requests an upper
//! platform sends down. The links (`tianshu-platform`) and the API only carry these out.

use serde::{Deserialize, Serialize};
use tianshu_model::{CaseState, Timestamp};

use crate::Edition;
use crate::message::{
    DownPlatform, DownWarn, Message, PlatformQuery, PostQueryAck, Supervision, UpPlatform, UpWarn, Vehicle,
    Warn, sub,
};

/// Minutes a check may wait for its answer when it names none (the 2011 layout has no ANSWER_TIME, and
/// 0 in 2019 means the same): the duty officer's usual ten.
pub const DEFAULT_ANSWER_MINUTES: u8 = 10;

/// Longest answer an operator may type, in characters (INFO_CONTENT is bounded by the frame only; a
/// duty officer's answer is a sentence or two).
pub const MAX_ANSWER_CHARS: usize = 500;

/// Longest question an upper platform's operator may send down, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;

/// OBJECT_TYPE of a check addressed to a platform's operators (the standard's 1: 当前连接的下级平台).
pub const OBJECT_PLATFORM: u8 = 1;

/// When a check received at `received` must be answered by.
pub fn check_deadline(received: Timestamp, answer_minutes: u8) -> Timestamp {
    let minutes = if answer_minutes == 0 {
        DEFAULT_ANSWER_MINUTES
    } else {
        answer_minutes
    };
    received.add_millis(i64::from(minutes) * 60_000)
}

/// Whether a request due at `deadline` is late: answered after it, or not answered and past it at `now`.
pub fn is_late(deadline: Timestamp, answered: Option<Timestamp>, now: Timestamp) -> bool {
    answered.unwrap_or(now) > deadline
}

/// An operator's answer as it is sent: trimmed, not empty, at most [`MAX_ANSWER_CHARS`]; else the reason.
pub fn checked_text(text: &str, max_chars: usize) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the text is empty".into());
    }
    let n = text.chars().count();
    if n > max_chars {
        return Err(format!(
            "the text is {n} characters, more than the {max_chars} allowed"
        ));
    }
    Ok(text.to_string())
}

/// A check as received: what its answer has to echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReceived {
    /// OBJECT_TYPE.
    pub object_type: u8,
    /// OBJECT_ID.
    pub object_id: String,
    /// INFO_ID.
    pub info_id: u32,
    /// MSG_SN of the frame that carried it (2019 answers name it).
    pub msg_sn: u32,
}

impl CheckReceived {
    /// The check a 0x9301 carried in a frame numbered `msg_sn`.
    pub fn of(q: &PlatformQuery, msg_sn: u32) -> CheckReceived {
        CheckReceived {
            object_type: q.object_type,
            object_id: q.object_id.clone(),
            info_id: q.info_id,
            msg_sn,
        }
    }
}

/// The 0x1301 answering `check` with the operator's `text` (already [`checked_text`]): the 2011 layout
/// echoes the check's OBJECT_ID and INFO_ID, the 2019 one its DATA_TYPE and MSG_SN and names the responder.
pub fn check_answer(check: &CheckReceived, text: &str, responder: &str, edition: Edition) -> Message {
    let v2019 = edition == Edition::V2019;
    Message::UpPlatform(UpPlatform::PostQueryAck(PostQueryAck {
        object_type: check.object_type,
        responder: if v2019 {
            truncate_bytes(responder, 16)
        } else {
            String::new()
        },
        responder_tel: String::new(),
        object_id: check.object_id.clone(),
        source_data_type: if v2019 { sub::POST_QUERY_REQ } else { 0 },
        source_msg_sn: if v2019 { check.msg_sn } else { 0 },
        info_id: if v2019 { 0 } else { check.info_id },
        info: text.to_string(),
    }))
}

/// Which of its sent checks an answer names: INFO_ID in 2011, the check's MSG_SN in 2019 (Tianshu
/// numbers its checks' frames with their INFO_ID, so both are the same number).
pub fn answered_check(a: &PostQueryAck, edition: Edition) -> u32 {
    match edition {
        Edition::V2011 => a.info_id,
        Edition::V2019 => a.source_msg_sn,
    }
}

/// The 0x9301 an upper platform sends: `info_id` numbers it, `object_id` names the lower platform.
pub fn check_request(info_id: u32, object_id: &str, question: &str, answer_minutes: u8) -> Message {
    Message::DownPlatform(DownPlatform::PostQuery(PlatformQuery {
        object_type: OBJECT_PLATFORM,
        object_id: truncate_bytes(object_id, 12),
        answer_minutes,
        info_id,
        info: question.to_string(),
    }))
}

/// RESULT of a supervision answer (0x1401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionResult {
    /// 0: being handled.
    Handling,
    /// 1: handled.
    Handled,
    /// 2: not to be handled.
    NotHandled,
    /// 3: to be handled later.
    Later,
}

impl SupervisionResult {
    /// The RESULT code.
    pub const fn code(self) -> u8 {
        match self {
            SupervisionResult::Handling => 0,
            SupervisionResult::Handled => 1,
            SupervisionResult::NotHandled => 2,
            SupervisionResult::Later => 3,
        }
    }

    /// The result a code stands for, `None` for a code the standard does not name.
    pub const fn of_code(code: u8) -> Option<SupervisionResult> {
        Some(match code {
            0 => SupervisionResult::Handling,
            1 => SupervisionResult::Handled,
            2 => SupervisionResult::NotHandled,
            3 => SupervisionResult::Later,
            _ => return None,
        })
    }

    /// Its name as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            SupervisionResult::Handling => "handling",
            SupervisionResult::Handled => "handled",
            SupervisionResult::NotHandled => "not_handled",
            SupervisionResult::Later => "later",
        }
    }

    /// The result named `name`, else the names it could be.
    pub fn parse(name: &str) -> Result<SupervisionResult, String> {
        [Self::Handling, Self::Handled, Self::NotHandled, Self::Later]
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| format!("result {name:?} is none of handling, handled, not_handled, later"))
    }
}

/// The states of a car's case a supervision request about the car is taken to be about (the newest
/// such case): any not withdrawn or closed.
pub const SUPERVISED_CASE_STATES: [CaseState; 4] = [
    CaseState::Open,
    CaseState::Acknowledged,
    CaseState::Explained,
    CaseState::Escalated,
];

/// A supervision's answer once the case it is about has reached `state`: handled when the unit has
/// explained it or it was closed or withdrawn; `None` while it is still being dealt with.
pub const fn supervision_result_of(state: CaseState) -> Option<SupervisionResult> {
    match state {
        CaseState::Explained | CaseState::Closed | CaseState::Withdrawn => Some(SupervisionResult::Handled),
        CaseState::Open | CaseState::Acknowledged | CaseState::Escalated => None,
    }
}

/// The 0x1401 answering supervision `supervision_id` about `vehicle` (the 2011 container names it).
pub fn supervision_answer(
    supervision_id: u32,
    vehicle: &Vehicle,
    result: SupervisionResult,
    edition: Edition,
) -> Message {
    Message::UpWarn(Warn {
        vehicle: (edition == Edition::V2011).then(|| vehicle.clone()),
        data: UpWarn::UrgeTodoAck {
            supervision_id,
            result: result.code(),
        },
    })
}

/// What an upper platform's operator asks in a supervision request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisionAsked<'a> {
    /// SUPERVISION_ID.
    pub supervision_id: u32,
    /// The car.
    pub vehicle: &'a Vehicle,
    /// WARN_TYPE of the alarm supervised.
    pub warn_type: u16,
    /// When the alarm happened.
    pub warn_time: Timestamp,
    /// SUPERVISION_ENDTIME.
    pub deadline: Timestamp,
    /// SUPERVISOR: who asks.
    pub supervisor: &'a str,
}

/// The 0x9401 an upper platform sends (WARN_SRC 3: a government platform; level 1: normal).
pub fn supervision_request(asked: &SupervisionAsked<'_>, edition: Edition) -> Message {
    let secs = |t: Timestamp| u64::try_from(t.secs()).unwrap_or(0);
    Message::DownWarn(Warn {
        vehicle: (edition == Edition::V2011).then(|| asked.vehicle.clone()),
        data: DownWarn::Supervision(Supervision {
            warn_src: 3,
            warn_type: asked.warn_type,
            warn_time_utc: secs(asked.warn_time),
            supervision_id: asked.supervision_id,
            deadline_utc: secs(asked.deadline),
            level: 1,
            supervisor: truncate_bytes(asked.supervisor, 16),
            supervisor_tel: String::new(),
            supervisor_email: String::new(),
        }),
    })
}

/// A supervision request's deadline: SUPERVISION_ENDTIME, or [`DEFAULT_ANSWER_MINUTES`] after its
/// receipt when it names none or one already past.
pub fn supervision_deadline(s: &Supervision, received: Timestamp) -> Timestamp {
    let named = Timestamp::from_secs(i64::try_from(s.deadline_utc).unwrap_or(i64::MAX / 1000));
    if named > received {
        named
    } else {
        check_deadline(received, 0)
    }
}

/// `text` cut to at most `max` bytes as GBK would count them (two a Chinese character), on a character
/// boundary, so a fixed-width field always takes it.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += if c.is_ascii() { 1 } else { 2 };
            used <= max
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Codec, Header};

    fn vehicle() -> Vehicle {
        Vehicle {
            plate: "鄂B12345".into(),
            color: 1,
        }
    }

    #[test]
    fn a_check_without_answer_time_gets_the_default_and_lateness_counts_from_it() {
        let t = Timestamp::from_secs(1_000);
        assert_eq!(check_deadline(t, 0), Timestamp::from_secs(1_600));
        assert_eq!(check_deadline(t, 3), Timestamp::from_secs(1_180));
        let due = check_deadline(t, 3);
        assert!(!is_late(due, Some(due), Timestamp::from_secs(9_999)));
        assert!(is_late(due, Some(due.add_millis(1)), due));
        assert!(!is_late(due, None, due));
        assert!(is_late(due, None, due.add_millis(1)));
    }

    #[test]
    fn an_answer_is_trimmed_and_neither_empty_nor_too_long() {
        assert_eq!(checked_text("  在岗 ", MAX_ANSWER_CHARS).unwrap(), "在岗");
        assert!(
            checked_text(" \n", MAX_ANSWER_CHARS)
                .unwrap_err()
                .contains("empty")
        );
        let long = "岗".repeat(MAX_ANSWER_CHARS + 1);
        assert!(checked_text(&long, MAX_ANSWER_CHARS).unwrap_err().contains("501"));
    }

    #[test]
    fn a_check_answer_echoes_what_each_edition_names_and_round_trips() {
        let asked = check_request(41, "4200", "请回复值班人员", 5);
        let Message::DownPlatform(DownPlatform::PostQuery(q)) = &asked else {
            panic!("not a check: {asked:?}")
        };
        let check = CheckReceived::of(q, 41);
        for edition in [Edition::V2011, Edition::V2019] {
            let answer = check_answer(&check, "值班员张三在岗", "张三", edition);
            let codec = Codec::new(edition);
            let frame = codec
                .encode(&Header::new(edition, answer.msg_id(), 7, 4200), &answer)
                .unwrap();
            let back = codec.decode_frame(&frame).unwrap().message().unwrap();
            assert_eq!(back, answer);
            let Message::UpPlatform(UpPlatform::PostQueryAck(a)) = back else {
                panic!("not an answer")
            };
            assert_eq!(answered_check(&a, edition), 41, "{edition:?}");
            assert_eq!(a.info, "值班员张三在岗");
        }
    }

    #[test]
    fn supervision_results_have_the_standards_codes_and_names() {
        for code in 0..4 {
            let r = SupervisionResult::of_code(code).unwrap();
            assert_eq!(r.code(), code);
            assert_eq!(SupervisionResult::parse(r.as_str()).unwrap(), r);
        }
        assert!(SupervisionResult::of_code(4).is_none());
        assert!(SupervisionResult::parse("done").is_err());
    }

    #[test]
    fn a_supervision_and_its_answer_round_trip_in_both_editions() {
        let v = vehicle();
        let asked = SupervisionAsked {
            supervision_id: 9,
            vehicle: &v,
            warn_type: 0x0001,
            warn_time: Timestamp::from_secs(1_700_000_000),
            deadline: Timestamp::from_secs(1_700_003_600),
            supervisor: "省平台值班员李四",
        };
        for edition in [Edition::V2011, Edition::V2019] {
            let codec = Codec::new(edition);
            for m in [
                supervision_request(&asked, edition),
                supervision_answer(9, &v, SupervisionResult::Handled, edition),
            ] {
                let frame = codec
                    .encode(&Header::new(edition, m.msg_id(), 1, 4200), &m)
                    .unwrap();
                assert_eq!(codec.decode_frame(&frame).unwrap().message().unwrap(), m);
            }
        }
        let Message::DownWarn(Warn {
            data: DownWarn::Supervision(s),
            ..
        }) = supervision_request(&asked, Edition::V2011)
        else {
            panic!("not a supervision")
        };
        let received = Timestamp::from_secs(1_700_000_100);
        assert_eq!(supervision_deadline(&s, received), asked.deadline);
        let late = Timestamp::from_secs(1_700_009_000);
        assert_eq!(supervision_deadline(&s, late), check_deadline(late, 0));
    }

    #[test]
    fn a_supervision_is_answered_once_its_case_is_explained_closed_or_withdrawn() {
        for state in CaseState::ALL {
            let handled = matches!(
                state,
                CaseState::Explained | CaseState::Closed | CaseState::Withdrawn
            );
            assert_eq!(supervision_result_of(state).is_some(), handled, "{state:?}");
        }
    }

    #[test]
    fn fixed_fields_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_bytes("省平台值班员李四", 16), "省平台值班员李四");
        assert_eq!(truncate_bytes("省平台值班员李四王", 16), "省平台值班员李四");
        assert_eq!(truncate_bytes("abc", 2), "ab");
    }
}

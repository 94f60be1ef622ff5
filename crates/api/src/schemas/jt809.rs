//! What the JT/T 809 platform request routes take and answer.

use serde_json::{Value, json};

use crate::resources::jt809;

use super::{Described, array, fields_of, names, nullable, object, query_of, r, time};

/// Platform checks and supervision requests.
pub(super) fn jt809(method: &str, path: &str, d: &mut Described) -> bool {
    let minutes = json!({"type": "integer", "minimum": 1, "maximum": 255, "description": "Default 10"});
    match (method, path) {
        ("GET", "/api/jt809/requests") => {
            d.query = query_of::<jt809::RequestsQuery>();
            d.ok = (200, Some(array(r("PlatformRequest"))));
        }
        ("GET", "/api/jt809/alarms") => {
            d.query = query_of::<jt809::AlarmsQuery>();
            d.ok = (200, Some(array(r("Jt809Alarm"))));
        }
        ("POST", "/api/jt809/requests/{id}/answer") => {
            d.body = Some(fields_of(
                &names::<jt809::AnswerBody>(),
                &[],
                json!({"text": {"type": "string", "minLength": 1, "maxLength": 500, "description": "A check's answer"},
                       "result": {"type": "string", "enum": ["handling", "handled", "not_handled", "later"],
                                  "description": "A supervision's result"}}),
            ));
            d.ok = (200, Some(r("PlatformRequest")));
        }
        ("POST", "/api/jt809/checks") => {
            d.body = Some(fields_of(
                &names::<jt809::CheckBody>(),
                &["peer", "question"],
                json!({"peer": {"type": "string", "description": "A [[jt809.lower]] name"},
                       "question": {"type": "string", "minLength": 1, "maxLength": 500},
                       "answer_minutes": minutes}),
            ));
            d.ok = (201, Some(r("PlatformRequest")));
        }
        ("POST", "/api/jt809/supervisions") => {
            d.body = Some(fields_of(
                &names::<jt809::SupervisionBody>(),
                &["peer"],
                json!({"peer": {"type": "string", "description": "A [[jt809.lower]] name"},
                       "plate": {"type": "string", "description": "Required without alarm_id"},
                       "warn_type": {"type": "integer", "minimum": 0, "maximum": 65535, "description": "Required without alarm_id"},
                       "alarm_id": {"type": "integer", "description": "An alarm report the peer sent: its car, WARN_TYPE and time"},
                       "warn_time": time(), "answer_minutes": minutes,
                       "case_id": nullable(json!({"type": "string"}))}),
            ));
            d.ok = (201, Some(r("PlatformRequest")));
        }
        _ => return false,
    }
    true
}

/// The schemas of the platform requests.
pub(super) fn components() -> Value {
    let opt_int = || nullable(json!({"type": "integer"}));
    let opt_text = || nullable(json!({"type": "string"}));
    json!({
        "PlatformRequest": object(
            &["id", "direction", "kind", "peer", "ref_id", "msg_sn", "object_type", "object_id", "plate", "question",
              "created", "deadline", "answer", "answered", "answered_by", "warn_type", "warn_time", "case_id", "sent", "late"],
            json!({
                "id": {"type": "integer"},
                "direction": {"type": "string", "enum": ["received", "sent"],
                              "description": "received: from an upper platform, answered here; sent: to a lower platform"},
                "kind": {"type": "string", "enum": ["check", "supervision"]},
                "peer": {"type": "string"}, "ref_id": {"type": "integer", "description": "INFO_ID or SUPERVISION_ID"},
                "msg_sn": {"type": "integer"}, "object_type": {"type": "integer"}, "object_id": {"type": "string"},
                "plate": opt_text(), "question": {"type": "string"}, "created": time(), "deadline": time(),
                "answer": opt_text(), "answered": nullable(time()), "answered_by": opt_text(),
                "warn_type": opt_int(), "warn_time": nullable(time()), "case_id": opt_text(),
                "sent": nullable(time()),
                "late": {"type": "boolean", "description": "Answered after the deadline, or unanswered past it"}})),
        "Jt809Alarm": object(
            &["id", "peer", "plate", "vehicle_id", "warn_src", "warn_type", "warn_time", "start", "end", "info_id",
              "info", "received", "warn_type_name"],
            json!({
                "id": {"type": "integer"}, "peer": {"type": "string", "description": "The lower platform that sent it"},
                "plate": {"type": "string"}, "vehicle_id": {"type": "integer"},
                "warn_src": {"type": "integer", "description": "WARN_SRC (2011; 0 in 2019)"},
                "warn_type": {"type": "integer", "description": "WARN_TYPE"}, "warn_time": time(),
                "start": nullable(time()), "end": nullable(time()),
                "info_id": {"type": "integer", "description": "INFO_ID (2011: the lower platform's case number; 0 in 2019)"},
                "info": {"type": "string"}, "received": time(),
                "warn_type_name": opt_text()})),
    })
}

//! The casework of the oversight office as plain data: public complaints (举报), what they name, their
//! steps, and the finding and accountability record that closes any case.
//!
//! Which step leads from which complaint state, how a deadline is counted in working days, what a
//! finding must hold and how the yearly figures are counted are decisions of the rules
//! (`tianshu_rules::casework`); this is the vocabulary every layer shares.

use serde::{Deserialize, Serialize};

use crate::{Timestamp, UnitId, VehicleId};

macro_rules! id_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),*
        }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// The id used in the database and the API.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),* }
            }
            /// Parses an id.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.as_str() == s)
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

id_enum!(
    /// How a complaint reached the office.
    Channel {
        /// The office's own hotline.
        Hotline = "hotline",
        /// Transferred from the 12345 citizens' hotline.
        Transfer12345 = "12345",
        /// A letter.
        Letter = "letter",
        /// The web form.
        WebForm = "web_form",
        /// In person.
        InPerson = "in_person",
        /// Forwarded by the discipline commission.
        Discipline = "discipline_commission",
    }
);

id_enum!(
    /// Where a complaint is in its life.
    ComplaintState {
        /// Entered; not yet passed to a unit.
        Received = "received",
        /// Passed to the car's unit, which owes an answer by the deadline.
        Forwarded = "forwarded",
        /// The unit answered; an inspector is to accept it or send it back.
        Answered = "answered",
        /// The inspector accepted the unit's answer; the reporter is still to be answered.
        Accepted = "accepted",
        /// The reporter was answered: done.
        Replied = "replied",
    }
);

id_enum!(
    /// What a case was found to be.
    FindingOutcome {
        /// Nothing in it.
        Unfounded = "unfounded",
        /// The use was explained and covered (an order, an emergency).
        Explained = "explained",
        /// A violation, of a type from the configured list.
        Confirmed = "confirmed",
    }
);

id_enum!(
    /// What a person held to account was given.
    Measure {
        /// 批评教育.
        Criticism = "批评教育",
        /// 诫勉谈话.
        Admonition = "诫勉谈话",
        /// 通报批评.
        CircularCriticism = "通报批评",
        /// 组织处理.
        Organisational = "组织处理",
        /// 党纪处分 (a Party sanction).
        PartySanction = "党纪处分",
        /// 政务处分 (an administrative sanction).
        AdministrativeSanction = "政务处分",
        /// 移送司法机关.
        Judiciary = "移送司法机关",
    }
);

impl Measure {
    /// A Party or administrative sanction (the office's "given sanctions" figure).
    pub const fn is_sanction(self) -> bool {
        matches!(self, Measure::PartySanction | Measure::AdministrativeSanction)
    }
}

/// The violation types a confirmed finding may name, when the configuration lists none.
pub const DEFAULT_VIOLATION_TYPES: &[&str] = &[
    "公车私用",
    "节假日违规用车",
    "超范围/超标准用车",
    "无单出车",
    "私车公养",
    "违规使用加油卡",
];

/// A car a complaint names, as written and as resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCar {
    /// What the reporter said (a plate, part of one, a marking number).
    pub text: String,
    /// The car it was resolved to; `None` when nothing (or more than one car) matched: kept as free
    /// text and flagged unresolved.
    pub vehicle: Option<VehicleId>,
    /// The resolved car's plate.
    pub plate: Option<String>,
    /// The resolved car's unit.
    pub unit: Option<UnitId>,
    /// Other cars it could be, when it matched more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
}

impl NamedCar {
    /// Whether it names one known car.
    pub fn resolved(&self) -> bool {
        self.vehicle.is_some()
    }
}

/// A complaint as entered (the phone in clear only on its way to be sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComplaint {
    /// When it was received.
    pub received: Timestamp,
    /// How.
    pub channel: Channel,
    /// The reporter's name; `None`: anonymous.
    pub reporter_name: Option<String>,
    /// The reporter's phone number, sealed (never stored in clear).
    pub phone_sealed: Option<String>,
    /// The number as shown masked.
    pub phone_masked: Option<String>,
    /// What was reported.
    pub text: String,
    /// The place named.
    pub place: String,
    /// The time window named.
    pub window: Option<(Timestamp, Timestamp)>,
    /// The cars named, resolved where possible.
    pub cars: Vec<NamedCar>,
    /// Who entered it.
    pub entered_by: String,
}

/// A complaint as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    /// Id.
    pub id: i64,
    /// When it was received.
    pub received: Timestamp,
    /// How.
    pub channel: Channel,
    /// The reporter's name (`None`: anonymous, or not shown to the caller).
    pub reporter_name: Option<String>,
    /// The reporter's number, masked (`None`: none given, or not shown to the caller).
    pub reporter_phone: Option<String>,
    /// What was reported.
    pub text: String,
    /// The place named.
    pub place: String,
    /// Start of the time window named.
    pub window_from: Option<Timestamp>,
    /// End of the time window named.
    pub window_to: Option<Timestamp>,
    /// The cars named.
    pub cars: Vec<NamedCar>,
    /// Whether some named car could not be resolved.
    pub unresolved: bool,
    /// Where it is.
    pub state: ComplaintState,
    /// The unit it is forwarded to.
    pub unit: Option<UnitId>,
    /// When the unit's answer is due.
    pub deadline: Option<Timestamp>,
    /// When it was (first) forwarded.
    pub forwarded: Option<Timestamp>,
    /// When the unit (last) answered.
    pub answered: Option<Timestamp>,
    /// Whether the unit's first answer came by the deadline.
    pub answered_in_time: Option<bool>,
    /// When the reporter was answered.
    pub replied: Option<Timestamp>,
    /// When it was escalated for being overdue.
    pub escalated: Option<Timestamp>,
    /// The alert cases it is linked to (and the one opened from it).
    pub cases: Vec<i64>,
    /// Who entered it.
    pub entered_by: String,
    /// Last change.
    pub updated: Timestamp,
}

impl Complaint {
    /// Whether the unit it was forwarded to passes `in_scope` (never, before it is forwarded).
    pub fn unit_in_scope(&self, in_scope: impl Fn(UnitId) -> bool) -> bool {
        self.forwarded.is_some() && self.unit.is_some_and(in_scope)
    }
}

/// One step of a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintEvent {
    /// When.
    pub time: Timestamp,
    /// Who (a username, or `system`).
    pub actor: String,
    /// What: `received`, `forwarded`, `answered`, `accepted`, `sent_back`, `replied`, `escalated`,
    /// `linked`, `case_opened`.
    pub action: String,
    /// What was said (the unit's answer, the reply to the reporter with how it was given).
    pub note: String,
}

/// Which complaints to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComplaintFilter {
    /// Only these states (all when empty).
    pub states: Vec<ComplaintState>,
    /// Only complaints forwarded to these units (`None`: any, forwarded or not).
    pub units: Option<Vec<UnitId>>,
    /// Only these channels.
    pub channel: Option<Channel>,
    /// Received at or after.
    pub from: Option<Timestamp>,
    /// Received before.
    pub to: Option<Timestamp>,
    /// Only those with an unresolved named car.
    pub unresolved: Option<bool>,
    /// Only those whose deadline passed before this instant without an answer.
    pub overdue_at: Option<Timestamp>,
    /// Text contained in what was reported or the place.
    pub text: Option<String>,
    /// At most this many, newest first.
    pub limit: u32,
    /// Skip this many.
    pub offset: u32,
}

/// One person held to account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accountable {
    /// Name.
    pub name: String,
    /// Post.
    #[serde(default)]
    pub post: String,
    /// Unit (as written).
    #[serde(default)]
    pub unit: String,
    /// The measure.
    pub measure: Measure,
}

/// What a case was found to be, and who was held to account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The case.
    pub case_id: i64,
    /// The outcome.
    pub outcome: FindingOutcome,
    /// The violation type (confirmed only).
    pub violation: Option<String>,
    /// The people held to account (confirmed only).
    pub people: Vec<Accountable>,
    /// Amount recovered, in fen (1/100 yuan).
    pub recovered_fen: i64,
    /// The date decided (local), `YYYY-MM-DD`.
    pub decided: chrono::NaiveDate,
    /// A note.
    pub note: String,
    /// The case's unit.
    pub unit: UnitId,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded: Timestamp,
}

/// The reporter's number as shown to whoever may not see it: the first three and last four digits
/// (`138****5678`); a number too short for that is starred whole.
pub fn mask_reporter_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n < 9 {
        return "*".repeat(n);
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 3 || i >= n - 4 { *c } else { '*' })
        .collect()
}

/// A reporter's phone number as accepted: digits, with an optional leading `+` and `-` or spaces
/// removed; 5 to 20 digits.
pub fn normalise_reporter_phone(s: &str) -> Result<String, String> {
    let t: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = t.strip_prefix('+').unwrap_or(&t);
    if digits.len() < 5 || digits.len() > 20 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{s:?} is not a phone number (5 to 20 digits)"));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_as_the_office_shows_them() {
        assert_eq!(mask_reporter_phone("13812345678"), "138****5678");
        assert_eq!(mask_reporter_phone("07146221234"), "071****1234");
        assert_eq!(mask_reporter_phone("12345"), "*****");
    }

    #[test]
    fn phones_are_normalised_or_refused() {
        assert_eq!(normalise_reporter_phone("138-1234 5678").unwrap(), "13812345678");
        assert!(normalise_reporter_phone("call me").is_err());
        assert!(normalise_reporter_phone("123").is_err());
    }

    #[test]
    fn ids_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(*c));
        }
        for m in Measure::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!(ComplaintState::parse("replied"), Some(ComplaintState::Replied));
        assert!(Measure::PartySanction.is_sanction() && !Measure::Judiciary.is_sanction());
    }
}

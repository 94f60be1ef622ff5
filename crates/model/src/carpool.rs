//! The office's car pool (用车保障): a unit's request for a car, the licence classes (准驾车型) a driver
//! holds and a car needs, and the fleet fields the reform's figures count (ownership, kept or disposed,
//! marking, terminal). Plain data and the checks every write makes; deciding what is free and who may
//! drive is `tianshu_rules::carpool`'s.

use serde::{Deserialize, Serialize};

use crate::{Timestamp, UnitId, VehicleClass, VehicleId};

/// How far before now a request's window may start (the few minutes between a call and its entry).
pub const PAST_GRACE_MS: i64 = 10 * 60 * 1000;

/// The kind of service asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// Ordinary official business.
    Regular,
    /// Emergency response (应急保障).
    Emergency,
    /// A campaign, an exam or another temporary task (专项保障).
    Campaign,
}

impl ServiceKind {
    /// Every kind, in order.
    pub const ALL: [ServiceKind; 3] = [
        ServiceKind::Regular,
        ServiceKind::Emergency,
        ServiceKind::Campaign,
    ];

    /// The snake_case id used in the API and the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Regular => "regular",
            ServiceKind::Emergency => "emergency",
            ServiceKind::Campaign => "campaign",
        }
    }

    /// Parses [`ServiceKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A driving licence class (准驾车型) of the Chinese licence, the ones an official car needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LicenceClass {
    /// Large bus.
    A1,
    /// Tractor-trailer.
    A2,
    /// City bus.
    A3,
    /// Medium bus.
    B1,
    /// Large truck.
    B2,
    /// Small car, manual or automatic.
    #[default]
    C1,
    /// Small car, automatic only.
    C2,
}

impl LicenceClass {
    /// Every class.
    pub const ALL: [LicenceClass; 7] = [
        LicenceClass::A1,
        LicenceClass::A2,
        LicenceClass::A3,
        LicenceClass::B1,
        LicenceClass::B2,
        LicenceClass::C1,
        LicenceClass::C2,
    ];

    /// The class's name (`C1`).
    pub const fn as_str(self) -> &'static str {
        match self {
            LicenceClass::A1 => "A1",
            LicenceClass::A2 => "A2",
            LicenceClass::A3 => "A3",
            LicenceClass::B1 => "B1",
            LicenceClass::B2 => "B2",
            LicenceClass::C1 => "C1",
            LicenceClass::C2 => "C2",
        }
    }

    /// Parses [`LicenceClass::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }

    /// Whether a holder of this class may drive a car that needs `needed` (the classes each licence
    /// includes: A1 takes A3, B1, B2, C1, C2; A2 takes B1, B2, C1, C2; A3, B1 and B2 take C1 and C2; C1
    /// takes C2).
    pub fn permits(self, needed: LicenceClass) -> bool {
        use LicenceClass::*;
        self == needed
            || match self {
                A1 => matches!(needed, A3 | B1 | B2 | C1 | C2),
                A2 => matches!(needed, B1 | B2 | C1 | C2),
                A3 | B1 | B2 => matches!(needed, C1 | C2),
                C1 => needed == C2,
                C2 => false,
            }
    }
}

impl std::fmt::Display for LicenceClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named place: the pickup or a destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// Its name.
    pub name: String,
    /// Longitude, degrees WGS-84.
    pub lon: f64,
    /// Latitude, degrees WGS-84.
    pub lat: f64,
}

impl Place {
    /// Its position.
    pub fn at(&self) -> crate::LonLat {
        crate::LonLat::new(self.lon, self.lat)
    }

    fn checked(&self, field: &str) -> Result<Place, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(format!("{field}: a place's name has 1 to 100 characters"));
        }
        if !((-180.0..=180.0).contains(&self.lon) && (-90.0..=90.0).contains(&self.lat)) {
            return Err(format!(
                "{field}: {name:?} has invalid coordinates {}, {}",
                self.lon, self.lat
            ));
        }
        Ok(Place {
            name: name.to_string(),
            ..self.clone()
        })
    }
}

/// What a request asks for, as created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFields {
    /// The unit served: the requester's own when absent.
    #[serde(default)]
    pub unit: Option<UnitId>,
    /// Start of the window (UTC).
    pub start: Timestamp,
    /// End of the window (UTC), exclusive.
    pub end: Timestamp,
    /// Where the car picks up.
    pub from: Place,
    /// Where it goes, in order.
    pub destinations: Vec<Place>,
    /// How many people ride.
    pub passengers: u32,
    /// What the trip is for.
    pub purpose: String,
    /// Regular, emergency or campaign.
    pub kind: ServiceKind,
    /// The vehicle class wanted, when any.
    #[serde(default)]
    pub class: Option<VehicleClass>,
}

impl RequestFields {
    /// The fields trimmed, or what is wrong, the field first: a window that ends before it starts, or
    /// starts more than [`PAST_GRACE_MS`] before `now`, no destination, 1 to 50 passengers, a purpose.
    pub fn checked(&self, now: Timestamp) -> Result<RequestFields, String> {
        if self.end <= self.start {
            return Err(format!("end: {} is not after start {}", self.end, self.start));
        }
        if self.start < now.add_millis(-PAST_GRACE_MS) {
            return Err(format!(
                "start: {} is in the past (now {}): a car is asked for ahead",
                self.start, now
            ));
        }
        if self.end.0 - self.start.0 > 31 * 86_400_000 {
            return Err("end: a window is at most 31 days".into());
        }
        let from = self.from.checked("from")?;
        if self.destinations.is_empty() || self.destinations.len() > 20 {
            return Err("destinations: 1 to 20 places".into());
        }
        let destinations = self
            .destinations
            .iter()
            .map(|d| d.checked("destinations"))
            .collect::<Result<Vec<_>, _>>()?;
        if !(1..=50).contains(&self.passengers) {
            return Err(format!("passengers: {} is not 1 to 50", self.passengers));
        }
        let purpose = self.purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > 200 {
            return Err("purpose: 1 to 200 characters".into());
        }
        Ok(RequestFields {
            from,
            destinations,
            purpose: purpose.to_string(),
            ..self.clone()
        })
    }
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for the dispatch office.
    Pending,
    /// A car and a driver are assigned: an approved dispatch order covers the window.
    Assigned,
    /// Withdrawn or refused.
    Cancelled,
    /// The trip is settled from its track.
    Settled,
}

impl RequestState {
    /// Every state.
    pub const ALL: [RequestState; 4] = [
        RequestState::Pending,
        RequestState::Assigned,
        RequestState::Cancelled,
        RequestState::Settled,
    ];

    /// The id used in the API and the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Assigned => "assigned",
            RequestState::Cancelled => "cancelled",
            RequestState::Settled => "settled",
        }
    }

    /// Parses [`RequestState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The car and driver a request was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The car.
    pub vehicle: VehicleId,
    /// Its plate.
    pub plate: String,
    /// The driver's registry id.
    pub driver: i64,
    /// The dispatch order that covers the trip.
    pub order: String,
    /// Who assigned it.
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// Whether a destination was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reached {
    /// The destination's name.
    pub name: String,
    /// When the car first came within reach of it; none when it never did.
    pub at: Option<Timestamp>,
}

/// A trip settled from its track, and the dispatcher's confirmation or correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    /// When the car set off (the first trip's start).
    pub departure: Option<Timestamp>,
    /// When it was back (the last trip's end).
    pub returned: Option<Timestamp>,
    /// Kilometres driven, from the track.
    pub km: f64,
    /// Kilometres the trip needs: the legs pickup, destinations, pickup, straight, times the detour
    /// factor.
    pub route_km: f64,
    /// Each destination, reached or not.
    pub destinations: Vec<Reached>,
    /// Seconds outside the corridor around the legs.
    pub outside_corridor_s: i64,
    /// Seconds standing with the engine on.
    pub idle_s: i64,
    /// What is beyond the thresholds (each opens a case).
    pub differences: Vec<String>,
    /// Who confirmed or corrected it, once done.
    #[serde(default)]
    pub confirmed_by: Option<String>,
    /// The dispatcher's note with a correction.
    #[serde(default)]
    pub note: Option<String>,
}

/// The dispatcher's confirmation of a settlement: the km corrected when the track was short (a blind
/// area), with a note saying why.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementCorrection {
    /// The km, corrected.
    #[serde(default)]
    pub km: Option<f64>,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

impl SettlementCorrection {
    /// `s` confirmed by `by` with this correction, or what is wrong: a correction needs a note, km are 0
    /// to 5000.
    pub fn apply(&self, mut s: Settlement, by: &str) -> Result<Settlement, String> {
        let note = self.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if let Some(km) = self.km {
            if !(km.is_finite() && (0.0..=5000.0).contains(&km)) {
                return Err(format!("km: {km} is not 0 to 5000"));
            }
            if note.is_none() {
                return Err("note: a correction says why".into());
            }
            s.km = km;
        }
        s.note = note.map(str::to_string);
        s.confirmed_by = Some(by.to_string());
        Ok(s)
    }
}

/// The requester's rating of a settled trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// 1 (poor) to 5 (excellent).
    pub stars: u8,
    /// What the requester says of the trip.
    #[serde(default)]
    pub note: Option<String>,
}

impl Rating {
    /// The rating trimmed, or what is wrong, the field first: 1 to 5 stars, a note of at most 500
    /// characters.
    pub fn checked(&self) -> Result<Rating, String> {
        if !(1..=5).contains(&self.stars) {
            return Err(format!("stars: {} is not 1 to 5", self.stars));
        }
        let note = self.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 500) {
            return Err("note: at most 500 characters".into());
        }
        Ok(Rating {
            stars: self.stars,
            note: note.map(str::to_string),
        })
    }
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarRequest {
    /// Its id.
    pub id: i64,
    /// The unit served.
    pub unit: UnitId,
    /// Who asked.
    pub requester: String,
    /// Its state.
    pub state: RequestState,
    /// When it was asked.
    pub created: Timestamp,
    /// What was asked for (`unit` filled in).
    pub fields: RequestFields,
    /// The car and driver given, once assigned.
    pub assignment: Option<Assignment>,
    /// The trip settled from its track, once settled.
    #[serde(default)]
    pub settlement: Option<Settlement>,
    /// The requester's rating, once the settled trip is rated.
    #[serde(default)]
    pub rating: Option<Rating>,
}

impl CarRequest {
    /// Whether `username` in `role` may rate the trip: a requester only the trips they asked for; a
    /// supervisor or an administrator (whose scope the caller checked) on the unit's behalf.
    pub fn may_rate(&self, username: &str, role: crate::access::Role) -> bool {
        role != crate::access::Role::Requester || self.requester == username
    }
}

/// Who owns a car.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    /// The unit it is registered to.
    #[default]
    Unit,
    /// The office's pool (平台统一调度).
    Pool,
}

/// How a car left the fleet in the reform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisposalHow {
    /// Sold at auction (拍卖).
    Auctioned,
    /// Transferred to another body (划转).
    Transferred,
    /// Scrapped (报废).
    Scrapped,
}

/// A car's marking (标识化).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkingStatus {
    /// Not marked yet.
    #[default]
    Unmarked,
    /// Marked.
    Marked,
    /// Exempt, with a reason.
    Exempt,
}

/// A car's terminal, as the reform counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalStatus {
    /// Not installed yet.
    #[default]
    Missing,
    /// Installed.
    Installed,
    /// Exempt, with a reason (public security, procuratorate, discipline and state security cars).
    Exempt,
}

/// A car's fleet fields for the reform's figures and the pool, as an administrator records them; a car
/// without any has the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFields {
    /// The licence class its driver needs.
    #[serde(default)]
    pub licence_needed: LicenceClass,
    /// The unit's, or the pool's.
    #[serde(default)]
    pub ownership: Ownership,
    /// The day it was disposed of (`YYYY-MM-DD`, China time); none while it is kept.
    #[serde(default)]
    pub disposed_on: Option<String>,
    /// How it was disposed of; present exactly with `disposed_on`.
    #[serde(default)]
    pub disposal: Option<DisposalHow>,
    /// Its marking.
    #[serde(default)]
    pub marking_status: MarkingStatus,
    /// Why it is exempt from marking; present exactly when it is.
    #[serde(default)]
    pub marking_exempt_reason: Option<String>,
    /// Its terminal.
    #[serde(default)]
    pub terminal_status: TerminalStatus,
    /// Why it is exempt from a terminal; present exactly when it is.
    #[serde(default)]
    pub terminal_exempt_reason: Option<String>,
}

fn reason(field: &str, exempt: bool, r: Option<&str>) -> Result<Option<String>, String> {
    let r = r.map(str::trim).filter(|r| !r.is_empty());
    match (exempt, r) {
        (true, None) => Err(format!("{field}: an exempt car needs a reason")),
        (false, Some(_)) => Err(format!("{field}: only an exempt car has a reason")),
        (_, Some(r)) if r.chars().count() > 200 => Err(format!("{field}: at most 200 characters")),
        (_, r) => Ok(r.map(str::to_string)),
    }
}

impl FleetFields {
    /// The fields trimmed, or what is wrong, the field first.
    pub fn checked(&self) -> Result<FleetFields, String> {
        let disposed_on = self
            .disposed_on
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        if let Some(d) = disposed_on
            && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
        {
            return Err(format!("disposed_on: {d:?} is not a date YYYY-MM-DD"));
        }
        if disposed_on.is_some() != self.disposal.is_some() {
            return Err("disposal: a disposed car has both its day (disposed_on) and how (disposal)".into());
        }
        Ok(FleetFields {
            disposed_on: disposed_on.map(str::to_string),
            marking_exempt_reason: reason(
                "marking_exempt_reason",
                self.marking_status == MarkingStatus::Exempt,
                self.marking_exempt_reason.as_deref(),
            )?,
            terminal_exempt_reason: reason(
                "terminal_exempt_reason",
                self.terminal_status == TerminalStatus::Exempt,
                self.terminal_exempt_reason.as_deref(),
            )?,
            ..self.clone()
        })
    }

    /// Whether the car has left the fleet.
    pub fn disposed(&self) -> bool {
        self.disposal.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(name: &str) -> Place {
        Place {
            name: name.into(),
            lon: 115.0,
            lat: 30.2,
        }
    }

    fn request(start_min: i64, end_min: i64) -> RequestFields {
        RequestFields {
            unit: None,
            start: Timestamp(start_min * 60_000),
            end: Timestamp(end_min * 60_000),
            from: place(" 市委 "),
            destinations: vec![place("阳新县")],
            passengers: 2,
            purpose: " 检查 ".into(),
            kind: ServiceKind::Regular,
            class: None,
        }
    }

    #[test]
    fn a_rating_has_one_to_five_stars_and_a_short_note() {
        let ok = Rating {
            stars: 4,
            note: Some(" 准时 ".into()),
        };
        assert_eq!(ok.checked().unwrap().note.as_deref(), Some("准时"));
        let blank = Rating {
            stars: 5,
            note: Some(" ".into()),
        };
        assert_eq!(blank.checked().unwrap().note, None);
        for (r, field) in [
            (Rating { stars: 0, note: None }, "stars: "),
            (Rating { stars: 6, note: None }, "stars: "),
            (
                Rating {
                    stars: 3,
                    note: Some("长".repeat(501)),
                },
                "note: ",
            ),
        ] {
            assert!(r.checked().unwrap_err().starts_with(field));
        }
    }

    #[test]
    fn a_licence_permits_the_classes_it_includes() {
        use LicenceClass::*;
        assert!(A1.permits(C1) && A1.permits(B1) && !A1.permits(A2));
        assert!(B2.permits(C1) && !B2.permits(B1));
        assert!(C1.permits(C2) && C1.permits(C1) && !C1.permits(B1));
        assert!(!C2.permits(C1));
        for c in LicenceClass::ALL {
            assert!(c.permits(c));
            assert_eq!(LicenceClass::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn a_request_is_trimmed_and_each_bad_field_is_named_first() {
        let now = Timestamp(1000 * 60_000);
        let ok = request(1005, 1060).checked(now).unwrap();
        assert_eq!((ok.from.name.as_str(), ok.purpose.as_str()), ("市委", "检查"));
        // Within the grace a window may have started.
        assert!(request(995, 1060).checked(now).is_ok());
        let mut no_dest = request(1005, 1060);
        no_dest.destinations.clear();
        let mut crowd = request(1005, 1060);
        crowd.passengers = 0;
        let mut bad_place = request(1005, 1060);
        bad_place.destinations[0].lat = 91.0;
        let mut no_purpose = request(1005, 1060);
        no_purpose.purpose = " ".into();
        for (r, field) in [
            (request(1060, 1005), "end: "),
            (request(900, 1060), "start: "),
            (no_dest, "destinations: "),
            (crowd, "passengers: "),
            (bad_place, "destinations: "),
            (no_purpose, "purpose: "),
        ] {
            let e = r.checked(now).unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
    }

    #[test]
    fn fleet_fields_need_a_reason_exactly_when_exempt_and_a_disposal_in_full() {
        let ok = FleetFields {
            terminal_status: TerminalStatus::Exempt,
            terminal_exempt_reason: Some(" 公安 ".into()),
            disposed_on: Some("2026-03-01".into()),
            disposal: Some(DisposalHow::Auctioned),
            ..FleetFields::default()
        }
        .checked()
        .unwrap();
        assert_eq!(ok.terminal_exempt_reason.as_deref(), Some("公安"));
        assert!(ok.disposed());
        for (f, field) in [
            (
                FleetFields {
                    marking_status: MarkingStatus::Exempt,
                    ..FleetFields::default()
                },
                "marking_exempt_reason: ",
            ),
            (
                FleetFields {
                    terminal_exempt_reason: Some("x".into()),
                    ..FleetFields::default()
                },
                "terminal_exempt_reason: ",
            ),
            (
                FleetFields {
                    disposed_on: Some("2026-13-01".into()),
                    disposal: Some(DisposalHow::Scrapped),
                    ..FleetFields::default()
                },
                "disposed_on: ",
            ),
            (
                FleetFields {
                    disposal: Some(DisposalHow::Scrapped),
                    ..FleetFields::default()
                },
                "disposal: ",
            ),
        ] {
            let e = f.checked().unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
    }
}

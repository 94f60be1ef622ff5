//! One uplink: how a terminal's position message becomes track points, whatever carried it.
//!
//! A TCP session and MQTT ingest both hand the decoded message here (a JT/T 808 0x0200, 0x0201 or 0x0704,
//! or points already built from a JSON position) with the terminal's [`Binding`]: its phone, its vehicle and
//! the receive time. What comes back ([`Uplink`]) is the points to store and one [`Refusal`] per report that
//! cannot be stored, with a bounded reason label both transports count alike. What a transport does with a
//! message none of whose points survive (answer "bad message", refuse the MQTT message) stays its own.
//!
//! Invariants:
//! - A report is refused alone: a garbled item of a 0x0704 batch does not cost the others.
//! - Every point returned carries the binding's phone and vehicle and its receive time.
//! - Every point returned has a fix time the store accepts ([`tianshu_store::accepts_fix_time`]), so an
//!   append of these points is not refused because of one of them.
//! - A terminal's clock offset ([`Binding::clock_offset_secs`], set by an administrator for a clock a
//!   steady number of hours off) is added to every fix time here, before any check, whatever carried it:
//!   what is checked, stored and ruled on is the corrected time.
//! - No point returned is dated more than [`UplinkConfig::max_fix_ahead_secs`] after its receive time: a
//!   clock that runs ahead (or a forged 2099) would otherwise pin the live map and open cases that end in
//!   the future. A point dated more than [`UplinkConfig::far_past_days`] before is kept and counted.
//! - [`Uplink::live_fix`] is the fix time of a live report as the terminal sent it (uncorrected), for
//!   finding its clock's offset ([`tianshu_model::ClockWatch`]).
//! - Pure: no I/O and no clock (the caller passes the receive time).

use tianshu_jt808::{LocationReport, Message};
use tianshu_model::clock::corrected;
use tianshu_model::{Phone, Position, PositionSource, Timestamp, VehicleId};

/// The reason label of a point whose fix time the store does not take (before 1970, or from 3000 on).
pub const FIX_TIME_OUT_OF_RANGE: &str = "fix_time_out_of_range";

/// The reason label of a point dated too far after its receive time.
pub const FIX_TIME_AHEAD: &str = "fix_time_ahead";

/// What fix times the uplink takes, whatever the transport (the `[uplink]` section of the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UplinkConfig {
    /// How far after its receive time a fix may be dated, in seconds. A later one is refused (a 0x0200 is
    /// answered "bad message", an item of a 0x0704 is refused alone): it never reaches the store, the live
    /// map or the rules. Covers terminal clocks running somewhat fast.
    pub max_fix_ahead_secs: u64,
    /// A fix dated more than this many days before its receive time is stored (a long blind-area backfill is
    /// legitimate) but counted in `tianshu_points_far_past_total`, so a clock stuck in the past is seen.
    pub far_past_days: u32,
}

impl Default for UplinkConfig {
    fn default() -> Self {
        UplinkConfig {
            max_fix_ahead_secs: 600,
            far_past_days: 30,
        }
    }
}

/// Whose points these are, and when they arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The terminal that sent them.
    pub phone: Phone,
    /// The vehicle it is bound to.
    pub vehicle: VehicleId,
    /// When the platform received them.
    pub recv_time: Timestamp,
    /// Seconds added to the terminal's fix times (its administrator-set clock offset; 0 for none).
    pub clock_offset_secs: i32,
    /// What fix times are taken.
    pub config: UplinkConfig,
}

/// Why a report (or a whole message) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A fixed label for metrics (a bounded set: codec error kinds, [`FIX_TIME_OUT_OF_RANGE`], ...).
    pub reason: &'static str,
    /// Details for the log.
    pub detail: String,
}

impl Refusal {
    /// A refusal for `reason`, with `detail` for the log.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Refusal {
            reason,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// The points of one message, and its reports that were refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uplink {
    /// Points to store, bound and stamped, in the order the message carried them.
    pub points: Vec<Position>,
    /// One per report that cannot be stored.
    pub refused: Vec<Refusal>,
    /// Points kept although dated more than [`UplinkConfig::far_past_days`] before their receive time.
    pub far_past: u32,
    /// Points whose fix time the terminal's clock offset corrected.
    pub corrected: u32,
    /// The fix time of the message's live report (a 0x0200, a 0x0201, a JSON position) as the terminal sent
    /// it, before any correction, whether or not it was taken; none for a batch (its reports may be old).
    pub live_fix: Option<Timestamp>,
}

impl Uplink {
    /// The points of a position message (0x0200, 0x0201, 0x0704) sent by the terminal of `binding`; `None`
    /// for a message that carries no points.
    pub fn from_message(message: &Message<'_>, binding: Binding) -> Option<Uplink> {
        let mut uplink = Uplink::default();
        match message {
            Message::Location(report) => {
                uplink.live_fix = uplink.report(Ok(*report), binding, PositionSource::Live);
            }
            Message::LocationReply(reply) => {
                uplink.live_fix = uplink.report(Ok(reply.report), binding, PositionSource::Live);
            }
            Message::LocationBatch(batch) => {
                uplink.points.reserve(usize::from(batch.count).min(64));
                for report in batch.iter() {
                    uplink.report(report, binding, batch.source());
                }
            }
            _ => return None,
        }
        Some(uplink)
    }

    /// `points` (built from another payload, e.g. JSON) bound to `binding`.
    pub fn from_points(points: impl IntoIterator<Item = Position>, binding: Binding) -> Uplink {
        let mut uplink = Uplink::default();
        for mut p in points {
            p.phone = binding.phone;
            p.vehicle = binding.vehicle;
            p.recv_time = binding.recv_time;
            uplink.live_fix = Some(p.fix_time);
            uplink.point(p, binding);
        }
        uplink
    }

    /// Whether the message carried reports and not one of them can be stored.
    pub fn all_refused(&self) -> bool {
        self.points.is_empty() && !self.refused.is_empty()
    }

    /// Takes one report; its fix time as sent, when it decoded.
    fn report(
        &mut self,
        report: Result<LocationReport<'_>, tianshu_jt808::Error>,
        to: Binding,
        source: PositionSource,
    ) -> Option<Timestamp> {
        match report.and_then(|r| r.to_position(to.phone, to.vehicle, to.recv_time, source)) {
            Ok(p) => {
                let sent = p.fix_time;
                self.point(p, to);
                Some(sent)
            }
            Err(e) => {
                self.refused.push(Refusal::new(error_kind(&e), e.to_string()));
                None
            }
        }
    }

    fn point(&mut self, mut p: Position, to: Binding) {
        let config = to.config;
        if to.clock_offset_secs != 0 {
            p.fix_time = corrected(p.fix_time, to.clock_offset_secs);
        }
        let ahead_ms = p.fix_time.0.saturating_sub(p.recv_time.0);
        if !tianshu_store::accepts_fix_time(p.fix_time) {
            self.refused.push(Refusal::new(
                FIX_TIME_OUT_OF_RANGE,
                format!(
                    "fix time {} ms is outside what the store accepts (1970..3000)",
                    p.fix_time.0
                ),
            ));
        } else if ahead_ms > (config.max_fix_ahead_secs as i64).saturating_mul(1000) {
            self.refused.push(Refusal::new(
                FIX_TIME_AHEAD,
                format!(
                    "fix time {} is {} s after its receive time {} (at most {} s taken; clock offset {} s)",
                    p.fix_time,
                    ahead_ms / 1000,
                    p.recv_time,
                    config.max_fix_ahead_secs,
                    to.clock_offset_secs
                ),
            ));
        } else {
            let far_past_ms = i64::from(config.far_past_days) * 86_400_000;
            if p.recv_time.0.saturating_sub(p.fix_time.0) > far_past_ms {
                self.far_past += 1;
            }
            self.corrected += u32::from(to.clock_offset_secs != 0);
            self.points.push(p);
        }
    }
}

/// The bounded label of a codec error (metrics count refusals by it): the codec's own name for the
/// framing and field errors a terminal's link produces, `other` for the rest.
pub fn error_kind(e: &tianshu_jt808::Error) -> &'static str {
    use tianshu_jt808::Error as E;
    match e {
        E::FrameTooLong { .. }
        | E::MissingDelimiter
        | E::HeaderTooShort { .. }
        | E::BadChecksum { .. }
        | E::BodyLengthMismatch { .. }
        | E::Truncated { .. }
        | E::InvalidBcd { .. }
        | E::InvalidTime { .. } => e.kind(),
        _ => "other",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Also the report fixtures of the session machine's tests.

    use tianshu_jt808::{BasicLocation, BatchItems, Items, LocationBatch, LocationReply};
    use tianshu_model::StatusFlags;

    use super::*;

    /// The base instant of test reports: 2026-11-27T00:00:00Z.
    pub(crate) const T0: i64 = 1_795_737_600;

    fn binding() -> Binding {
        Binding {
            phone: Phone(13_800_138_000),
            vehicle: VehicleId(7),
            recv_time: Timestamp::from_secs(T0 + 100),
            clock_offset_secs: 0,
            config: UplinkConfig::default(),
        }
    }

    /// A report fixed at `T0 + secs`.
    pub(crate) fn report(secs: i64) -> LocationReport<'static> {
        let p = Position {
            fix_time: Timestamp::from_secs(T0 + secs),
            lat_e6: 30_200_000,
            lon_e6: 115_040_000,
            status: StatusFlags(StatusFlags::FIXED),
            ..Default::default()
        };
        LocationReport {
            basic: BasicLocation::from_bytes(&p.basic_block()),
            items: Items::default(),
        }
    }

    /// A report at `T0 + secs` whose clock is not BCD (a damaged clock chip).
    pub(crate) fn garbled(secs: i64) -> LocationReport<'static> {
        let mut r = report(secs);
        r.basic.time_bcd = [0xff; 6];
        r
    }

    /// A 0x0704 of `reports` (type 1: blind-area backfill).
    pub(crate) fn batch<'a>(reports: &'a [LocationReport<'a>], location_type: u8) -> Message<'a> {
        Message::LocationBatch(LocationBatch {
            count: reports.len() as u16,
            location_type,
            items: BatchItems::List(reports),
        })
    }

    fn fix_secs(u: &Uplink) -> Vec<i64> {
        u.points.iter().map(|p| p.fix_time.secs() - T0).collect()
    }

    #[test]
    fn a_garbled_batch_item_is_refused_alone() {
        let reports = [report(10), garbled(11), report(12)];
        let u = Uplink::from_message(&batch(&reports, 1), binding()).unwrap();
        assert_eq!(fix_secs(&u), vec![10, 12]);
        assert_eq!(u.refused.len(), 1);
        assert_eq!(u.refused[0].reason, "invalid_bcd");
        assert!(!u.all_refused());
        for p in &u.points {
            assert_eq!((p.phone, p.vehicle), (binding().phone, binding().vehicle));
            assert_eq!(p.recv_time, binding().recv_time);
            assert_eq!(p.source, PositionSource::Backfill);
        }
    }

    #[test]
    fn reports_and_answers_are_live_and_other_messages_carry_none() {
        let u = Uplink::from_message(&Message::Location(report(1)), binding()).unwrap();
        assert_eq!(
            (fix_secs(&u), u.points[0].source),
            (vec![1], PositionSource::Live)
        );
        let reply = LocationReply {
            reply_serial: 3,
            report: report(2),
        };
        let u = Uplink::from_message(&Message::LocationReply(reply), binding()).unwrap();
        assert_eq!(fix_secs(&u), vec![2]);
        assert_eq!(Uplink::from_message(&Message::Heartbeat, binding()), None);
    }

    #[test]
    fn a_fix_time_the_store_refuses_is_refused_alone() {
        let good = Position {
            fix_time: Timestamp::from_secs(T0),
            ..Default::default()
        };
        let before_1970 = Position {
            fix_time: Timestamp::from_millis(-1_000),
            ..good
        };
        let year_3000 = Position {
            fix_time: Timestamp::from_millis(tianshu_store::FIX_TIME_RANGE_MS.end),
            ..good
        };
        let u = Uplink::from_points([before_1970, good, year_3000], binding());
        assert_eq!(fix_secs(&u), vec![0]);
        assert_eq!(u.points[0].vehicle, binding().vehicle);
        let reasons: Vec<_> = u.refused.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, vec![FIX_TIME_OUT_OF_RANGE, FIX_TIME_OUT_OF_RANGE]);
        assert!(Uplink::from_points([before_1970], binding()).all_refused());
        assert!(!Uplink::from_points([], binding()).all_refused());
    }

    #[test]
    fn a_fix_dated_after_its_receive_time_beyond_the_margin_is_refused_and_the_far_past_counted() {
        let at = |secs: i64| Position {
            fix_time: Timestamp::from_secs(T0 + 100 + secs),
            ..Default::default()
        };
        // A clock a little fast is taken; ten minutes and a second ahead, or 2099, is not.
        let in_2099 = Position {
            fix_time: Timestamp::from_secs(4_070_908_800),
            ..Default::default()
        };
        let u = Uplink::from_points([at(-5), at(600), at(601), in_2099], binding());
        assert_eq!(fix_secs(&u), vec![95, 700]);
        let reasons: Vec<_> = u.refused.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, vec![FIX_TIME_AHEAD, FIX_TIME_AHEAD]);
        assert_eq!(u.far_past, 0);
        // The margin is the configuration's.
        let strict = Binding {
            config: UplinkConfig {
                max_fix_ahead_secs: 0,
                ..UplinkConfig::default()
            },
            ..binding()
        };
        assert_eq!(fix_secs(&Uplink::from_points([at(0), at(1)], strict)), vec![100]);
        // A fix from 31 days before is stored and counted; one from 29 days before only stored.
        let u = Uplink::from_points([at(-31 * 86_400), at(-29 * 86_400)], binding());
        assert_eq!((u.points.len(), u.far_past), (2, 1));
        // A 0x0200 over TCP takes the same path.
        let ahead = report(100 + 3_600);
        let u = Uplink::from_message(&Message::Location(ahead), binding()).unwrap();
        assert!(u.all_refused());
        assert_eq!(u.refused[0].reason, FIX_TIME_AHEAD);
    }

    #[test]
    fn a_clock_offset_corrects_every_fix_time_before_the_checks_and_the_sent_time_is_kept() {
        // UTC sent as China time: eight hours early, until the administrator's offset corrects it.
        let utc_as_china = report(100 - 28_800);
        let u = Uplink::from_message(&Message::Location(utc_as_china), binding()).unwrap();
        assert_eq!((fix_secs(&u), u.corrected), (vec![100 - 28_800], 0));
        let corrected = Binding {
            clock_offset_secs: 28_800,
            ..binding()
        };
        let u = Uplink::from_message(&Message::Location(utc_as_china), corrected).unwrap();
        assert_eq!((fix_secs(&u), u.corrected), (vec![100], 1));
        assert_eq!(u.live_fix, Some(Timestamp::from_secs(T0 + 100 - 28_800)));
        // A clock set right again while the correction stays: eight hours ahead, refused, and the time the
        // terminal sent still seen.
        let u = Uplink::from_message(&Message::Location(report(100)), corrected).unwrap();
        assert!(u.all_refused());
        assert_eq!(u.refused[0].reason, FIX_TIME_AHEAD);
        assert_eq!(u.live_fix, Some(Timestamp::from_secs(T0 + 100)));
        // A batch is corrected too but names no live fix; a JSON position takes the same path.
        let reports = [report(10 - 28_800), report(20 - 28_800)];
        let u = Uplink::from_message(&batch(&reports, 1), corrected).unwrap();
        assert_eq!((fix_secs(&u), u.live_fix), (vec![10, 20], None));
        let json = Position {
            fix_time: Timestamp::from_secs(T0 + 50 - 28_800),
            ..Default::default()
        };
        let u = Uplink::from_points([json], corrected);
        assert_eq!((fix_secs(&u), u.live_fix), (vec![50], Some(json.fix_time)));
    }
}

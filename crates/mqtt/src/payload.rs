//! A message's payload, from bytes to bound points: a JSON position or a raw JT/T 808 frame, validated
//! before the terminal's vehicle is known, then turned into points by the one uplink TCP uses too.

use tianshu_ingest::uplink::{Binding, Refusal as Rejection, Uplink};
use tianshu_model::{Phone, Position};
use tracing::debug;

use crate::config::PayloadKind;
use crate::metrics::METRICS;

/// A message's payload once validated, before its terminal's vehicle is known.
pub(crate) enum Payload<'a> {
    /// A JSON position.
    Json(crate::json::JsonPosition),
    /// A JT/T 808 message (its body borrowed from the unescaped frame).
    Frame(tianshu_jt808::Message<'a>),
}

impl<'a> Payload<'a> {
    /// Validates a payload of `kind` (a frame is unescaped into `scratch`): the terminal it names and what
    /// it holds.
    pub(crate) fn parse(
        kind: PayloadKind,
        payload: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<(Phone, Self), Rejection> {
        match kind {
            PayloadKind::Json => {
                let p =
                    crate::json::parse_position(payload).map_err(|e| Rejection::new(e.reason, e.detail))?;
                Ok((p.phone, Payload::Json(p)))
            }
            PayloadKind::Jt808 => {
                let (phone, message) = crate::frame::decode(payload, scratch)?;
                Ok((phone, Payload::Frame(message)))
            }
        }
    }

    /// The points for `binding`, through the one uplink TCP uses too, shown to `watch` (the terminal's clock).
    /// Each refused point is counted; a message that carried points and kept none is refused: a frame as
    /// `bad_frame`, a JSON position with the reason its point was refused.
    pub(crate) fn points(
        self,
        binding: Binding,
        watch: impl FnOnce(&Uplink),
    ) -> Result<Vec<Position>, Rejection> {
        let (uplink, whole) = match self {
            Payload::Json(p) => (Uplink::from_points([p.point], binding), None),
            Payload::Frame(m) => (crate::frame::points(&m, binding), Some("bad_frame")),
        };
        watch(&uplink);
        for r in &uplink.refused {
            METRICS.points_rejected.with_label_values(&[r.reason]).inc();
            debug!(phone = %binding.phone, reason = r.reason, detail = %r.detail, "mqtt: point refused");
        }
        tianshu_ingest::metrics::METRICS
            .points_far_past
            .inc_by(u64::from(uplink.far_past));
        if uplink.all_refused() {
            let first = &uplink.refused[0];
            return Err(Rejection::new(
                whole.unwrap_or(first.reason),
                first.detail.clone(),
            ));
        }
        Ok(uplink.points)
    }
}

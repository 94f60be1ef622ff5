//! A lower platform's alarm reports (0x1402), as the upper platform: kept once each (a report sent
//! again after a broken link is a duplicate), only for a car the registry knows of a unit the peer
//! reports; any other is refused and counted, like positions. What a report holds is read by
//! `tianshu_jt809::alarm`.

use tianshu_jt809::Message;
use tianshu_jt809::alarm::alarm_received;
use tianshu_model::Timestamp;
use tianshu_store::jt809_alarms::NewAlarm;
use tracing::{info, warn};

use super::{Closed, MainLink, Peer};
use crate::metrics::METRICS;

impl<'a> MainLink<'a> {
    /// Stores the alarm report `m` names, if it is one; durable before the link reads on.
    pub(super) async fn alarm(&self, peer: &mut Peer<'a>, m: &Message) -> Result<(), Closed> {
        let Some(a) = alarm_received(m) else {
            return Ok(());
        };
        let name = peer.config.name.clone();
        let count = |outcome: &str| METRICS.alarms.with_label_values(&[name.as_str(), outcome]).inc();
        let Some((vehicle, unit)) = self.vehicle(peer, &a.plate).await? else {
            count("unknown_plate");
            return Ok(());
        };
        if !peer.units.contains(&unit) {
            count("not_owned");
            return Ok(());
        }
        let new = NewAlarm {
            peer: name.clone(),
            plate: a.plate,
            vehicle,
            warn_src: i64::from(a.warn_src),
            warn_type: i64::from(a.warn_type),
            warn_time: a.warn_time,
            start: a.start,
            end: a.end,
            info_id: i64::from(a.info_id),
            info: a.info,
            received: Timestamp::now(),
        };
        match self.upper.store.jt809_alarms().record(new).await {
            Ok(true) => {
                count("stored");
                info!(peer = %name, warn_type = a.warn_type, "JT/T 809 alarm report received");
                Ok(())
            }
            Ok(false) => {
                count("duplicate");
                Ok(())
            }
            Err(e) => {
                count("store_failed");
                warn!(peer = %name, error = %e, "storing a JT/T 809 alarm report failed");
                Err(Closed::StoreFailed)
            }
        }
    }
}

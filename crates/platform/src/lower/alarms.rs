//! Alert cases as alarm reports (0x1402) to an upper platform, as the lower platform: every case of a
//! covered car raised after the link first logged in goes up once, in the order the cases were raised,
//! from a durable position per upper platform (the highest case number passed,
//! [`tianshu_store::jt809_alarms`]).
//!
//! Invariants, as for positions:
//! - The position moves only after the upper platform answered a keep-alive sent behind the reports, so
//!   a link that breaks sends the same reports again (an upper platform keeps a report once).
//! - Cases are read in number order and only up to the first one raised less than `settle_secs` ago:
//!   a case written a moment before one with a higher number is not passed over.
//! - What a report carries and which WARN_TYPE a rule goes up as is `tianshu_jt809::alarm`'s.

use std::collections::HashMap;

use tianshu_jt809::Vehicle;
use tianshu_jt809::alarm::{ReportRoute, alarm_report};
use tianshu_model::{Timestamp, VehicleId};
use tokio::net::TcpStream;
use tracing::info;

use super::{LinkError, UpLink};
use crate::metrics::METRICS;

/// Cases read at once.
const CASES_PER_READ: u32 = 500;

impl UpLink<'_> {
    /// The case number up to which reports were sent; on the very first link, the newest case now (the
    /// cases raised before are not reported).
    async fn alarm_position(&mut self) -> Result<i64, LinkError> {
        if let Some(p) = self.alarm_position {
            return Ok(p);
        }
        let alarms = self.store.jt809_alarms();
        let p = match alarms.position(&self.upper.name).await? {
            Some(p) => p,
            None => {
                let p = self.store.cases().last_id().await?;
                alarms.save(&self.upper.name, p, Timestamp::now()).await?;
                p
            }
        };
        self.alarm_position = Some(p);
        Ok(p)
    }

    /// Sends the reports of the covered cars' cases raised up to `upto` and not sent yet, and moves the
    /// position once the upper platform has read them.
    pub(super) async fn forward_alarms(
        &mut self,
        stream: &mut TcpStream,
        covered: &HashMap<VehicleId, String>,
        upto: Timestamp,
    ) -> Result<(), LinkError> {
        let after = self.alarm_position().await?;
        let cases = self.store.cases().after(after, CASES_PER_READ).await?;
        let due: Vec<_> = cases.into_iter().take_while(|c| c.created <= upto).collect();
        let Some(last) = due.last().map(|c| c.id) else {
            return Ok(());
        };
        let source = self.upper.access_code.to_string();
        let route = ReportRoute {
            source: &source,
            destination: &self.upper.name,
        };
        let reports: Vec<_> = due
            .iter()
            .filter_map(|c| {
                let plate = covered.get(&c.vehicle)?;
                let vehicle = Vehicle::blue(plate.as_str());
                Some(alarm_report(c, &vehicle, route, self.upper.edition))
            })
            .collect();
        let name = self.upper.name.as_str();
        if !reports.is_empty() {
            self.send(stream, &reports).await?;
            self.keep_alive(stream).await?;
            METRICS
                .alarms
                .with_label_values(&[name, "forwarded"])
                .inc_by(reports.len() as u64);
            info!(upper = %name, reports = reports.len(), up_to_case = last, "alarm reports sent to the upper platform");
        }
        self.store
            .jt809_alarms()
            .save(name, last, Timestamp::now())
            .await?;
        self.alarm_position = Some(last);
        Ok(())
    }
}

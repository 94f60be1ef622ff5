//! The HTTP resources, one file each. A resource's file holds its handlers, its request and response
//! types, and the checks that are its own; what several share has one home outside: the scope
//! (module `scope`), the audit trail (`audit`), the extractors and the error contract (`extract`,
//! `error`) and the position on the wire (`position`). Which role may call which handler is declared
//! once, in the route table (`routes`).

pub mod audit_log;
pub mod calendars;
pub mod carpool;
pub mod cases;
pub mod casework;
pub mod channels;
pub mod commands;
pub mod complaints;
pub mod drivers;
pub mod exports;
pub mod fuel;
pub mod fuel_report;
pub mod geofences;
pub mod intake;
pub mod jt809;
pub mod live;
pub mod orders;
pub mod reports;
pub mod sessions;
pub mod terminals;
pub mod tokens;
pub mod tracks;
pub mod units;
pub mod users;
pub mod vehicles;
pub mod yearly;

use tianshu_model::VehicleId;
use tianshu_store::Change;
use tianshu_store::access::AuditEntry;

use crate::audit;
use crate::auth::Caller;
use crate::error::ApiResult;

impl Caller {
    /// Commits `change`, an administrative change of one record, with the caller's record of it:
    /// `action` on `vehicle` with `detail` as known before the change, completed by `describe` from
    /// its result (see [`audit::of_change`]). Both commit or neither does.
    pub(crate) async fn commit<R: Send + Sync + 'static>(
        &self,
        action: &str,
        vehicle: Option<VehicleId>,
        detail: String,
        describe: fn(&R, &mut AuditEntry),
        change: Change<'_, R>,
    ) -> ApiResult<R> {
        let audit = audit::of_change(&self.who, self.client.clone(), action, vehicle, detail, describe);
        Ok(change.audited(audit).await?)
    }
}

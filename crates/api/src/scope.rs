//! The scoped data layer: the only way handlers read vehicles, terminals, positions, tracks, driver
//! events, orders and cases.
//!
//! A [`Scoped`] is built per request from the caller's [`Principal`]. Administrators, dispatchers and
//! inspectors see every unit; a supervisor (or a requester) sees their unit and every unit below it. A vehicle outside
//! the scope is refused with [`ApiError::Forbidden`] *before* its data is read, whatever route asked;
//! so is anything that belongs to one (its terminal, its orders, its cases). To a scoped caller, out of
//! scope and non-existent look the same.

use std::collections::HashSet;

use tianshu_model::{Phone, Position, Terminal, Timestamp, Unit, UnitId, Vehicle, VehicleId};
use tianshu_store::access::{Audit, Role};
use tianshu_store::reference::StoredOrder;
use tianshu_store::rules::TransitionedCase;
use tianshu_store::{DriverEvent, TrackStream};

use crate::ApiState;
use crate::auth::Principal;
use crate::cases::{CaseAction, CaseFilter, CaseView};
use crate::error::{ApiError, ApiResult};

/// A request's view of the data.
pub struct Scoped {
    state: ApiState,
    who: Principal,
    /// `None`: every unit. `Some`: only these.
    units: Option<HashSet<UnitId>>,
}

pub use tianshu_model::subtree;

impl Scoped {
    /// The caller's view.
    pub async fn new(state: &ApiState, who: &Principal) -> ApiResult<Self> {
        let units = match who.role {
            Role::Administrator | Role::Dispatcher | Role::Inspector => None,
            Role::Supervisor | Role::Requester => {
                // A supervisor without a unit sees nothing, never everything.
                let all = state.store().units().await?;
                Some(who.unit.map(|u| subtree(&all, u)).unwrap_or_default())
            }
        };
        Ok(Scoped {
            state: state.clone(),
            who: who.clone(),
            units,
        })
    }

    /// Who is asking.
    pub fn who(&self) -> &Principal {
        &self.who
    }

    /// Whether the caller sees every unit.
    pub fn sees_all(&self) -> bool {
        self.units.is_none()
    }

    /// Whether the caller may see `unit`.
    pub fn sees_unit(&self, unit: UnitId) -> bool {
        self.units.as_ref().is_none_or(|s| s.contains(&unit))
    }

    /// The ids of the units in scope (`None`: all).
    pub fn unit_ids(&self) -> Option<Vec<UnitId>> {
        self.units.as_ref().map(|s| s.iter().copied().collect())
    }

    /// The units in scope.
    pub async fn units(&self) -> ApiResult<Vec<Unit>> {
        let mut all = self.state.store().units().await?;
        all.retain(|u| self.sees_unit(u.id));
        Ok(all)
    }

    /// One unit in scope. Unknown is 404 to a caller who sees every unit; to a scoped caller, out of
    /// scope and unknown look the same (403).
    pub async fn unit(&self, id: UnitId) -> ApiResult<Unit> {
        match self.units().await?.into_iter().find(|u| u.id == id) {
            Some(u) => Ok(u),
            None if !self.sees_all() => Err(ApiError::Forbidden),
            None => Err(ApiError::NotFound(format!("unit {id}"))),
        }
    }

    /// The vehicles in scope.
    pub async fn vehicles(&self) -> ApiResult<Vec<Vehicle>> {
        let mut all = self.state.store().vehicles().await?;
        all.retain(|v| self.sees_unit(v.unit));
        Ok(all)
    }

    /// The ids of the vehicles in scope (`None`: all).
    pub async fn vehicle_ids(&self) -> ApiResult<Option<HashSet<VehicleId>>> {
        if self.sees_all() {
            return Ok(None);
        }
        Ok(Some(self.vehicles().await?.into_iter().map(|v| v.id).collect()))
    }

    /// One vehicle, refused when outside the scope.
    pub async fn vehicle(&self, id: VehicleId) -> ApiResult<Vehicle> {
        let v = self.state.store().vehicle(id).await?;
        self.admit(v, || format!("vehicle {id}"))
    }

    /// One vehicle by plate, refused when outside the scope.
    pub async fn vehicle_by_plate(&self, plate: &str) -> ApiResult<Vehicle> {
        let v = self.state.store().vehicle_by_plate(plate).await?;
        self.admit(v, || format!("plate {plate}"))
    }

    /// The vehicle with `plate`, `None` when no vehicle has it, refused when outside the scope: for a
    /// plate given as a field of a body, where an unknown plate is a bad field.
    pub async fn find_vehicle_by_plate(&self, plate: &str) -> ApiResult<Option<Vehicle>> {
        match self.state.store().vehicle_by_plate(plate).await? {
            Some(v) if self.sees_unit(v.unit) => Ok(Some(v)),
            Some(_) => Err(ApiError::Forbidden),
            None => Ok(None),
        }
    }

    fn admit(&self, v: Option<Vehicle>, what: impl FnOnce() -> String) -> ApiResult<Vehicle> {
        match v {
            Some(v) if self.sees_unit(v.unit) => Ok(v),
            // Out of scope and non-existent look the same to a scoped caller.
            Some(_) => Err(ApiError::Forbidden),
            None if !self.sees_all() => Err(ApiError::Forbidden),
            None => Err(ApiError::NotFound(what())),
        }
    }

    /// Latest positions of the vehicles in scope.
    pub async fn latest_positions(&self) -> ApiResult<Vec<Position>> {
        let mut all = self.state.store().latest_positions().await?;
        if let Some(ids) = self.vehicle_ids().await? {
            all.retain(|p| ids.contains(&p.vehicle));
        }
        Ok(all)
    }

    /// One vehicle's latest position, after the scope check.
    pub async fn latest_position(&self, vehicle: VehicleId) -> ApiResult<Option<Position>> {
        self.vehicle(vehicle).await?;
        Ok(self.state.store().latest_position(vehicle).await?)
    }

    /// One vehicle's driver card events with `from <= time < to`, after the scope check.
    pub async fn driver_events(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> ApiResult<Vec<DriverEvent>> {
        self.vehicle(vehicle).await?;
        Ok(self.state.store().driver_events(vehicle, from, to).await?)
    }

    /// The terminals bound to vehicles in scope (every terminal, bound or not, to a caller who sees
    /// every unit).
    pub async fn terminals(&self) -> ApiResult<Vec<Terminal>> {
        let mut all = self.state.store().terminals().await?;
        if let Some(ids) = self.vehicle_ids().await? {
            all.retain(|t| t.vehicle.is_some_and(|v| ids.contains(&v)));
        }
        Ok(all)
    }

    /// One terminal, `None` when no terminal has the phone, refused when bound outside the scope.
    pub async fn terminal(&self, phone: Phone) -> ApiResult<Option<Terminal>> {
        let t = self.state.store().terminal(phone).await?;
        match t {
            Some(t) if self.sees_all() => Ok(Some(t)),
            Some(t) => match t.vehicle {
                Some(v) => self.vehicle(v).await.map(|_| Some(t)),
                None => Err(ApiError::Forbidden),
            },
            None if self.sees_all() => Ok(None),
            None => Err(ApiError::Forbidden),
        }
    }

    /// The orders and filings of the cars in scope.
    pub async fn orders(&self) -> ApiResult<Vec<StoredOrder>> {
        let mut all = self.state.store().rules().orders().await?;
        if !self.sees_all() {
            let plates: HashSet<String> = self.vehicles().await?.into_iter().map(|v| v.plate).collect();
            all.retain(|o| plates.contains(&o.plate));
        }
        Ok(all)
    }

    /// One order with its car, refused when the car is outside the scope.
    pub async fn order(&self, id: &str) -> ApiResult<(StoredOrder, Vehicle)> {
        match self.state.store().rules().order(id).await? {
            Some(o) => {
                let v = self.vehicle_by_plate(&o.plate).await?;
                Ok((o, v))
            }
            None if !self.sees_all() => Err(ApiError::Forbidden),
            None => Err(ApiError::NotFound(format!("order {id}"))),
        }
    }

    /// The cases `filter` asks for, of the vehicles in scope only.
    pub async fn cases(&self, mut filter: CaseFilter) -> ApiResult<Vec<CaseView>> {
        if let Some(v) = filter.vehicle {
            self.vehicle(v).await?;
        }
        filter.vehicles = self.vehicle_ids().await?;
        filter.units = self.unit_ids();
        let mut list = self.state.cases().list(&filter).await?;
        // The engine is asked to filter; the scope is enforced here regardless.
        if let Some(ids) = &filter.vehicles {
            list.retain(|c| ids.contains(&c.vehicle));
        }
        Ok(list)
    }

    /// One case, refused when its vehicle is outside the scope.
    pub async fn case(&self, id: &str) -> ApiResult<CaseView> {
        match self.state.cases().get(id).await? {
            Some(c) => {
                self.vehicle(c.vehicle).await?;
                Ok(c)
            }
            None if !self.sees_all() => Err(ApiError::Forbidden),
            None => Err(ApiError::NotFound(format!("case {id}"))),
        }
    }

    /// Applies the caller's action to a case in scope, with `audit` in the step's transaction where the
    /// case book has one (see [`crate::cases::CaseBook::apply`]); the case before and after it.
    pub async fn act_on_case(
        &self,
        id: &str,
        action: &CaseAction,
        audit: &mut Option<Audit<TransitionedCase>>,
    ) -> ApiResult<(CaseView, CaseView)> {
        let before = self.case(id).await?;
        let username = &self.who.username;
        let after = self.state.cases().apply(id, action, username, audit).await?;
        Ok((before, after))
    }

    /// One complaint, refused to a scoped caller (a unit's supervisor) unless it was forwarded to a
    /// unit in scope; out of scope and unknown look the same to them.
    pub async fn complaint(&self, id: i64) -> ApiResult<tianshu_model::complaint::Complaint> {
        match self.state.store().casework().complaint(id).await? {
            Some(c) if self.sees_all() || c.unit_in_scope(|u| self.sees_unit(u)) => Ok(c),
            Some(_) => Err(ApiError::Forbidden),
            None if !self.sees_all() => Err(ApiError::Forbidden),
            None => Err(ApiError::NotFound(format!("complaint {id}"))),
        }
    }

    /// One alert case as stored, refused when its vehicle is outside the scope.
    pub async fn stored_case(&self, id: i64) -> ApiResult<tianshu_model::case::AlertCase> {
        match self.state.store().cases().case(id).await? {
            Some(c) => {
                self.vehicle(c.vehicle).await?;
                Ok(c)
            }
            None if !self.sees_all() => Err(ApiError::Forbidden),
            None => Err(ApiError::NotFound(format!("case {id}"))),
        }
    }

    /// One vehicle's track, after the scope check.
    pub async fn track(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> ApiResult<TrackStream> {
        self.vehicle(vehicle).await?;
        Ok(self.state.store().track(vehicle, from, to).await?)
    }

    /// How many points the track of `vehicle` (admitted by this scope: [`Scoped::vehicle`] or
    /// [`Scoped::vehicle_by_plate`] returned it) holds now.
    pub async fn track_count(&self, vehicle: &Vehicle, from: Timestamp, to: Timestamp) -> ApiResult<u64> {
        Ok(self.state.store().track_count(vehicle.id, from, to).await?)
    }
}

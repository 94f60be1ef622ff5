//! The scoped data layer: the only way handlers read vehicles, positions, tracks and cases.
//!
//! A [`Scoped`] is built per request from the caller's [`Principal`]. Administrators, dispatchers and
//! inspectors see every unit; a supervisor sees their unit and every unit below it. A vehicle outside
//! the scope is refused with [`ApiError::Forbidden`] *before* its data is read, whatever route asked.

use std::collections::{HashMap, HashSet};

use tianshu_model::{Position, Timestamp, Unit, UnitId, Vehicle, VehicleId};
use tianshu_store::TrackStream;
use tianshu_store::access::Role;

use crate::ApiState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};

/// A request's view of the data.
pub struct Scoped {
    state: ApiState,
    who: Principal,
    /// `None`: every unit. `Some`: only these.
    units: Option<HashSet<UnitId>>,
}

/// A unit and every unit below it.
pub fn subtree(units: &[Unit], root: UnitId) -> HashSet<UnitId> {
    let mut children: HashMap<UnitId, Vec<UnitId>> = HashMap::new();
    for u in units {
        if let Some(p) = u.parent {
            children.entry(p).or_default().push(u.id);
        }
    }
    let mut out = HashSet::new();
    let mut stack = vec![root];
    while let Some(u) = stack.pop() {
        // The registry is a tree, but never loop on a corrupt one.
        if out.insert(u) {
            stack.extend(children.get(&u).into_iter().flatten().copied());
        }
    }
    out
}

impl Scoped {
    /// The caller's view.
    pub async fn new(state: &ApiState, who: &Principal) -> ApiResult<Self> {
        let units = match who.role {
            Role::Administrator | Role::Dispatcher | Role::Inspector => None,
            Role::Supervisor => {
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
        let v = self
            .state
            .store()
            .vehicles()
            .await?
            .into_iter()
            .find(|v| v.id == id);
        self.admit(v, || format!("vehicle {id}"))
    }

    /// One vehicle by plate, refused when outside the scope.
    pub async fn vehicle_by_plate(&self, plate: &str) -> ApiResult<Vehicle> {
        let v = self.state.store().vehicle_by_plate(plate).await?;
        self.admit(v, || format!("plate {plate}"))
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

    /// One vehicle's track, after the scope check.
    pub async fn track(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> ApiResult<TrackStream> {
        self.vehicle(vehicle).await?;
        Ok(self.state.store().track(vehicle, from, to).await?)
    }
}

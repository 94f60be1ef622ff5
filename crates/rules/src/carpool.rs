//! The car pool's decisions (用车保障): which of the pool's cars and which drivers are free for a whole
//! window (no double booking: another order, an assignment or a maintenance window blocks), how far
//! each car is from the pickup and which pair is suggested, why an assignment is refused, and the
//! approved dispatch order an assignment becomes (filed by the requester, approved by the dispatcher,
//! through `Order::file` and `Order::step`, so the rules and the separation of duties read it as any
//! other order). The store gathers the candidates under its lock and applies the verdict.

use serde::Serialize;
use tianshu_model::carpool::{
    CarRequest, FleetFields, LicenceClass, Ownership, Reached, RequestFields, Settlement,
};
use tianshu_model::driver::Driver;
use tianshu_model::{LonLat, Timestamp, UnitId, Vehicle, VehicleClass, VehicleId};

use crate::orders::{Destination, Order, OrderKind, OrderState, UnitSettings};
use crate::workflow::OrderRefused;

/// Something that holds a car or a driver for a time: an order, an assignment, a maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Booking {
    /// What it is, as a refusal names it (`order PC-2026-000123`).
    pub what: String,
    /// Its start.
    pub start: Timestamp,
    /// Its end, exclusive.
    pub end: Timestamp,
}

impl Booking {
    /// Whether it holds any instant of `[start, end)`.
    pub fn overlaps(&self, start: Timestamp, end: Timestamp) -> bool {
        self.start < end && start < self.end
    }
}

/// The first booking that holds any instant of `[start, end)`.
pub fn clash(bookings: &[Booking], start: Timestamp, end: Timestamp) -> Option<&Booking> {
    bookings.iter().find(|b| b.overlaps(start, end))
}

/// A car as the dispatch office weighs it.
#[derive(Debug, Clone)]
pub struct CarCandidate {
    /// The car.
    pub vehicle: Vehicle,
    /// Its fleet fields.
    pub fleet: FleetFields,
    /// Its latest position, when it has one.
    pub position: Option<LonLat>,
    /// What holds it near the window.
    pub bookings: Vec<Booking>,
}

/// A driver as the dispatch office weighs them.
#[derive(Debug, Clone)]
pub struct DriverCandidate {
    /// The driver.
    pub driver: Driver,
    /// What holds them near the window.
    pub bookings: Vec<Booking>,
}

/// Why a car or a driver cannot serve a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignRefused {
    /// The request is not waiting for a car.
    #[error("request {id} is {state}: only a pending request is assigned a car")]
    NotPending {
        /// The request.
        id: i64,
        /// Its state.
        state: &'static str,
    },
    /// The window is over.
    #[error("window: request {id} ended at {end}, before now ({now})")]
    WindowOver {
        /// The request.
        id: i64,
        /// Its end.
        end: Timestamp,
        /// Now.
        now: Timestamp,
    },
    /// The car left the fleet.
    #[error("vehicle: {plate} was disposed of on {on}")]
    Disposed {
        /// The car.
        plate: String,
        /// The day.
        on: String,
    },
    /// The car is not the pool's.
    #[error("vehicle: {plate} is its unit's car, not the pool's")]
    NotPool {
        /// The car.
        plate: String,
    },
    /// The car is not of the class asked for.
    #[error("vehicle: {plate} is {class}, the request asks for {wanted}")]
    Class {
        /// The car.
        plate: String,
        /// Its class.
        class: &'static str,
        /// The class asked for.
        wanted: &'static str,
    },
    /// The car is held.
    #[error("vehicle: {plate} is booked from {start} to {end} by {what}")]
    CarBooked {
        /// The car.
        plate: String,
        /// What holds it.
        what: String,
        /// Its start.
        start: Timestamp,
        /// Its end.
        end: Timestamp,
    },
    /// The driver is held.
    #[error("driver: {name} is booked from {start} to {end} by {what}")]
    DriverBooked {
        /// The driver.
        name: String,
        /// What holds them.
        what: String,
        /// Its start.
        start: Timestamp,
        /// Its end.
        end: Timestamp,
    },
    /// The driver is not dispatched.
    #[error("driver: {name} is not active")]
    Inactive {
        /// The driver.
        name: String,
    },
    /// The driver has no licence class on record.
    #[error("driver: {name} has no licence class on record")]
    NoLicence {
        /// The driver.
        name: String,
    },
    /// The driver's licence does not cover the car.
    #[error("driver: {name} holds {held}, {plate} needs {needed}")]
    Licence {
        /// The driver.
        name: String,
        /// Their licence.
        held: LicenceClass,
        /// The car.
        plate: String,
        /// What it needs.
        needed: LicenceClass,
    },
}

impl AssignRefused {
    /// Whether it is a clash with what is already on record (answered 409) rather than a bad choice
    /// (400).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            AssignRefused::NotPending { .. }
                | AssignRefused::CarBooked { .. }
                | AssignRefused::DriverBooked { .. }
        )
    }
}

/// Why `car` cannot serve `request` for its whole window, if it cannot.
pub fn car_refusal(request: &RequestFields, car: &CarCandidate) -> Option<AssignRefused> {
    let plate = || car.vehicle.plate.clone();
    if let Some(on) = car.fleet.disposed_on.as_ref().filter(|_| car.fleet.disposed()) {
        return Some(AssignRefused::Disposed {
            plate: plate(),
            on: on.clone(),
        });
    }
    if car.fleet.ownership != Ownership::Pool {
        return Some(AssignRefused::NotPool { plate: plate() });
    }
    if let Some(wanted) = request.class
        && wanted != car.vehicle.class
    {
        return Some(AssignRefused::Class {
            plate: plate(),
            class: car.vehicle.class.as_str(),
            wanted: wanted.as_str(),
        });
    }
    clash(&car.bookings, request.start, request.end).map(|b| AssignRefused::CarBooked {
        plate: plate(),
        what: b.what.clone(),
        start: b.start,
        end: b.end,
    })
}

/// Why `driver` cannot drive `car` (its plate and the licence it needs; any car when `None`) for the
/// request's whole window, if they cannot.
pub fn driver_refusal(
    request: &RequestFields,
    driver: &DriverCandidate,
    car: Option<(&str, LicenceClass)>,
) -> Option<AssignRefused> {
    let f = &driver.driver.fields;
    if !f.active {
        return Some(AssignRefused::Inactive { name: f.name.clone() });
    }
    let Some(held) = f.licence else {
        return Some(AssignRefused::NoLicence { name: f.name.clone() });
    };
    if let Some((plate, needed)) = car
        && !held.permits(needed)
    {
        return Some(AssignRefused::Licence {
            name: f.name.clone(),
            held,
            plate: plate.to_string(),
            needed,
        });
    }
    clash(&driver.bookings, request.start, request.end).map(|b| AssignRefused::DriverBooked {
        name: f.name.clone(),
        what: b.what.clone(),
        start: b.start,
        end: b.end,
    })
}

/// A free car as offered to the dispatcher.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarOffer {
    /// The car.
    pub vehicle: VehicleId,
    /// Its plate.
    pub plate: String,
    /// Its unit.
    pub unit: UnitId,
    /// Its class.
    pub class: VehicleClass,
    /// The licence its driver needs.
    pub licence_needed: LicenceClass,
    /// Its latest position, `[lon, lat]`.
    pub position: Option<[f64; 2]>,
    /// Metres from it to the pickup, straight.
    pub distance_m: Option<f64>,
}

/// A free driver as offered to the dispatcher.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverOffer {
    /// The driver's id.
    pub driver: i64,
    /// Their name.
    pub name: String,
    /// Their licence.
    pub licence: Option<LicenceClass>,
    /// Their unit.
    pub unit: UnitId,
}

/// The pair suggested: the nearest free car, with a free driver allowed to drive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The car.
    pub vehicle: VehicleId,
    /// The driver.
    pub driver: i64,
}

/// What is free for a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offers {
    /// The free cars, nearest first (those without a position last, by plate).
    pub cars: Vec<CarOffer>,
    /// The free drivers, by name.
    pub drivers: Vec<DriverOffer>,
    /// The nearest car with a driver for it, when there is one.
    pub suggested: Option<Suggestion>,
}

/// The cars and drivers free for the whole window of `request`, and the suggested pair.
pub fn offers(request: &RequestFields, cars: &[CarCandidate], drivers: &[DriverCandidate]) -> Offers {
    let pickup = request.from.at();
    let mut free_cars: Vec<CarOffer> = cars
        .iter()
        .filter(|c| car_refusal(request, c).is_none())
        .map(|c| CarOffer {
            vehicle: c.vehicle.id,
            plate: c.vehicle.plate.clone(),
            unit: c.vehicle.unit,
            class: c.vehicle.class,
            licence_needed: c.fleet.licence_needed,
            position: c.position.map(LonLat::to_array),
            distance_m: c.position.map(|p| p.distance_m(pickup)),
        })
        .collect();
    free_cars.sort_by(|a, b| {
        let d = |o: &CarOffer| o.distance_m.unwrap_or(f64::INFINITY);
        d(a).total_cmp(&d(b)).then_with(|| a.plate.cmp(&b.plate))
    });
    let mut free_drivers: Vec<&DriverCandidate> = drivers
        .iter()
        .filter(|d| driver_refusal(request, d, None).is_none())
        .collect();
    free_drivers
        .sort_by(|a, b| (&a.driver.fields.name, a.driver.id).cmp(&(&b.driver.fields.name, b.driver.id)));
    let suggested = free_cars.iter().find_map(|c| {
        free_drivers
            .iter()
            .find(|d| {
                d.driver
                    .fields
                    .licence
                    .is_some_and(|l| l.permits(c.licence_needed))
            })
            .map(|d| Suggestion {
                vehicle: c.vehicle,
                driver: d.driver.id,
            })
    });
    Offers {
        cars: free_cars,
        drivers: free_drivers
            .into_iter()
            .map(|d| DriverOffer {
                driver: d.driver.id,
                name: d.driver.fields.name.clone(),
                licence: d.driver.fields.licence,
                unit: d.driver.fields.unit,
            })
            .collect(),
        suggested,
    }
}

/// Checks an assignment of `car` and `driver` to `request` at `now`: the request pending, its window
/// not over, the car and the driver free and suited.
pub fn check_assignment(
    request: &CarRequest,
    car: &CarCandidate,
    driver: &DriverCandidate,
    now: Timestamp,
) -> Result<(), AssignRefused> {
    if request.state != tianshu_model::carpool::RequestState::Pending {
        return Err(AssignRefused::NotPending {
            id: request.id,
            state: request.state.as_str(),
        });
    }
    if request.fields.end <= now {
        return Err(AssignRefused::WindowOver {
            id: request.id,
            end: request.fields.end,
            now,
        });
    }
    if let Some(r) = car_refusal(&request.fields, car) {
        return Err(r);
    }
    let needs = (car.vehicle.plate.as_str(), car.fleet.licence_needed);
    match driver_refusal(&request.fields, driver, Some(needs)) {
        Some(r) => Err(r),
        None => Ok(()),
    }
}

/// The id of the dispatch order an assignment of request `id` creates.
pub fn order_id(id: i64) -> String {
    format!("YC-{id:06}")
}

/// The dispatch order an assignment makes: filed by the requester when the request was made, approved
/// by `dispatcher` at `now` (the workflow's step, under the car's unit `settings`).
pub fn assigned_order(
    request: &CarRequest,
    plate: &str,
    driver: &str,
    dispatcher: &str,
    now: Timestamp,
    settings: UnitSettings,
) -> Result<Order, OrderRefused> {
    let f = &request.fields;
    let mut order = Order {
        id: order_id(request.id),
        kind: OrderKind::Order,
        plate: plate.to_string(),
        driver: Some(driver.to_string()),
        purpose: Some(f.purpose.clone()),
        start: f.start,
        end: f.end,
        destinations: f
            .destinations
            .iter()
            .map(|d| Destination {
                name: d.name.clone(),
                lon: d.lon,
                lat: d.lat,
            })
            .collect(),
        route: None,
        corridor_m: None,
        state: OrderState::Requested,
        allow_region_exit: false,
        filed_by: None,
        approved_by: None,
    };
    order.file(&request.requester, request.created, settings)?;
    order.step(OrderState::Approved, dispatcher, now, settings)?;
    Ok(order)
}

/// The notices an assignment sends: to the requester (`requester:<username>`) and, when the driver has a
/// phone, a text to it (`driver:<phone>`).
pub fn assignment_notices(request: &CarRequest, plate: &str, driver: &Driver) -> Vec<(String, String)> {
    let f = &request.fields;
    let window = format!("{} – {}", f.start.to_rfc3339(), f.end.to_rfc3339());
    let to = f
        .destinations
        .iter()
        .map(|d| d.name.as_str())
        .collect::<Vec<_>>()
        .join("、");
    let mut out = vec![(
        format!("requester:{}", request.requester),
        format!(
            "用车申请 {} 已派车：{plate}，驾驶员 {}，{window}，{} 出发。",
            request.id, driver.fields.name, f.from.name
        ),
    )];
    if let Some(phone) = &driver.fields.phone {
        out.push((
            format!("driver:{phone}"),
            format!(
                "出车任务 {}：{plate}，{window}，{} 接 {} 人，前往 {to}。",
                order_id(request.id),
                f.from.name,
                f.passengers
            ),
        ));
    }
    out
}

/// What a settlement measures against, and the thresholds beyond which a difference opens a case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// How near a destination the car must come to have reached it, metres.
    pub reach_m: f64,
    /// The half-width of the corridor around the trip's legs, metres.
    pub corridor_m: f64,
    /// Roads are longer than straight legs: the legs' length times this is what the trip needs.
    pub detour_factor: f64,
    /// How much more than the trip needs may be driven before it is a difference, percent.
    pub extra_km_percent: f64,
    /// How late after the window's end the car may be back before it is a difference, milliseconds.
    pub late_return_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            reach_m: 300.0,
            corridor_m: 3_000.0,
            detour_factor: 1.3,
            extra_km_percent: 30.0,
            late_return_ms: 2 * 3_600_000,
        }
    }
}

/// Settles a trip from the car's track over the window (and after it, for a late return): departure and
/// return, km driven (the trips of `crate::track`, great-circle sums of the fixes, not the odometer),
/// each destination reached or not, time outside the corridor around the legs, time idling; and the
/// differences beyond `t` (a destination never reached, `extra_km_percent` more than the trip needs,
/// a return more than `late_return_ms` after the window).
pub fn settle(request: &RequestFields, points: &[tianshu_model::Position], t: &Thresholds) -> Settlement {
    let (trips, stops) = crate::track::trips_and_stops(points);
    let km = trips.iter().map(|x| x.distance_m).sum::<f64>() / 1000.0;
    let departure = trips.first().map(|x| x.from);
    let returned = trips.last().map(|x| x.to);
    let mut legs = vec![request.from.at()];
    legs.extend(request.destinations.iter().map(tianshu_model::carpool::Place::at));
    legs.push(request.from.at());
    let straight: f64 = legs.windows(2).map(|w| w[0].distance_m(w[1])).sum();
    let route_km = straight * t.detour_factor / 1000.0;
    let destinations: Vec<Reached> = request
        .destinations
        .iter()
        .map(|d| Reached {
            name: d.name.clone(),
            at: points
                .iter()
                .find(|p| p.lonlat().distance_m(d.at()) <= t.reach_m)
                .map(|p| p.fix_time),
        })
        .collect();
    let corridor = crate::geo::Route::new(&legs, t.corridor_m).ok();
    let outside_corridor_ms: i64 = points
        .windows(2)
        .filter(|w| {
            corridor
                .as_ref()
                .is_some_and(|c| c.distance_within_m(w[0].lonlat(), t.corridor_m).is_none())
        })
        .map(|w| w[1].fix_time.millis() - w[0].fix_time.millis())
        .sum();
    let idle_ms: i64 = stops
        .iter()
        .filter(|s| s.idling)
        .map(|s| s.to.millis() - s.from.millis())
        .sum();
    let mut differences = Vec::new();
    for d in destinations.iter().filter(|d| d.at.is_none()) {
        differences.push(format!("destination {} never reached", d.name));
    }
    if route_km > 0.0 && km > route_km * (1.0 + t.extra_km_percent / 100.0) {
        differences.push(format!(
            "{km:.1} km driven, {:.0}% more than the {route_km:.1} km the trip needs",
            (km / route_km - 1.0) * 100.0
        ));
    }
    if let Some(back) = returned
        && back.millis() - request.end.millis() > t.late_return_ms
    {
        differences.push(format!(
            "back at {back}, {} min after the window ended",
            (back.millis() - request.end.millis()) / 60_000
        ));
    }
    if trips.is_empty() {
        differences.push("the car did not move in the window".into());
    }
    Settlement {
        departure,
        returned,
        km,
        route_km,
        destinations,
        outside_corridor_s: outside_corridor_ms / 1000,
        idle_s: idle_ms / 1000,
        differences,
        confirmed_by: None,
        note: None,
    }
}

/// The span of track a trip is settled from: an hour before its window to six hours after it (a late
/// return), cut at the start of the car's next order.
pub fn settlement_span(request: &RequestFields, next_order: Option<Timestamp>) -> (Timestamp, Timestamp) {
    let hour = 3_600_000;
    let to = request.end.add_millis(6 * hour);
    (
        request.start.add_millis(-hour),
        next_order.filter(|n| *n >= request.end).map_or(to, |n| n.min(to)),
    )
}

/// The rule id of a case opened by a settlement's differences.
pub const SETTLEMENT_RULE: &str = "carpool_trip";

/// The alert case a settlement's differences open (none without any): on the assigned car, from the
/// window's start, its reasoning the differences.
pub fn settlement_case(
    request: &CarRequest,
    unit: UnitId,
    s: &Settlement,
) -> Option<tianshu_model::case::NewCase> {
    let a = request.assignment.as_ref()?;
    if s.differences.is_empty() {
        return None;
    }
    let list = s.differences.join("; ");
    Some(tianshu_model::case::NewCase {
        vehicle: a.vehicle,
        unit,
        rule: SETTLEMENT_RULE.into(),
        start: request.fields.start,
        end: Some(request.fields.end),
        severity: "medium".into(),
        late: false,
        reasoning: format!(
            "Trip of request {} ({}, order {}): {list}",
            request.id, a.plate, a.order
        ),
        reasoning_zh: format!(
            "用车申请 {} 的出车（{}，派车单 {}）结算有差异：{list}",
            request.id, a.plate, a.order
        ),
        episode: serde_json::json!({"request": request.id, "order": a.order, "settlement": s}),
        escalate_at: None,
    })
}

#[cfg(test)]
mod tests {
    use tianshu_model::carpool::{Place, RequestState, ServiceKind};
    use tianshu_model::driver::DriverFields;

    use super::*;

    const H: i64 = 3_600_000;

    fn request() -> CarRequest {
        CarRequest {
            id: 7,
            unit: UnitId(1),
            requester: "li".into(),
            state: RequestState::Pending,
            created: Timestamp(0),
            fields: RequestFields {
                unit: Some(UnitId(1)),
                start: Timestamp(10 * H),
                end: Timestamp(12 * H),
                from: Place {
                    name: "市委".into(),
                    lon: 115.0,
                    lat: 30.2,
                },
                destinations: vec![Place {
                    name: "阳新县".into(),
                    lon: 115.2,
                    lat: 29.85,
                }],
                passengers: 2,
                purpose: "检查".into(),
                kind: ServiceKind::Regular,
                class: None,
            },
            assignment: None,
            settlement: None,
            rating: None,
        }
    }

    fn car(id: i64, lon: f64, bookings: Vec<Booking>) -> CarCandidate {
        CarCandidate {
            vehicle: Vehicle {
                id: VehicleId(id),
                plate: format!("鄂B{id:05}"),
                unit: UnitId(1),
                class: VehicleClass::General,
                marking: None,
            },
            fleet: FleetFields {
                ownership: Ownership::Pool,
                ..FleetFields::default()
            },
            position: Some(LonLat::new(lon, 30.2)),
            bookings,
        }
    }

    fn driver(id: i64, name: &str, licence: Option<LicenceClass>, bookings: Vec<Booking>) -> DriverCandidate {
        DriverCandidate {
            driver: Driver {
                id,
                fields: DriverFields {
                    name: name.into(),
                    certificate: format!("C{id}"),
                    phone: Some("13800000000".into()),
                    unit: UnitId(1),
                    licence,
                    active: true,
                },
            },
            bookings,
        }
    }

    fn booked(what: &str, from_h: i64, to_h: i64) -> Vec<Booking> {
        vec![Booking {
            what: what.into(),
            start: Timestamp(from_h * H),
            end: Timestamp(to_h * H),
        }]
    }

    #[test]
    fn only_cars_and_drivers_free_for_the_whole_window_are_offered_nearest_first() {
        let r = request();
        let cars = [
            car(1, 115.10, vec![]),
            car(2, 115.01, booked("order PC-1", 11, 13)),
            car(3, 115.05, booked("order PC-2", 12, 14)), // touches the end only: free
            car(4, 115.02, vec![]),
        ];
        let drivers = [
            driver(1, "王", Some(LicenceClass::C1), booked("order PC-3", 9, 10)), // ends at the start: free
            driver(2, "张", Some(LicenceClass::B1), booked("request 3", 11, 12)),
            driver(3, "李", None, vec![]),
        ];
        let o = offers(&r.fields, &cars, &drivers);
        let plates: Vec<&str> = o.cars.iter().map(|c| c.plate.as_str()).collect();
        assert_eq!(plates, ["鄂B00004", "鄂B00003", "鄂B00001"]);
        assert!(o.cars[0].distance_m.unwrap() < o.cars[1].distance_m.unwrap());
        assert_eq!(o.drivers.iter().map(|d| d.driver).collect::<Vec<_>>(), [1]);
        assert_eq!(
            o.suggested,
            Some(Suggestion {
                vehicle: VehicleId(4),
                driver: 1
            })
        );
    }

    #[test]
    fn an_assignment_is_refused_naming_what_is_wrong() {
        let r = request();
        let now = Timestamp(5 * H);
        let ok_driver = driver(1, "王", Some(LicenceClass::C1), vec![]);
        assert!(check_assignment(&r, &car(1, 115.0, vec![]), &ok_driver, now).is_ok());
        let e =
            check_assignment(&r, &car(1, 115.0, booked("order PC-9", 11, 13)), &ok_driver, now).unwrap_err();
        assert!(e.is_conflict() && e.to_string().contains("order PC-9"), "{e}");
        let e = check_assignment(
            &r,
            &car(1, 115.0, vec![]),
            &driver(2, "张", Some(LicenceClass::C1), booked("request 3", 11, 12)),
            now,
        )
        .unwrap_err();
        assert!(e.is_conflict() && e.to_string().starts_with("driver: 张"), "{e}");
        let mut bus = car(1, 115.0, vec![]);
        bus.fleet.licence_needed = LicenceClass::B1;
        let e = check_assignment(&r, &bus, &ok_driver, now).unwrap_err();
        assert!(!e.is_conflict() && e.to_string().contains("needs B1"), "{e}");
        let mut gone = car(1, 115.0, vec![]);
        gone.fleet.disposed_on = Some("2026-01-02".into());
        gone.fleet.disposal = Some(tianshu_model::carpool::DisposalHow::Auctioned);
        let e = check_assignment(&r, &gone, &ok_driver, now).unwrap_err();
        assert!(e.to_string().contains("disposed"), "{e}");
        let mut own = car(1, 115.0, vec![]);
        own.fleet.ownership = Ownership::Unit;
        assert!(matches!(
            check_assignment(&r, &own, &ok_driver, now),
            Err(AssignRefused::NotPool { .. })
        ));
        let e = check_assignment(&r, &car(1, 115.0, vec![]), &ok_driver, Timestamp(12 * H)).unwrap_err();
        assert!(e.to_string().starts_with("window: "), "{e}");
        let mut done = request();
        done.state = RequestState::Assigned;
        let e = check_assignment(&done, &car(1, 115.0, vec![]), &ok_driver, now).unwrap_err();
        assert!(e.is_conflict(), "{e}");
    }

    #[test]
    fn the_order_is_filed_by_the_requester_and_approved_by_the_dispatcher() {
        let r = request();
        let settings = UnitSettings::default();
        let o = assigned_order(&r, "鄂B00001", "王", "dispatcher", Timestamp(5 * H), settings).unwrap();
        assert_eq!(o.state, OrderState::Approved);
        assert_eq!(
            (o.filed_by.as_deref(), o.approved_by.as_deref()),
            (Some("li"), Some("dispatcher"))
        );
        assert_eq!(o.id, "YC-000007");
        assert!(o.validate().is_ok());
        assert!(o.covers(Timestamp(11 * H)));
        // The requester may not approve their own request's order.
        assert!(assigned_order(&r, "鄂B00001", "王", "li", Timestamp(5 * H), settings).is_err());
        let notices = assignment_notices(&r, "鄂B00001", &driver(1, "王", None, vec![]).driver);
        assert_eq!(notices.len(), 2);
        assert_eq!(notices[1].0, "driver:13800000000");
        assert!(notices[1].1.contains("阳新县"), "{}", notices[1].1);
    }

    /// A drive from the pickup (115.0, 30.2) east to `to_lon_e6` and back at 36 km/h, 10 s apart, from
    /// 10 h, with a 10-minute idling stop at the far end.
    fn drive(to_lon_e6: i32) -> Vec<tianshu_model::Position> {
        let pt = |t_s: i64, lon_e6: i32, speed_dkmh: u16| tianshu_model::Position {
            fix_time: Timestamp::from_secs(10 * 3600 + t_s),
            lon_e6,
            lat_e6: 30_200_000,
            speed_dkmh,
            status: tianshu_model::StatusFlags(tianshu_model::StatusFlags::ACC_ON),
            ..Default::default()
        };
        // 100 m per 10 s is about 0.001035 degrees of longitude at 30.2 N.
        let step = 1_035;
        let n = (to_lon_e6 - 115_000_000) / step;
        let mut pts = Vec::new();
        let mut t = 0;
        for i in 0..=n {
            pts.push(pt(t, 115_000_000 + i * step, 360));
            t += 10;
        }
        for _ in 0..60 {
            pts.push(pt(t, 115_000_000 + n * step, 0));
            t += 10;
        }
        for i in (0..=n).rev() {
            pts.push(pt(t, 115_000_000 + i * step, 360));
            t += 10;
        }
        pts
    }

    #[test]
    fn a_trip_is_settled_from_its_track_and_differences_are_named() {
        let mut r = request().fields;
        r.destinations[0] = Place {
            name: "东站".into(),
            lon: 115.1,
            lat: 30.2,
        };
        let t = Thresholds::default();
        let s = settle(&r, &drive(115_100_000), &t);
        // 2 x 9.6 km, as driven.
        let there_and_back = 2.0 * LonLat::new(115.0, 30.2).distance_m(LonLat::new(115.1, 30.2)) / 1000.0;
        assert!(
            (s.km - there_and_back).abs() / there_and_back < 0.02,
            "{} vs {there_and_back}",
            s.km
        );
        assert!(s.destinations[0].at.is_some(), "{s:?}");
        assert_eq!(s.differences, Vec::<String>::new());
        assert_eq!(s.departure, Some(Timestamp::from_secs(10 * 3600)));
        assert!((590..=610).contains(&s.idle_s), "{}", s.idle_s);
        assert_eq!(s.outside_corridor_s, 0);
        // Turned back halfway: the destination never reached.
        let s = settle(&r, &drive(115_050_000), &t);
        assert_eq!(s.destinations[0].at, None);
        assert_eq!(s.differences, ["destination 东站 never reached"]);
        // Driven twice as far as needed, and back hours late.
        let mut near = r.clone();
        near.destinations[0].lon = 115.04;
        near.end = Timestamp::from_secs(10 * 3600);
        let s = settle(
            &near,
            &drive(115_100_000),
            &Thresholds {
                late_return_ms: 600_000,
                ..t
            },
        );
        assert_eq!(s.differences.len(), 2, "{:?}", s.differences);
        assert!(s.differences[0].contains("more than"), "{:?}", s.differences);
        assert!(s.differences[1].starts_with("back at"), "{:?}", s.differences);
        assert!(
            s.outside_corridor_s > 0,
            "beyond the near destination is off the legs"
        );
        // No track at all.
        let s = settle(&r, &[], &t);
        assert!(
            s.differences.iter().any(|d| d.contains("did not move")),
            "{:?}",
            s.differences
        );
    }
}

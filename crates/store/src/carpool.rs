//! The office's car pool: units' requests for a car, the cars' fleet fields, maintenance windows, and
//! the assignment of a car and a driver, which writes the approved dispatch order the rules read.
//!
//! An assignment runs in one transaction: the reference stamp first (as every order write does: its
//! row lock serialises all writes of orders, so two assignments, or an assignment and an order filed
//! through the API, never book one car twice), then the request under a row lock, the car, the driver
//! and what holds them in the window; `tianshu_rules::carpool` decides, and the order, the request's
//! assignment and the notices to the requester and the driver are written together. A refusal changes
//! nothing: a clash is [`Error::Conflict`] naming it, a bad choice [`Error::Invalid`] naming the field,
//! an approval the car's unit wants a second person for [`Error::Forbidden`].
//!
//! Written once over [`crate::sql::Tx`]; reached through [`crate::Store::carpool`]. Schema: migration
//! 0300 of both backends.

use std::collections::HashMap;

use serde::Serialize;
use tianshu_model::carpool::{
    Assignment, CarRequest, DisposalHow, FleetFields, LicenceClass, MarkingStatus, Ownership, RequestFields,
    RequestState, TerminalStatus,
};
use tianshu_model::carpool::{Settlement, SettlementCorrection};
use tianshu_model::driver::Driver;
use tianshu_model::{LonLat, Timestamp, UnitId, VehicleId};
use tianshu_rules::carpool::{
    Booking, CarCandidate, DriverCandidate, assigned_order, assignment_notices, settlement_case,
};
use tianshu_rules::workflow::OrderRefused;

use crate::carpool_notices::{Route, queue};
use crate::db::{Change, Db};
use crate::reference::{StoredOrder, settings_of_car, store_order};
use crate::registry::{VEHICLE_COLS, returned_id, to_vehicle};
use crate::sql::{Row, Tx, params, tx};
use crate::stamp::next_stamp;
use crate::{Error, Result, Store};

pub(crate) const REQUEST_COLS: &str = "r.id, r.unit, r.requester, r.state, r.created_ms, r.body, r.vehicle_id, \
                            v.plate, r.driver_id, r.order_id, r.assigned_by, r.assigned_ms, r.settlement, \
                            r.rating";
pub(crate) const REQUEST_FROM: &str = "carpool_requests r LEFT JOIN vehicles v ON v.id = r.vehicle_id";
const FLEET_COLS: &str = "vehicle_id, licence_needed, ownership, disposed_on, disposal, marking_status, \
                          marking_exempt_reason, terminal_status, terminal_exempt_reason";

fn corrupt(what: &str, v: &str) -> Error {
    Error::Corrupt(format!("{what} {v:?}"))
}

/// A value's snake_case id as serde writes it.
fn id_of<T: Serialize>(v: &T) -> Result<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(Error::Corrupt("not a plain id".into())),
    }
}

/// Reads back a value written with [`id_of`].
fn from_id<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| corrupt(what, s))
}

pub(crate) fn to_request(r: &Row) -> Result<CarRequest> {
    let state = r.text(3)?;
    let body = r.text(5)?;
    let id = r.int(0)?;
    let fields: RequestFields =
        serde_json::from_str(&body).map_err(|e| Error::Corrupt(format!("request {id}: {e}")))?;
    let assignment = match (r.opt_int(6)?, r.opt_int(8)?) {
        (Some(vehicle), Some(driver)) => Some(Assignment {
            vehicle: VehicleId(vehicle),
            plate: r.opt_text(7)?.unwrap_or_default(),
            driver,
            order: r.opt_text(9)?.unwrap_or_default(),
            by: r.opt_text(10)?.unwrap_or_default(),
            at: Timestamp(r.opt_int(11)?.unwrap_or_default()),
        }),
        _ => None,
    };
    let settlement = r
        .opt_text(12)?
        .map(|s| {
            serde_json::from_str(&s).map_err(|e| Error::Corrupt(format!("request {id} settlement: {e}")))
        })
        .transpose()?;
    let rating = r
        .opt_text(13)?
        .map(|s| serde_json::from_str(&s).map_err(|e| Error::Corrupt(format!("request {id} rating: {e}"))))
        .transpose()?;
    Ok(CarRequest {
        settlement,
        rating,
        id,
        unit: UnitId(r.int(1)?),
        requester: r.text(2)?,
        state: RequestState::parse(&state).ok_or_else(|| corrupt("request state", &state))?,
        created: Timestamp(r.int(4)?),
        fields,
        assignment,
    })
}

fn to_fleet(r: &Row) -> Result<(VehicleId, FleetFields)> {
    let licence = r.text(1)?;
    Ok((
        VehicleId(r.int(0)?),
        FleetFields {
            licence_needed: LicenceClass::parse(&licence).ok_or_else(|| corrupt("licence", &licence))?,
            ownership: from_id::<Ownership>("ownership", &r.text(2)?)?,
            disposed_on: r.opt_text(3)?,
            disposal: r
                .opt_text(4)?
                .map(|d| from_id::<DisposalHow>("disposal", &d))
                .transpose()?,
            marking_status: from_id::<MarkingStatus>("marking status", &r.text(5)?)?,
            marking_exempt_reason: r.opt_text(6)?,
            terminal_status: from_id::<TerminalStatus>("terminal status", &r.text(7)?)?,
            terminal_exempt_reason: r.opt_text(8)?,
        },
    ))
}

pub(crate) async fn request_locked(tx: &mut dyn Tx, id: i64) -> Result<CarRequest> {
    let lock = format!("SELECT id FROM carpool_requests WHERE id = $1{}", tx.row_lock());
    tx.opt(&lock, params![id]).await?;
    let sql = format!("SELECT {REQUEST_COLS} FROM {REQUEST_FROM} WHERE r.id = $1");
    let row = tx
        .opt(&sql, params![id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("request {id}")))?;
    to_request(&row)
}

async fn create_request(
    tx: &mut dyn Tx,
    f: RequestFields,
    requester: String,
    now: Timestamp,
) -> Result<CarRequest> {
    let f = f.checked(now).map_err(Error::invalid)?;
    let unit = f
        .unit
        .ok_or_else(|| Error::invalid("unit: the unit served is not known"))?;
    if tx
        .opt("SELECT id FROM units WHERE id = $1", params![unit.0])
        .await?
        .is_none()
    {
        return Err(Error::invalid(format!("unit: there is no unit {unit}")));
    }
    let body = serde_json::to_string(&f).map_err(|e| Error::Corrupt(e.to_string()))?;
    let sql = "INSERT INTO carpool_requests (unit, requester, kind, state, start_ms, end_ms, body, created_ms) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    let id = returned_id(
        tx,
        sql,
        params![
            unit.0,
            &requester,
            f.kind.as_str(),
            RequestState::Pending.as_str(),
            f.start,
            f.end,
            body,
            now
        ],
    )
    .await?;
    Ok(CarRequest {
        id,
        unit,
        requester,
        state: RequestState::Pending,
        created: now,
        fields: f,
        assignment: None,
        settlement: None,
        rating: None,
    })
}

/// The fleet fields of every car that has them.
async fn fleets(tx: &mut dyn Tx) -> Result<HashMap<VehicleId, FleetFields>> {
    let sql = format!("SELECT {FLEET_COLS} FROM vehicle_fleet");
    tx.query(&sql, &[]).await?.iter().map(to_fleet).collect()
}

/// The one field of a stored order's body the free-car query needs: reading the body into a JSON tree
/// cost more than every query of the free-car read together (the SQL runs in under a millisecond).
#[derive(serde::Deserialize)]
struct OrderDriver<'a> {
    /// The driver named on the order.
    #[serde(borrow, default)]
    driver: Option<std::borrow::Cow<'a, str>>,
}

/// Everything that holds a car or a driver in `[$2, $1)`, in one statement (each statement is a round
/// trip, and on PostgreSQL the round trips were most of the free-car read): the orders by plate, with
/// the driver their body names; maintenance by vehicle; assigned requests by driver.
const BOOKINGS: &str = "\
    SELECT 'order', plate, NULL, id, start_ms, end_ms, body FROM rules_orders \
     WHERE start_ms < $1 AND end_ms > $2 AND state <> 'cancelled' \
    UNION ALL \
    SELECT 'maintenance', NULL, vehicle_id, CAST(id AS TEXT), start_ms, end_ms, note FROM carpool_maintenance \
     WHERE start_ms < $1 AND end_ms > $2 \
    UNION ALL \
    SELECT 'request', NULL, driver_id, CAST(id AS TEXT), start_ms, end_ms, NULL FROM carpool_requests \
     WHERE start_ms < $1 AND end_ms > $2 AND driver_id IS NOT NULL AND state <> 'cancelled'";

/// The bookings of [`BOOKINGS`], sorted by what they hold.
#[derive(Default)]
struct Bookings {
    /// Orders, by plate.
    car_orders: HashMap<String, Vec<Booking>>,
    /// Orders, by the driver's name on them.
    driver_names: HashMap<String, Vec<Booking>>,
    /// Maintenance, by vehicle.
    maintenance: HashMap<i64, Vec<Booking>>,
    /// Assigned requests, by driver.
    assigned: HashMap<i64, Vec<Booking>>,
}

async fn bookings(tx: &mut dyn Tx, start: Timestamp, end: Timestamp) -> Result<Bookings> {
    let mut out = Bookings::default();
    for r in tx.query(BOOKINGS, params![end, start]).await? {
        let (kind, id) = (r.text(0)?, r.text(3)?);
        let (start, end) = (Timestamp(r.int(4)?), Timestamp(r.int(5)?));
        match kind.as_str() {
            "order" => {
                let booking = Booking {
                    what: format!("order {id}"),
                    start,
                    end,
                };
                let body = r.text(6)?;
                let named: OrderDriver<'_> =
                    serde_json::from_str(&body).map_err(|e| Error::Corrupt(format!("stored order: {e}")))?;
                if let Some(name) = named.driver {
                    let held = out.driver_names.entry(name.trim().to_string()).or_default();
                    held.push(booking.clone());
                }
                out.car_orders.entry(r.text(1)?).or_default().push(booking);
            }
            "maintenance" => out.maintenance.entry(r.int(2)?).or_default().push(Booking {
                what: format!("maintenance {id} ({})", r.text(6)?),
                start,
                end,
            }),
            _ => out.assigned.entry(r.int(2)?).or_default().push(Booking {
                what: format!("request {id}"),
                start,
                end,
            }),
        }
    }
    Ok(out)
}

/// The cars and drivers with what holds each in `[start, end)`; only `vehicle` and `driver` when given.
async fn candidates(
    tx: &mut dyn Tx,
    start: Timestamp,
    end: Timestamp,
    only: Option<(VehicleId, i64)>,
) -> Result<(Vec<CarCandidate>, Vec<DriverCandidate>)> {
    let (car_filter, driver_filter) = match only {
        Some((v, d)) => (format!(" WHERE v.id = {}", v.0), format!(" WHERE id = {d}")),
        None => (String::new(), String::new()),
    };
    let mut held = bookings(tx, start, end).await?;
    // A car without fleet fields has the defaults: its fleet columns read as NULL.
    let of = |alias: &str, cols: &str| {
        cols.split(", ")
            .map(|c| format!("{alias}.{c}"))
            .collect::<Vec<_>>()
    };
    let sql = format!(
        "SELECT {}, {} FROM vehicles v LEFT JOIN vehicle_fleet f ON f.vehicle_id = v.id{car_filter}",
        of("v", VEHICLE_COLS).join(", "),
        of("f", FLEET_COLS).join(", ")
    );
    let vehicle_cols = VEHICLE_COLS.split(", ").count();
    let mut cars = Vec::new();
    for mut r in tx.query(&sql, &[]).await? {
        let fleet_row = r.split_off(vehicle_cols);
        let vehicle = to_vehicle(&r)?;
        let fleet = match fleet_row.opt_int(0)? {
            Some(_) => to_fleet(&fleet_row)?.1,
            None => FleetFields::default(),
        };
        let mut bookings = held.car_orders.remove(&vehicle.plate).unwrap_or_default();
        bookings.extend(held.maintenance.remove(&vehicle.id.0).unwrap_or_default());
        cars.push(CarCandidate {
            fleet,
            vehicle,
            position: None,
            bookings,
        });
    }
    let sql = format!("SELECT {} FROM drivers{driver_filter}", crate::drivers::COLS);
    let drivers = tx
        .query(&sql, &[])
        .await?
        .iter()
        .map(crate::drivers::to_driver)
        .collect::<Result<Vec<Driver>>>()?
        .into_iter()
        .map(|d| {
            let mut bookings = held.assigned.remove(&d.id).unwrap_or_default();
            bookings.extend(held.driver_names.get(&d.fields.name).cloned().unwrap_or_default());
            DriverCandidate { driver: d, bookings }
        })
        .collect();
    Ok((cars, drivers))
}

/// A request given its car and driver, with the order that covers it.
#[derive(Debug, Clone)]
pub struct Assigned {
    /// The request, now assigned.
    pub request: CarRequest,
    /// The approved order.
    pub order: StoredOrder,
    /// The notices sent: recipient and text.
    pub notices: Vec<(String, String)>,
}

/// Who assigns what: the request, the car, the driver.
#[derive(Debug, Clone, Copy)]
pub struct AssignAsk<'a> {
    /// The request.
    pub id: i64,
    /// The car.
    pub vehicle: VehicleId,
    /// The driver's registry id.
    pub driver: i64,
    /// The dispatcher.
    pub by: &'a str,
}

async fn assign(
    tx: &mut dyn Tx,
    id: i64,
    vehicle: VehicleId,
    driver: i64,
    by: String,
    now: Timestamp,
    route: Route,
) -> Result<Assigned> {
    let stamp = Timestamp(next_stamp(tx, now).await?);
    let mut request = request_locked(tx, id).await?;
    let (mut cars, mut drivers) = candidates(
        tx,
        request.fields.start,
        request.fields.end,
        Some((vehicle, driver)),
    )
    .await?;
    let car = cars
        .pop()
        .ok_or_else(|| Error::invalid(format!("vehicle: there is no vehicle {vehicle}")))?;
    let driver = drivers
        .pop()
        .ok_or_else(|| Error::invalid(format!("driver: there is no driver {driver}")))?;
    tianshu_rules::carpool::check_assignment(&request, &car, &driver, now).map_err(|e| {
        if e.is_conflict() {
            Error::Conflict(e.to_string())
        } else {
            Error::invalid(e.to_string())
        }
    })?;
    let plate = car.vehicle.plate.as_str();
    let settings = settings_of_car(tx, plate).await?;
    let order = assigned_order(&request, plate, &driver.driver.fields.name, &by, now, settings).map_err(
        |e| match e {
            OrderRefused::Transition(e) => Error::Conflict(e.to_string()),
            OrderRefused::SecondPerson(e) => Error::Forbidden(e.to_string()),
        },
    )?;
    let row = order.stored(stamp).map_err(Error::invalid)?;
    if !store_order(tx, &row, false).await? {
        return Err(Error::Conflict(format!("order {} already exists", row.id)));
    }
    tx.execute(
        "UPDATE carpool_requests SET state = $1, vehicle_id = $2, driver_id = $3, order_id = $4, \
         assigned_by = $5, assigned_ms = $6 WHERE id = $7",
        params![
            RequestState::Assigned.as_str(),
            car.vehicle.id.0,
            driver.driver.id,
            &row.id,
            &by,
            now,
            id
        ],
    )
    .await?;
    let notices = assignment_notices(&request, plate, &driver.driver);
    for (to, text) in &notices {
        tx.execute(
            "INSERT INTO carpool_notices (request_id, recipient, body, created_ms) VALUES ($1, $2, $3, $4)",
            params![id, to, text, now],
        )
        .await?;
    }
    request.state = RequestState::Assigned;
    request.assignment = Some(Assignment {
        vehicle: car.vehicle.id,
        plate: plate.to_string(),
        driver: driver.driver.id,
        order: row.id.clone(),
        by,
        at: now,
    });
    if let Some(route) = &route {
        queue(tx, id, &route.assignment(&request, &notices), now).await?;
    }
    Ok(Assigned {
        request,
        order: row,
        notices,
    })
}

/// A request settled, and the alert case its differences opened.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The request, now settled.
    pub request: CarRequest,
    /// The case opened, when the settlement has differences.
    pub case: Option<i64>,
}

pub(crate) async fn write_settlement(
    tx: &mut dyn Tx,
    id: i64,
    s: &Settlement,
    state: RequestState,
) -> Result<()> {
    let body = serde_json::to_string(s).map_err(|e| Error::Corrupt(e.to_string()))?;
    tx.execute(
        "UPDATE carpool_requests SET state = $1, settlement = $2 WHERE id = $3",
        params![state.as_str(), body, id],
    )
    .await?;
    Ok(())
}

async fn settle(tx: &mut dyn Tx, id: i64, s: Settlement, now: Timestamp, route: Route) -> Result<Settled> {
    let mut request = request_locked(tx, id).await?;
    if request.state != RequestState::Assigned {
        return Err(Error::Conflict(format!(
            "request {id} is {}: only an assigned trip is settled",
            request.state.as_str()
        )));
    }
    write_settlement(tx, id, &s, RequestState::Settled).await?;
    let unit = match &request.assignment {
        Some(a) => tx
            .opt("SELECT unit FROM vehicles WHERE id = $1", params![a.vehicle.0])
            .await?
            .map(|r| r.int(0))
            .transpose()?
            .map(UnitId),
        None => None,
    };
    let case = match unit.and_then(|u| settlement_case(&request, u, &s)) {
        Some(c) => {
            let deliveries = route.as_ref().map(|r| r.case(&c)).unwrap_or_default();
            Some(crate::cases::record_case(tx, &c, &deliveries, now).await?.0)
        }
        None => None,
    };
    request.state = RequestState::Settled;
    request.settlement = Some(s);
    Ok(Settled { request, case })
}

async fn confirm(
    tx: &mut dyn Tx,
    id: i64,
    correction: SettlementCorrection,
    by: String,
) -> Result<CarRequest> {
    let mut request = request_locked(tx, id).await?;
    let mut s = match (&request.settlement, request.state) {
        (Some(s), RequestState::Settled) => s.clone(),
        _ => {
            return Err(Error::Conflict(format!(
                "request {id} is {}: only a settled trip is confirmed",
                request.state.as_str()
            )));
        }
    };
    s = correction.apply(s, &by).map_err(Error::invalid)?;
    write_settlement(tx, id, &s, RequestState::Settled).await?;
    request.settlement = Some(s);
    Ok(request)
}

async fn put_fleet(tx: &mut dyn Tx, vehicle: VehicleId, f: FleetFields) -> Result<(VehicleId, FleetFields)> {
    let f = f.checked().map_err(Error::invalid)?;
    let sql = format!("SELECT id FROM vehicles WHERE id = $1{}", tx.row_lock());
    if tx.opt(&sql, params![vehicle.0]).await?.is_none() {
        return Err(Error::NotFound(format!("vehicle {vehicle}")));
    }
    let sql = format!(
        "INSERT INTO vehicle_fleet ({FLEET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (vehicle_id) DO UPDATE SET licence_needed = excluded.licence_needed, \
         ownership = excluded.ownership, disposed_on = excluded.disposed_on, disposal = excluded.disposal, \
         marking_status = excluded.marking_status, marking_exempt_reason = excluded.marking_exempt_reason, \
         terminal_status = excluded.terminal_status, terminal_exempt_reason = excluded.terminal_exempt_reason"
    );
    let disposal = f.disposal.as_ref().map(id_of).transpose()?;
    tx.execute(
        &sql,
        params![
            vehicle.0,
            f.licence_needed.as_str(),
            id_of(&f.ownership)?,
            f.disposed_on.clone(),
            disposal,
            id_of(&f.marking_status)?,
            f.marking_exempt_reason.clone(),
            id_of(&f.terminal_status)?,
            f.terminal_exempt_reason.clone()
        ],
    )
    .await?;
    Ok((vehicle, f))
}

/// A maintenance window of a car.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// Its id.
    pub id: i64,
    /// The car.
    pub vehicle: VehicleId,
    /// Its start.
    pub start: Timestamp,
    /// Its end, exclusive.
    pub end: Timestamp,
    /// What is done.
    pub note: String,
}

async fn add_maintenance(tx: &mut dyn Tx, mut m: Maintenance) -> Result<Maintenance> {
    if m.end <= m.start {
        return Err(Error::invalid(format!(
            "end: {} is not after start {}",
            m.end, m.start
        )));
    }
    m.note = m.note.trim().to_string();
    if m.note.is_empty() || m.note.chars().count() > 200 {
        return Err(Error::invalid("note: 1 to 200 characters"));
    }
    if tx
        .opt("SELECT id FROM vehicles WHERE id = $1", params![m.vehicle.0])
        .await?
        .is_none()
    {
        return Err(Error::invalid(format!(
            "vehicle: there is no vehicle {}",
            m.vehicle
        )));
    }
    let sql = "INSERT INTO carpool_maintenance (vehicle_id, start_ms, end_ms, note) VALUES ($1, $2, $3, $4) \
               RETURNING id";
    m.id = returned_id(tx, sql, params![m.vehicle.0, m.start, m.end, &m.note]).await?;
    Ok(m)
}

/// The car pool of a store.
pub struct Carpool<'a> {
    pub(crate) store: &'a Store,
    pub(crate) db: &'a Db,
}

impl<'a> Carpool<'a> {
    /// Records a request for a car by `requester` at `now`; its unit must be filled in.
    pub fn create_request(
        &self,
        f: &RequestFields,
        requester: &str,
        now: Timestamp,
    ) -> Change<'a, CarRequest> {
        let (f, requester) = (f.clone(), requester.to_string());
        Change::new(self.db, tx!(|tx| create_request(tx, f, requester, now)))
    }

    /// Every request, newest window first.
    pub async fn requests(&self) -> Result<Vec<CarRequest>> {
        let sql = format!("SELECT {REQUEST_COLS} FROM {REQUEST_FROM} ORDER BY r.start_ms DESC, r.id DESC");
        self.db.rows(sql, Vec::new(), to_request).await
    }

    /// One request.
    pub async fn request(&self, id: i64) -> Result<Option<CarRequest>> {
        let sql = format!("SELECT {REQUEST_COLS} FROM {REQUEST_FROM} WHERE r.id = $1");
        self.db.row(sql, vec![id.into()], to_request).await
    }

    /// The notices sent about a request: recipient and text, in order.
    pub async fn notices(&self, id: i64) -> Result<Vec<(String, String)>> {
        let sql = "SELECT recipient, body FROM carpool_notices WHERE request_id = $1 ORDER BY id".to_string();
        self.db
            .rows(sql, vec![id.into()], |r| Ok((r.text(0)?, r.text(1)?)))
            .await
    }

    /// Every car and driver with what holds each in `[start, end)`, the cars with their latest positions.
    pub async fn candidates(
        &self,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<(Vec<CarCandidate>, Vec<DriverCandidate>)> {
        // The positions come from the points' side of the store, on a connection of their own: read
        // alongside the registry and the bookings, not after them.
        let ((mut cars, drivers), latest) = tokio::try_join!(
            self.db.read(tx!(|tx| candidates(tx, start, end, None))),
            self.store.latest_positions()
        )?;
        let positions: HashMap<VehicleId, LonLat> = latest
            .into_iter()
            .map(|p| (p.vehicle, LonLat::from_e6(p.lon_e6, p.lat_e6)))
            .collect();
        for c in &mut cars {
            c.position = positions.get(&c.vehicle.id).copied();
        }
        Ok((cars, drivers))
    }

    /// Assigns `vehicle` and `driver` to request `id` as `by` at `now` (see the module's documentation).
    /// The notices go to the channels through `route`, when given, in the same transaction.
    pub fn assign(&self, ask: AssignAsk<'_>, now: Timestamp, route: Route) -> Change<'a, Assigned> {
        let AssignAsk {
            id,
            vehicle,
            driver,
            by,
        } = ask;
        let by = by.to_string();
        Change::new(self.db, tx!(|tx| assign(tx, id, vehicle, driver, by, now, route)))
    }

    /// The fleet fields of a car (the defaults when none are recorded).
    pub async fn fleet(&self, vehicle: VehicleId) -> Result<FleetFields> {
        let sql = format!("SELECT {FLEET_COLS} FROM vehicle_fleet WHERE vehicle_id = $1");
        Ok(self
            .db
            .row(sql, vec![vehicle.0.into()], to_fleet)
            .await?
            .map(|(_, f)| f)
            .unwrap_or_default())
    }

    /// The fleet fields of every car that has them.
    pub async fn fleets(&self) -> Result<HashMap<VehicleId, FleetFields>> {
        self.db.read(tx!(|tx| fleets(tx))).await
    }

    /// Records a car's fleet fields; an unknown car is [`Error::NotFound`].
    pub fn put_fleet(&self, vehicle: VehicleId, f: &FleetFields) -> Change<'a, (VehicleId, FleetFields)> {
        let f = f.clone();
        Change::new(self.db, tx!(|tx| put_fleet(tx, vehicle, f)))
    }

    /// Settles an assigned trip with `s` (computed from its track by `tianshu_rules::carpool::settle`),
    /// opening an alert case for its differences in the same transaction; a request not assigned is
    /// [`Error::Conflict`]: a trip is settled once. The case's notifications go to the channels through
    /// `route`, when given.
    pub fn settle(&self, id: i64, s: &Settlement, now: Timestamp, route: Route) -> Change<'a, Settled> {
        let s = s.clone();
        Change::new(self.db, tx!(|tx| settle(tx, id, s, now, route)))
    }

    /// The dispatcher's confirmation of a settled trip, with a correction when given.
    pub fn confirm(&self, id: i64, c: &SettlementCorrection, by: &str) -> Change<'a, CarRequest> {
        let (c, by) = (c.clone(), by.to_string());
        Change::new(self.db, tx!(|tx| confirm(tx, id, c, by)))
    }

    /// The car and rule of every alert case raised with `from <= start < to`.
    pub async fn case_rules(&self, from: Timestamp, to: Timestamp) -> Result<Vec<(VehicleId, String)>> {
        let sql =
            "SELECT vehicle_id, rule FROM alert_cases WHERE start_ms >= $1 AND start_ms < $2".to_string();
        self.db
            .rows(sql, vec![from.into(), to.into()], |r| {
                Ok((VehicleId(r.int(0)?), r.text(1)?))
            })
            .await
    }

    /// Records a maintenance window of a car (its `id` is assigned).
    pub fn add_maintenance(&self, m: &Maintenance) -> Change<'a, Maintenance> {
        let m = m.clone();
        Change::new(self.db, tx!(|tx| add_maintenance(tx, m)))
    }
}

impl Store {
    /// The office's car pool.
    pub fn carpool(&self) -> Carpool<'_> {
        Carpool {
            store: self,
            db: self.db(),
        }
    }
}

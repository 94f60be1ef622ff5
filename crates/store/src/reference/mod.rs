//! Reference data for the rules: holiday calendars, geofences, dispatch orders and holiday filings,
//! units' working hours and settings, and the reference stamp that tells the running rules to reload them.
//!
//! Written once over [`crate::sql::Tx`], and the one way in for the command line's file imports and the
//! web API's single records alike: the rules crate's parsers and checks, the registry checks (a plate,
//! a unit, a depot's unit must exist), the write, the reference stamp and, when the caller gives one,
//! the audit record commit in one transaction, all or nothing. The store keeps each item as the
//! document it came in as (a calendar year's TOML text, a fence, an order or a timetable as JSON) plus
//! the columns it is looked up by; the rules compile them.
//!
//! Invariants: every write moves the reference stamp (`crate::stamp`); an order's `updated_ms` is the
//! stamp of the write that stored it, so it grows with every write of that order and serves as its
//! version; an order's state changes only as [`Order::step`] allows (the workflow, and who may approve
//! alone under the car's unit settings), checked against the stored order under a row lock in the
//! transaction that writes it. Writes that take the stamp first
//! (orders) lock nothing before it; the others take it last, after their own locks, as the registry's
//! writes do, so no two writes wait on each other in opposite orders.
//!
//! Schema: migrations 0100-0103 of both backends; reached through [`Store::rules`].

use tianshu_model::{Timestamp, UnitId};
use tianshu_rules::Geofence;
use tianshu_rules::orders::{Order, OrderState, UnitSettings};
use tianshu_rules::timetable::UnitTimetableBody;

use crate::db::{Change, Db};
use crate::rules::parse_json;
use crate::sql::{Row, tx, work};
use crate::{Error, Result, Store};
use write::{
    FENCE_COLS, ORDER_COLS, change_order_state, create_order, delete_fence, delete_timetable,
    import_timetables, put_calendar, put_fences, put_orders, put_timetables, put_unit_settings, settings,
    to_fence, to_order, write_fence,
};

mod write;

pub(crate) use write::settings_of_car;
pub(crate) use write::write_order as store_order;

pub use tianshu_model::reference::{
    FenceWrite, OrderImportSummary, StoredCalendar, StoredFence, StoredOrder, StoredUnitTimetable,
    TimetableWrite,
};
pub use tianshu_rules::calendar::CalendarWrite;
pub use tianshu_rules::workflow::OrderChange;

/// The rules' reference data of a store; reached through [`Store::rules`].
#[derive(Clone, Copy)]
pub struct ReferenceData<'a> {
    db: &'a Db,
}

impl ReferenceData<'_> {
    /// Imports one calendar year from its TOML text (the `tianshu calendar import` file), replacing a
    /// stored year.
    pub fn put_calendar(&self, text: &str, now: Timestamp) -> Change<'_, CalendarWrite> {
        let text = text.to_string();
        Change::new(self.db, tx!(|tx| put_calendar(tx, &text, now)))
    }

    /// Imports a GeoJSON FeatureCollection of geofences, replacing those with the same kind and name;
    /// returns (created, replaced).
    pub async fn import_geofences(&self, text: &str, now: Timestamp) -> Result<(u64, u64)> {
        let fences = tianshu_rules::fences::parse_geojson(text).map_err(|e| Error::invalid(e.to_string()))?;
        self.db.write(tx!(|tx| put_fences(tx, &fences, now))).await
    }

    /// Stores a new geofence; a fence of the same kind and name is [`Error::Conflict`], a depot whose
    /// unit is not registered [`Error::Invalid`].
    pub fn create_geofence(&self, fence: &Geofence, now: Timestamp) -> Change<'_, FenceWrite> {
        let fence = fence.clone();
        Change::new(self.db, tx!(|tx| write_fence(tx, None, &fence, now)))
    }

    /// Replaces the geofence `id`: unknown is [`Error::NotFound`], a kind and name taken by another
    /// fence [`Error::Conflict`].
    pub fn replace_geofence(&self, id: i64, fence: &Geofence, now: Timestamp) -> Change<'_, FenceWrite> {
        let fence = fence.clone();
        Change::new(self.db, tx!(|tx| write_fence(tx, Some(id), &fence, now)))
    }

    /// Deletes the geofence `id`; unknown is [`Error::NotFound`].
    pub fn delete_geofence(&self, id: i64, now: Timestamp) -> Change<'_, i64> {
        Change::new(self.db, tx!(|tx| delete_fence(tx, id, now)))
    }

    /// Imports a JSON Lines file of orders and filings, updating those with a known id. Every plate
    /// must be registered; every bad line is named.
    pub async fn import_orders(&self, text: &str, now: Timestamp) -> Result<OrderImportSummary> {
        let orders = tianshu_rules::orders::parse_jsonl_lines(text).map_err(|errs| {
            Error::invalid(
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        self.db.write(tx!(|tx| put_orders(tx, &orders, now))).await
    }

    /// Stores a new order or filing, filed by `by` ([`Order::file`]); a known id is [`Error::Conflict`], an
    /// invalid order or an unregistered plate [`Error::Invalid`], one filed approved by a person the car's
    /// unit wants a second person beside [`Error::Forbidden`].
    pub fn create_order(&self, order: &Order, by: &str, now: Timestamp) -> Change<'_, StoredOrder> {
        let (order, by) = (order.clone(), by.to_string());
        Change::new(self.db, tx!(|tx| create_order(tx, order, by, now)))
    }

    /// Moves the order `id` to state `to` as `by` ([`Order::step`]), checked against its stored state under
    /// a row lock. With a `version` (the `updated` stamp the caller read), an order written since is
    /// [`Error::Conflict`]; a step its state does not allow is [`Error::Conflict`] too, an approval the car's
    /// unit wants a second person for [`Error::Forbidden`].
    pub fn change_order_state(
        &self,
        id: &str,
        version: Option<i64>,
        to: OrderState,
        by: &str,
        now: Timestamp,
    ) -> Change<'_, OrderChange> {
        let (id, by) = (id.to_string(), by.to_string());
        Change::new(
            self.db,
            tx!(|tx| change_order_state(tx, id, version, to, by, now)),
        )
    }

    /// A unit's settings: the defaults when it has none stored (or there is no such unit).
    pub async fn unit_settings(&self, unit: UnitId) -> Result<UnitSettings> {
        let sql = "SELECT body FROM rules_unit_settings WHERE unit_id = $1";
        settings(
            self.db
                .row(sql.into(), vec![unit.0.into()], |r| r.text(0))
                .await?
                .as_deref(),
        )
    }

    /// Replaces a unit's settings; an unknown unit is [`Error::NotFound`].
    pub fn put_unit_settings(
        &self,
        unit: UnitId,
        s: UnitSettings,
        now: Timestamp,
    ) -> Change<'_, (UnitId, UnitSettings)> {
        Change::new(self.db, tx!(|tx| put_unit_settings(tx, unit, s, now)))
    }

    /// Imports a TOML file of `[[unit_timetables]]` (the shape of `[[rules.unit_timetables]]` in the
    /// configuration), replacing the stored timetables of the units it names. Every unit must be
    /// registered. Returns (created, replaced).
    pub async fn import_unit_timetables(&self, text: &str, now: Timestamp) -> Result<(u64, u64)> {
        let text = text.to_string();
        self.db.write(tx!(|tx| import_timetables(tx, &text, now))).await
    }

    /// Replaces the working hours of `unit` (checked as a configured timetable is); an unknown unit is
    /// [`Error::NotFound`].
    pub fn put_unit_timetable(
        &self,
        unit: UnitId,
        body: &UnitTimetableBody,
        now: Timestamp,
    ) -> Change<'_, TimetableWrite> {
        let checked = body.validate().map_err(Error::invalid);
        let rows = vec![(unit, body.clone())];
        let change = work(move |tx| {
            Box::pin(async move {
                checked?;
                let mut written = put_timetables(tx, &rows, now).await?;
                written
                    .pop()
                    .ok_or_else(|| Error::Corrupt("no timetable written".into()))
            })
        });
        Change::new(self.db, change)
    }

    /// Deletes the timetable of `unit`; none is [`Error::NotFound`].
    pub fn delete_unit_timetable(&self, unit: UnitId, now: Timestamp) -> Change<'_, UnitId> {
        Change::new(self.db, tx!(|tx| delete_timetable(tx, unit, now)))
    }

    /// Every stored calendar year, by year.
    pub async fn calendars(&self) -> Result<Vec<StoredCalendar>> {
        let sql = "SELECT year, source, updated_ms FROM rules_calendars ORDER BY year";
        self.db.rows(sql.into(), Vec::new(), to_calendar).await
    }

    /// Every geofence with its id, by id.
    pub async fn geofences_with_ids(&self) -> Result<Vec<(i64, StoredFence)>> {
        let sql = format!("SELECT {FENCE_COLS} FROM rules_geofences ORDER BY id");
        self.db.rows(sql, Vec::new(), to_fence).await
    }

    /// Every geofence, by id.
    pub async fn geofences(&self) -> Result<Vec<StoredFence>> {
        let fences = self.geofences_with_ids().await?;
        Ok(fences.into_iter().map(|(_, f)| f).collect())
    }

    /// Every order and filing, by start.
    pub async fn orders(&self) -> Result<Vec<StoredOrder>> {
        self.orders_updated_after(Timestamp(i64::MIN)).await
    }

    /// Orders and filings written after the reference stamp `after`, by start.
    pub async fn orders_updated_after(&self, after: Timestamp) -> Result<Vec<StoredOrder>> {
        let sql =
            format!("SELECT {ORDER_COLS} FROM rules_orders WHERE updated_ms > $1 ORDER BY start_ms, id");
        self.db.rows(sql, vec![after.into()], to_order).await
    }

    /// One order or filing.
    pub async fn order(&self, id: &str) -> Result<Option<StoredOrder>> {
        let sql = format!("SELECT {ORDER_COLS} FROM rules_orders WHERE id = $1");
        self.db.row(sql, vec![id.into()], to_order).await
    }

    /// Every stored unit timetable, by unit id.
    pub async fn unit_timetables(&self) -> Result<Vec<StoredUnitTimetable>> {
        let sql = "SELECT unit_id, body, updated_ms FROM rules_unit_timetables ORDER BY unit_id";
        self.db.rows(sql.into(), Vec::new(), to_timetable).await
    }

    /// The latest change to any reference data, for reloads: the largest update time of calendars,
    /// geofences and orders, and the reference stamp, which every write moves (registry edits and
    /// deletions included, which no stored row shows). A reader that has seen stamp S has seen every
    /// write stamped S or lower.
    pub async fn reference_stamp(&self) -> Result<Timestamp> {
        let sql = "SELECT MAX(m) FROM (SELECT MAX(updated_ms) AS m FROM rules_calendars \
                   UNION ALL SELECT MAX(updated_ms) FROM rules_geofences \
                   UNION ALL SELECT MAX(updated_ms) FROM rules_orders \
                   UNION ALL SELECT stamp_ms FROM rules_reference_changes) AS s";
        let stamp = self.db.row(sql.into(), Vec::new(), |r| r.opt_int(0)).await?;
        Ok(Timestamp(stamp.flatten().unwrap_or(0)))
    }
}

fn to_calendar(r: &Row) -> Result<StoredCalendar> {
    Ok(StoredCalendar {
        year: i32::try_from(r.int(0)?).map_err(|_| Error::Corrupt("calendar year".into()))?,
        source: r.text(1)?,
        updated: Timestamp(r.int(2)?),
    })
}

fn to_timetable(r: &Row) -> Result<StoredUnitTimetable> {
    Ok(StoredUnitTimetable {
        unit: UnitId(r.int(0)?),
        body: parse_json(&r.text(1)?)?,
        updated: Timestamp(r.int(2)?),
    })
}

impl Store {
    /// The rules' reference data of this store.
    pub fn rules(&self) -> ReferenceData<'_> {
        ReferenceData { db: self.db() }
    }
}

//! The rules area: reference data for the rule engine (calendars, geofences, orders and filings) and
//! alert cases with their history and delivery outbox.
//!
//! The store keeps reference data as the documents it was imported from (a calendar year's TOML text, a
//! fence or an order as JSON) plus the columns it is looked up by; the rule engine parses them. Cases
//! are one row per episode, identified by (vehicle, rule, start): recording an episode again updates
//! its end and evidence instead of opening a second case. A case and its notifications are written in
//! one transaction (an outbox), so a crash between detection and delivery delays a notification but
//! never loses it.
//!
//! Schema: migrations 0100-0199 of both backends; implementations in `embedded/rules.rs` and
//! `postgres/rules.rs`; reached through [`crate::Store::rules`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tianshu_model::{Timestamp, UnitId, VehicleId};

use crate::{BackendKind, Error, Result, Store};

/// One year of the official calendar, as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCalendar {
    /// The year.
    pub year: i32,
    /// The TOML text.
    pub source: String,
    /// When it was imported.
    pub updated: Timestamp,
}

/// A geofence, as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFence {
    /// `region`, `depot`, `prohibited` or `speed_zone`.
    pub kind: String,
    /// Name, unique per kind.
    pub name: String,
    /// The fence as JSON (name, kind, unit, category, speed limit, polygons).
    pub body: serde_json::Value,
    /// When it was last imported (set by the store).
    pub updated: Timestamp,
}

/// A dispatch order or holiday filing, as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOrder {
    /// Order id.
    pub id: String,
    /// The car's plate.
    pub plate: String,
    /// `order` or `filing`.
    pub kind: String,
    /// `requested`, `approved`, `cancelled` or `completed`.
    pub state: String,
    /// Start of the window.
    pub start: Timestamp,
    /// End of the window.
    pub end: Timestamp,
    /// The order as JSON, in the import format.
    pub body: serde_json::Value,
    /// When it was last imported (set by the store).
    pub updated: Timestamp,
}

/// The office hours of one unit, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUnitTimetable {
    /// The unit.
    pub unit: UnitId,
    /// The timetable as JSON: `{"periods": [...], "seasons": [...]}`, the shape of a configured
    /// `[[rules.unit_timetables]]` entry without its `unit`.
    pub body: serde_json::Value,
    /// When it was last written (set by the store).
    pub updated: Timestamp,
}

/// What an order import did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderImportSummary {
    /// New ids.
    pub created: u64,
    /// Known ids whose content changed.
    pub updated: u64,
    /// Known ids imported again unchanged.
    pub unchanged: u64,
    /// Ids created or changed, for re-evaluation.
    pub changed_ids: Vec<String>,
}

/// Where a case is in its life (the model's; the steps between states are the rules').
pub use tianshu_model::CaseState;

/// An alert case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertCase {
    /// Case id.
    pub id: i64,
    /// The car.
    pub vehicle: VehicleId,
    /// The car's unit when the case was raised.
    pub unit: UnitId,
    /// Rule id (`out_of_hours`, ...).
    pub rule: String,
    /// Start of the episode.
    pub start: Timestamp,
    /// End of the episode, once it ended.
    pub end: Option<Timestamp>,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// Raised from late data.
    pub late: bool,
    /// Where the case is.
    pub state: CaseState,
    /// The rule's reasoning, English.
    pub reasoning: String,
    /// The rule's reasoning, Chinese.
    pub reasoning_zh: String,
    /// The episode as JSON (evidence included).
    pub episode: serde_json::Value,
    /// When it escalates by itself if still unexplained.
    pub escalate_at: Option<Timestamp>,
    /// When it was raised.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
}

/// An episode to record as a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCase {
    /// The car.
    pub vehicle: VehicleId,
    /// The car's unit.
    pub unit: UnitId,
    /// Rule id.
    pub rule: String,
    /// Start of the episode.
    pub start: Timestamp,
    /// End, once it ended.
    pub end: Option<Timestamp>,
    /// Severity.
    pub severity: String,
    /// Raised from late data.
    pub late: bool,
    /// Reasoning, English.
    pub reasoning: String,
    /// Reasoning, Chinese.
    pub reasoning_zh: String,
    /// The episode as JSON.
    pub episode: serde_json::Value,
    /// When it escalates by itself if unexplained (for a new case).
    pub escalate_at: Option<Timestamp>,
}

/// One step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// The case.
    pub case_id: i64,
    /// When.
    pub time: Timestamp,
    /// Who (a username, or `system`).
    pub actor: String,
    /// What: `opened`, `acknowledged`, `explained`, `closed`, `escalated`, `withdrawn`, `updated`.
    pub action: String,
    /// The explanation, the verification note, the reason.
    pub note: String,
}

/// Which cases to list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaseFilter {
    /// Only these states (all when empty).
    pub states: Vec<CaseState>,
    /// Only these units (all when `None`; a supervisor's scope is their unit and its descendants).
    pub units: Option<Vec<UnitId>>,
    /// Only this vehicle.
    pub vehicle: Option<VehicleId>,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only episodes that started at or after this.
    pub from: Option<Timestamp>,
    /// Only episodes that started before this.
    pub to: Option<Timestamp>,
    /// At most this many (newest first); 0 means 100.
    pub limit: u32,
    /// Skip this many.
    pub offset: u32,
}

/// In a delivery payload recorded with a new case, this token is replaced by the case's id (the id
/// exists only once the row does, and both are written in one transaction).
pub const CASE_ID_TOKEN: &str = "{{case_id}}";

/// A notification to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// `web`, `webhook`, `email`, `mqtt`.
    pub channel: String,
    /// Channel-specific: a URL, an e-mail address, a unit id for the web feed.
    pub recipient: String,
    /// The message body as the channel will send it.
    pub payload: String,
}

/// A notification in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Outbox id.
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// Channel.
    pub channel: String,
    /// Recipient.
    pub recipient: String,
    /// Body.
    pub payload: String,
    /// `pending`, `sent` or `failed` (gave up).
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt: Timestamp,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created: Timestamp,
    /// When it was sent.
    pub sent: Option<Timestamp>,
}

/// How an attempt to deliver went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Delivered.
    Sent,
    /// Failed; try again at `next_attempt`.
    Retry {
        /// Why it failed.
        error: String,
        /// When to try again.
        next_attempt: Timestamp,
    },
    /// Failed for good (too many attempts, or a permanent error).
    Failed {
        /// Why.
        error: String,
    },
}

/// A case transition to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The case.
    pub case_id: i64,
    /// The states the case must be in (compare-and-set: a concurrent change makes this fail).
    pub from: Vec<CaseState>,
    /// The new state.
    pub to: CaseState,
    /// Who.
    pub actor: String,
    /// The event's action name.
    pub action: String,
    /// The explanation, note or reason.
    pub note: String,
    /// The new auto-escalation time (`None` clears it).
    pub escalate_at: Option<Timestamp>,
    /// Notifications to queue with it.
    pub deliveries: Vec<NewDelivery>,
}

/// The rules area of a store.
#[async_trait]
pub trait RulesStore: Send + Sync + 'static {
    /// Stores (or replaces) one calendar year; true when it replaced one.
    async fn put_calendar(&self, year: i32, source: &str, now: Timestamp) -> Result<bool>;

    /// Every stored calendar year.
    async fn calendars(&self) -> Result<Vec<StoredCalendar>>;

    /// Stores geofences in one transaction, replacing those with the same (kind, name). Returns
    /// (created, replaced).
    async fn put_geofences(&self, fences: &[StoredFence], now: Timestamp) -> Result<(u64, u64)>;

    /// Every geofence.
    async fn geofences(&self) -> Result<Vec<StoredFence>>;

    /// Stores orders and filings in one transaction, updating those with the same id.
    async fn put_orders(&self, orders: &[StoredOrder], now: Timestamp) -> Result<OrderImportSummary>;

    /// Every order and filing.
    async fn orders(&self) -> Result<Vec<StoredOrder>>;

    /// Orders and filings imported or changed after `after`.
    async fn orders_updated_after(&self, after: Timestamp) -> Result<Vec<StoredOrder>>;

    /// The latest change to any reference data, for reloads: the largest update time of calendars,
    /// geofences and orders, and of the registry edits and deletions their rows cannot show (a car
    /// moved to another unit or class, a geofence deleted, a unit timetable written or deleted). A writer that stores rows with an update
    /// time past the current stamp is certain to be seen by the next reload.
    async fn reference_stamp(&self) -> Result<Timestamp>;

    /// Every geofence with its id, by id.
    async fn geofences_with_ids(&self) -> Result<Vec<(i64, StoredFence)>>;

    /// Stores a new geofence and returns its id; a fence of the same kind and name is
    /// [`Error::Conflict`].
    async fn create_geofence(&self, fence: &StoredFence, now: Timestamp) -> Result<i64>;

    /// Replaces the geofence `id`; unknown is [`Error::NotFound`], a kind and name taken by another
    /// fence [`Error::Conflict`].
    async fn replace_geofence(&self, id: i64, fence: &StoredFence, now: Timestamp) -> Result<()>;

    /// Deletes the geofence `id` and moves the reference stamp; unknown is [`Error::NotFound`].
    async fn delete_geofence(&self, id: i64, now: Timestamp) -> Result<()>;

    /// Every stored unit timetable, by unit id.
    async fn unit_timetables(&self) -> Result<Vec<StoredUnitTimetable>>;

    /// Stores unit timetables in one transaction, replacing those of the same units, and moves the
    /// reference stamp. A unit not in the registry is [`Error::NotFound`] and nothing is written.
    /// Returns (created, replaced).
    async fn put_unit_timetables(
        &self,
        timetables: &[StoredUnitTimetable],
        now: Timestamp,
    ) -> Result<(u64, u64)>;

    /// Deletes the timetable of `unit` and moves the reference stamp; none is [`Error::NotFound`].
    async fn delete_unit_timetable(&self, unit: UnitId, now: Timestamp) -> Result<()>;
}

impl Store {
    /// The rules area of this store.
    pub fn rules(&self) -> &dyn RulesStore {
        match self.kind() {
            BackendKind::Embedded(b) => &**b,
            BackendKind::Postgres(b) => &**b,
        }
    }
}

/// The error for a transition from a state it does not apply to.
pub(crate) fn wrong_state(id: i64, state: &str, t: &Transition) -> Error {
    Error::Invalid {
        line: None,
        reason: format!(
            "case {id} is {state}; {} needs it to be {}",
            t.action,
            t.from.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
        ),
    }
}

/// Reads a stored JSON document.
pub(crate) fn parse_json(s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt(format!("stored JSON: {e}")))
}

/// Reads a stored case state.
pub(crate) fn parse_state(s: &str) -> Result<CaseState> {
    CaseState::parse(s).ok_or_else(|| Error::Corrupt(format!("stored case state {s:?}")))
}

//! Tianshu's web side: the HTTP API, the WebSocket live feed and the page, in one [`axum::Router`].
//!
//! Every route is declared once, in [`routes::ROUTES`], with the roles that may call it. The router is
//! built from that table, so the permission gate, the OpenAPI document and the permission-matrix test
//! all read the same list. Role decides *which routes*; scope decides *which vehicles*: every handler
//! reaches data only through [`scope::Scoped`], which knows the caller's units and refuses a vehicle,
//! track, export or case outside them before anything is read.
//!
//! Every replay and export, every login and every administrative change is written to the
//! tamper-evident audit log (see [`tianshu_store::access`]).
#![deny(missing_docs)]

pub mod admin;
pub mod auth;
pub mod cases;
pub mod config;
pub mod error;
pub mod export;
pub mod handlers;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod scope;
pub mod trips;
pub mod web;

use std::sync::Arc;

pub use auth::{Principal, hash_password};
pub use cases::{CaseBook, NoCases};
pub use config::ApiConfig;
pub use error::ApiError;
pub use live::LiveHub;
pub use routes::{ROUTES, RouteSpec, router};
use tianshu_store::Store;

/// Downlink commands an operator may send to a terminal from the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TerminalCommand {
    /// 0x8201: ask for the current position now.
    QueryPosition,
    /// 0x8202: report every `interval_secs` for `duration_secs`.
    TemporaryTracking {
        /// Seconds between reports.
        interval_secs: u16,
        /// How long to keep tracking, in seconds.
        duration_secs: u32,
    },
    /// 0x8300: show (and speak) a text to the driver.
    Text {
        /// The text, UTF-8 (sent as GBK).
        text: String,
    },
}

/// What became of a downlink command: the terminal's answer, or why there is none. The page shows it as is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The terminal carried the command out: 0x0001 with result 0, or 0x0201 with its position.
    Answered {
        /// The position a 0x0201 carried (query position only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<ReportedPosition>,
    },
    /// The terminal answered 0x0001 with a non-zero result: 1 failed, 2 bad message, 3 unsupported.
    Refused {
        /// The result byte of the 0x0001.
        result: u8,
    },
    /// The vehicle has no terminal connected to this gateway.
    NotConnected,
    /// The terminal did not answer within the gateway's downlink timeout.
    TimedOut,
}

/// The position a terminal reported in answer to a query (0x0201).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportedPosition {
    /// The fix time, RFC 3339 UTC.
    pub fix_time: String,
    /// Latitude, WGS-84 degrees.
    pub lat: f64,
    /// Longitude, WGS-84 degrees.
    pub lon: f64,
    /// Speed in km/h.
    pub speed_kmh: f64,
    /// Course in degrees from north.
    pub course_deg: u16,
}

impl From<&tianshu_model::Position> for ReportedPosition {
    fn from(p: &tianshu_model::Position) -> Self {
        ReportedPosition {
            fix_time: p.fix_time.to_rfc3339(),
            lat: p.lat(),
            lon: p.lon(),
            speed_kmh: p.speed_kmh(),
            course_deg: p.course_deg,
        }
    }
}

/// Sends downlink commands to connected terminals; the gateway implements it.
#[async_trait::async_trait]
pub trait Downlink: Send + Sync + 'static {
    /// Sends `command` to the terminal bound to `vehicle` and waits for its answer. `Err` is a failure
    /// of the platform (store, full queue, a text that cannot be encoded), not of the terminal.
    async fn send(
        &self,
        vehicle: tianshu_model::VehicleId,
        command: &TerminalCommand,
    ) -> Result<CommandOutcome, String>;
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// Inner, shared.
    inner: Arc<Inner>,
}

struct Inner {
    /// Tracks, registry, users and the audit log.
    store: Store,
    /// Settings.
    config: ApiConfig,
    /// Committed points and alert events, fanned out to WebSocket clients.
    live: LiveHub,
    /// Alert cases (the alerts crate), or [`NoCases`] when rules are not running.
    cases: Arc<dyn CaseBook>,
    /// The gateway's downlink, when a gateway runs in this process.
    downlink: Option<Arc<dyn Downlink>>,
    /// Office hours from the server's configuration (`[rules.timetable]`, `[rules] unit_timetables`),
    /// shown where no stored timetable applies.
    configured_timetables: std::sync::RwLock<Arc<ConfiguredTimetables>>,
}

impl ApiState {
    /// A state over `store`, with no alert cases and no downlink yet.
    pub fn new(store: Store, config: ApiConfig) -> Self {
        Self::with_parts(store, config, LiveHub::new(), Arc::new(NoCases), None)
    }

    /// A state with every part given.
    pub fn with_parts(
        store: Store,
        config: ApiConfig,
        live: LiveHub,
        cases: Arc<dyn CaseBook>,
        downlink: Option<Arc<dyn Downlink>>,
    ) -> Self {
        ApiState {
            inner: Arc::new(Inner {
                store,
                config,
                live,
                cases,
                downlink,
                configured_timetables: std::sync::RwLock::new(Arc::new(ConfiguredTimetables::default())),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The live hub (publish committed points and alert events into it).
    pub fn live(&self) -> &LiveHub {
        &self.inner.live
    }

    /// The alert cases.
    pub fn cases(&self) -> &dyn CaseBook {
        &*self.inner.cases
    }

    /// The downlink, when there is one.
    pub fn downlink(&self) -> Option<&dyn Downlink> {
        self.inner.downlink.as_deref()
    }

    /// Tells the API the office hours the server's rules are configured with, so that
    /// `GET /api/units/{id}/timetable` can show them where no stored timetable applies.
    pub fn set_configured_timetables(&self, timetables: ConfiguredTimetables) {
        if let Ok(mut t) = self.inner.configured_timetables.write() {
            *t = Arc::new(timetables);
        }
    }

    /// The configured office hours (the rules' defaults until [`ApiState::set_configured_timetables`]).
    pub fn configured_timetables(&self) -> Arc<ConfiguredTimetables> {
        self.inner
            .configured_timetables
            .read()
            .map(|t| t.clone())
            .unwrap_or_default()
    }
}

/// Office hours from the server's configuration: the city default and per-unit entries by unit path.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredTimetables {
    /// `[rules.timetable]`.
    pub city: tianshu_rules::timetable::UnitTimetableBody,
    /// `[rules] unit_timetables`, by unit path.
    pub units: Vec<(String, tianshu_rules::timetable::UnitTimetableBody)>,
}

impl Default for ConfiguredTimetables {
    fn default() -> Self {
        ConfiguredTimetables::from_rules(&tianshu_rules::RulesConfig::default())
    }
}

impl ConfiguredTimetables {
    /// The office hours a rules configuration holds.
    pub fn from_rules(rules: &tianshu_rules::RulesConfig) -> Self {
        use tianshu_rules::timetable::UnitTimetableBody;
        ConfiguredTimetables {
            city: UnitTimetableBody {
                periods: rules.timetable.periods.clone(),
                seasons: rules.timetable.seasons.clone(),
            },
            units: rules
                .unit_timetables
                .iter()
                .map(|u| {
                    (
                        u.unit.trim().trim_matches('/').to_string(),
                        UnitTimetableBody {
                            periods: u.periods.clone(),
                            seasons: u.seasons.clone(),
                        },
                    )
                })
                .collect(),
        }
    }
}

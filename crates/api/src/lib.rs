//! Tianshu's web side: the HTTP API, the WebSocket live feed and the page, in one [`axum::Router`].
//!
//! Every route is declared once, in [`routes::ROUTES`], with the roles that may call it; the router,
//! the OpenAPI document and the permission-matrix test all read that table. Each resource has its own
//! file under [`resources`]. Role decides *which routes*; scope decides *which vehicles*: every handler
//! reaches vehicle data only through [`scope::Scoped`], which knows the caller's units and refuses a
//! vehicle, terminal, track, order or case outside them before anything is read.
//!
//! Input comes through the extractors of [`extract`]; every failure answers in the one JSON contract of
//! [`error`] (`{"error": "..."}`, a bad field named first); every position leaves in the one shape of
//! [`position`]. Every look at a track, every login and every administrative change is written to the
//! tamper-evident audit log ([`audit`], over [`tianshu_store::access`]).
#![deny(missing_docs)]

pub mod audit;
pub mod auth;
pub mod basemap;
pub mod cases;
pub mod config;
pub mod download;
pub mod error;
pub mod extract;
pub mod fuel;
pub mod headers;
pub mod login;
pub mod metrics;
pub mod openapi;
pub mod position;
pub mod reporter;
pub mod resources;
pub mod routes;
pub mod schemas;
pub mod scope;
pub mod spec;
pub mod table;
pub mod text;
pub mod web;

use std::sync::Arc;

pub use auth::{Principal, hash_password};
pub use cases::{CaseBook, NoCases};
pub use config::ApiConfig;
pub use error::ApiError;
pub use position::{Identity, WirePosition};
pub use resources::commands::{CommandOutcome, Downlink, ParameterEntry, ParameterValue, TerminalCommand};
pub use resources::live::{self, LiveHub};
pub use resources::users::validate_new_user;
pub use routes::{ROUTES, router};
pub use spec::RouteSpec;
use tianshu_store::Store;

/// The notifications (outbox rows) of an event on a complaint (`forwarded`, `sent_back`), given the
/// complaint as the step leaves it; an error when they cannot be worked out (the step is then refused).
pub type ComplaintNotifier = Arc<
    dyn Fn(
            tianshu_model::complaint::Complaint,
            &'static str,
        )
            -> futures::future::BoxFuture<'static, Result<Vec<tianshu_store::rules::NewDelivery>, String>>
        + Send
        + Sync,
>;

/// How the car pool's notices reach the alert channels at a time (the routing loaded then); an error
/// when it cannot be loaded (the assignment or settlement is then refused).
pub type CarpoolRouter = tianshu_store::carpool_trips::Router;
/// The notifications (outbox rows) of new fuel cases, one list per case, routed to the units'
/// supervisors through the alert channels; an error when they cannot be worked out (the checks are then
/// not recorded, and a re-run records them).
pub type FuelNotifier = Arc<
    dyn Fn(
            Vec<tianshu_model::case::NewCase>,
        )
            -> futures::future::BoxFuture<'static, Result<Vec<Vec<tianshu_store::rules::NewDelivery>>, String>>
        + Send
        + Sync,
>;

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
    /// Bounds on logging in.
    login: login::LoginGuard,
    /// The bound on track downloads streaming at once.
    downloads: download::Downloads,
    /// Committed points and alert events, fanned out to WebSocket clients.
    live: LiveHub,
    /// Alert cases (the alerts crate), or [`NoCases`] when rules are not running.
    cases: Arc<dyn CaseBook>,
    /// The gateway's downlink, when a gateway runs in this process.
    downlink: Option<Arc<dyn Downlink>>,
    /// Office hours from the server's configuration (`[rules.timetable]`, `[rules] unit_timetables`),
    /// shown where no stored timetable applies.
    configured_timetables: std::sync::RwLock<Arc<ConfiguredTimetables>>,
    /// The alert channels of the server's configuration (`[alerts.notifications]`), listed read-only.
    configured_channels: std::sync::RwLock<Arc<Vec<tianshu_rules::channels::ConfiguredChannel>>>,
    /// What each address filed through the public intake.
    intake: resources::intake::IntakeQuota,
    /// What tells a unit's supervisors about a complaint forwarded to it, once the server has set it.
    complaint_notifier: std::sync::RwLock<Option<ComplaintNotifier>>,
    fuel_notifier: std::sync::RwLock<Option<FuelNotifier>>,
    /// The key reporters' numbers are sealed with, once the server has set it.
    reporter_key: std::sync::RwLock<Option<Arc<reporter::ReporterKey>>>,
    fuel: std::sync::RwLock<Arc<tianshu_rules::fuel::FuelConfig>>,
    carpool: std::sync::RwLock<Arc<tianshu_rules::carpool_due::CarpoolConfig>>,
    carpool_router: std::sync::RwLock<Option<CarpoolRouter>>,
    /// The names of the lower platforms of `[[jt809.lower]]`, which checks and supervision go to.
    jt809_lower: std::sync::RwLock<Arc<Vec<String>>>,
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
                login: login::LoginGuard::new(config.login.clone()),
                downloads: download::Downloads::new(config.max_concurrent_exports),
                intake: resources::intake::IntakeQuota::new(&config.casework),
                config,
                live,
                cases,
                downlink,
                configured_timetables: std::sync::RwLock::new(Arc::new(ConfiguredTimetables::default())),
                configured_channels: std::sync::RwLock::default(),
                complaint_notifier: std::sync::RwLock::new(None),
                fuel_notifier: std::sync::RwLock::new(None),
                reporter_key: std::sync::RwLock::new(None),
                fuel: std::sync::RwLock::default(),
                carpool: std::sync::RwLock::default(),
                carpool_router: std::sync::RwLock::new(None),
                jt809_lower: std::sync::RwLock::default(),
            }),
        }
    }

    /// Tells the API the lower platforms (`[[jt809.lower]]` names) it may send checks and supervision to.
    pub fn set_jt809_lower_peers(&self, names: Vec<String>) {
        if let Ok(mut n) = self.inner.jt809_lower.write() {
            *n = Arc::new(names);
        }
    }

    /// The lower platforms checks and supervision may go to.
    pub fn jt809_lower_peers(&self) -> Arc<Vec<String>> {
        self.inner
            .jt809_lower
            .read()
            .map(|n| n.clone())
            .unwrap_or_default()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The bounds on logging in.
    pub fn login_guard(&self) -> &login::LoginGuard {
        &self.inner.login
    }

    /// The public intake's quota per address.
    pub fn intake_quota(&self) -> &resources::intake::IntakeQuota {
        &self.inner.intake
    }

    /// The bound on track downloads streaming at once.
    pub fn downloads(&self) -> &download::Downloads {
        &self.inner.downloads
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

    /// Sets the thresholds of the fuel checks (`[rules.fuel]`); the defaults until then.
    pub fn set_fuel_config(&self, config: tianshu_rules::fuel::FuelConfig) {
        if let Ok(mut c) = self.inner.fuel.write() {
            *c = Arc::new(config);
        }
    }

    /// The thresholds of the fuel checks.
    pub fn fuel_config(&self) -> Arc<tianshu_rules::fuel::FuelConfig> {
        self.inner.fuel.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Sets the car pool's settlement thresholds (`[rules.carpool]`); the defaults until then.
    pub fn set_carpool_config(&self, config: tianshu_rules::carpool_due::CarpoolConfig) {
        if let Ok(mut c) = self.inner.carpool.write() {
            *c = Arc::new(config);
        }
    }

    /// The car pool's settlement thresholds.
    pub fn carpool_config(&self) -> Arc<tianshu_rules::carpool_due::CarpoolConfig> {
        self.inner.carpool.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Sets how the car pool's notices reach the alert channels; until then they are recorded with
    /// the request only.
    pub fn set_carpool_router(&self, router: CarpoolRouter) {
        if let Ok(mut r) = self.inner.carpool_router.write() {
            *r = Some(router);
        }
    }

    /// The car pool's route to the channels at `now`, when the server has set one.
    pub async fn carpool_route(
        &self,
        now: tianshu_model::Timestamp,
    ) -> Result<tianshu_store::carpool_trips::Route, error::ApiError> {
        let router = self.inner.carpool_router.read().ok().and_then(|r| r.clone());
        match router {
            Some(r) => r(now).await.map(Some).map_err(error::ApiError::Unavailable),
            None => Ok(None),
        }
    }

    /// Tells the API the alert channels of the server's configuration, listed beside the stored ones by
    /// `GET /api/channels` (their names are not given to a stored channel).
    pub fn set_configured_channels(&self, channels: Vec<tianshu_rules::channels::ConfiguredChannel>) {
        if let Ok(mut c) = self.inner.configured_channels.write() {
            *c = Arc::new(channels);
        }
    }

    /// The alert channels of the server's configuration (none until [`ApiState::set_configured_channels`]).
    pub fn configured_channels(&self) -> Arc<Vec<tianshu_rules::channels::ConfiguredChannel>> {
        self.inner
            .configured_channels
            .read()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Sets what tells a unit's supervisors about a complaint forwarded to it (or sent back, or
    /// escalated): the notifications a step queues with it.
    pub fn set_complaint_notifier(&self, notifier: ComplaintNotifier) {
        if let Ok(mut n) = self.inner.complaint_notifier.write() {
            *n = Some(notifier);
        }
    }

    /// What tells a unit's supervisors about a complaint, when the server has set it.
    pub fn complaint_notifier(&self) -> Option<ComplaintNotifier> {
        self.inner.complaint_notifier.read().ok().and_then(|n| n.clone())
    }

    /// Sets what tells a unit's supervisors about a new fuel case.
    pub fn set_fuel_notifier(&self, notifier: FuelNotifier) {
        if let Ok(mut n) = self.inner.fuel_notifier.write() {
            *n = Some(notifier);
        }
    }

    /// What tells a unit's supervisors about a new fuel case, when the server has set it.
    pub fn fuel_notifier(&self) -> Option<FuelNotifier> {
        self.inner.fuel_notifier.read().ok().and_then(|n| n.clone())
    }

    /// Sets the key reporters' phone numbers are sealed with.
    pub fn set_reporter_key(&self, key: reporter::ReporterKey) {
        if let Ok(mut k) = self.inner.reporter_key.write() {
            *k = Some(Arc::new(key));
        }
    }

    /// The key reporters' phone numbers are sealed with, when one is set.
    pub fn reporter_key(&self) -> Option<Arc<reporter::ReporterKey>> {
        self.inner.reporter_key.read().ok().and_then(|k| k.clone())
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

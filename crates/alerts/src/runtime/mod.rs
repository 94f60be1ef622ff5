//! The running part: committed points in, cases and deliveries out.
//!
//! Two tasks. The evaluator ([`evaluator`]) follows the store's committed points
//! ([`Store::follow`](tianshu_store::Store::follow)): every committed point reaches it at least once,
//! however far it falls behind (a slow evaluator never slows ingest; what its queue cannot hold is read
//! back from the store), and a point handed over twice is recognised and taken once ([`repeats`]). It
//! feeds each vehicle's points to its rule state in fix-time order, records episodes as cases (case,
//! history and outbox rows in one transaction) and broadcasts them on the live feed. On a timer it runs
//! the time-based rules, resumes the rule state of cars that have not reported since start ([`resume`]),
//! auto-escalates unexplained cases, and reloads reference data: an order approved after the fact
//! re-evaluates and withdraws the cases it covers ([`revise`]). The deliverer ([`deliver`]) polls the
//! outbox and sends each due delivery in its own task with its own timeout, so a failing channel delays
//! only itself; failures are retried with exponential backoff and logged.
//!
//! After a restart, each car's rule state is restored from the state saved every `state_save_secs` and at
//! a clean stop ([`saved`]), fed only the points received since; without a usable saved state it is
//! rebuilt from its stored track at its first point ([`resume`]). Either way nothing is lost after a
//! crash: the episodes in points stored while nothing evaluated them are raised then.

mod deliver;
mod evaluator;
mod owned;
mod ownership;
pub(crate) use evaluator::opened;
pub use ownership::Ownership;
mod repeats;
mod resume;
mod revise;
mod saved;
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tianshu_model::Timestamp;

use tianshu_rules::RulesConfig;
use tianshu_store::rules::NewCase;
use tianshu_store::{Cursor, Store};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::Error;
use crate::config::AlertsConfig;
use crate::notify::{Notice, Routing};
use crate::reference::load_reference;
use evaluator::Evaluator;

/// The running alert runtime.
pub struct AlertsHandle {
    feed: broadcast::Sender<Notice>,
    /// Records cases raised elsewhere (the gateway's) as the evaluator records its own.
    recorder: CaseRecorder,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    progress: Arc<Progress>,
}

/// What a runtime has done since it started, shared by its evaluator and its handle.
#[derive(Debug, Default)]
pub(super) struct Progress {
    pub(super) evaluated: AtomicU64,
    pub(super) replayed: AtomicU64,
    pub(super) restored: AtomicU64,
}

/// What a runtime has done since it started ([`AlertsHandle::progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuntimeProgress {
    /// Committed points handed over by the store and fed to the rules (repeats not counted).
    pub evaluated_points: u64,
    /// Stored points fed to the rules to bring a car's state up to date at its first point: the
    /// replayed track, or only the points received after its saved state.
    pub replayed_points: u64,
    /// Cars whose rule state was restored from a saved state.
    pub restored_states: u64,
}

impl AlertsHandle {
    /// What this runtime has done since it started.
    pub fn progress(&self) -> RuntimeProgress {
        let p = &self.progress;
        RuntimeProgress {
            evaluated_points: p.evaluated.load(Ordering::Relaxed),
            replayed_points: p.replayed.load(Ordering::Relaxed),
            restored_states: p.restored.load(Ordering::Relaxed),
        }
    }

    /// The live web feed: every case event with the units it concerns. A slow receiver loses the oldest
    /// notices (`RecvError::Lagged` tells it how many); the inbox list is the source of truth.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.feed.subscribe()
    }

    /// Records cases raised outside the rules (the gateway's re-registration cases) as the rules' are:
    /// routed to their unit, notified and on the live feed.
    pub fn case_recorder(&self) -> CaseRecorder {
        self.recorder.clone()
    }

    /// Stops both tasks and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts the runtime on `store`, evaluating the points committed from now on. Must be called within a
/// Tokio runtime. With `enabled = false` nothing runs and the feed stays silent.
pub async fn start(store: Store, rules: RulesConfig, config: AlertsConfig) -> Result<AlertsHandle, Error> {
    // Follow before loading anything, so that no point committed meanwhile is missed.
    let cursor = store.follow();
    start_following(store, cursor, rules, config).await
}

/// Like [`start`], evaluating the points committed since `cursor` (a follower of `store`) was opened.
pub async fn start_following(
    store: Store,
    cursor: Cursor,
    rules: RulesConfig,
    config: AlertsConfig,
) -> Result<AlertsHandle, Error> {
    start_owned(store, cursor, rules, config, None).await
}

/// Like [`start_following`], evaluating only the cars `ownership` says are this instance's (several
/// rules instances sharing the cars); `None`: every car.
pub async fn start_owned(
    store: Store,
    cursor: Cursor,
    rules: RulesConfig,
    config: AlertsConfig,
    ownership: Option<Arc<dyn Ownership>>,
) -> Result<AlertsHandle, Error> {
    if !config.enabled {
        info!("alerts runtime disabled by configuration");
        let (stop, _) = watch::channel(false);
        let feed = broadcast::channel(1).0;
        return Ok(AlertsHandle {
            recorder: CaseRecorder {
                store,
                config: Arc::new(config),
                feed: feed.clone(),
            },
            feed,
            stop,
            tasks: Vec::new(),
            progress: Arc::default(),
        });
    }
    let (reference, warnings) = load_reference(&store, &rules).await?;
    for w in crate::reference::summarized(&warnings, 5) {
        warn!(warning = %w, "rules reference data");
    }
    let stamp = store.rules().reference_stamp().await?;
    let routing = Routing::load(&store).await?;
    let (feed, _) = broadcast::channel(config.feed_capacity.max(1));
    let (stop, stop_rx) = watch::channel(false);
    let config = Arc::new(config);
    let progress = Arc::new(Progress::default());
    let evaluator = Evaluator {
        store: store.clone(),
        rules,
        config: config.clone(),
        reference: Arc::new(reference),
        routing,
        stamp,
        cars: HashMap::new(),
        feed: feed.clone(),
        missing_years: HashSet::new(),
        quiet_todo: None,
        saved: HashMap::new(),
        progress: progress.clone(),
        silences: HashMap::new(),
        silence_recheck: HashMap::new(),
        owned: ownership::Owned::new(ownership),
    };
    let recorder = CaseRecorder {
        store: store.clone(),
        config: config.clone(),
        feed: feed.clone(),
    };
    let tasks = vec![
        tokio::spawn(evaluator.run(cursor, stop_rx.clone())),
        tokio::spawn(deliver::deliver_loop(store, config, stop_rx)),
    ];
    Ok(AlertsHandle {
        feed,
        recorder,
        stop,
        tasks,
        progress,
    })
}

/// Records cases raised outside the rules as the evaluator records its own: on the car's unit, with the
/// notifications routing gives them, and new ones on the live feed. Cheap to clone.
#[derive(Clone)]
pub struct CaseRecorder {
    store: Store,
    config: Arc<AlertsConfig>,
    feed: broadcast::Sender<Notice>,
}

impl CaseRecorder {
    /// Records `case` (or updates the case with its vehicle, rule and start); its id. The registry is read
    /// for the routing each time: these cases are rare.
    pub async fn record(&self, case: &NewCase) -> Result<i64, Error> {
        let routing = Routing::load(&self.store).await?;
        let now = Timestamp::now();
        let recorded = evaluator::record_routed(&self.store, &routing, &self.config, &self.feed, case, now);
        Ok(recorded.await?.0)
    }
}

/// The notifications of cases raised outside the rules (the fuel checks), routed as the evaluator routes
/// its own to the unit's supervisors and the levels above: one list per case, for the case if it is new
/// (the store drops them for a case already open). The registry and channels are read once.
pub async fn new_case_deliveries(
    store: &Store,
    config: &AlertsConfig,
    cases: &[NewCase],
    now: Timestamp,
) -> Result<Vec<Vec<tianshu_store::rules::NewDelivery>>, Error> {
    let routing = Routing::load(store).await?;
    Ok(cases
        .iter()
        .map(|c| evaluator::opened(&routing, config, c, now).1)
        .collect())
}

//! The running part: committed points in, cases and deliveries out.
//!
//! Two tasks. The evaluator subscribes to the store writer's feed of committed points (a lossy
//! broadcast: a slow evaluator never slows ingest, and what it misses is counted by the store), feeds
//! each vehicle's points to its rule state in fix-time order, records episodes as cases (case, history
//! and outbox rows in one transaction), broadcasts them on the live feed, and on a timer runs the
//! time-based rules, auto-escalation and the reload of reference data (an order approved after the fact
//! re-evaluates and withdraws the cases it covers). The deliverer polls the outbox and sends each due
//! delivery in its own task with its own timeout, so a failing channel delays only itself; failures are
//! retried with exponential backoff and logged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use prometheus::{IntCounter, IntCounterVec, Opts};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_rules::orders::OrderState;
use tianshu_rules::workflow::{self, CaseAction};
use tianshu_rules::{Episode, Reference, RuleEvent, RulesConfig, VehicleRules, Verdict, reevaluate};
use tianshu_store::Store;
use tianshu_store::rules::{
    CASE_ID_TOKEN, CaseFilter, CaseState, Delivery, DeliveryOutcome, NewCase, Transition,
};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::Error;
use crate::config::AlertsConfig;
use crate::notify::{Notice, Routing, post_json, send_email};
use crate::reference::load_reference;

struct Metrics {
    points: IntCounter,
    resumed_points: IntCounter,
    cases_opened: IntCounterVec,
    deliveries: IntCounterVec,
    withdrawn: IntCounter,
    escalated: IntCounter,
}

fn build_metrics() -> prometheus::Result<Metrics> {
    Ok(Metrics {
        points: IntCounter::new(
            "tianshu_alerts_points_evaluated_total",
            "Committed points fed to the rules.",
        )?,
        resumed_points: IntCounter::new(
            "tianshu_alerts_points_replayed_on_resume_total",
            "Stored points replayed to rebuild rule state after a start.",
        )?,
        cases_opened: IntCounterVec::new(
            Opts::new(
                "tianshu_alerts_cases_opened_total",
                "Alert cases opened, by rule.",
            ),
            &["rule"],
        )?,
        deliveries: IntCounterVec::new(
            Opts::new(
                "tianshu_alerts_deliveries_total",
                "Delivery attempts, by channel kind and outcome.",
            ),
            &["channel", "outcome"],
        )?,
        withdrawn: IntCounter::new(
            "tianshu_alerts_cases_withdrawn_total",
            "Cases withdrawn by re-evaluation.",
        )?,
        escalated: IntCounter::new(
            "tianshu_alerts_cases_auto_escalated_total",
            "Cases escalated by themselves.",
        )?,
    })
}

fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let m = build_metrics().expect("the metric definitions are static and valid");
        let r = prometheus::default_registry();
        let _ = r.register(Box::new(m.points.clone()));
        let _ = r.register(Box::new(m.resumed_points.clone()));
        let _ = r.register(Box::new(m.cases_opened.clone()));
        let _ = r.register(Box::new(m.deliveries.clone()));
        let _ = r.register(Box::new(m.withdrawn.clone()));
        let _ = r.register(Box::new(m.escalated.clone()));
        m
    })
}

/// Stands for the id of a case not yet inserted while its notifications are rendered.
const CASE_ID_SENTINEL: i64 = i64::MIN;

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// The running alert runtime.
pub struct AlertsHandle {
    feed: broadcast::Sender<Notice>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl AlertsHandle {
    /// The live web feed: every case event with the units it concerns. A slow receiver loses the oldest
    /// notices (`RecvError::Lagged` tells it how many); the inbox list is the source of truth.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.feed.subscribe()
    }

    /// Stops both tasks and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts the runtime on `store`. Must be called within a Tokio runtime. With `enabled = false` nothing
/// runs and the feed stays silent.
pub async fn start(store: Store, rules: RulesConfig, config: AlertsConfig) -> Result<AlertsHandle, Error> {
    if !config.enabled {
        info!("alerts runtime disabled by configuration");
        let (stop, _) = watch::channel(false);
        return Ok(AlertsHandle {
            feed: broadcast::channel(1).0,
            stop,
            tasks: Vec::new(),
        });
    }
    // Subscribe before loading anything, so that no batch committed meanwhile is missed.
    let subscription = store.subscribe();
    let (reference, warnings) = load_reference(&store, &rules).await?;
    for w in crate::reference::summarized(&warnings, 5) {
        warn!(warning = %w, "rules reference data");
    }
    let stamp = store.rules().reference_stamp().await?;
    let routing = Routing::new(&store.units().await?, &store.vehicles().await?);
    let (feed, _) = broadcast::channel(config.feed_capacity.max(1));
    let (stop, stop_rx) = watch::channel(false);
    let config = Arc::new(config);
    let evaluator = Evaluator {
        store: store.clone(),
        rules,
        config: config.clone(),
        reference: Arc::new(reference),
        routing,
        stamp,
        states: HashMap::new(),
        feed: feed.clone(),
        missing_years: HashSet::new(),
        quiet_todo: None,
    };
    let tasks = vec![
        tokio::spawn(evaluator.run(subscription, stop_rx.clone())),
        tokio::spawn(deliver_loop(store, config, stop_rx)),
    ];
    Ok(AlertsHandle { feed, stop, tasks })
}

struct Evaluator {
    store: Store,
    rules: RulesConfig,
    config: Arc<AlertsConfig>,
    reference: Arc<Reference>,
    routing: Routing,
    stamp: Timestamp,
    states: HashMap<VehicleId, VehicleRules>,
    feed: broadcast::Sender<Notice>,
    /// Calendar years already reported as missing (once per process, not per point).
    missing_years: HashSet<i32>,
    /// Cars seen within `resume_hours` (and their last fix) still to be resumed by the timer; read
    /// from the latest positions at the first tick.
    quiet_todo: Option<Vec<(VehicleId, Timestamp)>>,
}

/// How far back open-ended cases are looked for when resuming a car's rule state.
const RESUME_OPEN_CASE_LIMIT_MS: i64 = 7 * 86_400_000;
/// Replay starts this long before an open case's start, so its de-bounce restarts from idle.
const RESUME_MARGIN_MS: i64 = 3_600_000;
/// Quiet cars resumed per tick.
const QUIET_RESUMES_PER_TICK: usize = 50;

impl Evaluator {
    async fn run(mut self, mut sub: tianshu_store::Subscription, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(self.config.tick_secs.max(1)));
        let mut reload = tokio::time::interval(Duration::from_secs(self.config.reference_reload_secs.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut events = Vec::new();
        loop {
            tokio::select! {
                batch = sub.recv() => {
                    let Some(batch) = batch else { break };
                    self.evaluate(&batch.points, &mut events).await;
                }
                _ = tick.tick() => self.on_tick(&mut events).await,
                _ = reload.tick() => {
                    if let Err(e) = self.reload().await {
                        warn!(error = %e, "reloading rules reference data failed; keeping the previous data");
                    }
                }
                _ = stop.changed() => break,
            }
        }
        debug!(missed_batches = sub.missed_batches(), "alert evaluator stopped");
    }

    async fn evaluate(&mut self, points: &[Position], events: &mut Vec<RuleEvent>) {
        let mut order: Vec<&Position> = points.iter().collect();
        order.sort_by_key(|p| (p.vehicle, p.fix_time));
        let mut unknown = false;
        for p in order {
            if self.routing.vehicle(p.vehicle).is_none() {
                unknown = true;
                continue;
            }
            if !self.states.contains_key(&p.vehicle) {
                // First point of this car since start: rebuild its rule state from the stored track
                // before it (this batch is already stored, hence the bound).
                self.resume(p.vehicle, p.fix_time, events).await;
            }
            if let Some(state) = self.states.get_mut(&p.vehicle) {
                state.push(&self.reference, p, events);
            }
        }
        metrics().points.inc_by(points.len() as u64);
        if unknown {
            // A vehicle registered after start: pick up the registry for the next batch.
            if let (Ok(units), Ok(vehicles)) = (self.store.units().await, self.store.vehicles().await) {
                self.routing = Routing::new(&units, &vehicles);
            }
        }
        self.record(events).await;
    }

    /// Rebuilds the rule state of `vehicle` from its stored track up to `before` (exclusive), so that
    /// an episode in progress when the process stopped continues as the same case instead of opening a
    /// second one, and episodes in points stored while nothing evaluated them are raised now. The
    /// replay goes back `resume_hours`, and further to just before the start of any case of the car
    /// that is still open-ended. Episodes the replay finds are recorded like live ones: the store keys
    /// cases on (vehicle, rule, start), so a case already recorded is updated, never duplicated.
    async fn resume(&mut self, vehicle: VehicleId, before: Timestamp, events: &mut Vec<RuleEvent>) {
        let Some(v) = self.routing.vehicle(vehicle) else {
            return;
        };
        let mut state = VehicleRules::new(v);
        let window_ms = (self.config.resume_hours.max(0.0) * 3_600_000.0) as i64;
        if window_ms > 0 {
            let mut from = before.add_millis(-window_ms);
            let open = CaseFilter {
                vehicle: Some(vehicle),
                from: Some(before.add_millis(-RESUME_OPEN_CASE_LIMIT_MS)),
                limit: 1000,
                ..Default::default()
            };
            match self.store.rules().cases(&open).await {
                Ok(cases) => {
                    for c in cases.iter().filter(|c| c.end.is_none() && c.start < before) {
                        // From before the episode began: its de-bounce restarts from idle there.
                        from = from.min(c.start.add_millis(-RESUME_MARGIN_MS));
                    }
                }
                Err(e) => {
                    warn!(vehicle = %vehicle, error = %e, "reading open cases to resume rule state failed")
                }
            }
            match self.store.track(vehicle, from, before).await {
                Ok(stream) => {
                    let points: Result<Vec<Position>, _> = stream.try_collect().await;
                    match points {
                        Ok(points) => {
                            for p in &points {
                                state.push(&self.reference, p, events);
                            }
                            metrics().resumed_points.inc_by(points.len() as u64);
                            debug!(vehicle = %vehicle, points = points.len(), from = %from, "rule state resumed from the stored track");
                        }
                        Err(e) => {
                            warn!(vehicle = %vehicle, error = %e, "reading the track to resume rule state failed; starting afresh")
                        }
                    }
                }
                Err(e) => {
                    warn!(vehicle = %vehicle, error = %e, "reading the track to resume rule state failed; starting afresh")
                }
            }
        }
        self.states.insert(vehicle, state);
    }

    /// Resumes the cars that have not reported since start but were seen within `resume_hours`, a few
    /// per tick, so that time-based rules (silence, the nightly depot check) cover them too.
    async fn resume_quiet(&mut self, events: &mut Vec<RuleEvent>) {
        if self.config.resume_hours <= 0.0 {
            return;
        }
        // The cars to resume are read once; a car that reported meanwhile was resumed by its point.
        let todo = match &mut self.quiet_todo {
            Some(todo) => todo,
            None => {
                let latest = match self.store.latest_positions().await {
                    Ok(l) => l,
                    Err(e) => {
                        warn!(error = %e, "reading latest positions to resume rule state failed; retrying at the next tick");
                        return;
                    }
                };
                let horizon = now().add_millis(-((self.config.resume_hours * 3_600_000.0) as i64));
                self.quiet_todo.insert(
                    latest
                        .iter()
                        .filter(|p| p.recv_time >= horizon)
                        .map(|p| (p.vehicle, p.fix_time))
                        .collect(),
                )
            }
        };
        let batch: Vec<(VehicleId, Timestamp)> =
            todo.drain(..todo.len().min(QUIET_RESUMES_PER_TICK)).collect();
        for (vehicle, last_fix) in batch {
            if !self.states.contains_key(&vehicle) {
                self.resume(vehicle, last_fix.add_millis(1), events).await;
            }
        }
    }

    async fn record(&mut self, events: &mut Vec<RuleEvent>) {
        for ev in events.drain(..) {
            let (RuleEvent::Opened(ep) | RuleEvent::Closed(ep)) = &ev;
            if let Err(e) = self.record_episode(ep).await {
                // The episode is re-derivable from the stored track (`tianshu rules evaluate`), but the
                // case is lost until then.
                error!(vehicle = %ep.vehicle, rule = %ep.rule, start = %ep.start, error = %e, "recording an alert case failed");
            }
        }
    }

    async fn record_episode(&mut self, ep: &Episode) -> Result<(), Error> {
        let Some(vehicle) = self.routing.vehicle(ep.vehicle).cloned() else {
            return Ok(());
        };
        let now = now();
        let escalate_ms = (self.config.auto_escalate_after_hours * 3_600_000.0) as i64;
        let case = NewCase {
            vehicle: ep.vehicle,
            unit: vehicle.unit,
            rule: ep.rule.as_str().to_string(),
            start: ep.start,
            end: ep.end,
            severity: ep.severity.as_str().to_string(),
            late: ep.late,
            reasoning: ep.reasoning.clone(),
            reasoning_zh: ep.reasoning_zh.clone(),
            episode: serde_json::to_value(ep).unwrap_or_default(),
            escalate_at: (escalate_ms > 0).then(|| now.add_millis(escalate_ms)),
        };
        // The notice and its deliveries are computed for a new case; the store drops them for a known one.
        let provisional = tianshu_store::rules::AlertCase {
            id: CASE_ID_SENTINEL,
            vehicle: case.vehicle,
            unit: case.unit,
            rule: case.rule.clone(),
            start: case.start,
            end: case.end,
            severity: case.severity.clone(),
            late: case.late,
            state: CaseState::Open,
            reasoning: case.reasoning.clone(),
            reasoning_zh: case.reasoning_zh.clone(),
            episode: serde_json::Value::Null,
            escalate_at: case.escalate_at,
            created: now,
            updated: now,
        };
        let notify = ep.severity >= self.config.notify_min_severity;
        let levels = self.config.notify_parent_levels;
        let notice = self.routing.notice(&provisional, "opened", levels, None);
        let mut deliveries = if notify {
            self.routing.deliveries(&notice, &self.config)
        } else {
            Vec::new()
        };
        // The case id exists only once the row does: the store puts it in place of the token, in the
        // same transaction.
        for d in &mut deliveries {
            d.payload = d.payload.replace(&CASE_ID_SENTINEL.to_string(), CASE_ID_TOKEN);
        }
        let (id, created) = self.store.rules().record_case(&case, &deliveries, now).await?;
        if created {
            metrics()
                .cases_opened
                .with_label_values(&[ep.rule.as_str()])
                .inc();
            info!(case = id, vehicle = %ep.vehicle, rule = %ep.rule, start = %ep.start, late = ep.late, "alert case opened");
            let _ = self.feed.send(Notice {
                case_id: id,
                ..notice
            });
        }
        Ok(())
    }

    async fn on_tick(&mut self, events: &mut Vec<RuleEvent>) {
        self.resume_quiet(events).await;
        let t = now();
        for state in self.states.values_mut() {
            state.tick(&self.reference, t, events);
            for y in &state.diagnostics().missing_calendar_years {
                if self.missing_years.insert(*y) {
                    warn!(
                        year = y,
                        "no calendar data for this year: out_of_hours, no_order and holiday_seal are not evaluated; import it with `tianshu calendar import`"
                    );
                }
            }
        }
        self.record(events).await;
        if let Err(e) = self.escalate(t).await {
            warn!(error = %e, "auto-escalation failed; retrying at the next tick");
        }
    }

    async fn escalate(&mut self, t: Timestamp) -> Result<(), Error> {
        let hours = self.config.auto_escalate_after_hours;
        let states = workflow::auto_escalation_states();
        for case in self.store.rules().due_escalations(&states, t, 100).await? {
            let note = format!(
                "No explanation within {hours} h; escalated to the discipline inspectors automatically. \
                 超过{hours}小时未说明，已自动上报纪检监察。"
            );
            let mut escalated = case.clone();
            escalated.state = CaseState::Escalated;
            let notice = self.routing.notice(
                &escalated,
                "escalated",
                self.config.notify_parent_levels,
                Some(note.clone()),
            );
            let tr = Transition {
                case_id: case.id,
                from: states.clone(),
                to: CaseState::Escalated,
                actor: "system".into(),
                action: "escalated".into(),
                note,
                escalate_at: None,
                deliveries: self.routing.deliveries(&notice, &self.config),
            };
            match self.store.rules().transition_case(&tr, t).await {
                Ok(_) => {
                    metrics().escalated.inc();
                    info!(case = case.id, "alert case escalated automatically");
                    let _ = self.feed.send(notice);
                }
                // Explained meanwhile: nothing to do.
                Err(tianshu_store::Error::Invalid { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn reload(&mut self) -> Result<(), Error> {
        let stamp = self.store.rules().reference_stamp().await?;
        if stamp == self.stamp {
            return Ok(());
        }
        let changed = self.store.rules().orders_updated_after(self.stamp).await?;
        let (reference, warnings) = load_reference(&self.store, &self.rules).await?;
        for w in &warnings {
            debug!(warning = %w, "rules reference data");
        }
        self.reference = Arc::new(reference);
        self.routing = Routing::new(&self.store.units().await?, &self.store.vehicles().await?);
        // A car moved to another unit or class is judged by its new ones from here on.
        for (id, state) in &mut self.states {
            if let Some(v) = self.routing.vehicle(*id) {
                state.set_vehicle(v);
            }
        }
        self.stamp = stamp;
        info!(changed_orders = changed.len(), "rules reference data reloaded");
        for o in changed.iter().filter(|o| OrderState::parse_covers(&o.state)) {
            if let Err(e) = self.reevaluate_order(&o.plate, o.start, o.end).await {
                warn!(order = %o.id, error = %e, "re-evaluating the cases an order covers failed");
            }
        }
        Ok(())
    }

    /// Re-runs the rules over every unresolved case of the car that overlaps an order's window, and
    /// withdraws those that no longer hold.
    async fn reevaluate_order(&mut self, plate: &str, from: Timestamp, to: Timestamp) -> Result<(), Error> {
        let Some(vehicle) = self.store.vehicle_by_plate(plate).await? else {
            return Ok(());
        };
        let filter = CaseFilter {
            vehicle: Some(vehicle.id),
            states: CaseAction::Withdraw.from_states(),
            limit: 1000,
            ..Default::default()
        };
        for case in self.store.rules().cases(&filter).await? {
            let end = case.end.unwrap_or(case.start);
            if case.start > to || end < from {
                continue;
            }
            let Ok(episode) = serde_json::from_value::<Episode>(case.episode.clone()) else {
                continue;
            };
            let margin = 3_600_000;
            let track: Vec<Position> = self
                .store
                .track(vehicle.id, case.start.add_millis(-margin), end.add_millis(margin))
                .await?
                .try_collect()
                .await?;
            if let Verdict::Withdrawn { reason, reason_zh } =
                reevaluate(&self.reference, &vehicle, &track, &episode)
            {
                let note = format!("{reason} {reason_zh}");
                let tr = Transition {
                    case_id: case.id,
                    from: filter.states.clone(),
                    to: CaseAction::Withdraw.to_state(),
                    actor: "system".into(),
                    action: "withdrawn".into(),
                    note: note.clone(),
                    escalate_at: None,
                    deliveries: Vec::new(),
                };
                let updated = self.store.rules().transition_case(&tr, now()).await?;
                metrics().withdrawn.inc();
                info!(case = case.id, reason = %reason, "alert case withdrawn after re-evaluation");
                let _ = self.feed.send(self.routing.notice(
                    &updated,
                    "withdrawn",
                    self.config.notify_parent_levels,
                    Some(note),
                ));
            }
        }
        Ok(())
    }
}

/// At most this many deliveries are in flight at once.
const MAX_IN_FLIGHT: usize = 64;

async fn deliver_loop(store: Store, config: Arc<AlertsConfig>, mut stop: watch::Receiver<bool>) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let poll = Duration::from_millis(config.outbox_poll_ms.max(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => break,
        }
        let busy = in_flight.lock().map(|s| s.len()).unwrap_or(MAX_IN_FLIGHT);
        if busy >= MAX_IN_FLIGHT {
            continue;
        }
        let due = match store
            .rules()
            .due_deliveries(now(), (MAX_IN_FLIGHT - busy) as u32)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "reading the outbox failed");
                continue;
            }
        };
        for d in due {
            let fresh = in_flight.lock().map(|mut s| s.insert(d.id)).unwrap_or(false);
            if !fresh {
                continue;
            }
            let (store, config, in_flight) = (store.clone(), config.clone(), in_flight.clone());
            tokio::spawn(async move {
                deliver_one(&store, &config, &d).await;
                if let Ok(mut s) = in_flight.lock() {
                    s.remove(&d.id);
                }
            });
        }
    }
}

async fn deliver_one(store: &Store, config: &AlertsConfig, d: &Delivery) {
    let kind = if d.channel.starts_with("webhook") {
        "webhook"
    } else {
        d.channel.as_str()
    };
    let result = if let Some(name) = d.channel.strip_prefix("webhook:") {
        match config.notifications.webhooks.iter().find(|w| w.name == name) {
            Some(w) => match w.resolve_url() {
                Some(url) => post_json(&url, &d.payload, Duration::from_secs(w.timeout_secs)).await,
                None => Err(crate::notify::SendError(format!(
                    "webhook {name:?} has no url (or its url_env is unset)"
                ))),
            },
            None => Err(crate::notify::SendError(format!(
                "webhook {name:?} is no longer configured"
            ))),
        }
    } else if d.channel == "email" {
        match &config.notifications.email {
            Some(email) => {
                let timeout = Duration::from_secs(email.timeout_secs + 5);
                match tokio::time::timeout(timeout, send_email(email, &d.recipient, &d.payload)).await {
                    Ok(r) => r,
                    Err(_) => Err(crate::notify::SendError("SMTP timed out".into())),
                }
            }
            None => Err(crate::notify::SendError("e-mail is no longer configured".into())),
        }
    } else {
        Err(crate::notify::SendError(format!(
            "unknown channel {:?}",
            d.channel
        )))
    };
    let t = now();
    let attempts = d.attempts + 1;
    let outcome = match result {
        Ok(()) => {
            info!(delivery = d.id, case = d.case_id, channel = %d.channel, attempts, "notification delivered");
            DeliveryOutcome::Sent
        }
        Err(e) if attempts >= config.notifications.retry.max_attempts => {
            error!(delivery = d.id, case = d.case_id, channel = %d.channel, attempts, error = %e, "notification given up");
            DeliveryOutcome::Failed { error: e.0 }
        }
        Err(e) => {
            let next = t.add_millis(config.notifications.retry.backoff_ms(attempts));
            warn!(delivery = d.id, case = d.case_id, channel = %d.channel, attempts, next = %next, error = %e, "notification failed; will retry");
            DeliveryOutcome::Retry {
                error: e.0,
                next_attempt: next,
            }
        }
    };
    let label = match &outcome {
        DeliveryOutcome::Sent => "sent",
        DeliveryOutcome::Retry { .. } => "retry",
        DeliveryOutcome::Failed { .. } => "failed",
    };
    metrics().deliveries.with_label_values(&[kind, label]).inc();
    if let Err(e) = store.rules().delivery_attempted(d.id, &outcome, t).await {
        warn!(delivery = d.id, error = %e, "recording a delivery attempt failed; it will be attempted again");
    }
}

//! The evaluator task: committed points through the rules, episodes into cases.
//!
//! Points come from a follower of the store, each committed point at least once; a batch is sorted per
//! car in fix-time order, sifted of the points the car's rules already took (see `repeats`), and fed. A
//! car first seen since start has its rule state rebuilt from its stored track first (see `resume`).
//! Episodes are recorded as cases keyed on (vehicle, rule, start), so an episode reported again updates
//! its case instead of opening another.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_rules::{Episode, Reference, RuleEvent, RuleId, RulesConfig, Severity, VehicleRules};
use tianshu_store::rule_states::SavedRuleState;
use tianshu_store::rules::{AlertCase, CASE_ID_TOKEN, CaseState, NewCase, NewDelivery};
use tianshu_store::{Cursor, Store};
use tokio::sync::{broadcast, watch};
use tracing::{debug, error, info, warn};

use super::Progress;
use super::repeats::Taken;
use super::support::metrics;
use crate::Error;
use crate::config::AlertsConfig;
use crate::notify::{Notice, Routing};

/// Stands for the id of a case not yet inserted while its notifications are rendered.
const CASE_ID_SENTINEL: i64 = i64::MIN;

/// One car's rule state and the points it took lately.
pub(super) struct Car {
    pub(super) rules: VehicleRules,
    pub(super) taken: Taken,
    /// The latest receive time of the points taken: the cursor a saved state covers.
    pub(super) received_up_to: Timestamp,
    /// Changed since it was last saved.
    pub(super) dirty: bool,
}

impl Car {
    /// A car whose rules start from `rules`, nothing taken yet.
    pub(super) fn new(rules: VehicleRules) -> Self {
        Car {
            rules,
            taken: Taken::default(),
            received_up_to: Timestamp::default(),
            dirty: false,
        }
    }

    /// Feeds `p` to the rules and remembers it as taken.
    pub(super) fn feed(&mut self, r: &Reference, p: &Position, events: &mut Vec<RuleEvent>) {
        self.rules.push(r, p, events);
        self.taken.take(p);
        self.received_up_to = self.received_up_to.max(p.recv_time);
        self.dirty = true;
    }
}

pub(super) struct Evaluator {
    pub(super) store: Store,
    pub(super) rules: RulesConfig,
    pub(super) config: Arc<AlertsConfig>,
    pub(super) reference: Arc<Reference>,
    pub(super) routing: Routing,
    /// The reference data's stamp when it was last loaded.
    pub(super) stamp: Timestamp,
    pub(super) cars: HashMap<VehicleId, Car>,
    pub(super) feed: broadcast::Sender<Notice>,
    /// Calendar years already reported as missing (once per process, not per point).
    pub(super) missing_years: HashSet<i32>,
    /// Cars seen within `resume_hours` (and their last fix) still to be resumed by the timer; read
    /// from the latest positions at the first tick.
    pub(super) quiet_todo: Option<Vec<(VehicleId, Timestamp)>>,
    /// Rule states saved by an earlier run, not yet restored (see `saved`).
    pub(super) saved: HashMap<VehicleId, SavedRuleState>,
    /// What this run has done, for its handle.
    pub(super) progress: Arc<Progress>,
    /// The silence episodes this run raised, per car (start, end; the last few): a point that arrives
    /// later with a fix time inside one may show the terminal was recording all along.
    pub(super) silences: HashMap<VehicleId, Vec<(Timestamp, Option<Timestamp>)>>,
    /// Cars whose silences such a point fell into, with the span to judge again.
    pub(super) silence_recheck: HashMap<VehicleId, (Timestamp, Timestamp)>,
    /// The cars this instance evaluates (all, without a bus's leases).
    pub(super) owned: super::ownership::Owned,
}

/// How many silence episodes of a car are remembered for a later backfill to disprove.
const SILENCES_KEPT: usize = 8;

impl Evaluator {
    pub(super) async fn run(mut self, mut cursor: Cursor, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(self.config.tick_secs.max(1)));
        let mut reload = tokio::time::interval(Duration::from_secs(self.config.reference_reload_secs.max(1)));
        // Without saving, the timer still runs (an hour apart) but finds nothing to save.
        let save_every = Duration::from_secs(match self.config.state_save_secs {
            0 => 3600,
            s => s,
        });
        let mut save = tokio::time::interval_at(tokio::time::Instant::now() + save_every, save_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut events = Vec::new();
        self.load_saved().await;
        loop {
            // `Cursor::recv` is cancel-safe: a catch-up read under way survives a tick.
            tokio::select! {
                item = cursor.recv() => {
                    let Some(item) = item else { break };
                    self.evaluate(&item.points, &mut events).await;
                }
                _ = tick.tick() => self.on_tick(cursor.is_drained(), &mut events).await,
                _ = reload.tick() => {
                    if let Err(e) = self.reload().await {
                        warn!(error = %e, "reloading rules reference data failed; keeping the previous data");
                    }
                }
                _ = save.tick() => self.save_states().await,
                _ = stop.changed() => break,
            }
        }
        // A clean stop saves what changed since the last save, so the next start replays nothing.
        self.save_states().await;
        debug!(
            catch_ups = cursor.catch_ups(),
            caught_up_points = cursor.caught_up_points(),
            "alert evaluator stopped"
        );
    }

    async fn evaluate(&mut self, points: &[Position], events: &mut Vec<RuleEvent>) {
        let mut order: Vec<&Position> = points.iter().collect();
        order.sort_by_key(|p| (p.vehicle, p.fix_time));
        let (mut fed, mut repeated, mut unknown) = (0, 0, false);
        for group in order.chunk_by(|a, b| a.vehicle == b.vehicle) {
            let vehicle = group[0].vehicle;
            if !self.owned.owns(vehicle) {
                continue;
            }
            if self.routing.vehicle(vehicle).is_none() {
                unknown = true;
                continue;
            }
            if !self.cars.contains_key(&vehicle) {
                // First point of this car since start: rebuild its rule state from the stored track
                // before it (these points are already stored, hence the bound).
                self.resume(vehicle, group[0].fix_time, events).await;
            }
            let Some(car) = self.cars.get_mut(&vehicle) else {
                continue;
            };
            let fresh = car.taken.sift(group);
            repeated += group.len() - fresh.len();
            fed += fresh.len();
            if let Some(spans) = self.silences.get(&vehicle) {
                for p in &fresh {
                    // A silence still open is ended by the next point, not disproved: only a point
                    // inside a silence that has ended (received after its end) can show it was not one.
                    for &(start, end) in spans {
                        if let Some(end) = end.filter(|e| p.fix_time > start && p.fix_time < *e) {
                            let span = (start, end);
                            let due = self.silence_recheck.entry(vehicle).or_insert(span);
                            *due = (due.0.min(span.0), due.1.max(span.1));
                        }
                    }
                }
            }
            for p in fresh {
                car.feed(&self.reference, p, events);
            }
        }
        if unknown {
            // A vehicle registered after start: pick up the registry for the next batch.
            if let Ok(routing) = Routing::load(&self.store).await {
                self.routing = routing;
            }
        }
        self.record(events).await;
        if !self.silence_recheck.is_empty() {
            self.recheck_silences().await;
        }
        // Counted once all the batch brought is done (its cases recorded, silences judged again), so a
        // watcher that sees every stored point evaluated sees their consequences too.
        metrics().points.inc_by(fed as u64);
        metrics().repeated_points.inc_by(repeated as u64);
        self.progress.evaluated.fetch_add(fed as u64, Ordering::Relaxed);
    }

    pub(super) async fn record(&mut self, events: &mut Vec<RuleEvent>) {
        for ev in events.drain(..) {
            let (RuleEvent::Opened(ep) | RuleEvent::Closed(ep)) = &ev;
            if ep.rule == RuleId::Silence {
                let spans = self.silences.entry(ep.vehicle).or_default();
                spans.retain(|(start, _)| *start != ep.start);
                spans.push((ep.start, ep.end));
                if spans.len() > SILENCES_KEPT {
                    spans.remove(0);
                }
            }
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
        let now = Timestamp::now();
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
        record_routed(&self.store, &self.routing, &self.config, &self.feed, &case, now).await?;
        Ok(())
    }

    async fn on_tick(&mut self, drained: bool, events: &mut Vec<RuleEvent>) {
        self.follow_ownership().await;
        // Quiet cars are resumed only once every committed point has been taken: a car whose points
        // still wait in the follower is resumed by its first point, not replayed twice.
        if drained {
            self.resume_quiet(events).await;
        }
        let t = Timestamp::now();
        for car in self.cars.values_mut() {
            let before = events.len();
            car.rules.tick(&self.reference, t, events);
            // Silence and the nightly check change what a saved state must say once they raise something.
            car.dirty |= events.len() > before;
            for y in &car.rules.diagnostics().missing_calendar_years {
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
}

/// Records `case` as a case of its unit, with the notifications routing gives it (when its severity is
/// notified) and, when new, on the live feed: the one path of the rules' cases and the gateway's. Its id and
/// whether it is new.
pub(super) async fn record_routed(
    store: &Store,
    routing: &Routing,
    config: &AlertsConfig,
    feed: &broadcast::Sender<Notice>,
    case: &NewCase,
    now: Timestamp,
) -> Result<(i64, bool), Error> {
    // The notice and its deliveries are computed for a new case; the store drops them for a known one.
    let (notice, deliveries) = opened(routing, config, case, now);
    let (id, created) = store.cases().record_case(case, &deliveries, now).await?;
    if created {
        metrics().cases_opened.with_label_values(&[&case.rule]).inc();
        info!(case = id, vehicle = %case.vehicle, rule = %case.rule, start = %case.start, late = case.late, "alert case opened");
        let _ = feed.send(Notice {
            case_id: id,
            ..notice
        });
    }
    Ok((id, created))
}

/// The notice of `case` opened and its notifications (when its severity is notified), its id the
/// store's token: the case id exists only once the row does, and the store puts it in place of the
/// token in the same transaction.
pub(crate) fn opened(
    routing: &Routing,
    config: &AlertsConfig,
    case: &NewCase,
    now: Timestamp,
) -> (Notice, Vec<NewDelivery>) {
    let notice = routing.notice(
        &provisional(case, now),
        "opened",
        config.notify_parent_levels,
        None,
    );
    let severity = Severity::parse(&case.severity).unwrap_or_default();
    let mut deliveries = if severity >= config.notify_min_severity {
        routing.deliveries(&notice, config)
    } else {
        Vec::new()
    };
    for d in &mut deliveries {
        d.payload = d.payload.replace(&CASE_ID_SENTINEL.to_string(), CASE_ID_TOKEN);
    }
    (notice, deliveries)
}

/// The case `case` would be once inserted (its id a sentinel), to render its notice.
fn provisional(case: &NewCase, now: Timestamp) -> AlertCase {
    AlertCase {
        id: CASE_ID_SENTINEL,
        raised: NewCase {
            episode: serde_json::Value::Null,
            ..case.clone()
        },
        state: CaseState::Open,
        created: now,
        updated: now,
    }
}

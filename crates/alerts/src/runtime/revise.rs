//! Cases changing after they were raised: auto-escalation of unexplained ones, and the reload of
//! reference data, after which the cases an order approved after the fact covers are re-evaluated and
//! withdrawn when they no longer hold.

use std::sync::Arc;

use tianshu_model::{Timestamp, VehicleId};
use tianshu_rules::orders::OrderState;
use tianshu_rules::workflow::{self, CaseAction};
use tianshu_rules::{Episode, RuleId, Verdict, reevaluate};
use tianshu_store::rules::{CaseFilter, CaseState, Transition};
use tracing::{debug, info, warn};

use super::evaluator::Evaluator;
use super::support::{metrics, read_track};
use crate::Error;
use crate::notify::Routing;
use crate::reference::load_reference;

impl Evaluator {
    pub(super) async fn escalate(&mut self, t: Timestamp) -> Result<(), Error> {
        let hours = self.config.auto_escalate_after_hours;
        let states = workflow::auto_escalation_states();
        for case in self.store.cases().due_escalations(&states, t, 100).await? {
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
            match self.store.cases().transition_case(&tr, t).await {
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

    pub(super) async fn reload(&mut self) -> Result<(), Error> {
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
        self.routing = Routing::load(&self.store).await?;
        // A car moved to another unit or class is judged by its new ones from here on.
        for (id, car) in &mut self.cars {
            if let Some(v) = self.routing.vehicle(*id) {
                car.rules.set_vehicle(v);
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
        self.reevaluate_cases(vehicle.id, from, to, None, None).await
    }

    /// Silences the car's later-received points fell into (see `Evaluator::silences`): judged again over
    /// the stored track, now with those points, and withdrawn where the gap is gone: a terminal that
    /// recorded through a blind area and sent its points afterwards was not silent.
    pub(super) async fn recheck_silences(&mut self) {
        let due: Vec<(VehicleId, (Timestamp, Timestamp))> = self.silence_recheck.drain().collect();
        for (vehicle, (from, to)) in due {
            let why = (
                "points recorded in the gap arrived later (blind-area backfill): the terminal was not silent",
                "间断期间的定位点已补传（盲区补报），终端并未离线",
            );
            if let Err(e) = self
                .reevaluate_cases(vehicle, from, to, Some(RuleId::Silence), Some(why))
                .await
            {
                warn!(vehicle = %vehicle, error = %e, "re-evaluating a silence after backfill failed");
            }
        }
    }

    /// Re-runs the rules over every unresolved case of `vehicle` (of `rule`, or any) overlapping
    /// `[from, to]`, and withdraws those that no longer hold, with `why` (English, Chinese) as the note
    /// when given, else the verdict's reason.
    async fn reevaluate_cases(
        &mut self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
        rule: Option<RuleId>,
        why: Option<(&str, &str)>,
    ) -> Result<(), Error> {
        let Some(vehicle) = self.routing.vehicle(vehicle).cloned() else {
            return Ok(());
        };
        let filter = CaseFilter {
            vehicle: Some(vehicle.id),
            rule: rule.map(|r| r.as_str().to_string()),
            states: CaseAction::Withdraw.from_states(),
            limit: 1000,
            ..Default::default()
        };
        for case in self.store.cases().cases(&filter).await? {
            let end = case.end.unwrap_or(case.start);
            if case.start > to || end < from {
                continue;
            }
            let Ok(episode) = serde_json::from_value::<Episode>(case.episode.clone()) else {
                continue;
            };
            let margin = 3_600_000;
            let track = read_track(
                &self.store,
                vehicle.id,
                case.start.add_millis(-margin),
                end.add_millis(margin),
            )
            .await?;
            if let Verdict::Withdrawn { reason, reason_zh } =
                reevaluate(&self.reference, &vehicle, &track, &episode)
            {
                let (reason, reason_zh) = why.unwrap_or((&reason, &reason_zh));
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
                let updated = self.store.cases().transition_case(&tr, Timestamp::now()).await?;
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

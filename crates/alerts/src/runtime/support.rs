//! What the runtime's tasks share: their metrics, their clock, and reading a stored track.

use std::sync::OnceLock;

use futures::TryStreamExt;
use prometheus::{IntCounter, IntCounterVec, Opts};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::Store;

pub(super) struct Metrics {
    pub(super) points: IntCounter,
    pub(super) repeated_points: IntCounter,
    pub(super) resumed_points: IntCounter,
    pub(super) restored_states: IntCounter,
    pub(super) cases_opened: IntCounterVec,
    pub(super) deliveries: IntCounterVec,
    pub(super) withdrawn: IntCounter,
    pub(super) escalated: IntCounter,
}

fn build_metrics() -> prometheus::Result<Metrics> {
    Ok(Metrics {
        points: IntCounter::new(
            "tianshu_alerts_points_evaluated_total",
            "Committed points fed to the rules.",
        )?,
        repeated_points: IntCounter::new(
            "tianshu_alerts_points_repeated_total",
            "Committed points handed over again after a catch-up and recognised as already evaluated.",
        )?,
        resumed_points: IntCounter::new(
            "tianshu_alerts_points_replayed_on_resume_total",
            "Stored points fed to bring rule state up to date after a start: a replayed track, or the points received after a saved state.",
        )?,
        restored_states: IntCounter::new(
            "tianshu_alerts_rule_states_restored_total",
            "Cars whose rule state was restored from the state saved by an earlier run instead of replaying their track.",
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

pub(super) fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let m = build_metrics().expect("the metric definitions are static and valid");
        let r = prometheus::default_registry();
        let collectors: [Box<dyn prometheus::core::Collector>; 8] = [
            Box::new(m.points.clone()),
            Box::new(m.repeated_points.clone()),
            Box::new(m.resumed_points.clone()),
            Box::new(m.restored_states.clone()),
            Box::new(m.cases_opened.clone()),
            Box::new(m.deliveries.clone()),
            Box::new(m.withdrawn.clone()),
            Box::new(m.escalated.clone()),
        ];
        for c in collectors {
            // Registered once per process; a second registry user is not an error worth failing for.
            let _ = r.register(c);
        }
        m
    })
}

/// The stored points of `vehicle` with `from <= fix_time < to`, in fix-time order.
pub(super) async fn read_track(
    store: &Store,
    vehicle: VehicleId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Position>, tianshu_store::Error> {
    store.track(vehicle, from, to).await?.try_collect().await
}

//! The car pool in the running server: the pass that settles assigned trips by themselves when due
//! (`[rules.carpool]`).

/// Settles, every `[rules.carpool] settle_check_secs` until `stop`, the assigned trips that are due
/// (nothing when `auto_settle` is off). Each pass starts from the store, so a restart loses nothing and
/// settles nothing twice.
pub fn settle_due_trips(
    store: tianshu_store::Store,
    alerts: tianshu_alerts::AlertsConfig,
    rules: tianshu_rules::RulesConfig,
    stop: tokio_util::sync::CancellationToken,
) {
    if !rules.carpool.auto_settle {
        return;
    }
    let every = std::time::Duration::from_secs(rules.carpool.settle_check_secs);
    tokio::spawn(async move {
        loop {
            let now = tianshu_model::Timestamp::now();
            match tianshu_alerts::carpool::settle_due_trips(&store, &alerts, &rules, now).await {
                Ok(done) => {
                    for s in done {
                        tracing::info!(request = s.request.id, case = ?s.case, "pool trip settled");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "settling the pool's trips"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

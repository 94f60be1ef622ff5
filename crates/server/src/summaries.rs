//! The daily summaries in the running server: every hour, each China day of the last
//! [`LOOKBACK_DAYS`] up to yesterday not summarised yet is summarised (`tianshu_store::summaries`); a
//! day summarised before stays as it was (`tianshu report summarise` summarises a day again).

use tianshu_model::Timestamp;
use tianshu_rules::calendar::local_day;

/// How far back the pass looks for days not yet summarised.
pub const LOOKBACK_DAYS: i64 = 31;
const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Summarises the past days not yet summarised, at start and then hourly until `stop`.
pub fn summarise_past_days(store: tianshu_store::Store, stop: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        loop {
            let yesterday = local_day(Timestamp::now()) - 1;
            match store
                .summaries()
                .summarise_missing(yesterday - LOOKBACK_DAYS + 1, yesterday)
                .await
            {
                Ok(days) if !days.is_empty() => tracing::info!(?days, "days summarised"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "summarising past days"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    });
}

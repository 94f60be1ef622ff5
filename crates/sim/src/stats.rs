//! What the fleet has done so far: counters every terminal adds to, read while it runs.

use std::sync::atomic::{AtomicI64, Ordering};

use serde::Serialize;

/// A counter shared by every terminal.
#[derive(Debug, Default)]
pub struct Counter(AtomicI64);

impl Counter {
    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n as i64, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the fleet has done so far.
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Terminals online (authenticated connection) now.
    pub online: Counter,
    /// TCP connections opened.
    pub connects: Counter,
    /// Connections or logins that failed (refused, timed out, registration or authentication refused).
    pub login_failures: Counter,
    /// Successful registrations (0x8100 result 0).
    pub registrations: Counter,
    /// Registrations refused.
    pub register_refusals: Counter,
    /// Successful authentications.
    pub authentications: Counter,
    /// Authentications refused.
    pub auth_refusals: Counter,
    /// 0x0200 frames sent (first transmissions).
    pub reports_sent: Counter,
    /// Frames sent again for want of an answer.
    pub retransmissions: Counter,
    /// 0x0002 heartbeats sent.
    pub heartbeats_sent: Counter,
    /// 0x0704 type 1 frames sent (first transmissions).
    pub backfill_batches_sent: Counter,
    /// Points acknowledged (live and backfill).
    pub points_acked: Counter,
    /// Of which backfilled.
    pub backfill_points_acked: Counter,
    /// Points recorded into the backlog (offline, blind area, catch-up, window full).
    pub points_buffered: Counter,
    /// Backlog points dropped because the backlog was full.
    pub backlog_dropped: Counter,
    /// Points given up after a timeout with retransmission switched off.
    pub points_abandoned: Counter,
    /// 0x8001 answers with a failure result.
    pub acks_refused: Counter,
}

/// A plain copy of [`FleetStats`] for printing and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // each field mirrors the FleetStats field of the same name
pub struct StatsSnapshot {
    pub online: i64,
    pub connects: i64,
    pub login_failures: i64,
    pub registrations: i64,
    pub register_refusals: i64,
    pub authentications: i64,
    pub auth_refusals: i64,
    pub reports_sent: i64,
    pub retransmissions: i64,
    pub heartbeats_sent: i64,
    pub backfill_batches_sent: i64,
    pub points_acked: i64,
    pub backfill_points_acked: i64,
    pub points_buffered: i64,
    pub backlog_dropped: i64,
    pub points_abandoned: i64,
    pub acks_refused: i64,
}

impl FleetStats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            online: self.online.get(),
            connects: self.connects.get(),
            login_failures: self.login_failures.get(),
            registrations: self.registrations.get(),
            register_refusals: self.register_refusals.get(),
            authentications: self.authentications.get(),
            auth_refusals: self.auth_refusals.get(),
            reports_sent: self.reports_sent.get(),
            retransmissions: self.retransmissions.get(),
            heartbeats_sent: self.heartbeats_sent.get(),
            backfill_batches_sent: self.backfill_batches_sent.get(),
            points_acked: self.points_acked.get(),
            backfill_points_acked: self.backfill_points_acked.get(),
            points_buffered: self.points_buffered.get(),
            backlog_dropped: self.backlog_dropped.get(),
            points_abandoned: self.points_abandoned.get(),
            acks_refused: self.acks_refused.get(),
        }
    }
}

//! The gateway's Prometheus metrics, registered once in the default registry.
//!
//! Labels are bounded sets (message ids the codec knows, error kinds, outcomes): never a phone number, a peer
//! address or a vehicle, so a fleet of any size keeps a fixed number of series.

use std::sync::LazyLock;

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, register_histogram,
    register_int_counter, register_int_counter_vec, register_int_gauge,
};

/// Every metric of the gateway.
pub struct Metrics {
    /// Connections currently open (authenticated or not).
    pub connections_open: IntGauge,
    /// Sessions currently authenticated.
    pub sessions_online: IntGauge,
    /// Connections accepted since start.
    pub connections_accepted: IntCounter,
    /// Connections refused at accept, by reason (`per_ip_cap`).
    pub connections_refused: IntCounterVec,
    /// Connections closed, by reason (`peer`, `idle`, `pre_auth_timeout`, `error_budget`, ...).
    pub connections_closed: IntCounterVec,
    /// Frames received, by message id (`0x0200`, ...; `other` for ids outside the standard).
    pub frames_received: IntCounterVec,
    /// Frames that did not decode, by kind.
    pub decode_errors: IntCounterVec,
    /// Frames decoded only by bending the standard, by kind.
    pub leniencies: IntCounterVec,
    /// Terminal messages answered 0x8001 result 3 (unsupported).
    pub unsupported_messages: IntCounterVec,
    /// Receive -> durable -> 0x8001 written, in seconds.
    pub ack_latency_seconds: Histogram,
    /// Failed authentications, by reason.
    pub auth_failures: IntCounterVec,
    /// Registrations, by result code.
    pub registrations: IntCounterVec,
    /// Re-registrations of terminals that held a code, by step: `registered` (a pending code issued),
    /// `promoted_imei`, `promoted_same_address`, `promoted_approved`, `promoted_unproven` (its code used),
    /// `refused_imei`, `awaiting_approval` (used before approval), `dropped` (the old code was used).
    pub reregistrations: IntCounterVec,
    /// Points stored although dated long before their receive time (TCP and MQTT alike).
    pub points_far_past: IntCounter,
    /// Points whose fix time a terminal's clock offset corrected (TCP and MQTT alike).
    pub points_clock_corrected: IntCounter,
    /// Steady clock offsets found in terminals' live fixes, by whether they equal the offset set for the
    /// terminal (`matches`, `differs`: its fixes are stored off by the difference).
    pub clock_offsets_found: IntCounterVec,
    /// Registrations accepted although their plate named no vehicle or another one (flagged, not refused).
    pub registration_plate_mismatches: IntCounter,
    /// Points the store took as new.
    pub points_stored: IntCounter,
    /// Points the store already had (retransmissions, overlapping backfills).
    pub points_duplicate: IntCounter,
    /// Points that arrived as blind-area backfill (0x0704 type 1).
    pub points_backfilled: IntCounter,
    /// Batches the store refused or failed; their frames were left unanswered so the terminal retransmits.
    pub store_failures: IntCounter,
    /// Downlink commands by outcome (`ok`, `offline`, `timeout`, `busy`, `closed`).
    pub downlink_requests: IntCounterVec,
    /// Subpackaged messages by outcome (`complete`, `requested_missing`, `expired`, `refused`).
    pub subpackages: IntCounterVec,
    /// Sessions replaced by a newer authenticated connection of the same terminal.
    pub sessions_replaced: IntCounter,
}

/// A counter family registered in the default registry (the MQTT ingest's metrics register theirs here
/// too). Registration fails only on a duplicate name, a programming error any test catches; the metric
/// then still counts, unregistered.
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register_int_counter_vec!(Opts::new(name, help), labels)
        .unwrap_or_else(|_| IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

/// A counter registered in the default registry, as [`counter_vec`].
pub fn counter(name: &str, help: &str) -> IntCounter {
    register_int_counter!(name, help).unwrap_or_else(|_| IntCounter::new(name, help).expect("valid metric"))
}

/// A gauge registered in the default registry, as [`counter_vec`].
pub fn gauge(name: &str, help: &str) -> IntGauge {
    register_int_gauge!(name, help).unwrap_or_else(|_| IntGauge::new(name, help).expect("valid metric"))
}

/// The gateway's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let latency_opts = HistogramOpts::new(
        "tianshu_jt808_ack_latency_seconds",
        "Time from receiving a position frame to writing its 0x8001 after the store made it durable.",
    )
    .buckets(vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]);
    Metrics {
        connections_open: gauge(
            "tianshu_jt808_connections_open",
            "JT/T 808 connections currently open.",
        ),
        sessions_online: gauge(
            "tianshu_jt808_sessions_online",
            "JT/T 808 sessions currently authenticated.",
        ),
        connections_accepted: counter(
            "tianshu_jt808_connections_accepted_total",
            "JT/T 808 connections accepted.",
        ),
        connections_refused: counter_vec(
            "tianshu_jt808_connections_refused_total",
            "JT/T 808 connections closed right after accept, by reason.",
            &["reason"],
        ),
        connections_closed: counter_vec(
            "tianshu_jt808_connections_closed_total",
            "JT/T 808 connections closed, by reason.",
            &["reason"],
        ),
        frames_received: counter_vec(
            "tianshu_jt808_frames_received_total",
            "JT/T 808 frames received, by message id.",
            &["msg_id"],
        ),
        decode_errors: counter_vec(
            "tianshu_jt808_decode_errors_total",
            "JT/T 808 frames that did not decode, by kind.",
            &["kind"],
        ),
        leniencies: counter_vec(
            "tianshu_jt808_leniencies_total",
            "JT/T 808 frames decoded by bending the standard, by kind.",
            &["kind"],
        ),
        unsupported_messages: counter_vec(
            "tianshu_jt808_unsupported_messages_total",
            "Terminal messages answered with result 3 (unsupported), by message id.",
            &["msg_id"],
        ),
        ack_latency_seconds: register_histogram!(latency_opts.clone())
            .unwrap_or_else(|_| Histogram::with_opts(latency_opts).expect("valid metric")),
        auth_failures: counter_vec(
            "tianshu_jt808_auth_failures_total",
            "Failed JT/T 808 authentications, by reason.",
            &["reason"],
        ),
        registrations: counter_vec(
            "tianshu_jt808_registrations_total",
            "JT/T 808 registrations answered, by result.",
            &["result"],
        ),
        reregistrations: counter_vec(
            "tianshu_jt808_reregistrations_total",
            "Registrations of terminals that already held a code, and what became of their pending code, by step.",
            &["step"],
        ),
        points_far_past: counter(
            "tianshu_points_far_past_total",
            "Points stored although their fix time lies more than uplink.far_past_days before their receive time (TCP and MQTT).",
        ),
        points_clock_corrected: counter(
            "tianshu_points_clock_corrected_total",
            "Points whose fix time the terminal's clock offset (set by an administrator) corrected (TCP and MQTT).",
        ),
        clock_offsets_found: counter_vec(
            "tianshu_clock_offsets_found_total",
            "Steady clock offsets found in terminals' live fixes, by whether they equal the offset set for the terminal (differs: its fixes are stored off by the difference).",
            &["configured"],
        ),
        registration_plate_mismatches: counter(
            "tianshu_jt808_registration_plate_mismatches_total",
            "JT/T 808 registrations accepted although their plate named no vehicle or another one than the terminal's.",
        ),
        points_stored: counter(
            "tianshu_jt808_points_stored_total",
            "Track points the store took as new.",
        ),
        points_duplicate: counter(
            "tianshu_jt808_points_duplicate_total",
            "Track points the store already had (retransmissions, overlapping backfills).",
        ),
        points_backfilled: counter(
            "tianshu_jt808_points_backfilled_total",
            "Track points received as blind-area backfill (0x0704 type 1).",
        ),
        store_failures: counter(
            "tianshu_jt808_store_failures_total",
            "Position frames left unanswered because the store did not make them durable.",
        ),
        downlink_requests: counter_vec(
            "tianshu_jt808_downlink_requests_total",
            "Platform commands sent to terminals, by outcome.",
            &["outcome"],
        ),
        subpackages: counter_vec(
            "tianshu_jt808_subpackages_total",
            "Subpackaged messages, by outcome.",
            &["outcome"],
        ),
        sessions_replaced: counter(
            "tianshu_jt808_sessions_replaced_total",
            "Sessions replaced by a newer authenticated connection of the same terminal.",
        ),
    }
});

/// A bounded label for a message id: the ids of the standard by name, anything else as `other`.
pub fn msg_id_label(id: u16) -> &'static str {
    match id {
        0x0001 => "0x0001",
        0x0002 => "0x0002",
        0x0003 => "0x0003",
        0x0004 => "0x0004",
        0x0005 => "0x0005",
        0x0100 => "0x0100",
        0x0102 => "0x0102",
        0x0104 => "0x0104",
        0x0107 => "0x0107",
        0x0108 => "0x0108",
        0x0200 => "0x0200",
        0x0201 => "0x0201",
        0x0301 => "0x0301",
        0x0302 => "0x0302",
        0x0303 => "0x0303",
        0x0500 => "0x0500",
        0x0608 => "0x0608",
        0x0700 => "0x0700",
        0x0701 => "0x0701",
        0x0702 => "0x0702",
        0x0704 => "0x0704",
        0x0705 => "0x0705",
        0x0800 => "0x0800",
        0x0801 => "0x0801",
        0x0802 => "0x0802",
        0x0805 => "0x0805",
        0x0900 => "0x0900",
        0x0901 => "0x0901",
        0x0A00 => "0x0A00",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_in_the_default_registry() {
        METRICS
            .frames_received
            .with_label_values(&[msg_id_label(0x0200)])
            .inc();
        let names: Vec<String> = prometheus::default_registry()
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        assert!(
            names.iter().any(|n| n == "tianshu_jt808_frames_received_total"),
            "{names:?}"
        );
        assert_eq!(msg_id_label(0x1234), "other");
    }
}

//! The platform links' Prometheus metrics, registered once in the default registry.
//!
//! Labels are bounded: a peer is named by its configured `name`, reasons and outcomes are fixed sets.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, IntGaugeVec, Opts, register_int_counter_vec, register_int_gauge_vec};

/// Every metric of the platform links.
pub struct Metrics {
    /// 1 while a peer's main link is logged in, 0 otherwise, by peer and link (`main`: a lower platform's
    /// link here, `upper`: Tianshu's link to an upper platform).
    pub link_up: IntGaugeVec,
    /// Main-link logins by result (`ok`, `bad_access_code`, `unknown_user`, `bad_password`).
    pub logins: IntCounterVec,
    /// Positions received from lower platforms, by peer and outcome (`stored`, `duplicate`,
    /// `not_owned`: a car of a unit the peer does not report, `unknown_plate`, `refused`: a fix time or
    /// layout the uplink does not take, `store_failed`; `forwarded`: sent to an upper platform).
    pub positions: IntCounterVec,
    /// Alarm reports (alert cases) by peer and outcome: `forwarded` to an upper platform; from lower
    /// platforms `stored`, `duplicate`, `not_owned`, `unknown_plate`, `store_failed`.
    pub alarms: IntCounterVec,
    /// Milliseconds between the receipt of the last point forwarded to an upper platform and its
    /// forwarding, by upper platform.
    pub forwarding_lag_ms: IntGaugeVec,
    /// Frames that did not decode, by error kind.
    pub frames_refused: IntCounterVec,
    /// Main links closed, by reason (`peer`, `logout`, `silent`, `login_refused`, `login_timeout`,
    /// `frame_too_long`, `protocol`, `store_failed`, `shutdown`; `upper_link`: Tianshu's own link to an
    /// upper platform broke and is being reconnected).
    pub links_closed: IntCounterVec,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register_int_counter_vec!(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("registering {name}: {e}"))
}

/// The metrics, registered on first use.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    link_up: register_int_gauge_vec!(
        Opts::new(
            "tianshu_jt809_link_up",
            "1 while a JT/T 809 peer's link is logged in."
        ),
        &["peer", "link"]
    )
    .unwrap_or_else(|e| panic!("registering tianshu_jt809_link_up: {e}")),
    logins: counter(
        "tianshu_jt809_logins_total",
        "JT/T 809 main-link logins, by result.",
        &["result"],
    ),
    positions: counter(
        "tianshu_jt809_positions_total",
        "Positions received from lower platforms, by peer and outcome.",
        &["peer", "outcome"],
    ),
    alarms: counter(
        "tianshu_jt809_alarms_total",
        "JT/T 809 alarm reports, by peer and outcome.",
        &["peer", "outcome"],
    ),
    forwarding_lag_ms: register_int_gauge_vec!(
        Opts::new(
            "tianshu_jt809_forwarding_lag_ms",
            "Milliseconds from receipt to forwarding of the last point sent to an upper platform."
        ),
        &["upper"]
    )
    .unwrap_or_else(|e| panic!("registering tianshu_jt809_forwarding_lag_ms: {e}")),
    frames_refused: counter(
        "tianshu_jt809_frames_refused_total",
        "JT/T 809 frames that did not decode, by reason.",
        &["kind"],
    ),
    links_closed: counter(
        "tianshu_jt809_links_closed_total",
        "JT/T 809 main links closed, by reason.",
        &["reason"],
    ),
});

//! The sub-link's metrics (the link state itself is `tianshu_jt809_link_up{link="sub"}`).

use std::sync::LazyLock;

use prometheus::{IntCounterVec, Opts, register_int_counter_vec};

/// Every sub-link metric.
pub struct SubMetrics {
    /// Sub-link logins by side (`upper`: Tianshu connecting back to a lower platform, `lower`: an upper
    /// platform connecting to Tianshu) and result (`ok`, `bad_verify_code`, `refused`, `failed`).
    pub logins: IntCounterVec,
    /// Disconnect notices by peer and kind: `main_down` (0x1007 received on the sub-link), `sub_down`
    /// (0x9007 received on the main link); `main_down_sent` and `sub_down_sent` for the ones sent.
    pub notices: IntCounterVec,
    /// Messages sent down by an upper platform, by peer and the link that carried them (`main`, `sub`):
    /// on Tianshu as upper platform the ones it sent, as lower platform the ones it received.
    pub down: IntCounterVec,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register_int_counter_vec!(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("registering {name}: {e}"))
}

/// The metrics, registered on first use.
pub static SUB_METRICS: LazyLock<SubMetrics> = LazyLock::new(|| SubMetrics {
    logins: counter(
        "tianshu_jt809_sub_logins_total",
        "JT/T 809 sub-link logins, by side and result.",
        &["side", "result"],
    ),
    notices: counter(
        "tianshu_jt809_link_notices_total",
        "JT/T 809 disconnect notices (0x1007, 0x9007) received and sent, by peer.",
        &["peer", "notice"],
    ),
    down: counter(
        "tianshu_jt809_down_messages_total",
        "Messages sent down to a lower platform, by peer and link.",
        &["peer", "link"],
    ),
});

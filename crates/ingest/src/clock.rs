//! A terminal's clock as both transports watch it: the offset its administrator set (added to its fix
//! times by the [`crate::uplink`]) and the steady offset its live fixes show ([`ClockWatch`]), found anew
//! for each connection (TCP) or each terminal seen (MQTT) and stored when it changes, so the API shows it.

use tianshu_model::{ClockWatch, Phone, Terminal, Timestamp};
use tracing::info;

use crate::metrics::METRICS;
use crate::uplink::Uplink;

/// One terminal's clock: the offset in force and the watch over its live fixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalClock {
    /// Seconds added to its fix times.
    offset_secs: i32,
    /// What its live fixes show.
    watch: ClockWatch,
}

impl TerminalClock {
    /// The clock of `terminal` as the registry holds it.
    pub fn of(terminal: &Terminal) -> TerminalClock {
        TerminalClock {
            offset_secs: terminal.clock_offset_secs,
            watch: ClockWatch::knowing(terminal.clock_found.map(|(secs, _)| secs)),
        }
    }

    /// Seconds added to its fix times.
    pub fn offset_secs(&self) -> i32 {
        self.offset_secs
    }

    /// An administrator changed the offset.
    pub fn set_offset(&mut self, secs: i32) {
        self.offset_secs = secs;
    }

    /// Takes what the uplink made of one message of `phone` received at `recv`: corrected points are
    /// counted, a live fix watched. Returns an offset newly found, for the caller to store.
    pub fn observe(&mut self, phone: Phone, uplink: &Uplink, recv: Timestamp) -> Option<i32> {
        METRICS.points_clock_corrected.inc_by(u64::from(uplink.corrected));
        let found = self.watch.observe(uplink.live_fix?, recv)?;
        let configured = if found == self.offset_secs {
            "matches"
        } else {
            "differs"
        };
        METRICS.clock_offsets_found.with_label_values(&[configured]).inc();
        info!(%phone, found_secs = found, set_secs = self.offset_secs, "terminal clock offset found");
        Some(found)
    }
}

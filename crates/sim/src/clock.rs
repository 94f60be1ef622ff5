//! Simulated time: a wall-clock instant mapped to a simulated instant, running `speedup` times faster.
//!
//! Fix times, day plans and scenarios follow simulated time; network timers (acknowledgement timeouts,
//! heartbeats, reconnects) follow real time, because the platform on the other end lives in real time.
//! Built on `tokio::time::Instant`, so tests can pause and advance it.

use std::time::Duration;

use tokio::time::Instant;

/// Maps real instants to simulated UTC milliseconds and back.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    real_start: Instant,
    sim_start_ms: i64,
    speedup: f64,
}

impl SimClock {
    /// Simulated time starts at `sim_start_ms` now and runs `speedup` times as fast as real time
    /// (values below 0.001 are taken as 0.001).
    pub fn new(sim_start_ms: i64, speedup: f64) -> Self {
        SimClock {
            real_start: Instant::now(),
            sim_start_ms,
            speedup: speedup.max(0.001),
        }
    }

    /// The simulated instant now, UTC ms.
    pub fn now_ms(&self) -> i64 {
        self.at(Instant::now())
    }

    /// The simulated instant at real instant `t`.
    pub fn at(&self, t: Instant) -> i64 {
        let real_ms = t.saturating_duration_since(self.real_start).as_secs_f64() * 1000.0;
        self.sim_start_ms + (real_ms * self.speedup) as i64
    }

    /// The real instant at which simulated time reaches `sim_ms` (now, if it already has).
    pub fn instant_of(&self, sim_ms: i64) -> Instant {
        let ahead_ms = (sim_ms - self.sim_start_ms).max(0) as f64 / self.speedup;
        self.real_start + Duration::from_secs_f64(ahead_ms / 1000.0)
    }

    /// A simulated duration in real time.
    pub fn real_duration(&self, sim_ms: i64) -> Duration {
        Duration::from_secs_f64(sim_ms.max(0) as f64 / self.speedup / 1000.0)
    }

    /// The speed-up factor.
    pub fn speedup(&self) -> f64 {
        self.speedup
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sixty_times_faster() {
        let c = SimClock::new(1_000_000, 60.0);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(c.now_ms(), 1_000_000 + 600_000);
        assert_eq!(
            c.instant_of(1_000_000 + 1_200_000),
            c.real_start + Duration::from_secs(20)
        );
        assert_eq!(c.real_duration(60_000), Duration::from_secs(1));
    }
}

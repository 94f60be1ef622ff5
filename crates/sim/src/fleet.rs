//! The fleet: one tokio task per terminal, a shared clock, ledger and counters, and a handle to stop it.
//!
//! Thousands of terminals per process stay cheap: a terminal is a task with a socket, a small read
//! buffer and its backlog; no thread per terminal, and the world (roads, plans) is shared read-only.

use std::sync::Arc;
use std::time::Duration;

use tianshu_model::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::SimClock;
use crate::config::FleetConfig;
use crate::ledger::{Ledger, LedgerError};
use crate::stats::{FleetStats, StatsSnapshot};
use crate::terminal::{Shared, Terminal};
use crate::world::{World, mix_seed};

/// Why the fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The ledger file could not be created.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Starts fleets.
pub struct Fleet;

impl Fleet {
    /// Spawns one task per terminal on the current tokio runtime and returns at once.
    pub fn spawn(config: FleetConfig, world: Arc<World>) -> Result<FleetHandle, FleetError> {
        let ledger = Arc::new(Ledger::new(
            config.ledger_memory_points,
            config.ledger_path.as_deref(),
        )?);
        let start_ms = config
            .start_ms
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let clock = SimClock::new(start_ms, config.speedup);
        let chosen: Vec<usize> = if config.vehicles.is_empty() {
            let n = match config.terminals {
                0 => world.vehicles.len(),
                n => n.min(world.vehicles.len()),
            };
            (0..n).collect()
        } else {
            config
                .vehicles
                .iter()
                .copied()
                .filter(|&v| v < world.vehicles.len())
                .collect()
        };
        let n = chosen.len();
        let stats = Arc::new(FleetStats::default());
        let config = Arc::new(config);
        let shared = Arc::new(Shared::new(
            world.clone(),
            config.clone(),
            clock,
            ledger.clone(),
            stats.clone(),
        ));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let interval_ms = ((config.interval_secs * 1000.0).round() as i64).max(1000);
        for v in chosen {
            // Spread first fixes over one interval and first connections over the spread window, so the
            // platform sees a steady stream rather than a wall of simultaneous frames.
            let h = mix_seed(&[world.config.seed, 5, v as u64]);
            let first_fix_ms =
                (start_ms.div_euclid(1000) * 1000) + (h % interval_ms as u64) as i64 / 1000 * 1000;
            let delay = Duration::from_secs_f64(
                config.connect_spread_secs.max(0.0) * ((h >> 20) % 1000) as f64 / 1000.0,
            );
            let bind_ip = (!config.bind_ips.is_empty()).then(|| config.bind_ips[v % config.bind_ips.len()]);
            let t = Terminal::new(shared.clone(), v, first_fix_ms, bind_ip);
            tasks.spawn(t.run(stop_rx.clone(), delay));
        }
        tracing::info!(terminals = n, target = %config.target, speedup = config.speedup, "fleet started");
        Ok(FleetHandle {
            ledger,
            stats,
            stop: stop_tx,
            tasks,
            clock,
            terminals: n,
        })
    }
}

/// A running fleet.
pub struct FleetHandle {
    ledger: Arc<Ledger>,
    stats: Arc<FleetStats>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    clock: SimClock,
    terminals: usize,
}

impl FleetHandle {
    /// The acknowledged points.
    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }

    /// The fleet's counters.
    pub fn stats(&self) -> Arc<FleetStats> {
        self.stats.clone()
    }

    /// The simulated time now.
    pub fn sim_now(&self) -> Timestamp {
        Timestamp(self.clock.now_ms())
    }

    /// How many terminals run.
    pub fn terminals(&self) -> usize {
        self.terminals
    }

    /// Stops every terminal (connections close, nothing more is sent), waits for the tasks and flushes
    /// the ledger file.
    pub async fn stop(mut self) -> Result<StatsSnapshot, FleetError> {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.ledger.flush()?;
        Ok(self.stats.snapshot())
    }
}

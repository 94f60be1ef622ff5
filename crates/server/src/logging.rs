//! Logs: `tracing` events to standard error, human-readable by default, one JSON object per line on request.
//!
//! Levels mean the same everywhere: ERROR only for lost data or a broken dependency (the database or the
//! broker unreachable, a commit that failed), WARN for what an operator should look at (a terminal refused,
//! a malformed message), INFO for the life of the process and of sessions, DEBUG per frame. Whatever a terminal
//! session does runs in a span carrying its phone and peer, so every line it logs says which car it is about
//! (a span per wake-up, not per connection: an open span costs the subscriber memory, idle or not).

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// The `[log]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (human-readable) or `json` (one object per line).
    #[serde(default)]
    pub format: LogFormat,
    /// Which events to write, as `tracing` filter directives: a level (`info`) or per-module levels
    /// (`info,tianshu_ingest=debug`). `RUST_LOG`, when set, takes precedence.
    #[serde(default = "default_level")]
    pub level: String,
    /// Colour the text format when standard error is a terminal.
    #[serde(default = "default_ansi")]
    pub ansi: bool,
}

fn default_level() -> String {
    "info".to_string()
}

const fn default_ansi() -> bool {
    true
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::default(),
            level: default_level(),
            ansi: default_ansi(),
        }
    }
}

impl LogConfig {
    /// Checks that `level` is a valid filter.
    pub fn validate(&self) -> Result<(), String> {
        EnvFilter::try_new(&self.level)
            .map(|_| ())
            .map_err(|e| format!("level {:?}: {e}", self.level))
    }
}

/// Installs the global subscriber. Calling it twice keeps the first one (tests start many servers).
pub fn init(config: &LogConfig) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&config.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Text => {
            use std::io::IsTerminal;
            builder
                .with_ansi(config.ansi && std::io::stderr().is_terminal())
                .try_init()
        }
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // Already installed: keep the first.
    let _ = result;
}

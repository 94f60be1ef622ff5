//! A vehicle's rule state written down, so that a restart resumes it instead of replaying the day.
//!
//! A snapshot is the whole [`VehicleRules`] (de-bounce phases, open episodes, the night and silence
//! checks, the late lane, the last point seen) with a format version and a fingerprint of the
//! configuration it was made under. State is only meaningful under the thresholds that built it, so a
//! snapshot of another version or fingerprint is refused ([`SnapshotRefused`]) and the caller rebuilds
//! the state from the stored track instead, as it would without one.

use serde::{Deserialize, Serialize};

use crate::config::RulesConfig;
use crate::engine::VehicleRules;

/// The format of a snapshot. Raised whenever the shape of the state changes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotRefused {
    /// Written by another version of the state's format.
    #[error("rule state snapshot of format {found}, expected {SNAPSHOT_VERSION}")]
    Version {
        /// The snapshot's version.
        found: u32,
    },
    /// Made under another rules configuration.
    #[error("rule state snapshot made under another rules configuration")]
    Configuration,
    /// Not a snapshot.
    #[error("unreadable rule state snapshot: {0}")]
    Malformed(String),
}

#[derive(Serialize)]
struct Written<'a> {
    version: u32,
    fingerprint: String,
    state: &'a VehicleRules,
}

/// Read in two steps: the header first, so that a snapshot of another format is refused by its version
/// rather than by a parse error.
#[derive(Deserialize)]
struct Header {
    version: u32,
    fingerprint: String,
    state: serde_json::Value,
}

/// A fingerprint of `config`: equal for equal configurations, different (up to hash collisions) for any
/// change of a threshold, a severity or a switch.
pub fn config_fingerprint(config: &RulesConfig) -> String {
    // FNV-1a over the canonical JSON: stable across builds and platforms, unlike `std`'s hasher.
    let text = serde_json::to_string(config).unwrap_or_default();
    format!("{:016x}", tianshu_model::fnv1a64(text.as_bytes()))
}

impl VehicleRules {
    /// This state written down, made under `config`.
    pub fn snapshot(&self, config: &RulesConfig) -> String {
        let written = Written {
            version: SNAPSHOT_VERSION,
            fingerprint: config_fingerprint(config),
            state: self,
        };
        // Every field is plain data (numbers, strings, timestamps): serialising cannot fail.
        serde_json::to_string(&written).unwrap_or_default()
    }

    /// The state written in `snapshot`, when it was made in this format under `config`.
    pub fn restore(snapshot: &str, config: &RulesConfig) -> Result<VehicleRules, SnapshotRefused> {
        let header: Header =
            serde_json::from_str(snapshot).map_err(|e| SnapshotRefused::Malformed(e.to_string()))?;
        if header.version != SNAPSHOT_VERSION {
            return Err(SnapshotRefused::Version {
                found: header.version,
            });
        }
        if header.fingerprint != config_fingerprint(config) {
            return Err(SnapshotRefused::Configuration);
        }
        serde_json::from_value(header.state).map_err(|e| SnapshotRefused::Malformed(e.to_string()))
    }
}
